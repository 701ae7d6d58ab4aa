//! LLM telemetry operations over the store: project settings and ingest tokens,
//! trace queries and statistics, feedback annotations, monitors and their
//! scheduled evaluation, retention, and telemetry evidence for bundles. The JSON
//! API (`api/telemetry.rs`), the OTLP receiver (`otlp/`) and the web pages call
//! these, so a rule holds whichever door a request comes in by.

pub mod query;
pub mod settings;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use charter_domain::ProjectId;
use charter_domain::telemetry::redact::{RedactionRule, Redactor};
use charter_domain::telemetry::stats::PriceTable;
use tokio::sync::Semaphore;

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
