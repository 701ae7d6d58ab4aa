//! Both real Domino policies import.

use charter_domain::policy::{
    AnswerValue, Answers, Artifact, ArtifactType, ClassificationRule, GuidanceStyle, InputType, Severity,
    ThresholdOperator, lint,
};

use super::{fixture, render};

#[test]
fn oil_and_gas_policy_lints_clean() {
    let report = lint(&fixture("oil-gas.yaml"));
    assert!(
        report.diagnostics.is_empty(),
        "expected no findings, got:\n{}",
        render(&report)
    );
    let policy = report.policy.expect("a policy");

    let stages: Vec<&str> = policy.stages().iter().map(|s| s.name()).collect();
    assert_eq!(
        stages,
        [
            "Problem Definition and Risk Assessment",
            "Model Design and Development",
            "Model Validation",
            "Deployment Authorization and Monitoring"
        ]
    );
    assert!(policy.classification().is_none());
    assert!(!policy.enforce_sequential_order());

    // Input ids come from policyEntityId.
    let risk = policy
        .input("f0a24185-253a-4d0b-853b-cbdf3be5bd06")
        .expect("risk input");
    assert_eq!(risk.input_type(), InputType::Radio);
    assert_eq!(risk.alias(), Some("model-risk"));
    assert_eq!(
        risk.options().iter().map(|o| o.value.as_str()).collect::<Vec<_>>(),
        ["High", "Medium", "Low"]
    );
    assert_eq!(policy.input_by_alias("model-risk").map(|i| i.id()), Some(risk.id()));

    // Guidance without a type is a text block.
    let guidance = policy.evidence_set("Local.og-industry-guidance").unwrap();
    let Artifact::Guidance(g) = &guidance.artifacts()[0] else {
        panic!("not guidance")
    };
    assert_eq!(g.style(), GuidanceStyle::TextBlock);
    assert!(g.text().contains("BSEE"));

    // Metrics, scripted check and file upload in the validation stage.
    let quality = policy.evidence_set("Local.model-quality-metrics").unwrap();
    let Artifact::ModelMetrics(metrics) = &quality.artifacts()[0] else {
        panic!("not metrics")
    };
    let rmse = &metrics.metrics()[0];
    assert_eq!(rmse.name(), "rmse");
    assert_eq!(rmse.aliases(), ["RMSE", "root_mean_squared_error", "rmse_score"]);
    let threshold = rmse.threshold().unwrap();
    assert_eq!((threshold.operator, threshold.value), (ThresholdOperator::Le, 0.15));
    assert!(threshold.passes(0.1) && !threshold.passes(0.2));
    assert_eq!(
        metrics.metrics()[1].threshold().unwrap().operator,
        ThresholdOperator::Ge
    );
    let Artifact::ScriptedCheck(script) = &quality.artifacts()[1] else {
        panic!("not a scripted check")
    };
    assert_eq!(script.command(), "python /mnt/code/src/data-quality-check.py");
    assert_eq!(script.output_types(), ["txt", "json"]);
    assert_eq!(script.volume_size_gib(), Some(10.0));
    assert_eq!(script.hardware_tier_id(), Some("small-k8s"));
    let file = quality.artifacts()[2].as_input().expect("file input");
    assert_eq!(
        (file.input_type(), file.artifact_type()),
        (InputType::File, ArtifactType::Metadata)
    );

    // Approvals: object-form approvers and sign-off evidence with {label, value} options.
    let approval = policy.approval("Model Validation Approval").unwrap();
    let approvers: Vec<&str> = approval.approvers().iter().map(|a| a.name()).collect();
    assert_eq!(approvers, ["modeling-review", "modeling-practitioners"]);
    assert!(approval.approvers()[0].show_by_default() && !approval.approvers()[0].editable());
    let sign_off = approval.evidence().unwrap();
    assert_eq!(sign_off.id(), "Local.validation-signoff");
    assert_eq!(sign_off.sign_off_for(), Some("Model Validation Approval"));
    assert_eq!(sign_off.inputs().count(), 4);

    // Nothing is required, nothing hidden.
    let eval = policy.evaluate(&Answers::new());
    assert!(eval.missing_required.is_empty() && eval.hidden_inputs.is_empty() && eval.hidden_sets.is_empty());
    assert_eq!(eval.visible_inputs.len(), policy.inputs().count());
}

#[test]
fn eu_ai_act_policy_imports_with_a_warning_about_its_named_rule() {
    let report = lint(&fixture("eu-ai-act.yaml"));
    assert!(!report.has_errors(), "{}", render(&report));
    let warnings: Vec<_> = report.warnings().collect();
    assert_eq!(warnings.len(), 1, "{}", render(&report));
    let w = warnings[0];
    assert_eq!(
        (w.code, w.severity, w.line, w.column),
        ("named_classification_rule", Severity::Warning, 2, 9)
    );
    assert!(
        w.message.contains("EU-AI-ACT") && w.message.contains("CEL"),
        "{}",
        w.message
    );

    let policy = report.policy.expect("a policy");
    assert!(matches!(policy.classification().unwrap().rule(), ClassificationRule::Named(n) if n == "EU-AI-ACT"));
    assert_eq!(policy.stages().len(), 2);

    // The FLOPs question shows only for a foundation model (dependsOn its own evidence set).
    let gpai = "053bbf93-3676-4e8b-98b7-26c27e2afdcd";
    let flops = "fce8b040-041c-4423-a557-99b7a1f70be0";
    let eval = policy.evaluate(&Answers::new());
    assert_eq!(eval.classification, None);
    assert!(!eval.is_input_visible(flops));
    let mut answers = Answers::new();
    answers.insert(
        gpai,
        AnswerValue::Text("Yes - Foundation model with general capabilities".into()),
    );
    assert!(policy.evaluate(&answers).is_input_visible(flops));
    answers.insert(gpai, AnswerValue::Text("No - Specific purpose AI system".into()));
    assert!(!policy.evaluate(&answers).is_input_visible(flops));

    // The same inside the sign-off evidence of an approval.
    let decision = "7b850856-0556-4fbf-9e5b-b415deae5ded";
    let new_level = "5d26b6a0-1064-42f0-b5b0-07addc1a79ce";
    let answers: Answers = [(
        decision,
        AnswerValue::Text("Approved with Modified Classification".into()),
    )]
    .into_iter()
    .collect();
    assert!(policy.evaluate(&answers).is_input_visible(new_level));

    // Aliases with parentheses are kept as written.
    assert!(
        policy
            .input_by_alias("select-all-applicable-high-risk-ai-system-categories-(annex-iii)")
            .is_some()
    );
}
