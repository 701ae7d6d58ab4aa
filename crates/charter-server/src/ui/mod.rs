//! Server-rendered pages (askama + htmx). Filled in by the web-shell work.

use axum::Router;

use crate::state::AppState;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
