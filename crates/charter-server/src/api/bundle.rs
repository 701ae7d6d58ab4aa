//! Governed bundles: the listing, the evidence notebook, answers and their history,
//! copying a bundle, completing/archiving/reopening, and attachments (typed links
//! and uploaded files). Project members write; anyone who may read the project
//! reads. The rules live in [`crate::governance::bundle`].

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use charter_store::bundle::BundleState;
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiQuery, respond};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::governance::bundle::assignee::StageAssignment;
use crate::governance::bundle::attachment::{self, UploadMeta};
use crate::governance::bundle::migration::MigrationPlan;
use crate::governance::bundle::notebook::{AnswerHistory, AttachmentView, BundleSummary, Notebook};
use crate::governance::bundle::{self, AnswerOutcome, CopyPlan};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BundleListQuery {
    /// Only this project (id or name).
    pub project: Option<String>,
    /// Only bundles in this state: `active`, `complete` or `archived`.
    pub state: Option<String>,
    /// Only bundles following this policy (id or name).
    pub policy: Option<String>,
    /// Only bundles whose current stage (of `policy`, or of any policy) is this one.
    pub stage: Option<String>,
    /// Only bundles with this classification (of `policy`, or of any policy);
    /// `none` for bundles without one.
    pub classification: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBundleRequest {
    /// Project id (`prj_…`) or name; you must be a member (not a viewer).
    pub project: String,
    /// 1 to 200 characters, unique in the project.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Policies to follow, by id or name: each at its newest published version.
    pub policies: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    /// The policy (id or name) the question belongs to.
    pub policy: String,
    /// The input id (or its `aliasForClassification`).
    pub input: String,
    /// The answer: text, a number, a list of option values, `YYYY-MM-DD`, or an
    /// attachment id for `file` questions.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyBundleRequest {
    /// The new bundle's name.
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CopiedBundleResponse {
    /// The new bundle's notebook; copied answers are marked `carried_over`.
    pub bundle: Notebook,
    /// What was carried over and what was left behind.
    pub plan: CopyPlan,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddAttachmentRequest {
    /// `model_version`, `app`, `report`, `check_result` or `telemetry`.
    pub kind: String,
    /// 1 to 200 characters.
    pub name: String,
    /// What it points at, as a JSON object: a model version names `model` and
    /// `version`; an app its `name` or `url`.
    #[schema(value_type = Object)]
    pub reference: serde_json::Value,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    /// The file's name.
    #[param(required = true)]
    pub name: Option<String>,
    /// `file` (default), `report`, `check_result` or `telemetry`.
    pub kind: Option<String>,
    /// A finding of this bundle (`fnd_…`) the file supports; whoever may work the
    /// finding may attach to it.
    pub finding: Option<String>,
}

/// Raw file content.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct FileContent(pub Vec<u8>);

#[utoipa::path(get, path = "/bundles", tag = "bundles", params(BundleListQuery),
    responses((status = 200, body = Vec<BundleSummary>, description = "Bundles you may read, newest first"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_bundles(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<BundleListQuery>,
) -> ApiResult<Json<Vec<BundleSummary>>> {
    let filter = bundle::BundleFilter {
        project: query.project,
        state: query.state,
        policy: query.policy,
        stage: query.stage,
        classification: query.classification,
    };
    Ok(Json(bundle::list_filtered(&state, &caller.user, &filter).await?))
}

#[utoipa::path(post, path = "/bundles", tag = "bundles", request_body = CreateBundleRequest,
    responses((status = 201, body = Notebook),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "A policy has no published version, or the name is taken")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_bundle(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateBundleRequest>,
) -> ApiResult<Response> {
    let project = crate::governance::project::find(&state, req.project.trim()).await?;
    let b = bundle::create(
        &state,
        &caller.audit(),
        &caller.user,
        &project,
        &req.name,
        &req.description,
        &req.policies,
    )
    .await?;
    let view = bundle::notebook(&state, &caller.user, &state.store.bundle(b.id).await?).await?;
    Ok(respond(StatusCode::CREATED, view))
}

#[utoipa::path(get, path = "/bundles/{id}", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = Notebook, description = "The evidence notebook"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Notebook>> {
    let b = bundle::find(&state, &id).await?;
    Ok(Json(bundle::notebook(&state, &caller.user, &b).await?))
}

#[utoipa::path(put, path = "/bundles/{id}/answers", tag = "bundles", request_body = AnswerRequest,
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = AnswerOutcome, description = "Saved as a new revision; classification and visibility recomputed"),
        (status = 400, body = crate::error::ErrorBody, description = "The value does not fit the question; the message names it and `error.details.input_id` is its id"),
        (status = 403, body = crate::error::ErrorBody, description = "Not a member (or a viewer) of the project"),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Hidden question, frozen or not yet open stage, or a complete/archived bundle")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn answer_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AnswerRequest>,
) -> ApiResult<Json<AnswerOutcome>> {
    let b = bundle::find(&state, &id).await?;
    let outcome = bundle::answer(
        &state,
        &caller.audit(),
        &caller.user,
        &b,
        req.policy.trim(),
        req.input.trim(),
        &req.value,
    )
    .await?;
    Ok(Json(outcome))
}

#[utoipa::path(get, path = "/bundles/{id}/answers/{policy}/{input}/history", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`"),
        ("policy" = String, Path, description = "Policy id or name"),
        ("input" = String, Path, description = "Input id or alias")),
    responses((status = 200, body = AnswerHistory, description = "Every revision, oldest first"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_answer_history(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, policy, input)): Path<(String, String, String)>,
) -> ApiResult<Json<AnswerHistory>> {
    let b = bundle::find(&state, &id).await?;
    Ok(Json(bundle::history(&state, &caller.user, &b, &policy, &input).await?))
}

#[utoipa::path(post, path = "/bundles/{id}/copy", tag = "bundles", request_body = CopyBundleRequest,
    params(("id" = String, Path, description = "Bundle id to copy from, `bdl_…`")),
    responses((status = 201, body = CopiedBundleResponse),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn copy_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CopyBundleRequest>,
) -> ApiResult<Response> {
    let source = bundle::find(&state, &id).await?;
    let (copy, plan) = bundle::copy(
        &state,
        &caller.audit(),
        &caller.user,
        &source,
        &req.name,
        &req.description,
    )
    .await?;
    let view = bundle::notebook(&state, &caller.user, &copy).await?;
    Ok(respond(
        StatusCode::CREATED,
        CopiedBundleResponse { bundle: view, plan },
    ))
}

#[utoipa::path(get, path = "/bundles/{id}/copy-preview", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id to copy from, `bdl_…`")),
    responses((status = 200, body = CopyPlan, description = "What a copy would carry over; changes nothing"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn preview_bundle_copy(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CopyPlan>> {
    let source = bundle::find(&state, &id).await?;
    Ok(Json(bundle::preview_copy(&state, &caller.user, &source).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateBundleRequest {
    /// The policy to move (id or name); the bundle must follow it.
    pub policy: String,
    /// The version to move to: `published` (the default: the newest published), or a number.
    #[serde(default)]
    pub to_version: Option<String>,
    /// Only say what would change.
    #[serde(default)]
    pub dry_run: bool,
}

#[utoipa::path(post, path = "/bundles/{id}/migrate", tag = "bundles", request_body = MigrateBundleRequest,
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = MigrationPlan, description = "What the migration changes (or, with `dry_run`, would change)"),
        (status = 400, body = crate::error::ErrorBody, description = "The target version is not published"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Bundle not active, already on that version, or changed meanwhile")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn migrate_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MigrateBundleRequest>,
) -> ApiResult<Json<MigrationPlan>> {
    let b = bundle::find(&state, &id).await?;
    let to = req.to_version.as_deref().unwrap_or("published");
    Ok(Json(
        bundle::migration::migrate(&state, &caller.audit(), &caller.user, &b, &req.policy, to, req.dry_run).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignStageRequest {
    /// The policy whose stage this is (id or name).
    pub policy: String,
    /// Username or `usr_…` id of the assignee; `null` to unassign.
    pub user: Option<String>,
}

#[utoipa::path(put, path = "/bundles/{id}/stages/{stage}/assignee", tag = "bundles", request_body = AssignStageRequest,
    params(("id" = String, Path, description = "Bundle id, `bdl_…`"), ("stage" = String, Path, description = "Stage name")),
    responses((status = 200, body = StageAssignment, description = "Who works on the stage now; the assignee gets a task"),
        (status = 400, body = crate::error::ErrorBody, description = "No such user, or not a writer in the project"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The bundle is not active")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn assign_stage(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, stage)): Path<(String, String)>,
    ApiJson(req): ApiJson<AssignStageRequest>,
) -> ApiResult<Json<StageAssignment>> {
    let b = bundle::find(&state, &id).await?;
    Ok(Json(
        bundle::assignee::assign(
            &state,
            &caller.audit(),
            &caller.user,
            &b,
            &req.policy,
            &stage,
            req.user.as_deref(),
        )
        .await?,
    ))
}

async fn move_bundle(state: &AppState, caller: &Caller, id: &str, to: BundleState) -> ApiResult<Json<BundleSummary>> {
    let b = bundle::find(state, id).await?;
    let moved = bundle::set_state(state, &caller.audit(), &caller.user, &b, to).await?;
    let project = state.store.project(moved.project_id).await?;
    Ok(Json(bundle::summary(state, &moved, &project).await?))
}

#[utoipa::path(post, path = "/bundles/{id}/complete", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = BundleSummary, description = "Complete: its evidence is frozen"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Not compliant, blocking findings, or already complete")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn complete_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<BundleSummary>> {
    move_bundle(&state, &caller, &id, BundleState::Complete).await
}

#[utoipa::path(post, path = "/bundles/{id}/archive", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = BundleSummary, description = "Archived: its evidence is frozen and its gates no longer apply"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn archive_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<BundleSummary>> {
    move_bundle(&state, &caller, &id, BundleState::Archived).await
}

#[utoipa::path(post, path = "/bundles/{id}/reopen", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = BundleSummary, description = "Active again: evidence takes answers"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn reopen_bundle(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<BundleSummary>> {
    move_bundle(&state, &caller, &id, BundleState::Active).await
}

#[utoipa::path(get, path = "/bundles/{id}/attachments", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = Vec<AttachmentView>), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_attachments(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AttachmentView>>> {
    let b = bundle::find(&state, &id).await?;
    let all = attachment::list(&state, &caller.user, &b).await?;
    Ok(Json(all.iter().map(AttachmentView::from).collect()))
}

#[utoipa::path(post, path = "/bundles/{id}/attachments", tag = "bundles", request_body = AddAttachmentRequest,
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 201, body = AttachmentView),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The bundle is complete or archived")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn add_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddAttachmentRequest>,
) -> ApiResult<Response> {
    let b = bundle::find(&state, &id).await?;
    let att = attachment::add(
        &state,
        &caller.audit(),
        &caller.user,
        &b,
        &req.kind,
        &req.name,
        req.reference,
    )
    .await?;
    Ok(respond(StatusCode::CREATED, AttachmentView::from(&att)))
}

#[utoipa::path(post, path = "/bundles/{id}/attachments/upload", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`"), UploadQuery),
    request_body(content = FileContent, content_type = "application/octet-stream",
        description = "The file's bytes, streamed into blob storage (never buffered whole) and hashed with SHA-256. \
                       The server's request body limit applies: uploads larger than `server.body_limit_bytes` are refused \
                       with 413 until an operator raises that setting."),
    responses((status = 201, body = AttachmentView, description = "Attached, with its `sha256` and `size`"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The bundle is complete or archived"),
        (status = 413, body = crate::error::ErrorBody, description = "Larger than `server.body_limit_bytes`")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn upload_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let b = bundle::find(&state, &id).await?;
    let Some(name) = query.name.filter(|n| !n.trim().is_empty()) else {
        return Err(ApiError::invalid(
            "name: say what the file is called, e.g. `?name=model-card.pdf`",
        ));
    };
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let meta = UploadMeta {
        name,
        kind: query.kind,
        content_type: text(header::CONTENT_TYPE),
        content_length: text(header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
        finding: query.finding,
    };
    let att = attachment::upload(&state, &caller.audit(), &caller.user, &b, meta, body.into_data_stream()).await?;
    Ok(respond(StatusCode::CREATED, AttachmentView::from(&att)))
}

#[utoipa::path(get, path = "/bundles/{id}/attachments/{att}/content", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`"), ("att" = String, Path, description = "Attachment id, `att_…`")),
    responses((status = 200, body = FileContent, content_type = "application/octet-stream",
            description = "The uploaded bytes, streamed, with `Content-Length` and `Repr-Digest` (SHA-256)"),
        (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "No such attachment, or it is a reference without content")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_attachment_content(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, att)): Path<(String, String)>,
) -> ApiResult<Response> {
    let b = bundle::find(&state, &id).await?;
    let content = attachment::content(&state, &caller.user, &b, &att).await?;
    let mut response = Body::from_stream(content.stream).into_response();
    let headers = response.headers_mut();
    let value = |v: String| HeaderValue::from_str(&v).map_err(|_| ApiError::internal());
    headers.insert(header::CONTENT_TYPE, value(content.content_type)?);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(content.size));
    headers.insert(
        header::CONTENT_DISPOSITION,
        value(format!("attachment; filename=\"{}\"", content.file_name))?,
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Some(digest) = content.attachment.sha256.as_deref().and_then(|h| hex::decode(h).ok()) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        headers.insert("repr-digest", value(format!("sha-256=:{b64}:"))?);
    }
    Ok(response)
}

/// One metrics check: a policy threshold evaluated against an attached model version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetricCheckView {
    /// `pol_…`
    pub policy_id: String,
    pub stage: String,
    pub check_id: String,
    pub metric: String,
    /// The name the value was found under (the metric or one of its aliases).
    pub matched_key: Option<String>,
    /// Registered model name and version.
    pub model: String,
    pub version: i64,
    pub value: Option<f64>,
    pub operator: Option<String>,
    pub threshold: Option<f64>,
    /// `pass`, `fail` (a finding was raised), `missing` (no such metric) or `info` (no threshold).
    pub outcome: String,
    pub finding_id: Option<String>,
    pub checked_at: String,
}

#[utoipa::path(get, path = "/bundles/{id}/metric-checks", tag = "bundles",
    params(("id" = String, Path, description = "Bundle id, `bdl_…`")),
    responses((status = 200, body = Vec<MetricCheckView>, description = "The newest result of each check"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_metric_checks(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<MetricCheckView>>> {
    let b = bundle::find(&state, &id).await?;
    // The same read rule as the bundle's attachments.
    attachment::list(&state, &caller.user, &b).await?;
    let checks = state.store.metric_checks(b.id).await?;
    Ok(Json(
        checks
            .into_iter()
            .map(|c| MetricCheckView {
                policy_id: c.policy_id.to_string(),
                stage: c.stage,
                check_id: c.check_id,
                metric: c.metric,
                matched_key: c.matched_key,
                model: c.model,
                version: c.version,
                value: c.value,
                operator: c.operator,
                threshold: c.threshold,
                outcome: c.outcome,
                finding_id: c.finding_id.map(|f| f.to_string()),
                checked_at: charter_domain::time::rfc3339(c.checked_at),
            })
            .collect(),
    ))
}
