//! Personal API tokens: yours, and (for admins) anyone's.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::TokenId;
use charter_domain::time::{now_ms, parse_instant, rfc3339};
use charter_domain::token::TokenSecret;
use charter_store::token::ApiToken;
use charter_store::user::User;
use serde::{Deserialize, Serialize};

use super::{ApiJson, respond};
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, random_bytes};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// Stable id, `tok_…`.
    pub id: String,
    pub user_id: String,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

impl From<&ApiToken> for TokenResponse {
    fn from(t: &ApiToken) -> Self {
        let status = if t.revoked_at.is_some() {
            "revoked"
        } else if !t.is_active(now_ms()) {
            "expired"
        } else {
            "active"
        };
        Self {
            id: t.id.to_string(),
            user_id: t.user_id.to_string(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created_at: rfc3339(t.created_at),
            expires_at: t.expires_at.map(rfc3339),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
            status: status.to_owned(),
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// What the token is for, e.g. `laptop mlflow`.
    pub name: String,
    /// Expire after this many days (optional).
    pub expires_in_days: Option<u32>,
    /// Or expire at this time: RFC 3339 or a date (optional).
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTokenResponse {
    pub token: TokenResponse,
    /// The secret: shown this once and never again. Send it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Create a token for `user` (shared by the API, the account page and the CLI).
pub async fn create(
    state: &AppState,
    ctx: &charter_store::AuditContext,
    user: &User,
    req: CreateTokenRequest,
) -> ApiResult<(ApiToken, TokenSecret)> {
    let name = req.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name: give the token a name of 1 to 100 characters"));
    }
    let expires_at = match (req.expires_in_days, req.expires_at.as_deref().filter(|s| !s.is_empty())) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("give either expires_in_days or expires_at, not both")),
        (Some(0), None) => return Err(ApiError::invalid("expires_in_days: must be at least 1")),
        (Some(days), None) => Some(now_ms() + i64::from(days) * 86_400_000),
        (None, Some(at)) => {
            let at = parse_instant(at).map_err(|e| ApiError::invalid(format!("expires_at: {e}")))?;
            if at <= now_ms() {
                return Err(ApiError::invalid("expires_at: must be in the future"));
            }
            Some(at)
        }
        (None, None) => None,
    };
    let secret = TokenSecret::from_random(random_bytes::<32>());
    let mut tx = state.store.begin().await?;
    let token = charter_store::token::create(&mut tx, ctx, user, name, &secret, expires_at).await?;
    tx.commit().await?;
    Ok((token, secret))
}

/// Revoke a token (shared by the API, the account page and the CLI).
pub async fn revoke(state: &AppState, ctx: &charter_store::AuditContext, token: &ApiToken) -> ApiResult<ApiToken> {
    let mut tx = state.store.begin().await?;
    let revoked = charter_store::token::revoke(&mut tx, ctx, token).await?;
    tx.commit().await?;
    Ok(revoked)
}

fn parse_token_id(id: &str) -> ApiResult<TokenId> {
    id.parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))
}

#[utoipa::path(get, path = "/me/tokens", tag = "auth", responses((status = 200, body = Vec<TokenResponse>)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_my_tokens(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<TokenResponse>>> {
    Ok(Json(
        state
            .store
            .tokens_of(caller.user.id)
            .await?
            .iter()
            .map(TokenResponse::from)
            .collect(),
    ))
}

#[utoipa::path(post, path = "/me/tokens", tag = "auth", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedTokenResponse), (status = 400, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_my_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<Response> {
    let (token, secret) = create(&state, &caller.audit(), &caller.user, req).await?;
    Ok(respond(
        StatusCode::CREATED,
        CreatedTokenResponse {
            token: TokenResponse::from(&token),
            secret: secret.expose().to_owned(),
        },
    ))
}

#[utoipa::path(delete, path = "/me/tokens/{id}", tag = "auth", params(("id" = String, Path, description = "Token id, `tok_…`")),
    responses((status = 200, body = TokenResponse), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn revoke_my_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenResponse>> {
    let token = state.store.token(parse_token_id(&id)?).await?;
    if token.user_id != caller.user.id {
        // Someone else's token looks the same as no token: ids are not secrets, but
        // there is no reason to confirm them.
        return Err(ApiError::not_found(format!("token {id} not found")));
    }
    Ok(Json(TokenResponse::from(
        &revoke(&state, &caller.audit(), &token).await?,
    )))
}

#[utoipa::path(get, path = "/users/{id}/tokens", tag = "users", params(("id" = String, Path, description = "User id or username")),
    responses((status = 200, body = Vec<TokenResponse>)), security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_user_tokens(
    State(state): State<AppState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<TokenResponse>>> {
    let user = super::user::find_user(&state, &id).await?;
    Ok(Json(
        state
            .store
            .tokens_of(user.id)
            .await?
            .iter()
            .map(TokenResponse::from)
            .collect(),
    ))
}

#[utoipa::path(delete, path = "/tokens/{id}", tag = "users", params(("id" = String, Path, description = "Token id, `tok_…`")),
    responses((status = 200, body = TokenResponse), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<TokenResponse>> {
    let token = state.store.token(parse_token_id(&id)?).await?;
    Ok(Json(TokenResponse::from(
        &revoke(&state, &admin.caller().audit(), &token).await?,
    )))
}
