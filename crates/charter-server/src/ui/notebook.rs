//! The evidence notebook, `/bundles/{id}`: one policy's stages as steps, the
//! selected stage's evidence sets as forms with a widget per input type, the
//! stage's approvals, assignee and review request, the attachments panel, and the
//! bundle's findings.
//!
//! Answers are saved one by one as they change by `static/notebook.js`, through
//! the JSON API (`PUT /api/v1/bundles/{id}/answers`): it shows saving / saved /
//! failed per question, retries failed saves, updates the classification badge
//! and shows or hides questions from the API's answer. Without JavaScript each
//! evidence set is a plain form whose "Save answers" button posts here
//! ([`form_save_answers`]), and errors come back next to their questions with what
//! was typed kept.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use charter_domain::time::now_ms;
use charter_store::bundle::{Bundle, BundleState};
use serde::Deserialize;

use super::markdown;
use super::present::{self, when};
use super::{FormErrors, Htmx, Layout, SignedIn, UiError, When, form_problem, page_with_status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::governance::bundle::notebook::{
    AttachmentView, BundleRef, Notebook, NotebookInput, NotebookPolicy, NotebookStage, SetItem,
};
use crate::governance::bundle::{self, attachment};
use crate::governance::finding::{self, FindingFilter, FindingInput};
use crate::governance::project::{self, Access};
use crate::governance::review;
use crate::state::AppState;

/// Which policy and stage the page shows, and what the last form did.
#[derive(Debug, Default, Deserialize)]
pub struct NotebookQuery {
    /// Policy id or name (default: the bundle's first policy).
    #[serde(default)]
    policy: Option<String>,
    /// Stage name (default: the policy's current stage).
    #[serde(default)]
    stage: Option<String>,
    /// What the form posted before this page was shown did (a fixed word).
    #[serde(default)]
    done: Option<String>,
}

/// The notice a `done` word stands for. Only fixed sentences: a link cannot make
/// the page say something else.
fn notice_for(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Bundle created. Answer the questions below; each answer is saved as you go.",
        "copied" => "Bundle copied. Carried-over answers are highlighted: confirm each one, or change it.",
        "saved" => "Answers saved.",
        "review" => "Review requested. Each approver has a task to decide.",
        "assigned" => "Stage assignee changed.",
        "linked" => "Attachment added.",
        "complete" => "The bundle is complete: its evidence is frozen.",
        "archived" => "The bundle is archived: its evidence is frozen and its gates no longer apply.",
        "active" => "The bundle is active again: its evidence takes answers.",
        _ => return None,
    })
}

/// A tab of the stepper: one stage of the selected policy.
pub struct StageTab {
    name: String,
    href: String,
    /// `complete`, `current`, `locked` or `open`.
    state: &'static str,
    state_label: &'static str,
    selected: bool,
    /// Required questions of the stage not yet answered (shown ones).
    missing: usize,
    number: usize,
}

/// One choice of a radio, select, multiselect or checkbox question.
pub struct Choice {
    value: String,
    label: String,
    checked: bool,
}

/// Where a carried-over answer came from.
pub struct CarriedView {
    source_id: String,
    source_name: String,
    provenance: String,
}

/// One question as the page shows it.
pub struct QuestionView {
    /// The element id (`q12`); input ids may hold dots.
    dom: String,
    id: String,
    policy_id: String,
    label: String,
    /// `text`, `textarea`, `radio`, `select`, `multiselect`, `checkbox`, `date`,
    /// `number` or `file`.
    widget: &'static str,
    required: bool,
    /// Disabled by the policy.
    disabled: bool,
    /// Takes an answer from this viewer now.
    editable: bool,
    visible: bool,
    missing: bool,
    help: Option<String>,
    placeholder: String,
    rows: u32,
    /// The text of text-like widgets.
    text: String,
    choices: Vec<Choice>,
    range_hint: Option<String>,
    alias: Option<String>,
    answered: Option<(String, When, i64)>,
    carried: Option<CarriedView>,
    error: Option<String>,
    history_url: String,
}

impl QuestionView {
    fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.help.is_some() {
            ids.push(format!("{}-help", self.dom));
        }
        if self.range_hint.is_some() {
            ids.push(format!("{}-range", self.dom));
        }
        ids.push(format!("{}-error", self.dom));
        ids.join(" ")
    }
}

/// A metric row of a model-metrics check.
pub struct MetricRow {
    name: String,
    label: String,
    threshold: String,
}

/// One element of an evidence set, in order.
pub enum ItemView {
    Question(Box<QuestionView>),
    Guidance { banner: bool, html: String },
    Metrics { label: String, rows: Vec<MetricRow> },
    Check { label: String, kind: &'static str },
}

/// One evidence set as a form.
pub struct SetView {
    dom: String,
    id: String,
    name: String,
    description: Option<String>,
    visible: bool,
    items: Vec<ItemView>,
    editable: bool,
}

/// An approval of the selected stage.
pub struct ApprovalRow {
    id: String,
    name: String,
    status: String,
    status_label: &'static str,
    approvers: String,
    decided: Option<When>,
}

/// An attachment in the panel.
pub struct AttachmentRow {
    pub(super) id: String,
    pub(super) kind: String,
    pub(super) kind_label: String,
    pub(super) name: String,
    pub(super) reference: Vec<(String, String)>,
    pub(super) sha256: Option<String>,
    pub(super) size: Option<String>,
    pub(super) download: Option<String>,
    pub(super) copied_from: Option<String>,
    pub(super) created: When,
    pub(super) by: String,
}

impl AttachmentRow {
    pub fn new(a: &AttachmentView, names: &HashMap<String, String>) -> Self {
        let reference = match &a.reference {
            serde_json::Value::Object(map) => map
                .iter()
                .filter(|(k, v)| !v.is_null() && k.as_str() != attachment::FINDING_KEY)
                .map(|(k, v)| (k.replace('_', " "), present::json_text(v)))
                .collect(),
            serde_json::Value::Null => Vec::new(),
            other => vec![("reference".into(), present::json_text(other))],
        };
        Self {
            id: a.id.clone(),
            kind: a.kind.clone(),
            kind_label: present::attachment_kind(&a.kind),
            name: a.name.clone(),
            reference,
            sha256: a.sha256.clone(),
            size: a.size.map(present::size),
            download: a.content_url.as_ref().map(|u| format!("/api/v1{u}")),
            copied_from: a.copied_from.clone(),
            created: when(&a.created_at),
            by: names.get(&a.created_by).cloned().unwrap_or_default(),
        }
    }
}

/// A finding of the bundle, in the side panel.
pub struct FindingRow {
    id: String,
    name: String,
    severity: String,
    severity_label: &'static str,
    status: String,
    status_label: &'static str,
    stage: String,
    overdue: bool,
}

/// A policy of the bundle, with its live classification badge.
pub struct PolicyBadge {
    id: String,
    name: String,
    version: i64,
    classification: String,
    class: &'static str,
    href: String,
    selected: bool,
    /// The answers the classification reads, `(input id, label, answer)`.
    inputs: Vec<(String, String, String)>,
}

/// Which form on the page a problem belongs to.
#[derive(Default)]
pub struct Problems {
    review: Option<String>,
    assign: Option<String>,
    link: FormErrors,
    state: Option<String>,
    finding: FormErrors,
    /// Saving answers without JavaScript: messages by input id, and what was typed.
    answers: HashMap<String, String>,
    typed: HashMap<String, Vec<String>>,
}

#[derive(Template)]
#[template(path = "bundle/notebook.html", blocks = ["attachments_panel"])]
pub struct NotebookPage {
    layout: Layout,
    nb: Notebook,
    bundle_id: String,
    state_label: &'static str,
    can_write: bool,
    /// The bundle takes evidence (active).
    active: bool,
    policies: Vec<PolicyBadge>,
    policy_id: String,
    policy_name: String,
    stages: Vec<StageTab>,
    stage_name: String,
    stage_state: &'static str,
    stage_state_label: &'static str,
    closed_reason: Option<String>,
    sets: Vec<SetView>,
    approvals: Vec<ApprovalRow>,
    assignee: Option<String>,
    assignable: Vec<String>,
    attachments: Vec<AttachmentRow>,
    link_kinds: &'static [&'static str],
    upload_kinds: &'static [&'static str],
    findings: Vec<FindingRow>,
    open_findings: usize,
    severities: [&'static str; 4],
    stage_names: Vec<String>,
    notice: Option<&'static str>,
    problems: Problems,
    copied_from: Option<BundleRef>,
    username: String,
    link_form: LinkForm,
    finding_form: FindingForm,
}

impl NotebookPage {
    fn missing_here(&self) -> usize {
        self.stages.iter().find(|s| s.selected).map_or(0, |s| s.missing)
    }
}

fn stage_query(policy_id: &str, stage: &str, policies: usize) -> String {
    let mut pairs = Vec::new();
    if policies > 1 {
        pairs.push(("policy", policy_id));
    }
    pairs.push(("stage", stage));
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The state of a stage as its step shows it.
fn stage_state(s: &NotebookStage) -> (&'static str, &'static str) {
    let complete = !s.approvals.is_empty() && s.approvals.iter().all(|a| a.granted);
    if complete {
        ("complete", "Complete")
    } else if s.current {
        ("current", "Current")
    } else if !s.open {
        ("locked", "Locked")
    } else {
        ("open", "Open")
    }
}

/// A stored answer as the strings a form would send for it.
fn raw_values(value: Option<&serde_json::Value>) -> Vec<String> {
    match value {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Number(n)) => vec![present::number_text(n)],
        Some(serde_json::Value::Array(items)) => items.iter().map(present::json_text).collect(),
        Some(other) => vec![other.to_string()],
    }
}

fn widget_of(input_type: &str) -> &'static str {
    match input_type {
        "textarea" => "textarea",
        "radio" => "radio",
        "select" => "select",
        "multiselect" => "multiselect",
        "checkbox" => "checkbox",
        "date" => "date",
        "numeric" => "number",
        "file" => "file",
        _ => "text",
    }
}

fn range_hint(q: &NotebookInput) -> Option<String> {
    let fmt = |v: f64| present::number_text(&serde_json::Number::from_f64(v).unwrap_or_else(|| 0.into()));
    match (q.min, q.max) {
        (Some(a), Some(b)) => Some(format!("A number from {} to {}.", fmt(a), fmt(b))),
        (Some(a), None) => Some(format!("A number, at least {}.", fmt(a))),
        (None, Some(b)) => Some(format!("A number, at most {}.", fmt(b))),
        (None, None) if q.input_type == "numeric" => Some("A number.".into()),
        _ => None,
    }
}

/// Everything [`question`] needs besides the question itself.
struct QuestionContext<'a> {
    bundle_id: &'a str,
    policy_id: &'a str,
    editable: bool,
    files: &'a [AttachmentView],
    copied_from: Option<&'a BundleRef>,
    problems: &'a Problems,
}

fn question(dom: String, q: &NotebookInput, cx: &QuestionContext<'_>) -> QuestionView {
    let typed = cx.problems.typed.get(&q.id);
    let values = typed.cloned().unwrap_or_else(|| raw_values(q.value.as_ref()));
    let widget = widget_of(&q.input_type);
    let choices = if widget == "file" {
        cx.files
            .iter()
            .map(|a| Choice {
                label: match &a.sha256 {
                    Some(h) => format!("{} (SHA-256 {}…)", a.name, h.get(..12).unwrap_or(h)),
                    None => a.name.clone(),
                },
                checked: values.contains(&a.id),
                value: a.id.clone(),
            })
            .collect()
    } else {
        q.options
            .iter()
            .map(|o| Choice {
                value: o.value.clone(),
                label: o.label.clone(),
                checked: values.contains(&o.value),
            })
            .collect()
    };
    let history_url = format!(
        "/bundles/{}/history?{}",
        cx.bundle_id,
        serde_urlencoded::to_string([("policy", cx.policy_id), ("input", q.id.as_str())]).unwrap_or_default()
    );
    QuestionView {
        id: q.id.clone(),
        policy_id: cx.policy_id.to_owned(),
        label: q.label.clone(),
        widget,
        required: q.required,
        disabled: q.disabled,
        editable: cx.editable && !q.disabled,
        visible: q.visible,
        missing: q.missing,
        help: q.help.clone(),
        placeholder: q.placeholder.clone().unwrap_or_default(),
        rows: q.height.unwrap_or(4).clamp(2, 20),
        text: values.first().cloned().unwrap_or_default(),
        choices,
        range_hint: range_hint(q),
        alias: q.alias.clone(),
        answered: match (&q.answered_by_name, &q.answered_at, q.revision) {
            (Some(name), Some(at), Some(rev)) => Some((name.clone(), when(at), rev)),
            _ => None,
        },
        carried: q.carried_over.then(|| CarriedView {
            source_id: cx.copied_from.map(|b| b.id.clone()).unwrap_or_default(),
            source_name: cx
                .copied_from
                .map(|b| b.name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "a previous bundle".into()),
            provenance: q.carried_from.clone().unwrap_or_default(),
        }),
        error: cx.problems.answers.get(&q.id).cloned(),
        history_url,
        dom,
    }
}

fn metric_rows(metrics: &[crate::governance::bundle::notebook::MetricView]) -> Vec<MetricRow> {
    metrics
        .iter()
        .map(|m| MetricRow {
            name: m.name.clone(),
            label: m.label.clone().unwrap_or_else(|| m.name.clone()),
            threshold: m.threshold.clone().unwrap_or_else(|| "shown only".into()),
        })
        .collect()
}

/// A link to the notebook at a stage, with what the last form did.
fn notebook_url(bundle_id: &str, policy_id: &str, stage: &str, done: &str) -> String {
    let mut pairs = vec![("policy", policy_id), ("stage", stage)];
    if !done.is_empty() {
        pairs.push(("done", done));
    }
    format!(
        "/bundles/{bundle_id}?{}",
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    )
}

/// The typed-link form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    key1: String,
    #[serde(default)]
    value1: String,
    #[serde(default)]
    key2: String,
    #[serde(default)]
    value2: String,
}

/// The new-finding form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct FindingForm {
    #[serde(default)]
    policy: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    due_date: String,
}

impl NotebookPage {
    /// Build the page for `caller`, at the policy and stage `q` names.
    pub async fn build(
        state: &AppState,
        caller: &Caller,
        b: &Bundle,
        q: &NotebookQuery,
        problems: Problems,
    ) -> Result<Self, UiError> {
        let nb = bundle::notebook(state, &caller.user, b).await?;
        let project = state.store.project(b.project_id).await.map_err(ApiError::from)?;
        let can_write = project::require(state, &caller.user, &project, Access::Write)
            .await
            .is_ok();
        let active = b.state == BundleState::Active;
        let wanted = q.policy.as_deref().map(str::trim).filter(|p| !p.is_empty());
        let pi = wanted
            .and_then(|p| nb.policies.iter().position(|x| x.policy_id == p || x.name == p))
            .unwrap_or(0);
        let Some(policy) = nb.policies.get(pi) else {
            return Err(ApiError::conflict(format!("bundle `{}` follows no policy", nb.name)).into());
        };
        let si = q
            .stage
            .as_deref()
            .and_then(|s| policy.stages.iter().position(|x| x.name == s))
            .or_else(|| policy.stages.iter().position(|x| x.current))
            .unwrap_or(0);
        let names: HashMap<String, String> = review::usernames(state)
            .await?
            .into_iter()
            .map(|(id, name)| (id.to_string(), name))
            .collect();
        let evidence_files: Vec<AttachmentView> = nb
            .attachments
            .iter()
            .filter(|a| a.finding_id.is_none())
            .cloned()
            .collect();

        let stages = stage_tabs(&nb.id, policy, si, nb.policies.len());
        let stage = &policy.stages[si];
        let (stage_state, stage_state_label) = stage_state(stage);
        let editable = can_write && active && stage.open;
        let cx = QuestionContext {
            bundle_id: &nb.id,
            policy_id: &policy.policy_id,
            editable,
            files: &evidence_files,
            copied_from: nb.copied_from.as_ref(),
            problems: &problems,
        };
        let mut counter = 0;
        let sets = stage
            .evidence_sets
            .iter()
            .enumerate()
            .map(|(n, set)| SetView {
                dom: format!("set-{n}"),
                id: set.id.clone(),
                name: set.name.clone(),
                description: set.description.clone(),
                visible: set.visible,
                editable,
                items: set
                    .items
                    .iter()
                    .filter_map(|item| match item {
                        SetItem::Input { id } => {
                            let input = set.inputs.iter().find(|i| i.id == *id)?;
                            counter += 1;
                            Some(ItemView::Question(Box::new(question(
                                format!("q{counter}"),
                                input,
                                &cx,
                            ))))
                        }
                        SetItem::Guidance { style, text } => Some(ItemView::Guidance {
                            banner: style == "banner",
                            html: markdown::render(text),
                        }),
                        SetItem::ModelMetrics { label, metrics, .. } => Some(ItemView::Metrics {
                            label: label.clone().unwrap_or_else(|| "Model metrics".into()),
                            rows: metric_rows(metrics),
                        }),
                        SetItem::Check { check, label, id } => Some(ItemView::Check {
                            label: label.clone().or_else(|| id.clone()).unwrap_or_default(),
                            kind: if check == "scripted" {
                                "Scripted check"
                            } else {
                                "Monitoring check"
                            },
                        }),
                    })
                    .collect(),
            })
            .collect();
        let approvals = stage
            .approvals
            .iter()
            .map(|a| ApprovalRow {
                id: a.id.clone(),
                name: a.name.clone(),
                status_label: present::approval_status(&a.status),
                status: a.status.clone(),
                approvers: present::approvers_text(
                    a.approvers
                        .iter()
                        .map(|r| (r.kind.as_str(), r.name.as_str(), r.additional)),
                ),
                decided: a.decided_at.as_deref().map(when),
            })
            .collect();
        let assignable = if can_write && active {
            state
                .store
                .project_members(b.project_id)
                .await
                .map_err(ApiError::from)?
                .into_iter()
                .filter(|(u, role)| role.can_write() && u.role.can_write() && !u.disabled)
                .map(|(u, _)| u.username)
                .collect()
        } else {
            Vec::new()
        };
        let now = now_ms();
        let filter = FindingFilter {
            bundle: Some(b.id),
            ..FindingFilter::default()
        };
        let findings: Vec<FindingRow> = finding::list(state, &caller.user, &filter, now)
            .await?
            .iter()
            .map(|f| FindingRow {
                id: f.id.to_string(),
                name: f.name.clone(),
                severity: f.severity.as_str().to_owned(),
                severity_label: present::severity(f.severity.as_str()),
                status: f.status.as_str().to_owned(),
                status_label: present::finding_status(f.status.as_str()),
                stage: f.stage.clone(),
                overdue: f.is_overdue(now),
            })
            .collect();
        let policies = nb
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| policy_badge(&nb, p, i == pi))
            .collect();
        let attachments = nb
            .attachments
            .iter()
            .filter(|a| a.finding_id.is_none())
            .map(|a| AttachmentRow::new(a, &names))
            .collect();
        Ok(Self {
            layout: Layout::new(Some(caller), "bundles", nb.name.clone()),
            bundle_id: nb.id.clone(),
            state_label: present::bundle_state(&nb.state),
            can_write,
            active,
            policies,
            policy_id: policy.policy_id.clone(),
            policy_name: policy.name.clone(),
            stage_names: policy.stages.iter().map(|s| s.name.clone()).collect(),
            stages,
            stage_name: stage.name.clone(),
            stage_state,
            stage_state_label,
            closed_reason: stage.closed_reason.clone(),
            sets,
            approvals,
            assignee: stage.assignee.clone(),
            assignable,
            attachments,
            link_kinds: &attachment::LINK_KINDS,
            upload_kinds: &attachment::UPLOAD_KINDS,
            open_findings: findings
                .iter()
                .filter(|f| f.status == "open" || f.status == "in_progress")
                .count(),
            findings,
            severities: ["low", "medium", "high", "critical"],
            notice: notice_for(q.done.as_deref()),
            problems,
            copied_from: nb.copied_from.clone(),
            username: caller.user.username.clone(),
            link_form: LinkForm::default(),
            finding_form: FindingForm {
                severity: "medium".into(),
                ..FindingForm::default()
            },
            nb,
        })
    }
}

fn stage_tabs(bundle_id: &str, policy: &NotebookPolicy, selected: usize, policies: usize) -> Vec<StageTab> {
    policy
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (state, state_label) = stage_state(s);
            let missing = s
                .evidence_sets
                .iter()
                .filter(|set| set.visible)
                .flat_map(|set| set.inputs.iter())
                .filter(|q| q.visible && q.missing)
                .count();
            StageTab {
                href: format!(
                    "/bundles/{bundle_id}?{}",
                    stage_query(&policy.policy_id, &s.name, policies)
                ),
                name: s.name.clone(),
                state,
                state_label,
                selected: i == selected,
                missing,
                number: i + 1,
            }
        })
        .collect()
}

fn policy_badge(nb: &Notebook, p: &NotebookPolicy, selected: bool) -> PolicyBadge {
    let inputs = p
        .classification_inputs
        .iter()
        .map(|ci| {
            let input = p
                .stages
                .iter()
                .flat_map(|s| s.evidence_sets.iter())
                .flat_map(|set| set.inputs.iter())
                .find(|i| i.id == ci.input_id);
            let answer = match (input, &ci.value) {
                (Some(i), Some(v)) => present::answer_text(i, v, &nb.attachments),
                (None, Some(v)) => present::json_text(v),
                (_, None) => "not answered".into(),
            };
            (ci.input_id.clone(), ci.label.clone(), answer)
        })
        .collect();
    PolicyBadge {
        id: p.policy_id.clone(),
        name: p.name.clone(),
        version: p.version,
        classification: p.classification.clone().unwrap_or_else(|| "Unclassified".into()),
        class: present::classification_class(p.classification.as_deref()),
        href: format!(
            "/bundles/{}?{}",
            nb.id,
            serde_urlencoded::to_string([("policy", p.policy_id.as_str())]).unwrap_or_default()
        ),
        selected,
        inputs,
    }
}

/// `GET /bundles/{id}`: the evidence notebook. For htmx requests aimed at
/// `#attachments`, only the attachments panel (refreshed after an upload).
pub async fn page_bundle(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    htmx: Htmx,
    Path(id): Path<String>,
    Query(q): Query<NotebookQuery>,
) -> Result<Html<String>, UiError> {
    let (b, _) = bundle::find_for(&state, &caller.user, &id, Access::Read).await?;
    let page = NotebookPage::build(&state, &caller, &b, &q, Problems::default()).await?;
    if htmx.targets("attachments") {
        return Ok(Html(page.as_attachments_panel().render()?));
    }
    Ok(Html(page.render()?))
}

async fn rerender(
    state: &AppState,
    caller: &Caller,
    b: &Bundle,
    policy: &str,
    stage: &str,
    problems: Problems,
) -> Result<Response, UiError> {
    let q = NotebookQuery {
        policy: Some(policy.to_owned()),
        stage: Some(stage.to_owned()),
        done: None,
    };
    let page = NotebookPage::build(state, caller, b, &q, problems).await?;
    Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
}

/// A bundle the caller may read, with the bundle's own 404 for anyone else.
async fn readable(state: &AppState, caller: &Caller, id: &str) -> Result<Bundle, UiError> {
    Ok(bundle::find_for(state, &caller.user, id, Access::Read).await?.0)
}

/// `POST /bundles/{id}/answers` (without JavaScript): save the answers of one
/// evidence set that changed; `confirm` names a carried-over answer to confirm.
pub async fn form_save_answers(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let b = readable(&state, &caller, &id).await?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (policy_id, stage, set_id, confirm) = (field("policy"), field("stage"), field("set"), field("confirm"));
    let nb = bundle::notebook(&state, &caller.user, &b).await?;
    let set = nb
        .policies
        .iter()
        .filter(|p| p.policy_id == policy_id)
        .flat_map(|p| p.stages.iter())
        .flat_map(|s| s.evidence_sets.iter())
        .find(|s| s.id == set_id)
        .ok_or_else(|| UiError::not_found(format!("the bundle has no evidence set `{set_id}` in that policy")))?;
    let mut problems = Problems::default();
    for input in &set.inputs {
        if !fields.iter().any(|(k, v)| k == "present" && *v == input.id) {
            continue;
        }
        let typed: Vec<String> = fields
            .iter()
            .filter(|(k, _)| k.strip_prefix("a:") == Some(input.id.as_str()))
            .map(|(_, v)| v.clone())
            .collect();
        let value = if confirm == input.id {
            match &input.value {
                Some(v) => v.clone(),
                None => continue,
            }
        } else {
            let value = form_value(&input.input_type, &typed);
            let unchanged = input.value.as_ref() == Some(&value);
            let blank = input.value.is_none() && is_blank(&value);
            if unchanged || blank {
                continue;
            }
            value
        };
        let saved = bundle::answer(&state, &caller.audit(), &caller.user, &b, &policy_id, &input.id, &value).await;
        if let Err(e) = saved {
            problems.answers.insert(input.id.clone(), form_problem(e)?);
            problems.typed.insert(input.id.clone(), typed);
        }
    }
    if problems.answers.is_empty() {
        return Ok(Redirect::to(&notebook_url(&nb.id, &policy_id, &stage, "saved")).into_response());
    }
    rerender(&state, &caller, &b, &policy_id, &stage, problems).await
}

/// What a form's strings mean as an answer to a question of `input_type`.
fn form_value(input_type: &str, typed: &[String]) -> serde_json::Value {
    match input_type {
        "multiselect" | "checkbox" => typed.iter().cloned().map(serde_json::Value::String).collect(),
        _ => serde_json::Value::String(typed.first().cloned().unwrap_or_default()),
    }
}

fn is_blank(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.trim().is_empty(),
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Null => true,
        _ => false,
    }
}

/// The review-request form.
#[derive(Debug, Deserialize)]
pub struct StageForm {
    #[serde(default)]
    policy: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    user: String,
}

/// `POST /bundles/{id}/review`: ask the stage's approvers for their decision.
pub async fn form_request_review(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(f): Form<StageForm>,
) -> Result<Response, UiError> {
    let b = readable(&state, &caller, &id).await?;
    match review::request_review(&state, &caller.audit(), &caller.user, &b, Some(&f.policy), &f.stage).await {
        Ok(_) => Ok(Redirect::to(&notebook_url(&id, &f.policy, &f.stage, "review")).into_response()),
        Err(e) => {
            let problems = Problems {
                review: Some(inline(e)?),
                ..Problems::default()
            };
            rerender(&state, &caller, &b, &f.policy, &f.stage, problems).await
        }
    }
}

/// A problem to show next to its form: anything but a failure of the request
/// itself (401, 5xx). Refusals (403) are explained where the action was tried.
fn inline(e: ApiError) -> Result<String, UiError> {
    if e.status == StatusCode::FORBIDDEN {
        return Ok(e.message);
    }
    form_problem(e)
}

/// `POST /bundles/{id}/assignee`: who works on a stage.
pub async fn form_assign_stage(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(f): Form<StageForm>,
) -> Result<Response, UiError> {
    let b = readable(&state, &caller, &id).await?;
    let user = Some(f.user.trim()).filter(|u| !u.is_empty());
    match bundle::assignee::assign(&state, &caller.audit(), &caller.user, &b, &f.policy, &f.stage, user).await {
        Ok(_) => Ok(Redirect::to(&notebook_url(&id, &f.policy, &f.stage, "assigned")).into_response()),
        Err(e) => {
            let problems = Problems {
                assign: Some(inline(e)?),
                ..Problems::default()
            };
            rerender(&state, &caller, &b, &f.policy, &f.stage, problems).await
        }
    }
}

/// The typed-link form with where the page was.
#[derive(Debug, Deserialize)]
pub struct LinkPost {
    #[serde(flatten)]
    link: LinkForm,
    #[serde(default)]
    policy: String,
    #[serde(default)]
    stage: String,
}

/// `POST /bundles/{id}/links`: attach something by reference (a model version, an
/// app, a report…). The reference is the key/value pairs given.
pub async fn form_add_link(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(f): Form<LinkPost>,
) -> Result<Response, UiError> {
    let b = readable(&state, &caller, &id).await?;
    let mut reference = serde_json::Map::new();
    for (k, v) in [(&f.link.key1, &f.link.value1), (&f.link.key2, &f.link.value2)] {
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() && v.is_empty() {
            continue;
        }
        let key = if k.is_empty() { "url" } else { k };
        // A version number stays a number, as the API's own clients send it.
        let value = v
            .parse::<i64>()
            .map_or_else(|_| serde_json::Value::String(v.to_owned()), serde_json::Value::from);
        reference.insert(key.to_owned(), value);
    }
    let added = attachment::add(
        &state,
        &caller.audit(),
        &caller.user,
        &b,
        &f.link.kind,
        &f.link.name,
        serde_json::Value::Object(reference),
    )
    .await;
    match added {
        Ok(_) => Ok(Redirect::to(&notebook_url(&id, &f.policy, &f.stage, "linked")).into_response()),
        Err(e) => {
            let message = inline(e)?;
            let fields = ["kind", "name", "reference"];
            let q = NotebookQuery {
                policy: Some(f.policy.clone()),
                stage: Some(f.stage.clone()),
                done: None,
            };
            let mut page = NotebookPage::build(&state, &caller, &b, &q, Problems::default()).await?;
            page.problems.link = FormErrors::from_message(message, &fields, &[]);
            page.link_form = f.link;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// The bundle-state form.
#[derive(Debug, Deserialize)]
pub struct StateForm {
    #[serde(default)]
    to: String,
}

/// `POST /bundles/{id}/state`: complete, archive or reopen the bundle.
pub async fn form_set_state(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(f): Form<StateForm>,
) -> Result<Response, UiError> {
    let b = readable(&state, &caller, &id).await?;
    let to = BundleState::parse(f.to.trim())
        .ok_or_else(|| UiError::from(ApiError::invalid("to: must be active, complete or archived")))?;
    match bundle::set_state(&state, &caller.audit(), &caller.user, &b, to).await {
        Ok(_) => Ok(Redirect::to(&format!("/bundles/{id}?done={}", to.as_str())).into_response()),
        Err(e) => {
            let q = NotebookQuery::default();
            let problems = Problems {
                state: Some(inline(e)?),
                ..Problems::default()
            };
            let page = NotebookPage::build(&state, &caller, &b, &q, problems).await?;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// `POST /bundles/{id}/findings`: log a finding on the bundle, then open it.
pub async fn form_create_finding(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(f): Form<FindingForm>,
) -> Result<Response, UiError> {
    let b = bundle::find(&state, &id).await?;
    review::require_read(&state, &caller.user, &b).await?;
    let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let input = FindingInput {
        policy: opt(&f.policy),
        stage: opt(&f.stage),
        name: f.name.clone(),
        description: f.description.clone(),
        severity: f.severity.clone(),
        assignee: opt(&f.assignee),
        approver: None,
        due_date: opt(&f.due_date),
        approval: None,
    };
    match finding::create(&state, &caller.audit(), &caller.user, &b, input).await {
        Ok(created) => Ok(Redirect::to(&format!("/findings/{}?done=created", created.id)).into_response()),
        Err(e) => {
            let message = inline(e)?;
            let fields = ["name", "severity", "description", "assignee", "due_date", "stage"];
            let q = NotebookQuery {
                policy: opt(&f.policy),
                stage: opt(&f.stage),
                done: None,
            };
            let mut page = NotebookPage::build(&state, &caller, &b, &q, Problems::default()).await?;
            page.problems.finding = FormErrors::from_message(message, &fields, &[]);
            page.finding_form = f;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// Which answer's history to show.
#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    #[serde(default)]
    policy: String,
    #[serde(default)]
    input: String,
}

/// One revision as the history table shows it.
pub struct RevisionRow {
    revision: i64,
    by: String,
    at: When,
    before: Option<String>,
    after: String,
    carried: bool,
    provenance: Option<String>,
}

#[derive(Template)]
#[template(path = "bundle/history.html", blocks = ["table"])]
pub struct HistoryPage {
    layout: Layout,
    bundle_id: String,
    bundle_name: String,
    label: String,
    rows: Vec<RevisionRow>,
}

/// `GET /bundles/{id}/history?policy=&input=`: every revision of one answer, who
/// gave it and when, each as old → new. htmx gets the table alone.
pub async fn page_history(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    htmx: Htmx,
    Path(id): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Html<String>, UiError> {
    let b = readable(&state, &caller, &id).await?;
    let h = bundle::history(&state, &caller.user, &b, &q.policy, &q.input).await?;
    let nb = bundle::notebook(&state, &caller.user, &b).await?;
    let input = nb
        .policies
        .iter()
        .filter(|p| p.policy_id == h.policy_id)
        .flat_map(|p| p.stages.iter())
        .flat_map(|s| s.evidence_sets.iter())
        .flat_map(|s| s.inputs.iter())
        .find(|i| i.id == h.input_id);
    let text = |v: &serde_json::Value| match input {
        Some(i) => present::answer_text(i, v, &nb.attachments),
        None => present::json_text(v),
    };
    let mut rows: Vec<RevisionRow> = Vec::new();
    let mut previous: Option<String> = None;
    for r in &h.revisions {
        let after = text(&r.value);
        rows.push(RevisionRow {
            revision: r.revision,
            by: r.answered_by_name.clone(),
            at: when(&r.answered_at),
            before: previous.clone(),
            after: after.clone(),
            carried: r.carried_over,
            provenance: r.carried_from.clone(),
        });
        previous = Some(after);
    }
    rows.reverse();
    let page = HistoryPage {
        layout: Layout::new(Some(&caller), "bundles", format!("History of {}", h.label)),
        bundle_id: b.id.to_string(),
        bundle_name: b.name.clone(),
        label: h.label,
        rows,
    };
    if htmx.request {
        return Ok(Html(page.as_table().render()?));
    }
    Ok(Html(page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_strings_become_answers_of_the_question_type() {
        assert_eq!(form_value("textinput", &["x".into()]), serde_json::json!("x"));
        assert_eq!(form_value("numeric", &["12".into()]), serde_json::json!("12"));
        assert_eq!(
            form_value("checkbox", &["a".into(), "b".into()]),
            serde_json::json!(["a", "b"])
        );
        assert_eq!(form_value("multiselect", &[]), serde_json::json!([]));
        assert_eq!(form_value("radio", &[]), serde_json::json!(""));
        assert!(is_blank(&serde_json::json!("  ")) && is_blank(&serde_json::json!([])));
    }

    #[test]
    fn stored_numbers_read_as_typed() {
        assert_eq!(raw_values(Some(&serde_json::json!(5.0))), ["5"]);
        assert_eq!(raw_values(Some(&serde_json::json!(0.25))), ["0.25"]);
        assert_eq!(raw_values(Some(&serde_json::json!(["a", "b"]))), ["a", "b"]);
    }

    #[test]
    fn only_known_notices_are_shown() {
        assert!(notice_for(Some("review")).is_some());
        assert!(notice_for(Some("<script>")).is_none());
        assert!(notice_for(None).is_none());
    }
}
