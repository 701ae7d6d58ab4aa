//! The typed policy model, built only by [`lint`](super::lint) from lint-clean YAML.
//!
//! Fields are private: a [`Policy`] cannot be assembled by hand, so every `Policy` in the program
//! has unique ids, resolvable references and compiled expressions.

use std::fmt;

use super::diagnostic::Pos;
use super::expr::CelExpr;
use super::suite::PolicyTest;

/// A governance policy: stages of evidence and approvals, a classification rule, gates.
#[derive(Clone, Debug)]
pub struct Policy {
    pub(crate) enforce_sequential_order: bool,
    pub(crate) approvers: Vec<Approver>,
    pub(crate) classification: Option<Classification>,
    pub(crate) stages: Vec<Stage>,
    pub(crate) gates: Vec<Gate>,
    pub(crate) metrics: Vec<MetricCheck>,
    pub(crate) tests: Vec<PolicyTest>,
}

impl Policy {
    /// Whether a stage opens only when the previous one is approved (`enforceSequentialOrder`).
    pub fn enforce_sequential_order(&self) -> bool {
        self.enforce_sequential_order
    }

    /// Top-level `approvers`: the default for approvals that name none.
    pub fn default_approvers(&self) -> &[Approver] {
        &self.approvers
    }

    /// The classification rule, if the policy has one.
    pub fn classification(&self) -> Option<&Classification> {
        self.classification.as_ref()
    }

    /// Stages, in order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The stage with this name.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// Gates, in order.
    pub fn gates(&self) -> &[Gate] {
        &self.gates
    }

    /// Top-level metrics checks.
    pub fn metrics(&self) -> &[MetricCheck] {
        &self.metrics
    }

    /// Policy tests (Charter extension `tests:`).
    pub fn tests(&self) -> &[PolicyTest] {
        &self.tests
    }

    /// Every evidence set: per stage, its evidence sets, then its approvals' sign-off forms.
    pub fn evidence_sets(&self) -> impl Iterator<Item = &EvidenceSet> {
        self.stages.iter().flat_map(Stage::all_evidence_sets)
    }

    /// The evidence set (or sign-off form) with this id.
    pub fn evidence_set(&self, id: &str) -> Option<&EvidenceSet> {
        self.evidence_sets().find(|s| s.id == id)
    }

    /// Every input (question that takes an answer), sign-off questions included.
    pub fn inputs(&self) -> impl Iterator<Item = &Input> {
        self.evidence_sets().flat_map(EvidenceSet::inputs)
    }

    /// The input with this id.
    pub fn input(&self, id: &str) -> Option<&Input> {
        self.inputs().find(|i| i.id == id)
    }

    /// The input tagged with this `aliasForClassification`.
    pub fn input_by_alias(&self, alias: &str) -> Option<&Input> {
        self.inputs().find(|i| i.alias.as_deref() == Some(alias))
    }

    /// Every approval, in stage order.
    pub fn approvals(&self) -> impl Iterator<Item = &Approval> {
        self.stages.iter().flat_map(|s| s.approvals.iter())
    }

    /// The approval with this name.
    pub fn approval(&self, name: &str) -> Option<&Approval> {
        self.approvals().find(|a| a.name == name)
    }

    /// The approvers of an approval: its own, or the policy's default approvers when it names none.
    pub fn approvers_for<'a>(&'a self, approval: &'a Approval) -> &'a [Approver] {
        if approval.approvers.is_empty() {
            &self.approvers
        } else {
            &approval.approvers
        }
    }
}

/// How a bundle's classification (risk tier) is computed.
#[derive(Clone, Debug)]
pub struct Classification {
    pub(crate) rule: ClassificationRule,
    pub(crate) artifacts: Vec<String>,
    pub(crate) artifact_pos: Vec<Pos>,
}

impl Classification {
    /// The rule.
    pub fn rule(&self) -> &ClassificationRule {
        &self.rule
    }

    /// `classification.artifacts`: the aliases the rule is documented to read.
    pub fn artifacts(&self) -> &[String] {
        &self.artifacts
    }
}

/// A classification rule.
#[derive(Clone, Debug)]
pub enum ClassificationRule {
    /// A CEL expression over `inputs` returning a string or a number.
    Cel(CelExpr),
    /// A Domino built-in rule name (e.g. `EU-AI-ACT`). Charter has none, so it classifies nothing.
    Named(String),
}

impl ClassificationRule {
    /// The rule as written.
    pub fn source(&self) -> &str {
        match self {
            Self::Cel(expr) => expr.source(),
            Self::Named(name) => name,
        }
    }
}

/// A stage: evidence to collect and approvals to obtain.
#[derive(Clone, Debug)]
pub struct Stage {
    pub(crate) name: String,
    pub(crate) policy_entity_id: Option<String>,
    pub(crate) evidence_sets: Vec<EvidenceSet>,
    pub(crate) approvals: Vec<Approval>,
    pub(crate) pos: Pos,
}

impl Stage {
    /// Stage name (unique in the policy).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Domino's `policyEntityId`, if given.
    pub fn policy_entity_id(&self) -> Option<&str> {
        self.policy_entity_id.as_deref()
    }

    /// The stage's evidence sets (not the sign-off forms).
    pub fn evidence_sets(&self) -> &[EvidenceSet] {
        &self.evidence_sets
    }

    /// The stage's approvals.
    pub fn approvals(&self) -> &[Approval] {
        &self.approvals
    }

    /// Evidence sets, then sign-off forms.
    pub fn all_evidence_sets(&self) -> impl Iterator<Item = &EvidenceSet> {
        self.evidence_sets
            .iter()
            .chain(self.approvals.iter().filter_map(|a| a.evidence.as_ref()))
    }
}

/// A section of questions and other artifacts. Also used for an approval's sign-off form.
#[derive(Clone, Debug)]
pub struct EvidenceSet {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) artifacts: Vec<Artifact>,
    pub(crate) visibility: Vec<CelExpr>,
    pub(crate) stage: String,
    pub(crate) sign_off_for: Option<String>,
    pub(crate) pos: Pos,
}

impl EvidenceSet {
    /// Evidence-set id (`Local.<name>` in Domino policies), unique in the policy.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The artifacts, in order.
    pub fn artifacts(&self) -> &[Artifact] {
        &self.artifacts
    }

    /// The artifacts that take answers.
    pub fn inputs(&self) -> impl Iterator<Item = &Input> {
        self.artifacts.iter().filter_map(Artifact::as_input)
    }

    /// Visibility conditions (`visibility.conditions[].when` and `visibilityRule`); the set is shown
    /// when all of them hold. Empty: always shown.
    pub fn visibility_conditions(&self) -> &[CelExpr] {
        &self.visibility
    }

    /// Name of the stage the set belongs to.
    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// For a sign-off form, the name of its approval.
    pub fn sign_off_for(&self) -> Option<&str> {
        self.sign_off_for.as_deref()
    }
}

/// Domino's `artifactType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArtifactType {
    /// `input`: a question.
    Input,
    /// `metadata`: a file upload or a model-metrics check.
    Metadata,
    /// `guidance`: text shown to the person answering.
    Guidance,
    /// `policyScriptedCheck`: a script run as a job.
    PolicyScriptedCheck,
    /// `policyMonitoringCheck`: production-monitoring alerts.
    PolicyMonitoringCheck,
}

impl ArtifactType {
    /// Every artifact type.
    pub const ALL: [Self; 5] = [
        Self::Input,
        Self::Metadata,
        Self::Guidance,
        Self::PolicyScriptedCheck,
        Self::PolicyMonitoringCheck,
    ];

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::Metadata => "metadata",
            Self::Guidance => "guidance",
            Self::PolicyScriptedCheck => "policyScriptedCheck",
            Self::PolicyMonitoringCheck => "policyMonitoringCheck",
        }
    }

    /// Parse the exact YAML spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for ArtifactType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One element of an evidence set.
#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "most artifacts are inputs; boxing them would not save memory"
)]
pub enum Artifact {
    /// A question that takes an answer (includes file uploads).
    Input(Input),
    /// Text shown to the person answering.
    Guidance(Guidance),
    /// Model metrics compared with thresholds.
    ModelMetrics(ModelMetrics),
    /// A script run as a job; its output files become evidence.
    ScriptedCheck(ScriptedCheck),
    /// Production-monitoring alerts that raise findings.
    MonitoringCheck(MonitoringCheck),
}

impl Artifact {
    /// The artifact's id: an input's input id; otherwise `id`, else `policyEntityId`, if given.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Input(i) => Some(&i.id),
            Self::Guidance(g) => g.id.as_deref(),
            Self::ModelMetrics(m) => m.id.as_deref(),
            Self::ScriptedCheck(s) => s.id.as_deref(),
            Self::MonitoringCheck(m) => m.id.as_deref(),
        }
    }

    /// The `artifactType` it was declared with.
    pub fn artifact_type(&self) -> ArtifactType {
        match self {
            Self::Input(i) => i.artifact_type,
            Self::Guidance(_) => ArtifactType::Guidance,
            Self::ModelMetrics(_) => ArtifactType::Metadata,
            Self::ScriptedCheck(_) => ArtifactType::PolicyScriptedCheck,
            Self::MonitoringCheck(_) => ArtifactType::PolicyMonitoringCheck,
        }
    }

    /// The input, if this artifact takes answers.
    pub fn as_input(&self) -> Option<&Input> {
        match self {
            Self::Input(i) => Some(i),
            _ => None,
        }
    }
}

/// The kind of answer an input takes (`details.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputType {
    /// `textinput`: one line of text.
    TextInput,
    /// `textarea`: several lines of text.
    TextArea,
    /// `radio`: one option.
    Radio,
    /// `select`: one option from a drop-down.
    Select,
    /// `multiselect`: several options from a drop-down.
    MultiSelect,
    /// `checkbox`: several options as check boxes.
    Checkbox,
    /// `date`: a calendar date, `YYYY-MM-DD`.
    Date,
    /// `numeric`: a number, optionally within `min`/`max`.
    Numeric,
    /// `file` (artifactType `metadata`): an uploaded attachment.
    File,
}

impl InputType {
    /// Every input type.
    pub const ALL: [Self; 9] = [
        Self::TextInput,
        Self::TextArea,
        Self::Radio,
        Self::Select,
        Self::MultiSelect,
        Self::Checkbox,
        Self::Date,
        Self::Numeric,
        Self::File,
    ];

    /// The YAML spelling (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TextInput => "textinput",
            Self::TextArea => "textarea",
            Self::Radio => "radio",
            Self::Select => "select",
            Self::MultiSelect => "multiselect",
            Self::Checkbox => "checkbox",
            Self::Date => "date",
            Self::Numeric => "numeric",
            Self::File => "file",
        }
    }

    /// Parse the exact YAML spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether answers are chosen from `options`.
    pub fn has_options(self) -> bool {
        matches!(self, Self::Radio | Self::Select | Self::MultiSelect | Self::Checkbox)
    }

    /// Whether the answer is a list of options.
    pub fn is_multiple(self) -> bool {
        matches!(self, Self::MultiSelect | Self::Checkbox)
    }

    /// The `artifactType` Domino files this type under.
    pub fn artifact_type(self) -> ArtifactType {
        match self {
            Self::File => ArtifactType::Metadata,
            _ => ArtifactType::Input,
        }
    }
}

impl fmt::Display for InputType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A question that takes an answer.
#[derive(Clone, Debug)]
pub struct Input {
    pub(crate) id: String,
    pub(crate) policy_entity_id: Option<String>,
    pub(crate) alias: Option<String>,
    pub(crate) alias_pos: Option<Pos>,
    pub(crate) artifact_type: ArtifactType,
    pub(crate) input_type: InputType,
    pub(crate) label: String,
    pub(crate) description: Option<String>,
    pub(crate) placeholder: Option<String>,
    pub(crate) help_text: Option<String>,
    pub(crate) tooltip: Option<String>,
    pub(crate) height: Option<u32>,
    pub(crate) options: Vec<ChoiceOption>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) start_date: Option<String>,
    pub(crate) date_format: Option<String>,
    pub(crate) required: bool,
    pub(crate) disabled: bool,
    pub(crate) conditional_display: Option<ConditionalDisplay>,
    pub(crate) set_id: String,
    pub(crate) pos: Pos,
}

impl Input {
    /// The stable input id: `id` > `policyEntityId` > `aliasForClassification` >
    /// `<evidence-set id>.<slug of label>` (see the [module docs](super)).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Domino's `policyEntityId`, if given.
    pub fn policy_entity_id(&self) -> Option<&str> {
        self.policy_entity_id.as_deref()
    }

    /// `aliasForClassification`: the key of this input's answer in CEL's `inputs` map.
    pub fn alias(&self) -> Option<&str> {
        self.alias.as_deref()
    }

    /// The `artifactType` it was declared with (`input`, or `metadata` for files).
    pub fn artifact_type(&self) -> ArtifactType {
        self.artifact_type
    }

    /// The kind of answer.
    pub fn input_type(&self) -> InputType {
        self.input_type
    }

    /// The question.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `details.description` (file uploads).
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// `details.placeholder`.
    pub fn placeholder(&self) -> Option<&str> {
        self.placeholder.as_deref()
    }

    /// `details.helpText`.
    pub fn help_text(&self) -> Option<&str> {
        self.help_text.as_deref()
    }

    /// `details.tooltip`.
    pub fn tooltip(&self) -> Option<&str> {
        self.tooltip.as_deref()
    }

    /// `details.height` (rows of a text area).
    pub fn height(&self) -> Option<u32> {
        self.height
    }

    /// The options of a radio, select, multiselect or checkbox input.
    pub fn options(&self) -> &[ChoiceOption] {
        &self.options
    }

    /// Lowest accepted number (numeric inputs).
    pub fn min(&self) -> Option<f64> {
        self.min
    }

    /// Highest accepted number (numeric inputs).
    pub fn max(&self) -> Option<f64> {
        self.max
    }

    /// `details.startDate` as written (a `yyyymmdd` hint for the date picker).
    pub fn start_date(&self) -> Option<&str> {
        self.start_date.as_deref()
    }

    /// `details.format` (date inputs; answers are ISO 8601 `YYYY-MM-DD` regardless).
    pub fn date_format(&self) -> Option<&str> {
        self.date_format.as_deref()
    }

    /// Whether an answer is required (when the input is shown and enabled).
    pub fn required(&self) -> bool {
        self.required
    }

    /// Whether the input is disabled (shown, but takes no answer).
    pub fn disabled(&self) -> bool {
        self.disabled
    }

    /// `details.conditionalDisplay`, if the input is shown only for some answers.
    pub fn conditional_display(&self) -> Option<&ConditionalDisplay> {
        self.conditional_display.as_ref()
    }

    /// The id of the evidence set (or sign-off form) holding the input.
    pub fn evidence_set(&self) -> &str {
        &self.set_id
    }
}

/// One option of a choice input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChoiceOption {
    /// What people see.
    pub label: String,
    /// What is stored as the answer.
    pub value: String,
}

/// `details.conditionalDisplay`: show an input only when another answer matches.
#[derive(Clone, Debug)]
pub struct ConditionalDisplay {
    pub(crate) depends_on: String,
    pub(crate) target: DependencyTarget,
    pub(crate) values: Vec<String>,
    pub(crate) pos: Pos,
    pub(crate) value_pos: Pos,
}

impl ConditionalDisplay {
    /// `dependsOn` as written.
    pub fn depends_on(&self) -> &str {
        &self.depends_on
    }

    /// What `dependsOn` resolved to.
    pub fn target(&self) -> &DependencyTarget {
        &self.target
    }

    /// `showIfValue` and `showIfValues` together: the input is shown when an answer equals (or, for
    /// list answers, contains) one of them.
    pub fn values(&self) -> &[String] {
        &self.values
    }
}

/// What a `dependsOn` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DependencyTarget {
    /// An evidence set (Domino's form): any other input of the set may match.
    EvidenceSet(String),
    /// One input, by id or alias (Charter extension): only that input's answer counts.
    Input(String),
}

/// `guidance`: text shown to the person answering.
#[derive(Clone, Debug)]
pub struct Guidance {
    pub(crate) id: Option<String>,
    pub(crate) policy_entity_id: Option<String>,
    pub(crate) style: GuidanceStyle,
    pub(crate) text: String,
}

impl Guidance {
    /// Domino's `policyEntityId`, if given.
    pub fn policy_entity_id(&self) -> Option<&str> {
        self.policy_entity_id.as_deref()
    }

    /// Text block or banner.
    pub fn style(&self) -> GuidanceStyle {
        self.style
    }

    /// The text (Markdown).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// How guidance is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuidanceStyle {
    /// `textblock` (the default): Markdown in the flow of questions.
    TextBlock,
    /// `banner`: a high-visibility notice.
    Banner,
}

/// `metadata` / `modelmetric`: model metrics compared with thresholds.
#[derive(Clone, Debug)]
pub struct ModelMetrics {
    pub(crate) id: Option<String>,
    pub(crate) policy_entity_id: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) metrics: Vec<MetricCheck>,
}

impl ModelMetrics {
    /// Domino's `policyEntityId`, if given.
    pub fn policy_entity_id(&self) -> Option<&str> {
        self.policy_entity_id.as_deref()
    }

    /// Label, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The metrics.
    pub fn metrics(&self) -> &[MetricCheck] {
        &self.metrics
    }
}

/// A metric to read from the model's metadata, with an optional threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricCheck {
    pub(crate) name: String,
    pub(crate) label: Option<String>,
    pub(crate) aliases: Vec<String>,
    pub(crate) threshold: Option<Threshold>,
}

impl MetricCheck {
    /// Metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Label, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Other names the metric may be logged under.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    /// Threshold; without one the value is only displayed.
    pub fn threshold(&self) -> Option<&Threshold> {
        self.threshold.as_ref()
    }
}

/// A metric threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    /// Comparison.
    pub operator: ThresholdOperator,
    /// Right-hand side.
    pub value: f64,
}

impl Threshold {
    /// Whether a metric value passes.
    pub fn passes(&self, metric: f64) -> bool {
        match self.operator {
            ThresholdOperator::Lt => metric < self.value,
            ThresholdOperator::Le => metric <= self.value,
            ThresholdOperator::Gt => metric > self.value,
            ThresholdOperator::Ge => metric >= self.value,
            ThresholdOperator::Eq => metric == self.value,
            ThresholdOperator::Ne => metric != self.value,
        }
    }
}

/// A threshold comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdOperator {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl ThresholdOperator {
    /// Every operator.
    pub const ALL: [Self; 6] = [Self::Lt, Self::Le, Self::Gt, Self::Ge, Self::Eq, Self::Ne];

    /// The YAML spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Eq => "==",
            Self::Ne => "!=",
        }
    }

    /// Parse the YAML spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// `policyScriptedCheck`: a script run as a job.
#[derive(Clone, Debug)]
pub struct ScriptedCheck {
    pub(crate) id: Option<String>,
    pub(crate) policy_entity_id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) command: String,
    pub(crate) parameters: Vec<ScriptParameter>,
    pub(crate) output_types: Vec<String>,
    pub(crate) environment_id: Option<String>,
    pub(crate) hardware_tier_id: Option<String>,
    pub(crate) volume_size_gib: Option<f64>,
}

impl ScriptedCheck {
    /// Domino's `policyEntityId`, if given.
    pub fn policy_entity_id(&self) -> Option<&str> {
        self.policy_entity_id.as_deref()
    }

    /// Name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Label, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The command; may use `${parameter}`.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Parameters.
    pub fn parameters(&self) -> &[ScriptParameter] {
        &self.parameters
    }

    /// Expected output file types (`json`, `html`, …).
    pub fn output_types(&self) -> &[String] {
        &self.output_types
    }

    /// Domino environment id.
    pub fn environment_id(&self) -> Option<&str> {
        self.environment_id.as_deref()
    }

    /// Domino hardware tier.
    pub fn hardware_tier_id(&self) -> Option<&str> {
        self.hardware_tier_id.as_deref()
    }

    /// Volume size in GiB.
    pub fn volume_size_gib(&self) -> Option<f64> {
        self.volume_size_gib
    }
}

/// A scripted-check parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptParameter {
    /// Name, used as `${name}` in the command.
    pub name: String,
    /// Declared type, if any.
    pub kind: Option<String>,
    /// Default value, if any.
    pub default: Option<String>,
}

/// `policyMonitoringCheck`: production-monitoring alerts.
#[derive(Clone, Debug)]
pub struct MonitoringCheck {
    pub(crate) id: Option<String>,
    pub(crate) policy_entity_id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) alert_types: Vec<String>,
    pub(crate) actions: Vec<MonitoringAction>,
}

impl MonitoringCheck {
    /// Domino's `policyEntityId`, if given.
    pub fn policy_entity_id(&self) -> Option<&str> {
        self.policy_entity_id.as_deref()
    }

    /// Name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Label, if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Alert types (`drift`, `data_quality`, …).
    pub fn alert_types(&self) -> &[String] {
        &self.alert_types
    }

    /// What happens on an alert.
    pub fn actions(&self) -> &[MonitoringAction] {
        &self.actions
    }
}

/// What a monitoring alert triggers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitoringAction {
    /// `notification`, `createFinding`, …
    pub kind: String,
    /// Who is notified.
    pub recipients: Vec<String>,
    /// Severity of the finding created.
    pub severity: Option<String>,
    /// Owner of the finding created.
    pub owner: Option<String>,
}

/// An approval a stage needs.
#[derive(Clone, Debug)]
pub struct Approval {
    pub(crate) name: String,
    pub(crate) policy_entity_id: Option<String>,
    pub(crate) approvers: Vec<Approver>,
    pub(crate) allow_additional_approvers: bool,
    pub(crate) evidence: Option<EvidenceSet>,
    pub(crate) stage: String,
    pub(crate) pos: Pos,
    pub(crate) approvers_pos: Pos,
}

impl Approval {
    /// Approval name (unique in the policy; gates refer to it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Domino's `policyEntityId`, if given.
    pub fn policy_entity_id(&self) -> Option<&str> {
        self.policy_entity_id.as_deref()
    }

    /// The approvers named here (see [`Policy::approvers_for`] for the defaults).
    pub fn approvers(&self) -> &[Approver] {
        &self.approvers
    }

    /// Whether a bundle may add approvers.
    pub fn allow_additional_approvers(&self) -> bool {
        self.allow_additional_approvers
    }

    /// The sign-off form the approver fills, if any.
    pub fn evidence(&self) -> Option<&EvidenceSet> {
        self.evidence.as_ref()
    }

    /// Name of the stage the approval belongs to.
    pub fn stage(&self) -> &str {
        &self.stage
    }
}

/// A user or group that approves. The policy names it; the domain does not know which it is
/// (see [`lint_with_approvers`](super::lint_with_approvers) to check names against a directory).
#[derive(Clone, Debug)]
pub struct Approver {
    pub(crate) name: String,
    pub(crate) show_by_default: bool,
    pub(crate) editable: bool,
    pub(crate) pos: Pos,
}

impl Approver {
    /// User or group name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `showByDefault` (default `true`).
    pub fn show_by_default(&self) -> bool {
        self.show_by_default
    }

    /// `editable`: whether a bundle may remove or replace this approver (default `false`).
    pub fn editable(&self) -> bool {
        self.editable
    }
}

/// A gate: governed actions blocked until named approvals are granted.
#[derive(Clone, Debug)]
pub struct Gate {
    pub(crate) name: String,
    pub(crate) rules: Vec<GateRule>,
    pub(crate) approvals: Vec<String>,
    pub(crate) when: Option<CelExpr>,
    pub(crate) pos: Pos,
    pub(crate) approval_pos: Vec<Pos>,
}

impl Gate {
    /// Gate name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The actions it governs.
    pub fn rules(&self) -> &[GateRule] {
        &self.rules
    }

    /// Names of the approvals that open it.
    pub fn approvals(&self) -> &[String] {
        &self.approvals
    }

    /// Charter extension: the gate applies only when this CEL condition holds.
    pub fn when(&self) -> Option<&CelExpr> {
        self.when.as_ref()
    }
}

/// One governed action of a gate.
#[derive(Clone, Debug, PartialEq)]
pub struct GateRule {
    /// The action (`CreateApp`, `CreateEndpoint`, `start_app`, …).
    pub action: String,
    /// Action parameters as written (e.g. `hardwareTierId`).
    pub parameters: serde_json::Map<String, serde_json::Value>,
}
