//! The JSON API under `/api/v1`, and its OpenAPI document.

pub mod audit;
pub mod bundle;
pub mod dashboard;
pub mod finding;
pub mod gate;
pub mod group;
pub mod policy;
pub mod project;
pub mod review;
pub mod session;
pub mod system;
pub mod task;
pub mod telemetry;
pub mod token;
pub mod user;

use axum::Router;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::state::AppState;

/// The `/api/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/version", get(system::get_version))
        .route("/openapi.json", get(system::get_openapi))
        .route("/auth/login", post(session::login))
        .route("/auth/logout", post(session::logout))
        .route("/me", get(session::get_me))
        .route("/me/tokens", get(token::list_my_tokens).post(token::create_my_token))
        .route("/me/tokens/{id}", axum::routing::delete(token::revoke_my_token))
        .route("/users", get(user::list_users).post(user::create_user))
        .route("/users/{id}", get(user::get_user).patch(user::update_user))
        .route("/users/{id}/tokens", get(token::list_user_tokens))
        .route("/tokens/{id}", axum::routing::delete(token::revoke_token))
        .route("/groups", get(group::list_groups).post(group::create_group))
        .route("/groups/{id}", get(group::get_group))
        .route("/groups/{id}/members", post(group::add_member))
        .route(
            "/groups/{id}/members/{user_id}",
            axum::routing::delete(group::remove_member),
        )
        .route("/audit-events", get(audit::list_audit_events))
        .route("/audit-events/export", get(audit::export_audit_events))
        .route("/audit-events/{id}", get(audit::get_audit_event))
        .route("/audit/verify", post(audit::verify_audit))
        .route("/audit/checkpoints", get(audit::list_checkpoints))
        .route("/projects", get(project::list_projects).post(project::create_project))
        .route("/projects/{id}", get(project::get_project))
        .route("/projects/{id}/members", post(project::set_project_member))
        .route("/policies", get(policy::list_policies).post(policy::create_policy))
        .route("/policies/lint", post(policy::lint_policy))
        .route("/policies/{id}", get(policy::get_policy))
        .route("/policies/{id}/draft", axum::routing::put(policy::save_policy_draft))
        .route("/policies/{id}/versions/{v}", get(policy::get_policy_version))
        .route(
            "/policies/{id}/versions/{v}/publish",
            post(policy::publish_policy_version),
        )
        .route(
            "/policies/{id}/versions/{v}/retire",
            post(policy::retire_policy_version),
        )
        .route("/policies/{id}/versions/{v}/diff", get(policy::diff_policy_versions))
        .route("/policies/{id}/versions/{v}/test", post(policy::test_policy_version))
        .route("/bundles", get(bundle::list_bundles).post(bundle::create_bundle))
        .route("/bundles/{id}", get(bundle::get_bundle))
        .route("/bundles/{id}/answers", axum::routing::put(bundle::answer_bundle))
        .route(
            "/bundles/{id}/answers/{policy}/{input}/history",
            get(bundle::get_answer_history),
        )
        .route("/bundles/{id}/copy", post(bundle::copy_bundle))
        .route("/bundles/{id}/copy-preview", get(bundle::preview_bundle_copy))
        .route("/bundles/{id}/migrate", post(bundle::migrate_bundle))
        .route(
            "/bundles/{id}/stages/{stage}/assignee",
            axum::routing::put(bundle::assign_stage),
        )
        .route("/bundles/{id}/complete", post(bundle::complete_bundle))
        .route("/bundles/{id}/archive", post(bundle::archive_bundle))
        .route("/bundles/{id}/reopen", post(bundle::reopen_bundle))
        .route(
            "/bundles/{id}/attachments",
            get(bundle::list_attachments).post(bundle::add_attachment),
        )
        .route("/bundles/{id}/attachments/upload", post(bundle::upload_attachment))
        .route("/bundles/{id}/metric-checks", get(bundle::list_metric_checks))
        .route(
            "/bundles/{id}/attachments/{att}/content",
            get(bundle::get_attachment_content),
        )
        .route("/gates/check", post(gate::check_gate))
        .route("/dashboard", get(dashboard::get_dashboard))
        .route(
            "/bundles/{id}/stages/{stage}/request-review",
            post(review::request_review),
        )
        .route("/approvals/{id}", get(review::get_approval))
        .route("/approvals/{id}/decision", post(review::decide_approval))
        .route("/approvals/{id}/approvers", post(review::add_approvers))
        .route(
            "/policies/{id}/sod-exemptions",
            get(review::list_sod_exemptions).post(review::create_sod_exemption),
        )
        .route(
            "/policies/{id}/sod-exemptions/{user_id}",
            axum::routing::delete(review::delete_sod_exemption),
        )
        .route("/findings", get(finding::list_findings))
        .route("/bundles/{id}/findings", post(finding::create_finding))
        .route(
            "/findings/{id}",
            get(finding::get_finding).patch(finding::update_finding),
        )
        .route("/findings/{id}/comments", post(finding::create_comment))
        .route(
            "/bundles/{id}/waivers",
            get(finding::list_waivers).post(finding::create_waiver),
        )
        .route("/waivers/{id}/revoke", post(finding::revoke_waiver))
        .route("/tasks", get(task::list_tasks))
        // LLM telemetry (issue 6)
        .route(
            "/projects/{id}/ingest-tokens",
            get(telemetry::list_ingest_tokens).post(telemetry::create_ingest_token),
        )
        .route(
            "/projects/{id}/ingest-tokens/{token_id}",
            axum::routing::delete(telemetry::revoke_ingest_token),
        )
        .route(
            "/projects/{id}/telemetry/settings",
            get(telemetry::get_telemetry_settings).put(telemetry::put_telemetry_settings),
        )
        .route("/projects/{id}/telemetry/stats", get(telemetry::get_telemetry_stats))
        .route("/projects/{id}/traces", get(telemetry::list_traces))
        .route("/projects/{id}/traces/{trace_id}", get(telemetry::get_trace))
        .route("/projects/{id}/spans", get(telemetry::list_spans))
        .route("/projects/{id}/sessions", get(telemetry::list_sessions))
        .route("/projects/{id}/sessions/{session_id}", get(telemetry::get_session))
        .route("/projects/{id}/annotations", get(telemetry::list_annotations))
        .route("/span_annotations", post(telemetry::post_span_annotations))
        .route("/trace_annotations", post(telemetry::post_trace_annotations))
        .route("/annotations/{id}", axum::routing::delete(telemetry::delete_annotation))
        .fallback(unknown_route)
}

async fn unknown_route(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "there is no API route {} {}",
        request.method(),
        request.uri().path()
    ))
}

/// The OpenAPI document of `/api/v1`, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Charter API", description = "Model governance: identity, tokens, groups and the audit trail."),
    servers((url = "/api/v1")),
    paths(
        system::get_version,
        session::login, session::logout, session::get_me,
        token::list_my_tokens, token::create_my_token, token::revoke_my_token, token::list_user_tokens, token::revoke_token,
        user::list_users, user::create_user, user::get_user, user::update_user,
        group::list_groups, group::create_group, group::get_group, group::add_member, group::remove_member,
        audit::list_audit_events, audit::export_audit_events, audit::get_audit_event, audit::verify_audit, audit::list_checkpoints,
        project::list_projects, project::create_project, project::get_project, project::set_project_member,
        policy::lint_policy, policy::list_policies, policy::create_policy, policy::get_policy, policy::save_policy_draft,
        policy::get_policy_version, policy::publish_policy_version, policy::retire_policy_version,
        policy::diff_policy_versions, policy::test_policy_version,
        bundle::list_bundles, bundle::create_bundle, bundle::get_bundle, bundle::answer_bundle, bundle::get_answer_history,
        bundle::copy_bundle, bundle::preview_bundle_copy, bundle::migrate_bundle, bundle::assign_stage, bundle::complete_bundle, bundle::archive_bundle, bundle::reopen_bundle,
        bundle::list_attachments, bundle::add_attachment, bundle::upload_attachment, bundle::get_attachment_content,
        bundle::list_metric_checks,
        gate::check_gate,
        dashboard::get_dashboard,
        review::request_review, review::get_approval, review::decide_approval, review::add_approvers,
        review::list_sod_exemptions, review::create_sod_exemption, review::delete_sod_exemption,
        finding::list_findings, finding::create_finding, finding::get_finding, finding::update_finding,
        finding::create_comment, finding::list_waivers, finding::create_waiver, finding::revoke_waiver,
        task::list_tasks,
        telemetry::list_ingest_tokens, telemetry::create_ingest_token, telemetry::revoke_ingest_token,
        telemetry::get_telemetry_settings, telemetry::put_telemetry_settings,
        telemetry::get_telemetry_stats, telemetry::list_traces, telemetry::get_trace, telemetry::list_spans,
        telemetry::list_sessions, telemetry::get_session,
        telemetry::list_annotations, telemetry::post_span_annotations, telemetry::post_trace_annotations,
        telemetry::delete_annotation,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SecurityAddon),
    tags(
        (name = "system", description = "Version and health"),
        (name = "auth", description = "Sign-in, sessions and your own tokens"),
        (name = "users", description = "Accounts (admins)"),
        (name = "groups", description = "Groups of users that policies name as approvers"),
        (name = "audit", description = "The hash-chained audit trail (governance admins)"),
        (name = "projects", description = "Namespaces with members, where bundles live"),
        (name = "policies", description = "Versioned governance policies: lint, drafts, publish, retire, diff, tests"),
        (name = "bundles", description = "Governed bundles: the evidence notebook, answers, copies, attachments"),
        (name = "gates", description = "May a governed action happen? Audited decisions"),
        (name = "dashboard", description = "Where governance stands across your bundles"),
        (name = "approvals", description = "Review requests, decisions, additional approvers, separation of duties"),
        (name = "findings", description = "Findings, their comments, and waivers"),
        (name = "tasks", description = "Your task list"),
        (name = "telemetry", description = "LLM traces (OTLP/OpenInference): ingest tokens, settings, queries, feedback, monitors"),
    )
)]
pub struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("chr_…")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
    }
}

/// A JSON body whose rejections use the API's error shape and name the field.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
    use axum::extract::rejection::JsonRejection as R;
    match rejection {
        R::JsonDataError(e) => ApiError::invalid(format!("the request body does not fit: {}", source_text(&e))),
        R::JsonSyntaxError(e) => ApiError::invalid(format!("the request body is not valid JSON: {}", source_text(&e))),
        R::MissingJsonContentType(_) => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the request body as JSON with `Content-Type: application/json`",
        ),
        R::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        other => ApiError::invalid(other.body_text()),
    }
}

fn source_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than this server accepts",
    )
}

/// Query-string parameters whose rejections use the API's error shape.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(e) => Err(ApiError::invalid(format!(
                "the query string does not fit: {}",
                source_text(&e)
            ))),
        }
    }
}

/// Give every error under `/api/` the JSON error shape, including the ones produced
/// outside handlers (unknown method, timeouts, oversized bodies).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return response;
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(status, "method_not_allowed", "this route does not accept that method")
        }
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        StatusCode::REQUEST_TIMEOUT => ApiError::new(status, "timeout", "the request took too long and was abandoned"),
        StatusCode::NOT_FOUND => ApiError::not_found("no such route"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "send the request body as JSON with `Content-Type: application/json`",
        ),
        s if s.is_server_error() => ApiError::internal(),
        s => ApiError::new(s, "invalid_request", s.canonical_reason().unwrap_or("bad request")),
    };
    let mut out = error.into_response();
    *out.status_mut() = status;
    out
}

/// A page of results and where to continue.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub(crate) fn respond<T: serde::Serialize>(status: StatusCode, body: T) -> Response {
    (status, axum::Json(body)).into_response()
}
