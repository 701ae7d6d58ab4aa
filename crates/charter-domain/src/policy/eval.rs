//! Evaluating a policy against answers: classification, what is shown, what is still missing.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::answer::{AnswerValue, Answers};
use super::expr;
use super::model::{ClassificationRule, DependencyTarget, Input, Policy};

/// What a policy says about one set of answers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// The classification (risk tier), if the policy has a CEL rule and it produced a value.
    pub classification: Option<String>,
    /// The answers the classification rule reads, by alias.
    pub classification_inputs: Vec<ClassificationInput>,
    /// Ids of the evidence sets (and sign-off forms) shown, in policy order.
    pub visible_sets: Vec<String>,
    /// Ids of the evidence sets (and sign-off forms) hidden by their visibility conditions.
    pub hidden_sets: Vec<String>,
    /// Ids of the inputs shown, in policy order.
    pub visible_inputs: Vec<String>,
    /// Ids of the inputs hidden (their set is hidden, or their `conditionalDisplay` does not match).
    pub hidden_inputs: Vec<String>,
    /// Required inputs of stage evidence sets that are shown, enabled and unanswered.
    pub missing_required: Vec<String>,
    /// Per approval, the required sign-off inputs that are shown, enabled and unanswered.
    pub missing_sign_off: BTreeMap<String, Vec<String>>,
    /// Names of the gates that apply (their `when` holds, or they have none).
    pub active_gates: Vec<String>,
    /// Expressions that failed while evaluating (treated as described on each field).
    pub issues: Vec<EvaluationIssue>,
}

impl Evaluation {
    /// Whether an evidence set is shown.
    pub fn is_set_visible(&self, set_id: &str) -> bool {
        self.visible_sets.iter().any(|s| s == set_id)
    }

    /// Whether an input is shown.
    pub fn is_input_visible(&self, input_id: &str) -> bool {
        self.visible_inputs.iter().any(|s| s == input_id)
    }
}

/// One answer read by the classification rule.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassificationInput {
    /// `aliasForClassification`.
    pub alias: String,
    /// The input's id.
    pub input_id: String,
    /// The answer, if given.
    pub value: Option<AnswerValue>,
}

/// An expression that failed at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvaluationIssue {
    /// What was being evaluated (`classification rule`, `visibility of Local.x`, `gate Prod`).
    pub subject: String,
    /// What went wrong, and what Charter did about it.
    pub message: String,
}

impl Policy {
    /// Evaluate the policy against `answers` (by input id).
    ///
    /// 1. Classification: the CEL rule over `inputs` (answers of inputs with an
    ///    `aliasForClassification`; unanswered ones are absent). A string is used as is, a number is
    ///    rendered as text; anything else, or an error, gives no classification and an issue.
    /// 2. Evidence sets: shown when all their visibility conditions hold; conditions also see
    ///    `classification` (empty when there is none). A condition that fails counts as false.
    /// 3. Inputs: shown when their set is shown and, with `conditionalDisplay`, when a *shown* input it
    ///    depends on has a matching answer (equal, or contained in a list answer).
    /// 4. Missing: shown, enabled, required inputs without an answer. Hidden inputs are not required.
    /// 5. Gates: active when `when` holds or is absent; a failing `when` keeps the gate active (a
    ///    gate fails closed).
    pub fn evaluate(&self, answers: &Answers) -> Evaluation {
        expr::with_cel_stack(|| self.evaluate_on_stack(answers))
    }

    /// Evaluate, then again without the answers of questions that turned out hidden,
    /// until nothing more hides: an answer to a question that a later change hid (say,
    /// "which special categories?" after "personal data?" went from Yes to No) must not
    /// keep steering classification or visibility. Converges in at most one round per
    /// question; capped for safety.
    fn evaluate_on_stack(&self, answers: &Answers) -> Evaluation {
        let mut considered = answers.clone();
        for _ in 0..=self.inputs().count().min(64) {
            let eval = self.evaluate_once(&considered);
            let stale: Vec<String> = eval
                .hidden_inputs
                .iter()
                .filter(|id| considered.given(id).is_some())
                .cloned()
                .collect();
            if stale.is_empty() {
                return eval;
            }
            for id in stale {
                considered.remove(&id);
            }
        }
        self.evaluate_once(&considered)
    }

    fn evaluate_once(&self, answers: &Answers) -> Evaluation {
        let mut eval = Evaluation::default();
        let inputs: Vec<&Input> = self.inputs().collect();

        let mut cel_inputs: HashMap<String, cel::Value> = HashMap::new();
        for input in &inputs {
            if let (Some(alias), Some(value)) = (&input.alias, answers.given(&input.id)) {
                cel_inputs.insert(alias.clone(), value.to_cel());
            }
        }
        let cel_inputs: cel::Value = cel_inputs.into();

        // 1. Classification.
        if let Some(ClassificationRule::Cel(rule)) = self.classification.as_ref().map(|c| &c.rule) {
            let context = expr::context(cel_inputs.clone(), None);
            let subject = "classification rule";
            match rule.execute(&context) {
                Ok(cel::Value::String(s)) => eval.classification = Some(s.to_string()),
                Ok(cel::Value::Int(i)) => eval.classification = Some(i.to_string()),
                Ok(cel::Value::UInt(u)) => eval.classification = Some(u.to_string()),
                Ok(cel::Value::Float(f)) if f.is_finite() => eval.classification = Some(f.to_string()),
                Ok(other) => eval.issues.push(issue(
                    subject,
                    format!(
                        "the rule returned {}, not a string or a number; no classification",
                        cel_type(&other)
                    ),
                )),
                Err(e) => eval.issues.push(issue(subject, format!("{e}; no classification"))),
            }
            let mut seen = HashSet::new();
            for alias in rule.aliases().filter(|a| seen.insert(*a)) {
                if let Some(input) = inputs.iter().find(|i| i.alias.as_deref() == Some(alias)) {
                    eval.classification_inputs.push(ClassificationInput {
                        alias: alias.to_owned(),
                        input_id: input.id.clone(),
                        value: answers.given(&input.id).cloned(),
                    });
                }
            }
        }

        // 2. Evidence sets.
        let context = expr::context(cel_inputs, Some(eval.classification.as_deref().unwrap_or("")));
        let mut visible_sets = HashSet::new();
        for set in self.evidence_sets() {
            let mut visible = true;
            for condition in &set.visibility {
                let subject = format!("visibility of {}", set.id);
                match condition.execute(&context) {
                    Ok(cel::Value::Bool(true)) => {}
                    Ok(cel::Value::Bool(false)) => visible = false,
                    Ok(other) => {
                        eval.issues.push(issue(
                            &subject,
                            format!(
                                "`{condition}` returned {}, not true or false; the set is hidden",
                                cel_type(&other)
                            ),
                        ));
                        visible = false;
                    }
                    Err(e) => {
                        eval.issues.push(issue(
                            &subject,
                            format!("`{condition}` failed ({e}); the set is hidden"),
                        ));
                        visible = false;
                    }
                }
            }
            if visible {
                visible_sets.insert(set.id.as_str());
                eval.visible_sets.push(set.id.clone());
            } else {
                eval.hidden_sets.push(set.id.clone());
            }
        }

        // 3. Inputs: the least fixpoint of "shown if a shown input it depends on matches".
        let mut shown: HashSet<&str> = inputs
            .iter()
            .filter(|i| visible_sets.contains(i.set_id.as_str()) && i.conditional_display.is_none())
            .map(|i| i.id.as_str())
            .collect();
        loop {
            let mut changed = false;
            for input in &inputs {
                let Some(cd) = &input.conditional_display else { continue };
                if shown.contains(input.id.as_str()) || !visible_sets.contains(input.set_id.as_str()) {
                    continue;
                }
                let matches = inputs.iter().any(|other| {
                    other.id != input.id
                        && match &cd.target {
                            DependencyTarget::EvidenceSet(set) => other.set_id == *set,
                            DependencyTarget::Input(id) => other.id == *id || other.alias() == Some(id.as_str()),
                        }
                        && shown.contains(other.id.as_str())
                        && answers
                            .given(&other.id)
                            .is_some_and(|a| cd.values.iter().any(|v| a.matches(v)))
                });
                if matches {
                    shown.insert(input.id.as_str());
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for input in &inputs {
            if shown.contains(input.id.as_str()) {
                eval.visible_inputs.push(input.id.clone());
            } else {
                eval.hidden_inputs.push(input.id.clone());
            }
        }

        // 4. Missing answers.
        for set in self.evidence_sets() {
            let missing: Vec<String> = set
                .inputs()
                .filter(|i| {
                    i.required && !i.disabled && shown.contains(i.id.as_str()) && answers.given(&i.id).is_none()
                })
                .map(|i| i.id.clone())
                .collect();
            match &set.sign_off_for {
                None => eval.missing_required.extend(missing),
                Some(approval) if !missing.is_empty() => {
                    eval.missing_sign_off
                        .entry(approval.clone())
                        .or_default()
                        .extend(missing);
                }
                Some(_) => {}
            }
        }

        // 5. Gates.
        for gate in &self.gates {
            let active = match &gate.when {
                None => true,
                Some(when) => match when.execute(&context) {
                    Ok(cel::Value::Bool(b)) => b,
                    Ok(other) => {
                        eval.issues.push(issue(
                            &format!("gate {}", gate.name),
                            format!(
                                "`{when}` returned {}, not true or false; the gate applies",
                                cel_type(&other)
                            ),
                        ));
                        true
                    }
                    Err(e) => {
                        eval.issues.push(issue(
                            &format!("gate {}", gate.name),
                            format!("`{when}` failed ({e}); the gate applies"),
                        ));
                        true
                    }
                },
            };
            if active {
                eval.active_gates.push(gate.name.clone());
            }
        }
        eval
    }
}

fn issue(subject: &str, message: String) -> EvaluationIssue {
    EvaluationIssue {
        subject: subject.to_owned(),
        message,
    }
}

fn cel_type(value: &cel::Value) -> &'static str {
    match value {
        cel::Value::List(_) => "a list",
        cel::Value::Map(_) => "a map",
        cel::Value::Bool(_) => "a boolean",
        cel::Value::Null => "null",
        cel::Value::Bytes(_) => "bytes",
        cel::Value::String(_) => "a string",
        cel::Value::Int(_) | cel::Value::UInt(_) | cel::Value::Float(_) => "a number",
        _ => "a value of another type",
    }
}
