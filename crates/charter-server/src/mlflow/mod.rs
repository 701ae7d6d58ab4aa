//! The MLflow REST API, so that the stock `mlflow` client works against Charter with
//! `MLFLOW_TRACKING_URI` pointing here: tracking (`/api/2.0/mlflow/experiments|runs|
//! metrics/…`), logged models, the model registry, and the proxied artifact store
//! (`/api/2.0/mlflow-artifacts/…`).
//!
//! Errors use MLflow's shape and statuses ([`error::MlflowError`]); requests are
//! parsed with MLflow's quirks ([`wire`]); callers are Charter users, and
//! experiments and registered models live in Charter projects ([`access`]). Run data
//! (metric points, params, tags) is written through the store's group-commit
//! [`RunWriter`](charter_store::mlflow::RunWriter).

pub mod access;
pub mod artifact;
pub mod error;
pub mod model;
pub mod registry;
pub mod tracking;
pub mod wire;

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use charter_store::mlflow::{RunWriter, WriterOptions};

use crate::state::AppState;

/// The MLflow client version whose protocol Charter speaks (reported by `/version`).
pub const MLFLOW_VERSION: &str = "3.17.2";

/// State of the MLflow API: the run writer, started on first use.
#[derive(Default)]
pub struct MlflowState {
    writer: OnceLock<RunWriter>,
}

impl MlflowState {
    /// The group-commit writer for run data.
    pub fn writer(&self, state: &AppState) -> &RunWriter {
        self.writer.get_or_init(|| {
            RunWriter::start(
                state.store.clone(),
                WriterOptions {
                    max_batch: state.config.mlflow.group_commit_max_requests.max(1),
                    linger: Duration::from_micros(state.config.mlflow.group_commit_linger_us),
                },
            )
        })
    }
}

/// The MLflow routes (merged into the app at the root).
pub fn routes() -> Router<AppState> {
    use tracking as t;
    let api = Router::new()
        .route("/experiments/get-by-name", get(t::get_experiment_by_name))
        .route("/experiments/create", post(t::create_experiment))
        .route("/experiments/get", get(t::get_experiment))
        .route(
            "/experiments/search",
            post(t::search_experiments).get(t::search_experiments),
        )
        .route("/experiments/update", post(t::update_experiment))
        .route("/experiments/delete", post(t::delete_experiment))
        .route("/experiments/restore", post(t::restore_experiment))
        .route("/experiments/set-experiment-tag", post(t::set_experiment_tag))
        .route("/experiments/delete-experiment-tag", post(t::delete_experiment_tag))
        .route("/runs/create", post(t::create_run))
        .route("/runs/update", post(t::update_run))
        .route("/runs/get", get(t::get_run))
        .route("/runs/delete", post(t::delete_run))
        .route("/runs/restore", post(t::restore_run))
        .route("/runs/log-metric", post(t::log_metric))
        .route("/runs/log-parameter", post(t::log_param))
        .route("/runs/set-tag", post(t::set_tag))
        .route("/runs/delete-tag", post(t::delete_tag))
        .route("/runs/log-batch", post(t::log_batch))
        .route("/runs/log-inputs", post(t::log_inputs))
        .route("/runs/outputs", post(t::log_outputs))
        .route("/runs/log-model", post(model::log_model_legacy))
        .route("/runs/search", post(t::search_runs).get(t::search_runs))
        .route("/metrics/get-history", get(t::get_metric_history))
        .route("/artifacts/list", get(artifact::list_run_artifacts))
        .route("/logged-models", post(model::create_logged_model))
        .route("/logged-models/search", post(model::search_logged_models))
        .route(
            "/logged-models/{model_id}",
            get(model::get_logged_model)
                .patch(model::finalize_logged_model)
                .delete(model::delete_logged_model),
        )
        .route(
            "/logged-models/{model_id}/tags",
            axum::routing::patch(model::set_logged_model_tags),
        )
        .route(
            "/logged-models/{model_id}/tags/{tag_key}",
            axum::routing::delete(model::delete_logged_model_tag),
        )
        .route("/logged-models/{model_id}/params", post(model::log_logged_model_params))
        .route("/registered-models/create", post(registry::create_registered_model))
        .route("/registered-models/get", get(registry::get_registered_model))
        .route("/registered-models/rename", post(registry::rename_registered_model))
        .route(
            "/registered-models/update",
            axum::routing::patch(registry::update_registered_model),
        )
        .route(
            "/registered-models/delete",
            axum::routing::delete(registry::delete_registered_model),
        )
        .route("/registered-models/search", get(registry::search_registered_models))
        .route(
            "/registered-models/get-latest-versions",
            post(registry::get_latest_versions).get(registry::get_latest_versions),
        )
        .route(
            "/registered-models/alias",
            post(registry::set_alias)
                .get(registry::get_by_alias)
                .delete(registry::delete_alias),
        )
        .route("/registered-models/set-tag", post(registry::set_registered_model_tag))
        .route(
            "/registered-models/delete-tag",
            axum::routing::delete(registry::delete_registered_model_tag),
        )
        .route("/model-versions/create", post(registry::create_model_version))
        .route("/model-versions/get", get(registry::get_model_version))
        .route("/model-versions/get-download-uri", get(registry::get_download_uri))
        .route(
            "/model-versions/update",
            axum::routing::patch(registry::update_model_version),
        )
        .route(
            "/model-versions/delete",
            axum::routing::delete(registry::delete_model_version),
        )
        .route("/model-versions/search", get(registry::search_model_versions))
        .route("/model-versions/transition-stage", post(registry::transition_stage))
        .route("/model-versions/set-tag", post(registry::set_model_version_tag))
        .route(
            "/model-versions/delete-tag",
            axum::routing::delete(registry::delete_model_version_tag),
        );
    let artifacts = Router::new()
        .route("/artifacts", get(artifact::list_artifacts))
        .route(
            "/artifacts/{*path}",
            get(artifact::download_artifact)
                .put(artifact::upload_artifact)
                .delete(artifact::delete_artifact),
        )
        .route("/mpu/{*path}", post(artifact::multipart_not_supported))
        .route("/presigned/{*path}", get(artifact::multipart_not_supported))
        // Artifact bodies stream to blob storage; model files can be gigabytes.
        .layer(DefaultBodyLimit::disable());
    Router::new()
        .nest("/api/2.0/mlflow", api.clone())
        .nest("/ajax-api/2.0/mlflow", api)
        .nest("/api/2.0/mlflow-artifacts", artifacts)
        .route("/api/3.0/mlflow/server-info", get(server_info))
        .route("/version", get(version))
        .route("/api/2.0/{*rest}", axum::routing::any(endpoint_not_found))
        .route("/api/3.0/{*rest}", axum::routing::any(endpoint_not_found))
}

async fn version() -> &'static str {
    MLFLOW_VERSION
}

/// What the client probes before downloads: no multipart, no presigned URLs, so it
/// keeps every byte flowing through Charter.
async fn server_info() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {},
    }))
}

async fn endpoint_not_found(request: axum::extract::Request) -> error::MlflowError {
    error::MlflowError::new(
        error::ErrorCode::EndpointNotFound,
        format!(
            "Charter does not serve {} {} (see docs/mlflow.md for what is supported)",
            request.method(),
            request.uri().path()
        ),
    )
}
