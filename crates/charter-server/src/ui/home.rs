//! The page for addresses that lead nowhere. (The home page, `/`, is the
//! dashboard: `dashboard.rs`.)

use axum::http::Uri;

use super::UiError;

/// Any other address.
pub async fn page_not_found(uri: Uri) -> UiError {
    UiError::not_found(format!("there is no page at {}", uri.path()))
}
