//! Findings: the list (`/findings`, filters by severity, status, assignee and
//! overdue in the URL) and a finding's page: its description, resolution and
//! comments as Markdown (sanitized, see [`super::markdown`]), @mentions, files
//! with their SHA-256, status changes (a resolution needs a note; closing belongs
//! to the finding's approver, and the page says so), and waivers (granted with a
//! justification and an expiry, revoked).

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use charter_domain::BundleId;
use charter_domain::time::now_ms;
use charter_store::finding::{Finding, FindingStatus};
use serde::Deserialize;

use super::markdown;
use super::notebook::AttachmentRow;
use super::present;
use super::{FormErrors, Htmx, Layout, SignedIn, UiError, When, form_problem, page_with_status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::governance::bundle::notebook::AttachmentView;
use crate::governance::finding::{self, FindingChanges, FindingFilter, WaiverInput};
use crate::governance::review;
use crate::state::AppState;

/// The list's filters, exactly as they appear in the page's URL.
#[derive(Debug, Default, Deserialize)]
pub struct FindingFilters {
    #[serde(default)]
    severity: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    assignee: String,
    /// `true` (a checked box sends `on`).
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    bundle: String,
}

impl FindingFilters {
    fn overdue(&self) -> bool {
        matches!(self.overdue.trim(), "true" | "on" | "1" | "yes")
    }

    fn is_empty(&self) -> bool {
        [&self.severity, &self.status, &self.assignee, &self.bundle]
            .iter()
            .all(|v| v.trim().is_empty())
            && !self.overdue()
    }
}

/// A row of the findings table.
pub struct FindingRow {
    id: String,
    name: String,
    bundle_id: String,
    bundle: String,
    stage: String,
    severity: String,
    severity_label: &'static str,
    status: String,
    status_label: &'static str,
    assignee: Option<String>,
    due: Option<When>,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "finding/list.html")]
struct FindingsPage {
    layout: Layout,
    filters: FindingFilters,
    overdue: bool,
    errors: FormErrors,
    rows: Vec<FindingRow>,
    filtered: bool,
    bundle_name: Option<String>,
    severities: [&'static str; 4],
    statuses: [(&'static str, &'static str); 5],
}

const STATUSES: [(&str, &str); 5] = [
    ("open", "Open"),
    ("in_progress", "In progress"),
    ("resolved", "Resolved"),
    ("wont_do", "Won't do"),
    ("closed", "Closed"),
];

/// `GET /findings`: the findings the caller may read, filtered by the URL.
pub async fn page_findings(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Query(filters): Query<FindingFilters>,
) -> Result<Response, UiError> {
    let opt = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    let now = now_ms();
    let found = async {
        let filter = FindingFilter::parse(
            &state,
            &caller.user,
            opt(&filters.bundle).as_deref(),
            opt(&filters.severity).as_deref(),
            opt(&filters.status).as_deref(),
            opt(&filters.assignee).as_deref(),
            Some(filters.overdue()),
        )
        .await?;
        finding::list(&state, &caller.user, &filter, now).await
    }
    .await;
    let (findings, errors) = match found {
        Ok(f) => (f, FormErrors::default()),
        Err(e) => {
            let fields = ["severity", "status", "assignee", "bundle"];
            (Vec::new(), FormErrors::from_message(form_problem(e)?, &fields, &[]))
        }
    };
    let names = review::usernames(&state).await?;
    let mut bundles: HashMap<BundleId, String> = HashMap::new();
    let mut rows = Vec::new();
    for f in &findings {
        if let std::collections::hash_map::Entry::Vacant(slot) = bundles.entry(f.bundle_id) {
            let b = state.store.bundle(f.bundle_id).await.map_err(ApiError::from)?;
            slot.insert(b.name);
        }
        rows.push(FindingRow {
            id: f.id.to_string(),
            name: f.name.clone(),
            bundle_id: f.bundle_id.to_string(),
            bundle: bundles.get(&f.bundle_id).cloned().unwrap_or_default(),
            stage: f.stage.clone(),
            severity: f.severity.as_str().to_owned(),
            severity_label: present::severity(f.severity.as_str()),
            status: f.status.as_str().to_owned(),
            status_label: present::finding_status(f.status.as_str()),
            assignee: f.assignee_id.and_then(|a| names.get(&a).cloned()),
            due: f.due_at.map(When::from_ms),
            overdue: f.is_overdue(now),
        });
    }
    let bundle_name = match opt(&filters.bundle) {
        Some(id) => crate::governance::bundle::find(&state, &id).await.ok().map(|b| b.name),
        None => None,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = FindingsPage {
        layout: Layout::new(Some(&caller), "findings", "Findings"),
        overdue: filters.overdue(),
        filtered: !filters.is_empty(),
        filters,
        errors,
        rows,
        bundle_name,
        severities: ["low", "medium", "high", "critical"],
        statuses: STATUSES,
    };
    Ok(page_with_status(status, page.render()?))
}

/// A comment as the page shows it.
pub struct CommentView {
    author: String,
    at: When,
    html: String,
}

/// A waiver of the finding.
pub struct WaiverView {
    id: String,
    status: String,
    approver: String,
    by: String,
    justification_html: String,
    expires: When,
    may_revoke: bool,
}

/// The forms of a finding's page, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct FindingForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    resolution: String,
    #[serde(default)]
    assignee: Option<String>,
    #[serde(default)]
    due_date: Option<String>,
    #[serde(default)]
    severity: Option<String>,
}

/// The comment form.
#[derive(Debug, Default, Deserialize)]
pub struct CommentForm {
    #[serde(default)]
    body: String,
}

/// The waiver form.
#[derive(Debug, Default, Deserialize)]
pub struct WaiverForm {
    #[serde(default)]
    justification: String,
    #[serde(default)]
    expires_at: String,
    #[serde(default)]
    approver: String,
}

#[derive(Template)]
#[template(path = "finding/page.html", blocks = ["attachments_panel"])]
pub struct FindingPage {
    layout: Layout,
    id: String,
    name: String,
    severity: String,
    severity_label: &'static str,
    status: String,
    status_label: &'static str,
    bundle_id: String,
    bundle_name: String,
    stage: String,
    approval: Option<(String, String)>,
    assignee: Option<String>,
    approver: Option<String>,
    due: Option<When>,
    due_value: String,
    overdue: bool,
    created: When,
    created_by: String,
    description_html: String,
    resolution_html: String,
    unresolved: bool,
    comments: Vec<CommentView>,
    attachments: Vec<AttachmentRow>,
    waivers: Vec<WaiverView>,
    can_write: bool,
    is_approver: bool,
    statuses: Vec<(&'static str, &'static str)>,
    severities: [&'static str; 4],
    may_attach: bool,
    // Forms as typed, and their problems.
    form: FindingForm,
    status_errors: FormErrors,
    details_errors: FormErrors,
    comment: String,
    comment_errors: FormErrors,
    waiver: WaiverForm,
    waiver_errors: FormErrors,
    revoke_error: Option<String>,
    notice: Option<&'static str>,
}

fn notice_for(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Finding logged.",
        "updated" => "Finding updated.",
        "commented" => "Comment posted. Everyone @mentioned has a task.",
        "waived" => "Waiver granted: the finding is set aside until the waiver expires or is revoked.",
        "revoked" => "Waiver revoked: the finding is open again.",
        _ => return None,
    })
}

impl FindingPage {
    async fn build(state: &AppState, caller: &Caller, f: &Finding) -> Result<Self, UiError> {
        let b = state.store.bundle(f.bundle_id).await.map_err(ApiError::from)?;
        let names = review::usernames(state).await?;
        let name = |id: Option<charter_domain::UserId>| id.and_then(|u| names.get(&u).cloned());
        let id_names: HashMap<String, String> = names.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let comments = state
            .store
            .comments(f.id)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|c| CommentView {
                author: names.get(&c.author_id).cloned().unwrap_or_default(),
                at: When::from_ms(c.created_at),
                html: markdown::render(&c.body),
            })
            .collect();
        let attachments = finding::attachments(state, f)
            .await?
            .iter()
            .map(|a| AttachmentRow::new(&AttachmentView::from(a), &id_names))
            .collect();
        let is_gov = caller.user.role.is_governance_admin();
        let waivers = finding::waivers(state, &caller.user, &b)
            .await?
            .into_iter()
            .filter(|w| w.finding_id == Some(f.id))
            .map(|w| WaiverView {
                id: w.id.to_string(),
                may_revoke: w.status == "active" && (w.approver_id == caller.user.id || is_gov),
                status: w.status.clone(),
                approver: names.get(&w.approver_id).cloned().unwrap_or_default(),
                by: names.get(&w.created_by).cloned().unwrap_or_default(),
                justification_html: markdown::render(&w.justification),
                expires: When::from_ms(w.expires_at),
            })
            .collect();
        let approval = match f.approval_id {
            Some(a) => state.store.approval(a).await.ok().map(|a| (a.id.to_string(), a.name)),
            None => None,
        };
        let is_approver = f.approver_id == Some(caller.user.id) || (f.approver_id.is_none() && is_gov);
        let can_write = caller.user.role.can_write();
        let now = now_ms();
        Ok(Self {
            layout: Layout::new(Some(caller), "findings", f.name.clone()),
            id: f.id.to_string(),
            name: f.name.clone(),
            severity: f.severity.as_str().to_owned(),
            severity_label: present::severity(f.severity.as_str()),
            status: f.status.as_str().to_owned(),
            status_label: present::finding_status(f.status.as_str()),
            bundle_id: b.id.to_string(),
            bundle_name: b.name.clone(),
            stage: f.stage.clone(),
            approval,
            assignee: name(f.assignee_id),
            approver: name(f.approver_id),
            due: f.due_at.map(When::from_ms),
            due_value: f
                .due_at
                .map(|d| charter_domain::time::rfc3339(d).chars().take(10).collect())
                .unwrap_or_default(),
            overdue: f.is_overdue(now),
            created: When::from_ms(f.created_at),
            created_by: names.get(&f.created_by).cloned().unwrap_or_default(),
            description_html: markdown::render(&f.description),
            resolution_html: markdown::render(&f.resolution),
            unresolved: f.status.is_unresolved(),
            comments,
            attachments,
            waivers,
            can_write,
            is_approver,
            statuses: STATUSES
                .iter()
                .copied()
                .filter(|(s, _)| *s != "closed" || is_approver || f.status == FindingStatus::Closed)
                .collect(),
            severities: ["low", "medium", "high", "critical"],
            may_attach: can_write && b.state != charter_store::bundle::BundleState::Archived,
            form: FindingForm {
                status: f.status.as_str().to_owned(),
                resolution: f.resolution.clone(),
                assignee: name(f.assignee_id),
                due_date: None,
                severity: Some(f.severity.as_str().to_owned()),
            },
            status_errors: FormErrors::default(),
            details_errors: FormErrors::default(),
            comment: String::new(),
            comment_errors: FormErrors::default(),
            waiver: WaiverForm::default(),
            waiver_errors: FormErrors::default(),
            revoke_error: None,
            notice: None,
        })
    }
}

/// What the last form did.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /findings/{id}`. htmx requests aimed at `#finding-attachments` get the
/// files panel alone (refreshed after an upload).
pub async fn page_finding(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    htmx: Htmx,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Html<String>, UiError> {
    let (f, _) = finding::find_for(&state, &caller.user, &id).await?;
    let mut page = FindingPage::build(&state, &caller, &f).await?;
    page.notice = notice_for(q.done.as_deref());
    if htmx.targets("finding-attachments") {
        return Ok(Html(page.as_attachments_panel().render()?));
    }
    Ok(Html(page.render()?))
}

/// A problem to show next to its form; refusals (403) are explained there too.
fn inline(e: ApiError) -> Result<String, UiError> {
    if e.status == StatusCode::FORBIDDEN {
        return Ok(e.message);
    }
    form_problem(e)
}

/// `POST /findings/{id}`: change the status (with a resolution note), or the
/// assignee, due date and severity.
pub async fn form_update_finding(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<FindingForm>,
) -> Result<Response, UiError> {
    let (f, b) = finding::find_for(&state, &caller.user, &id).await?;
    let details = form.severity.is_some() || form.due_date.is_some() || form.assignee.is_some();
    let changes = if details {
        FindingChanges {
            assignee: form.assignee.clone(),
            due_date: form.due_date.clone(),
            severity: form.severity.clone(),
            ..FindingChanges::default()
        }
    } else {
        FindingChanges {
            status: Some(form.status.clone()),
            // A note belongs to a settled finding; re-opening clears it.
            resolution: (!matches!(form.status.as_str(), "open" | "in_progress")).then(|| form.resolution.clone()),
            ..FindingChanges::default()
        }
    };
    match finding::update(&state, &caller.audit(), &caller.user, &f, &b, changes).await {
        Ok(_) => Ok(Redirect::to(&format!("/findings/{id}?done=updated")).into_response()),
        Err(e) => {
            let message = inline(e)?;
            let mut page = FindingPage::build(&state, &caller, &f).await?;
            if details {
                page.details_errors = FormErrors::from_message(message, &["assignee", "due_date", "severity"], &[]);
                page.form.assignee = form.assignee;
                page.form.severity = form.severity;
                page.due_value = form.due_date.unwrap_or_default();
            } else {
                page.status_errors = FormErrors::from_message(message, &["status", "resolution"], &[]);
                page.form.status = form.status;
                page.form.resolution = form.resolution;
            }
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// `POST /findings/{id}/comments`: comment in Markdown; `@username` gives that
/// person a task.
pub async fn form_comment(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CommentForm>,
) -> Result<Response, UiError> {
    let (f, _) = finding::find_for(&state, &caller.user, &id).await?;
    match finding::comment(&state, &caller.audit(), &caller.user, &f, &form.body).await {
        Ok(_) => Ok(Redirect::to(&format!("/findings/{id}?done=commented#comments")).into_response()),
        Err(e) => {
            let message = inline(e)?;
            let mut page = FindingPage::build(&state, &caller, &f).await?;
            page.comment_errors = FormErrors::from_message(message, &["body"], &[]);
            page.comment = form.body;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// `POST /findings/{id}/waivers`: set the finding aside until an expiry, with a
/// justification.
pub async fn form_grant_waiver(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<WaiverForm>,
) -> Result<Response, UiError> {
    let (f, b) = finding::find_for(&state, &caller.user, &id).await?;
    let input = WaiverInput {
        finding: Some(f.id.to_string()),
        justification: form.justification.clone(),
        approver: Some(form.approver.trim().to_owned()).filter(|a| !a.is_empty()),
        expires_at: form.expires_at.clone(),
    };
    match finding::grant_waiver(&state, &caller.audit(), &caller.user, &b, input).await {
        Ok(_) => Ok(Redirect::to(&format!("/findings/{id}?done=waived")).into_response()),
        Err(e) => {
            let message = inline(e)?;
            let mut page = FindingPage::build(&state, &caller, &f).await?;
            page.waiver_errors = FormErrors::from_message(message, &["justification", "expires_at", "approver"], &[]);
            page.waiver = form;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// `POST /waivers/{id}/revoke`: end a waiver; its finding opens again.
pub async fn form_revoke_waiver(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let w = finding::find_waiver(&state, &id).await?;
    let b = state.store.bundle(w.bundle_id).await.map_err(ApiError::from)?;
    review::require_read(&state, &caller.user, &b).await?;
    let back = match w.finding_id {
        Some(f) => format!("/findings/{f}"),
        None => format!("/bundles/{}", b.id),
    };
    match finding::revoke_waiver(&state, &caller.audit(), &caller.user, &w).await {
        Ok(_) => Ok(Redirect::to(&format!("{back}?done=revoked")).into_response()),
        Err(e) => {
            let message = inline(e)?;
            let Some(fid) = w.finding_id else {
                return Err(UiError {
                    status: StatusCode::CONFLICT,
                    message,
                });
            };
            let f = state.store.finding(fid).await.map_err(ApiError::from)?;
            let mut page = FindingPage::build(&state, &caller, &f).await?;
            page.revoke_error = Some(message);
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overdue_box_reads_as_a_flag() {
        let f = FindingFilters {
            overdue: "on".into(),
            ..FindingFilters::default()
        };
        assert!(f.overdue() && !f.is_empty());
        assert!(FindingFilters::default().is_empty());
    }
}
