//! Reviews: requesting review of a stage, reading and deciding approvals,
//! additional approvers, separation-of-duties exemptions. The rules live in
//! [`governance::review`](crate::governance::review).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::UserId;
use charter_domain::time::{now_ms, rfc3339};
use charter_store::approval::Approval;
use charter_store::sod::SodExemption;
use serde::{Deserialize, Serialize};

use super::finding::FindingResponse;
use super::{ApiJson, respond};
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ApiResult};
use crate::governance::review::{self, Decision, NewCondition, Outcome, usernames};
use crate::state::AppState;

type Names = HashMap<UserId, String>;

fn name_of(names: &Names, id: Option<UserId>) -> Option<String> {
    id.map(|id| names.get(&id).cloned().unwrap_or_else(|| id.to_string()))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApproverResponse {
    /// `user` or `group`.
    pub kind: String,
    pub name: String,
    /// Added on this bundle (`allowAdditionalApprovers`), not named by the policy.
    pub additional: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovalResponse {
    /// Stable id, `apr_…`.
    pub id: String,
    pub bundle_id: String,
    pub policy_id: String,
    pub stage: String,
    pub name: String,
    /// `not_requested`, `pending`, `approved`, `conditionally_approved`, `rejected`,
    /// `revoked`, `pending_expiration` or `expired`.
    pub status: String,
    /// Whether it counts as granted (approved, conditionally approved, pending expiration).
    pub granted: bool,
    pub approvers: Vec<ApproverResponse>,
    /// Username.
    pub requested_by: Option<String>,
    pub requested_at: Option<String>,
    /// Username of who decided last. The scheduler's revocations and expiries keep
    /// it (the audit trail names the scheduler).
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    pub comment: String,
    /// The sign-off form's answers, by input id.
    #[schema(value_type = Object)]
    pub signoff: serde_json::Value,
    pub expires_at: Option<String>,
    /// Send this back with a decision; it changes with every change.
    pub version: i64,
}

impl ApprovalResponse {
    pub fn new(a: &Approval, names: &Names) -> Self {
        Self {
            id: a.id.to_string(),
            bundle_id: a.bundle_id.to_string(),
            policy_id: a.policy_id.to_string(),
            stage: a.stage.clone(),
            name: a.name.clone(),
            status: a.status.as_str().to_owned(),
            granted: a.status.is_granted(),
            approvers: a
                .approvers
                .iter()
                .map(|r| ApproverResponse {
                    kind: r.kind.clone(),
                    name: r.name.clone(),
                    additional: r.additional,
                })
                .collect(),
            requested_by: name_of(names, a.requested_by),
            requested_at: a.requested_at.map(rfc3339),
            decided_by: name_of(names, a.decided_by),
            decided_at: a.decided_at.map(rfc3339),
            comment: a.comment.clone(),
            signoff: a.signoff.clone(),
            expires_at: a.expires_at.map(rfc3339),
            version: a.version,
        }
    }
}

/// One question of an approval's sign-off form.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignoffQuestion {
    pub input_id: String,
    pub label: String,
    /// The input type (`radio`, `textarea`, …).
    #[serde(rename = "type")]
    pub input_type: String,
    pub required: bool,
    /// Option values, for choice inputs.
    pub options: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApprovalDetailResponse {
    #[serde(flatten)]
    pub approval: ApprovalResponse,
    /// What the approver fills to approve.
    pub signoff_form: Vec<SignoffQuestion>,
    /// Findings tied to this approval (a conditional approval's conditions).
    pub findings: Vec<FindingResponse>,
    /// Whether the policy lets a bundle add approvers to it.
    pub allow_additional_approvers: bool,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestReviewRequest {
    /// Policy id or name; may be left out when the bundle follows one policy.
    pub policy: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestReviewResponse {
    /// The stage's approvals.
    pub approvals: Vec<ApprovalResponse>,
    /// Usernames that got a task.
    pub notified: Vec<String>,
}

/// A finding logged with a conditional approval.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionRequest {
    pub name: String,
    /// Markdown.
    #[serde(default)]
    pub description: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// RFC 3339 or a date, in the future. Unresolved by then, the approval is revoked.
    pub due_date: String,
    /// Username or id of who resolves it.
    pub assignee: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// `approve`, `conditional`, `reject` or `revoke`.
    pub outcome: String,
    /// Required to reject or revoke.
    #[serde(default)]
    pub comment: String,
    /// Answers to the approval's sign-off form, by input id (required ones to approve).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub signoff: serde_json::Map<String, serde_json::Value>,
    /// The approval's `version` as you saw it.
    pub version: i64,
    /// New findings that are the conditions of a conditional approval.
    #[serde(default)]
    pub findings: Vec<ConditionRequest>,
    /// Existing findings (`fnd_…`) that become conditions.
    #[serde(default)]
    pub finding_ids: Vec<String>,
    /// When the approval needs revalidation (RFC 3339 or a date).
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DecisionResponse {
    pub approval: ApprovalResponse,
    /// The approval's conditions (conditional approvals).
    pub findings: Vec<FindingResponse>,
    /// Other approvals of the stage revoked because a rejection reopened it.
    pub also_revoked: Vec<ApprovalResponse>,
    /// The policy's current stage on the bundle after the decision.
    pub current_stage: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddApproversRequest {
    /// User or group names.
    pub add: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SodExemptionResponse {
    pub policy_id: String,
    pub user_id: String,
    pub username: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: String,
}

impl SodExemptionResponse {
    fn new(e: &SodExemption, names: &Names) -> Self {
        Self {
            policy_id: e.policy_id.to_string(),
            user_id: e.user_id.to_string(),
            username: name_of(names, Some(e.user_id)).unwrap_or_default(),
            reason: e.reason.clone(),
            created_by: name_of(names, Some(e.created_by)).unwrap_or_default(),
            created_at: rfc3339(e.created_at),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSodExemptionRequest {
    /// Username or id.
    pub user: String,
    /// Why separation of duties cannot hold for this user on this policy.
    pub reason: String,
}

/// An approval the caller may read (404 otherwise).
async fn readable_approval(state: &AppState, caller: &Caller, id: &str) -> ApiResult<Approval> {
    let approval = review::find(state, id).await?;
    let bundle = state.store.bundle(approval.bundle_id).await?;
    if !review::can_read_bundle(state, &caller.user, &bundle).await? {
        return Err(ApiError::not_found(format!("approval {id} not found")));
    }
    Ok(approval)
}

#[utoipa::path(post, path = "/bundles/{id}/stages/{stage}/request-review", tag = "approvals", request_body = RequestReviewRequest,
    params(("id" = String, Path, description = "Bundle id, `bdl_…`"), ("stage" = String, Path, description = "Stage name")),
    responses((status = 200, body = RequestReviewResponse), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn request_review(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, stage)): Path<(String, String)>,
    ApiJson(req): ApiJson<RequestReviewRequest>,
) -> ApiResult<Json<RequestReviewResponse>> {
    let bundle = crate::governance::bundle::find(&state, &id).await?;
    let done = review::request_review(
        &state,
        &caller.audit(),
        &caller.user,
        &bundle,
        req.policy.as_deref(),
        &stage,
    )
    .await?;
    let names = usernames(&state).await?;
    Ok(Json(RequestReviewResponse {
        approvals: done
            .approvals
            .iter()
            .map(|a| ApprovalResponse::new(a, &names))
            .collect(),
        notified: done.notified,
    }))
}

#[utoipa::path(get, path = "/approvals/{id}", tag = "approvals", params(("id" = String, Path, description = "Approval id, `apr_…`")),
    responses((status = 200, body = ApprovalDetailResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_approval(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ApprovalDetailResponse>> {
    let approval = readable_approval(&state, &caller, &id).await?;
    let bundle = state.store.bundle(approval.bundle_id).await?;
    let on = review::policy_by_id(&state, &bundle, approval.policy_id).await?;
    let spec = on.policy.approval(&approval.name);
    let signoff_form = spec
        .and_then(|a| a.evidence())
        .map(|form| {
            form.inputs()
                .map(|i| SignoffQuestion {
                    input_id: i.id().to_owned(),
                    label: i.label().to_owned(),
                    input_type: i.input_type().as_str().to_owned(),
                    required: i.required(),
                    options: i.options().iter().map(|o| o.value.clone()).collect(),
                })
                .collect()
        })
        .unwrap_or_default();
    let names = usernames(&state).await?;
    let now = now_ms();
    let findings = state
        .store
        .findings_of_approval(approval.id)
        .await?
        .iter()
        .map(|f| FindingResponse::new(f, &names, now))
        .collect();
    Ok(Json(ApprovalDetailResponse {
        approval: ApprovalResponse::new(&approval, &names),
        signoff_form,
        findings,
        allow_additional_approvers: spec.is_some_and(|a| a.allow_additional_approvers()),
    }))
}

#[utoipa::path(post, path = "/approvals/{id}/decision", tag = "approvals", request_body = DecisionRequest,
    params(("id" = String, Path, description = "Approval id, `apr_…`")),
    responses((status = 200, body = DecisionResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody, description = "Not an approver, or separation of duties (code `separation_of_duties`)"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Not pending, or decided by someone else meanwhile")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn decide_approval(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> ApiResult<Json<DecisionResponse>> {
    let outcome = Outcome::parse(&req.outcome)?;
    let approval = readable_approval(&state, &caller, &id).await?;
    let decision = Decision {
        outcome,
        comment: req.comment,
        signoff: req.signoff,
        version: req.version,
        findings: req
            .findings
            .into_iter()
            .map(|c| NewCondition {
                name: c.name,
                description: c.description,
                severity: c.severity,
                due_date: c.due_date,
                assignee: c.assignee,
            })
            .collect(),
        finding_ids: req.finding_ids,
        expires_at: req.expires_at,
    };
    let done = review::decide(&state, &caller.audit(), &caller.user, &approval, decision).await?;
    let names = usernames(&state).await?;
    let now = now_ms();
    Ok(Json(DecisionResponse {
        approval: ApprovalResponse::new(&done.approval, &names),
        findings: done
            .findings
            .iter()
            .map(|f| FindingResponse::new(f, &names, now))
            .collect(),
        also_revoked: done
            .also_revoked
            .iter()
            .map(|a| ApprovalResponse::new(a, &names))
            .collect(),
        current_stage: done.current_stage,
    }))
}

#[utoipa::path(post, path = "/approvals/{id}/approvers", tag = "approvals", request_body = AddApproversRequest,
    params(("id" = String, Path, description = "Approval id, `apr_…`")),
    responses((status = 200, body = ApprovalResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The policy does not allow additional approvers")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn add_approvers(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddApproversRequest>,
) -> ApiResult<Json<ApprovalResponse>> {
    let approval = readable_approval(&state, &caller, &id).await?;
    let after = review::add_approvers(&state, &caller.audit(), &caller.user, &approval, &req.add).await?;
    let names = usernames(&state).await?;
    Ok(Json(ApprovalResponse::new(&after, &names)))
}

#[utoipa::path(get, path = "/policies/{id}/sod-exemptions", tag = "approvals",
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name")),
    responses((status = 200, body = Vec<SodExemptionResponse>), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_sod_exemptions(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<SodExemptionResponse>>> {
    let policy = crate::governance::policy::find(&state, &id).await?;
    let names = usernames(&state).await?;
    Ok(Json(
        state
            .store
            .sod_exemptions(policy.id)
            .await?
            .iter()
            .map(|e| SodExemptionResponse::new(e, &names))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/policies/{id}/sod-exemptions", tag = "approvals", request_body = CreateSodExemptionRequest,
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name")),
    responses((status = 201, body = SodExemptionResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_sod_exemption(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateSodExemptionRequest>,
) -> ApiResult<Response> {
    let policy = crate::governance::policy::find(&state, &id).await?;
    let caller = admin.caller();
    let e = review::grant_exemption(&state, &caller.audit(), &caller.user, &policy, &req.user, &req.reason).await?;
    let names = usernames(&state).await?;
    Ok(respond(StatusCode::CREATED, SodExemptionResponse::new(&e, &names)))
}

#[utoipa::path(delete, path = "/policies/{id}/sod-exemptions/{user_id}", tag = "approvals",
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name"), ("user_id" = String, Path, description = "User id or username")),
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn delete_sod_exemption(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let policy = crate::governance::policy::find(&state, &id).await?;
    review::revoke_exemption(&state, &admin.caller().audit(), &policy, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
