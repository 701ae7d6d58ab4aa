//! Who may do what through the MLflow API: the caller is a Charter user (Bearer
//! token or Basic username/password, as for the rest of Charter); experiments and
//! registered models belong to projects and obey their membership.
//!
//! Something created without naming a project lands in the default project
//! (`mlflow.default_project`, created on first use). The default project is open:
//! a user who reaches it through the MLflow API joins it (as a member, or a viewer
//! for viewers), audited as `project.member_added`, so the stock client works with
//! no extra settings. Another project is chosen with the tag `charter.project` on
//! the experiment or registered model when it is created.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use charter_domain::ProjectId;
use charter_store::project::{Project, ProjectRole};
use charter_store::user::User;

use super::error::{MlResult, MlflowError};
use crate::auth::Caller;
use crate::governance::project::{Access, require};
use crate::state::AppState;

/// The tag that names a project when an experiment or registered model is created.
pub const PROJECT_TAG: &str = "charter.project";

/// The authenticated caller of an MLflow route (401 `UNAUTHENTICATED` otherwise).
pub struct Who(pub Caller);

impl FromRequestParts<AppState> for Who {
    type Rejection = MlflowError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Caller::from_request_parts(parts, state).await {
            Ok(c) => Ok(Who(c)),
            Err(e) => Err(MlflowError::new(
                super::error::ErrorCode::Unauthenticated,
                format!(
                    "{} (set MLFLOW_TRACKING_TOKEN to a Charter API token, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)",
                    e.message
                ),
            )),
        }
    }
}

/// The default project, created (by `user`) if it does not exist yet, with `user`
/// joined to it.
pub async fn default_project(state: &AppState, caller: &Caller) -> MlResult<Project> {
    let name = state.config.mlflow.default_project.clone();
    let project = match state.store.project_by_name(&name).await {
        Ok(p) => p,
        Err(charter_store::StoreError::NotFound(_)) => {
            if !caller.user.role.can_write() {
                return Err(MlflowError::denied(format!(
                    "the default project `{name}` does not exist yet, and viewers cannot create it"
                )));
            }
            let made = async {
                let mut tx = state.store.begin().await?;
                let p = charter_store::project::create(
                    &mut tx,
                    &caller.audit(),
                    &name,
                    "Experiments and models created through the MLflow API without naming a project.",
                    &caller.user,
                )
                .await?;
                charter_store::mlflow::experiment::claim_default(&mut tx, p.id).await?;
                tx.commit().await?;
                Ok::<_, charter_store::StoreError>(p)
            }
            .await;
            match made {
                Ok(p) => return Ok(p),
                // Someone else created it at the same moment.
                Err(charter_store::StoreError::Conflict(_)) => state.store.project_by_name(&name).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    if state.store.project_role(project.id, caller.user.id).await?.is_none() {
        let role = if caller.user.role.can_write() {
            ProjectRole::Member
        } else {
            ProjectRole::Viewer
        };
        let joined = async {
            let mut tx = state.store.begin().await?;
            charter_store::project::set_member(&mut tx, &caller.audit(), &project, &caller.user, role).await?;
            charter_store::mlflow::experiment::claim_default(&mut tx, project.id).await?;
            tx.commit().await
        }
        .await;
        match joined {
            Ok(_) | Err(charter_store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(project)
}

/// The project something lives in: its own, or the default one.
pub async fn project_of(state: &AppState, caller: &Caller, project: Option<ProjectId>) -> MlResult<Project> {
    match project {
        Some(id) => Ok(state.store.project(id).await?),
        None => default_project(state, caller).await,
    }
}

/// Check `access` to a project for the caller, as an MLflow error.
pub async fn check(state: &AppState, user: &User, project: &Project, access: Access) -> MlResult<()> {
    require(state, user, project, access)
        .await
        .map(|_| ())
        .map_err(|e| MlflowError::denied(e.message))
}

/// [`check`], joining the caller to the default project first when that is what
/// stands in the way (the default project is open to every MLflow user).
pub async fn check_or_join(state: &AppState, caller: &Caller, project: &Project, access: Access) -> MlResult<()> {
    match check(state, &caller.user, project, access).await {
        Err(_) if project.name == state.config.mlflow.default_project => {
            default_project(state, caller).await?;
            check(state, &caller.user, project, access).await
        }
        other => other,
    }
}

/// The project to create something in: named by the `charter.project` tag (the
/// caller must be able to write there), else the default project.
pub async fn project_for_new(state: &AppState, caller: &Caller, named: Option<&str>) -> MlResult<Project> {
    let project = match named.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => crate::governance::project::find(state, n)
            .await
            .map_err(|_| MlflowError::invalid(format!("tag {PROJECT_TAG}: there is no project `{n}`")))?,
        None => default_project(state, caller).await?,
    };
    check_or_join(state, caller, &project, Access::Write).await?;
    Ok(project)
}

/// An experiment the caller may read (or write), with its project.
pub async fn experiment(
    state: &AppState,
    caller: &Caller,
    id: i64,
    access: Access,
) -> MlResult<(charter_store::mlflow::experiment::Experiment, Project)> {
    let e = state.store.mlflow_experiment(id).await?;
    let project = project_of(state, caller, e.project_id).await?;
    check_or_join(state, caller, &project, access).await?;
    Ok((e, project))
}

/// An experiment id from the wire (`"1"`).
pub fn experiment_id(text: &str) -> MlResult<i64> {
    text.trim().parse().map_err(|_| {
        MlflowError::invalid(format!(
            "experiment_id `{text}` is not an experiment id (a number such as \"1\")"
        ))
    })
}

/// A run the caller may read (or write); writes also need the run to be active.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    run_id: &str,
    access: Access,
) -> MlResult<charter_store::mlflow::run::RunInfo> {
    let info = state.store.mlflow_run_info(run_id).await?;
    experiment(state, caller, info.experiment_id, access).await?;
    Ok(info)
}

/// A run to log into: readable for writing and active.
pub async fn active_run(
    state: &AppState,
    caller: &Caller,
    run_id: &str,
) -> MlResult<charter_store::mlflow::run::RunInfo> {
    let info = run(state, caller, run_id, Access::Write).await?;
    if info.lifecycle != charter_store::mlflow::Lifecycle::Active {
        return Err(MlflowError::invalid(format!(
            "The run {run_id} must be in the 'active' state. Current state is deleted."
        )));
    }
    Ok(info)
}

/// The projects the caller may read: `None` means all (governance admins).
pub async fn readable(state: &AppState, caller: &Caller) -> MlResult<Option<std::collections::HashSet<ProjectId>>> {
    // Make sure the default project and the caller's place in it exist, so the
    // Default experiment is visible from the first call.
    let default = default_project(state, caller).await.ok();
    let mut set = crate::governance::project::readable(state, &caller.user).await?;
    if let (Some(set), Some(d)) = (set.as_mut(), default) {
        set.insert(d.id);
    }
    Ok(set)
}

/// Whether something in `project` (or the default project, `None`) is readable.
pub fn visible(
    readable: &Option<std::collections::HashSet<ProjectId>>,
    project: Option<ProjectId>,
    default: Option<ProjectId>,
) -> bool {
    match readable {
        None => true,
        Some(set) => project.or(default).is_some_and(|p| set.contains(&p)),
    }
}
