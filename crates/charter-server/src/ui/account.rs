//! Your account: profile, groups and personal API tokens.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use charter_domain::TokenId;
use charter_store::token::ApiToken;
use serde::Deserialize;

use super::{FormErrors, Htmx, Layout, SignedIn, UiError, When, form_problem, page_with_status, role_label};
use crate::api::token::{CreateTokenRequest, TokenResponse, create, revoke};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// A token as the table shows it.
struct TokenRow {
    id: String,
    name: String,
    prefix: String,
    created: When,
    expires: Option<When>,
    last_used: Option<When>,
    /// `active`, `expired` or `revoked`.
    status: String,
    /// Why the last action on this row failed.
    error: Option<String>,
}

impl From<&ApiToken> for TokenRow {
    fn from(t: &ApiToken) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created: When::from_ms(t.created_at),
            expires: t.expires_at.map(When::from_ms),
            last_used: t.last_used_at.map(When::from_ms),
            status: TokenResponse::from(t).status,
            error: None,
        }
    }
}

/// A token just created: its secret, shown this once.
struct NewToken {
    name: String,
    secret: String,
}

#[derive(Default, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in_days: String,
}

#[derive(Template)]
#[template(path = "account.html", blocks = ["tokens"])]
struct AccountPage {
    layout: Layout,
    username: String,
    display_name: String,
    email: String,
    role_label: &'static str,
    groups: Vec<String>,
    tokens: Vec<TokenRow>,
    new_token: Option<NewToken>,
    form: TokenForm,
    errors: FormErrors,
}

impl AccountPage {
    async fn new(state: &AppState, caller: &Caller) -> Result<Self, UiError> {
        let user = &caller.user;
        let tokens = state.store.tokens_of(user.id).await.map_err(ApiError::from)?;
        Ok(Self {
            layout: Layout::new(Some(caller), "account", "Your account"),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            email: user.email.clone(),
            role_label: role_label(user.role),
            groups: state.store.groups_of(user.id).await.map_err(ApiError::from)?,
            tokens: tokens.iter().map(TokenRow::from).collect(),
            new_token: None,
            form: TokenForm::default(),
            errors: FormErrors::default(),
        })
    }

    /// The whole page, or only the tokens section for htmx.
    fn respond(&self, status: StatusCode, htmx: &Htmx) -> Result<Response, UiError> {
        let html = if htmx.request {
            self.as_tokens().render()?
        } else {
            self.render()?
        };
        Ok(page_with_status(status, html))
    }
}

/// `GET /account`.
pub async fn page_account(State(state): State<AppState>, SignedIn(caller): SignedIn) -> Result<Html<String>, UiError> {
    Ok(Html(AccountPage::new(&state, &caller).await?.render()?))
}

/// `POST /account/tokens`: create a token and show its secret once.
pub async fn form_create_token(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    htmx: Htmx,
    Form(form): Form<TokenForm>,
) -> Result<Response, UiError> {
    let days = form.expires_in_days.trim();
    let created = match days.parse::<u32>() {
        Err(_) if !days.is_empty() => Err(ApiError::invalid(format!(
            "expires_in_days: `{days}` is not a whole number of days"
        ))),
        parsed => {
            let req = CreateTokenRequest {
                name: form.name.clone(),
                expires_in_days: parsed.ok(),
                expires_at: None,
            };
            create(&state, &caller.audit(), &caller.user, req).await
        }
    };
    match created {
        Ok((token, secret)) => {
            let mut page = AccountPage::new(&state, &caller).await?;
            page.new_token = Some(NewToken {
                name: token.name,
                secret: secret.expose().to_owned(),
            });
            page.respond(StatusCode::OK, &htmx)
        }
        Err(e) => {
            let message = form_problem(e)?;
            let mut page = AccountPage::new(&state, &caller).await?;
            page.errors = FormErrors::from_message(message, &["name", "expires_in_days"], &[]);
            page.form = form;
            page.respond(StatusCode::UNPROCESSABLE_ENTITY, &htmx)
        }
    }
}

#[derive(Template)]
#[template(path = "account/token_row.html")]
struct TokenRowPartial {
    t: TokenRow,
    csrf: String,
}

/// `POST /account/tokens/{id}/revoke`: revoke one of your tokens; htmx gets the
/// updated row, a plain form goes back to the account page.
pub async fn form_revoke_token(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    htmx: Htmx,
    Path(id): Path<String>,
) -> Result<Response, UiError> {
    let token_id: TokenId = id
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
    let token = state.store.token(token_id).await.map_err(ApiError::from)?;
    if token.user_id != caller.user.id {
        // Someone else's token looks the same as no token, as in the API.
        return Err(UiError::not_found(format!("token {id} not found")));
    }
    let row = match revoke(&state, &caller.audit(), &token).await {
        Ok(revoked) => TokenRow::from(&revoked),
        Err(e) => TokenRow {
            error: Some(form_problem(e)?),
            ..TokenRow::from(&token)
        },
    };
    if !htmx.request {
        if row.error.is_none() {
            return Ok(Redirect::to("/account").into_response());
        }
        let mut page = AccountPage::new(&state, &caller).await?;
        if let Some(shown) = page.tokens.iter_mut().find(|t| t.id == row.id) {
            *shown = row;
        }
        return page.respond(StatusCode::UNPROCESSABLE_ENTITY, &htmx);
    }
    let partial = TokenRowPartial {
        t: row,
        csrf: caller.csrf_token().unwrap_or_default().to_owned(),
    };
    Ok(Html(partial.render()?).into_response())
}
