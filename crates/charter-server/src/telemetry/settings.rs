//! A project's telemetry settings (retention and redaction: its owners and admins
//! change them) and its ingest tokens (its writers create and revoke them).

use charter_domain::IngestTokenId;
use charter_domain::telemetry::redact::{RedactionRule, Redactor};
use charter_domain::telemetry::token::IngestSecret;
use charter_store::AuditContext;
use charter_store::project::{Project, ProjectRole};
use charter_store::telemetry::{IngestToken, TelemetrySettings};
use charter_store::user::User;

use crate::error::{ApiError, ApiResult};
use crate::governance::project::{Access, require};
use crate::state::AppState;

/// Longest retention in days (a century).
const MAX_RETENTION_DAYS: i64 = 36_500;

/// New settings, as sent.
#[derive(Debug, Clone, Default)]
pub struct SettingsInput {
    pub retention_days: Option<i64>,
    pub retention_max_spans: Option<i64>,
    pub redaction: Vec<RedactionRule>,
}

/// A project's settings, for someone who may read the project.
pub async fn get(state: &AppState, by: &User, project: &Project) -> ApiResult<TelemetrySettings> {
    require(state, by, project, Access::Read).await?;
    Ok(state.store.telemetry_settings(project.id).await?)
}

/// Change retention and redaction (project owners and admins); audited as
/// `telemetry.settings_changed`. Rules are compiled first: a bad one is refused
/// with its position and name, and nothing changes.
pub async fn save(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    project: &Project,
    input: SettingsInput,
) -> ApiResult<TelemetrySettings> {
    let role = require(state, by, project, Access::Write).await?;
    if role != Some(ProjectRole::Owner) && !by.role.is_admin() {
        return Err(ApiError::forbidden(format!(
            "only owners of `{}` (or admins) change its retention and redaction",
            project.name
        )));
    }
    if let Some(d) = input.retention_days
        && !(1..=MAX_RETENTION_DAYS).contains(&d)
    {
        return Err(ApiError::invalid(format!(
            "retention_days: {d} must be between 1 and {MAX_RETENTION_DAYS}, or null to keep spans however old"
        )));
    }
    if let Some(n) = input.retention_max_spans
        && n < 1
    {
        return Err(ApiError::invalid(format!(
            "retention_max_spans: {n} must be at least 1, or null for no limit"
        )));
    }
    Redactor::compile(&input.redaction).map_err(|e| ApiError::invalid(e.0))?;
    let redaction = serde_json::to_string(&input.redaction).map_err(|_| ApiError::internal())?;
    let before = state.store.telemetry_settings(project.id).await?;
    let mut tx = state.store.begin().await?;
    let after = charter_store::telemetry::settings::save_settings(
        &mut tx,
        ctx,
        &before,
        input.retention_days,
        input.retention_max_spans,
        &redaction,
        by,
    )
    .await?;
    tx.commit().await?;
    state.telemetry.forget(project.id);
    Ok(after)
}

/// A project's ingest tokens, for someone who may read it.
pub async fn list_tokens(state: &AppState, by: &User, project: &Project) -> ApiResult<Vec<IngestToken>> {
    require(state, by, project, Access::Read).await?;
    Ok(state.store.ingest_tokens(project.id).await?)
}

/// Create an ingest token (project writers); the secret is returned once.
pub async fn create_token(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    project: &Project,
    name: &str,
) -> ApiResult<(IngestToken, IngestSecret)> {
    require(state, by, project, Access::Write).await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name: give the token a name of 1 to 100 characters saying where it is used, e.g. `helpbot production`",
        ));
    }
    let secret = IngestSecret::from_random(crate::state::random_bytes::<32>());
    let mut tx = state.store.begin().await?;
    let token = charter_store::telemetry::settings::create_ingest_token(
        &mut tx,
        ctx,
        project.id,
        name,
        &secret.hash(),
        &secret.display_prefix(),
        by,
    )
    .await?;
    tx.commit().await?;
    Ok((token, secret))
}

/// Revoke one of a project's ingest tokens (project writers).
pub async fn revoke_token(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    project: &Project,
    id: &str,
) -> ApiResult<IngestToken> {
    require(state, by, project, Access::Write).await?;
    let id: IngestTokenId = id
        .trim()
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
    let token = state.store.ingest_token(id).await?;
    if token.project_id != project.id {
        return Err(ApiError::not_found(format!(
            "ingest token {id} not found in `{}`",
            project.name
        )));
    }
    let mut tx = state.store.begin().await?;
    charter_store::telemetry::settings::revoke_ingest_token(&mut tx, ctx, &token).await?;
    tx.commit().await?;
    Ok(state.store.ingest_token(id).await?)
}
