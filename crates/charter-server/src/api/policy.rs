//! Policies and their versions: anyone signed in lints and reads them; governance
//! admins create, edit drafts, publish and retire.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::policy::{ChangeKind, PolicyDiff, PolicyTestResult, Subject};
use charter_domain::time::rfc3339;
use charter_store::policy::{Policy as StoredPolicy, PolicyVersion, VersionStatus};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiQuery, respond};
use crate::auth::{Caller, GovernanceAdmin};
use crate::error::{ApiError, ApiResult};
use crate::governance::policy::{self, DiagnosticResponse, LintResponse};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyVersionSummary {
    /// Stable id, `pov_…`.
    pub id: String,
    /// 1, 2, …
    pub version: i64,
    /// `draft`, `published` or `retired`.
    pub status: String,
    /// Hex SHA-256 of the YAML text.
    pub yaml_sha256: String,
    /// `usr_…`.
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// `usr_…`.
    pub published_by: Option<String>,
    pub published_at: Option<String>,
    pub retired_at: Option<String>,
}

impl From<&PolicyVersion> for PolicyVersionSummary {
    fn from(v: &PolicyVersion) -> Self {
        Self {
            id: v.id.to_string(),
            version: v.version,
            status: v.status.as_str().to_owned(),
            yaml_sha256: v.yaml_sha256.clone(),
            created_by: v.created_by.to_string(),
            created_at: rfc3339(v.created_at),
            updated_at: rfc3339(v.updated_at),
            published_by: v.published_by.map(|u| u.to_string()),
            published_at: v.published_at.map(rfc3339),
            retired_at: v.retired_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyResponse {
    /// Stable id, `pol_…`.
    pub id: String,
    pub name: String,
    pub description: String,
    /// `usr_…`.
    pub created_by: String,
    pub created_at: String,
    /// The newest published version's number, if any (new bundles follow it).
    pub published_version: Option<i64>,
    /// The draft's number, if there is one.
    pub draft_version: Option<i64>,
    /// Every version, oldest first.
    pub versions: Vec<PolicyVersionSummary>,
}

fn policy_response(p: &StoredPolicy, versions: &[PolicyVersion]) -> PolicyResponse {
    PolicyResponse {
        id: p.id.to_string(),
        name: p.name.clone(),
        description: p.description.clone(),
        created_by: p.created_by.to_string(),
        created_at: rfc3339(p.created_at),
        published_version: versions
            .iter()
            .filter(|v| v.status == VersionStatus::Published)
            .map(|v| v.version)
            .max(),
        draft_version: versions
            .iter()
            .find(|v| v.status == VersionStatus::Draft)
            .map(|v| v.version),
        versions: versions.iter().map(PolicyVersionSummary::from).collect(),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyVersionResponse {
    #[serde(flatten)]
    pub version: PolicyVersionSummary,
    /// `pol_…`.
    pub policy_id: String,
    pub policy: String,
    /// The YAML text, as saved.
    pub yaml: String,
    /// Stage names, input count, approval and gate names, whether it classifies.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
}

fn version_response(state: &AppState, p: &StoredPolicy, v: &PolicyVersion) -> ApiResult<PolicyVersionResponse> {
    Ok(PolicyVersionResponse {
        version: PolicyVersionSummary::from(v),
        policy_id: p.id.to_string(),
        policy: p.name.clone(),
        yaml: v.yaml.clone(),
        summary: policy::summary(&*crate::governance::parsed(state, v)?),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LintRequest {
    /// The policy YAML.
    pub yaml: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicyRequest {
    /// 1 to 200 characters; unique.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The policy YAML (Domino's format, with Charter's extensions). Must lint clean.
    pub yaml: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedPolicyResponse {
    pub policy: PolicyResponse,
    /// Version 1, a draft: publish it before bundles can follow it.
    pub version: PolicyVersionResponse,
    /// Lint warnings (errors refuse the policy).
    pub warnings: Vec<DiagnosticResponse>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveDraftRequest {
    /// The policy YAML. Must lint clean.
    pub yaml: String,
    /// The version you edited (optional). When it is no longer a draft — someone
    /// published it meanwhile — the save is refused with 409 instead of starting a
    /// new draft.
    pub version: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SavedDraftResponse {
    /// The draft as saved.
    pub version: PolicyVersionResponse,
    /// A new draft version was started (there was none).
    pub created: bool,
    /// What changed against the draft before (or, for a new draft, the newest
    /// version): `+` added, `-` removed, `~` changed, fields indented.
    pub changes: Vec<String>,
    /// Lint warnings.
    pub warnings: Vec<DiagnosticResponse>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// The version to compare with: a number, `latest` or `published`. Defaults to
    /// the version before.
    pub against: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldChangeResponse {
    pub field: String,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChangeResponse {
    /// `policy`, `classification`, `stage`, `evidence_set`, `question`, `approval` or `gate`.
    pub subject: String,
    /// `added`, `removed` or `changed`.
    pub kind: String,
    /// Its identity: input id, evidence-set id, stage/approval/gate name.
    pub id: String,
    /// What people call it (a question's label).
    pub title: String,
    pub fields: Vec<FieldChangeResponse>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyDiffResponse {
    /// `pol_…`.
    pub policy_id: String,
    /// The older side.
    pub from: PolicyVersionSummary,
    /// The side named in the path.
    pub to: PolicyVersionSummary,
    /// Readable lines (`+` added, `-` removed, `~` changed).
    pub lines: Vec<String>,
    pub changes: Vec<ChangeResponse>,
}

fn subject_name(s: Subject) -> &'static str {
    match s {
        Subject::Policy => "policy",
        Subject::Classification => "classification",
        Subject::Stage => "stage",
        Subject::EvidenceSet => "evidence_set",
        Subject::Question => "question",
        Subject::Approval => "approval",
        Subject::Gate => "gate",
    }
}

fn changes_response(d: &PolicyDiff) -> Vec<ChangeResponse> {
    d.changes
        .iter()
        .map(|c| ChangeResponse {
            subject: subject_name(c.subject).to_owned(),
            kind: match c.kind {
                ChangeKind::Added => "added",
                ChangeKind::Removed => "removed",
                ChangeKind::Changed => "changed",
            }
            .to_owned(),
            id: c.id.clone(),
            title: c.title.clone(),
            fields: c
                .fields
                .iter()
                .map(|f| FieldChangeResponse {
                    field: f.field.clone(),
                    before: f.before.clone(),
                    after: f.after.clone(),
                })
                .collect(),
        })
        .collect()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyTestResultResponse {
    pub name: String,
    pub passed: bool,
    /// One sentence per unmet expectation.
    pub failures: Vec<String>,
    /// Expressions that failed while evaluating the test's answers.
    pub notes: Vec<String>,
}

impl From<&PolicyTestResult> for PolicyTestResultResponse {
    fn from(r: &PolicyTestResult) -> Self {
        Self {
            name: r.name.clone(),
            passed: r.passed(),
            failures: r.failures.clone(),
            notes: r.notes.clone(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyTestsResponse {
    /// `pol_…`.
    pub policy_id: String,
    /// `pov_…`.
    pub version_id: String,
    pub version: i64,
    /// Every test passed (true when there are none).
    pub passed: bool,
    pub total: usize,
    pub failed: usize,
    pub results: Vec<PolicyTestResultResponse>,
}

fn warnings(lint: &LintResponse) -> Vec<DiagnosticResponse> {
    lint.diagnostics
        .iter()
        .filter(|d| d.severity == "warning")
        .cloned()
        .collect()
}

#[utoipa::path(post, path = "/policies/lint", tag = "policies", request_body = LintRequest,
    responses((status = 200, body = LintResponse, description = "Every diagnostic with its line and column; `ok` is false when there are errors"),
        (status = 400, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn lint_policy(
    State(state): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<LintRequest>,
) -> ApiResult<Json<LintResponse>> {
    let report = policy::lint(&state, &req.yaml).await?;
    Ok(Json(LintResponse::from(&report)))
}

#[utoipa::path(get, path = "/policies", tag = "policies",
    responses((status = 200, body = Vec<PolicyResponse>)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_policies(State(state): State<AppState>, _caller: Caller) -> ApiResult<Json<Vec<PolicyResponse>>> {
    let all = policy::list(&state).await?;
    Ok(Json(all.iter().map(|(p, v)| policy_response(p, v)).collect()))
}

#[utoipa::path(post, path = "/policies", tag = "policies", request_body = CreatePolicyRequest,
    responses((status = 201, body = CreatedPolicyResponse),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody, description = "`policy_invalid`: lint errors; `error.details` is the whole lint report. Nothing is saved.")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_policy(
    State(state): State<AppState>,
    gov_admin: GovernanceAdmin,
    ApiJson(req): ApiJson<CreatePolicyRequest>,
) -> ApiResult<Response> {
    let caller = gov_admin.caller();
    let (p, v, report) = policy::create_linted(
        &state,
        &caller.audit(),
        &caller.user,
        &req.name,
        &req.description,
        &req.yaml,
    )
    .await?;
    let body = CreatedPolicyResponse {
        policy: policy_response(&p, std::slice::from_ref(&v)),
        version: version_response(&state, &p, &v)?,
        warnings: warnings(&LintResponse::from(&report)),
    };
    Ok(respond(StatusCode::CREATED, body))
}

#[utoipa::path(get, path = "/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name")),
    responses((status = 200, body = PolicyResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<PolicyResponse>> {
    let p = policy::find(&state, &id).await?;
    let versions = state.store.policy_versions(p.id).await?;
    Ok(Json(policy_response(&p, &versions)))
}

#[utoipa::path(put, path = "/policies/{id}/draft", tag = "policies", request_body = SaveDraftRequest,
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name")),
    responses((status = 200, body = SavedDraftResponse, description = "Saved into the draft, or a new draft version started"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "The version edited is published (immutable)"),
        (status = 422, body = crate::error::ErrorBody, description = "`policy_invalid`: lint errors in `error.details`; nothing saved")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn save_policy_draft(
    State(state): State<AppState>,
    gov_admin: GovernanceAdmin,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SaveDraftRequest>,
) -> ApiResult<Json<SavedDraftResponse>> {
    let caller = gov_admin.caller();
    let p = policy::find(&state, &id).await?;
    let saved = policy::save_onto(&state, &caller.audit(), &caller.user, &p, &req.yaml, req.version).await?;
    Ok(Json(SavedDraftResponse {
        version: version_response(&state, &p, &saved.version)?,
        created: saved.created,
        changes: saved.changes,
        warnings: warnings(&LintResponse::from(&saved.report)),
    }))
}

/// The policy and version a path names.
async fn policy_version(state: &AppState, id: &str, v: &str) -> ApiResult<(StoredPolicy, PolicyVersion)> {
    let p = policy::find(state, id).await?;
    let version = policy::find_version(state, &p, v.trim()).await?;
    Ok((p, version))
}

#[utoipa::path(get, path = "/policies/{id}/versions/{v}", tag = "policies",
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name"),
        ("v" = String, Path, description = "Version number, `latest` or `published`")),
    responses((status = 200, body = PolicyVersionResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_policy_version(
    State(state): State<AppState>,
    _caller: Caller,
    Path((id, v)): Path<(String, String)>,
) -> ApiResult<Json<PolicyVersionResponse>> {
    let (p, version) = policy_version(&state, &id, &v).await?;
    Ok(Json(version_response(&state, &p, &version)?))
}

#[utoipa::path(post, path = "/policies/{id}/versions/{v}/publish", tag = "policies",
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name"),
        ("v" = String, Path, description = "Version number or `latest`")),
    responses((status = 200, body = PolicyVersionResponse), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Not a draft"),
        (status = 422, body = crate::error::ErrorBody, description = "No longer lints clean (e.g. an approver was removed)")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn publish_policy_version(
    State(state): State<AppState>,
    gov_admin: GovernanceAdmin,
    Path((id, v)): Path<(String, String)>,
) -> ApiResult<Json<PolicyVersionResponse>> {
    let caller = gov_admin.caller();
    let (p, version) = policy_version(&state, &id, &v).await?;
    let published = policy::publish(&state, &caller.audit(), &caller.user, &version).await?;
    Ok(Json(version_response(&state, &p, &published)?))
}

#[utoipa::path(post, path = "/policies/{id}/versions/{v}/retire", tag = "policies",
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name"),
        ("v" = String, Path, description = "Version number, `latest` or `published`")),
    responses((status = 200, body = PolicyVersionResponse, description = "Retired: no new bundles follow it; bundles on it stay"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody, description = "Not published")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn retire_policy_version(
    State(state): State<AppState>,
    gov_admin: GovernanceAdmin,
    Path((id, v)): Path<(String, String)>,
) -> ApiResult<Json<PolicyVersionResponse>> {
    let caller = gov_admin.caller();
    let (p, version) = policy_version(&state, &id, &v).await?;
    let retired = policy::retire(&state, &caller.audit(), &caller.user, &version).await?;
    Ok(Json(version_response(&state, &p, &retired)?))
}

#[utoipa::path(get, path = "/policies/{id}/versions/{v}/diff", tag = "policies",
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name"),
        ("v" = String, Path, description = "Version number, `latest` or `published`"), DiffQuery),
    responses((status = 200, body = PolicyDiffResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn diff_policy_versions(
    State(state): State<AppState>,
    _caller: Caller,
    Path((id, v)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> ApiResult<Json<PolicyDiffResponse>> {
    let (p, to) = policy_version(&state, &id, &v).await?;
    let from = match query.against.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(against) => policy::find_version(&state, &p, against).await?,
        None if to.version > 1 => state.store.policy_version_number(p.id, to.version - 1).await?,
        None => {
            return Err(ApiError::invalid(format!(
                "against: version {} is the first of policy `{}`; name a version to compare with",
                to.version, p.name
            )));
        }
    };
    let diff = policy::diff_structured(&state, &from, &to)?;
    Ok(Json(PolicyDiffResponse {
        policy_id: p.id.to_string(),
        from: PolicyVersionSummary::from(&from),
        to: PolicyVersionSummary::from(&to),
        lines: diff.lines(),
        changes: changes_response(&diff),
    }))
}

#[utoipa::path(post, path = "/policies/{id}/versions/{v}/test", tag = "policies",
    params(("id" = String, Path, description = "Policy id (`pol_…`) or name"),
        ("v" = String, Path, description = "Version number, `latest` or `published`")),
    responses((status = 200, body = PolicyTestsResponse, description = "The results of the tests the version carries (`tests:`); changes nothing"),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn test_policy_version(
    State(state): State<AppState>,
    _caller: Caller,
    Path((id, v)): Path<(String, String)>,
) -> ApiResult<Json<PolicyTestsResponse>> {
    let (p, version) = policy_version(&state, &id, &v).await?;
    let results = policy::run_tests(&state, &version).await?;
    let failed = results.iter().filter(|r| !r.passed()).count();
    Ok(Json(PolicyTestsResponse {
        policy_id: p.id.to_string(),
        version_id: version.id.to_string(),
        version: version.version,
        passed: failed == 0,
        total: results.len(),
        failed,
        results: results.iter().map(PolicyTestResultResponse::from).collect(),
    }))
}
