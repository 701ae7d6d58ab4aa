//! A user's task list: the stored tasks (approvals to give, findings to work,
//! mentions) and, computed on the fly, carried-over answers waiting to be
//! confirmed in bundles the user can write.

use std::collections::HashMap;

use charter_domain::time::Millis;
use charter_domain::{BundleId, PolicyVersionId, TaskId};
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
    // One query finds them all (a partial index keeps it cheap at any number of
    // bundles); each policy version is parsed once, from the cache.
    let mut labels: HashMap<PolicyVersionId, std::sync::Arc<charter_domain::policy::Policy>> = HashMap::new();
    for c in state.store.carried_over_for(user.id).await? {
        let policy = match labels.get(&c.policy_version_id) {
            Some(p) => p.clone(),
            None => {
                let version = state.store.policy_version(c.policy_version_id).await?;
                let p = parsed(state, &version)?;
                labels.insert(c.policy_version_id, p.clone());
                p
            }
        };
        let a = &c.answer;
        let label = policy.input(&a.input_id).map_or(a.input_id.as_str(), |i| i.label());
        out.push(TaskItem {
            id: None,
            kind: "confirm_answer".into(),
            bundle_id: Some(a.bundle_id),
            target_type: "answer".into(),
            target_id: a.id.to_string(),
            title: format!(
                "Confirm or edit the carried-over answer to `{label}` ({}) in bundle `{}`",
                a.input_id, c.bundle_name
            ),
            status: "open".into(),
            created_at: a.answered_at,
            done_at: None,
            computed: true,
        });
    }
    Ok(out)
}
