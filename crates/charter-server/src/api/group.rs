//! Groups: anyone signed in can read them (policies name them); admins change them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::GroupId;
use charter_domain::time::rfc3339;
use charter_domain::user::GroupName;
use charter_store::group::Group;
use serde::{Deserialize, Serialize};

use super::user::{UserResponse, find_user};
use super::{ApiJson, respond};
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupResponse {
    /// Stable id, `grp_…`.
    pub id: String,
    pub name: String,
    pub description: String,
    pub member_count: i64,
    pub created_at: String,
}

impl From<&Group> for GroupResponse {
    fn from(g: &Group) -> Self {
        Self {
            id: g.id.to_string(),
            name: g.name.clone(),
            description: g.description.clone(),
            member_count: g.member_count,
            created_at: rfc3339(g.created_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GroupDetailResponse {
    #[serde(flatten)]
    pub group: GroupResponse,
    pub members: Vec<UserResponse>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    /// User id (`usr_…`) or username.
    pub user: String,
}

/// A group by id (`grp_…`) or name.
pub(crate) async fn find_group(state: &AppState, id_or_name: &str) -> ApiResult<Group> {
    if id_or_name.starts_with(GroupId::PREFIX) {
        let id: GroupId = id_or_name
            .parse()
            .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
        Ok(state.store.group(id).await?)
    } else {
        Ok(state.store.group_by_name(id_or_name).await?)
    }
}

/// Create a group (shared by the API, the admin pages and the CLI).
pub async fn create(state: &AppState, ctx: &charter_store::AuditContext, req: CreateGroupRequest) -> ApiResult<Group> {
    let name = GroupName::parse(req.name.trim())?;
    let mut tx = state.store.begin().await?;
    let group = charter_store::group::create(&mut tx, ctx, &name, req.description.trim()).await?;
    tx.commit().await?;
    Ok(group)
}

/// Add a member (shared by the API, the admin pages and the CLI).
pub async fn add(state: &AppState, ctx: &charter_store::AuditContext, group: &Group, user: &str) -> ApiResult<()> {
    let user = find_user(state, user).await?;
    let mut tx = state.store.begin().await?;
    charter_store::group::add_member(&mut tx, ctx, group, &user).await?;
    tx.commit().await?;
    Ok(())
}

/// Remove a member (shared by the API and the admin pages).
pub async fn remove(state: &AppState, ctx: &charter_store::AuditContext, group: &Group, user: &str) -> ApiResult<()> {
    let user = find_user(state, user).await?;
    let mut tx = state.store.begin().await?;
    charter_store::group::remove_member(&mut tx, ctx, group, &user).await?;
    tx.commit().await?;
    Ok(())
}

#[utoipa::path(get, path = "/groups", tag = "groups", responses((status = 200, body = Vec<GroupResponse>)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_groups(State(state): State<AppState>, _caller: Caller) -> ApiResult<Json<Vec<GroupResponse>>> {
    Ok(Json(
        state.store.groups().await?.iter().map(GroupResponse::from).collect(),
    ))
}

#[utoipa::path(post, path = "/groups", tag = "groups", request_body = CreateGroupRequest,
    responses((status = 201, body = GroupResponse), (status = 400, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_group(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<CreateGroupRequest>,
) -> ApiResult<Response> {
    let group = create(&state, &admin.caller().audit(), req).await?;
    Ok(respond(StatusCode::CREATED, GroupResponse::from(&group)))
}

#[utoipa::path(get, path = "/groups/{id}", tag = "groups", params(("id" = String, Path, description = "Group id (`grp_…`) or name")),
    responses((status = 200, body = GroupDetailResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_group(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<GroupDetailResponse>> {
    let group = find_group(&state, &id).await?;
    let members = state.store.group_members(group.id).await?;
    Ok(Json(GroupDetailResponse {
        group: GroupResponse::from(&group),
        members: members.iter().map(UserResponse::from).collect(),
    }))
}

#[utoipa::path(post, path = "/groups/{id}/members", tag = "groups", request_body = AddMemberRequest,
    params(("id" = String, Path, description = "Group id (`grp_…`) or name")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn add_member(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> ApiResult<StatusCode> {
    let group = find_group(&state, &id).await?;
    add(&state, &admin.caller().audit(), &group, req.user.trim()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/groups/{id}/members/{user_id}", tag = "groups",
    params(("id" = String, Path, description = "Group id or name"), ("user_id" = String, Path, description = "User id or username")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn remove_member(
    State(state): State<AppState>,
    admin: Admin,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let group = find_group(&state, &id).await?;
    remove(&state, &admin.caller().audit(), &group, &user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
