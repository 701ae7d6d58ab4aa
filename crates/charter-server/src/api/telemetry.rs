//! LLM telemetry over the JSON API: a project's ingest tokens and settings
//! (retention, redaction). Spans arrive at `POST /v1/traces` (OTLP, not under
//! `/api/v1`); see `otlp/`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::telemetry::redact::RedactionRule;
use charter_domain::time::rfc3339;
use charter_store::telemetry::{IngestToken, TelemetrySettings};
use serde::{Deserialize, Serialize};

use super::{ApiJson, respond};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::governance::project;
use crate::state::AppState;
use crate::telemetry::settings;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestTokenResponse {
    /// `itk_…`.
    pub id: String,
    /// `prj_…`.
    pub project_id: String,
    pub name: String,
    /// The first characters of the secret (`chi_1a2b3c4d`), to tell tokens apart.
    pub prefix: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&IngestToken> for IngestTokenResponse {
    fn from(t: &IngestToken) -> Self {
        Self {
            id: t.id.to_string(),
            project_id: t.project_id.to_string(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created_by: t.created_by.to_string(),
            created_at: rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedIngestTokenResponse {
    #[serde(flatten)]
    pub token: IngestTokenResponse,
    /// The secret (`chi_…`): shown once. Send it as `Authorization: Bearer chi_…` to `/v1/traces`.
    pub secret: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIngestTokenRequest {
    /// Where the token is used, e.g. `helpbot production`.
    pub name: String,
}

/// A redaction rule: which attributes, what to find, what to put instead.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionRuleBody {
    pub name: String,
    /// Attribute keys; `*` matches any characters (`llm.*.message.content`).
    pub attributes: Vec<String>,
    /// `email`, `card_number`, `phone`, `us_ssn` or `iban`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// A regular expression (Rust syntax), instead of a preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// What a match becomes (default `[REDACTED:<preset>]` or `[REDACTED]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

impl From<RedactionRuleBody> for RedactionRule {
    fn from(r: RedactionRuleBody) -> Self {
        Self {
            name: r.name,
            attributes: r.attributes,
            preset: r.preset,
            pattern: r.pattern,
            replacement: r.replacement,
        }
    }
}

impl From<RedactionRule> for RedactionRuleBody {
    fn from(r: RedactionRule) -> Self {
        Self {
            name: r.name,
            attributes: r.attributes,
            preset: r.preset,
            pattern: r.pattern,
            replacement: r.replacement,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TelemetrySettingsResponse {
    pub project_id: String,
    /// Spans older than this many days are deleted by the retention job; null keeps them.
    pub retention_days: Option<i64>,
    /// Only the newest this many spans are kept; null for no limit.
    pub retention_max_spans: Option<i64>,
    /// Applied to span and event attributes before anything is stored.
    pub redaction: Vec<RedactionRuleBody>,
    pub updated_by: Option<String>,
    pub updated_at: Option<String>,
    pub version: i64,
}

impl From<&TelemetrySettings> for TelemetrySettingsResponse {
    fn from(s: &TelemetrySettings) -> Self {
        let rules: Vec<RedactionRule> = serde_json::from_str(&s.redaction).unwrap_or_default();
        Self {
            project_id: s.project_id.to_string(),
            retention_days: s.retention_days,
            retention_max_spans: s.retention_max_spans,
            redaction: rules.into_iter().map(RedactionRuleBody::from).collect(),
            updated_by: s.updated_by.map(|u| u.to_string()),
            updated_at: (s.version > 0).then(|| rfc3339(s.updated_at)),
            version: s.version,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettingsRequest {
    #[serde(default)]
    pub retention_days: Option<i64>,
    #[serde(default)]
    pub retention_max_spans: Option<i64>,
    #[serde(default)]
    pub redaction: Vec<RedactionRuleBody>,
}

#[utoipa::path(get, path = "/projects/{id}/ingest-tokens", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 200, body = Vec<IngestTokenResponse>), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_ingest_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<IngestTokenResponse>>> {
    let p = project::find(&state, &id).await?;
    let tokens = settings::list_tokens(&state, &caller.user, &p).await?;
    Ok(Json(tokens.iter().map(IngestTokenResponse::from).collect()))
}

#[utoipa::path(post, path = "/projects/{id}/ingest-tokens", tag = "telemetry", request_body = CreateIngestTokenRequest,
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 201, body = CreatedIngestTokenResponse, description = "Created; the secret is shown once"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_ingest_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateIngestTokenRequest>,
) -> ApiResult<Response> {
    let p = project::find(&state, &id).await?;
    let (token, secret) = settings::create_token(&state, &caller.audit(), &caller.user, &p, &req.name).await?;
    Ok(respond(
        StatusCode::CREATED,
        CreatedIngestTokenResponse {
            token: IngestTokenResponse::from(&token),
            secret: secret.expose().to_owned(),
        },
    ))
}

#[utoipa::path(delete, path = "/projects/{id}/ingest-tokens/{token_id}", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"),
        ("token_id" = String, Path, description = "`itk_…`")),
    responses((status = 200, body = IngestTokenResponse, description = "Revoked"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn revoke_ingest_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, token_id)): Path<(String, String)>,
) -> ApiResult<Json<IngestTokenResponse>> {
    let p = project::find(&state, &id).await?;
    let token = settings::revoke_token(&state, &caller.audit(), &caller.user, &p, &token_id).await?;
    Ok(Json(IngestTokenResponse::from(&token)))
}

#[utoipa::path(get, path = "/projects/{id}/telemetry/settings", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 200, body = TelemetrySettingsResponse), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_telemetry_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TelemetrySettingsResponse>> {
    let p = project::find(&state, &id).await?;
    let s = settings::get(&state, &caller.user, &p).await?;
    Ok(Json(TelemetrySettingsResponse::from(&s)))
}

#[utoipa::path(put, path = "/projects/{id}/telemetry/settings", tag = "telemetry", request_body = TelemetrySettingsRequest,
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 200, body = TelemetrySettingsResponse, description = "Saved; audited"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn put_telemetry_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TelemetrySettingsRequest>,
) -> ApiResult<Json<TelemetrySettingsResponse>> {
    let p = project::find(&state, &id).await?;
    let input = settings::SettingsInput {
        retention_days: req.retention_days,
        retention_max_spans: req.retention_max_spans,
        redaction: req.redaction.into_iter().map(RedactionRule::from).collect(),
    };
    let s = settings::save(&state, &caller.audit(), &caller.user, &p, input).await?;
    Ok(Json(TelemetrySettingsResponse::from(&s)))
}
