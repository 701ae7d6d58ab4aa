//! Projects and who may act in them.

use charter_store::AuditContext;
use charter_store::project::{Project, ProjectRole};
use charter_store::user::User;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What a user may do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Check that `user` may read or write in `project`: members by their project role
/// (project viewers and installation viewers only read); governance admins and admins
/// read every project, and write only where they are members; people named as
/// approvers on a bundle of the project read it.
pub async fn require(
    state: &AppState,
    user: &User,
    project: &Project,
    access: Access,
) -> ApiResult<Option<ProjectRole>> {
    let role = state.store.project_role(project.id, user.id).await?;
    let allowed = match role {
        Some(r) => access == Access::Read || (r.can_write() && user.role.can_write()),
        None => {
            access == Access::Read
                && (user.role.is_governance_admin() || is_named_approver_in(state, user, project).await?)
        }
    };
    if allowed {
        Ok(role)
    } else {
        let need = if access == Access::Write {
            "a member (not a viewer)"
        } else {
            "a member"
        };
        Err(ApiError::forbidden(format!(
            "you must be {need} of project `{}` for this; ask its owner to add you",
            project.name
        )))
    }
}

/// Whether `user` is named (directly or through a group) as an approver of any
/// bundle in `project`. Approvers read the projects they review, as Domino gives
/// them consumer access.
async fn is_named_approver_in(state: &AppState, user: &User, project: &Project) -> ApiResult<bool> {
    let groups = state.store.groups_of(user.id).await?;
    for bundle in state.store.bundles(Some(project.id)).await? {
        for approval in state.store.approvals(bundle.id).await? {
            let named = approval.approvers.iter().any(|a| {
                if a.kind == "group" {
                    groups.contains(&a.name)
                } else {
                    a.name == user.username
                }
            });
            if named {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// A project by id (`prj_…`) or name.
pub async fn find(state: &AppState, id_or_name: &str) -> ApiResult<Project> {
    if id_or_name.starts_with(charter_domain::ProjectId::PREFIX) {
        let id = id_or_name
            .parse()
            .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
        Ok(state.store.project(id).await?)
    } else {
        Ok(state.store.project_by_name(id_or_name).await?)
    }
}

/// Create a project; its creator owns it.
pub async fn create(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    name: &str,
    description: &str,
) -> ApiResult<Project> {
    let name = charter_domain::user::GroupName::parse(name.trim())
        .map_err(|e| ApiError::invalid(format!("name: {}", e.reason)))?;
    if !by.role.can_write() {
        return Err(ApiError::forbidden("viewers cannot create projects"));
    }
    let mut tx = state.store.begin().await?;
    let p = charter_store::project::create(&mut tx, ctx, name.as_str(), description.trim(), by).await?;
    tx.commit().await?;
    Ok(p)
}

/// Add a member or change their role (project owners and admins).
pub async fn set_member(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    project: &Project,
    user: &User,
    role: &str,
) -> ApiResult<()> {
    let role = ProjectRole::parse(role)
        .ok_or_else(|| ApiError::invalid(format!("role: `{role}` must be owner, member or viewer")))?;
    let mine = state.store.project_role(project.id, by.id).await?;
    if mine != Some(ProjectRole::Owner) && !by.role.is_admin() {
        return Err(ApiError::forbidden(format!(
            "only owners of `{}` (or admins) manage its members",
            project.name
        )));
    }
    let mut tx = state.store.begin().await?;
    charter_store::project::set_member(&mut tx, ctx, project, user, role).await?;
    tx.commit().await?;
    Ok(())
}

/// The projects `user` may read: every project for governance admins (and admins),
/// otherwise the ones they are a member of. Sorted by name.
pub async fn list_for(state: &AppState, user: &User) -> ApiResult<Vec<Project>> {
    if user.role.is_governance_admin() {
        Ok(state.store.projects().await?)
    } else {
        Ok(state.store.projects_of(user.id).await?)
    }
}

/// Which projects `user` may read, as a filter: `None` means all of them
/// (governance admins), otherwise the set of their projects' ids.
pub async fn readable(
    state: &AppState,
    user: &User,
) -> ApiResult<Option<std::collections::HashSet<charter_domain::ProjectId>>> {
    if user.role.is_governance_admin() {
        return Ok(None);
    }
    Ok(Some(
        state
            .store
            .projects_of(user.id)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect(),
    ))
}

/// A project and its members with their roles, for someone who may read it.
pub async fn detail(state: &AppState, user: &User, project: &Project) -> ApiResult<Vec<(User, ProjectRole)>> {
    require(state, user, project, Access::Read).await?;
    Ok(state.store.project_members(project.id).await?)
}
