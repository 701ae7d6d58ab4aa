//! Projects: namespaces with members, where bundles live. Members see their
//! projects; governance admins see every project.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::time::rfc3339;
use charter_store::project::{Project, ProjectRole};
use charter_store::user::User;
use serde::{Deserialize, Serialize};

use super::{ApiJson, respond};
use crate::auth::{Caller, Writer};
use crate::error::ApiResult;
use crate::governance::project;
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectResponse {
    /// Stable id, `prj_…`.
    pub id: String,
    pub name: String,
    pub description: String,
    /// `usr_…` of its creator.
    pub created_by: String,
    pub created_at: String,
}

impl From<&Project> for ProjectResponse {
    fn from(p: &Project) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            description: p.description.clone(),
            created_by: p.created_by.to_string(),
            created_at: rfc3339(p.created_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectMemberResponse {
    /// `usr_…`.
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// `owner`, `member` or `viewer`.
    pub role: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProjectDetailResponse {
    #[serde(flatten)]
    pub project: ProjectResponse,
    pub members: Vec<ProjectMemberResponse>,
}

fn detail_response(p: &Project, members: &[(User, ProjectRole)]) -> ProjectDetailResponse {
    ProjectDetailResponse {
        project: ProjectResponse::from(p),
        members: members
            .iter()
            .map(|(u, role)| ProjectMemberResponse {
                user_id: u.id.to_string(),
                username: u.username.clone(),
                display_name: u.display_name.clone(),
                role: role.as_str().to_owned(),
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// Letters, digits, `-`, `_` and `.` (like group names).
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetProjectMemberRequest {
    /// User id (`usr_…`) or username.
    pub user: String,
    /// `owner`, `member` or `viewer`.
    pub role: String,
}

#[utoipa::path(get, path = "/projects", tag = "projects",
    responses((status = 200, body = Vec<ProjectResponse>, description = "Your projects; every project for governance admins")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_projects(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ProjectResponse>>> {
    let projects = project::list_for(&state, &caller.user).await?;
    Ok(Json(projects.iter().map(ProjectResponse::from).collect()))
}

#[utoipa::path(post, path = "/projects", tag = "projects", request_body = CreateProjectRequest,
    responses((status = 201, body = ProjectDetailResponse, description = "Created; you own it"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_project(
    State(state): State<AppState>,
    writer: Writer,
    ApiJson(req): ApiJson<CreateProjectRequest>,
) -> ApiResult<Response> {
    let caller = writer.caller();
    let p = project::create(&state, &caller.audit(), &caller.user, &req.name, &req.description).await?;
    let members = state.store.project_members(p.id).await?;
    Ok(respond(StatusCode::CREATED, detail_response(&p, &members)))
}

#[utoipa::path(get, path = "/projects/{id}", tag = "projects",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 200, body = ProjectDetailResponse), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ProjectDetailResponse>> {
    let p = project::find(&state, &id).await?;
    let members = project::detail(&state, &caller.user, &p).await?;
    Ok(Json(detail_response(&p, &members)))
}

#[utoipa::path(post, path = "/projects/{id}/members", tag = "projects", request_body = SetProjectMemberRequest,
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 200, body = ProjectDetailResponse, description = "The project with its members after the change"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn set_project_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SetProjectMemberRequest>,
) -> ApiResult<Json<ProjectDetailResponse>> {
    let p = project::find(&state, &id).await?;
    let user = super::user::find_user(&state, req.user.trim()).await?;
    project::set_member(&state, &caller.audit(), &caller.user, &p, &user, req.role.trim()).await?;
    let members = state.store.project_members(p.id).await?;
    Ok(Json(detail_response(&p, &members)))
}
