//! Findings, their comments, and waivers. The rules live in
//! [`governance::finding`](crate::governance::finding).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::UserId;
use charter_domain::time::{Millis, now_ms, rfc3339};
use charter_store::finding::{Comment, Finding, Waiver};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiQuery, respond};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::governance::bundle::notebook::AttachmentView;
use crate::governance::finding::{self, FindingChanges, FindingFilter, FindingInput, WaiverInput};
use crate::governance::review::usernames;
use crate::state::AppState;

type Names = HashMap<UserId, String>;

fn name_of(names: &Names, id: Option<UserId>) -> Option<String> {
    id.map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FindingResponse {
    /// Stable id, `fnd_…`.
    pub id: String,
    pub bundle_id: String,
    pub policy_id: String,
    pub stage: String,
    /// The approval it is tied to (for a conditional approval: one of its conditions).
    pub approval_id: Option<String>,
    pub name: String,
    /// Markdown.
    pub description: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// `open`, `in_progress`, `resolved`, `wont_do` or `closed`.
    pub status: String,
    /// Username.
    pub assignee: Option<String>,
    pub assignee_id: Option<String>,
    /// Username of who closes it.
    pub approver: Option<String>,
    pub approver_id: Option<String>,
    pub due_date: Option<String>,
    /// Unresolved past its due date.
    pub overdue: bool,
    /// How it was resolved (Markdown).
    pub resolution: String,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

impl FindingResponse {
    pub fn new(f: &Finding, names: &Names, now: Millis) -> Self {
        Self {
            id: f.id.to_string(),
            bundle_id: f.bundle_id.to_string(),
            policy_id: f.policy_id.to_string(),
            stage: f.stage.clone(),
            approval_id: f.approval_id.map(|a| a.to_string()),
            name: f.name.clone(),
            description: f.description.clone(),
            severity: f.severity.as_str().to_owned(),
            status: f.status.as_str().to_owned(),
            assignee: name_of(names, f.assignee_id),
            assignee_id: f.assignee_id.map(|u| u.to_string()),
            approver: name_of(names, f.approver_id),
            approver_id: f.approver_id.map(|u| u.to_string()),
            due_date: f.due_at.map(rfc3339),
            overdue: f.is_overdue(now),
            resolution: f.resolution.clone(),
            created_by: name_of(names, Some(f.created_by)).unwrap_or_default(),
            created_at: rfc3339(f.created_at),
            updated_at: rfc3339(f.updated_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CommentResponse {
    /// Stable id, `cmt_…`.
    pub id: String,
    pub finding_id: String,
    /// Username.
    pub author: String,
    pub author_id: String,
    /// Markdown.
    pub body: String,
    pub created_at: String,
}

impl CommentResponse {
    pub fn new(c: &Comment, names: &Names) -> Self {
        Self {
            id: c.id.to_string(),
            finding_id: c.finding_id.to_string(),
            author: name_of(names, Some(c.author_id)).unwrap_or_default(),
            author_id: c.author_id.to_string(),
            body: c.body.clone(),
            created_at: rfc3339(c.created_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FindingDetailResponse {
    #[serde(flatten)]
    pub finding: FindingResponse,
    /// Oldest first.
    pub comments: Vec<CommentResponse>,
    /// Files uploaded to this finding (`POST /bundles/{id}/attachments/upload?finding=…`), oldest first.
    pub attachments: Vec<AttachmentView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedCommentResponse {
    pub comment: CommentResponse,
    /// Users `@mentioned` who got a task.
    pub notified: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FindingListQuery {
    /// Bundle id (`bdl_…`).
    pub bundle: Option<String>,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: Option<String>,
    /// `open`, `in_progress`, `resolved`, `wont_do` or `closed`.
    pub status: Option<String>,
    /// Username, user id or `me`.
    pub assignee: Option<String>,
    /// Only findings unresolved past their due date.
    pub overdue: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFindingRequest {
    /// Policy id or name; may be left out when the bundle follows one policy.
    pub policy: Option<String>,
    /// Stage name; defaults to the approval's stage, else the policy's current stage.
    pub stage: Option<String>,
    pub name: String,
    /// Markdown.
    #[serde(default)]
    pub description: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// Username or id of who works on it.
    pub assignee: Option<String>,
    /// Username or id of who closes it; defaults to you.
    pub approver: Option<String>,
    /// RFC 3339 or a date.
    pub due_date: Option<String>,
    /// The approval it is about: `apr_…` or the approval's name.
    pub approval: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFindingRequest {
    /// `open`, `in_progress`, `resolved` (needs a resolution), `wont_do` (needs a
    /// resolution) or `closed` (the finding's approver only).
    pub status: Option<String>,
    /// Markdown.
    pub resolution: Option<String>,
    /// Username or id; empty to unassign.
    pub assignee: Option<String>,
    /// RFC 3339 or a date; empty to clear.
    pub due_date: Option<String>,
    pub severity: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCommentRequest {
    /// Markdown; `@username` gives that user a task.
    pub body: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WaiverResponse {
    /// Stable id, `wvr_…`.
    pub id: String,
    pub bundle_id: String,
    /// The finding waived; absent for a waiver of the bundle as a whole.
    pub finding_id: Option<String>,
    pub justification: String,
    /// Username.
    pub approver: String,
    pub approver_id: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub expires_at: String,
    pub created_by: String,
    pub created_at: String,
}

impl WaiverResponse {
    pub fn new(w: &Waiver, names: &Names) -> Self {
        Self {
            id: w.id.to_string(),
            bundle_id: w.bundle_id.to_string(),
            finding_id: w.finding_id.map(|f| f.to_string()),
            justification: w.justification.clone(),
            approver: name_of(names, Some(w.approver_id)).unwrap_or_default(),
            approver_id: w.approver_id.to_string(),
            status: w.status.clone(),
            expires_at: rfc3339(w.expires_at),
            created_by: name_of(names, Some(w.created_by)).unwrap_or_default(),
            created_at: rfc3339(w.created_at),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWaiverRequest {
    /// The finding waived (`fnd_…`); leave out to waive for the bundle as a whole
    /// (governance admins only).
    pub finding: Option<String>,
    pub justification: String,
    /// Username or id of who approves the deviation; defaults to you.
    pub approver: Option<String>,
    /// RFC 3339 or a date; the finding re-opens then.
    pub expires_at: String,
}

#[utoipa::path(get, path = "/findings", tag = "findings", params(FindingListQuery),
    responses((status = 200, body = Vec<FindingResponse>), (status = 400, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_findings(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<FindingListQuery>,
) -> ApiResult<Json<Vec<FindingResponse>>> {
    let filter = FindingFilter::parse(
        &state,
        &caller.user,
        q.bundle.as_deref(),
        q.severity.as_deref(),
        q.status.as_deref(),
        q.assignee.as_deref(),
        q.overdue,
    )
    .await?;
    let now = now_ms();
    let findings = finding::list(&state, &caller.user, &filter, now).await?;
    let names = usernames(&state).await?;
    Ok(Json(
        findings.iter().map(|f| FindingResponse::new(f, &names, now)).collect(),
    ))
}

#[utoipa::path(post, path = "/bundles/{id}/findings", tag = "findings", request_body = CreateFindingRequest,
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 201, body = FindingResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_finding(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateFindingRequest>,
) -> ApiResult<Response> {
    let bundle = crate::governance::bundle::find(&state, &id).await?;
    crate::governance::review::require_read(&state, &caller.user, &bundle).await?;
    let input = FindingInput {
        policy: req.policy,
        stage: req.stage,
        name: req.name,
        description: req.description,
        severity: req.severity,
        assignee: req.assignee,
        approver: req.approver,
        due_date: req.due_date,
        approval: req.approval,
    };
    let f = finding::create(&state, &caller.audit(), &caller.user, &bundle, input).await?;
    let names = usernames(&state).await?;
    Ok(respond(StatusCode::CREATED, FindingResponse::new(&f, &names, now_ms())))
}

#[utoipa::path(get, path = "/findings/{id}", tag = "findings", params(("id" = String, Path, description = "Finding id, `fnd_…`")),
    responses((status = 200, body = FindingDetailResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_finding(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<FindingDetailResponse>> {
    let (f, _) = finding::find_for(&state, &caller.user, &id).await?;
    let comments = state.store.comments(f.id).await?;
    let attachments = finding::attachments(&state, &f).await?;
    let names = usernames(&state).await?;
    Ok(Json(FindingDetailResponse {
        finding: FindingResponse::new(&f, &names, now_ms()),
        comments: comments.iter().map(|c| CommentResponse::new(c, &names)).collect(),
        attachments: attachments.iter().map(AttachmentView::from).collect(),
    }))
}

#[utoipa::path(patch, path = "/findings/{id}", tag = "findings", request_body = UpdateFindingRequest,
    params(("id" = String, Path, description = "Finding id, `fnd_…`")),
    responses((status = 200, body = FindingResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn update_finding(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateFindingRequest>,
) -> ApiResult<Json<FindingResponse>> {
    let (f, bundle) = finding::find_for(&state, &caller.user, &id).await?;
    let changes = FindingChanges {
        status: req.status,
        resolution: req.resolution,
        assignee: req.assignee,
        due_date: req.due_date,
        severity: req.severity,
    };
    let saved = finding::update(&state, &caller.audit(), &caller.user, &f, &bundle, changes).await?;
    let names = usernames(&state).await?;
    Ok(Json(FindingResponse::new(&saved, &names, now_ms())))
}

#[utoipa::path(post, path = "/findings/{id}/comments", tag = "findings", request_body = CreateCommentRequest,
    params(("id" = String, Path, description = "Finding id, `fnd_…`")),
    responses((status = 201, body = CreatedCommentResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateCommentRequest>,
) -> ApiResult<Response> {
    let (f, _) = finding::find_for(&state, &caller.user, &id).await?;
    let (c, notified) = finding::comment(&state, &caller.audit(), &caller.user, &f, &req.body).await?;
    let names = usernames(&state).await?;
    Ok(respond(
        StatusCode::CREATED,
        CreatedCommentResponse {
            comment: CommentResponse::new(&c, &names),
            notified,
        },
    ))
}

#[utoipa::path(get, path = "/bundles/{id}/waivers", tag = "findings", params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = Vec<WaiverResponse>), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_waivers(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<WaiverResponse>>> {
    let bundle = crate::governance::bundle::find(&state, &id).await?;
    let waivers = finding::waivers(&state, &caller.user, &bundle).await?;
    let names = usernames(&state).await?;
    Ok(Json(waivers.iter().map(|w| WaiverResponse::new(w, &names)).collect()))
}

#[utoipa::path(post, path = "/bundles/{id}/waivers", tag = "findings", request_body = CreateWaiverRequest,
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 201, body = WaiverResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_waiver(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateWaiverRequest>,
) -> ApiResult<Response> {
    let bundle = crate::governance::bundle::find(&state, &id).await?;
    let input = WaiverInput {
        finding: req.finding,
        justification: req.justification,
        approver: req.approver,
        expires_at: req.expires_at,
    };
    let w = finding::grant_waiver(&state, &caller.audit(), &caller.user, &bundle, input).await?;
    let names = usernames(&state).await?;
    Ok(respond(StatusCode::CREATED, WaiverResponse::new(&w, &names)))
}

#[utoipa::path(post, path = "/waivers/{id}/revoke", tag = "findings", params(("id" = String, Path, description = "Waiver id, `wvr_…`")),
    responses((status = 200, body = WaiverResponse), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn revoke_waiver(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<WaiverResponse>> {
    let w = finding::find_waiver(&state, &id).await?;
    let w = finding::revoke_waiver(&state, &caller.audit(), &caller.user, &w).await?;
    let names = usernames(&state).await?;
    Ok(Json(WaiverResponse::new(&w, &names)))
}
