//! Signing in and out, and who am I.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use charter_domain::time::now_ms;
use charter_store::session::NewSession;
use serde::{Deserialize, Serialize};

use super::user::UserResponse;
use super::{ApiJson, respond};
use crate::auth::{AuthMethod, Caller, RequestMeta, SESSION_COOKIE, session_hash, verify_credentials};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, random_bytes};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    pub user: UserResponse,
    /// Echo this in the `X-CSRF-Token` header of unsafe requests made with the session cookie.
    pub csrf_token: String,
    /// When the session ends (RFC 3339).
    pub expires_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MeResponse {
    pub user: UserResponse,
    /// The groups the user belongs to.
    pub groups: Vec<String>,
    /// How this request was authenticated: `session`, `token` or `password`.
    pub auth_method: String,
}

/// Start a browser session: returns the `Set-Cookie` to send back.
pub async fn start_session(
    state: &AppState,
    user: &charter_store::user::User,
    meta: &RequestMeta,
) -> ApiResult<(String, String, i64)> {
    let session_id = hex::encode(random_bytes::<32>());
    let csrf_token = hex::encode(random_bytes::<16>());
    let ttl_ms = state.config.auth.session_ttl_hours as i64 * 3_600_000;
    let expires_at = now_ms() + ttl_ms;
    let ctx = meta_ctx(user, meta);
    let mut tx = state.store.begin().await?;
    charter_store::session::create(
        &mut tx,
        &ctx,
        NewSession {
            id_hash: session_hash(&session_id),
            user_id: user.id,
            csrf_token: csrf_token.clone(),
            expires_at,
            client_addr: meta.client_addr.clone(),
            user_agent: meta.user_agent.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    let secure = if state.config.auth.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={session_id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        ttl_ms / 1000
    );
    Ok((cookie, csrf_token, expires_at))
}

fn meta_ctx(user: &charter_store::user::User, meta: &RequestMeta) -> charter_store::AuditContext {
    Caller {
        user: user.clone(),
        method: AuthMethod::Password,
        meta: meta.clone(),
    }
    .audit()
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(state: &AppState) -> String {
    let secure = if state.config.auth.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let user = verify_credentials(&state, req.username.trim(), &req.password, &meta).await?;
    let (cookie, csrf_token, expires_at) = start_session(&state, &user, &meta).await?;
    let mut response = respond(
        StatusCode::OK,
        LoginResponse {
            user: UserResponse::from(&user),
            csrf_token,
            expires_at: charter_domain::time::rfc3339(expires_at),
        },
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?,
    );
    Ok(response)
}

/// End the caller's session (if signed in with one).
pub async fn end_session(state: &AppState, caller: &Caller) -> ApiResult<()> {
    if let AuthMethod::Session { id_hash, .. } = &caller.method
        && let Some(session) = state.store.session(id_hash).await?
    {
        let mut tx = state.store.begin().await?;
        charter_store::session::end(&mut tx, &caller.audit(), &session).await?;
        tx.commit().await?;
    }
    Ok(())
}

#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    end_session(&state, &caller).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear_cookie(&state)).map_err(|_| ApiError::internal())?,
    );
    Ok(response)
}

#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, body = MeResponse), (status = 401, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_me(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<MeResponse>> {
    let groups = state.store.groups_of(caller.user.id).await?;
    let auth_method = match caller.method {
        AuthMethod::Session { .. } => "session",
        AuthMethod::Token { .. } => "token",
        AuthMethod::Password => "password",
    };
    Ok(axum::Json(MeResponse {
        user: UserResponse::from(&caller.user),
        groups,
        auth_method: auth_method.to_owned(),
    }))
}
