//! Differences between two versions of a policy, for reviewers and for bundle migrations.

use std::fmt;

use serde::Serialize;

use super::model::{Approval, Artifact, EvidenceSet, Gate, GuidanceStyle, Input, MetricCheck, Policy};

/// What changed between two policies, in a stable order: policy-wide settings, classification,
/// stages, evidence sets, questions, approvals, gates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyDiff {
    /// One entry per added, removed or changed thing.
    pub changes: Vec<Change>,
}

/// One added, removed or changed thing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// What kind of thing.
    pub subject: Subject,
    /// Added, removed or changed.
    pub kind: ChangeKind,
    /// Its identity: input id, evidence-set id, stage/approval/gate name; empty for policy-wide items.
    pub id: String,
    /// What people call it: a question's label, a set's name.
    pub title: String,
    /// For changes, each field that differs.
    pub fields: Vec<FieldChange>,
}

/// What kind of thing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// Policy-wide settings.
    Policy,
    /// The classification rule.
    Classification,
    /// A stage.
    Stage,
    /// An evidence set or sign-off form.
    EvidenceSet,
    /// A question (input).
    Question,
    /// An approval.
    Approval,
    /// A gate.
    Gate,
}

impl Subject {
    fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Classification => "classification",
            Self::Stage => "stage",
            Self::EvidenceSet => "evidence set",
            Self::Question => "question",
            Self::Approval => "approval",
            Self::Gate => "gate",
        }
    }
}

/// Added, removed or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Removed,
    /// In both, different.
    Changed,
}

/// One field's old and new value, rendered as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Field name, e.g. `options`.
    pub field: String,
    /// Old value.
    pub before: String,
    /// New value.
    pub after: String,
}

impl PolicyDiff {
    /// Whether the policies are the same in everything the diff looks at.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes to one kind of thing.
    pub fn of(&self, subject: Subject) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.subject == subject)
    }

    /// The diff as readable lines (`+` added, `-` removed, `~` changed, fields indented).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for change in &self.changes {
            let sign = match change.kind {
                ChangeKind::Added => '+',
                ChangeKind::Removed => '-',
                ChangeKind::Changed => '~',
            };
            let mut line = format!("{sign} {}", change.subject.as_str());
            if !change.id.is_empty() {
                line.push_str(&format!(" {}", change.id));
            }
            if !change.title.is_empty() && change.title != change.id {
                line.push_str(&format!(" {:?}", change.title));
            }
            lines.push(line);
            for field in &change.fields {
                lines.push(format!("    {}: {} → {}", field.field, field.before, field.after));
            }
        }
        lines
    }
}

impl fmt::Display for PolicyDiff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no changes");
        }
        f.write_str(&self.lines().join("\n"))
    }
}

/// Compare two versions of a policy.
pub fn diff(old: &Policy, new: &Policy) -> PolicyDiff {
    let mut d = Differ::default();

    let mut policy_fields = Vec::new();
    field(
        &mut policy_fields,
        "enforceSequentialOrder",
        old.enforce_sequential_order,
        new.enforce_sequential_order,
    );
    field_text(
        &mut policy_fields,
        "default approvers",
        approvers_text(&old.approvers),
        approvers_text(&new.approvers),
    );
    field_text(
        &mut policy_fields,
        "metrics",
        metrics_text(&old.metrics),
        metrics_text(&new.metrics),
    );
    let old_order: Vec<&str> = old
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| new.stage(n).is_some())
        .collect();
    let new_order: Vec<&str> = new
        .stages
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| old.stage(n).is_some())
        .collect();
    if old_order != new_order {
        field_text(
            &mut policy_fields,
            "stage order",
            old_order.join(" → "),
            new_order.join(" → "),
        );
    }
    d.changed(Subject::Policy, "", "", policy_fields);

    let rule = |p: &Policy| {
        p.classification
            .as_ref()
            .map(|c| (c.rule.source().to_owned(), c.artifacts.join(", ")))
    };
    match (rule(old), rule(new)) {
        (None, Some(_)) => d.push(Subject::Classification, ChangeKind::Added, "", "", Vec::new()),
        (Some(_), None) => d.push(Subject::Classification, ChangeKind::Removed, "", "", Vec::new()),
        (Some((old_rule, old_artifacts)), Some((new_rule, new_artifacts))) => {
            let mut fields = Vec::new();
            field_text(&mut fields, "rule", format!("`{old_rule}`"), format!("`{new_rule}`"));
            field_text(&mut fields, "artifacts", old_artifacts, new_artifacts);
            d.changed(Subject::Classification, "", "", fields);
        }
        (None, None) => {}
    }

    for stage in &new.stages {
        if old.stage(&stage.name).is_none() {
            d.push(Subject::Stage, ChangeKind::Added, &stage.name, "", Vec::new());
        }
    }
    for stage in &old.stages {
        if new.stage(&stage.name).is_none() {
            d.push(Subject::Stage, ChangeKind::Removed, &stage.name, "", Vec::new());
        }
    }

    let old_sets: Vec<&EvidenceSet> = old.evidence_sets().collect();
    let new_sets: Vec<&EvidenceSet> = new.evidence_sets().collect();
    d.keyed(
        &old_sets,
        &new_sets,
        Subject::EvidenceSet,
        |s| s.id.as_str(),
        |s| s.name.as_str(),
        set_fields,
    );

    let old_inputs: Vec<&Input> = old.inputs().collect();
    let new_inputs: Vec<&Input> = new.inputs().collect();
    d.keyed(
        &old_inputs,
        &new_inputs,
        Subject::Question,
        |i| i.id.as_str(),
        |i| i.label.as_str(),
        input_fields,
    );

    let old_approvals: Vec<(&Policy, &Approval)> = old.approvals().map(|a| (old, a)).collect();
    let new_approvals: Vec<(&Policy, &Approval)> = new.approvals().map(|a| (new, a)).collect();
    d.keyed(
        &old_approvals,
        &new_approvals,
        Subject::Approval,
        |(_, a)| a.name.as_str(),
        |_| "",
        approval_fields,
    );

    let old_gates: Vec<&Gate> = old.gates.iter().collect();
    let new_gates: Vec<&Gate> = new.gates.iter().collect();
    d.keyed(
        &old_gates,
        &new_gates,
        Subject::Gate,
        |g| g.name.as_str(),
        |_| "",
        gate_fields,
    );

    PolicyDiff { changes: d.changes }
}

#[derive(Default)]
struct Differ {
    changes: Vec<Change>,
}

impl Differ {
    fn push(&mut self, subject: Subject, kind: ChangeKind, id: &str, title: &str, fields: Vec<FieldChange>) {
        self.changes.push(Change {
            subject,
            kind,
            id: id.to_owned(),
            title: title.to_owned(),
            fields,
        });
    }

    fn changed(&mut self, subject: Subject, id: &str, title: &str, fields: Vec<FieldChange>) {
        if !fields.is_empty() {
            self.push(subject, ChangeKind::Changed, id, title, fields);
        }
    }

    /// Match items by key: added (new order), removed (old order), then changed (new order).
    fn keyed<T>(
        &mut self,
        old: &[T],
        new: &[T],
        subject: Subject,
        key: impl Fn(&T) -> &str,
        title: impl Fn(&T) -> &str,
        fields: impl Fn(&T, &T) -> Vec<FieldChange>,
    ) {
        let find = |items: &[T], k: &str| items.iter().position(|i| key(i) == k);
        for item in new {
            if find(old, key(item)).is_none() {
                self.push(subject, ChangeKind::Added, key(item), title(item), Vec::new());
            }
        }
        for item in old {
            if find(new, key(item)).is_none() {
                self.push(subject, ChangeKind::Removed, key(item), title(item), Vec::new());
            }
        }
        for item in new {
            if let Some(i) = find(old, key(item)) {
                self.changed(subject, key(item), title(item), fields(&old[i], item));
            }
        }
    }
}

fn field<T: PartialEq + fmt::Display>(out: &mut Vec<FieldChange>, name: &str, before: T, after: T) {
    if before != after {
        out.push(FieldChange {
            field: name.to_owned(),
            before: before.to_string(),
            after: after.to_string(),
        });
    }
}

fn field_text(out: &mut Vec<FieldChange>, name: &str, before: String, after: String) {
    if before != after {
        out.push(FieldChange {
            field: name.to_owned(),
            before: or_none(before),
            after: or_none(after),
        });
    }
}

fn or_none(s: String) -> String {
    if s.is_empty() { "(none)".to_owned() } else { s }
}

fn opt<T: fmt::Display>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn set_fields(old: &&EvidenceSet, new: &&EvidenceSet) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field_text(&mut out, "name", old.name.clone(), new.name.clone());
    field_text(
        &mut out,
        "description",
        opt(old.description.as_deref()),
        opt(new.description.as_deref()),
    );
    field_text(&mut out, "stage", old.stage.clone(), new.stage.clone());
    let conditions = |s: &EvidenceSet| {
        s.visibility
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(" and ")
    };
    field_text(&mut out, "shown when", conditions(old), conditions(new));
    field_text(
        &mut out,
        "guidance and checks",
        other_artifacts(old),
        other_artifacts(new),
    );
    out
}

/// The non-question artifacts of a set, summarized.
fn other_artifacts(set: &EvidenceSet) -> String {
    let parts: Vec<String> = set
        .artifacts
        .iter()
        .filter_map(|a| match a {
            Artifact::Input(_) => None,
            Artifact::Guidance(g) => Some(format!(
                "{} {:?}",
                if g.style == GuidanceStyle::Banner {
                    "banner"
                } else {
                    "text"
                },
                g.text.chars().take(40).collect::<String>()
            )),
            Artifact::ModelMetrics(m) => Some(format!("metrics [{}]", metrics_text(&m.metrics))),
            Artifact::ScriptedCheck(s) => Some(format!("script `{}`", s.command)),
            Artifact::MonitoringCheck(m) => Some(format!("monitoring [{}]", m.alert_types.join(", "))),
        })
        .collect();
    parts.join("; ")
}

fn metrics_text(metrics: &[MetricCheck]) -> String {
    metrics
        .iter()
        .map(|m| match &m.threshold {
            Some(t) => format!("{} {} {}", m.name, t.operator.as_str(), t.value),
            None => m.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn input_fields(old: &&Input, new: &&Input) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field_text(&mut out, "label", old.label.clone(), new.label.clone());
    field(&mut out, "type", old.input_type, new.input_type);
    field_text(&mut out, "options", options_text(old), options_text(new));
    field(&mut out, "required", old.required, new.required);
    field(&mut out, "disabled", old.disabled, new.disabled);
    field_text(&mut out, "min", opt(old.min), opt(new.min));
    field_text(&mut out, "max", opt(old.max), opt(new.max));
    field_text(&mut out, "alias", opt(old.alias.as_deref()), opt(new.alias.as_deref()));
    field_text(&mut out, "shown when", shown_when(old), shown_when(new));
    field_text(&mut out, "evidence set", old.set_id.clone(), new.set_id.clone());
    out
}

fn options_text(input: &Input) -> String {
    let options: Vec<String> = input
        .options
        .iter()
        .map(|o| {
            if o.label == o.value {
                format!("{:?}", o.value)
            } else {
                format!("{:?} ({:?})", o.value, o.label)
            }
        })
        .collect();
    if options.is_empty() {
        String::new()
    } else {
        format!("[{}]", options.join(", "))
    }
}

fn shown_when(input: &Input) -> String {
    input
        .conditional_display
        .as_ref()
        .map(|cd| {
            format!(
                "{} is {}",
                cd.depends_on,
                cd.values
                    .iter()
                    .map(|v| format!("{v:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        })
        .unwrap_or_default()
}

fn approvers_text(approvers: &[super::model::Approver]) -> String {
    let names: Vec<String> = approvers
        .iter()
        .map(|a| {
            let mut flags = Vec::new();
            if !a.show_by_default {
                flags.push("hidden by default");
            }
            if a.editable {
                flags.push("editable");
            }
            if flags.is_empty() {
                a.name.clone()
            } else {
                format!("{} ({})", a.name, flags.join(", "))
            }
        })
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("[{}]", names.join(", "))
    }
}

fn approval_fields(old: &(&Policy, &Approval), new: &(&Policy, &Approval)) -> Vec<FieldChange> {
    let ((old_policy, old), (new_policy, new)) = (old, new);
    let mut out = Vec::new();
    field_text(&mut out, "stage", old.stage.clone(), new.stage.clone());
    field_text(
        &mut out,
        "approvers",
        approvers_text(old_policy.approvers_for(old)),
        approvers_text(new_policy.approvers_for(new)),
    );
    field(
        &mut out,
        "allowAdditionalApprovers",
        old.allow_additional_approvers,
        new.allow_additional_approvers,
    );
    let sign_off = |a: &Approval| {
        a.evidence
            .as_ref()
            .map(|e| {
                let questions: Vec<String> = e.inputs().map(|i| format!("{:?}", i.label)).collect();
                format!("{} [{}]", e.id, questions.join(", "))
            })
            .unwrap_or_default()
    };
    field_text(&mut out, "sign-off", sign_off(old), sign_off(new));
    out
}

fn gate_fields(old: &&Gate, new: &&Gate) -> Vec<FieldChange> {
    let mut out = Vec::new();
    field_text(
        &mut out,
        "approvals",
        old.approvals.join(", "),
        new.approvals.join(", "),
    );
    let rules = |g: &Gate| {
        g.rules
            .iter()
            .map(|r| {
                if r.parameters.is_empty() {
                    r.action.clone()
                } else {
                    format!("{} {}", r.action, serde_json::Value::Object(r.parameters.clone()))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    field_text(&mut out, "rules", rules(old), rules(new));
    field_text(&mut out, "when", opt(old.when.as_ref()), opt(new.when.as_ref()));
    out
}
