//! Governance policies: parsing, linting, evaluation, answer validation, tests and diffs. No IO.
//!
//! A policy is YAML in Domino Data Lab's governance format, so a Domino customer can import the
//! policies they have, plus a few Charter extensions. [`lint`] reads it and reports every problem
//! at once, each with a stable `code`, a sentence that says what is wrong and how to fix it, and
//! the line and column; when there is no error it also returns the typed [`Policy`] ("parse, don't
//! validate": a `Policy` only exists for lint-clean input).
//!
//! # The format
//!
//! ```yaml
//! enforceSequentialOrder: true        # a stage opens when the previous one is approved
//! approvers: [model-risk-office]      # default approvers for approvals that name none
//! classification:
//!   rule: 'inputs["pii"] == "Yes" ? "High" : "Low"'   # CEL (Domino: Go, or a built-in rule name)
//!   artifacts: [pii]                  # the aliases the rule reads
//! stages:
//!   - name: Intake
//!     policyEntityId: 0b6c…           # Domino's ids are kept, and used as input ids
//!     evidenceSet:
//!       - id: Local.intake
//!         name: Use case
//!         description: What the model does
//!         visibility: {conditions: [{when: 'classification == "High"'}]}   # or visibilityRule: …
//!         definition:                 # artifacts: input | metadata | guidance |
//!           - artifactType: input     #   policyScriptedCheck | policyMonitoringCheck
//!             aliasForClassification: pii
//!             required: true
//!             details: {type: radio, label: Personal data?, options: ["Yes", "No"]}
//!     approvals:
//!       - name: Intake sign off
//!         approvers: [ai-risk-office, {name: legal, showByDefault: true, editable: false}]
//!         allowAdditionalApprovers: true
//!         evidence: {id: Local.intake-signoff, name: Sign-off, definition: […]}
//! gates:
//!   - {name: Prod, rules: [{action: CreateEndpoint, parameters: {hardwareTierId: any}}], approvals: [Intake sign off]}
//! metrics: [{name: accuracy, threshold: {operator: ">=", value: 0.8}}]
//! ```
//!
//! Input types: `textinput`, `textarea`, `radio`, `select`, `multiselect`, `checkbox`, `date`,
//! `numeric` (artifactType `input`), `file` and `modelmetric` (artifactType `metadata`); guidance
//! types `textblock` (default) and `banner`. Options are plain strings or `{label, value}`.
//! `details.conditionalDisplay: {dependsOn: <evidence-set id>, showIfValue: X}` (or
//! `showIfValues: [..]`) shows an input only when another input of that set is shown and its answer
//! equals (or, for lists, contains) one of the values. An evidence set is shown when all its
//! visibility conditions hold. Keys Charter does not know are warnings, not errors: Domino adds
//! fields over time.
//!
//! # Input ids
//!
//! Answers are stored by a stable **input id**, taken from the first of:
//! 1. the artifact's `id` (Charter extension),
//! 2. its `policyEntityId` (Domino exports carry one on every artifact),
//! 3. its `aliasForClassification`,
//! 4. `<evidence-set id>.<slug of the label>`: the label in lower-case ASCII letters and digits,
//!    other runs of characters turned into one `-`, cut to at most 64 characters
//!    (`Local.intake.does-it-see-personal-data`).
//!
//! Input ids are unique across the policy, sign-off forms included; so are aliases, evidence-set
//! ids, stage names and approval names.
//!
//! # Charter extensions
//!
//! - `id` on an artifact: an explicit input id (letters, digits, `.`, `_`, `-`, `:`).
//! - CEL instead of Go: `classification.rule`, `visibility.conditions[].when` and `visibilityRule`
//!   are [CEL](https://cel.dev) expressions. They read answers of inputs tagged
//!   `aliasForClassification` through the map `inputs` (`inputs["personal-data"] == "Yes"`, or
//!   `inputs.pii` for aliases without `-`); an unanswered input is absent, so `has(inputs.x)` and
//!   `"x" in inputs` test for an answer. Visibility and gate conditions also see `classification`
//!   (empty when there is none), and `classificationValue` as a synonym for Domino's older
//!   `visibilityRule`s. The rule must return a string or a number (rendered as text). A Domino rule
//!   in Go is a lint error whose message gives the CEL equivalent for simple if-chains; a Domino
//!   built-in rule name (e.g. `EU-AI-ACT`) is a warning, and classifies nothing until replaced.
//!   Expressions are limited to 10,000 characters, 32 levels of brackets and 100 levels of nesting
//!   (`cel_too_complex`), so evaluating them can never exhaust the stack.
//! - `when` on a gate: the gate applies only when the CEL condition holds; a `when` that fails at
//!   run time keeps the gate closed (it fails safe).
//! - `dependsOn` may also name one input (by id or alias) instead of an evidence set.
//! - `tests:` example answers with the expected classification and visible sections; see
//!   [`run_policy_tests`] and the [`suite`] module.
//!
//! # Evaluation
//!
//! [`Policy::evaluate`] computes the classification, the visible sets and inputs and the missing
//! required answers for a set of [`Answers`]; [`validate_answer`] checks one answer against its
//! question; [`diff`] compares two versions.

mod answer;
mod diagnostic;
mod diff;
mod eval;
pub(crate) mod expr;
mod go_rule;
mod lint;
mod model;
mod read;
pub mod suite;
pub(crate) mod text;
mod yaml;

pub use answer::{
    AnswerError, AnswerProblem, AnswerValue, Answers, MAX_ATTACHMENT_ID_CHARS, MAX_TEXT_CHARS, validate_answer,
    validate_artifact_answer,
};
pub use diagnostic::{Diagnostic, LintReport, Pos, Severity};
pub use diff::{Change, ChangeKind, FieldChange, PolicyDiff, Subject, diff};
pub use eval::{ClassificationInput, Evaluation, EvaluationIssue};
pub use expr::CelExpr;
pub use lint::{lint, lint_with_approvers};
pub use model::{
    Approval, Approver, Artifact, ArtifactType, ChoiceOption, Classification, ClassificationRule, ConditionalDisplay,
    DependencyTarget, EvidenceSet, Gate, GateRule, Guidance, GuidanceStyle, Input, InputType, MetricCheck,
    ModelMetrics, MonitoringAction, MonitoringCheck, Policy, ScriptParameter, ScriptedCheck, Stage, Threshold,
    ThresholdOperator,
};
pub use suite::{PolicyTest, PolicyTestResult, TestExpectation, run_policy_tests};

#[cfg(test)]
mod tests {
    /// The server keeps policies in shared state across tasks.
    #[test]
    fn policies_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Policy>();
        assert_send_sync::<super::LintReport>();
        assert_send_sync::<super::Evaluation>();
    }
}
