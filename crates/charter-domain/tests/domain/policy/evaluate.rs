//! Classification, visibility, conditional display and missing answers.

use charter_domain::policy::{AnswerValue, Answers, Policy};

use super::policy;

const HELPBOT: &str = r#"
classification:
  artifacts: [impact, pii]
  rule: |
    has(inputs.impact) && inputs.impact == "Customer-facing advice" ? "High"
      : (has(inputs.pii) && inputs.pii == "Yes" ? "Medium" : "Low")
stages:
  - name: Intake
    evidenceSet:
      - id: Local.intake
        name: Use case
        definition:
          - artifactType: guidance
            details: {type: banner, text: Answer every question.}
          - artifactType: input
            aliasForClassification: impact
            required: true
            details: {type: radio, label: What kind of answers?, options: ["Internal FAQ only", "Customer-facing advice"]}
          - artifactType: input
            aliasForClassification: pii
            required: true
            details: {type: radio, label: Does it see personal data?, options: ["Yes", "No"]}
          - artifactType: input
            id: pii-fields
            required: true
            details:
              type: textarea
              label: Which PII fields?
              conditionalDisplay: {dependsOn: Local.intake, showIfValue: "Yes"}
          - artifactType: input
            id: channels
            details: {type: checkbox, label: Channels, options: [Web, Slack, Email]}
          - artifactType: input
            id: retired
            required: true
            disabled: true
            details: {type: textinput, label: Old question}
      - id: Local.slack
        name: Slack specifics
        definition:
          - artifactType: input
            id: slack-workspace
            required: true
            details:
              type: textinput
              label: Workspace
              conditionalDisplay: {dependsOn: channels, showIfValues: [Slack]}
      - id: Local.high-risk
        name: Extra review
        visibility:
          conditions:
            - when: classification == "High"
        definition:
          - artifactType: input
            id: escalation
            required: true
            details: {type: radio, label: Escalation path?, options: [Human review, None]}
          - artifactType: input
            id: escalation-detail
            required: true
            details:
              type: textarea
              label: Describe the human review
              conditionalDisplay: {dependsOn: escalation, showIfValue: Human review}
      - id: Local.not-low
        name: Anything above low
        visibilityRule: classificationValue != "Low"
        definition:
          - artifactType: input
            id: mitigation
            details: {type: textarea, label: Mitigations}
    approvals:
      - name: Intake sign off
        approvers: [ai-risk-office]
        evidence:
          id: Local.intake-signoff
          name: Sign-off
          definition:
            - artifactType: input
              id: decision
              required: true
              details: {type: radio, label: Decision, options: [Approved, Rejected]}
gates:
  - name: Prod
    rules: [{action: CreateEndpoint}]
    approvals: [Intake sign off]
    when: classification != "Low"
  - name: Always
    rules: [{action: CreateApp}]
    approvals: [Intake sign off]
"#;

fn helpbot() -> Policy {
    policy(HELPBOT)
}

fn text(s: &str) -> AnswerValue {
    AnswerValue::Text(s.to_owned())
}

fn answers(items: &[(&str, AnswerValue)]) -> Answers {
    items.iter().cloned().collect()
}

#[test]
fn classification_follows_the_answers() {
    let p = helpbot();
    let impact = p.input_by_alias("impact").unwrap().id().to_owned();
    let pii = p.input_by_alias("pii").unwrap().id().to_owned();

    // Unanswered inputs are absent: the rule's has() guards make that "Low".
    let eval = p.evaluate(&Answers::new());
    assert_eq!(eval.classification.as_deref(), Some("Low"));
    assert!(eval.issues.is_empty(), "{:?}", eval.issues);

    let eval = p.evaluate(&answers(&[(&pii, text("Yes"))]));
    assert_eq!(eval.classification.as_deref(), Some("Medium"));
    let eval = p.evaluate(&answers(&[
        (&pii, text("Yes")),
        (&impact, text("Customer-facing advice")),
    ]));
    assert_eq!(eval.classification.as_deref(), Some("High"));

    // The inputs the rule read are reported with their answers.
    let used: Vec<(&str, Option<&AnswerValue>)> = eval
        .classification_inputs
        .iter()
        .map(|c| (c.alias.as_str(), c.value.as_ref()))
        .collect();
    assert_eq!(
        used,
        [
            ("impact", Some(&text("Customer-facing advice"))),
            ("pii", Some(&text("Yes")))
        ]
    );
    // Blank answers count as unanswered.
    let eval = p.evaluate(&answers(&[(&pii, text("  "))]));
    assert_eq!(eval.classification.as_deref(), Some("Low"));
}

#[test]
fn numbers_are_classifications_too_and_failures_are_reported() {
    let yaml = r#"
classification:
  rule: 'inputs.score * 2.0'
stages:
  - name: S
    evidenceSet:
      - id: Local.s
        name: S
        definition:
          - artifactType: input
            aliasForClassification: score
            details: {type: numeric, label: Score}
"#;
    let p = policy(yaml);
    let id = p.input_by_alias("score").unwrap().id().to_owned();
    assert_eq!(
        p.evaluate(&answers(&[(&id, AnswerValue::Number(1.5))]))
            .classification
            .as_deref(),
        Some("3")
    );
    assert_eq!(
        p.evaluate(&answers(&[(&id, AnswerValue::Number(1.25))]))
            .classification
            .as_deref(),
        Some("2.5")
    );
    // Reading an absent answer is an error at run time: no classification, an issue, no panic.
    let eval = p.evaluate(&Answers::new());
    assert_eq!(eval.classification, None);
    assert_eq!(eval.issues.len(), 1);
    assert!(
        eval.issues[0].message.contains("has(inputs.score)"),
        "{:?}",
        eval.issues
    );

    let p = policy(&yaml.replace("'inputs.score * 2.0'", "'[inputs.score]'"));
    let eval = p.evaluate(&answers(&[(&id, AnswerValue::Number(1.0))]));
    assert_eq!(eval.classification, None);
    assert!(
        eval.issues[0].message.contains("not a string or a number"),
        "{:?}",
        eval.issues
    );
}

#[test]
fn visibility_sees_the_classification() {
    let p = helpbot();
    let impact = p.input_by_alias("impact").unwrap().id().to_owned();
    let pii = p.input_by_alias("pii").unwrap().id().to_owned();

    let low = p.evaluate(&Answers::new());
    assert!(!low.is_set_visible("Local.high-risk") && !low.is_set_visible("Local.not-low"));
    assert_eq!(low.hidden_sets, ["Local.high-risk", "Local.not-low"]);
    assert!(!low.is_input_visible("escalation"));

    // `visibilityRule` with Domino's `classificationValue`.
    let medium = p.evaluate(&answers(&[(&pii, text("Yes"))]));
    assert!(medium.is_set_visible("Local.not-low") && !medium.is_set_visible("Local.high-risk"));

    let high = p.evaluate(&answers(&[(&impact, text("Customer-facing advice"))]));
    assert!(high.is_set_visible("Local.high-risk") && high.is_input_visible("escalation"));
    assert!(high.missing_required.contains(&"escalation".to_owned()));
}

#[test]
fn conditional_display_shows_and_hides_inputs() {
    let p = helpbot();
    let pii = p.input_by_alias("pii").unwrap().id().to_owned();

    let eval = p.evaluate(&Answers::new());
    assert!(!eval.is_input_visible("pii-fields"));
    let eval = p.evaluate(&answers(&[(&pii, text("Yes"))]));
    assert!(eval.is_input_visible("pii-fields"));
    let eval = p.evaluate(&answers(&[(&pii, text("No"))]));
    assert!(!eval.is_input_visible("pii-fields"));

    // A list answer shows the input when it contains the value (dependsOn one input, by id).
    let list = |items: &[&str]| AnswerValue::List(items.iter().map(|s| s.to_string()).collect());
    assert!(
        !p.evaluate(&answers(&[("channels", list(&["Web"]))]))
            .is_input_visible("slack-workspace")
    );
    assert!(
        p.evaluate(&answers(&[("channels", list(&["Web", "Slack"]))]))
            .is_input_visible("slack-workspace")
    );

    // An answer to a hidden input does not show anything: escalation's set is hidden while the
    // classification is not High, so its stale answer does not reveal the follow-up.
    let eval = p.evaluate(&answers(&[("escalation", text("Human review"))]));
    assert!(!eval.is_input_visible("escalation-detail"));
    let impact = p.input_by_alias("impact").unwrap().id().to_owned();
    let eval = p.evaluate(&answers(&[
        ("escalation", text("Human review")),
        (&impact, text("Customer-facing advice")),
    ]));
    assert!(eval.is_input_visible("escalation-detail"));
}

#[test]
fn only_shown_enabled_inputs_are_required() {
    let p = helpbot();
    let impact = p.input_by_alias("impact").unwrap().id().to_owned();
    let pii = p.input_by_alias("pii").unwrap().id().to_owned();

    let eval = p.evaluate(&Answers::new());
    // The disabled question and the hidden follow-ups are not required.
    assert_eq!(eval.missing_required, [impact.clone(), pii.clone()]);
    assert_eq!(
        eval.missing_sign_off.get("Intake sign off").map(Vec::as_slice),
        Some(&["decision".to_owned()][..])
    );

    let eval = p.evaluate(&answers(&[(&impact, text("Internal FAQ only")), (&pii, text("Yes"))]));
    assert_eq!(eval.missing_required, ["pii-fields"]);
    let eval = p.evaluate(&answers(&[
        (&impact, text("Internal FAQ only")),
        (&pii, text("Yes")),
        ("pii-fields", text("e-mail addresses")),
        ("decision", text("Approved")),
    ]));
    assert!(
        eval.missing_required.is_empty() && eval.missing_sign_off.is_empty(),
        "{eval:?}"
    );
}

#[test]
fn gates_apply_when_their_condition_holds() {
    let p = helpbot();
    assert_eq!(p.evaluate(&Answers::new()).active_gates, ["Always"]);
    let pii = p.input_by_alias("pii").unwrap().id().to_owned();
    assert_eq!(
        p.evaluate(&answers(&[(&pii, text("Yes"))])).active_gates,
        ["Prod", "Always"]
    );
}

#[test]
fn a_failing_visibility_condition_hides_the_set_and_is_reported() {
    let yaml = r#"
stages:
  - name: S
    evidenceSet:
      - id: Local.s
        name: S
        visibilityRule: inputs.x == "Yes"
        definition:
          - artifactType: input
            aliasForClassification: x
            details: {type: radio, label: X?, options: ["Yes", "No"]}
"#;
    let eval = policy(yaml).evaluate(&Answers::new());
    assert!(!eval.is_set_visible("Local.s"));
    assert_eq!(eval.issues.len(), 1);
    assert_eq!(eval.issues[0].subject, "visibility of Local.s");
}

#[test]
fn answers_to_questions_that_became_hidden_no_longer_classify() {
    let yaml = r#"
classification:
  artifacts: [pd, sc]
  rule: 'has(inputs.sc) && inputs.sc == "Yes" ? "High" : "Low"'
stages:
  - name: Intake
    evidenceSet:
      - id: Local.data
        name: Data
        definition:
          - artifactType: input
            id: pd
            aliasForClassification: pd
            details: {type: radio, label: Personal data?, options: ["Yes", "No"]}
          - artifactType: input
            id: sc
            aliasForClassification: sc
            details:
              type: radio
              label: Special categories?
              options: ["Yes", "No"]
              conditionalDisplay: {dependsOn: pd, showIfValue: "Yes"}
"#;
    let policy = charter_domain::policy::lint(yaml).policy.expect("lints clean");
    let mut answers = charter_domain::policy::Answers::new();
    answers.insert("pd", charter_domain::policy::AnswerValue::Text("Yes".into()));
    answers.insert("sc", charter_domain::policy::AnswerValue::Text("Yes".into()));
    assert_eq!(policy.evaluate(&answers).classification.as_deref(), Some("High"));
    // The earlier answer changes: the follow-up hides, and its stale answer stops counting.
    answers.insert("pd", charter_domain::policy::AnswerValue::Text("No".into()));
    let eval = policy.evaluate(&answers);
    assert!(eval.hidden_inputs.iter().any(|i| i == "sc"));
    assert_eq!(eval.classification.as_deref(), Some("Low"));
}
