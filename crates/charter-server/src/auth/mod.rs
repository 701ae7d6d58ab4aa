//! Who is calling, and what they may do.
//!
//! The [`authenticate`] middleware turns credentials (a session cookie, a Bearer
//! token, or Basic user:password / user:token) into a [`Caller`] stored in the
//! request, and enforces CSRF for cookie sessions. Handlers take [`Caller`] (401
//! without credentials) or a capability — [`Admin`], [`GovernanceAdmin`],
//! [`Writer`] — which can only be obtained from this module, after the role check;
//! a refusal answers 403 and writes an `access.denied` audit event.

pub mod limiter;
pub mod password;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use charter_domain::audit::ActorKind;
use charter_domain::time::now_ms;
use charter_domain::token::TokenSecret;
use charter_store::user::User;
use charter_store::{Actor, AuditContext};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// The cookie that carries a browser session.
pub const SESSION_COOKIE: &str = "charter_session";
/// The header (or form field, `csrf_token`) that must echo the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// A browser session; carries the CSRF token forms must echo.
    Session { id_hash: String, csrf_token: String },
    /// A personal API token.
    Token { token_id: String },
    /// `Authorization: Basic` with the user's password.
    Password,
}

/// Facts about the request itself, for audit events and rate limits.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub client_addr: String,
    pub user_agent: String,
}

impl RequestMeta {
    pub fn from_parts(headers: &HeaderMap, extensions: &axum::http::Extensions) -> Self {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            request_id: text("x-request-id"),
            client_addr: extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|ci| ci.0.ip().to_string())
                .unwrap_or_default(),
            user_agent: text("user-agent"),
        }
    }

    /// An audit context for an anonymous or not-yet-known actor.
    pub fn anonymous(&self, label: &str) -> AuditContext {
        AuditContext {
            actor: Actor {
                kind: ActorKind::System,
                id: label.to_owned(),
                name: label.to_owned(),
                token: None,
            },
            request_id: self.request_id.clone(),
            client_addr: self.client_addr.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(&parts.headers, &parts.extensions))
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub method: AuthMethod,
    pub meta: RequestMeta,
}

impl Caller {
    /// The audit context for what this caller does.
    pub fn audit(&self) -> AuditContext {
        let (kind, token) = match &self.method {
            AuthMethod::Token { token_id } => (ActorKind::Token, Some(token_id.clone())),
            _ => (ActorKind::User, None),
        };
        AuditContext {
            actor: Actor {
                kind,
                id: self.user.id.to_string(),
                name: self.user.username.clone(),
                token,
            },
            request_id: self.meta.request_id.clone(),
            client_addr: self.meta.client_addr.clone(),
        }
    }

    /// The CSRF token to put in forms, for browser sessions.
    pub fn csrf_token(&self) -> Option<&str> {
        match &self.method {
            AuthMethod::Session { csrf_token, .. } => Some(csrf_token),
            _ => None,
        }
    }
}

/// What the middleware concluded about the request's credentials.
#[derive(Clone)]
enum AuthOutcome {
    Anonymous,
    Authenticated(Box<Caller>),
    Failed(std::sync::Arc<ApiError>),
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<AuthOutcome>() {
            Some(AuthOutcome::Authenticated(c)) => Ok((**c).clone()),
            Some(AuthOutcome::Failed(e)) => Err(ApiError {
                retry_after: e.retry_after,
                ..ApiError::new(e.status, e.code, e.message.clone())
            }),
            _ => Err(ApiError::unauthenticated(
                "sign in, or send an API token as `Authorization: Bearer chr_…` (or Basic user:password)",
            )),
        }
    }
}

/// An optional caller: `None` for anonymous requests (bad credentials still fail).
pub struct MaybeCaller(pub Option<Caller>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<AuthOutcome>() {
            Some(AuthOutcome::Anonymous) | None => Ok(Self(None)),
            _ => Caller::from_request_parts(parts, s).await.map(|c| Self(Some(c))),
        }
    }
}

macro_rules! capability {
    ($(#[$meta:meta])* $name:ident, $check:ident, $what:literal) => {
        $(#[$meta])*
        pub struct $name(Caller);

        impl $name {
            pub fn caller(&self) -> &Caller {
                &self.0
            }
        }

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
                let caller = Caller::from_request_parts(parts, state).await?;
                if caller.user.role.$check() {
                    return Ok(Self(caller));
                }
                Err(deny(state, &caller, parts, $what).await)
            }
        }
    };
}

capability!(
    /// Held by admins: users, groups, everyone's tokens.
    Admin, is_admin, "admin"
);
capability!(
    /// Held by governance admins and admins: policies, dashboard, audit trail.
    GovernanceAdmin, is_governance_admin, "governance_admin"
);
capability!(
    /// Held by anyone who may change things (everyone but viewers).
    Writer, can_write, "practitioner"
);

/// Refuse a caller: 403, with an `access.denied` audit event naming what they tried.
async fn deny(state: &AppState, caller: &Caller, parts: &Parts, needed: &str) -> ApiError {
    let path = parts
        .extensions
        .get::<axum::extract::OriginalUri>()
        .map_or(parts.uri.path(), |u| u.0.path());
    let route = format!("{} {path}", parts.method);
    let ctx = caller.audit();
    let recorded = async {
        let mut tx = state.store.begin().await?;
        tx.audit(ctx.event(
            "access.denied",
            "route",
            &route,
            json!({ "needed_role": needed, "role": caller.user.role.as_str() }),
        ));
        tx.commit().await
    }
    .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "could not record access.denied");
    }
    ApiError::forbidden(format!(
        "{route} needs the {needed} role; your role is {}. Ask an admin if you need access.",
        caller.user.role
    ))
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

/// The hash under which a session id is stored.
pub fn session_hash(session_id: &str) -> String {
    blake3::hash(session_id.as_bytes()).to_hex().to_string()
}

async fn caller_from_token(state: &AppState, secret: &str, meta: &RequestMeta) -> Result<Caller, ApiError> {
    let bad = || ApiError::unauthenticated("the API token is not valid");
    let secret = TokenSecret::parse(secret).ok_or_else(bad)?;
    let (token, user) = state.store.token_by_secret(&secret).await?.ok_or_else(bad)?;
    if token.revoked_at.is_some() {
        return Err(ApiError::unauthenticated(format!(
            "the API token `{}` was revoked",
            token.name
        )));
    }
    if !token.is_active(now_ms()) {
        return Err(ApiError::unauthenticated(format!(
            "the API token `{}` has expired",
            token.name
        )));
    }
    if user.disabled {
        return Err(ApiError::unauthenticated("this account is disabled"));
    }
    if let Err(e) = state.store.touch_token(&token).await {
        tracing::warn!(error = %e, "could not record token use");
    }
    Ok(Caller {
        user,
        method: AuthMethod::Token {
            token_id: token.id.to_string(),
        },
        meta: meta.clone(),
    })
}

async fn caller_from_basic(state: &AppState, encoded: &str, meta: &RequestMeta) -> Result<Caller, ApiError> {
    let malformed = || ApiError::unauthenticated("the Basic credentials are not base64 of `username:password`");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (username, password) = decoded.split_once(':').ok_or_else(malformed)?;
    if TokenSecret::looks_like_token(password) {
        let caller = caller_from_token(state, password, meta).await?;
        if !username.is_empty() && caller.user.username != username {
            return Err(ApiError::unauthenticated(
                "the API token does not belong to that username",
            ));
        }
        return Ok(caller);
    }
    let user = verify_credentials(state, username, password, meta).await?;
    Ok(Caller {
        user,
        method: AuthMethod::Password,
        meta: meta.clone(),
    })
}

/// Check a username and password, with rate limiting and without revealing whether
/// the account exists.
pub async fn verify_credentials(
    state: &AppState,
    username: &str,
    password: &str,
    meta: &RequestMeta,
) -> Result<User, ApiError> {
    if let Some((id, verified_hash)) = state.basic_cache.get(username, password)
        && let Ok((user, Some(stored_hash))) = state.store.user_with_password(username).await
        && user.id == id
        && stored_hash == verified_hash
        && !user.disabled
    {
        return Ok(user);
    }
    state
        .limiter
        .check(username, &meta.client_addr)
        .map_err(ApiError::rate_limited)?;
    let found = match state.store.user_with_password(username).await {
        Ok(found) => Some(found),
        Err(charter_store::StoreError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let phc = found.as_ref().and_then(|(_, h)| h.clone());
    let ok = password::verify_password_async(password.to_owned(), phc).await;
    match found {
        Some((user, Some(stored_hash))) if ok && !user.disabled => {
            state.limiter.record_success(username);
            state.basic_cache.put(username, password, user.id, &stored_hash);
            Ok(user)
        }
        _ => {
            state.limiter.record_failure(username, &meta.client_addr);
            Err(ApiError::unauthenticated("the username or password is wrong"))
        }
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Resolve credentials into a [`Caller`] and enforce CSRF for cookie sessions.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let meta = RequestMeta::from_parts(&parts.headers, &parts.extensions);
    let authorization = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = body;
    let outcome = if let Some(auth) = authorization {
        let result = match auth.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
                caller_from_token(&state, rest.trim(), &meta).await
            }
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => {
                caller_from_basic(&state, rest, &meta).await
            }
            _ => Err(ApiError::unauthenticated(
                "the Authorization header must be `Bearer <token>` or `Basic <credentials>`",
            )),
        };
        match result {
            Ok(c) => AuthOutcome::Authenticated(Box::new(c)),
            Err(e) => AuthOutcome::Failed(std::sync::Arc::new(e)),
        }
    } else if let Some(session_id) = cookie_value(&parts.headers, SESSION_COOKIE) {
        match state.store.session(&session_hash(&session_id)).await {
            Ok(Some(s)) => {
                let caller = Caller {
                    user: s.user,
                    method: AuthMethod::Session {
                        id_hash: s.id_hash,
                        csrf_token: s.csrf_token.clone(),
                    },
                    meta: meta.clone(),
                };
                // Signing in does not use the session, so a stale cookie from another
                // tab must not stand in its way (SameSite=Lax guards sign-in posts).
                let signing_in = matches!(parts.uri.path(), "/login" | "/api/v1/auth/login");
                if is_unsafe(&parts.method) && !signing_in {
                    match check_csrf(&parts, body, &s.csrf_token).await {
                        Ok(b) => body = b,
                        Err(e) if parts.uri.path().starts_with("/api/") => return e.into_response(),
                        Err(e) => return csrf_page(&e),
                    }
                }
                AuthOutcome::Authenticated(Box::new(caller))
            }
            Ok(None) => AuthOutcome::Anonymous,
            Err(e) => return ApiError::from(e).into_response(),
        }
    } else {
        AuthOutcome::Anonymous
    };
    parts.extensions.insert(outcome);
    next.run(Request::from_parts(parts, body)).await
}

/// A cookie-authenticated unsafe request must echo the session's CSRF token, in
/// the `X-CSRF-Token` header or (for plain HTML forms) the `csrf_token` field.
async fn check_csrf(parts: &Parts, body: Body, expected: &str) -> Result<Body, ApiError> {
    use subtle::ConstantTimeEq;
    let matches = |got: &str| bool::from(got.as_bytes().ct_eq(expected.as_bytes()));
    let refused = || {
        ApiError::forbidden(
            "this form has expired or did not come from Charter (CSRF check failed); reload the page and try again",
        )
        .with_code("csrf_failed")
    };
    if let Some(got) = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if matches(got) { Ok(body) } else { Err(refused()) };
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let bytes = axum::body::to_bytes(body, 1024 * 1024).await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the form is too large",
        )
    })?;
    let token = form_urlencoded_field(&bytes, "csrf_token");
    match token {
        Some(got) if matches(&got) => Ok(Body::from(bytes)),
        _ => Err(refused()),
    }
}

/// A refused browser form gets a page a person can act on, not JSON.
fn csrf_page(e: &ApiError) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Form expired · Charter</title></head>\
         <body><main><h1>This form has expired</h1><p>{}</p><p><a href=\"/\">Back to Charter</a></p></main></body></html>",
        e.message.replace('&', "&amp;").replace('<', "&lt;")
    );
    (e.status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn form_urlencoded_field(bytes: &[u8], name: &str) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

impl ApiError {
    /// The same error with another stable code.
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }
}
