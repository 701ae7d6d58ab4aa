//! Policies: lint (with approvers checked against this server's users and groups),
//! create, edit drafts, publish, retire, diff.

use std::collections::HashSet;

use charter_domain::policy::{LintReport, Policy, PolicyDiff, PolicyTestResult, diff, lint_with_approvers};
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
            summary: r.policy.as_ref().map(summary),
            diagnostics,
        }
    }
}

/// A policy at a glance: stage names, input count, approval and gate names, whether
/// it classifies.
pub fn summary(p: &Policy) -> serde_json::Value {
    json!({
        "stages": p.stages().iter().map(|s| s.name()).collect::<Vec<_>>(),
        "inputs": p.inputs().count(),
        "approvals": p.approvals().map(|a| a.name()).collect::<Vec<_>>(),
        "gates": p.gates().iter().map(|g| g.name()).collect::<Vec<_>>(),
        "classified": p.classification().is_some(),
        "tests": p.tests().len(),
    })
}

/// Only governance admins (and admins) create, edit, publish and retire policies.
/// The API's `GovernanceAdmin` capability refuses others first (with an
/// `access.denied` event); this keeps the rule for every other caller.
fn require_policy_admin(by: &User) -> ApiResult<()> {
    if by.role.is_governance_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "only governance admins change policies; your role is {}",
            by.role
        )))
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
    let (policy, version, _) = create_linted(state, ctx, by, name, description, yaml).await?;
    Ok((policy, version))
}

/// [`create`], also returning the lint report (its warnings are worth showing: a
/// Domino import may name a classification rule Charter does not have).
pub async fn create_linted(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    name: &str,
    description: &str,
    yaml: &str,
) -> ApiResult<(StoredPolicy, PolicyVersion, LintReport)> {
    require_policy_admin(by)?;
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid("name: give the policy a name of 1 to 200 characters"));
    }
    if name.starts_with(charter_domain::PolicyId::PREFIX) || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "name: `{name}` cannot name a policy: it must not start with `{}` (that is how ids start) nor contain control characters",
            charter_domain::PolicyId::PREFIX
        )));
    }
    let report = lint(state, yaml).await?;
    require_clean(&report)?;
    let mut tx = state.store.begin().await?;
    let (policy, version) = charter_store::policy::create(&mut tx, ctx, name, description.trim(), yaml, by).await?;
    tx.commit().await?;
    Ok((policy, version, report))
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
    let saved = save_onto(state, ctx, by, policy, yaml, None).await?;
    Ok((saved.version, saved.changes))
}

/// What saving a draft did.
pub struct SavedDraft {
    pub version: PolicyVersion,
    /// What changed against the draft (or, for a new draft, the newest version), as
    /// readable lines.
    pub changes: Vec<String>,
    /// A new draft version was started (there was no draft).
    pub created: bool,
    /// The lint report of the saved YAML (warnings only).
    pub report: LintReport,
}

/// [`save`], optionally naming the version the editor started from. When that
/// version is no longer a draft (someone published it meanwhile, or it never was
/// one) the save is refused with 409 instead of silently starting a new draft:
/// published versions are immutable.
pub async fn save_onto(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    policy: &StoredPolicy,
    yaml: &str,
    edited: Option<i64>,
) -> ApiResult<SavedDraft> {
    require_policy_admin(by)?;
    let versions = state.store.policy_versions(policy.id).await?;
    if let Some(n) = edited {
        let v = versions
            .iter()
            .find(|v| v.version == n)
            .ok_or_else(|| ApiError::not_found(format!("policy `{}` has no version {n}", policy.name)))?;
        if v.status != VersionStatus::Draft {
            let next = versions.last().map_or(1, |l| l.version + 1);
            return Err(ApiError::conflict(format!(
                "version {n} of policy `{}` is {}, and published versions are immutable; save without `version` to start version {next} as a new draft",
                policy.name,
                v.status.as_str()
            )));
        }
    }
    let report = lint(state, yaml).await?;
    require_clean(&report)?;
    let new = report.policy.as_ref().expect("clean lint has a policy");
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
    Ok(SavedDraft {
        version,
        changes,
        created: draft.is_none(),
        report,
    })
}

/// Publish a draft. Approvers must exist now (they may not have when it was drafted).
pub async fn publish(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    version: &PolicyVersion,
) -> ApiResult<PolicyVersion> {
    require_policy_admin(by)?;
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
    require_policy_admin(by)?;
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

/// The structured difference between two versions (what [`diff_versions`] renders).
pub fn diff_structured(state: &AppState, old: &PolicyVersion, new: &PolicyVersion) -> ApiResult<PolicyDiff> {
    Ok(diff(&*parsed(state, old)?, &*parsed(state, new)?))
}

/// Every policy with its versions (oldest first), sorted by name.
pub async fn list(state: &AppState) -> ApiResult<Vec<(StoredPolicy, Vec<PolicyVersion>)>> {
    let mut out = Vec::new();
    for p in state.store.policies().await? {
        let versions = state.store.policy_versions(p.id).await?;
        out.push((p, versions));
    }
    Ok(out)
}

/// Run the tests a version carries (`tests:` example answers with expectations).
pub async fn run_tests(state: &AppState, version: &PolicyVersion) -> ApiResult<Vec<PolicyTestResult>> {
    let policy = parsed(state, version)?;
    tokio::task::spawn_blocking(move || charter_domain::policy::run_policy_tests(&policy))
        .await
        .map_err(|_| ApiError::internal())
}
