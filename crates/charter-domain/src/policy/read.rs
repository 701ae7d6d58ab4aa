//! Reading the YAML tree into the model, reporting every structural problem on the way.
//!
//! The reader never stops at the first problem: a broken field is reported and replaced by a
//! default so the rest of the document is still checked. The policy it builds is only handed out
//! by [`lint`](super::lint) when no error was found.

use super::diagnostic::{Diagnostic, Pos};
use super::expr::{self, CelExpr, ExprContext, Locator};
use super::go_rule;
use super::model::{
    Approval, Approver, Artifact, ArtifactType, ChoiceOption, Classification, ClassificationRule, ConditionalDisplay,
    DependencyTarget, EvidenceSet, Gate, GateRule, Guidance, GuidanceStyle, Input, InputType, MetricCheck,
    ModelMetrics, MonitoringAction, MonitoringCheck, Policy, ScriptParameter, ScriptedCheck, Stage, Threshold,
    ThresholdOperator,
};
use super::text::{capitalize, did_you_mean};
use super::yaml::{Kind, Node, key_text};

const ROOT_KEYS: &[&str] = &[
    "enforceSequentialOrder",
    "approvers",
    "classification",
    "stages",
    "gates",
    "metrics",
    "tests",
];
const CLASSIFICATION_KEYS: &[&str] = &["rule", "artifacts"];
const STAGE_KEYS: &[&str] = &["name", "policyEntityId", "evidenceSet", "approvals"];
const SET_KEYS: &[&str] = &[
    "id",
    "name",
    "description",
    "definition",
    "visibility",
    "visibilityRule",
];
const VISIBILITY_KEYS: &[&str] = &["conditions"];
const CONDITION_KEYS: &[&str] = &["when"];
const ARTIFACT_KEYS: &[&str] = &[
    "artifactType",
    "policyEntityId",
    "required",
    "disabled",
    "aliasForClassification",
    "details",
    "id",
];
const INPUT_DETAIL_KEYS: &[&str] = &[
    "type",
    "label",
    "description",
    "placeholder",
    "helpText",
    "tooltip",
    "height",
    "options",
    "min",
    "max",
    "startDate",
    "format",
    "conditionalDisplay",
];
const GUIDANCE_DETAIL_KEYS: &[&str] = &["type", "text", "label"];
const METRICS_DETAIL_KEYS: &[&str] = &["type", "label", "metrics"];
const SCRIPT_DETAIL_KEYS: &[&str] = &[
    "name",
    "label",
    "command",
    "parameters",
    "outputTypes",
    "environmentId",
    "hardwareTierId",
    "volumeSizeGiB",
];
const MONITOR_DETAIL_KEYS: &[&str] = &["name", "label", "alertTypes", "actions"];
const OPTION_KEYS: &[&str] = &["label", "value"];
const CONDITIONAL_KEYS: &[&str] = &["dependsOn", "showIfValue", "showIfValues"];
const METRIC_KEYS: &[&str] = &["name", "label", "aliases", "threshold"];
const THRESHOLD_KEYS: &[&str] = &["operator", "value"];
const PARAMETER_KEYS: &[&str] = &["name", "type", "default"];
const ACTION_KEYS: &[&str] = &["type", "recipients", "severity", "owner"];
const APPROVAL_KEYS: &[&str] = &[
    "name",
    "approvers",
    "allowAdditionalApprovers",
    "evidence",
    "policyEntityId",
];
const APPROVER_KEYS: &[&str] = &["name", "showByDefault", "editable"];
const GATE_KEYS: &[&str] = &["name", "rules", "approvals", "when"];
const GATE_RULE_KEYS: &[&str] = &["action", "parameters"];

/// Every `details.type` spelling, for suggestions.
const TYPE_NAMES: &[&str] = &[
    "textinput",
    "textarea",
    "radio",
    "select",
    "multiselect",
    "checkbox",
    "date",
    "numeric",
    "file",
    "modelmetric",
    "textblock",
    "banner",
];

/// The fields of a YAML mapping.
#[derive(Clone, Copy)]
pub(crate) struct Fields<'n> {
    pub pos: Pos,
    entries: &'n [(Node, Node)],
}

impl<'n> Fields<'n> {
    /// The value of `key`, unless absent or null.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.kind, Kind::Str(s) if s == key))
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }

    /// The position of the value of `key` (or of the mapping).
    pub fn pos_of(&self, key: &str) -> Pos {
        self.get(key).map_or(self.pos, |n| n.pos)
    }

    pub fn entries(&self) -> &'n [(Node, Node)] {
        self.entries
    }
}

/// Reads nodes into model values, collecting diagnostics.
pub(crate) struct Reader<'s> {
    pub src: &'s str,
    lines: Vec<&'s str>,
    pub diags: Vec<Diagnostic>,
}

impl<'s> Reader<'s> {
    pub fn new(src: &'s str) -> Self {
        Self {
            src,
            lines: src.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect(),
            diags: Vec::new(),
        }
    }

    pub fn error(&mut self, code: &'static str, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(code, pos, message));
    }

    pub fn warning(&mut self, code: &'static str, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic::warning(code, pos, message));
    }

    /// `node` as a mapping. Null gives `None` quietly (callers report what is missing); any other
    /// non-mapping is an error. Keys not in `known` are warnings.
    pub fn map<'n>(&mut self, node: &'n Node, what: &str, known: &[&str]) -> Option<Fields<'n>> {
        match &node.kind {
            Kind::Map(entries) => {
                for (key, _) in entries {
                    let name = key_text(key);
                    if !known.contains(&name.as_str()) {
                        self.warning(
                            "unknown_key",
                            key.pos,
                            format!(
                                "`{name}` is not a field of {what} and is ignored{}; remove it or fix its spelling \
                                 (known fields: {}).",
                                did_you_mean(&name, known.iter().copied()),
                                known.join(", ")
                            ),
                        );
                    }
                }
                Some(Fields { pos: node.pos, entries })
            }
            Kind::Null => None,
            _ => {
                self.error(
                    "invalid_type",
                    node.pos,
                    format!(
                        "{} must be a mapping of `key: value` fields, not {}; indent its fields under it.",
                        capitalize(what),
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// An optional scalar field as text.
    pub fn text(&mut self, f: &Fields<'_>, key: &str, what: &str) -> Option<(String, Pos)> {
        let node = f.get(key)?;
        match node.scalar_text(self.src) {
            Some(text) => Some((text, node.pos)),
            None => {
                self.error(
                    "invalid_type",
                    node.pos,
                    format!(
                        "`{key}` of {what} must be a single value, not {}; write it as text.",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// A required scalar field as text; missing or blank is an error (`empty_name` for names and
    /// labels, `missing_field` otherwise). `example` shows how to write it.
    pub fn required_text(&mut self, f: &Fields<'_>, key: &str, what: &str, example: &str) -> Option<(String, Pos)> {
        let Some((text, pos)) = self.text(f, key, what) else {
            if f.get(key).is_none() {
                self.error(
                    "missing_field",
                    f.pos,
                    format!("{} has no `{key}`; add it, e.g. `{key}: {example}`.", capitalize(what)),
                );
            }
            return None;
        };
        if text.trim().is_empty() {
            let code = if matches!(key, "name" | "label") {
                "empty_name"
            } else {
                "missing_field"
            };
            self.error(
                code,
                pos,
                format!("`{key}` of {what} is empty; write one, e.g. `{key}: {example}`."),
            );
            return None;
        }
        Some((text, pos))
    }

    /// An optional boolean field (YAML `true`/`false`; `yes`/`no` strings are accepted too).
    pub fn flag(&mut self, f: &Fields<'_>, key: &str, what: &str) -> Option<bool> {
        let node = f.get(key)?;
        match &node.kind {
            Kind::Bool(b) => Some(*b),
            Kind::Str(s) if matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "on") => Some(true),
            Kind::Str(s) if matches!(s.to_ascii_lowercase().as_str(), "false" | "no" | "off") => Some(false),
            _ => {
                self.error(
                    "invalid_type",
                    node.pos,
                    format!("`{key}` of {what} must be `true` or `false`, not {}.", node.describe()),
                );
                None
            }
        }
    }

    /// An optional number field (numbers written as strings are accepted).
    pub fn number(&mut self, f: &Fields<'_>, key: &str, what: &str) -> Option<(f64, Pos)> {
        let node = f.get(key)?;
        let value = match &node.kind {
            Kind::Int(i) => Some(*i as f64),
            Kind::Float(x) => Some(*x),
            Kind::Str(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match value.filter(|v| v.is_finite()) {
            Some(v) => Some((v, node.pos)),
            None => {
                self.error(
                    "invalid_type",
                    node.pos,
                    format!(
                        "`{key}` of {what} must be a number, not {}; write e.g. `{key}: 10`.",
                        node.describe()
                    ),
                );
                None
            }
        }
    }

    /// An optional list field's items (empty when absent or not a list; the latter is an error).
    /// Empty items (a bare `-`) are reported here and left in for callers to skip.
    pub fn seq<'n>(&mut self, f: &Fields<'n>, key: &str, what: &str) -> &'n [Node] {
        let Some(node) = f.get(key) else { return &[] };
        match &node.kind {
            Kind::Seq(items) => {
                for item in items.iter().filter(|i| i.is_null()) {
                    self.warning(
                        "empty_item",
                        item.pos,
                        format!("An item of `{key}` in {what} is empty and is ignored; fill it in or remove the `-`."),
                    );
                }
                items
            }
            _ => {
                self.error(
                    "invalid_type",
                    node.pos,
                    format!(
                        "`{key}` of {what} must be a list, not {}; write each item on its own line starting with `- `.",
                        node.describe()
                    ),
                );
                &[]
            }
        }
    }

    /// An optional list of scalars as text.
    pub fn text_list(&mut self, f: &Fields<'_>, key: &str, what: &str) -> Vec<(String, Pos)> {
        let mut out = Vec::new();
        for item in self.seq(f, key, what).iter().filter(|i| !i.is_null()) {
            match item.scalar_text(self.src) {
                Some(text) if !text.trim().is_empty() => out.push((text, item.pos)),
                _ => self.error(
                    "invalid_type",
                    item.pos,
                    format!(
                        "Items of `{key}` in {what} must be non-empty single values, not {}.",
                        item.describe()
                    ),
                ),
            }
        }
        out
    }

    /// Compile a CEL expression held by `node`.
    pub fn cel(&mut self, node: &Node, text: &str, ctx: ExprContext) -> Option<CelExpr> {
        let locator = Locator::new(&self.lines, node, text);
        match expr::compile(text, ctx, &locator) {
            Ok(expr) => Some(expr),
            Err(diags) => {
                self.diags.extend(diags);
                None
            }
        }
    }

    // ---- the policy -------------------------------------------------------------------------

    /// Read the whole policy. Returns the policy and the `tests` node (read later, once every input
    /// is known).
    pub fn policy<'n>(&mut self, root: &'n Node) -> (Policy, Option<&'n Node>) {
        let mut policy = Policy {
            enforce_sequential_order: false,
            approvers: Vec::new(),
            classification: None,
            stages: Vec::new(),
            gates: Vec::new(),
            metrics: Vec::new(),
            tests: Vec::new(),
        };
        if root.is_null() {
            self.error(
                "no_stages",
                root.pos,
                "The policy is empty; start with `stages:` and at least one stage with a `name` and an `evidenceSet`.",
            );
            return (policy, None);
        }
        let Some(f) = self.map(root, "the policy", ROOT_KEYS) else {
            return (policy, None);
        };
        policy.enforce_sequential_order = self.flag(&f, "enforceSequentialOrder", "the policy").unwrap_or(false);
        if let Some(node) = f.get("approvers") {
            policy.approvers = self.approvers(node, "the policy's default approvers");
        }
        if let Some(node) = f.get("classification") {
            policy.classification = self.classification(node);
        }
        let stages = self.seq(&f, "stages", "the policy");
        // (A `stages` that is not a list was reported as such just above.)
        if stages.is_empty() && f.get("stages").is_none_or(|n| matches!(n.kind, Kind::Seq(_))) {
            self.error(
                "no_stages",
                f.pos_of("stages"),
                "The policy has no stages; add `stages:` with at least one stage (a `name`, an `evidenceSet` and \
                 usually `approvals`).",
            );
        }
        for node in stages {
            if let Some(stage) = self.stage(node) {
                policy.stages.push(stage);
            }
        }
        for node in self.seq(&f, "gates", "the policy") {
            if let Some(gate) = self.gate(node) {
                policy.gates.push(gate);
            }
        }
        for node in self.seq(&f, "metrics", "the policy") {
            if let Some(metric) = self.metric(node) {
                policy.metrics.push(metric);
            }
        }
        (policy, f.get("tests"))
    }

    fn classification(&mut self, node: &Node) -> Option<Classification> {
        let what = "`classification`";
        let f = self.map(node, what, CLASSIFICATION_KEYS)?;
        let artifacts: Vec<(String, Pos)> = self.text_list(&f, "artifacts", what);
        let (rule_text, _) =
            self.required_text(&f, "rule", what, "'inputs[\"risk\"] == \"Yes\" ? \"High\" : \"Low\"'")?;
        let rule_node = f.get("rule")?;
        let trimmed = rule_text.trim();
        let rule = if go_rule::looks_like_go(trimmed) {
            let message = match go_rule::to_cel(trimmed) {
                Some(cel) => format!(
                    "This classification rule is Go code, which Charter does not run; Charter rules are CEL. Replace \
                     the rule with the equivalent CEL expression: {cel} (an unanswered input is absent from \
                     `inputs`, so to classify before every question is answered, guard a test as \
                     `\"x\" in inputs && inputs[\"x\"] == …`)"
                ),
                None => "This classification rule is Go code, which Charter does not run; rewrite it as one CEL \
                         expression over `inputs`: `classificationInputs[\"x\"].(string)` becomes `inputs[\"x\"]`, an \
                         if/else chain becomes `cond ? \"High\" : (cond2 ? \"Medium\" : \"Low\")`, and the expression's \
                         value (a string or a number) is the classification."
                    .to_owned(),
            };
            self.error("go_classification_rule", rule_node.pos, message);
            return None;
        } else if is_named_rule(trimmed) {
            self.warning(
                "named_classification_rule",
                rule_node.pos,
                format!(
                    "`{trimmed}` names a Domino built-in classification rule; Charter has no built-in rule by that name, \
                     so bundles get no classification until you replace it with a CEL expression over `inputs`, e.g. \
                     `inputs[\"risk-level\"] == \"High Risk\" ? \"High\" : \"Low\"`."
                ),
            );
            ClassificationRule::Named(trimmed.to_owned())
        } else {
            ClassificationRule::Cel(self.cel(rule_node, &rule_text, ExprContext::Classification)?)
        };
        Some(Classification {
            rule,
            artifact_pos: artifacts.iter().map(|(_, p)| *p).collect(),
            artifacts: artifacts.into_iter().map(|(a, _)| a).collect(),
        })
    }

    fn stage(&mut self, node: &Node) -> Option<Stage> {
        let f = self.map(node, "a stage", STAGE_KEYS)?;
        let (name, pos) = self
            .required_text(&f, "name", "the stage", "Intake")
            .unwrap_or_else(|| (String::new(), f.pos));
        let policy_entity_id = self.text(&f, "policyEntityId", "the stage").map(|(t, _)| t);
        let what = format!("stage `{name}`");
        let mut evidence_sets = Vec::new();
        for item in self.seq(&f, "evidenceSet", &what) {
            if let Some(set) = self.evidence_set(item, &name, None) {
                evidence_sets.push(set);
            }
        }
        let mut approvals = Vec::new();
        for item in self.seq(&f, "approvals", &what) {
            if let Some(approval) = self.approval(item, &name) {
                approvals.push(approval);
            }
        }
        Some(Stage {
            name,
            policy_entity_id,
            evidence_sets,
            approvals,
            pos,
        })
    }

    fn evidence_set(&mut self, node: &Node, stage: &str, sign_off_for: Option<&str>) -> Option<EvidenceSet> {
        let what = match sign_off_for {
            Some(approval) => format!("the sign-off evidence of approval `{approval}`"),
            None => "an evidence set".to_owned(),
        };
        let f = self.map(node, &what, SET_KEYS)?;
        let (id, pos) = self
            .required_text(&f, "id", &what, "Local.model-purpose")
            .unwrap_or_else(|| (String::new(), f.pos));
        if !id.is_empty() && !valid_id(&id) {
            self.error(
                "invalid_id",
                pos,
                format!("Evidence-set id `{id}` may only use letters, digits, `.`, `_`, `-` and `:`; e.g. `Local.model-purpose`."),
            );
        }
        let what = match sign_off_for {
            Some(approval) => format!("the sign-off evidence `{id}` of approval `{approval}`"),
            None => format!("evidence set `{id}`"),
        };
        let name = self
            .required_text(&f, "name", &what, "Model purpose")
            .map(|(t, _)| t)
            .unwrap_or_default();
        let description = self.text(&f, "description", &what).map(|(t, _)| t);
        let mut visibility = Vec::new();
        if let Some(vnode) = f.get("visibility")
            && let Some(vf) = self.map(vnode, &format!("`visibility` of {what}"), VISIBILITY_KEYS)
        {
            for cnode in self.seq(&vf, "conditions", &format!("`visibility` of {what}")) {
                let Some(cf) = self.map(cnode, "a visibility condition", CONDITION_KEYS) else {
                    continue;
                };
                if let Some((text, _)) =
                    self.required_text(&cf, "when", "the visibility condition", "classification == \"High\"")
                    && let Some(wnode) = cf.get("when")
                {
                    visibility.extend(self.cel(wnode, &text, ExprContext::Visibility));
                }
            }
        }
        if let Some((text, _)) = self.text(&f, "visibilityRule", &what)
            && let Some(rnode) = f.get("visibilityRule")
        {
            visibility.extend(self.cel(rnode, &text, ExprContext::Visibility));
        }
        let mut artifacts = Vec::new();
        for (index, item) in self.seq(&f, "definition", &what).iter().enumerate() {
            if let Some(artifact) = self.artifact(item, &id, index) {
                artifacts.push(artifact);
            }
        }
        Some(EvidenceSet {
            id,
            name,
            description,
            artifacts,
            visibility,
            stage: stage.to_owned(),
            sign_off_for: sign_off_for.map(str::to_owned),
            pos,
        })
    }

    fn artifact(&mut self, node: &Node, set_id: &str, index: usize) -> Option<Artifact> {
        let what = format!("artifact {} of `{set_id}`", index + 1);
        let f = self.map(node, &what, ARTIFACT_KEYS)?;
        let (type_name, type_pos) = self.required_text(&f, "artifactType", &what, "input")?;
        let Some(artifact_type) = ArtifactType::from_name(&type_name) else {
            self.error(
                "unknown_artifact_type",
                type_pos,
                format!(
                    "`{type_name}` is not an artifactType{}; use one of: {}.",
                    did_you_mean(&type_name, ArtifactType::ALL.iter().map(|t| t.as_str())),
                    ArtifactType::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
            return None;
        };
        let id = self.text(&f, "id", &what);
        if let Some((id, pos)) = &id
            && !valid_id(id)
        {
            self.error(
                "invalid_id",
                *pos,
                format!("Artifact id `{id}` may only use letters, digits, `.`, `_`, `-` and `:`; e.g. `purpose`."),
            );
        }
        let policy_entity_id = self.text(&f, "policyEntityId", &what);
        let alias = self.text(&f, "aliasForClassification", &what);
        let required = self.flag(&f, "required", &what).unwrap_or(false);
        let disabled = self.flag(&f, "disabled", &what).unwrap_or(false);
        let details = f.get("details");
        let common = Common {
            id,
            policy_entity_id,
            alias,
            required,
            disabled,
            set_id,
            what: &what,
            pos: f.pos,
        };

        match artifact_type {
            ArtifactType::Guidance => self.guidance(details, common),
            ArtifactType::PolicyScriptedCheck => self.scripted_check(details, common),
            ArtifactType::PolicyMonitoringCheck => self.monitoring_check(details, common),
            ArtifactType::Input | ArtifactType::Metadata => {
                let Some(details) = details else {
                    self.error(
                        "missing_field",
                        f.pos,
                        format!(
                            "{} has no `details`; add `details:` with a `type` and a `label`.",
                            capitalize(&what)
                        ),
                    );
                    return None;
                };
                // Read `type` before checking keys: which keys are valid depends on it.
                let type_node = match &details.kind {
                    Kind::Map(entries) => entries
                        .iter()
                        .find(|(k, _)| matches!(&k.kind, Kind::Str(s) if s == "type"))
                        .map(|(_, v)| v)
                        .filter(|v| !v.is_null()),
                    _ => None,
                };
                let Some(type_node) = type_node else {
                    self.map(details, &format!("`details` of {what}"), INPUT_DETAIL_KEYS);
                    if matches!(details.kind, Kind::Map(_)) {
                        self.error(
                            "missing_field",
                            details.pos,
                            format!(
                                "`details` of {what} has no `type`; add one of: {}.",
                                InputType::ALL
                                    .iter()
                                    .map(|t| t.as_str())
                                    .chain(["modelmetric"])
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                    }
                    return None;
                };
                let Some(input_type_name) = type_node.scalar_text(self.src) else {
                    self.error(
                        "invalid_type",
                        type_node.pos,
                        format!("`type` of {what} must be a type name such as `textarea`."),
                    );
                    return None;
                };
                if input_type_name == "modelmetric" {
                    if artifact_type != ArtifactType::Metadata {
                        self.mismatch(type_node.pos, "modelmetric", ArtifactType::Metadata, artifact_type);
                    }
                    return self.model_metrics(details, common);
                }
                if matches!(input_type_name.as_str(), "textblock" | "banner") {
                    self.error(
                        "artifact_type_mismatch",
                        type_node.pos,
                        format!("`{input_type_name}` is guidance, not a question; set `artifactType: guidance`."),
                    );
                    return None;
                }
                let Some(input_type) = InputType::from_name(&input_type_name) else {
                    self.error(
                        "unknown_input_type",
                        type_node.pos,
                        format!(
                            "`{input_type_name}` is not an input type{}; use one of: {} (type names are lower case).",
                            did_you_mean(&input_type_name, TYPE_NAMES.iter().copied()),
                            InputType::ALL
                                .iter()
                                .map(|t| t.as_str())
                                .chain(["modelmetric"])
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    return None;
                };
                if input_type.artifact_type() != artifact_type {
                    self.mismatch(
                        type_node.pos,
                        input_type.as_str(),
                        input_type.artifact_type(),
                        artifact_type,
                    );
                }
                self.input(details, input_type, artifact_type, common)
                    .map(Artifact::Input)
            }
        }
    }

    fn mismatch(&mut self, pos: Pos, type_name: &str, expected: ArtifactType, found: ArtifactType) {
        self.warning(
            "artifact_type_mismatch",
            pos,
            format!(
                "Type `{type_name}` belongs under `artifactType: {expected}`, not `{found}`; change the artifactType."
            ),
        );
    }

    fn input(
        &mut self,
        details: &Node,
        input_type: InputType,
        artifact_type: ArtifactType,
        common: Common<'_>,
    ) -> Option<Input> {
        let what = common.what;
        let dwhat = format!("`details` of {what}");
        let f = self.map(details, &dwhat, INPUT_DETAIL_KEYS)?;
        let label = self.required_text(&f, "label", &dwhat, "What is the model for?");
        let text = |r: &mut Self, key: &str| r.text(&f, key, &dwhat).map(|(t, _)| t);
        let description = text(self, "description");
        let placeholder = text(self, "placeholder");
        let help_text = text(self, "helpText");
        let tooltip = text(self, "tooltip");
        let height = self.number(&f, "height", &dwhat).and_then(|(h, pos)| {
            if h >= 1.0 && h.fract() == 0.0 && h <= f64::from(u32::MAX) {
                Some(h as u32)
            } else {
                self.error(
                    "invalid_type",
                    pos,
                    format!("`height` of {what} must be a whole number of rows, e.g. `height: 6`."),
                );
                None
            }
        });

        let mut options = Vec::new();
        if input_type.has_options() {
            if f.get("options").is_none() {
                self.error(
                    "missing_options",
                    f.pos_of("type"),
                    format!(
                        "A `{input_type}` input needs `options` to choose from; add e.g. `options: [\"Yes\", \"No\"]` \
                         to {dwhat}."
                    ),
                );
            } else {
                options = self.options(&f, &dwhat);
                if options.is_empty() && f.get("options").is_some_and(|n| matches!(n.kind, Kind::Seq(_))) {
                    self.error(
                        "missing_options",
                        f.pos_of("options"),
                        format!("The `options` of this `{input_type}` input are empty; list at least one option."),
                    );
                }
            }
        } else if f.get("options").is_some() {
            self.ignored(
                &f,
                "options",
                input_type,
                "radio, select, multiselect and checkbox inputs",
            );
        }

        let (mut min, mut max) = (None, None);
        if input_type == InputType::Numeric {
            min = self.number(&f, "min", &dwhat);
            max = self.number(&f, "max", &dwhat);
            if let (Some((lo, _)), Some((hi, hi_pos))) = (min, max)
                && lo > hi
            {
                self.error(
                    "min_greater_than_max",
                    hi_pos,
                    format!(
                        "`min` ({lo}) is greater than `max` ({hi}), so no answer is possible; swap them or fix one."
                    ),
                );
            }
        } else {
            for key in ["min", "max"] {
                if f.get(key).is_some() {
                    self.ignored(&f, key, input_type, "numeric inputs");
                }
            }
        }
        let (mut start_date, mut date_format) = (None, None);
        if input_type == InputType::Date {
            start_date = text(self, "startDate");
            date_format = text(self, "format");
        } else {
            for key in ["startDate", "format"] {
                if f.get(key).is_some() {
                    self.ignored(&f, key, input_type, "date inputs");
                }
            }
        }
        let conditional_display = f
            .get("conditionalDisplay")
            .and_then(|n| self.conditional_display(n, &dwhat));

        let (label, label_pos) = label.unwrap_or_else(|| (String::new(), f.pos));
        let alias = match common.alias {
            Some((a, pos)) if a.trim().is_empty() => {
                self.error(
                    "empty_name",
                    pos,
                    "`aliasForClassification` is empty; remove it or give the alias a name.",
                );
                None
            }
            other => other,
        };
        // The input id: `id` > `policyEntityId` > `aliasForClassification` > `<set>.<slug of label>`.
        let (id, id_pos) = common
            .id
            .clone()
            .or_else(|| common.policy_entity_id.clone())
            .or_else(|| alias.clone())
            .unwrap_or_else(|| (format!("{}.{}", common.set_id, slug(&label)), label_pos));
        Some(Input {
            id,
            policy_entity_id: common.policy_entity_id.map(|(t, _)| t),
            alias_pos: alias.as_ref().map(|(_, p)| *p),
            alias: alias.map(|(t, _)| t),
            artifact_type,
            input_type,
            label,
            description,
            placeholder,
            help_text,
            tooltip,
            height,
            options,
            min: min.map(|(v, _)| v),
            max: max.map(|(v, _)| v),
            start_date,
            date_format,
            required: common.required,
            disabled: common.disabled,
            conditional_display,
            set_id: common.set_id.to_owned(),
            pos: id_pos,
        })
    }

    fn ignored(&mut self, f: &Fields<'_>, key: &str, input_type: InputType, applies_to: &str) {
        self.warning(
            "ignored_field",
            f.pos_of(key),
            format!("`{key}` only applies to {applies_to}, so it is ignored for this `{input_type}` input; remove it."),
        );
    }

    fn options(&mut self, f: &Fields<'_>, what: &str) -> Vec<ChoiceOption> {
        let mut options: Vec<ChoiceOption> = Vec::new();
        for item in self.seq(f, "options", what) {
            let (option, pos) = match &item.kind {
                Kind::Map(_) => {
                    let Some(of) = self.map(item, "an option", OPTION_KEYS) else {
                        continue;
                    };
                    let label = self.text(&of, "label", "the option");
                    let value = self.text(&of, "value", "the option");
                    match (label, value) {
                        (Some((label, _)), Some((value, pos))) => (ChoiceOption { label, value }, pos),
                        (None, Some((value, pos))) => (
                            ChoiceOption {
                                label: value.clone(),
                                value,
                            },
                            pos,
                        ),
                        (Some((label, pos)), None) => (
                            ChoiceOption {
                                value: label.clone(),
                                label,
                            },
                            pos,
                        ),
                        (None, None) => {
                            self.error(
                                "empty_option",
                                item.pos,
                                "This option has neither `label` nor `value`; add `value: …`.",
                            );
                            continue;
                        }
                    }
                }
                _ => match item.scalar_text(self.src) {
                    Some(text) => (
                        ChoiceOption {
                            label: text.clone(),
                            value: text,
                        },
                        item.pos,
                    ),
                    None => {
                        self.error(
                            "invalid_type",
                            item.pos,
                            format!("An option must be text or `{{label, value}}`, not {}.", item.describe()),
                        );
                        continue;
                    }
                },
            };
            if option.value.trim().is_empty() {
                self.error(
                    "empty_option",
                    pos,
                    "This option's value is empty; give it a value or remove it.",
                );
                continue;
            }
            if options.iter().any(|o| o.value == option.value) {
                self.error(
                    "duplicate_option",
                    pos,
                    format!(
                        "The option `{}` is listed twice; remove the repeat (answers store the value).",
                        option.value
                    ),
                );
                continue;
            }
            options.push(option);
        }
        options
    }

    fn conditional_display(&mut self, node: &Node, what: &str) -> Option<ConditionalDisplay> {
        let cwhat = format!("`conditionalDisplay` of {what}");
        let f = self.map(node, &cwhat, CONDITIONAL_KEYS)?;
        let (depends_on, pos) = self.required_text(&f, "dependsOn", &cwhat, "Local.data-usage")?;
        let mut values: Vec<String> = self
            .text(&f, "showIfValue", &cwhat)
            .map(|(v, _)| v)
            .into_iter()
            .collect();
        values.extend(self.text_list(&f, "showIfValues", &cwhat).into_iter().map(|(v, _)| v));
        if f.get("showIfValue").is_none() && f.get("showIfValues").is_none() {
            self.error(
                "missing_field",
                f.pos,
                format!("{} has no `showIfValue` or `showIfValues`; add the answer that shows this input, e.g. `showIfValue: \"Yes\"`.", capitalize(&cwhat)),
            );
        }
        Some(ConditionalDisplay {
            target: DependencyTarget::EvidenceSet(depends_on.clone()),
            depends_on,
            values,
            pos,
            value_pos: f.pos_of(if f.get("showIfValue").is_some() {
                "showIfValue"
            } else {
                "showIfValues"
            }),
        })
    }

    fn guidance(&mut self, details: Option<&Node>, common: Common<'_>) -> Option<Artifact> {
        let what = common.what;
        let Some(details) = details else {
            self.error(
                "missing_field",
                common.pos,
                format!("{} has no `details`; add `details: {{text: \"…\"}}`.", capitalize(what)),
            );
            return None;
        };
        let dwhat = format!("`details` of {what}");
        let f = self.map(details, &dwhat, GUIDANCE_DETAIL_KEYS)?;
        let style = match self.text(&f, "type", &dwhat) {
            None => GuidanceStyle::TextBlock,
            Some((t, _)) if t == "textblock" => GuidanceStyle::TextBlock,
            Some((t, _)) if t == "banner" => GuidanceStyle::Banner,
            Some((t, pos)) => {
                self.error(
                    "unknown_input_type",
                    pos,
                    format!(
                        "`{t}` is not a guidance type{}; use `textblock` or `banner` (or remove `type` for a text block).",
                        did_you_mean(&t, ["textblock", "banner"])
                    ),
                );
                GuidanceStyle::TextBlock
            }
        };
        self.alias_ignored(&common);
        let (text, _) = self.required_text(
            &f,
            "text",
            &dwhat,
            "\"Answer every question before requesting review.\"",
        )?;
        Some(Artifact::Guidance(Guidance {
            id: common.artifact_id(),
            policy_entity_id: common.policy_entity_id.map(|(t, _)| t),
            style,
            text,
        }))
    }

    fn alias_ignored(&mut self, common: &Common<'_>) {
        if let Some((_, pos)) = &common.alias {
            self.warning(
                "ignored_field",
                *pos,
                "`aliasForClassification` only applies to inputs (questions), so it is ignored here; remove it.",
            );
        }
    }

    fn model_metrics(&mut self, details: &Node, common: Common<'_>) -> Option<Artifact> {
        let dwhat = format!("`details` of {}", common.what);
        let f = self.map(details, &dwhat, METRICS_DETAIL_KEYS)?;
        self.alias_ignored(&common);
        let label = self.text(&f, "label", &dwhat).map(|(t, _)| t);
        if f.get("metrics").is_none() {
            self.error(
                "missing_field",
                f.pos,
                format!("{} has no `metrics`; list the metrics to check, e.g. `metrics: [{{name: accuracy, threshold: {{operator: \">=\", value: 0.8}}}}]`.", capitalize(&dwhat)),
            );
        }
        let mut metrics = Vec::new();
        for item in self.seq(&f, "metrics", &dwhat) {
            metrics.extend(self.metric(item));
        }
        Some(Artifact::ModelMetrics(ModelMetrics {
            id: common.artifact_id(),
            policy_entity_id: common.policy_entity_id.map(|(t, _)| t),
            label,
            metrics,
        }))
    }

    fn metric(&mut self, node: &Node) -> Option<MetricCheck> {
        let f = self.map(node, "a metric", METRIC_KEYS)?;
        let (name, _) = self.required_text(&f, "name", "the metric", "accuracy")?;
        let what = format!("metric `{name}`");
        let label = self.text(&f, "label", &what).map(|(t, _)| t);
        let aliases = self
            .text_list(&f, "aliases", &what)
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        let threshold = f.get("threshold").and_then(|tnode| {
            let twhat = format!("the threshold of {what}");
            let tf = self.map(tnode, &twhat, THRESHOLD_KEYS)?;
            let (op, op_pos) = self.required_text(&tf, "operator", &twhat, "\">=\"")?;
            let (value, _) = match self.number(&tf, "value", &twhat) {
                Some(v) => v,
                None => {
                    if tf.get("value").is_none() {
                        self.error("missing_field", tf.pos, format!("{} has no `value`; add e.g. `value: 0.85`.", capitalize(&twhat)));
                    }
                    return None;
                }
            };
            let Some(operator) = ThresholdOperator::from_name(op.trim()) else {
                self.error(
                    "invalid_threshold_operator",
                    op_pos,
                    format!(
                        "`{op}` is not a threshold operator; use one of {} (quote `>=` and `>` in YAML: `operator: '>='`).",
                        ThresholdOperator::ALL.iter().map(|o| format!("`{}`", o.as_str())).collect::<Vec<_>>().join(", ")
                    ),
                );
                return None;
            };
            Some(Threshold { operator, value })
        });
        Some(MetricCheck {
            name,
            label,
            aliases,
            threshold,
        })
    }

    fn scripted_check(&mut self, details: Option<&Node>, common: Common<'_>) -> Option<Artifact> {
        let what = common.what;
        let Some(details) = details else {
            self.error(
                "missing_field",
                common.pos,
                format!(
                    "{} has no `details`; add `details:` with a `command`.",
                    capitalize(what)
                ),
            );
            return None;
        };
        let dwhat = format!("`details` of {what}");
        let f = self.map(details, &dwhat, SCRIPT_DETAIL_KEYS)?;
        self.alias_ignored(&common);
        let text = |r: &mut Self, key: &str| r.text(&f, key, &dwhat).map(|(t, _)| t);
        let name = text(self, "name");
        let label = text(self, "label");
        let command = self
            .required_text(&f, "command", &dwhat, "python checks/fairness.py")
            .map(|(t, _)| t);
        let mut parameters = Vec::new();
        for item in self.seq(&f, "parameters", &dwhat) {
            let Some(pf) = self.map(item, "a script parameter", PARAMETER_KEYS) else {
                continue;
            };
            let Some((name, _)) = self.required_text(&pf, "name", "the script parameter", "suite") else {
                continue;
            };
            let kind = self.text(&pf, "type", "the script parameter").map(|(t, _)| t);
            let default = self.text(&pf, "default", "the script parameter").map(|(t, _)| t);
            parameters.push(ScriptParameter { name, kind, default });
        }
        let output_types = self
            .text_list(&f, "outputTypes", &dwhat)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let environment_id = text(self, "environmentId");
        let hardware_tier_id = text(self, "hardwareTierId");
        let volume_size_gib = self.number(&f, "volumeSizeGiB", &dwhat).map(|(v, _)| v);
        Some(Artifact::ScriptedCheck(ScriptedCheck {
            id: common.artifact_id(),
            policy_entity_id: common.policy_entity_id.map(|(t, _)| t),
            name,
            label,
            command: command?,
            parameters,
            output_types,
            environment_id,
            hardware_tier_id,
            volume_size_gib,
        }))
    }

    fn monitoring_check(&mut self, details: Option<&Node>, common: Common<'_>) -> Option<Artifact> {
        let what = common.what;
        let Some(details) = details else {
            self.error(
                "missing_field",
                common.pos,
                format!(
                    "{} has no `details`; add `details:` with `alertTypes`.",
                    capitalize(what)
                ),
            );
            return None;
        };
        let dwhat = format!("`details` of {what}");
        let f = self.map(details, &dwhat, MONITOR_DETAIL_KEYS)?;
        self.alias_ignored(&common);
        let name = self.text(&f, "name", &dwhat).map(|(t, _)| t);
        let label = self.text(&f, "label", &dwhat).map(|(t, _)| t);
        let alert_types = self
            .text_list(&f, "alertTypes", &dwhat)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        let mut actions = Vec::new();
        for item in self.seq(&f, "actions", &dwhat) {
            let Some(af) = self.map(item, "a monitoring action", ACTION_KEYS) else {
                continue;
            };
            let Some((kind, _)) = self.required_text(&af, "type", "the monitoring action", "createFinding") else {
                continue;
            };
            let recipients = self
                .text_list(&af, "recipients", "the monitoring action")
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            let severity = self.text(&af, "severity", "the monitoring action").map(|(t, _)| t);
            let owner = self.text(&af, "owner", "the monitoring action").map(|(t, _)| t);
            actions.push(MonitoringAction {
                kind,
                recipients,
                severity,
                owner,
            });
        }
        Some(Artifact::MonitoringCheck(MonitoringCheck {
            id: common.artifact_id(),
            policy_entity_id: common.policy_entity_id.map(|(t, _)| t),
            name,
            label,
            alert_types,
            actions,
        }))
    }

    fn approval(&mut self, node: &Node, stage: &str) -> Option<Approval> {
        let f = self.map(node, "an approval", APPROVAL_KEYS)?;
        let (name, pos) = self
            .required_text(&f, "name", "the approval", "Intake sign off")
            .unwrap_or_else(|| (String::new(), f.pos));
        let what = format!("approval `{name}`");
        let policy_entity_id = self.text(&f, "policyEntityId", &what).map(|(t, _)| t);
        let approvers = f
            .get("approvers")
            .map(|n| self.approvers(n, &format!("the approvers of {what}")))
            .unwrap_or_default();
        let allow_additional_approvers = self.flag(&f, "allowAdditionalApprovers", &what).unwrap_or(false);
        let evidence = f.get("evidence").and_then(|n| self.evidence_set(n, stage, Some(&name)));
        Some(Approval {
            name,
            policy_entity_id,
            approvers,
            allow_additional_approvers,
            evidence,
            stage: stage.to_owned(),
            pos,
            approvers_pos: f.pos_of("approvers"),
        })
    }

    fn approvers(&mut self, node: &Node, what: &str) -> Vec<Approver> {
        let items: &[Node] = match &node.kind {
            Kind::Seq(items) => items,
            _ => {
                self.error(
                    "invalid_type",
                    node.pos,
                    format!(
                        "{} must be a list of user or group names, not {}; e.g. `approvers: [model-risk-office]`.",
                        capitalize(what),
                        node.describe()
                    ),
                );
                return Vec::new();
            }
        };
        let mut approvers: Vec<Approver> = Vec::new();
        for item in items {
            let (approver, pos) = match &item.kind {
                Kind::Map(_) => {
                    let Some(af) = self.map(item, "an approver", APPROVER_KEYS) else {
                        continue;
                    };
                    let Some((name, pos)) = self.required_text(&af, "name", "the approver", "model-risk-office") else {
                        continue;
                    };
                    let show_by_default = self.flag(&af, "showByDefault", "the approver").unwrap_or(true);
                    let editable = self.flag(&af, "editable", "the approver").unwrap_or(false);
                    (
                        Approver {
                            name,
                            show_by_default,
                            editable,
                            pos,
                        },
                        pos,
                    )
                }
                _ => match item.scalar_text(self.src).filter(|t| !t.trim().is_empty()) {
                    Some(name) => (
                        Approver {
                            name,
                            show_by_default: true,
                            editable: false,
                            pos: item.pos,
                        },
                        item.pos,
                    ),
                    None => {
                        self.error(
                            "empty_name",
                            item.pos,
                            format!("An approver in {what} has no name; write a user or group name, e.g. `- model-risk-office`."),
                        );
                        continue;
                    }
                },
            };
            if approvers.iter().any(|a| a.name == approver.name) {
                self.warning(
                    "duplicate_approver",
                    pos,
                    format!("`{}` is listed twice in {what}; remove the repeat.", approver.name),
                );
                continue;
            }
            approvers.push(approver);
        }
        approvers
    }

    fn gate(&mut self, node: &Node) -> Option<Gate> {
        let f = self.map(node, "a gate", GATE_KEYS)?;
        let (name, pos) = self
            .required_text(&f, "name", "the gate", "Production")
            .unwrap_or_else(|| (String::new(), f.pos));
        let what = format!("gate `{name}`");
        let mut rules = Vec::new();
        for item in self.seq(&f, "rules", &what) {
            let Some(rf) = self.map(item, "a gate rule", GATE_RULE_KEYS) else {
                continue;
            };
            let Some((action, _)) = self.required_text(&rf, "action", "the gate rule", "CreateEndpoint") else {
                continue;
            };
            let parameters = match rf.get("parameters") {
                None => serde_json::Map::new(),
                Some(p) => match p.to_json() {
                    serde_json::Value::Object(map) => map,
                    _ => {
                        self.error(
                            "invalid_type",
                            p.pos,
                            format!("`parameters` of the gate rule must be a mapping, not {}; e.g. `parameters: {{hardwareTierId: any}}`.", p.describe()),
                        );
                        serde_json::Map::new()
                    }
                },
            };
            rules.push(GateRule { action, parameters });
        }
        if f.get("rules").is_none() {
            self.warning(
                "gate_without_rules",
                f.pos,
                format!("{} has no `rules`, so it governs no action; add `rules: [{{action: CreateEndpoint}}]` or remove the gate.", capitalize(&what)),
            );
        }
        let approvals = self.text_list(&f, "approvals", &what);
        if approvals.is_empty() && !f.get("approvals").is_some_and(|n| !matches!(n.kind, Kind::Seq(_))) {
            self.error(
                "missing_field",
                f.pos_of("approvals"),
                format!("{} names no `approvals`; list the approvals that open it, e.g. `approvals: [Validation sign off]`.", capitalize(&what)),
            );
        }
        let when = match self.text(&f, "when", &what) {
            Some((text, _)) => Some(self.cel(f.get("when")?, &text, ExprContext::Gate)?),
            None => None,
        };
        Some(Gate {
            name,
            rules,
            approval_pos: approvals.iter().map(|(_, p)| *p).collect(),
            approvals: approvals.into_iter().map(|(a, _)| a).collect(),
            when,
            pos,
        })
    }
}

/// Fields every artifact may carry.
struct Common<'a> {
    id: Option<(String, Pos)>,
    policy_entity_id: Option<(String, Pos)>,
    alias: Option<(String, Pos)>,
    required: bool,
    disabled: bool,
    set_id: &'a str,
    what: &'a str,
    pos: Pos,
}

impl Common<'_> {
    /// A non-input artifact's id: `id`, else `policyEntityId`.
    fn artifact_id(&self) -> Option<String> {
        self.id
            .as_ref()
            .or(self.policy_entity_id.as_ref())
            .map(|(t, _)| t.clone())
    }
}

/// A Domino built-in rule name such as `EU-AI-ACT`: one word, no operators, quotes or spaces.
fn is_named_rule(rule: &str) -> bool {
    let mut chars = rule.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !matches!(rule, "inputs" | "true" | "false" | "null")
}

/// Ids: letters, digits, `.`, `_`, `-`, `:`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'))
}

/// The slug of a label for input ids: lower-case ASCII letters and digits, other runs become one
/// `-`, trimmed, at most 64 characters (cut at a `-` where possible). Empty labels give `input`.
pub(crate) fn slug(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out = out.trim_end_matches('-').to_owned();
    if out.len() > 64 {
        let cut = out[..64].rfind('-').filter(|&i| i >= 32).unwrap_or(64);
        out.truncate(cut);
    }
    if out.is_empty() { "input".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_and_stable() {
        assert_eq!(
            slug("What kind of answers does HelpBot give?"),
            "what-kind-of-answers-does-helpbot-give"
        );
        assert_eq!(slug("  R² — score  "), "r-score");
        assert_eq!(slug("???"), "input");
        let long = slug(&"word ".repeat(40));
        assert!(long.len() <= 64 && !long.ends_with('-'), "{long}");
    }

    #[test]
    fn named_rules() {
        assert!(is_named_rule("EU-AI-ACT"));
        assert!(is_named_rule("RISK_ASSESSMENT"));
        assert!(!is_named_rule("inputs.a == \"x\""));
        assert!(!is_named_rule("\"Low\""));
        assert!(!is_named_rule("3"));
    }
}
