//! OTLP/HTTP trace ingestion: `POST /v1/traces`, as the OpenTelemetry exporters,
//! Arize Phoenix's `arize-phoenix-otel` and OpenInference instrumentations send it.
//!
//! A request goes: content type and encoding checked → a slot among
//! `telemetry.max_inflight_requests` (else 503 + `Retry-After`) → the sender
//! identified (a project ingest token `chi_…`, a personal token or Basic
//! credentials, or — when configured — nobody) → body read with a cap (413) →
//! decompressed and decoded on a blocking thread (400 + `google.rpc.Status` when it
//! cannot be) → each resource's project resolved (the token's project; otherwise
//! `x-project-name`, then the resource's `openinference.project.name`, then
//! `telemetry.default_project`) → spans checked, redacted and converted → queued
//! (503 + `Retry-After` when the queue is full) → answered 200 once committed, with
//! `partial_success` naming refused spans.
//!
//! Answers always use the request's encoding. Phoenix-compatible annotation routes
//! (`/v1/span_annotations`, `/v1/trace_annotations`) live here too, since Phoenix
//! clients post them next to `/v1/traces`.

pub mod convert;
pub mod decode;
pub mod queue;
pub mod status;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use axum::routing::post;
use charter_domain::time::now_ms;
use charter_store::StoreError;
use charter_store::project::Project;

use self::convert::Destination;
use self::status::{Encoding, OtlpError, code};
use crate::error::ApiError;
use crate::governance::project::{Access, require};
use crate::state::AppState;
use crate::telemetry::Sender;

/// The header Phoenix clients name a project with.
pub const PROJECT_HEADER: &str = "x-project-name";

/// The routes under `/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/traces", post(export_traces))
        .route("/v1/metrics", post(other_signal))
        .route("/v1/logs", post(other_signal))
        // Phoenix clients post feedback next to their traces.
        .route(
            "/v1/span_annotations",
            post(crate::api::telemetry::post_span_annotations),
        )
        .route(
            "/v1/trace_annotations",
            post(crate::api::telemetry::post_trace_annotations),
        )
}

async fn other_signal(headers: HeaderMap) -> Response {
    let encoding = decode::encoding_of(&headers).unwrap_or(Encoding::Json);
    OtlpError::new(
        StatusCode::NOT_FOUND,
        code::NOT_FOUND,
        "Charter receives traces only (POST /v1/traces); send metrics and logs elsewhere",
    )
    .into_response_as(encoding)
}

/// `POST /v1/traces`.
pub async fn export_traces(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let encoding = match decode::encoding_of(&parts.headers) {
        Ok(e) => e,
        Err(e) => return e.into_response_as(Encoding::Json),
    };
    match ingest(&state, &mut parts, body, encoding).await {
        Ok(response) => response,
        Err(e) => e.into_response_as(encoding),
    }
}

/// A database problem as OTLP sees it: retryable (503) when it is on our side.
fn store_error_api(api: ApiError) -> OtlpError {
    if api.status.is_server_error() {
        OtlpError::unavailable("Charter could not reach its database; retry shortly", 5)
    } else {
        OtlpError::new(api.status, code::INTERNAL, api.message)
    }
}

/// A resource's spans refused: the HTTP status to use if every span is refused
/// for it, and a sentence.
type Refusal = (StatusCode, String);

/// Where the spans of a resource naming `name` go.
async fn destination(
    state: &AppState,
    sender: &Sender,
    name: Option<&str>,
    projects: &mut HashMap<String, Result<Project, Refusal>>,
) -> Result<Project, Refusal> {
    let name = match name {
        Some(n) => n.to_owned(),
        None => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!(
                    "the spans name no project: set the resource attribute `{}` or the `{PROJECT_HEADER}` header, \
                     or send a project ingest token",
                    convert::PROJECT_ATTRIBUTE
                ),
            ));
        }
    };
    if let Some(known) = projects.get(&name) {
        return known.clone();
    }
    let outcome = resolve(state, sender, &name).await;
    projects.insert(name, outcome.clone());
    outcome
}

async fn resolve(state: &AppState, sender: &Sender, name: &str) -> Result<Project, Refusal> {
    let found = match state.store.project_by_name(name).await {
        Ok(p) => Some(p),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => {
            tracing::error!(error = %e, "could not look up a project for ingest");
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "Charter could not reach its database; retry shortly".into(),
            ));
        }
    };
    let unknown = || {
        (
            StatusCode::NOT_FOUND,
            format!(
                "project `{name}` does not exist in Charter; create it first (POST /api/v1/projects), or an operator \
                 can set telemetry.auto_create_projects"
            ),
        )
    };
    match (sender, found) {
        (Sender::User(caller), Some(p)) => match require(state, &caller.user, &p, Access::Write).await {
            Ok(_) => Ok(p),
            Err(e) => Err((StatusCode::FORBIDDEN, e.message)),
        },
        (Sender::User(caller), None) if state.config.telemetry.auto_create_projects => {
            let description = "Created when its first traces arrived.";
            crate::governance::project::create(state, &caller.audit(), &caller.user, name, description)
                .await
                .map_err(|e| {
                    (
                        e.status,
                        format!("project `{name}` could not be created: {}", e.message),
                    )
                })
        }
        (Sender::Anonymous, Some(p)) => Ok(p),
        (_, None) => Err(unknown()),
        (Sender::Token(_), Some(p)) => Ok(p),
    }
}

async fn ingest(state: &AppState, parts: &mut Parts, body: Body, encoding: Encoding) -> Result<Response, OtlpError> {
    let config = &state.config.telemetry;
    let _slot = state.telemetry.inflight.clone().try_acquire_owned().map_err(|_| {
        OtlpError::unavailable(
            format!(
                "Charter is reading {} export requests already; retry shortly",
                config.max_inflight_requests
            ),
            config.retry_after_secs,
        )
    })?;
    let compression = decode::compression_of(&parts.headers)?;
    let sender = match crate::telemetry::identify(state, parts).await {
        Ok(Sender::Anonymous) if !config.allow_anonymous => {
            return Err(OtlpError::unauthenticated(
                "send a project ingest token as `Authorization: Bearer chi_…` (a project's owners and members \
                 create them at POST /api/v1/projects/{project}/ingest-tokens), or a personal token `chr_…`",
            ));
        }
        Ok(s) => s,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => return Err(OtlpError::unauthenticated(e.message)),
        Err(e) => return Err(store_error_api(e)),
    };
    let limit = config.max_body_bytes;
    if let Some(len) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(OtlpError::too_large(limit));
    }
    let raw = decode::read_body(body, limit).await?;
    let request = tokio::task::spawn_blocking(move || decode::decode(raw, compression, encoding, limit))
        .await
        .map_err(|_| OtlpError::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, "decoding failed"))??;
    let total = convert::span_count(&request);
    if total == 0 {
        return Ok(status::success(encoding, 0, ""));
    }

    // Where each resource's spans go.
    let header_project = parts
        .headers
        .get(PROJECT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let names = convert::resource_project_names(&request);
    let mut projects = HashMap::new();
    let mut destinations: Vec<Result<Destination, String>> = Vec::with_capacity(names.len());
    let mut refusals: Vec<Refusal> = Vec::new();
    for name in &names {
        let project = match &sender {
            Sender::Token(t) => state
                .store
                .project(t.project_id)
                .await
                .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
            _ => {
                let name = header_project
                    .as_deref()
                    .or(name.as_deref())
                    .or(config.default_project.as_deref());
                destination(state, &sender, name, &mut projects).await
            }
        };
        match project {
            Ok(p) => match crate::telemetry::redactor(state, p.id).await {
                Ok(redactor) => destinations.push(Ok(Destination {
                    project: p.id,
                    redactor,
                })),
                Err(e) => {
                    refusals.push((e.status, e.message.clone()));
                    destinations.push(Err(e.message));
                }
            },
            Err(refusal) => {
                destinations.push(Err(refusal.1.clone()));
                refusals.push(refusal);
            }
        }
    }

    let converted = tokio::task::spawn_blocking(move || convert::convert(request, &destinations))
        .await
        .map_err(|_| OtlpError::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, "conversion failed"))?;
    let message = converted.first_error.clone().unwrap_or_default();
    if converted.spans.is_empty() {
        // Nothing to store: say why as an error, which exporters log.
        return Err(match refusals.first() {
            Some((s, m)) if *s == StatusCode::SERVICE_UNAVAILABLE => OtlpError::unavailable(m.clone(), 5),
            Some((s, m)) if *s == StatusCode::FORBIDDEN => OtlpError::forbidden(m.clone()),
            Some((s, m)) if *s == StatusCode::UNAUTHORIZED => OtlpError::unauthenticated(m.clone()),
            Some((s, m)) if *s == StatusCode::NOT_FOUND => OtlpError::new(*s, code::NOT_FOUND, m.clone()),
            _ => OtlpError::bad_data("resourceSpans", format!("no span could be stored: {message}")),
        });
    }
    if converted.redactions > 0 {
        tracing::debug!(redactions = converted.redactions, "redacted span attributes");
    }
    let rejected = converted.rejected;
    let n = converted.spans.len();
    let done = state
        .telemetry
        .queue
        .submit(&state.store, converted.resources, converted.spans)
        .map_err(|full| {
            OtlpError::unavailable(
                format!(
                    "Charter's span queue is full ({} of {} spans waiting to be written); retry after the delay",
                    full.queued,
                    state.telemetry.queue.capacity()
                ),
                config.retry_after_secs,
            )
        })?;
    match done.await {
        Ok(Ok(_)) => {
            tracing::debug!(spans = n, rejected, at = now_ms(), "stored spans");
            Ok(status::success(encoding, rejected, &message))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "spans were not stored");
            Err(OtlpError::unavailable(
                "Charter could not store the spans; retry shortly",
                config.retry_after_secs.max(1),
            ))
        }
        Err(_) => Err(OtlpError::unavailable("Charter is shutting down; retry shortly", 5)),
    }
}
