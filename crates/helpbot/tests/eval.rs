//! The evaluation on the shipped golden set meets the thresholds docs/helpbot.md
//! states (CI runs this): retrieval, fact recall, citations, refusals, no PII leak.

use std::path::Path;

use helpbot::eval::{self, THRESHOLDS};
use helpbot::settings::{self, Settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_golden_set_meets_the_thresholds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tempfile::tempdir().unwrap();
    let settings = Settings::offline(&root.join("kb"), data.path());
    let (config, uri) = settings.local_config().unwrap();
    let chosen = settings::local_serving(config, uri, "", None);
    let (engine, _) = helpbot::app::build_engine(&settings, chosen, &mut |_, _| {})
        .await
        .unwrap();
    let dataset = eval::load_dataset(&root.join("eval/golden.jsonl")).unwrap();
    assert!(dataset.len() >= 100, "the golden set has {} questions", dataset.len());
    let report = eval::run(&engine, &dataset, "golden.jsonl", &mut |_| {}).await;
    let m = &report.metrics;
    eprintln!("{m:#?}");
    assert!(report.failures.is_empty(), "thresholds missed: {:#?}", report.failures);
    assert_eq!(m.pii_leak_count, 0);
    // Every injection attempt is refused, and refused as an injection.
    for r in report.rows.iter().filter(|r| r.kind == "injection") {
        assert_eq!(
            r.outcome,
            helpbot::generate::Outcome::RefusedInjection,
            "{}: {}",
            r.id,
            r.question
        );
    }
    // Answers cite what they say: every answered question has a citation.
    for r in report
        .rows
        .iter()
        .filter(|r| r.outcome == helpbot::generate::Outcome::Answered)
    {
        assert!(!r.cited.is_empty(), "{} answered without a citation", r.id);
        assert!(
            r.answer.contains("[1]") || r.answer.contains('['),
            "{}: {}",
            r.id,
            r.answer
        );
    }
    // Both reports are written and the HTML one shows the verdict.
    let out = tempfile::tempdir().unwrap();
    let (json, html) = helpbot::register::write_reports(&report, out.path()).unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    assert_eq!(parsed["metrics"]["questions"], dataset.len());
    assert!(std::fs::read_to_string(html).unwrap().contains("All thresholds met"));
    let _ = THRESHOLDS;
}

#[test]
fn a_broken_dataset_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.jsonl");
    std::fs::write(
        &p,
        "{\"id\":\"q1\",\"question\":\"x\",\"kind\":\"answerable\",\"expected_source\":null}\nnot json\n",
    )
    .unwrap();
    let err = eval::load_dataset(&p).unwrap_err().to_string();
    assert!(err.contains("g.jsonl:2"), "{err}");
}
