//! LLM telemetry operations over the store: project settings and ingest tokens,
//! trace queries and statistics, feedback annotations, monitors and their
//! scheduled evaluation, retention, and telemetry evidence for bundles. The JSON
//! API (`api/telemetry.rs`), the OTLP receiver (`otlp/`) and the web pages call
//! these, so a rule holds whichever door a request comes in by.

pub mod annotation;
pub mod query;
pub mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use charter_domain::ProjectId;
use charter_domain::audit::ActorKind;
use charter_domain::telemetry::redact::{RedactionRule, Redactor};
use charter_domain::telemetry::stats::PriceTable;
use charter_domain::telemetry::token::IngestSecret;
use charter_store::telemetry::IngestToken;
use charter_store::{Actor, AuditContext};
use tokio::sync::Semaphore;

use crate::auth::{Caller, MaybeCaller, RequestMeta};
use crate::config::TelemetryConfig;
use crate::error::{ApiError, ApiResult};
use crate::otlp::queue::SpanQueue;
use crate::state::AppState;

/// How long a project's compiled redaction rules are reused before being read
/// again (a change made on another replica takes effect within this).
const REDACTOR_TTL: Duration = Duration::from_secs(5);

/// Telemetry's share of the app state: the span queue, the request limit, the
/// price table and compiled redaction rules.
pub struct TelemetryState {
    pub queue: SpanQueue,
    /// Requests being read and decoded.
    pub inflight: Arc<Semaphore>,
    pub prices: PriceTable,
    redactors: Mutex<HashMap<ProjectId, (Instant, Arc<Redactor>)>>,
}

impl TelemetryState {
    pub fn new(config: &TelemetryConfig) -> Self {
        Self {
            queue: SpanQueue::new(config.queue_spans, config.batch_spans),
            inflight: Arc::new(Semaphore::new(config.max_inflight_requests)),
            prices: PriceTable::new(config.prices.clone()),
            redactors: Mutex::new(HashMap::new()),
        }
    }

    /// Forget a project's compiled rules (after its settings change).
    pub fn forget(&self, project: ProjectId) {
        self.redactors.lock().expect("redactor cache").remove(&project);
    }
}

/// A project's redaction rules, compiled (cached briefly).
pub async fn redactor(state: &AppState, project: ProjectId) -> ApiResult<Arc<Redactor>> {
    if let Some((at, r)) = state.telemetry.redactors.lock().expect("redactor cache").get(&project)
        && at.elapsed() < REDACTOR_TTL
    {
        return Ok(r.clone());
    }
    let settings = state.store.telemetry_settings(project).await?;
    let rules: Vec<RedactionRule> = serde_json::from_str(&settings.redaction).unwrap_or_default();
    let compiled = Redactor::compile(&rules).map_err(|e| {
        // Rules are checked when saved; one that no longer compiles is refused loudly.
        tracing::error!(error = %e, %project, "stored redaction rules do not compile");
        ApiError::unavailable(format!(
            "the project's redaction rules no longer compile ({e}); spans are refused until they are fixed"
        ))
    })?;
    let compiled = Arc::new(compiled);
    state
        .telemetry
        .redactors
        .lock()
        .expect("redactor cache")
        .insert(project, (Instant::now(), compiled.clone()));
    Ok(compiled)
}

/// Nanoseconds from milliseconds.
pub fn ms_to_ns(ms: i64) -> i64 {
    ms.saturating_mul(1_000_000)
}

/// Who sends spans or feedback.
pub enum Sender {
    /// A project ingest token: its project, whatever the data says.
    Token(IngestToken),
    /// A person (personal token, Basic credentials or a session).
    User(Box<Caller>),
    /// Nobody (spans only, and only when `telemetry.allow_anonymous`).
    Anonymous,
}

impl Sender {
    /// The audit context of what this sender does. An ingest token acts as itself:
    /// a system actor named after the token, not a person.
    pub fn audit(&self, meta: &RequestMeta) -> AuditContext {
        match self {
            Sender::User(c) => c.audit(),
            Sender::Token(t) => AuditContext {
                actor: Actor {
                    kind: ActorKind::System,
                    id: t.id.to_string(),
                    name: format!("ingest token `{}`", t.name),
                    token: Some(t.id.to_string()),
                },
                request_id: meta.request_id.clone(),
                client_addr: meta.client_addr.clone(),
            },
            Sender::Anonymous => meta.anonymous("anonymous"),
        }
    }
}

/// An ingest token presented as `Authorization: Bearer chi_…`, or in the
/// Arize-style `api_key` / `x-api-key` headers.
fn presented_ingest_token(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let header_key = ["api_key", "x-api-key"].iter().find_map(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    });
    bearer
        .into_iter()
        .chain(header_key)
        .find(|t| IngestSecret::looks_like(t))
}

/// Identify who sends a request: an ingest token, else whatever the
/// authentication middleware found (a person), else nobody when that is allowed.
pub async fn identify(state: &AppState, parts: &mut Parts) -> ApiResult<Sender> {
    if let Some(presented) = presented_ingest_token(&parts.headers) {
        let bad = || ApiError::unauthenticated("the ingest token is not valid");
        let secret = IngestSecret::parse(&presented).ok_or_else(bad)?;
        let token = state
            .store
            .ingest_token_by_hash(&secret.hash())
            .await?
            .ok_or_else(bad)?;
        if token.revoked_at.is_some() {
            return Err(ApiError::unauthenticated(format!(
                "the ingest token `{}` ({}…) was revoked; create a new one for the project",
                token.name, token.prefix
            )));
        }
        if let Err(e) = state.store.touch_ingest_token(&token).await {
            tracing::warn!(error = %e, "could not record ingest token use");
        }
        return Ok(Sender::Token(token));
    }
    match MaybeCaller::from_request_parts(parts, state).await {
        Ok(MaybeCaller(Some(caller))) => Ok(Sender::User(Box::new(caller))),
        Ok(MaybeCaller(None)) => Ok(Sender::Anonymous),
        Err(e) => Err(ApiError::unauthenticated(e.message)),
    }
}
