//! One test per lint finding: code, line and column, and a message that says how to fix it.

use charter_domain::policy::{Severity, lint};

use super::{expect_at, find, render};

/// A one-stage policy around `definition` items (each line of `items` indented by 10 spaces).
fn with_items(items: &str) -> String {
    let mut yaml = String::from(
        "stages:\n  - name: Intake\n    evidenceSet:\n      - id: Local.a\n        name: A\n        definition:\n",
    );
    for line in items.lines() {
        yaml.push_str("          ");
        yaml.push_str(line);
        yaml.push('\n');
    }
    yaml
}

#[test]
fn yaml_syntax_error() {
    let msg = expect_at(
        "stages:\n  - name: [Intake\n    evidenceSet: []\n",
        "yaml_syntax",
        3,
        16,
    );
    assert!(msg.contains("YAML"), "{msg}");
    let msg = expect_at("stages: []\nstages: []\n", "duplicate_key", 2, 1);
    assert!(msg.contains("`stages`"), "{msg}");
}

#[test]
fn unknown_artifact_type() {
    let yaml = with_items("- artifactType: inptu\n  details: {type: textinput, label: Name}");
    let msg = expect_at(&yaml, "unknown_artifact_type", 7, 27);
    assert!(msg.contains("did you mean `input`"), "{msg}");
}

#[test]
fn unknown_input_type_suggests_the_lower_case_name() {
    let yaml =
        with_items("- artifactType: input\n  details:\n    type: multiSelect\n    label: Channels\n    options: [Web]");
    let msg = expect_at(&yaml, "unknown_input_type", 9, 21);
    assert!(msg.contains("did you mean `multiselect`"), "{msg}");
}

#[test]
fn duplicate_ids_and_names() {
    let yaml = "\
stages:
  - name: Intake
    evidenceSet:
      - id: Local.a
        name: A
        definition:
          - artifactType: input
            id: q1
            aliasForClassification: same
            details: {type: textinput, label: One}
          - artifactType: input
            id: q1
            aliasForClassification: same
            details: {type: textinput, label: Two}
      - id: Local.a
        name: Again
    approvals:
      - name: Sign off
        approvers: [risk]
      - name: Sign off
        approvers: [risk]
  - name: Intake
";
    expect_at(yaml, "duplicate_input_id", 12, 17);
    expect_at(yaml, "duplicate_alias", 13, 37);
    let msg = expect_at(yaml, "duplicate_evidence_set_id", 15, 13);
    assert!(msg.contains("line 4"), "{msg}");
    expect_at(yaml, "duplicate_approval_name", 20, 15);
    expect_at(yaml, "duplicate_stage_name", 22, 11);
}

#[test]
fn labels_give_input_ids_and_their_duplicates_are_reported() {
    let yaml = with_items(
        "- artifactType: input\n  details: {type: textinput, label: Owner?}\n- artifactType: input\n  details: {type: textarea, label: owner}",
    );
    let msg = expect_at(&yaml, "duplicate_input_id", 10, 46);
    assert!(msg.contains("`Local.a.owner`"), "{msg}");
}

#[test]
fn depends_on_naming_nothing() {
    let yaml = with_items(
        "- artifactType: input\n  details: {type: radio, label: PII?, options: [\"Yes\", \"No\"]}\n- artifactType: input\n  details:\n    type: textarea\n    label: Which fields?\n    conditionalDisplay: {dependsOn: Local.b, showIfValue: \"Yes\"}",
    );
    let msg = expect_at(&yaml, "unknown_depends_on", 13, 47);
    assert!(msg.contains("did you mean `Local.a`"), "{msg}");
}

#[test]
fn show_if_value_that_is_not_an_option_is_a_warning() {
    let yaml = with_items(
        "- artifactType: input\n  details: {type: radio, label: PII?, options: [\"Yes\", \"No\"]}\n- artifactType: input\n  details:\n    type: textarea\n    label: Which fields?\n    conditionalDisplay: {dependsOn: Local.a, showIfValue: \"yes\"}",
    );
    let msg = expect_at(&yaml, "show_if_value_not_an_option", 13, 69);
    assert!(msg.contains("did you mean `Yes`"), "{msg}");
    let report = lint(&yaml);
    assert!(report.policy.is_some(), "only a warning: {}", render(&report));
}

#[test]
fn choice_inputs_need_options() {
    let yaml = with_items("- artifactType: input\n  details: {type: select, label: Base model}");
    let msg = expect_at(&yaml, "missing_options", 8, 29);
    assert!(msg.contains("options"), "{msg}");
    let yaml = with_items("- artifactType: input\n  details: {type: checkbox, label: Channels, options: []}");
    expect_at(&yaml, "missing_options", 8, 65);
}

#[test]
fn min_greater_than_max() {
    let yaml = with_items("- artifactType: input\n  details: {type: numeric, label: Rate, min: 1, max: 0}");
    let msg = expect_at(&yaml, "min_greater_than_max", 8, 64);
    assert!(msg.contains("swap"), "{msg}");
}

#[test]
fn empty_names_and_no_stages() {
    let yaml = "stages:\n  - name: \"\"\n    evidenceSet: []\n";
    expect_at(yaml, "empty_name", 2, 11);
    let yaml = with_items("- artifactType: input\n  details: {type: textinput, label: \"  \"}");
    expect_at(&yaml, "empty_name", 8, 47);
    expect_at("stages: []\n", "no_stages", 1, 9);
    expect_at("enforceSequentialOrder: true\n", "no_stages", 1, 1);
    expect_at("", "no_stages", 1, 1);
}

const CLASSIFIED: &str = "\
classification:
  artifacts: [pii]
  rule: RULE
stages:
  - name: Intake
    evidenceSet:
      - id: Local.a
        name: A
        definition:
          - artifactType: input
            aliasForClassification: pii
            details: {type: radio, label: PII?, options: [\"Yes\", \"No\"]}
";

fn classified(rule: &str) -> String {
    CLASSIFIED.replace("RULE", rule)
}

#[test]
fn cel_that_does_not_compile() {
    let msg = expect_at(&classified("'inputs.pii == '"), "cel_syntax", 3, 24);
    assert!(msg.contains("CEL"), "{msg}");
}

#[test]
fn cel_referencing_an_unknown_alias() {
    let msg = expect_at(
        &classified("'inputs.pi == \"Yes\" ? \"High\" : \"Low\"'"),
        "cel_unknown_alias",
        3,
        10,
    );
    assert!(msg.contains("did you mean `pii`"), "{msg}");
    expect_at(&classified("'\"Low\" + inputs[\"nope\"]'"), "cel_unknown_alias", 3, 18);
    expect_at(
        &classified("'\"nope\" in inputs ? \"High\" : \"Low\"'"),
        "cel_unknown_alias",
        3,
        10,
    );
}

#[test]
fn cel_positions_inside_block_scalars() {
    let rule = "|\n    has(inputs.pii) && inputs.pii == \"Yes\"\n      ? \"High\" : inputs.impact";
    // Line 5 of the YAML is the rule's second line; `inputs` starts at column 18.
    let msg = expect_at(&classified(rule), "cel_unknown_alias", 5, 18);
    assert!(msg.contains("`aliasForClassification: impact`"), "{msg}");
}

#[test]
fn cel_unknown_variables_and_functions() {
    let msg = expect_at(&classified("'tier == \"High\"'"), "cel_unknown_variable", 3, 10);
    assert!(msg.contains("`inputs`"), "{msg}");
    let msg = expect_at(&classified("'lower(inputs.pii)'"), "cel_unknown_function", 3, 10);
    assert!(msg.contains("lowerAscii"), "{msg}");
}

#[test]
fn classification_artifacts_must_be_declared_aliases() {
    let yaml = classified("'inputs.pii'").replace("artifacts: [pii]", "artifacts: [pii, impact]");
    let msg = expect_at(&yaml, "unknown_alias", 2, 20);
    assert!(msg.contains("aliasForClassification: impact"), "{msg}");
}

#[test]
fn go_if_chain_gets_its_cel_equivalent() {
    let yaml = "\
classification:
  artifacts: [a, b]
  rule: |
    tier := \"Low\"
    if classificationInputs[\"a\"].(string) == \"Yes\" { tier = \"Medium\" }
    if classificationInputs[\"b\"].(string) == \"X\" { tier = \"High\" }
    return tier
stages:
  - name: Intake
    evidenceSet:
      - id: Local.a
        name: A
        definition:
          - artifactType: input
            aliasForClassification: a
            details: {type: radio, label: A?, options: [\"Yes\", \"No\"]}
          - artifactType: input
            aliasForClassification: b
            details: {type: radio, label: B?, options: [X, Y]}
";
    let msg = expect_at(yaml, "go_classification_rule", 4, 5);
    assert!(
        msg.contains(r#"inputs["b"] == "X" ? "High" : (inputs["a"] == "Yes" ? "Medium" : "Low")"#),
        "{msg}"
    );
    // The suggested expression is itself a valid rule for this policy.
    let fixed = yaml.replace(
        "|\n    tier := \"Low\"\n    if classificationInputs[\"a\"].(string) == \"Yes\" { tier = \"Medium\" }\n    if classificationInputs[\"b\"].(string) == \"X\" { tier = \"High\" }\n    return tier",
        r#"'inputs["b"] == "X" ? "High" : (inputs["a"] == "Yes" ? "Medium" : "Low")'"#,
    );
    super::policy(&fixed);
}

#[test]
fn other_go_rules_get_rewriting_advice() {
    let rule = "|\n    score := 0.0\n    for k := range classificationInputs { score += 1 }\n    return score";
    let msg = expect_at(&classified(rule), "go_classification_rule", 4, 5);
    assert!(msg.contains("inputs[\"x\"]") && msg.contains("cond ?"), "{msg}");
}

#[test]
fn named_rule_is_a_warning() {
    let report = lint(&classified("RISK-ASSESSMENT"));
    let d = find(&report, "named_classification_rule");
    assert_eq!((d.severity, d.line, d.column), (Severity::Warning, 3, 9));
    assert!(report.policy.is_some());
}

#[test]
fn gate_naming_an_unknown_approval() {
    let yaml = "\
stages:
  - name: Intake
    approvals:
      - name: Validation sign off
        approvers: [validators]
gates:
  - name: Prod
    rules: [{action: CreateEndpoint, parameters: {hardwareTierId: any}}]
    approvals: [Validation signoff]
";
    let msg = expect_at(yaml, "unknown_approval", 9, 17);
    assert!(msg.contains("did you mean `Validation sign off`"), "{msg}");
}

#[test]
fn depends_on_cycles() {
    // Set A's question shows on B's answers, B's on A's.
    let yaml = "\
stages:
  - name: Intake
    evidenceSet:
      - id: Local.a
        name: A
        definition:
          - artifactType: input
            details: {type: radio, label: Q1, options: [x], conditionalDisplay: {dependsOn: Local.b, showIfValue: x}}
      - id: Local.b
        name: B
        definition:
          - artifactType: input
            details: {type: radio, label: Q2, options: [x], conditionalDisplay: {dependsOn: Local.a, showIfValue: x}}
";
    let report = lint(yaml);
    let cycles: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.code == "depends_on_cycle")
        .collect();
    assert!(
        cycles
            .iter()
            .any(|d| d.message.contains("`Local.a` → `Local.b` → `Local.a`")),
        "{}",
        render(&report)
    );
    assert!(
        cycles.iter().any(|d| (d.line, d.column) == (8, 93)),
        "{}",
        render(&report)
    );
    assert!(
        cycles.iter().any(|d| d.message.contains("can never be shown")),
        "{}",
        render(&report)
    );

    // A set whose only question depends on the set itself.
    let yaml = with_items(
        "- artifactType: input\n  details: {type: textarea, label: Lonely, conditionalDisplay: {dependsOn: Local.a, showIfValue: x}}",
    );
    let msg = expect_at(&yaml, "depends_on_cycle", 8, 86);
    assert!(msg.contains("no other question"), "{msg}");
}

#[test]
fn unknown_keys_are_warnings() {
    let yaml = with_items("- artifactType: input\n  requierd: true\n  details: {type: textinput, label: Name}");
    let msg = expect_at(&yaml, "unknown_key", 8, 13);
    assert!(msg.contains("did you mean `required`"), "{msg}");
    assert!(lint(&yaml).policy.is_some());
}

#[test]
fn structural_problems() {
    let yaml = with_items("- artifactType: input\n  required: maybe\n  details: {type: textinput}");
    expect_at(&yaml, "invalid_type", 8, 23);
    expect_at(&yaml, "missing_field", 9, 22);
    let yaml = with_items("- artifactType: input\n  details: {type: radio, label: R, options: [a, b, a]}");
    expect_at(&yaml, "duplicate_option", 8, 62);
    let yaml = with_items(
        "- artifactType: metadata\n  details:\n    type: modelmetric\n    metrics: [{name: auc, threshold: {operator: '=>', value: 0.8}}]",
    );
    let msg = expect_at(&yaml, "invalid_threshold_operator", 10, 59);
    assert!(msg.contains("`>=`"), "{msg}");
    let yaml = "stages:\n  - name: Intake\n    evidenceSet:\n      - id: Local a\n        name: A\n";
    expect_at(yaml, "invalid_id", 4, 13);
}

#[test]
fn empty_list_items_are_warnings() {
    let yaml = with_items("-\n- artifactType: input\n  details: {type: textinput, label: Name}");
    let msg = expect_at(&yaml, "empty_item", 7, 12);
    assert!(msg.contains("`definition`"), "{msg}");
    assert!(lint(&yaml).policy.is_some());
}

#[test]
fn misfiled_types_and_ignored_fields_are_warnings() {
    let yaml = with_items("- artifactType: input\n  details: {type: file, label: Model card}");
    expect_at(&yaml, "artifact_type_mismatch", 8, 29);
    let yaml = with_items("- artifactType: input\n  details: {type: textarea, label: Notes, options: [a]}");
    let msg = expect_at(&yaml, "ignored_field", 8, 62);
    assert!(msg.contains("options"), "{msg}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let yaml = "\
classification:
  rule: 'inputs.nope == \"x\" ? \"High\" : \"Low\"'
stages:
  - name: Intake
    evidenceSet:
      - id: Local.a
        name: A
        visibility: {conditions: [{when: 'classification =='}]}
        definition:
          - artifactType: inptu
          - artifactType: input
            details: {type: multiSelect, label: M}
          - artifactType: input
            details: {type: numeric, label: N, min: 5, max: 1}
gates:
  - {name: G, rules: [{action: CreateApp}], approvals: [nobody]}
";
    let report = lint(yaml);
    let codes: Vec<&str> = report.errors().map(|d| d.code).collect();
    for code in [
        "cel_unknown_alias",
        "cel_syntax",
        "unknown_artifact_type",
        "unknown_input_type",
        "min_greater_than_max",
        "unknown_approval",
    ] {
        assert!(codes.contains(&code), "missing {code}: {}", render(&report));
    }
    // Sorted by position.
    let positions: Vec<(u32, u32)> = report.diagnostics.iter().map(|d| (d.line, d.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(positions, sorted);
    assert!(report.policy.is_none());
}

#[test]
fn diagnostics_serialize_for_the_api() {
    let report = lint("stages: []\n");
    let json = serde_json::to_value(&report.diagnostics[0]).unwrap();
    assert_eq!(json["severity"], "error");
    assert_eq!(json["code"], "no_stages");
    assert_eq!(json["line"], 1);
    assert_eq!(json["column"], 9);
}

#[test]
fn approvers_checked_against_a_directory() {
    let yaml = "\
approvers: [risk-office]
stages:
  - name: Intake
    approvals:
      - name: Sign off
        approvers: [risk-office, {name: legl, showByDefault: true}]
";
    let report = charter_domain::policy::lint_with_approvers(yaml, |name| ["risk-office", "legal"].contains(&name));
    let errors: Vec<(&str, u32, u32)> = report.errors().map(|d| (d.code, d.line, d.column)).collect();
    assert_eq!(errors, [("unknown_approver", 6, 41)], "{}", render(&report));
    assert!(lint(yaml).policy.is_some());
}

#[test]
fn expressions_too_deep_for_the_interpreter_are_refused() {
    // 32 levels of brackets and 99 chained operators still compile and evaluate...
    let nested = format!("'{}\"High\"{}'", "(".repeat(32), ")".repeat(32));
    let p = super::policy(&classified(&nested));
    assert_eq!(
        p.evaluate(&charter_domain::policy::Answers::new())
            .classification
            .as_deref(),
        Some("High")
    );
    let chain = format!("'{}1'", "1 + ".repeat(99));
    let p = super::policy(&classified(&chain));
    assert_eq!(
        p.evaluate(&charter_domain::policy::Answers::new())
            .classification
            .as_deref(),
        Some("100")
    );
    // ...deeper ones are lint errors, not stack overflows.
    for rule in [
        format!("'{}1{}'", "(".repeat(5000), ")".repeat(5000)),
        format!("'{}1{}'", "[".repeat(33), "]".repeat(33)),
        format!("'{}1'", "1 + ".repeat(100)),
    ] {
        let msg = expect_at(&classified(&rule), "cel_too_complex", 3, 9);
        assert!(msg.contains("too complex"), "{msg}");
    }
}
