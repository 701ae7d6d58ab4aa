//! Accounts (admins only, except reading your own through `/me`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::UserId;
use charter_domain::time::rfc3339;
use charter_domain::user::{Email, NewPassword, Username};
use charter_store::user::{NewUser, User, UserChanges};
use serde::{Deserialize, Serialize};

use super::{ApiJson, respond};
use crate::auth::Admin;
use crate::auth::password::hash_password_async;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserResponse {
    /// Stable id, `usr_…`.
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: String,
    /// `admin`, `governance_admin`, `practitioner` or `viewer`.
    pub role: String,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserResponse {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            role: u.role.as_str().to_owned(),
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    /// Defaults to the username.
    pub display_name: Option<String>,
    pub email: String,
    /// Defaults to `practitioner`.
    pub role: Option<String>,
    /// At least 10 characters. Omit for an account that uses API tokens only.
    pub password: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub role: Option<String>,
    pub disabled: Option<bool>,
    /// A new password (at least 10 characters); ends the user's sessions.
    pub password: Option<String>,
}

pub(crate) fn parse_user_id(id: &str) -> ApiResult<UserId> {
    id.parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))
}

fn parse_role(role: &str) -> ApiResult<charter_domain::Role> {
    role.parse()
        .map_err(|e: charter_domain::role::UnknownRole| ApiError::invalid(format!("role: {e}")))
}

/// Create a user (shared by the API, the admin pages and bootstrap).
pub async fn create(state: &AppState, ctx: &charter_store::AuditContext, req: CreateUserRequest) -> ApiResult<User> {
    let username = Username::parse(req.username.trim())?;
    let email = Email::parse(&req.email)?;
    let role = req
        .role
        .as_deref()
        .map(parse_role)
        .transpose()?
        .unwrap_or(charter_domain::Role::Practitioner);
    let password_hash = match req.password {
        Some(pw) => Some(hash_password_async(NewPassword::parse(&pw)?.expose().to_owned()).await),
        None => None,
    };
    let display_name = req
        .display_name
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| username.to_string());
    let mut tx = state.store.begin().await?;
    let user = charter_store::user::create(
        &mut tx,
        ctx,
        NewUser {
            username,
            display_name: display_name.trim().to_owned(),
            email,
            role,
            password_hash,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

#[utoipa::path(get, path = "/users", tag = "users", responses((status = 200, body = Vec<UserResponse>), (status = 403, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_users(State(state): State<AppState>, _admin: Admin) -> ApiResult<Json<Vec<UserResponse>>> {
    Ok(Json(
        state.store.users().await?.iter().map(UserResponse::from).collect(),
    ))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = UserResponse), (status = 400, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    admin: Admin,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> ApiResult<Response> {
    let user = create(&state, &admin.caller().audit(), req).await?;
    Ok(respond(StatusCode::CREATED, UserResponse::from(&user)))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = String, Path, description = "User id (`usr_…`) or username")),
    responses((status = 200, body = UserResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_user(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<UserResponse>> {
    Ok(Json(UserResponse::from(&find_user(&state, &id).await?)))
}

/// A user by id (`usr_…`) or username.
pub(crate) async fn find_user(state: &AppState, id_or_name: &str) -> ApiResult<User> {
    if id_or_name.starts_with(UserId::PREFIX) {
        Ok(state.store.user(parse_user_id(id_or_name)?).await?)
    } else {
        Ok(state.store.user_by_username(id_or_name).await?)
    }
}

/// Apply changes to a user (shared by the API and the admin pages).
pub async fn update(
    state: &AppState,
    ctx: &charter_store::AuditContext,
    user: &User,
    req: UpdateUserRequest,
) -> ApiResult<User> {
    let changes = UserChanges {
        display_name: req.display_name.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()),
        email: req.email.as_deref().map(Email::parse).transpose()?,
        role: req.role.as_deref().map(parse_role).transpose()?,
        disabled: req.disabled,
    };
    let password_hash = match req.password {
        Some(pw) => Some(hash_password_async(NewPassword::parse(&pw)?.expose().to_owned()).await),
        None => None,
    };
    let mut tx = state.store.begin().await?;
    let updated = charter_store::user::update(&mut tx, ctx, user.id, changes).await?;
    if let Some(hash) = password_hash {
        charter_store::user::set_password(&mut tx, ctx, user.id, &hash).await?;
    }
    tx.commit().await?;
    state.basic_cache.forget(user.id);
    Ok(updated)
}

/// An admin may not lock themselves out (shared by the API and the admin pages).
pub fn check_self_change(actor: &User, user: &User, req: &UpdateUserRequest) -> ApiResult<()> {
    if user.id == actor.id && (req.disabled == Some(true) || req.role.as_deref().is_some_and(|r| r != "admin")) {
        return Err(ApiError::conflict(
            "you cannot disable yourself or remove your own admin role; ask another admin",
        ));
    }
    Ok(())
}

#[utoipa::path(patch, path = "/users/{id}", tag = "users", request_body = UpdateUserRequest,
    params(("id" = String, Path, description = "User id (`usr_…`) or username")),
    responses((status = 200, body = UserResponse), (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn update_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserResponse>> {
    let user = find_user(&state, &id).await?;
    check_self_change(&admin.caller().user, &user, &req)?;
    Ok(Json(UserResponse::from(
        &update(&state, &admin.caller().audit(), &user, req).await?,
    )))
}
