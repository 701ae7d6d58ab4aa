//! A user's task list: the stored tasks (approvals to give, findings to work,
//! mentions) and, computed on the fly, carried-over answers waiting to be
//! confirmed in bundles the user can write.

use charter_domain::time::Millis;
use charter_domain::{BundleId, TaskId};
use charter_store::bundle::BundleState;
use charter_store::task::Task;
use charter_store::user::User;

use super::parsed;
use crate::error::ApiResult;
use crate::state::AppState;

/// One entry of a task list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskItem {
    /// `None` for computed entries (they are not stored).
    pub id: Option<TaskId>,
    /// `approval`, `finding`, `mention` or `confirm_answer`.
    pub kind: String,
    pub bundle_id: Option<BundleId>,
    /// `approval`, `finding` or `answer`.
    pub target_type: String,
    pub target_id: String,
    pub title: String,
    /// `open` or `done`.
    pub status: String,
    pub created_at: Millis,
    pub done_at: Option<Millis>,
    /// Computed from the data now rather than stored.
    pub computed: bool,
}

impl From<Task> for TaskItem {
    fn from(t: Task) -> Self {
        Self {
            id: Some(t.id),
            kind: t.kind,
            bundle_id: t.bundle_id,
            target_type: t.target_type,
            target_id: t.target_id,
            title: t.title,
            status: t.status,
            created_at: t.created_at,
            done_at: t.done_at,
            computed: false,
        }
    }
}

/// The caller's tasks: open ones (all of them, done included, with `all`), then
/// the carried-over answers to confirm in active bundles of projects they write in.
pub async fn tasks_of(state: &AppState, user: &User, all: bool) -> ApiResult<Vec<TaskItem>> {
    let mut out: Vec<TaskItem> = state
        .store
        .tasks_of(user.id, !all)
        .await?
        .into_iter()
        .map(TaskItem::from)
        .collect();
    if !user.role.can_write() {
        return Ok(out);
    }
    for project in state.store.projects_of(user.id).await? {
        if !state
            .store
            .project_role(project.id, user.id)
            .await?
            .is_some_and(|r| r.can_write())
        {
            continue;
        }
        for bundle in state.store.bundles(Some(project.id)).await? {
            if bundle.state != BundleState::Active {
                continue;
            }
            for bp in state.store.bundle_policies(bundle.id).await? {
                let answers = state.store.latest_answers(bundle.id, bp.policy_id).await?;
                if !answers.values().any(|a| a.carried_over) {
                    continue;
                }
                let version = state.store.policy_version(bp.policy_version_id).await?;
                let policy = parsed(state, &version)?;
                for a in answers.values().filter(|a| a.carried_over) {
                    let label = policy.input(&a.input_id).map_or(a.input_id.as_str(), |i| i.label());
                    out.push(TaskItem {
                        id: None,
                        kind: "confirm_answer".into(),
                        bundle_id: Some(bundle.id),
                        target_type: "answer".into(),
                        target_id: a.id.to_string(),
                        title: format!(
                            "Confirm or edit the carried-over answer to `{label}` ({}) in bundle `{}`",
                            a.input_id, bundle.name
                        ),
                        status: "open".into(),
                        created_at: a.answered_at,
                        done_at: None,
                        computed: true,
                    });
                }
            }
        }
    }
    Ok(out)
}
