//! Stage assignees: who works on a stage of a policy on a bundle. Anyone who may
//! write in the project assigns; the assignee must be a project member who can
//! write there (so they can answer the stage's evidence). The assignee gets a task.

use charter_store::AuditContext;
use charter_store::bundle::{Bundle, BundleState};
use charter_store::user::User;
use serde::Serialize;

use super::super::project::{Access, require};
use super::super::review::named_user;
use super::bundle_policy;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A stage and who works on it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StageAssignment {
    /// `bdl_…`.
    pub bundle_id: String,
    /// `pol_…`.
    pub policy_id: String,
    pub stage: String,
    /// Username of the assignee; `null` when nobody is assigned.
    pub assignee: Option<String>,
    /// False when the stage already had this assignee (nothing was written).
    pub changed: bool,
}

/// Assign `user` (a username or `usr_…` id), or nobody, to `stage` of `policy_ref`.
pub async fn assign(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    policy_ref: &str,
    stage: &str,
    user: Option<&str>,
) -> ApiResult<StageAssignment> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, by, &project, Access::Write).await?;
    if bundle.state != BundleState::Active {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is {}; stages of active bundles only are assigned",
            bundle.name,
            bundle.state.as_str()
        )));
    }
    let (bp, _, policy) = bundle_policy(state, bundle, policy_ref).await?;
    let stage = policy
        .stage(stage.trim())
        .ok_or_else(|| {
            let names: Vec<&str> = policy.stages().iter().map(|s| s.name()).collect();
            ApiError::not_found(format!(
                "the policy has no stage `{}`; its stages are: {}",
                stage.trim(),
                names.join(", ")
            ))
        })?
        .name()
        .to_owned();
    let assignee = match user.map(str::trim).filter(|u| !u.is_empty()) {
        Some(name) => {
            let u = named_user(state, "user", name).await?;
            if require(state, &u, &project, Access::Write).await.is_err() {
                return Err(ApiError::invalid(format!(
                    "user: `{}` cannot write in project `{}`; add them as a member first",
                    u.username, project.name
                )));
            }
            Some(u)
        }
        None => None,
    };
    let mut tx = state.store.begin().await?;
    let changed =
        charter_store::assignee::assign(&mut tx, ctx, bundle.id, bp.policy_id, &stage, assignee.as_ref(), by).await?;
    if changed {
        tx.commit().await?;
    }
    Ok(StageAssignment {
        bundle_id: bundle.id.to_string(),
        policy_id: bp.policy_id.to_string(),
        stage,
        assignee: assignee.map(|u| u.username),
        changed,
    })
}
