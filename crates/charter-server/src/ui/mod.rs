//! Server-rendered pages: askama templates (`templates/`), htmx for partial updates,
//! and CSS and scripts embedded from `static/`.
//!
//! Handlers are thin: they call the same shared functions as the JSON API
//! (`api::user::create`, `api::token::revoke`, `api::audit::page`…) and render the
//! outcome. `page_*` answers a GET, `form_*` answers a form. Every page works without
//! JavaScript; htmx only swaps parts of some of them, asking for a block of the same
//! template (`HX-Request`), so there is one source of markup for both.
//!
//! CSRF: plain forms carry a hidden `csrf_token` field; htmx requests send the
//! `X-CSRF-Token` header from the `hx-headers` on `<body>`. The check itself is
//! [`crate::auth::authenticate`]'s, before any page handler runs.

mod account;
mod admin;
mod assets;
mod audit;
pub mod chart;
mod diff;
mod home;
mod policy;
mod session;

use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use charter_domain::Role;
use time::OffsetDateTime;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::page_home))
        .route("/login", get(session::page_login).post(session::form_login))
        .route("/logout", post(session::form_logout))
        .route("/account", get(account::page_account))
        .route("/account/tokens", post(account::form_create_token))
        .route("/account/tokens/{id}/revoke", post(account::form_revoke_token))
        .route("/admin/users", get(admin::page_users).post(admin::form_create_user))
        .route("/admin/users/{username}", post(admin::form_update_user))
        .route("/admin/groups", get(admin::page_groups).post(admin::form_create_group))
        .route("/admin/groups/{name}", get(admin::page_group))
        .route("/admin/groups/{name}/members", post(admin::form_add_member))
        .route(
            "/admin/groups/{name}/members/{username}/remove",
            post(admin::form_remove_member),
        )
        .route("/audit", get(audit::page_audit))
        .route("/audit/verify", post(audit::form_verify))
        .route("/audit/{id}", get(audit::page_audit_event))
        // Governance pages (ui-gov): policies, dashboard, tasks.
        .route("/policies", get(policy::page_policies).post(policy::form_create_policy))
        .route("/policies/new", get(policy::page_new_policy))
        .route("/policies/check", post(policy::form_check))
        .route("/policies/{id}", get(policy::page_policy))
        .route(
            "/policies/{id}/edit",
            get(policy::page_edit).post(policy::form_save_draft),
        )
        .route("/policies/{id}/diff", get(policy::page_diff))
        .route("/policies/{id}/versions/{v}", get(policy::page_version))
        .route("/policies/{id}/versions/{v}/publish", post(policy::form_publish))
        .route("/policies/{id}/versions/{v}/retire", post(policy::form_retire))
        .route("/static/{file}", get(assets::get_asset))
        .fallback(home::page_not_found)
        .layer(axum::middleware::from_fn(page_responses))
}

/// What every page's base layout shows: who is signed in, which links they get.
pub struct Layout {
    pub title: String,
    /// The navigation entry to mark as current: `home`, `account`, `users`, `groups`, `audit`.
    pub section: &'static str,
    pub user: Option<NavUser>,
    /// The session's CSRF token, for forms and htmx headers.
    pub csrf: String,
    /// Appended to asset URLs so that a new build is never served from a stale cache.
    pub v: &'static str,
    pub version: &'static str,
}

/// The signed-in user as the navigation shows them.
pub struct NavUser {
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub role_label: &'static str,
    pub is_admin: bool,
    pub is_governance_admin: bool,
}

impl Layout {
    pub fn new(caller: Option<&Caller>, section: &'static str, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            section,
            user: caller.map(|c| NavUser {
                username: c.user.username.clone(),
                display_name: c.user.display_name.clone(),
                role: c.user.role.as_str(),
                role_label: role_label(c.user.role),
                is_admin: c.user.role.is_admin(),
                is_governance_admin: c.user.role.is_governance_admin(),
            }),
            csrf: caller.and_then(Caller::csrf_token).unwrap_or_default().to_owned(),
            v: assets::version(),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// A role as people read it.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Admin",
        Role::GovernanceAdmin => "Governance admin",
        Role::Practitioner => "Practitioner",
        Role::Viewer => "Viewer",
    }
}

/// An instant shown to people, with its machine-readable form for `<time datetime>`.
pub struct When {
    pub iso: String,
    pub text: String,
}

impl When {
    /// To the minute, for creation dates and the like.
    pub fn from_ms(ms: i64) -> Self {
        Self::format(
            ms,
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC"),
        )
    }

    /// To the second, from RFC 3339 text as the API's responses carry it (audit events).
    pub fn precise(text: &str) -> Self {
        match charter_domain::time::parse_instant(text) {
            Ok(ms) => Self::format(
                ms,
                time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC"),
            ),
            Err(_) => Self {
                iso: text.to_owned(),
                text: text.to_owned(),
            },
        }
    }

    fn format(ms: i64, description: &[time::format_description::BorrowedFormatItem<'_>]) -> Self {
        let text = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .ok()
            .and_then(|t| t.format(description).ok())
            .unwrap_or_else(|| ms.to_string());
        Self {
            iso: charter_domain::time::rfc3339(ms),
            text,
        }
    }
}

/// A signed-in caller holding capability `C` ([`Caller`], [`crate::auth::Admin`],
/// [`crate::auth::GovernanceAdmin`]). Anonymous visitors are sent to the sign-in
/// page and come back afterwards; a missing role gets the 403 page.
pub struct SignedIn<C = Caller>(pub C);

impl<C> FromRequestParts<AppState> for SignedIn<C>
where
    C: FromRequestParts<AppState, Rejection = ApiError> + Send,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match C::from_request_parts(parts, state).await {
            Ok(c) => Ok(Self(c)),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => Err(sign_in_first(parts)),
            Err(e) => Err(UiError::from(e).into_response()),
        }
    }
}

/// Send an anonymous visitor to `/login?next=<where they were going>`.
fn sign_in_first(parts: &Parts) -> Response {
    let htmx = Htmx::from_headers(&parts.headers);
    // An htmx request is for a fragment; come back to the page it was made from.
    let next = htmx
        .current_url
        .as_deref()
        .and_then(|u| u.parse::<axum::http::Uri>().ok())
        .and_then(|u| u.path_and_query().map(|pq| pq.as_str().to_owned()))
        .unwrap_or_else(|| parts.uri.path_and_query().map_or("/", |pq| pq.as_str()).to_owned());
    let to = login_url(&next);
    if htmx.request {
        let mut response = StatusCode::OK.into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            response.headers_mut().insert(HeaderName::from_static("hx-redirect"), v);
        }
        return response;
    }
    Redirect::to(&to).into_response()
}

fn login_url(next: &str) -> String {
    if next == "/" {
        return "/login".into();
    }
    format!(
        "/login?{}",
        serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
    )
}

/// Only same-site paths are followed after sign-in (never `//evil.example`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains(['\\', '\r', '\n']) => n.to_owned(),
        _ => "/".into(),
    }
}

/// What htmx tells us about a request.
pub struct Htmx {
    /// The request came from htmx and wants a fragment.
    pub request: bool,
    /// The `id` of the element the fragment replaces.
    pub target: Option<String>,
    pub current_url: Option<String>,
}

impl Htmx {
    fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let history_restore = headers.contains_key("hx-history-restore-request");
        Self {
            request: headers.contains_key("hx-request") && !history_restore,
            target: text("hx-target"),
            current_url: text("hx-current-url"),
        }
    }

    pub fn targets(&self, id: &str) -> bool {
        self.request && self.target.as_deref() == Some(id)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Htmx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

/// A page that could not be shown. Rendered as a whole page (with the navigation)
/// by [`page_responses`], or as its bare message for htmx, whose error handler in
/// `charter.js` shows it next to the element that made the request.
#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Clone)]
struct PageFailure(String);

impl UiError {
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        Self {
            status: e.status,
            message: e.message,
        }
    }
}

impl From<askama::Error> for UiError {
    fn from(e: askama::Error) -> Self {
        tracing::error!(error = %e, "could not render a page");
        ApiError::internal().into()
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message.clone()).into_response();
        response.extensions_mut().insert(PageFailure(self.message));
        response
    }
}

/// A form's problem, to show next to the field it concerns. Problems with the
/// request itself (401, 403, 5xx) are not form problems: they become error pages.
pub fn form_problem(e: ApiError) -> Result<String, UiError> {
    match e.status {
        StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY => {
            Ok(e.message)
        }
        _ => Err(e.into()),
    }
}

/// Errors of a form, each placed next to its field; `general` for the rest.
#[derive(Default)]
pub struct FormErrors {
    fields: Vec<(&'static str, String)>,
    pub general: Option<String>,
}

impl FormErrors {
    /// File `message` under the first field whose name starts it (`email: …`,
    /// `username `alice` is already taken`); `aliases` map other leading words to fields.
    pub fn from_message(message: String, fields: &[&'static str], aliases: &[(&str, &'static str)]) -> Self {
        let starts = |word: &str| {
            message
                .strip_prefix(word)
                .is_some_and(|rest| rest.starts_with(':') || rest.starts_with(' '))
        };
        let field = fields
            .iter()
            .copied()
            .find(|f| starts(f))
            .or_else(|| aliases.iter().find(|(w, _)| starts(w)).map(|(_, f)| *f));
        match field {
            Some(f) => Self {
                fields: vec![(f, message)],
                general: None,
            },
            None => Self {
                fields: vec![],
                general: Some(message),
            },
        }
    }

    /// Everything under one field (forms with a single input).
    pub fn for_field(field: &'static str, message: String) -> Self {
        Self {
            fields: vec![(field, message)],
            general: None,
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields.iter().find(|(f, _)| *f == field).map(|(_, m)| m.as_str())
    }

    /// Every message, fields' first.
    pub fn messages(&self) -> Vec<&str> {
        self.fields
            .iter()
            .map(|(_, m)| m.as_str())
            .chain(self.general.as_deref())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_none()
    }
}

/// A rendered page with a status (422 for a form sent back with its errors, which
/// htmx is configured to swap in like a success).
pub fn page_with_status(status: StatusCode, html: String) -> Response {
    (status, Html(html)).into_response()
}

/// Headers for every page, and whole-page rendering of [`UiError`]s.
async fn page_responses(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &()).await.ok();
    let htmx = Htmx::from_headers(&parts.headers).request;
    let is_asset = parts.uri.path().starts_with("/static/");
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(PageFailure(message)) = response.extensions().get::<PageFailure>().cloned()
        && !htmx
    {
        let status = response.status();
        response = match error_page(caller.as_ref(), status, message) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "could not render the error page");
                (status, "Charter could not show this page.").into_response()
            }
        };
    }
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if !is_asset {
        // Pages can show secrets (a new token) and differ for htmx: never cache them.
        set(headers, header::CACHE_CONTROL, "no-store");
        set(headers, header::VARY, "HX-Request, Cookie");
        set(headers, header::X_FRAME_OPTIONS, "DENY");
        set(headers, header::REFERRER_POLICY, "same-origin");
        set(
            headers,
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        );
    }
    response
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: &'static str,
    message: String,
}

fn error_page(caller: Option<&Caller>, status: StatusCode, message: String) -> askama::Result<String> {
    use askama::Template;
    let heading = match status {
        StatusCode::FORBIDDEN => "You do not have access to this page",
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::UNAUTHORIZED => "Please sign in",
        s if s.is_server_error() => "Something went wrong",
        _ => "This request could not be completed",
    };
    ErrorPage {
        layout: Layout::new(caller, "", heading),
        status: status.as_u16(),
        heading,
        message,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/audit?action=user.*")), "/audit?action=user.*");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn form_errors_land_on_the_field_they_name() {
        let fields = ["username", "email", "password"];
        let e = FormErrors::from_message("email: `x` is not an e-mail address".into(), &fields, &[]);
        assert!(e.get("email").is_some() && e.general.is_none());
        let e = FormErrors::from_message("username `ann` is already taken".into(), &fields, &[]);
        assert!(e.get("username").is_some());
        let e = FormErrors::from_message("group `ops` already exists".into(), &["name"], &[("group", "name")]);
        assert!(e.get("name").is_some());
        let e = FormErrors::from_message("something else".into(), &fields, &[]);
        assert_eq!(e.general.as_deref(), Some("something else"));
    }

    #[test]
    fn the_login_url_carries_the_destination() {
        assert_eq!(login_url("/"), "/login");
        assert_eq!(
            login_url("/audit?action=user.*"),
            "/login?next=%2Faudit%3Faction%3Duser.*"
        );
    }
}
