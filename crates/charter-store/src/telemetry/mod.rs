//! LLM telemetry storage: spans (with the columns derived from their attributes),
//! the resources that sent them, feedback annotations, project ingest tokens,
//! per-project settings and monitors.
//!
//! Spans are written in batches: one transaction takes every span the receiver has
//! queued (many requests' worth), in multi-row `INSERT … ON CONFLICT DO NOTHING`
//! statements of [`SPANS_PER_STATEMENT`] rows, so a retried export changes nothing
//! and a commit costs one fsync for thousands of spans. Span data is observed
//! data, not a governed change: span writes commit without an audit event, while
//! what governs them — tokens, settings, retention runs, annotations, monitors — is
//! audited.

pub mod annotation;
pub mod monitor;
mod query;
pub mod retention;
pub mod settings;

use std::sync::OnceLock;

use charter_domain::ProjectId;
use charter_domain::time::now_ms;

pub use annotation::{Annotation, AnnotationTarget, NewAnnotation};
pub use monitor::{Monitor, MonitorChange, MonitorEvent, NewMonitor};
pub use query::{
    ListMode, ModelUsage, SessionSummary, SpanCursor, SpanFilter, StatsQuery, StatsRow, StoredSpan, TraceAggregate,
    TraceSummary,
};
pub use retention::RetentionOutcome;
pub use settings::{IngestToken, TelemetrySettings};

use crate::{Store, StoreError};

/// Rows per `INSERT` statement: 35 columns each, well inside SQLite's 32,766 bound
/// parameters and PostgreSQL's 65,535.
pub const SPANS_PER_STATEMENT: usize = 256;

const SPAN_COLUMNS: [&str; 35] = [
    "project_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "span_kind",
    "otel_kind",
    "start_ns",
    "end_ns",
    "latency_ms",
    "latency_bucket",
    "status_code",
    "status_message",
    "model",
    "provider",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "input_value",
    "input_mime",
    "output_value",
    "output_mime",
    "session_id",
    "user_id",
    "documents",
    "attributes",
    "events",
    "links",
    "resource_hash",
    "scope_name",
    "scope_version",
    "trace_state",
    "dropped",
    "ingested_at",
];

/// A span ready to store: ids as hex, derived columns, JSON text for the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub project_id: ProjectId,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub span_kind: &'static str,
    pub otel_kind: i64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub latency_ms: f64,
    pub latency_bucket: i64,
    pub status_code: i64,
    pub status_message: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub input_value: Option<String>,
    pub input_mime: Option<String>,
    pub output_value: Option<String>,
    pub output_mime: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    /// JSON array of documents, when the span retrieved any.
    pub documents: Option<String>,
    /// JSON object of every attribute.
    pub attributes: String,
    pub events: Option<String>,
    pub links: Option<String>,
    pub resource_hash: String,
    pub scope_name: String,
    pub scope_version: String,
    pub trace_state: String,
    /// JSON of non-zero dropped counts (`{"attributes": 3}`), if any.
    pub dropped: Option<String>,
}

/// A resource, stored once per distinct set of attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    /// A hash of `attributes` (the receiver computes it).
    pub hash: String,
    /// JSON object of the resource's attributes.
    pub attributes: String,
}

/// `($1, …, $35), ($36, …)…` for `rows` rows.
fn placeholders(rows: usize) -> String {
    let n = SPAN_COLUMNS.len();
    let mut out = String::with_capacity(rows * n * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..n {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(r * n + c + 1).to_string());
        }
        out.push(')');
    }
    out
}

fn insert_sql(rows: usize) -> String {
    format!(
        "INSERT INTO telemetry_spans ({}) VALUES {} ON CONFLICT (project_id, trace_id, span_id) DO NOTHING",
        SPAN_COLUMNS.join(", "),
        placeholders(rows)
    )
}

/// The full-size statement, built once; statement caches key on the text.
fn full_insert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| insert_sql(SPANS_PER_STATEMENT))
}

impl Store {
    /// Store spans (and the resources they name) in one transaction; returns how
    /// many were new. Spans already stored (same project, trace and span id) are
    /// left as they are, so a retried export is harmless.
    pub async fn insert_spans(
        &self,
        resources: Vec<ResourceRecord>,
        spans: Vec<SpanRecord>,
    ) -> Result<u64, StoreError> {
        if spans.is_empty() && resources.is_empty() {
            return Ok(0);
        }
        let now = now_ms();
        let mut tx = self.begin().await?;
        for r in resources {
            sqlx::query(
                "INSERT INTO telemetry_resources (hash, attributes, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (hash) DO NOTHING",
            )
            .bind(r.hash)
            .bind(r.attributes)
            .bind(now)
            .execute(tx.conn())
            .await?;
        }
        let mut inserted = 0;
        let mut spans = spans.into_iter().peekable();
        while spans.peek().is_some() {
            let chunk: Vec<SpanRecord> = spans.by_ref().take(SPANS_PER_STATEMENT).collect();
            let sql = if chunk.len() == SPANS_PER_STATEMENT {
                full_insert_sql().to_owned()
            } else {
                insert_sql(chunk.len())
            };
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                query = query
                    .bind(s.project_id.to_string())
                    .bind(s.trace_id)
                    .bind(s.span_id)
                    .bind(s.parent_span_id)
                    .bind(s.name)
                    .bind(s.span_kind)
                    .bind(s.otel_kind)
                    .bind(s.start_ns)
                    .bind(s.end_ns)
                    .bind(s.latency_ms)
                    .bind(s.latency_bucket)
                    .bind(s.status_code)
                    .bind(s.status_message)
                    .bind(s.model)
                    .bind(s.provider)
                    .bind(s.prompt_tokens)
                    .bind(s.completion_tokens)
                    .bind(s.total_tokens)
                    .bind(s.cost_usd)
                    .bind(s.input_value)
                    .bind(s.input_mime)
                    .bind(s.output_value)
                    .bind(s.output_mime)
                    .bind(s.session_id)
                    .bind(s.user_id)
                    .bind(s.documents)
                    .bind(s.attributes)
                    .bind(s.events)
                    .bind(s.links)
                    .bind(s.resource_hash)
                    .bind(s.scope_name)
                    .bind(s.scope_version)
                    .bind(s.trace_state)
                    .bind(s.dropped)
                    .bind(now);
            }
            inserted += query.execute(tx.conn()).await?.rows_affected();
        }
        tx.commit_unaudited("spans are observed telemetry, not governed changes; what governs them is audited")
            .await?;
        Ok(inserted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_every_cell() {
        let p = placeholders(2);
        assert!(p.starts_with("($1, $2,"));
        assert!(p.contains("$35), ($36,"));
        assert!(p.ends_with("$70)"));
    }
}
