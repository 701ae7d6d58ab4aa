//! Your task list: approvals to give, findings to work, mentions, and carried-over
//! answers to confirm.

use axum::Json;
use axum::extract::State;
use charter_domain::time::rfc3339;
use serde::{Deserialize, Serialize};

use super::ApiQuery;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::governance::task::{TaskItem, tasks_of};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TaskResponse {
    /// Stable id, `tsk_…`; absent for computed tasks (carried-over answers).
    pub id: Option<String>,
    /// `approval`, `finding`, `mention`, `stage_assigned` or `confirm_answer`.
    pub kind: String,
    pub bundle_id: Option<String>,
    /// `approval`, `finding`, `stage` (`<bundle>/<policy>/<stage>`) or `answer`.
    pub target_type: String,
    /// The id of what the task is about (`apr_…`, `fnd_…`, `ans_…`).
    pub target_id: String,
    pub title: String,
    /// `open` or `done`.
    pub status: String,
    pub created_at: String,
    pub done_at: Option<String>,
    /// Computed from the data now (it goes away when the answer is confirmed or edited).
    pub computed: bool,
}

impl From<&TaskItem> for TaskResponse {
    fn from(t: &TaskItem) -> Self {
        Self {
            id: t.id.map(|i| i.to_string()),
            kind: t.kind.clone(),
            bundle_id: t.bundle_id.map(|b| b.to_string()),
            target_type: t.target_type.clone(),
            target_id: t.target_id.clone(),
            title: t.title.clone(),
            status: t.status.clone(),
            created_at: rfc3339(t.created_at),
            done_at: t.done_at.map(rfc3339),
            computed: t.computed,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TaskListQuery {
    /// Include done tasks too.
    pub all: Option<bool>,
}

#[utoipa::path(get, path = "/tasks", tag = "tasks", params(TaskListQuery),
    responses((status = 200, body = Vec<TaskResponse>)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_tasks(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TaskListQuery>,
) -> ApiResult<Json<Vec<TaskResponse>>> {
    let tasks = tasks_of(&state, &caller.user, q.all.unwrap_or(false)).await?;
    Ok(Json(tasks.iter().map(TaskResponse::from).collect()))
}
