//! Signing in and out in the browser.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Layout, UiError, page_with_status, safe_next};
use crate::api::session::{clear_cookie, end_session, start_session};
use crate::auth::{MaybeCaller, RequestMeta, verify_credentials};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    username: String,
    error: Option<String>,
    /// No account exists yet: say how to create the first admin.
    no_users: bool,
}

impl LoginPage {
    async fn new(state: &AppState, next: String, username: String, error: Option<String>) -> Result<Self, UiError> {
        Ok(Self {
            layout: Layout::new(None, "login", "Sign in"),
            next,
            username,
            error,
            no_users: state.store.user_count().await.map_err(ApiError::from)? == 0,
        })
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`: the sign-in form (or straight on, when already signed in).
pub async fn page_login(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Query(query): Query<LoginQuery>,
) -> Result<Response, UiError> {
    let next = safe_next(query.next.as_deref());
    if caller.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    let page = LoginPage::new(&state, next, String::new(), None).await?;
    Ok(Html(page.render()?).into_response())
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

/// `POST /login`: check the password, start a session and go where the visitor was
/// going; or show the form again with the API's reason.
pub async fn form_login(
    State(state): State<AppState>,
    meta: RequestMeta,
    Form(form): Form<LoginForm>,
) -> Result<Response, UiError> {
    let next = safe_next(form.next.as_deref());
    let username = form.username.trim().to_owned();
    match verify_credentials(&state, &username, &form.password, &meta).await {
        Ok(user) => {
            let (cookie, _csrf, _expires) = start_session(&state, &user, &meta).await?;
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie).map_err(|_| ApiError::internal())?,
            );
            Ok(response)
        }
        Err(e) if e.status == StatusCode::UNAUTHORIZED || e.status == StatusCode::TOO_MANY_REQUESTS => {
            let status = e.status;
            let page = LoginPage::new(&state, next, username, Some(e.message)).await?;
            Ok(page_with_status(status, page.render()?))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /logout`: end the session and return to the sign-in page.
pub async fn form_logout(State(state): State<AppState>, MaybeCaller(caller): MaybeCaller) -> Result<Response, UiError> {
    if let Some(caller) = caller {
        end_session(&state, &caller).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear_cookie(&state)).map_err(|_| ApiError::internal())?,
    );
    Ok(response)
}
