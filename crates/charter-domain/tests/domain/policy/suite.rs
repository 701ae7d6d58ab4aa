//! Policy tests carried in the policy.

use charter_domain::policy::{lint, run_policy_tests};

use super::{expect_at, policy, render};

const BASE: &str = r#"
classification:
  rule: 'has(inputs.pii) && inputs.pii == "Yes" ? "High" : "Low"'
stages:
  - name: Intake
    evidenceSet:
      - id: Local.intake
        name: Intake
        definition:
          - artifactType: input
            aliasForClassification: pii
            details: {type: radio, label: Personal data?, options: ["Yes", "No"]}
          - artifactType: input
            id: fields
            details: {type: textarea, label: Which fields?, conditionalDisplay: {dependsOn: Local.intake, showIfValue: "Yes"}}
      - id: Local.privacy
        name: Privacy review
        visibility: {conditions: [{when: classification == "High"}]}
        definition:
          - {artifactType: input, id: dpia, details: {type: textarea, label: DPIA}}
tests:
"#;

#[test]
fn passing_tests() {
    let yaml = format!(
        "{BASE}{}",
        r#"  - name: personal data is high risk
    answers: {pii: "Yes"}
    expect: {classification: High, visible: [Local.intake, Local.privacy], visibleInputs: [fields]}
  - name: no answers
    answers: {}
    expect: {classification: Low, hidden: [Local.privacy], hiddenInputs: [fields, dpia]}
"#
    );
    let p = policy(&yaml);
    assert_eq!(p.tests().len(), 2);
    let results = run_policy_tests(&p);
    assert!(results.iter().all(|r| r.passed()), "{results:?}");
    assert_eq!(results[0].to_string(), "ok   personal data is high risk");
}

#[test]
fn failing_tests_say_what_differs() {
    let yaml = format!(
        "{BASE}{}",
        r#"  - name: wrong expectations
    answers: {pii: "No"}
    expect: {classification: High, visible: [Local.privacy], visibleInputs: [fields]}
  - name: expects no classification
    answers: {}
    expect: {classification: null}
"#
    );
    let results = run_policy_tests(&policy(&yaml));
    let failed = &results[0];
    assert!(!failed.passed());
    assert_eq!(
        failed.failures,
        [
            "expected classification \"High\", got \"Low\"",
            "expected evidence set `Local.privacy` (Privacy review) to be shown, but it is hidden",
            "expected input `fields` (\"Which fields?\") to be shown, but it is hidden",
        ]
    );
    assert!(
        failed
            .to_string()
            .starts_with("FAIL wrong expectations\n     - expected classification"),
        "{failed}"
    );
    assert_eq!(results[1].failures, ["expected classification none, got \"Low\""]);
}

#[test]
fn tests_naming_unknown_inputs_or_sets_do_not_lint() {
    let yaml = format!(
        "{BASE}{}",
        r#"  - name: typos
    answers: {pi: "Yes", fields: 3}
    expect: {hidden: [Local.privasy], hiddenInputs: [dpai]}
"#
    );
    let msg = expect_at(&yaml, "unknown_test_input", 23, 15);
    assert!(msg.contains("did you mean `pii`"), "{msg}");
    let msg = expect_at(&yaml, "invalid_test_answer", 23, 34);
    assert!(msg.contains("`Which fields?` (fields)"), "{msg}");
    let msg = expect_at(&yaml, "unknown_test_set", 24, 23);
    assert!(msg.contains("did you mean `Local.privacy`"), "{msg}");
    let report = lint(&yaml);
    let positions: Vec<(&str, u32, u32)> = report.errors().map(|d| (d.code, d.line, d.column)).collect();
    assert_eq!(
        positions,
        [
            ("unknown_test_input", 23, 15),
            ("invalid_test_answer", 23, 34),
            ("unknown_test_set", 24, 23),
            ("unknown_test_input", 24, 54)
        ],
        "{}",
        render(&report)
    );
}
