//! Policy pages: the list with versions and states, one policy's versions (publish,
//! retire, diff), a version read-only, and the editor — YAML in CodeMirror with the
//! lint findings (line:col, click to jump), a form preview and a graph beside it,
//! checked as you type through `POST /policies/check`.
//!
//! Everyone signed in reads; governance admins (and admins) create, save drafts,
//! publish and retire, through the same service functions as the JSON API
//! (`governance::policy`), so lint, audit events and the immutability of published
//! versions are the API's. Without JavaScript the editor is a textarea whose
//! "Check" button renders the same panels with the page.

pub mod graph;
pub mod preview;

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use charter_domain::policy::LintReport;
use charter_store::policy::{Policy as StoredPolicy, PolicyVersion, VersionStatus};
use serde::Deserialize;

use self::graph::PolicyGraph;
use self::preview::{Preview, PreviewItem};
use super::{FormErrors, Layout, SignedIn, UiError, When, form_problem, page_with_status};
use crate::auth::{Caller, GovernanceAdmin};
use crate::error::ApiError;
use crate::governance::policy;
use crate::state::AppState;

/// A starting point for a new policy: one stage, one set, one approval, one gate.
const NEW_POLICY_YAML: &str = r#"# A new policy. The panels beside the editor check it as you type.
enforceSequentialOrder: true
classification:
  rule: 'has(inputs.personal_data) && inputs.personal_data == "Yes" ? "High" : "Low"'
  artifacts: [personal_data]
stages:
  - name: Intake
    evidenceSet:
      - id: Local.use-case
        name: Use case
        definition:
          - artifactType: input
            id: purpose
            details: {type: textarea, label: What does the model do?}
          - artifactType: input
            aliasForClassification: personal_data
            details: {type: radio, label: Does it use personal data?, options: ["Yes", "No"]}
    approvals:
      - name: Intake review
        approvers: [admin]
gates:
  - name: Production
    rules: [{action: start_app}]
    approvals: [Intake review]
"#;

/// A version as a chip in lists: `v2 published`.
pub struct VersionChip {
    pub version: i64,
    pub status: &'static str,
}

struct PolicyRow {
    id: String,
    name: String,
    description: String,
    versions: Vec<VersionChip>,
    published: Option<i64>,
    draft: Option<i64>,
    updated: When,
}

#[derive(Template)]
#[template(path = "policy/list.html")]
struct PoliciesPage {
    layout: Layout,
    rows: Vec<PolicyRow>,
    can_edit: bool,
}

/// `GET /policies`: every policy with its versions and their states.
pub async fn page_policies(State(state): State<AppState>, SignedIn(caller): SignedIn) -> Result<Html<String>, UiError> {
    let all = policy::list(&state).await?;
    let rows = all
        .iter()
        .map(|(p, versions)| PolicyRow {
            id: p.id.to_string(),
            name: p.name.clone(),
            description: p.description.clone(),
            versions: versions
                .iter()
                .map(|v| VersionChip {
                    version: v.version,
                    status: v.status.as_str(),
                })
                .collect(),
            published: versions
                .iter()
                .rev()
                .find(|v| v.status == VersionStatus::Published)
                .map(|v| v.version),
            draft: versions
                .iter()
                .find(|v| v.status == VersionStatus::Draft)
                .map(|v| v.version),
            updated: When::from_ms(versions.iter().map(|v| v.updated_at).max().unwrap_or(p.created_at)),
        })
        .collect();
    let page = PoliciesPage {
        layout: Layout::new(Some(&caller), "policies", "Policies"),
        can_edit: caller.user.role.is_governance_admin(),
        rows,
    };
    Ok(Html(page.render()?))
}

/// A lint finding as the problems panel shows it.
pub struct DiagRow {
    pub error: bool,
    pub code: String,
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// The live panels beside the editor (and under a version): problems, the form
/// preview, the graph.
pub struct Panels {
    /// Whether anything was checked (an untouched new-policy form has not been).
    pub checked: bool,
    pub diagnostics: Vec<DiagRow>,
    pub errors: usize,
    pub warnings: usize,
    pub preview: Option<Preview>,
    pub graph: Option<PolicyGraph>,
}

impl Panels {
    fn of(report: &LintReport, title: &str) -> Self {
        let diagnostics: Vec<DiagRow> = report
            .diagnostics
            .iter()
            .map(|d| DiagRow {
                error: d.is_error(),
                code: d.code.to_owned(),
                message: d.message.clone(),
                line: d.line,
                column: d.column,
            })
            .collect();
        let errors = diagnostics.iter().filter(|d| d.error).count();
        Self {
            checked: true,
            warnings: diagnostics.len() - errors,
            errors,
            diagnostics,
            preview: report.policy.as_ref().map(Preview::of),
            graph: report
                .policy
                .as_ref()
                .map(|p| graph::graph(p, &format!("{title}: stages, evidence, approvals and gates"))),
        }
    }

    async fn check(state: &AppState, yaml: &str, title: &str) -> Result<Self, UiError> {
        let report = policy::lint(state, yaml).await?;
        Ok(Self::of(&report, title))
    }
}

/// Lines of YAML, numbered, for the read-only view.
struct YamlLine {
    n: usize,
    text: String,
}

fn numbered(yaml: &str) -> Vec<YamlLine> {
    yaml.lines()
        .enumerate()
        .map(|(i, l)| YamlLine {
            n: i + 1,
            text: l.to_owned(),
        })
        .collect()
}

/// A version as the versions table shows it.
struct VersionRow {
    version: i64,
    status: &'static str,
    created: When,
    created_by: String,
    published: Option<When>,
    published_by: String,
    retired: Option<When>,
}

#[derive(Template)]
#[template(path = "policy/show.html")]
struct PolicyPage {
    layout: Layout,
    id: String,
    name: String,
    description: String,
    versions: Vec<VersionRow>,
    draft: Option<i64>,
    can_edit: bool,
    notice: Option<String>,
    /// A refused publish or retire: which version, and the API's words.
    error: Option<(i64, String)>,
    /// Diff form defaults.
    diff_from: i64,
    diff_to: i64,
}

#[derive(Deserialize, Default)]
pub struct NoticeQuery {
    published: Option<i64>,
    retired: Option<i64>,
    created: Option<i64>,
}

async fn usernames(state: &AppState) -> Result<HashMap<String, String>, UiError> {
    Ok(state
        .store
        .users()
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|u| (u.id.to_string(), u.username))
        .collect())
}

async fn policy_page(
    state: &AppState,
    caller: &Caller,
    p: &StoredPolicy,
    notice: Option<String>,
    error: Option<(i64, String)>,
) -> Result<PolicyPage, UiError> {
    let versions = state.store.policy_versions(p.id).await.map_err(ApiError::from)?;
    let names = usernames(state).await?;
    let name_of = |id: Option<String>| id.and_then(|i| names.get(&i).cloned()).unwrap_or_default();
    let latest = versions.last().map_or(1, |v| v.version);
    Ok(PolicyPage {
        layout: Layout::new(Some(caller), "policies", p.name.clone()),
        id: p.id.to_string(),
        name: p.name.clone(),
        description: p.description.clone(),
        draft: versions
            .iter()
            .find(|v| v.status == VersionStatus::Draft)
            .map(|v| v.version),
        versions: versions
            .iter()
            .rev()
            .map(|v| VersionRow {
                version: v.version,
                status: v.status.as_str(),
                created: When::from_ms(v.created_at),
                created_by: name_of(Some(v.created_by.to_string())),
                published: v.published_at.map(When::from_ms),
                published_by: name_of(v.published_by.map(|u| u.to_string())),
                retired: v.retired_at.map(When::from_ms),
            })
            .collect(),
        can_edit: caller.user.role.is_governance_admin(),
        notice,
        error,
        diff_from: (latest - 1).max(1),
        diff_to: latest,
    })
}

/// `GET /policies/{id}`: a policy's versions, with publish/retire for governance
/// admins and a diff of any two versions.
pub async fn page_policy(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, UiError> {
    let p = policy::find(&state, &id).await?;
    let notice = match (q.created, q.published, q.retired) {
        (Some(v), _, _) => Some(format!("Saved draft version {v}.")),
        (_, Some(v), _) => Some(format!("Published version {v}: new bundles follow it.")),
        (_, _, Some(v)) => Some(format!(
            "Retired version {v}: no new bundles follow it; bundles on it stay."
        )),
        _ => None,
    };
    let page = policy_page(&state, &caller, &p, notice, None).await?;
    Ok(Html(page.render()?))
}

#[derive(Template)]
#[template(path = "policy/version.html")]
struct VersionPage {
    layout: Layout,
    id: String,
    name: String,
    version: i64,
    status: &'static str,
    sha256: String,
    lines: Vec<YamlLine>,
    panels: Panels,
    can_edit: bool,
}

/// `GET /policies/{id}/versions/{v}`: one version read-only — its YAML with line
/// numbers, its lint warnings, form preview and graph.
pub async fn page_version(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path((id, v)): Path<(String, String)>,
) -> Result<Html<String>, UiError> {
    let p = policy::find(&state, &id).await?;
    let version = policy::find_version(&state, &p, v.trim()).await?;
    let panels = Panels::check(&state, &version.yaml, &p.name).await?;
    let page = VersionPage {
        layout: Layout::new(Some(&caller), "policies", format!("{} v{}", p.name, version.version)),
        id: p.id.to_string(),
        name: p.name.clone(),
        version: version.version,
        status: version.status.as_str(),
        sha256: version.yaml_sha256.clone(),
        lines: numbered(&version.yaml),
        panels,
        can_edit: caller.user.role.is_governance_admin(),
    };
    Ok(Html(page.render()?))
}

/// What the editor is editing.
enum Editing {
    /// A new policy (`POST /policies` creates it).
    New,
    /// The draft `version` of a policy.
    Draft { version: i64 },
    /// A new draft, starting from the newest version `from`.
    NextDraft { from: i64 },
}

#[derive(Template)]
#[template(path = "policy/edit.html")]
struct EditPage {
    layout: Layout,
    /// `pol_…` (empty for a new policy).
    id: String,
    name: String,
    description: String,
    yaml: String,
    /// What the heading says about the version edited.
    editing_text: String,
    /// The draft version the form saves onto (sent back as `version`).
    edited_version: Option<i64>,
    is_new: bool,
    panels: Panels,
    errors: FormErrors,
    notice: Option<String>,
    /// The saved draft that can be published now.
    publishable: Option<i64>,
    /// A refused publish: the API's words.
    publish_error: Option<String>,
    action: String,
}

impl EditPage {
    fn new(caller: &Caller, p: Option<&StoredPolicy>, editing: &Editing, yaml: String, panels: Panels) -> Self {
        let (title, editing_text, edited_version, publishable) = match (p, editing) {
            (Some(p), Editing::Draft { version }) => (
                format!("Edit {}", p.name),
                format!("Draft version {version}"),
                Some(*version),
                Some(*version),
            ),
            (Some(p), Editing::NextDraft { from }) => (
                format!("Edit {}", p.name),
                format!("A new draft, starting from version {from}"),
                None,
                None,
            ),
            _ => ("New policy".to_owned(), "Version 1, a draft".to_owned(), None, None),
        };
        Self {
            layout: Layout::new(Some(caller), "policies", title),
            id: p.map(|p| p.id.to_string()).unwrap_or_default(),
            name: p.map(|p| p.name.clone()).unwrap_or_default(),
            description: p.map(|p| p.description.clone()).unwrap_or_default(),
            yaml,
            editing_text,
            edited_version,
            is_new: p.is_none(),
            panels,
            errors: FormErrors::default(),
            notice: None,
            publishable,
            publish_error: None,
            action: p.map_or_else(|| "/policies".to_owned(), |p| format!("/policies/{}/edit", p.id)),
        }
    }

    fn title(&self) -> &str {
        if self.name.is_empty() { "New policy" } else { &self.name }
    }
}

/// What the editor of `p` starts from: its draft, or a new draft from its newest version.
async fn editing(state: &AppState, p: &StoredPolicy) -> Result<(Editing, String), UiError> {
    let versions = state.store.policy_versions(p.id).await.map_err(ApiError::from)?;
    if let Some(d) = versions.iter().find(|v| v.status == VersionStatus::Draft) {
        return Ok((Editing::Draft { version: d.version }, d.yaml.clone()));
    }
    let latest: &PolicyVersion = versions
        .last()
        .ok_or_else(|| UiError::from(ApiError::not_found(format!("policy `{}` has no versions", p.name))))?;
    Ok((Editing::NextDraft { from: latest.version }, latest.yaml.clone()))
}

#[derive(Deserialize, Default)]
pub struct EditQuery {
    saved: Option<i64>,
}

/// `GET /policies/new`: the editor for a new policy (governance admins).
pub async fn page_new_policy(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
) -> Result<Html<String>, UiError> {
    let panels = Panels::check(&state, NEW_POLICY_YAML, "New policy").await?;
    let page = EditPage::new(gov.caller(), None, &Editing::New, NEW_POLICY_YAML.to_owned(), panels);
    Ok(Html(page.render()?))
}

/// `GET /policies/{id}/edit`: the editor on the policy's draft, or on a new draft
/// that starts from the newest version (governance admins).
pub async fn page_edit(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
    Path(id): Path<String>,
    Query(q): Query<EditQuery>,
) -> Result<Html<String>, UiError> {
    let p = policy::find(&state, &id).await?;
    let (editing, yaml) = editing(&state, &p).await?;
    let panels = Panels::check(&state, &yaml, &p.name).await?;
    let mut page = EditPage::new(gov.caller(), Some(&p), &editing, yaml, panels);
    page.notice = q
        .saved
        .map(|v| format!("Saved draft version {v}. Publish it when it is ready."));
    Ok(Html(page.render()?))
}

/// The editor's form.
#[derive(Deserialize, Default)]
pub struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    yaml: String,
    /// The draft version edited, when there was one.
    #[serde(default)]
    version: Option<String>,
    /// `check` (render the panels) or `save` (the default).
    #[serde(default)]
    intent: String,
}

impl EditForm {
    /// Browsers send CRLF line ends from textareas; the YAML is stored as people typed it.
    fn yaml(&self) -> String {
        self.yaml.replace("\r\n", "\n")
    }

    fn version(&self) -> Option<i64> {
        self.version.as_deref().and_then(|v| v.trim().parse().ok())
    }
}

const EDIT_FIELDS: [&str; 3] = ["name", "description", "yaml"];
const EDIT_ALIASES: [(&str, &str); 3] = [("a policy named", "name"), ("the policy has", "yaml"), ("yaml", "yaml")];

/// `POST /policies`: create a policy (version 1, a draft), or with `intent=check`
/// show the panels for the text as it is.
pub async fn form_create_policy(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
    Form(form): Form<EditForm>,
) -> Result<Response, UiError> {
    let caller = gov.caller();
    let yaml = form.yaml();
    let title = if form.name.trim().is_empty() {
        "New policy"
    } else {
        form.name.trim()
    };
    let panels = Panels::check(&state, &yaml, title).await?;
    let mut page = EditPage::new(caller, None, &Editing::New, yaml.clone(), panels);
    page.name = form.name.clone();
    page.description = form.description.clone();
    if form.intent == "check" {
        return Ok(page_with_status(StatusCode::OK, page.render()?));
    }
    match policy::create_linted(
        &state,
        &caller.audit(),
        &caller.user,
        &form.name,
        &form.description,
        &yaml,
    )
    .await
    {
        Ok((p, v, _)) => Ok(Redirect::to(&format!("/policies/{}/edit?saved={}", p.id, v.version)).into_response()),
        Err(e) => {
            page.errors = FormErrors::from_message(form_problem(e)?, &EDIT_FIELDS, &EDIT_ALIASES);
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// `POST /policies/{id}/edit`: save the draft (or start one), or with
/// `intent=check` show the panels for the text as it is.
pub async fn form_save_draft(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> Result<Response, UiError> {
    let caller = gov.caller();
    let p = policy::find(&state, &id).await?;
    let yaml = form.yaml();
    let panels = Panels::check(&state, &yaml, &p.name).await?;
    let editing = match form.version() {
        Some(version) => Editing::Draft { version },
        None => editing(&state, &p).await?.0,
    };
    let mut page = EditPage::new(caller, Some(&p), &editing, yaml.clone(), panels);
    page.publishable = None;
    if form.intent == "check" {
        return Ok(page_with_status(StatusCode::OK, page.render()?));
    }
    match policy::save_onto(&state, &caller.audit(), &caller.user, &p, &yaml, form.version()).await {
        Ok(saved) => {
            Ok(Redirect::to(&format!("/policies/{}/edit?saved={}", p.id, saved.version.version)).into_response())
        }
        Err(e) => {
            page.errors = FormErrors::from_message(form_problem(e)?, &EDIT_FIELDS, &EDIT_ALIASES);
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

#[derive(Deserialize, Default)]
pub struct CheckForm {
    #[serde(default)]
    yaml: String,
    #[serde(default)]
    title: String,
}

#[derive(Template)]
#[template(path = "policy/check.html")]
struct CheckPartial {
    panels: Panels,
}

/// `POST /policies/check`: the problems, preview and graph panels for the YAML in
/// the body, as HTML for the editor to swap in (anyone signed in: linting reads
/// nothing but the list of user and group names, like `POST /api/v1/policies/lint`).
pub async fn form_check(
    State(state): State<AppState>,
    SignedIn(_caller): SignedIn,
    Form(form): Form<CheckForm>,
) -> Result<Html<String>, UiError> {
    let title = if form.title.trim().is_empty() {
        "Policy"
    } else {
        form.title.trim()
    };
    let panels = Panels::check(&state, &form.yaml.replace("\r\n", "\n"), title).await?;
    Ok(Html(CheckPartial { panels }.render()?))
}

/// `POST /policies/{id}/versions/{v}/publish`.
pub async fn form_publish(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
    Path((id, v)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let caller = gov.caller();
    let p = policy::find(&state, &id).await?;
    let version = policy::find_version(&state, &p, v.trim()).await?;
    match policy::publish(&state, &caller.audit(), &caller.user, &version).await {
        Ok(v) => Ok(Redirect::to(&format!("/policies/{}?published={}", p.id, v.version)).into_response()),
        Err(e) => {
            let message = form_problem(e)?;
            let page = policy_page(&state, caller, &p, None, Some((version.version, message))).await?;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// `POST /policies/{id}/versions/{v}/retire`.
pub async fn form_retire(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
    Path((id, v)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let caller = gov.caller();
    let p = policy::find(&state, &id).await?;
    let version = policy::find_version(&state, &p, v.trim()).await?;
    match policy::retire(&state, &caller.audit(), &caller.user, &version).await {
        Ok(v) => Ok(Redirect::to(&format!("/policies/{}?retired={}", p.id, v.version)).into_response()),
        Err(e) => {
            let message = form_problem(e)?;
            let page = policy_page(&state, caller, &p, None, Some((version.version, message))).await?;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

#[derive(Deserialize, Default)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

struct DiffChange {
    subject: &'static str,
    kind: &'static str,
    id: String,
    title: String,
    fields: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "policy/diff.html")]
struct DiffPage {
    layout: Layout,
    id: String,
    name: String,
    versions: Vec<VersionChip>,
    from: i64,
    to: i64,
    changes: Vec<DiffChange>,
    error: Option<String>,
}

/// `GET /policies/{id}/diff?from=1&to=2`: what changed between two versions.
pub async fn page_diff(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Response, UiError> {
    use charter_domain::policy::{ChangeKind, Subject};
    let p = policy::find(&state, &id).await?;
    let versions = state.store.policy_versions(p.id).await.map_err(ApiError::from)?;
    let latest = versions.last().map_or(1, |v| v.version);
    let pick = |text: Option<&str>, default: i64| -> Result<i64, String> {
        match text.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(default),
            Some(t) => t
                .trim_start_matches('v')
                .parse()
                .map_err(|_| format!("`{t}` is not a version number")),
        }
    };
    let mut page = DiffPage {
        layout: Layout::new(Some(&caller), "policies", format!("{}: changes", p.name)),
        id: p.id.to_string(),
        name: p.name.clone(),
        versions: versions
            .iter()
            .map(|v| VersionChip {
                version: v.version,
                status: v.status.as_str(),
            })
            .collect(),
        from: (latest - 1).max(1),
        to: latest,
        changes: Vec::new(),
        error: None,
    };
    let picked = pick(q.from.as_deref(), page.from).and_then(|f| pick(q.to.as_deref(), page.to).map(|t| (f, t)));
    let (from, to) = match picked {
        Ok(pair) => pair,
        Err(e) => {
            page.error = Some(e);
            return Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?));
        }
    };
    page.from = from;
    page.to = to;
    let find = |n: i64| {
        versions
            .iter()
            .find(|v| v.version == n)
            .ok_or_else(|| format!("policy `{}` has no version {n}", p.name))
    };
    let (old, new) = match find(from).and_then(|o| find(to).map(|n| (o, n))) {
        Ok(pair) => pair,
        Err(e) => {
            page.error = Some(e);
            return Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?));
        }
    };
    let diff = policy::diff_structured(&state, old, new)?;
    page.changes = diff
        .changes
        .iter()
        .map(|c| DiffChange {
            subject: match c.subject {
                Subject::Policy => "Policy",
                Subject::Classification => "Classification",
                Subject::Stage => "Stage",
                Subject::EvidenceSet => "Evidence set",
                Subject::Question => "Question",
                Subject::Approval => "Approval",
                Subject::Gate => "Gate",
            },
            kind: match c.kind {
                ChangeKind::Added => "added",
                ChangeKind::Removed => "removed",
                ChangeKind::Changed => "changed",
            },
            id: c.id.clone(),
            title: c.title.clone(),
            fields: c
                .fields
                .iter()
                .map(|f| (f.field.clone(), f.before.clone(), f.after.clone()))
                .collect(),
        })
        .collect();
    Ok(page_with_status(StatusCode::OK, page.render()?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_new_policy_template_lints_clean_apart_from_its_approver() {
        let report = charter_domain::policy::lint(super::NEW_POLICY_YAML);
        assert!(
            !report.has_errors(),
            "{:?}",
            report.diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
    }
}
