//! Differences between policy versions.

use charter_domain::policy::{ChangeKind, Subject, diff};

use super::{fixture, policy};

const V1: &str = r#"
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
          - {artifactType: input, id: owner, details: {type: textinput, label: Owner}}
          - {artifactType: input, id: legacy, details: {type: textinput, label: Legacy question}}
    approvals:
      - name: Intake sign off
        approvers: [risk-office]
  - name: Operate
gates:
  - {name: Prod, rules: [{action: CreateEndpoint}], approvals: [Intake sign off]}
"#;

const V2: &str = r#"
classification:
  rule: 'has(inputs.pii) && inputs.pii != "No" ? "High" : "Low"'
stages:
  - name: Intake
    evidenceSet:
      - id: Local.intake
        name: Intake
        definition:
          - artifactType: input
            aliasForClassification: pii
            required: true
            details: {type: radio, label: Does it process personal data?, options: ["Yes", "No", "Unsure"]}
          - {artifactType: input, id: owner, details: {type: textinput, label: Owner}}
          - {artifactType: input, id: purpose, details: {type: textarea, label: Purpose}}
    approvals:
      - name: Intake sign off
        approvers: [risk-office, legal]
        allowAdditionalApprovers: true
        evidence:
          id: Local.signoff
          name: Sign-off
          definition:
            - {artifactType: input, id: decision, details: {type: radio, label: Decision, options: [Approved, Rejected]}}
  - name: Validate
gates:
  - {name: Prod, rules: [{action: CreateEndpoint}], approvals: [Intake sign off]}
"#;

#[test]
fn lists_question_approval_stage_and_rule_changes() {
    let d = diff(&policy(V1), &policy(V2));

    let questions: Vec<(ChangeKind, &str)> = d.of(Subject::Question).map(|c| (c.kind, c.id.as_str())).collect();
    assert_eq!(
        questions,
        [
            (ChangeKind::Added, "purpose"),
            (ChangeKind::Added, "decision"),
            (ChangeKind::Removed, "legacy"),
            (ChangeKind::Changed, "pii")
        ]
    );
    let pii = d.of(Subject::Question).find(|c| c.id == "pii").unwrap();
    let fields: Vec<&str> = pii.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["label", "options", "required"]);
    assert_eq!(pii.fields[1].after, r#"["Yes", "No", "Unsure"]"#);

    let approval = d.of(Subject::Approval).next().unwrap();
    assert_eq!(
        (approval.kind, approval.id.as_str()),
        (ChangeKind::Changed, "Intake sign off")
    );
    let fields: Vec<(&str, &str, &str)> = approval
        .fields
        .iter()
        .map(|f| (f.field.as_str(), f.before.as_str(), f.after.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("approvers", "[risk-office]", "[risk-office, legal]"),
            ("allowAdditionalApprovers", "false", "true"),
            ("sign-off", "(none)", "Local.signoff [\"Decision\"]"),
        ]
    );

    let stages: Vec<(ChangeKind, &str)> = d.of(Subject::Stage).map(|c| (c.kind, c.id.as_str())).collect();
    assert_eq!(
        stages,
        [(ChangeKind::Added, "Validate"), (ChangeKind::Removed, "Operate")]
    );
    assert_eq!(d.of(Subject::Classification).next().unwrap().fields[0].field, "rule");
    assert_eq!(d.of(Subject::Gate).count(), 0);

    let text = d.to_string();
    assert!(text.contains("+ question purpose \"Purpose\""), "{text}");
    assert!(text.contains("- question legacy \"Legacy question\""), "{text}");
    assert!(text.contains("~ question pii \"Does it process personal data?\"\n    label: Personal data? → Does it process personal data?"), "{text}");
    assert!(text.contains("    required: false → true"), "{text}");
    assert!(
        text.contains("~ classification\n    rule: `has(inputs.pii) && inputs.pii == \"Yes\" ? \"High\" : \"Low\"` →"),
        "{text}"
    );
    assert!(text.contains("+ stage Validate"), "{text}");

    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["changes"][0]["subject"], "classification");
    assert_eq!(json["changes"][0]["kind"], "changed");
}

#[test]
fn identical_policies_have_no_diff() {
    let p = policy(&fixture("oil-gas.yaml"));
    let d = diff(&p, &p);
    assert!(d.is_empty(), "{d}");
    assert_eq!(d.to_string(), "no changes");
}
