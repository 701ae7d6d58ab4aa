//! Policies: lint (with approvers checked against this server's users and groups),
//! create, edit drafts, publish, retire, diff.

use std::collections::HashSet;

use charter_domain::policy::{LintReport, diff, lint_with_approvers};
use charter_store::AuditContext;
use charter_store::policy::{Policy as StoredPolicy, PolicyVersion, VersionStatus};
use charter_store::user::User;
use serde::Serialize;
use serde_json::json;

use super::parsed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One lint finding, as the API and pages show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiagnosticResponse {
    /// `error` or `warning`.
    pub severity: String,
    /// Stable code, e.g. `unknown_input_type`.
    pub code: String,
    /// What is wrong and how to fix it.
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// The outcome of linting a policy.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LintResponse {
    /// No errors (warnings allowed).
    pub ok: bool,
    pub errors: usize,
    pub warnings: usize,
    pub diagnostics: Vec<DiagnosticResponse>,
    /// When ok: stage names, input count, approval names.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub summary: Option<serde_json::Value>,
}

impl From<&LintReport> for LintResponse {
    fn from(r: &LintReport) -> Self {
        let diagnostics: Vec<DiagnosticResponse> = r
            .diagnostics
            .iter()
            .map(|d| DiagnosticResponse {
                severity: if d.is_error() { "error".into() } else { "warning".into() },
                code: d.code.to_owned(),
                message: d.message.clone(),
                line: d.line,
                column: d.column,
            })
            .collect();
        let errors = diagnostics.iter().filter(|d| d.severity == "error").count();
        Self {
            ok: errors == 0,
            errors,
            warnings: diagnostics.len() - errors,
            summary: r.policy.as_ref().map(|p| {
                json!({
                    "stages": p.stages().iter().map(|s| s.name()).collect::<Vec<_>>(),
                    "inputs": p.inputs().count(),
                    "approvals": p.approvals().map(|a| a.name()).collect::<Vec<_>>(),
                    "gates": p.gates().iter().map(|g| g.name()).collect::<Vec<_>>(),
                    "classified": p.classification().is_some(),
                })
            }),
            diagnostics,
        }
    }
}

/// Lint YAML; approvers named by the policy must be users or groups of this server.
pub async fn lint(state: &AppState, yaml: &str) -> ApiResult<LintReport> {
    let mut known: HashSet<String> = state.store.users().await?.into_iter().map(|u| u.username).collect();
    known.extend(state.store.groups().await?.into_iter().map(|g| g.name));
    let yaml = yaml.to_owned();
    tokio::task::spawn_blocking(move || lint_with_approvers(&yaml, |name| known.contains(name)))
        .await
        .map_err(|_| ApiError::internal())
}

/// Refuse YAML with lint errors, listing every diagnostic in the error's details.
pub fn require_clean(report: &LintReport) -> ApiResult<()> {
    if !report.has_errors() {
        return Ok(());
    }
    let response = LintResponse::from(report);
    let first = response
        .diagnostics
        .iter()
        .find(|d| d.severity == "error")
        .map_or(String::new(), |d| {
            format!("; the first, at line {} column {}: {}", d.line, d.column, d.message)
        });
    Err(ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "policy_invalid",
        format!("the policy has {} error(s){first}", response.errors),
    )
    .with_details(serde_json::to_value(&response).unwrap_or_default()))
}

/// Create a policy (version 1, draft) from lint-clean YAML.
pub async fn create(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    name: &str,
    description: &str,
    yaml: &str,
) -> ApiResult<(StoredPolicy, PolicyVersion)> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid("name: give the policy a name of 1 to 200 characters"));
    }
    require_clean(&lint(state, yaml).await?)?;
    let mut tx = state.store.begin().await?;
    let created = charter_store::policy::create(&mut tx, ctx, name, description.trim(), yaml, by).await?;
    tx.commit().await?;
    Ok(created)
}

/// Save YAML into the policy: into its draft when it has one, else as a new draft
/// version. Returns the version and a readable summary of what changed.
pub async fn save(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    policy: &StoredPolicy,
    yaml: &str,
) -> ApiResult<(PolicyVersion, Vec<String>)> {
    let report = lint(state, yaml).await?;
    require_clean(&report)?;
    let new = report.policy.as_ref().expect("clean lint has a policy");
    let versions = state.store.policy_versions(policy.id).await?;
    let draft = versions.iter().find(|v| v.status == VersionStatus::Draft);
    let base = draft.or(versions.last());
    let changes = match base {
        Some(b) => diff(&*parsed(state, b)?, new).lines(),
        None => Vec::new(),
    };
    let mut tx = state.store.begin().await?;
    let version = match draft {
        Some(d) => charter_store::policy::update_draft(&mut tx, ctx, d.id, yaml, json!(changes)).await?,
        None => charter_store::policy::new_version(&mut tx, ctx, policy, yaml, by).await?,
    };
    tx.commit().await?;
    Ok((version, changes))
}

/// Publish a draft. Approvers must exist now (they may not have when it was drafted).
pub async fn publish(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    version: &PolicyVersion,
) -> ApiResult<PolicyVersion> {
    require_clean(&lint(state, &version.yaml).await?)?;
    let mut tx = state.store.begin().await?;
    let v = charter_store::policy::publish(&mut tx, ctx, version.id, by).await?;
    tx.commit().await?;
    Ok(v)
}

/// Retire a published version.
pub async fn retire(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    version: &PolicyVersion,
) -> ApiResult<PolicyVersion> {
    let mut tx = state.store.begin().await?;
    let v = charter_store::policy::retire(&mut tx, ctx, version.id, by).await?;
    tx.commit().await?;
    Ok(v)
}

/// A policy by id (`pol_…`) or name.
pub async fn find(state: &AppState, id_or_name: &str) -> ApiResult<StoredPolicy> {
    if id_or_name.starts_with(charter_domain::PolicyId::PREFIX) {
        let id = id_or_name
            .parse()
            .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
        Ok(state.store.policy(id).await?)
    } else {
        Ok(state.store.policy_by_name(id_or_name).await?)
    }
}

/// Version `n` of a policy, or `latest` (newest of any status) or `published`.
pub async fn find_version(state: &AppState, policy: &StoredPolicy, which: &str) -> ApiResult<PolicyVersion> {
    match which {
        "latest" => state
            .store
            .policy_versions(policy.id)
            .await?
            .pop()
            .ok_or_else(|| ApiError::not_found(format!("policy `{}` has no versions", policy.name))),
        "published" => state.store.latest_published(policy.id).await?.ok_or_else(|| {
            ApiError::conflict(format!(
                "policy `{}` has no published version; publish one first",
                policy.name
            ))
        }),
        n => {
            let n: i64 = n.trim_start_matches('v').parse().map_err(|_| {
                ApiError::invalid(format!(
                    "version: `{n}` is not a version number (or `latest`, `published`)"
                ))
            })?;
            Ok(state.store.policy_version_number(policy.id, n).await?)
        }
    }
}

/// What changes between two versions, as readable lines.
pub fn diff_versions(state: &AppState, old: &PolicyVersion, new: &PolicyVersion) -> ApiResult<Vec<String>> {
    Ok(diff(&*parsed(state, old)?, &*parsed(state, new)?).lines())
}
