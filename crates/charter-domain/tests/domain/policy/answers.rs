//! Answer validation, for every input type.

use charter_domain::policy::{AnswerProblem, AnswerValue, MAX_TEXT_CHARS, Policy};
use serde_json::json;

use super::policy;

const FORM: &str = r#"
stages:
  - name: S
    evidenceSet:
      - id: Local.form
        name: Every type
        definition:
          - {artifactType: input, id: name, details: {type: textinput, label: Name}}
          - {artifactType: input, id: notes, details: {type: textarea, label: Notes}}
          - {artifactType: input, id: risk, details: {type: radio, label: Risk, options: [{label: High risk, value: high}, low]}}
          - {artifactType: input, id: llm, details: {type: select, label: Base LLM, options: [Llama, Mistral]}}
          - {artifactType: input, id: channels, details: {type: multiselect, label: Channels, options: [Web, Slack]}}
          - {artifactType: input, id: safeguards, details: {type: checkbox, label: Safeguards, options: [SAFE1, SAFE2]}}
          - {artifactType: input, id: go-live, details: {type: date, label: Go-live, startDate: 20250101, format: ISO8601}}
          - {artifactType: input, id: rate, details: {type: numeric, label: Hallucination rate, min: 0, max: 1}}
          - {artifactType: input, id: count, details: {type: numeric, label: Count}}
          - {artifactType: metadata, id: card, details: {type: file, label: Model card}}
          - {artifactType: input, id: old, disabled: true, details: {type: textinput, label: Old}}
          - {artifactType: guidance, id: help, details: {text: Read this.}}
          - {artifactType: metadata, id: metrics, details: {type: modelmetric, metrics: [{name: auc}]}}
          - {artifactType: policyScriptedCheck, id: script, details: {command: python check.py}}
          - {artifactType: policyMonitoringCheck, id: monitor, details: {alertTypes: [drift]}}
"#;

fn form() -> Policy {
    policy(FORM)
}

fn ok(p: &Policy, id: &str, value: serde_json::Value) -> AnswerValue {
    p.validate_answer(id, &value).unwrap_or_else(|e| panic!("{id}: {e}"))
}

fn problem(p: &Policy, id: &str, value: serde_json::Value) -> (AnswerProblem, String) {
    let err = p.validate_answer(id, &value).expect_err(id);
    (err.problem.clone(), err.to_string())
}

#[test]
fn text_inputs() {
    let p = form();
    assert_eq!(ok(&p, "name", json!("Ada")), AnswerValue::Text("Ada".into()));
    assert_eq!(
        ok(&p, "notes", json!("line 1\nline 2")),
        AnswerValue::Text("line 1\nline 2".into())
    );
    let (problem, message) = problem(&p, "name", json!(42));
    assert!(matches!(problem, AnswerProblem::WrongType { .. }));
    assert_eq!(message, "`Name` (name): expected text, got the number 42");
    let long = "x".repeat(MAX_TEXT_CHARS + 1);
    let (problem, _) = self::problem(&p, "notes", json!(long));
    assert!(matches!(problem, AnswerProblem::TooLong { .. }));
}

#[test]
fn single_choice_inputs() {
    let p = form();
    assert_eq!(ok(&p, "risk", json!("high")), AnswerValue::Text("high".into()));
    assert_eq!(ok(&p, "llm", json!("Mistral")), AnswerValue::Text("Mistral".into()));
    let (problem, message) = problem(&p, "risk", json!("High risk"));
    assert!(matches!(problem, AnswerProblem::NotAnOption { .. }));
    assert!(
        message.starts_with("`Risk` (risk): \"High risk\" is not one of the options"),
        "{message}"
    );
    assert!(message.contains("label of option \"high\""), "{message}");
    assert_eq!(problem.code(), "not_an_option");
    assert!(matches!(
        self::problem(&p, "llm", json!(["Llama"])).0,
        AnswerProblem::WrongType { .. }
    ));
}

#[test]
fn multiple_choice_inputs() {
    let p = form();
    assert_eq!(
        ok(&p, "channels", json!(["Web", "Slack"])),
        AnswerValue::List(vec!["Web".into(), "Slack".into()])
    );
    assert_eq!(ok(&p, "safeguards", json!([])), AnswerValue::List(vec![]));
    assert!(matches!(
        problem(&p, "safeguards", json!("SAFE1")).0,
        AnswerProblem::WrongType { .. }
    ));
    assert!(matches!(
        problem(&p, "channels", json!(["Web", "Fax"])).0,
        AnswerProblem::NotAnOption { .. }
    ));
    assert!(matches!(
        problem(&p, "channels", json!(["Web", "Web"])).0,
        AnswerProblem::DuplicateChoice(_)
    ));
}

#[test]
fn dates_are_iso_8601() {
    let p = form();
    let AnswerValue::Date(date) = ok(&p, "go-live", json!("2026-03-31")) else {
        panic!("not a date")
    };
    assert_eq!((date.year(), u8::from(date.month()), date.day()), (2026, 3, 31));
    assert_eq!(AnswerValue::Date(date).to_json(), json!("2026-03-31"));
    for bad in [
        "31/03/2026",
        "2026-3-31",
        "2026-02-30",
        "20260331",
        "2026-03-31T00:00:00Z",
    ] {
        let (problem, message) = problem(&p, "go-live", json!(bad));
        assert!(matches!(problem, AnswerProblem::InvalidDate(_)), "{bad}");
        assert!(message.contains("YYYY-MM-DD"), "{message}");
    }
}

#[test]
fn numbers_within_bounds() {
    let p = form();
    assert_eq!(ok(&p, "rate", json!(0.25)), AnswerValue::Number(0.25));
    assert_eq!(ok(&p, "rate", json!(" 1 ")), AnswerValue::Number(1.0));
    assert_eq!(ok(&p, "count", json!(-3)), AnswerValue::Number(-3.0));
    let (problem, message) = problem(&p, "rate", json!(1.5));
    assert!(matches!(problem, AnswerProblem::OutOfRange { .. }));
    assert_eq!(
        message,
        "`Hallucination rate` (rate): expected a number from 0 to 1, got 1.5"
    );
    assert!(matches!(
        self::problem(&p, "rate", json!("lots")).0,
        AnswerProblem::WrongType { .. }
    ));
    assert!(matches!(
        self::problem(&p, "rate", json!(null)).0,
        AnswerProblem::WrongType { .. }
    ));
}

#[test]
fn files_take_attachment_ids() {
    let p = form();
    assert_eq!(
        ok(&p, "card", json!("att_0193")),
        AnswerValue::Attachment("att_0193".into())
    );
    assert!(matches!(
        problem(&p, "card", json!("")).0,
        AnswerProblem::WrongType { .. }
    ));
    assert!(matches!(
        problem(&p, "card", json!({"id": "x"})).0,
        AnswerProblem::WrongType { .. }
    ));
}

#[test]
fn disabled_guidance_and_checks_take_no_answer() {
    let p = form();
    let (problem, message) = problem(&p, "old", json!("anything"));
    assert_eq!(problem, AnswerProblem::Disabled);
    assert_eq!(message, "`Old` (old): this question is disabled and takes no answer");
    for id in ["help", "metrics", "script", "monitor"] {
        assert!(
            matches!(self::problem(&p, id, json!("x")).0, AnswerProblem::NotAnswerable(_)),
            "{id}"
        );
    }
    assert_eq!(self::problem(&p, "nope", json!("x")).0, AnswerProblem::UnknownInput);
}

#[test]
fn answers_round_trip_through_json() {
    let p = form();
    for (id, value) in [
        ("name", json!("Ada")),
        ("channels", json!(["Web"])),
        ("rate", json!(0.5)),
        ("go-live", json!("2026-01-02")),
        ("card", json!("att_1")),
    ] {
        let answer = ok(&p, id, value.clone());
        assert_eq!(answer.to_json(), value, "{id}");
        assert_eq!(ok(&p, id, answer.to_json()), answer, "{id}");
    }
}

#[test]
fn hidden_questions_take_no_answer() {
    let p = policy(
        r#"
stages:
  - name: S
    evidenceSet:
      - id: Local.s
        name: S
        definition:
          - {artifactType: input, id: pii, details: {type: radio, label: PII?, options: ["Yes", "No"]}}
          - artifactType: input
            id: fields
            details: {type: textarea, label: Which fields?, conditionalDisplay: {dependsOn: Local.s, showIfValue: "Yes"}}
"#,
    );
    let err = p
        .validate_answer_given(&charter_domain::policy::Answers::new(), "fields", &json!("email"))
        .unwrap_err();
    assert_eq!(err.problem, AnswerProblem::Hidden);
    assert_eq!(err.code(), "input_hidden");
    assert!(
        err.to_string()
            .starts_with("`Which fields?` (fields): this question is hidden"),
        "{err}"
    );
    let answers = [("pii", AnswerValue::Text("Yes".into()))].into_iter().collect();
    assert_eq!(
        p.validate_answer_given(&answers, "fields", &json!("email")),
        Ok(AnswerValue::Text("email".into()))
    );
    // Type errors come first.
    assert!(matches!(
        p.validate_answer_given(&answers, "pii", &json!("Maybe"))
            .unwrap_err()
            .problem,
        AnswerProblem::NotAnOption { .. }
    ));
}
