//! Liveness, readiness, version and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use utoipa::OpenApi;

use crate::state::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct VersionResponse {
    /// Charter's version.
    pub version: String,
    /// The database backend in use: `sqlite` or `postgres`.
    pub database: String,
    /// Migrations this build knows of.
    pub schema_version: usize,
}

/// `GET /health`: the process is up.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /ready`: the database answers.
pub async fn ready(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => Json(json!({ "status": "ready", "database": state.store.backend().as_str() })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            crate::error::ApiError::unavailable("the database is not reachable").into_response()
        }
    }
}

#[utoipa::path(get, path = "/version", tag = "system", responses((status = 200, body = VersionResponse)))]
pub async fn get_version(State(state): State<AppState>) -> Json<VersionResponse> {
    Json(VersionResponse {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database: state.store.backend().as_str().to_owned(),
        schema_version: state.store.known_migrations(),
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn get_openapi() -> Response {
    (StatusCode::OK, Json(super::ApiDoc::openapi())).into_response()
}
