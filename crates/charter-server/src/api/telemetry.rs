//! LLM telemetry over the JSON API: a project's ingest tokens and settings
//! (retention, redaction), trace and span lists with filters, a trace as a tree,
//! sessions and statistics. Spans arrive at `POST /v1/traces` (OTLP, not under
//! `/api/v1`); see `otlp/`.

use std::collections::{HashMap, HashSet};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use charter_domain::telemetry::redact::RedactionRule;
use charter_domain::telemetry::semconv::{self, Document};
use charter_domain::telemetry::stats::WindowStats;
use charter_domain::telemetry::{Attributes, OtelKind, SpanKind};
use charter_domain::time::rfc3339;
use charter_store::project::Project;
use charter_store::telemetry::{
    Annotation, IngestToken, ListMode, SessionSummary, SpanFilter, StoredSpan, TelemetrySettings, TraceSummary,
};
use serde::{Deserialize, Serialize};

use super::{ApiJson, ApiQuery, respond};
use crate::auth::{Caller, RequestMeta};
use crate::error::{ApiError, ApiResult};
use crate::governance::project;
use crate::state::AppState;
use crate::telemetry::annotation;
use crate::telemetry::query::{self, FilterText, TraceDetail};
use crate::telemetry::{ms_to_ns, settings};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestTokenResponse {
    /// `itk_…`.
    pub id: String,
    /// `prj_…`.
    pub project_id: String,
    pub name: String,
    /// The first characters of the secret (`chi_1a2b3c4d`), to tell tokens apart.
    pub prefix: String,
    pub created_by: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<&IngestToken> for IngestTokenResponse {
    fn from(t: &IngestToken) -> Self {
        Self {
            id: t.id.to_string(),
            project_id: t.project_id.to_string(),
            name: t.name.clone(),
            prefix: t.prefix.clone(),
            created_by: t.created_by.to_string(),
            created_at: rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(rfc3339),
            revoked_at: t.revoked_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedIngestTokenResponse {
    #[serde(flatten)]
    pub token: IngestTokenResponse,
    /// The secret (`chi_…`): shown once. Send it as `Authorization: Bearer chi_…` to `/v1/traces`.
    pub secret: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIngestTokenRequest {
    /// Where the token is used, e.g. `helpbot production`.
    pub name: String,
}

/// A redaction rule: which attributes, what to find, what to put instead.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedactionRuleBody {
    pub name: String,
    /// Attribute keys; `*` matches any characters (`llm.*.message.content`).
    pub attributes: Vec<String>,
    /// `email`, `card_number`, `phone`, `us_ssn` or `iban`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// A regular expression (Rust syntax), instead of a preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// What a match becomes (default `[REDACTED:<preset>]` or `[REDACTED]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

impl From<RedactionRuleBody> for RedactionRule {
    fn from(r: RedactionRuleBody) -> Self {
        Self {
            name: r.name,
            attributes: r.attributes,
            preset: r.preset,
            pattern: r.pattern,
            replacement: r.replacement,
        }
    }
}

impl From<RedactionRule> for RedactionRuleBody {
    fn from(r: RedactionRule) -> Self {
        Self {
            name: r.name,
            attributes: r.attributes,
            preset: r.preset,
            pattern: r.pattern,
            replacement: r.replacement,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TelemetrySettingsResponse {
    pub project_id: String,
    /// Spans older than this many days are deleted by the retention job; null keeps them.
    pub retention_days: Option<i64>,
    /// Only the newest this many spans are kept; null for no limit.
    pub retention_max_spans: Option<i64>,
    /// Applied to span and event attributes before anything is stored.
    pub redaction: Vec<RedactionRuleBody>,
    pub updated_by: Option<String>,
    pub updated_at: Option<String>,
    pub version: i64,
}

impl From<&TelemetrySettings> for TelemetrySettingsResponse {
    fn from(s: &TelemetrySettings) -> Self {
        let rules: Vec<RedactionRule> = serde_json::from_str(&s.redaction).unwrap_or_default();
        Self {
            project_id: s.project_id.to_string(),
            retention_days: s.retention_days,
            retention_max_spans: s.retention_max_spans,
            redaction: rules.into_iter().map(RedactionRuleBody::from).collect(),
            updated_by: s.updated_by.map(|u| u.to_string()),
            updated_at: (s.version > 0).then(|| rfc3339(s.updated_at)),
            version: s.version,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettingsRequest {
    #[serde(default)]
    pub retention_days: Option<i64>,
    #[serde(default)]
    pub retention_max_spans: Option<i64>,
    #[serde(default)]
    pub redaction: Vec<RedactionRuleBody>,
}

#[utoipa::path(get, path = "/projects/{id}/ingest-tokens", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 200, body = Vec<IngestTokenResponse>), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_ingest_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<IngestTokenResponse>>> {
    let p = project::find(&state, &id).await?;
    let tokens = settings::list_tokens(&state, &caller.user, &p).await?;
    Ok(Json(tokens.iter().map(IngestTokenResponse::from).collect()))
}

#[utoipa::path(post, path = "/projects/{id}/ingest-tokens", tag = "telemetry", request_body = CreateIngestTokenRequest,
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 201, body = CreatedIngestTokenResponse, description = "Created; the secret is shown once"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn create_ingest_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<CreateIngestTokenRequest>,
) -> ApiResult<Response> {
    let p = project::find(&state, &id).await?;
    let (token, secret) = settings::create_token(&state, &caller.audit(), &caller.user, &p, &req.name).await?;
    Ok(respond(
        StatusCode::CREATED,
        CreatedIngestTokenResponse {
            token: IngestTokenResponse::from(&token),
            secret: secret.expose().to_owned(),
        },
    ))
}

#[utoipa::path(delete, path = "/projects/{id}/ingest-tokens/{token_id}", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"),
        ("token_id" = String, Path, description = "`itk_…`")),
    responses((status = 200, body = IngestTokenResponse, description = "Revoked"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn revoke_ingest_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, token_id)): Path<(String, String)>,
) -> ApiResult<Json<IngestTokenResponse>> {
    let p = project::find(&state, &id).await?;
    let token = settings::revoke_token(&state, &caller.audit(), &caller.user, &p, &token_id).await?;
    Ok(Json(IngestTokenResponse::from(&token)))
}

#[utoipa::path(get, path = "/projects/{id}/telemetry/settings", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 200, body = TelemetrySettingsResponse), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_telemetry_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<TelemetrySettingsResponse>> {
    let p = project::find(&state, &id).await?;
    let s = settings::get(&state, &caller.user, &p).await?;
    Ok(Json(TelemetrySettingsResponse::from(&s)))
}

#[utoipa::path(put, path = "/projects/{id}/telemetry/settings", tag = "telemetry", request_body = TelemetrySettingsRequest,
    params(("id" = String, Path, description = "Project id (`prj_…`) or name")),
    responses((status = 200, body = TelemetrySettingsResponse, description = "Saved; audited"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn put_telemetry_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TelemetrySettingsRequest>,
) -> ApiResult<Json<TelemetrySettingsResponse>> {
    let p = project::find(&state, &id).await?;
    let input = settings::SettingsInput {
        retention_days: req.retention_days,
        retention_max_spans: req.retention_max_spans,
        redaction: req.redaction.into_iter().map(RedactionRule::from).collect(),
    };
    let s = settings::save(&state, &caller.audit(), &caller.user, &p, input).await?;
    Ok(Json(TelemetrySettingsResponse::from(&s)))
}

// ---------------------------------------------------------------------------
// Queries: traces, spans, a trace as a tree, sessions, statistics.
// ---------------------------------------------------------------------------

/// Longest input/output text in lists (the trace view shows it whole).
const LIST_TEXT_CHARS: usize = 1000;

fn clip(text: Option<&str>, max: usize) -> Option<String> {
    text.map(|t| {
        if t.chars().count() > max {
            let mut s: String = t.chars().take(max).collect();
            s.push('…');
            s
        } else {
            t.to_owned()
        }
    })
}

/// RFC 3339 with the span's full precision.
pub fn rfc3339_ns(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ns.to_string())
}

fn status_name(code: i64) -> &'static str {
    match code {
        1 => "OK",
        2 => "ERROR",
        _ => "UNSET",
    }
}

/// A span in a list (input and output clipped to 1,000 characters).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpanSummaryResponse {
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    /// OpenInference kind: LLM, CHAIN, RETRIEVER, TOOL, AGENT, GUARDRAIL, EMBEDDING, RERANKER, EVALUATOR, PROMPT, DECISION, UNKNOWN.
    pub span_kind: String,
    /// OTel kind: INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER, UNSPECIFIED.
    pub otel_kind: String,
    pub start_time: String,
    pub end_time: String,
    pub latency_ms: f64,
    /// OK, ERROR or UNSET.
    pub status: String,
    pub status_message: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    /// Cost the instrumentation reported (`llm.cost.total`), in USD.
    pub cost_usd: Option<f64>,
    pub input: Option<String>,
    pub input_mime_type: Option<String>,
    pub output: Option<String>,
    pub output_mime_type: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
}

impl SpanSummaryResponse {
    pub fn new(s: &StoredSpan, text_chars: usize) -> Self {
        Self {
            trace_id: s.trace_id.clone(),
            span_id: s.span_id.clone(),
            parent_span_id: s.parent_span_id.clone(),
            name: s.name.clone(),
            span_kind: s.span_kind.clone(),
            otel_kind: OtelKind(i32::try_from(s.otel_kind).unwrap_or(0)).as_str().to_owned(),
            start_time: rfc3339_ns(s.start_ns),
            end_time: rfc3339_ns(s.end_ns),
            latency_ms: s.latency_ms,
            status: status_name(s.status_code).to_owned(),
            status_message: s.status_message.clone(),
            model: s.model.clone(),
            provider: s.provider.clone(),
            prompt_tokens: s.prompt_tokens,
            completion_tokens: s.completion_tokens,
            total_tokens: s.total_tokens,
            cost_usd: s.cost_usd,
            input: clip(s.input_value.as_deref(), text_chars),
            input_mime_type: s.input_mime.clone(),
            output: clip(s.output_value.as_deref(), text_chars),
            output_mime_type: s.output_mime.clone(),
            session_id: s.session_id.clone(),
            user_id: s.user_id.clone(),
        }
    }
}

/// A trace in a list: its root span and the trace's figures.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TraceSummaryResponse {
    pub trace_id: String,
    pub root_span_id: String,
    /// The root span's name.
    pub name: String,
    pub span_kind: String,
    pub start_time: String,
    pub end_time: String,
    /// The root span's latency.
    pub latency_ms: f64,
    /// The root span's status.
    pub status: String,
    pub status_message: String,
    pub input: Option<String>,
    pub output: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    pub span_count: i64,
    /// Spans of the trace whose status is ERROR.
    pub error_count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

impl From<&TraceSummary> for TraceSummaryResponse {
    fn from(t: &TraceSummary) -> Self {
        let r = &t.root;
        Self {
            trace_id: r.trace_id.clone(),
            root_span_id: r.span_id.clone(),
            name: r.name.clone(),
            span_kind: r.span_kind.clone(),
            start_time: rfc3339_ns(r.start_ns),
            end_time: rfc3339_ns(r.end_ns),
            latency_ms: r.latency_ms,
            status: status_name(r.status_code).to_owned(),
            status_message: r.status_message.clone(),
            input: clip(r.input_value.as_deref(), LIST_TEXT_CHARS),
            output: clip(r.output_value.as_deref(), LIST_TEXT_CHARS),
            session_id: r.session_id.clone(),
            user_id: r.user_id.clone(),
            span_count: t.aggregate.span_count,
            error_count: t.aggregate.error_count,
            prompt_tokens: t.aggregate.prompt_tokens,
            completion_tokens: t.aggregate.completion_tokens,
            total_tokens: t.aggregate.total_tokens,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TracePageResponse {
    pub items: Vec<TraceSummaryResponse>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpanPageResponse {
    pub items: Vec<SpanSummaryResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// An annotation's result.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema, Default, Clone)]
pub struct AnnotationResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AnnotationResponse {
    /// `ann_…`.
    pub id: String,
    /// `span` or `trace`.
    pub target: String,
    pub trace_id: String,
    pub span_id: Option<String>,
    pub name: String,
    /// HUMAN, LLM or CODE.
    pub annotator_kind: String,
    pub result: AnnotationResult,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub identifier: String,
    /// Counts as negative feedback (score below 0.5, or a label such as `thumbs_down`).
    pub negative: bool,
    /// API or APP.
    pub source: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Annotation> for AnnotationResponse {
    fn from(a: &Annotation) -> Self {
        Self {
            id: a.id.to_string(),
            target: if a.span_id.is_empty() { "trace" } else { "span" }.to_owned(),
            trace_id: a.trace_id.clone(),
            span_id: (!a.span_id.is_empty()).then(|| a.span_id.clone()),
            name: a.name.clone(),
            annotator_kind: a.annotator_kind.clone(),
            result: AnnotationResult {
                label: a.label.clone(),
                score: a.score,
                explanation: a.explanation.clone(),
            },
            metadata: serde_json::from_str(&a.metadata).unwrap_or_else(|_| serde_json::json!({})),
            identifier: a.identifier.clone(),
            negative: a.negative,
            source: a.source.clone(),
            created_by: a.created_by.map(|u| u.to_string()),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentResponse {
    pub id: Option<String>,
    pub content: Option<String>,
    pub score: Option<f64>,
    pub metadata: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ToolCallResponse {
    pub id: Option<String>,
    pub name: String,
    pub arguments: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MessageResponse {
    pub role: String,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallResponse>,
}

fn messages(attrs: &Attributes, prefix: &str) -> Vec<MessageResponse> {
    semconv::messages(attrs, prefix)
        .into_iter()
        .map(|m| MessageResponse {
            role: m.role,
            content: m.content,
            name: m.name,
            tool_calls: m
                .tool_calls
                .into_iter()
                .map(|c| ToolCallResponse {
                    id: c.id,
                    name: c.name,
                    arguments: c.arguments,
                })
                .collect(),
        })
        .collect()
}

/// A span in a trace, whole, with its children.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpanNodeResponse {
    #[serde(flatten)]
    pub span: SpanSummaryResponse,
    /// Milliseconds from the trace's first span start.
    pub offset_ms: f64,
    /// 0 for a root.
    pub depth: usize,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub events: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    pub links: serde_json::Value,
    /// The resource that sent it (`service.name`, …).
    #[schema(value_type = Object)]
    pub resource: serde_json::Value,
    pub scope_name: String,
    pub scope_version: String,
    pub documents: Vec<DocumentResponse>,
    pub input_messages: Vec<MessageResponse>,
    pub output_messages: Vec<MessageResponse>,
    pub annotations: Vec<AnnotationResponse>,
    #[schema(no_recursion)]
    pub children: Vec<SpanNodeResponse>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TraceDetailResponse {
    pub trace_id: String,
    pub project_id: String,
    pub start_time: String,
    pub end_time: String,
    /// From the first span's start to the last span's end.
    pub duration_ms: f64,
    pub span_count: usize,
    pub error_count: usize,
    pub total_tokens: i64,
    /// Spans without a parent in this trace (normally one), each with its subtree.
    pub roots: Vec<SpanNodeResponse>,
    /// Annotations of the trace as a whole.
    pub annotations: Vec<AnnotationResponse>,
}

fn json_or(text: Option<&str>, empty: serde_json::Value) -> serde_json::Value {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or(empty)
}

fn trace_tree(project: &Project, detail: TraceDetail) -> TraceDetailResponse {
    let spans = detail.spans;
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(0);
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<Option<String>, Vec<usize>> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        // A span whose parent is not in the trace (another service's, or lost) is a root here.
        let parent = s.parent_span_id.clone().filter(|p| ids.contains(p.as_str()));
        children.entry(parent).or_default().push(i);
    }
    let mut by_span: HashMap<&str, Vec<&Annotation>> = HashMap::new();
    for a in &detail.annotations {
        by_span.entry(a.span_id.as_str()).or_default().push(a);
    }
    fn node(
        i: usize,
        depth: usize,
        spans: &[StoredSpan],
        children: &HashMap<Option<String>, Vec<usize>>,
        by_span: &HashMap<&str, Vec<&Annotation>>,
        resources: &HashMap<String, String>,
        start: i64,
    ) -> SpanNodeResponse {
        let s = &spans[i];
        let attrs = Attributes::from_json(&s.attributes);
        let documents: Vec<Document> = s
            .documents
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let kids = children
            .get(&Some(s.span_id.clone()))
            .map(|list| {
                // Depth guard: a cycle cannot happen with unique ids, but deep trees are cut at 200.
                if depth >= 200 {
                    return Vec::new();
                }
                list.iter()
                    .map(|&c| node(c, depth + 1, spans, children, by_span, resources, start))
                    .collect()
            })
            .unwrap_or_default();
        SpanNodeResponse {
            span: SpanSummaryResponse::new(s, usize::MAX),
            offset_ms: (s.start_ns - start) as f64 / 1e6,
            depth,
            input_messages: messages(&attrs, "llm.input_messages"),
            output_messages: messages(&attrs, "llm.output_messages"),
            attributes: json_or(Some(&s.attributes), serde_json::json!({})),
            events: json_or(s.events.as_deref(), serde_json::json!([])),
            links: json_or(s.links.as_deref(), serde_json::json!([])),
            resource: json_or(
                resources.get(&s.resource_hash).map(String::as_str),
                serde_json::json!({}),
            ),
            scope_name: s.scope_name.clone(),
            scope_version: s.scope_version.clone(),
            documents: documents
                .into_iter()
                .map(|d| DocumentResponse {
                    id: d.id,
                    content: d.content,
                    score: d.score,
                    metadata: d.metadata,
                })
                .collect(),
            annotations: by_span
                .get(s.span_id.as_str())
                .map(|list| list.iter().map(|a| AnnotationResponse::from(*a)).collect())
                .unwrap_or_default(),
            children: kids,
        }
    }
    let roots = children
        .get(&None)
        .map(|list| {
            list.iter()
                .map(|&i| node(i, 0, &spans, &children, &by_span, &detail.resources, start))
                .collect()
        })
        .unwrap_or_default();
    TraceDetailResponse {
        trace_id: spans.first().map(|s| s.trace_id.clone()).unwrap_or_default(),
        project_id: project.id.to_string(),
        start_time: rfc3339_ns(start),
        end_time: rfc3339_ns(end),
        duration_ms: (end - start) as f64 / 1e6,
        span_count: spans.len(),
        error_count: spans.iter().filter(|s| s.status_code == 2).count(),
        total_tokens: spans.iter().filter_map(|s| s.total_tokens).sum(),
        roots,
        annotations: by_span
            .get("")
            .map(|list| list.iter().map(|a| AnnotationResponse::from(*a)).collect())
            .unwrap_or_default(),
    }
}

/// Query parameters of list routes, read from the raw query string so that `attr`
/// and `attr_contains` can repeat. Unknown parameters are refused by name.
fn filter_text(raw: Option<&str>) -> ApiResult<FilterText> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| ApiError::invalid(format!("the query string does not parse: {e}")))?;
    let mut f = FilterText::default();
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "from" => &mut f.from,
            "to" => &mut f.to,
            "kind" => &mut f.kind,
            "status" => &mut f.status,
            "model" => &mut f.model,
            "session" => &mut f.session,
            "user" => &mut f.user,
            "name" => &mut f.name,
            "trace_id" => &mut f.trace_id,
            "q" => &mut f.q,
            "min_latency_ms" => &mut f.min_latency_ms,
            "cursor" => &mut f.cursor,
            "limit" => &mut f.limit,
            "attr" => {
                f.attr.push(v);
                continue;
            }
            "attr_contains" => {
                f.attr_contains.push(v);
                continue;
            }
            other => {
                return Err(ApiError::invalid(format!(
                    "`{other}` is not a filter; use from, to, kind, status, model, session, user, name, trace_id, \
                     attr, attr_contains, q, min_latency_ms, cursor, limit"
                )));
            }
        };
        *slot = Some(v);
    }
    Ok(f)
}

#[utoipa::path(get, path = "/projects/{id}/traces", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"),
        ("from" = Option<String>, Query, description = "Root span started at or after (RFC 3339, date or epoch ms)"),
        ("to" = Option<String>, Query, description = "Root span started before"),
        ("kind" = Option<String>, Query, description = "Some span of the trace has this OpenInference kind"),
        ("status" = Option<String>, Query, description = "ERROR: some span failed; OK/UNSET: the root's status"),
        ("model" = Option<String>, Query, description = "Some span of the trace used this model"),
        ("session" = Option<String>, Query, description = "`session.id`"),
        ("user" = Option<String>, Query, description = "`user.id`"),
        ("name" = Option<String>, Query, description = "Root span name"),
        ("trace_id" = Option<String>, Query, description = "32 hex digits"),
        ("attr" = Option<Vec<String>>, Query, description = "`key=value`: the root's attribute equals (repeatable)"),
        ("attr_contains" = Option<Vec<String>>, Query, description = "`key=text`: the root's attribute contains, ignoring case (repeatable)"),
        ("q" = Option<String>, Query, description = "Name, input or output contains, ignoring case"),
        ("min_latency_ms" = Option<f64>, Query, description = "Root latency above"),
        ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`"),
        ("limit" = Option<i64>, Query, description = "1–1000, default 50")),
    responses((status = 200, body = TracePageResponse, description = "Newest first"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_traces(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<TracePageResponse>> {
    let filter = filter_text(raw.as_deref())?.parse(ListMode::Traces)?;
    let p = query::readable(&state, &caller.user, &id).await?;
    let (traces, next) = state.store.list_traces(p.id, &filter).await?;
    Ok(Json(TracePageResponse {
        items: traces.iter().map(TraceSummaryResponse::from).collect(),
        next_cursor: next.as_ref().map(query::cursor_text),
    }))
}

#[utoipa::path(get, path = "/projects/{id}/spans", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"),
        ("from" = Option<String>, Query, description = "Started at or after (RFC 3339, date or epoch ms)"),
        ("to" = Option<String>, Query, description = "Started before"),
        ("kind" = Option<String>, Query, description = "OpenInference span kind"),
        ("status" = Option<String>, Query, description = "OK, ERROR or UNSET"),
        ("model" = Option<String>, Query, description = "Model name"),
        ("session" = Option<String>, Query, description = "`session.id`"),
        ("user" = Option<String>, Query, description = "`user.id`"),
        ("name" = Option<String>, Query, description = "Span name"),
        ("trace_id" = Option<String>, Query, description = "32 hex digits"),
        ("attr" = Option<Vec<String>>, Query, description = "`key=value`: attribute equals (repeatable)"),
        ("attr_contains" = Option<Vec<String>>, Query, description = "`key=text`: attribute contains, ignoring case (repeatable)"),
        ("q" = Option<String>, Query, description = "Name, input or output contains, ignoring case"),
        ("min_latency_ms" = Option<f64>, Query, description = "Latency above"),
        ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`"),
        ("limit" = Option<i64>, Query, description = "1–1000, default 50")),
    responses((status = 200, body = SpanPageResponse, description = "Newest first"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_spans(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SpanPageResponse>> {
    let filter = filter_text(raw.as_deref())?.parse(ListMode::Spans)?;
    let p = query::readable(&state, &caller.user, &id).await?;
    let (spans, next) = state.store.list_spans(p.id, &filter).await?;
    Ok(Json(SpanPageResponse {
        items: spans
            .iter()
            .map(|s| SpanSummaryResponse::new(s, LIST_TEXT_CHARS))
            .collect(),
        next_cursor: next.as_ref().map(query::cursor_text),
    }))
}

#[utoipa::path(get, path = "/projects/{id}/traces/{trace_id}", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"),
        ("trace_id" = String, Path, description = "32 hex digits")),
    responses((status = 200, body = TraceDetailResponse, description = "The trace as a tree of spans, with annotations"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_trace(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, trace_id)): Path<(String, String)>,
) -> ApiResult<Json<TraceDetailResponse>> {
    let p = query::readable(&state, &caller.user, &id).await?;
    let detail = query::trace(&state, p.id, &trace_id).await?;
    Ok(Json(trace_tree(&p, detail)))
}

/// Builds the trace view's response (the web page renders the same).
pub async fn trace_detail(state: &AppState, p: &Project, trace_id: &str) -> ApiResult<TraceDetailResponse> {
    let detail = query::trace(state, p.id, trace_id).await?;
    Ok(trace_tree(p, detail))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionResponse {
    pub session_id: String,
    pub user_id: Option<String>,
    pub trace_count: i64,
    pub span_count: i64,
    pub start_time: String,
    pub end_time: String,
    pub total_tokens: i64,
    pub error_count: i64,
}

impl From<&SessionSummary> for SessionResponse {
    fn from(s: &SessionSummary) -> Self {
        Self {
            session_id: s.session_id.clone(),
            user_id: s.user_id.clone(),
            trace_count: s.trace_count,
            span_count: s.span_count,
            start_time: rfc3339_ns(s.start_ns),
            end_time: rfc3339_ns(s.end_ns),
            total_tokens: s.total_tokens,
            error_count: s.error_count,
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionPageResponse {
    pub items: Vec<SessionResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SessionListQuery {
    /// Spans started at or after (RFC 3339, date or epoch ms).
    pub from: Option<String>,
    /// Spans started before.
    pub to: Option<String>,
    /// `user.id`.
    pub user: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–1000, default 50.
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/projects/{id}/sessions", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"), SessionListQuery),
    responses((status = 200, body = SessionPageResponse, description = "Most recently active first"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SessionListQuery>,
) -> ApiResult<Json<SessionPageResponse>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=query::MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit: must be from 1 to {}",
            query::MAX_LIMIT
        )));
    }
    let offset = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .ok_or_else(|| ApiError::invalid(format!("cursor: `{c}` is not a cursor from a previous page")))?,
        None => 0,
    };
    let from = q.from.as_deref().map(|t| query::instant("from", t)).transpose()?;
    let to = q.to.as_deref().map(|t| query::instant("to", t)).transpose()?;
    let p = query::readable(&state, &caller.user, &id).await?;
    let mut sessions = state
        .store
        .sessions(
            p.id,
            from.map(ms_to_ns),
            to.map(ms_to_ns),
            q.user.as_deref(),
            offset,
            limit + 1,
        )
        .await?;
    let more = sessions.len() as i64 > limit;
    sessions.truncate(limit as usize);
    Ok(Json(SessionPageResponse {
        items: sessions.iter().map(SessionResponse::from).collect(),
        next_cursor: more.then(|| (offset + limit).to_string()),
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionDetailResponse {
    pub session_id: String,
    pub user_id: Option<String>,
    pub trace_count: usize,
    pub total_tokens: i64,
    pub error_count: i64,
    /// The session's turns, oldest first (at most 1,000).
    pub traces: Vec<TraceSummaryResponse>,
}

#[utoipa::path(get, path = "/projects/{id}/sessions/{session_id}", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"),
        ("session_id" = String, Path, description = "The `session.id` attribute")),
    responses((status = 200, body = SessionDetailResponse), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, session_id)): Path<(String, String)>,
) -> ApiResult<Json<SessionDetailResponse>> {
    let p = query::readable(&state, &caller.user, &id).await?;
    Ok(Json(session_detail(&state, &p, &session_id).await?))
}

/// A session's turns (the web page renders the same).
pub async fn session_detail(state: &AppState, p: &Project, session_id: &str) -> ApiResult<SessionDetailResponse> {
    let filter = SpanFilter {
        mode: ListMode::Traces,
        session: Some(session_id.to_owned()),
        limit: query::MAX_LIMIT,
        ..SpanFilter::default()
    };
    let (mut traces, _) = state.store.list_traces(p.id, &filter).await?;
    if traces.is_empty() {
        return Err(ApiError::not_found(format!(
            "session `{session_id}` has no traces in `{}`",
            p.name
        )));
    }
    traces.reverse();
    Ok(SessionDetailResponse {
        session_id: session_id.to_owned(),
        user_id: traces.iter().find_map(|t| t.root.user_id.clone()),
        trace_count: traces.len(),
        total_tokens: traces.iter().map(|t| t.aggregate.total_tokens).sum(),
        error_count: traces.iter().map(|t| t.aggregate.error_count).sum(),
        traces: traces.iter().map(TraceSummaryResponse::from).collect(),
    })
}

/// Figures of a window or bucket.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FiguresResponse {
    pub span_count: i64,
    /// Requests: root spans, or spans of `kind` when given.
    pub trace_count: i64,
    pub error_count: i64,
    pub error_rate: f64,
    pub span_error_count: i64,
    pub span_error_rate: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// Reported costs plus tokens priced from `telemetry.prices`.
    pub cost_usd: f64,
    /// Human feedback annotations received.
    pub feedback_count: i64,
    pub negative_feedback_count: i64,
    pub negative_feedback_rate: f64,
}

impl From<&WindowStats> for FiguresResponse {
    fn from(s: &WindowStats) -> Self {
        Self {
            span_count: s.span_count,
            trace_count: s.trace_count,
            error_count: s.error_count,
            error_rate: s.error_rate(),
            span_error_count: s.span_error_count,
            span_error_rate: s.span_error_rate(),
            latency_p50_ms: s.latency.quantile_ms(0.50),
            latency_p95_ms: s.latency.quantile_ms(0.95),
            latency_p99_ms: s.latency.quantile_ms(0.99),
            prompt_tokens: s.prompt_tokens,
            completion_tokens: s.completion_tokens,
            total_tokens: s.total_tokens,
            cost_usd: s.cost_usd,
            feedback_count: s.feedback_count,
            negative_feedback_count: s.negative_feedback_count,
            negative_feedback_rate: s.negative_feedback_rate(),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BucketResponse {
    /// Where the bucket starts.
    pub start: String,
    #[serde(flatten)]
    pub figures: FiguresResponse,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelUsageResponse {
    pub model: String,
    /// Tokens of spans that reported no cost of their own.
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    /// No price in `telemetry.prices` for tokens that needed one: its cost is understated.
    pub unpriced: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsResponse {
    pub project_id: String,
    pub from: String,
    pub to: String,
    pub bucket_seconds: i64,
    /// The span kind request-level figures count (absent: root spans).
    pub kind: Option<String>,
    pub total: FiguresResponse,
    pub buckets: Vec<BucketResponse>,
    pub models: Vec<ModelUsageResponse>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsQueryParams {
    /// Window start (RFC 3339, date or epoch ms); default 24 hours before `to`.
    pub from: Option<String>,
    /// Window end; default now.
    pub to: Option<String>,
    /// Bucket width: `5m`, `1h`, `1d` or seconds; default: at most 100 buckets.
    pub bucket: Option<String>,
    /// Count request-level figures over spans of this kind instead of root spans.
    pub kind: Option<String>,
}

/// Statistics as the API answers them (the web page charts the same).
pub async fn stats_response(
    state: &AppState,
    p: &Project,
    window: query::Window,
    kind: Option<SpanKind>,
) -> ApiResult<StatsResponse> {
    let stats = query::statistics(state, p.id, window, kind).await?;
    Ok(StatsResponse {
        project_id: p.id.to_string(),
        from: rfc3339(window.from_ms),
        to: rfc3339(window.to_ms),
        bucket_seconds: window.bucket_ms / 1000,
        kind: kind.map(|k| k.as_str().to_owned()),
        total: FiguresResponse::from(&stats.total),
        buckets: stats
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| BucketResponse {
                start: rfc3339(window.from_ms + i as i64 * window.bucket_ms),
                figures: FiguresResponse::from(b),
            })
            .collect(),
        models: stats
            .models
            .into_iter()
            .map(|(model, m)| ModelUsageResponse {
                model,
                prompt_tokens: m.prompt_tokens,
                completion_tokens: m.completion_tokens,
                cost_usd: m.cost_usd,
                unpriced: m.unpriced,
            })
            .collect(),
    })
}

#[utoipa::path(get, path = "/projects/{id}/telemetry/stats", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"), StatsQueryParams),
    responses((status = 200, body = StatsResponse, description = "Figures per time bucket and in total, and token use per model"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn get_telemetry_stats(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StatsQueryParams>,
) -> ApiResult<Json<StatsResponse>> {
    let window = query::Window::parse(q.from.as_deref(), q.to.as_deref(), q.bucket.as_deref())?;
    let kind = q
        .kind
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(query::span_kind)
        .transpose()?;
    let p = query::readable(&state, &caller.user, &id).await?;
    Ok(Json(stats_response(&state, &p, window, kind).await?))
}

// ---------------------------------------------------------------------------
// Annotations (feedback), in Phoenix's REST shape.
// ---------------------------------------------------------------------------

/// One span annotation, as Phoenix's `POST /v1/span_annotations` takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SpanAnnotationData {
    /// 16 hex digits.
    pub span_id: String,
    /// What is judged, e.g. `user_feedback`, `correctness`.
    pub name: String,
    /// HUMAN, LLM or CODE.
    pub annotator_kind: String,
    #[serde(default)]
    pub result: Option<AnnotationResult>,
    /// A JSON object.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    /// Distinguishes several annotations of one name on one span (e.g. one per user);
    /// posting the same span, name and identifier again updates the annotation.
    #[serde(default)]
    pub identifier: Option<String>,
}

/// One trace annotation, as Phoenix's `POST /v1/trace_annotations` takes it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TraceAnnotationData {
    /// 32 hex digits.
    pub trace_id: String,
    pub name: String,
    pub annotator_kind: String,
    #[serde(default)]
    pub result: Option<AnnotationResult>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub identifier: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SpanAnnotationsRequest {
    pub data: Vec<SpanAnnotationData>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TraceAnnotationsRequest {
    pub data: Vec<TraceAnnotationData>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InsertedAnnotationId {
    /// `ann_…`.
    pub id: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InsertedAnnotationsResponse {
    /// The annotations' ids, in the order sent.
    pub data: Vec<InsertedAnnotationId>,
}

async fn record_annotations(
    state: AppState,
    request: axum::extract::Request,
    to_inputs: impl FnOnce(serde_json::Value) -> ApiResult<Vec<annotation::AnnotationInput>>,
) -> ApiResult<Json<InsertedAnnotationsResponse>> {
    use axum::extract::FromRequest;
    let (mut parts, body) = request.into_parts();
    let meta = RequestMeta::from_parts(&parts.headers, &parts.extensions);
    let sender = crate::telemetry::identify(&state, &mut parts).await?;
    let ApiJson(body) =
        ApiJson::<serde_json::Value>::from_request(axum::extract::Request::from_parts(parts, body), &state).await?;
    let inputs = to_inputs(body)?;
    let ids = annotation::record(&state, &sender, &sender.audit(&meta), inputs, "API").await?;
    Ok(Json(InsertedAnnotationsResponse {
        data: ids
            .into_iter()
            .map(|id| InsertedAnnotationId { id: id.to_string() })
            .collect(),
    }))
}

fn body_as<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> ApiResult<T> {
    serde_json::from_value(body).map_err(|e| ApiError::invalid(format!("the request body does not fit: {e}")))
}

#[utoipa::path(post, path = "/span_annotations", tag = "telemetry", request_body = SpanAnnotationsRequest,
    description = "Record feedback on spans, in Arize Phoenix's shape (also served at `POST /v1/span_annotations`). \
        Upserts on (span, name, identifier). Authenticate with the project's ingest token or a personal token of \
        someone who may write in the span's project. A `sync` query parameter is accepted and ignored: the answer \
        always comes after the annotations are stored.",
    responses((status = 200, body = InsertedAnnotationsResponse, description = "Stored; audited"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody, description = "A span was not found (or may not be annotated by you)")),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn post_span_annotations(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> ApiResult<Json<InsertedAnnotationsResponse>> {
    record_annotations(state, request, |body| {
        let req: SpanAnnotationsRequest = body_as(body)?;
        Ok(req
            .data
            .into_iter()
            .map(|d| {
                let r = d.result.unwrap_or_default();
                annotation::AnnotationInput {
                    span_id: Some(d.span_id),
                    trace_id: None,
                    name: d.name,
                    annotator_kind: d.annotator_kind,
                    label: r.label,
                    score: r.score,
                    explanation: r.explanation,
                    metadata: d.metadata,
                    identifier: d.identifier,
                }
            })
            .collect())
    })
    .await
}

#[utoipa::path(post, path = "/trace_annotations", tag = "telemetry", request_body = TraceAnnotationsRequest,
    description = "Record feedback on whole traces, in Arize Phoenix's shape (also served at \
        `POST /v1/trace_annotations`). Upserts on (trace, name, identifier).",
    responses((status = 200, body = InsertedAnnotationsResponse, description = "Stored; audited"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn post_trace_annotations(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> ApiResult<Json<InsertedAnnotationsResponse>> {
    record_annotations(state, request, |body| {
        let req: TraceAnnotationsRequest = body_as(body)?;
        Ok(req
            .data
            .into_iter()
            .map(|d| {
                let r = d.result.unwrap_or_default();
                annotation::AnnotationInput {
                    span_id: None,
                    trace_id: Some(d.trace_id),
                    name: d.name,
                    annotator_kind: d.annotator_kind,
                    label: r.label,
                    score: r.score,
                    explanation: r.explanation,
                    metadata: d.metadata,
                    identifier: d.identifier,
                }
            })
            .collect())
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnnotationListQuery {
    /// Comma-separated span ids (16 hex digits each).
    pub span_ids: Option<String>,
    pub identifier: Option<String>,
    /// 1–10000, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AnnotationListResponse {
    pub data: Vec<AnnotationResponse>,
}

#[utoipa::path(get, path = "/projects/{id}/annotations", tag = "telemetry",
    params(("id" = String, Path, description = "Project id (`prj_…`) or name"), AnnotationListQuery),
    responses((status = 200, body = AnnotationListResponse, description = "Newest first"),
        (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn list_annotations(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AnnotationListQuery>,
) -> ApiResult<Json<AnnotationListResponse>> {
    let p = project::find(&state, &id).await?;
    let span_ids: Vec<String> = q
        .span_ids
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let limit = q.limit.unwrap_or(100);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::invalid("limit: must be from 1 to 10000"));
    }
    let list = annotation::list(&state, &caller.user, &p, &span_ids, q.identifier.as_deref(), limit).await?;
    Ok(Json(AnnotationListResponse {
        data: list.iter().map(AnnotationResponse::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/annotations/{id}", tag = "telemetry",
    params(("id" = String, Path, description = "`ann_…`")),
    responses((status = 200, body = AnnotationResponse, description = "Deleted; audited"),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody)),
    security(("token" = []), ("basic" = []), ("session" = [])))]
pub async fn delete_annotation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AnnotationResponse>> {
    let a = annotation::delete(&state, &caller.audit(), &caller.user, &id).await?;
    Ok(Json(AnnotationResponse::from(&a)))
}
