//! The home page, and the page for addresses that lead nowhere.

use askama::Template;
use axum::http::Uri;
use axum::response::Html;

use super::{Layout, SignedIn, UiError};

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
}

/// `GET /`: where signing in lands; links to what the caller's role allows.
pub async fn page_home(SignedIn(caller): SignedIn) -> Result<Html<String>, UiError> {
    let page = HomePage {
        layout: Layout::new(Some(&caller), "home", "Home"),
    };
    Ok(Html(page.render()?))
}

/// Any other address.
pub async fn page_not_found(uri: Uri) -> UiError {
    UiError::not_found(format!("there is no page at {}", uri.path()))
}
