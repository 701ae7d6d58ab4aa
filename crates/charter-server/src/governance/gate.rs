//! Gates: governed actions (starting an app, promoting a model) blocked until the
//! approvals a policy's gate names are granted. Every decision is audited.
//!
//! Charter's action names are `start_app` and `promote_model` (and any other
//! snake_case name a policy uses). Domino's `CreateApp` and `CreateEndpoint` are
//! accepted as spellings of `start_app` and `promote_model`.

use charter_store::AuditContext;
use charter_store::bundle::BundleState;
use charter_store::project::Project;
use serde::Serialize;
use serde_json::json;

use super::parsed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The canonical name of a gate action.
pub fn canonical_action(action: &str) -> String {
    let lower: String = action
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .collect::<String>()
        .to_ascii_lowercase();
    match lower.as_str() {
        "createapp" | "startapp" => "start_app".into(),
        "createendpoint" | "promotemodel" | "deploymodel" => "promote_model".into(),
        _ => action.to_ascii_lowercase(),
    }
}

/// One approval a gate still waits for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissingApproval {
    pub bundle_id: String,
    pub bundle: String,
    pub policy: String,
    pub gate: String,
    pub approval: String,
    /// Its status now (`not_requested`, `pending`, `rejected`, …).
    pub status: String,
}

/// A gate decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GateDecision {
    pub allowed: bool,
    /// The action checked, canonical (`start_app`, `promote_model`).
    pub action: String,
    pub project: String,
    /// Gates that applied, as `bundle / policy / gate`.
    pub gates: Vec<String>,
    pub missing: Vec<MissingApproval>,
    /// A sentence for people and logs.
    pub message: String,
}

/// Check whether `action` may happen in `project` (optionally for one `target`, such
/// as a model name, which is recorded). Active and complete bundles' gates apply.
pub async fn check(
    state: &AppState,
    ctx: &AuditContext,
    project: &Project,
    action: &str,
    target: Option<&str>,
) -> ApiResult<GateDecision> {
    let bundles = state.store.bundles(Some(project.id)).await?;
    check_bundles(state, ctx, project, bundles, action, target).await
}

/// [`check`] over some bundles only (those a model version is attached to).
pub async fn check_bundles(
    state: &AppState,
    ctx: &AuditContext,
    project: &Project,
    bundles: Vec<charter_store::bundle::Bundle>,
    action: &str,
    target: Option<&str>,
) -> ApiResult<GateDecision> {
    if action.trim().is_empty() {
        return Err(ApiError::invalid(
            "action: name the governed action, e.g. start_app or promote_model",
        ));
    }
    let action = canonical_action(action.trim());
    let mut gates = Vec::new();
    let mut missing = Vec::new();
    for bundle in bundles {
        if bundle.state == BundleState::Archived {
            continue;
        }
        let approvals = state.store.approvals(bundle.id).await?;
        for bp in state.store.bundle_policies(bundle.id).await? {
            let version = state.store.policy_version(bp.policy_version_id).await?;
            let policy = parsed(state, &version)?;
            let stored = state.store.policy(bp.policy_id).await?;
            let answers = state.store.latest_answers(bundle.id, bp.policy_id).await?;
            let eval = policy.evaluate(&super::domain_answers(&policy, &answers));
            for gate in policy.gates() {
                let applies = gate.rules().iter().any(|r| canonical_action(&r.action) == action)
                    && eval.active_gates.iter().any(|g| g == gate.name());
                if !applies {
                    continue;
                }
                gates.push(format!("{} / {} / {}", bundle.name, stored.name, gate.name()));
                for name in gate.approvals() {
                    let status = approvals
                        .iter()
                        .find(|a| a.policy_id == bp.policy_id && &a.name == name)
                        .map(|a| a.status);
                    if !status.is_some_and(|s| s.is_granted()) {
                        missing.push(MissingApproval {
                            bundle_id: bundle.id.to_string(),
                            bundle: bundle.name.clone(),
                            policy: stored.name.clone(),
                            gate: gate.name().to_owned(),
                            approval: name.clone(),
                            status: status.map_or("missing", |s| s.as_str()).to_owned(),
                        });
                    }
                }
            }
        }
    }
    let allowed = missing.is_empty();
    let message = if allowed {
        format!(
            "`{action}` is allowed in project `{}` ({} gate(s) satisfied)",
            project.name,
            gates.len()
        )
    } else {
        format!(
            "`{action}` is blocked in project `{}` until these approvals are granted: {}",
            project.name,
            missing
                .iter()
                .map(|m| format!("{} ({} on {}, {})", m.approval, m.policy, m.bundle, m.status))
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    let mut tx = state.store.begin().await?;
    tx.audit(ctx.event(
        if allowed { "gate.allowed" } else { "gate.denied" },
        "project",
        project.id,
        json!({ "action": action, "target": target, "gates": gates, "missing": missing }),
    ));
    tx.commit().await?;
    Ok(GateDecision {
        allowed,
        action,
        project: project.name.clone(),
        gates,
        missing,
        message,
    })
}

/// [`check`] for a signed-in user, who must be able to read the project (named by
/// id or name). The decision is audited either way; a refusal to look is a 403.
pub async fn check_for(
    state: &AppState,
    ctx: &AuditContext,
    user: &charter_store::user::User,
    project: &str,
    action: &str,
    target: Option<&str>,
) -> ApiResult<GateDecision> {
    let project = super::project::find(state, project.trim()).await?;
    super::project::require(state, user, &project, super::project::Access::Read).await?;
    check(
        state,
        ctx,
        &project,
        action,
        target.map(str::trim).filter(|t| !t.is_empty()),
    )
    .await
}
