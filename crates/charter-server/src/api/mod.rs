//! The JSON API under `/api/v1`, and its OpenAPI document.

pub mod audit;
pub mod group;
pub mod session;
pub mod system;
pub mod token;
pub mod user;

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::state::AppState;

/// The `/api/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/version", get(system::get_version))
        .route("/openapi.json", get(system::get_openapi))
        .route("/auth/login", post(session::login))
        .route("/auth/logout", post(session::logout))
        .route("/me", get(session::get_me))
        .route("/me/tokens", get(token::list_my_tokens).post(token::create_my_token))
        .route("/me/tokens/{id}", axum::routing::delete(token::revoke_my_token))
        .route("/users", get(user::list_users).post(user::create_user))
        .route("/users/{id}", get(user::get_user).patch(user::update_user))
        .route("/users/{id}/tokens", get(token::list_user_tokens))
        .route("/tokens/{id}", axum::routing::delete(token::revoke_token))
        .route("/groups", get(group::list_groups).post(group::create_group))
        .route("/groups/{id}", get(group::get_group))
        .route("/groups/{id}/members", post(group::add_member))
        .route(
            "/groups/{id}/members/{user_id}",
            axum::routing::delete(group::remove_member),
        )
        .route("/audit-events", get(audit::list_audit_events))
        .route("/audit-events/export", get(audit::export_audit_events))
        .route("/audit-events/{id}", get(audit::get_audit_event))
        .route("/audit/verify", post(audit::verify_audit))
        .route("/audit/checkpoints", get(audit::list_checkpoints))
        .fallback(unknown_route)
}

async fn unknown_route(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "there is no API route {} {}",
        request.method(),
        request.uri().path()
    ))
}

/// The OpenAPI document of `/api/v1`, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Charter API", description = "Model governance: identity, tokens, groups and the audit trail."),
    servers((url = "/api/v1")),
    paths(
        system::get_version,
        session::login, session::logout, session::get_me,
        token::list_my_tokens, token::create_my_token, token::revoke_my_token, token::list_user_tokens, token::revoke_token,
        user::list_users, user::create_user, user::get_user, user::update_user,
        group::list_groups, group::create_group, group::get_group, group::add_member, group::remove_member,
        audit::list_audit_events, audit::export_audit_events, audit::get_audit_event, audit::verify_audit, audit::list_checkpoints,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SecurityAddon),
    tags(
        (name = "system", description = "Version and health"),
        (name = "auth", description = "Sign-in, sessions and your own tokens"),
        (name = "users", description = "Accounts (admins)"),
        (name = "groups", description = "Groups of users that policies name as approvers"),
        (name = "audit", description = "The hash-chained audit trail (governance admins)"),
    )
)]
pub struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("chr_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
    }
}

/// A JSON body whose rejections use the API's error shape and name the field.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection as R;
    match rejection {
        R::JsonDataError(e) => ApiError::invalid(format!("the request body does not fit: {}", source_text(&e))),
        R::JsonSyntaxError(e) => ApiError::invalid(format!("the request body is not valid JSON: {}", source_text(&e))),
        R::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request body as JSON with `Content-Type: application/json`",
        ),
        R::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        other => ApiError::invalid(other.body_text()),
    }
}

fn source_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this server accepts",
    )
}

/// Query-string parameters whose rejections use the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::invalid(format!(
                "the query string does not fit: {}",
                source_text(&e)
            ))),
        }
    }
}

/// Give every error under `/api/` the JSON error shape, including the ones produced
/// outside handlers (unknown method, timeouts, oversized bodies).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return response;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(status, "method_not_allowed", "this route does not accept that method")
        }
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(status, "timeout", "the request took too long and was abandoned"),
        StatusCode::NOT_FOUND => ApiError::not_found("no such route"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "send the request body as JSON with `Content-Type: application/json`",
        ),
        s if s.is_server_error() => ApiError::internal(),
        s => ApiError::new(s, "invalid_request", s.canonical_reason().unwrap_or("bad request")),
    };
    let mut out = error.into_response();
    *out.status_mut() = status;
    out
}

/// A page of results and where to continue.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub(crate) fn respond<T: serde::Serialize>(status: StatusCode, body: T) -> Response {
    (status, axum::Json(body)).into_response()
}
