//! The form preview of a policy: every stage's evidence sets and sign-off forms
//! with each question as the widget a practitioner will answer it with, disabled.
//! `templates/policy/preview.html` renders it.

use charter_domain::policy::{Artifact, EvidenceSet, GuidanceStyle, Input, InputType, Policy};

/// The whole questionnaire.
pub struct Preview {
    /// The classification rule as written, when the policy classifies.
    pub classification: Option<String>,
    pub sequential: bool,
    pub stages: Vec<PreviewStage>,
    /// Questions in all, sign-off forms included.
    pub questions: usize,
}

pub struct PreviewStage {
    pub name: String,
    pub sets: Vec<PreviewSet>,
    pub approvals: Vec<PreviewApproval>,
}

pub struct PreviewSet {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Visibility conditions, joined with "and" (CEL as written).
    pub shown_when: Option<String>,
    pub items: Vec<PreviewItem>,
}

pub struct PreviewApproval {
    pub name: String,
    pub approvers: Vec<String>,
    pub additional: bool,
    /// The sign-off form the approver fills.
    pub form: Option<PreviewSet>,
}

/// One artifact of a set.
pub enum PreviewItem {
    Input(Box<PreviewInput>),
    Guidance { banner: bool, text: String },
    Metrics { label: String, metrics: Vec<MetricRow> },
    Script { label: String, command: String },
    Monitoring { label: String, alerts: String },
}

pub struct MetricRow {
    pub name: String,
    pub label: String,
    /// `>= 0.8`, or empty when the metric is only displayed.
    pub threshold: String,
}

/// A question as its widget.
pub struct PreviewInput {
    /// Unique on the page (`pv-3`), for `<label for>`.
    pub dom_id: String,
    /// The input id answers are stored under.
    pub id: String,
    /// `textinput`, `textarea`, `radio`, … (`details.type`).
    pub kind: &'static str,
    pub label: String,
    pub description: Option<String>,
    pub placeholder: String,
    pub help: Option<String>,
    pub required: bool,
    pub options: Vec<(String, String)>,
    pub min: Option<String>,
    pub max: Option<String>,
    pub rows: u32,
    /// `conditionalDisplay`, in words.
    pub shown_when: Option<String>,
    /// The alias classification and visibility rules read it by.
    pub alias: Option<String>,
}

impl PreviewInput {
    pub fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }

    /// The hint ids a widget is described by (`aria-describedby`), or empty.
    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.description.is_some() {
            ids.push(format!("{}-desc", self.dom_id));
        }
        if self.help.is_some() {
            ids.push(format!("{}-help", self.dom_id));
        }
        if self.shown_when.is_some() {
            ids.push(format!("{}-when", self.dom_id));
        }
        ids.join(" ")
    }
}

impl Preview {
    pub fn of(policy: &Policy) -> Self {
        let mut next = 0usize;
        let mut questions = 0usize;
        let stages = policy
            .stages()
            .iter()
            .map(|stage| PreviewStage {
                name: stage.name().to_owned(),
                sets: stage
                    .evidence_sets()
                    .iter()
                    .map(|s| set(s, &mut next, &mut questions))
                    .collect(),
                approvals: stage
                    .approvals()
                    .iter()
                    .map(|a| PreviewApproval {
                        name: a.name().to_owned(),
                        approvers: policy.approvers_for(a).iter().map(|ap| ap.name().to_owned()).collect(),
                        additional: a.allow_additional_approvers(),
                        form: a.evidence().map(|s| set(s, &mut next, &mut questions)),
                    })
                    .collect(),
            })
            .collect();
        Self {
            classification: policy.classification().map(|c| c.rule().source().to_owned()),
            sequential: policy.enforce_sequential_order(),
            stages,
            questions,
        }
    }
}

fn set(s: &EvidenceSet, next: &mut usize, questions: &mut usize) -> PreviewSet {
    let conditions: Vec<&str> = s.visibility_conditions().iter().map(|c| c.source()).collect();
    PreviewSet {
        id: s.id().to_owned(),
        name: s.name().to_owned(),
        description: s.description().map(str::to_owned),
        shown_when: (!conditions.is_empty()).then(|| conditions.join(" and ")),
        items: s
            .artifacts()
            .iter()
            .map(|a| match a {
                Artifact::Input(i) => {
                    *next += 1;
                    *questions += 1;
                    PreviewItem::Input(Box::new(input(i, *next)))
                }
                Artifact::Guidance(g) => PreviewItem::Guidance {
                    banner: g.style() == GuidanceStyle::Banner,
                    text: g.text().to_owned(),
                },
                Artifact::ModelMetrics(m) => PreviewItem::Metrics {
                    label: m.label().unwrap_or("Model metrics").to_owned(),
                    metrics: m
                        .metrics()
                        .iter()
                        .map(|c| MetricRow {
                            name: c.name().to_owned(),
                            label: c.label().unwrap_or_default().to_owned(),
                            threshold: c
                                .threshold()
                                .map(|t| format!("{} {}", t.operator.as_str(), t.value))
                                .unwrap_or_default(),
                        })
                        .collect(),
                },
                Artifact::ScriptedCheck(c) => PreviewItem::Script {
                    label: c.label().or(c.name()).unwrap_or("Scripted check").to_owned(),
                    command: c.command().to_owned(),
                },
                Artifact::MonitoringCheck(c) => PreviewItem::Monitoring {
                    label: c.label().or(c.name()).unwrap_or("Monitoring check").to_owned(),
                    alerts: c.alert_types().join(", "),
                },
            })
            .collect(),
    }
}

fn input(i: &Input, n: usize) -> PreviewInput {
    let number = |v: Option<f64>| v.map(|v| v.to_string());
    PreviewInput {
        dom_id: format!("pv-{n}"),
        id: i.id().to_owned(),
        kind: i.input_type().as_str(),
        label: i.label().to_owned(),
        description: i.description().map(str::to_owned),
        placeholder: i.placeholder().unwrap_or_default().to_owned(),
        help: i.help_text().or(i.tooltip()).map(str::to_owned),
        required: i.required(),
        options: i.options().iter().map(|o| (o.label.clone(), o.value.clone())).collect(),
        min: number(i.min()),
        max: number(i.max()),
        rows: i
            .height()
            .unwrap_or(if i.input_type() == InputType::TextArea { 4 } else { 1 })
            .clamp(2, 12),
        shown_when: i.conditional_display().map(|c| {
            let values = c
                .values()
                .iter()
                .map(|v| format!("“{v}”"))
                .collect::<Vec<_>>()
                .join(" or ");
            format!("Shown when {} is {values}", c.depends_on())
        }),
        alias: i.alias().map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = r#"
classification:
  rule: 'has(inputs.pii) && inputs.pii == "Yes" ? "High" : "Low"'
  artifacts: [pii]
stages:
  - name: Intake
    evidenceSet:
      - id: Local.intake
        name: Use case
        definition:
          - artifactType: guidance
            details: {type: banner, text: Read the guide first}
          - artifactType: input
            aliasForClassification: pii
            details: {type: radio, label: Personal data?, options: ["Yes", "No"]}
          - artifactType: input
            details:
              type: textarea
              label: Which data?
              conditionalDisplay: {dependsOn: pii, showIfValue: "Yes"}
    approvals:
      - name: Intake sign off
        approvers: [alice]
        evidence:
          id: Local.signoff
          name: Sign-off
          definition:
            - artifactType: input
              details: {type: checkbox, label: Checked, options: [Data, Model]}
"#;

    #[test]
    fn every_question_becomes_its_widget_with_a_unique_id() {
        let report = charter_domain::policy::lint(YAML);
        let policy = report.policy.expect("the example lints clean");
        let p = Preview::of(&policy);
        assert_eq!(p.questions, 3);
        assert!(p.classification.as_deref().unwrap().contains("inputs.pii"));
        let stage = &p.stages[0];
        let kinds: Vec<&str> = stage.sets[0]
            .items
            .iter()
            .map(|i| match i {
                PreviewItem::Input(i) => i.kind,
                PreviewItem::Guidance { banner: true, .. } => "banner",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, ["banner", "radio", "textarea"]);
        let PreviewItem::Input(which) = &stage.sets[0].items[2] else {
            panic!("an input")
        };
        assert_eq!(which.shown_when.as_deref(), Some("Shown when pii is “Yes”"));
        let form = stage.approvals[0].form.as_ref().expect("a sign-off form");
        let PreviewItem::Input(checked) = &form.items[0] else {
            panic!("an input")
        };
        assert_eq!(checked.kind, "checkbox");
        assert_eq!(checked.dom_id, "pv-3");
        assert_eq!(stage.approvals[0].approvers, ["alice"]);
    }
}
