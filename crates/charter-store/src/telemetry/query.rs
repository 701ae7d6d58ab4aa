//! Reading spans back: filtered span and trace lists (newest first, keyset
//! pagination), a trace's spans, sessions, and statistics grouped by time bucket.

use std::collections::HashMap;

use charter_domain::ProjectId;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Store, StoreError};

/// A stored span, every column.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpan {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub span_kind: String,
    pub otel_kind: i64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub latency_ms: f64,
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
    pub documents: Option<String>,
    pub attributes: String,
    pub events: Option<String>,
    pub links: Option<String>,
    pub resource_hash: String,
    pub scope_name: String,
    pub scope_version: String,
    pub trace_state: String,
    pub dropped: Option<String>,
    pub ingested_at: i64,
}

const COLUMNS: &str = "s.trace_id, s.span_id, s.parent_span_id, s.name, s.span_kind, s.otel_kind, s.start_ns, s.end_ns, \
     s.latency_ms, s.status_code, s.status_message, s.model, s.provider, s.prompt_tokens, s.completion_tokens, \
     s.total_tokens, s.cost_usd, s.input_value, s.input_mime, s.output_value, s.output_mime, s.session_id, s.user_id, \
     s.documents, s.attributes, s.events, s.links, s.resource_hash, s.scope_name, s.scope_version, s.trace_state, \
     s.dropped, s.ingested_at";

/// Columns of a list row: everything but the bulky attribute, event, link and
/// document JSON.
const LIST_COLUMNS: &str = "s.trace_id, s.span_id, s.parent_span_id, s.name, s.span_kind, s.otel_kind, s.start_ns, \
     s.end_ns, s.latency_ms, s.status_code, s.status_message, s.model, s.provider, s.prompt_tokens, \
     s.completion_tokens, s.total_tokens, s.cost_usd, s.input_value, s.input_mime, s.output_value, s.output_mime, \
     s.session_id, s.user_id, NULL, '{}', NULL, NULL, s.resource_hash, s.scope_name, s.scope_version, \
     s.trace_state, NULL, s.ingested_at";

fn from_row(r: &AnyRow) -> Result<StoredSpan, StoreError> {
    Ok(StoredSpan {
        trace_id: r.try_get(0)?,
        span_id: r.try_get(1)?,
        parent_span_id: r.try_get(2)?,
        name: r.try_get(3)?,
        span_kind: r.try_get(4)?,
        otel_kind: r.try_get(5)?,
        start_ns: r.try_get(6)?,
        end_ns: r.try_get(7)?,
        latency_ms: r.try_get(8)?,
        status_code: r.try_get(9)?,
        status_message: r.try_get(10)?,
        model: r.try_get(11)?,
        provider: r.try_get(12)?,
        prompt_tokens: r.try_get(13)?,
        completion_tokens: r.try_get(14)?,
        total_tokens: r.try_get(15)?,
        cost_usd: r.try_get(16)?,
        input_value: r.try_get(17)?,
        input_mime: r.try_get(18)?,
        output_value: r.try_get(19)?,
        output_mime: r.try_get(20)?,
        session_id: r.try_get(21)?,
        user_id: r.try_get(22)?,
        documents: r.try_get(23)?,
        attributes: r.try_get(24)?,
        events: r.try_get(25)?,
        links: r.try_get(26)?,
        resource_hash: r.try_get(27)?,
        scope_name: r.try_get(28)?,
        scope_version: r.try_get(29)?,
        trace_state: r.try_get(30)?,
        dropped: r.try_get(31)?,
        ingested_at: r.try_get(32)?,
    })
}

/// Where a page ends: the last row's start time and ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanCursor {
    pub start_ns: i64,
    pub trace_id: String,
    pub span_id: String,
}

/// Spans, or traces (their root spans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListMode {
    #[default]
    Spans,
    /// Root spans; kind, model and an ERROR status match any span of the trace.
    Traces,
}

/// What to list. Every condition must hold.
#[derive(Debug, Clone, Default)]
pub struct SpanFilter {
    pub mode: ListMode,
    /// Start time at or after, in nanoseconds.
    pub from_ns: Option<i64>,
    /// Start time before, in nanoseconds.
    pub to_ns: Option<i64>,
    pub kind: Option<String>,
    pub status: Option<i64>,
    pub model: Option<String>,
    pub session: Option<String>,
    pub user: Option<String>,
    pub trace_id: Option<String>,
    pub name: Option<String>,
    /// Attribute `key` has exactly this text (numbers as written, booleans `true`/`false`).
    pub attr_equals: Vec<(String, String)>,
    /// Attribute `key` contains this text, ignoring case.
    pub attr_contains: Vec<(String, String)>,
    /// Name, input or output contains this text, ignoring case.
    pub text: Option<String>,
    pub min_latency_ms: Option<f64>,
    pub cursor: Option<SpanCursor>,
    pub limit: i64,
}

enum Arg {
    Text(String),
    Int(i64),
    Float(f64),
}

#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.args.len())
    }

    fn query(&self) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text.clone()));
        for a in &self.args {
            q = match a {
                Arg::Text(t) => q.bind(t.clone()),
                Arg::Int(i) => q.bind(*i),
                Arg::Float(f) => q.bind(*f),
            };
        }
        q
    }
}

/// `text` for a `LIKE` pattern: wildcards and the escape character escaped.
fn like_escape(text: &str) -> String {
    text.to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    /// An attribute's value as text, per backend (booleans read `true`/`false` on both).
    fn attr_text(&self, sql: &mut Sql, key: &str) -> String {
        match self.backend {
            Backend::Sqlite => {
                let path = sql.arg(Arg::Text(format!("$.\"{}\"", key.replace('"', ""))));
                format!(
                    "(CASE json_type(s.attributes, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' \
                     ELSE CAST(json_extract(s.attributes, {path}) AS TEXT) END)"
                )
            }
            Backend::Postgres => {
                let k = sql.arg(Arg::Text(key.to_owned()));
                format!("(s.attributes::jsonb ->> {k})")
            }
        }
    }

    fn where_clause(&self, project: ProjectId, f: &SpanFilter, sql: &mut Sql) -> String {
        let mut cond = vec![format!("s.project_id = {}", sql.arg(Arg::Text(project.to_string())))];
        let traces = f.mode == ListMode::Traces;
        if traces {
            cond.push("s.parent_span_id IS NULL".into());
        }
        let exists = |col_cond: String| {
            format!(
                "EXISTS (SELECT 1 FROM telemetry_spans c WHERE c.project_id = s.project_id AND c.trace_id = s.trace_id AND {col_cond})"
            )
        };
        if let Some(v) = f.from_ns {
            cond.push(format!("s.start_ns >= {}", sql.arg(Arg::Int(v))));
        }
        if let Some(v) = f.to_ns {
            cond.push(format!("s.start_ns < {}", sql.arg(Arg::Int(v))));
        }
        if let Some(v) = &f.kind {
            let p = sql.arg(Arg::Text(v.clone()));
            cond.push(if traces {
                exists(format!("c.span_kind = {p}"))
            } else {
                format!("s.span_kind = {p}")
            });
        }
        if let Some(v) = f.status {
            let p = sql.arg(Arg::Int(v));
            cond.push(if traces && v == 2 {
                exists(format!("c.status_code = {p}"))
            } else {
                format!("s.status_code = {p}")
            });
        }
        if let Some(v) = &f.model {
            let p = sql.arg(Arg::Text(v.clone()));
            cond.push(if traces {
                exists(format!("c.model = {p}"))
            } else {
                format!("s.model = {p}")
            });
        }
        if let Some(v) = &f.session {
            cond.push(format!("s.session_id = {}", sql.arg(Arg::Text(v.clone()))));
        }
        if let Some(v) = &f.user {
            cond.push(format!("s.user_id = {}", sql.arg(Arg::Text(v.clone()))));
        }
        if let Some(v) = &f.trace_id {
            cond.push(format!("s.trace_id = {}", sql.arg(Arg::Text(v.clone()))));
        }
        if let Some(v) = &f.name {
            cond.push(format!("s.name = {}", sql.arg(Arg::Text(v.clone()))));
        }
        if let Some(v) = f.min_latency_ms {
            cond.push(format!("s.latency_ms > {}", sql.arg(Arg::Float(v))));
        }
        for (k, v) in &f.attr_equals {
            let expr = self.attr_text(sql, k);
            cond.push(format!("{expr} = {}", sql.arg(Arg::Text(v.clone()))));
        }
        for (k, v) in &f.attr_contains {
            let expr = self.attr_text(sql, k);
            let p = sql.arg(Arg::Text(format!("%{}%", like_escape(v))));
            cond.push(format!("LOWER({expr}) LIKE {p} ESCAPE '\\'"));
        }
        if let Some(t) = &f.text {
            let p = sql.arg(Arg::Text(format!("%{}%", like_escape(t))));
            cond.push(format!(
                "(LOWER(s.name) LIKE {p} ESCAPE '\\' OR LOWER(s.input_value) LIKE {p} ESCAPE '\\' \
                 OR LOWER(s.output_value) LIKE {p} ESCAPE '\\')"
            ));
        }
        if let Some(c) = &f.cursor {
            let t = sql.arg(Arg::Int(c.start_ns));
            let tr = sql.arg(Arg::Text(c.trace_id.clone()));
            let sp = sql.arg(Arg::Text(c.span_id.clone()));
            cond.push(format!(
                "(s.start_ns < {t} OR (s.start_ns = {t} AND (s.trace_id < {tr} OR (s.trace_id = {tr} AND s.span_id < {sp}))))"
            ));
        }
        cond.join(" AND ")
    }

    /// Spans (or root spans, for traces) matching `filter`, newest first, without
    /// their attribute/event/link/document JSON. Returns one page and, when more
    /// match, the cursor of the next.
    pub async fn list_spans(
        &self,
        project: ProjectId,
        filter: &SpanFilter,
    ) -> Result<(Vec<StoredSpan>, Option<SpanCursor>), StoreError> {
        let limit = filter.limit.clamp(1, 1000);
        let mut sql = Sql::default();
        let cond = self.where_clause(project, filter, &mut sql);
        let lim = sql.arg(Arg::Int(limit + 1));
        sql.text = format!(
            "SELECT {LIST_COLUMNS} FROM telemetry_spans s WHERE {cond} \
             ORDER BY s.start_ns DESC, s.trace_id DESC, s.span_id DESC LIMIT {lim}"
        );
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut spans = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        let next = if spans.len() as i64 > limit {
            spans.truncate(limit as usize);
            spans.last().map(|s| SpanCursor {
                start_ns: s.start_ns,
                trace_id: s.trace_id.clone(),
                span_id: s.span_id.clone(),
            })
        } else {
            None
        };
        Ok((spans, next))
    }

    /// Per-trace figures for the given traces.
    pub async fn trace_aggregates(
        &self,
        project: ProjectId,
        trace_ids: &[String],
    ) -> Result<HashMap<String, TraceAggregate>, StoreError> {
        let mut out = HashMap::new();
        for chunk in trace_ids.chunks(500) {
            let mut sql = Sql::default();
            let p = sql.arg(Arg::Text(project.to_string()));
            let ids: Vec<String> = chunk.iter().map(|t| sql.arg(Arg::Text(t.clone()))).collect();
            sql.text = format!(
                "SELECT trace_id, COUNT(*), CAST(SUM(CASE WHEN status_code = 2 THEN 1 ELSE 0 END) AS BIGINT), \
                 CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(total_tokens), 0) AS BIGINT), \
                 MIN(start_ns), MAX(end_ns) \
                 FROM telemetry_spans WHERE project_id = {p} AND trace_id IN ({}) GROUP BY trace_id",
                ids.join(", ")
            );
            for r in sql.query().fetch_all(&self.pool).await? {
                let id: String = r.try_get(0)?;
                out.insert(
                    id,
                    TraceAggregate {
                        span_count: r.try_get(1)?,
                        error_count: r.try_get(2)?,
                        prompt_tokens: r.try_get(3)?,
                        completion_tokens: r.try_get(4)?,
                        total_tokens: r.try_get(5)?,
                        start_ns: r.try_get(6)?,
                        end_ns: r.try_get(7)?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Traces matching `filter` (its mode is taken as traces): root spans with
    /// their trace's figures.
    pub async fn list_traces(
        &self,
        project: ProjectId,
        filter: &SpanFilter,
    ) -> Result<(Vec<TraceSummary>, Option<SpanCursor>), StoreError> {
        let filter = SpanFilter {
            mode: ListMode::Traces,
            ..filter.clone()
        };
        let (roots, next) = self.list_spans(project, &filter).await?;
        let ids: Vec<String> = roots.iter().map(|r| r.trace_id.clone()).collect();
        let mut aggregates = self.trace_aggregates(project, &ids).await?;
        let traces = roots
            .into_iter()
            .map(|root| {
                let aggregate = aggregates.remove(&root.trace_id).unwrap_or_default();
                TraceSummary { root, aggregate }
            })
            .collect();
        Ok((traces, next))
    }

    /// Every span of a trace, by start time.
    pub async fn trace_spans(&self, project: ProjectId, trace_id: &str) -> Result<Vec<StoredSpan>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM telemetry_spans s WHERE s.project_id = $1 AND s.trace_id = $2 \
             ORDER BY s.start_ns, s.span_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project.to_string())
            .bind(trace_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// One span with every column.
    pub async fn span(&self, project: ProjectId, trace_id: &str, span_id: &str) -> Result<StoredSpan, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM telemetry_spans s WHERE s.project_id = $1 AND s.trace_id = $2 AND s.span_id = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project.to_string())
            .bind(trace_id)
            .bind(span_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("span {span_id} of trace {trace_id}")))?;
        from_row(&row)
    }

    /// The projects and traces holding a span with this id (normally one).
    pub async fn locate_span(&self, span_id: &str) -> Result<Vec<(ProjectId, String)>, StoreError> {
        let rows = sqlx::query("SELECT project_id, trace_id FROM telemetry_spans WHERE span_id = $1 LIMIT 10")
            .bind(span_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((crate::decode_id(r.try_get::<String, _>(0)?)?, r.try_get(1)?)))
            .collect()
    }

    /// Whether a project holds a trace.
    pub async fn trace_exists(&self, project: ProjectId, trace_id: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM (SELECT 1 FROM telemetry_spans WHERE project_id = $1 AND trace_id = $2 LIMIT 1) t",
        )
        .bind(project.to_string())
        .bind(trace_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Resources by hash, as JSON text.
    pub async fn resources(&self, hashes: &[String]) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        for chunk in hashes.chunks(500) {
            let mut sql = Sql::default();
            let ps: Vec<String> = chunk.iter().map(|h| sql.arg(Arg::Text(h.clone()))).collect();
            sql.text = format!(
                "SELECT hash, attributes FROM telemetry_resources WHERE hash IN ({})",
                ps.join(", ")
            );
            for r in sql.query().fetch_all(&self.pool).await? {
                out.insert(r.try_get(0)?, r.try_get(1)?);
            }
        }
        Ok(out)
    }

    /// How many spans a project holds.
    pub async fn span_count(&self, project: ProjectId) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM telemetry_spans WHERE project_id = $1")
                .bind(project.to_string())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Sessions (spans grouped by `session.id`), most recently active first.
    pub async fn sessions(
        &self,
        project: ProjectId,
        from_ns: Option<i64>,
        to_ns: Option<i64>,
        user: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<SessionSummary>, StoreError> {
        let mut sql = Sql::default();
        let p = sql.arg(Arg::Text(project.to_string()));
        let mut cond = vec![format!("project_id = {p}"), "session_id IS NOT NULL".to_owned()];
        if let Some(v) = from_ns {
            cond.push(format!("start_ns >= {}", sql.arg(Arg::Int(v))));
        }
        if let Some(v) = to_ns {
            cond.push(format!("start_ns < {}", sql.arg(Arg::Int(v))));
        }
        if let Some(u) = user {
            cond.push(format!("user_id = {}", sql.arg(Arg::Text(u.to_owned()))));
        }
        let lim = sql.arg(Arg::Int(limit.clamp(1, 1000)));
        let off = sql.arg(Arg::Int(offset.max(0)));
        // A session's figures cover every span of its traces, also the spans that
        // do not carry `session.id` themselves (often only the root does).
        sql.text = format!(
            "WITH st AS (SELECT DISTINCT session_id, trace_id FROM telemetry_spans WHERE {}) \
             SELECT st.session_id, COUNT(DISTINCT st.trace_id), COUNT(*), MIN(s.start_ns), MAX(s.end_ns), \
             CAST(COALESCE(SUM(s.total_tokens), 0) AS BIGINT), \
             CAST(SUM(CASE WHEN s.status_code = 2 THEN 1 ELSE 0 END) AS BIGINT), MAX(s.user_id), MAX(s.start_ns) \
             FROM st JOIN telemetry_spans s ON s.project_id = {p} AND s.trace_id = st.trace_id \
             GROUP BY st.session_id ORDER BY MAX(s.start_ns) DESC, st.session_id LIMIT {lim} OFFSET {off}",
            cond.join(" AND ")
        );
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(SessionSummary {
                    session_id: r.try_get(0)?,
                    trace_count: r.try_get(1)?,
                    span_count: r.try_get(2)?,
                    start_ns: r.try_get(3)?,
                    end_ns: r.try_get(4)?,
                    total_tokens: r.try_get(5)?,
                    error_count: r.try_get(6)?,
                    user_id: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Span figures grouped by time bucket (and, for requests, latency bucket):
    /// the raw material of [`WindowStats`](charter_domain::telemetry::stats::WindowStats).
    pub async fn span_stats(&self, q: &StatsQuery) -> Result<Vec<StatsRow>, StoreError> {
        let mut sql = Sql::default();
        let bucket = sql.arg(Arg::Int(q.bucket_ns.max(1)));
        let request = match &q.kind {
            Some(k) => format!("s.span_kind = {}", sql.arg(Arg::Text(k.clone()))),
            None => "s.parent_span_id IS NULL".to_owned(),
        };
        let p = sql.arg(Arg::Text(q.project.to_string()));
        let from = sql.arg(Arg::Int(q.from_ns));
        let to = sql.arg(Arg::Int(q.to_ns));
        sql.text = format!(
            "SELECT (s.start_ns - {from}) / {bucket} AS b, CASE WHEN {request} THEN s.latency_bucket ELSE -1 END AS lb, \
             COUNT(*), CAST(SUM(CASE WHEN s.status_code = 2 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(COALESCE(SUM(s.prompt_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(s.completion_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(s.total_tokens), 0) AS BIGINT) \
             FROM telemetry_spans s WHERE s.project_id = {p} AND s.start_ns >= {from} AND s.start_ns < {to} \
             GROUP BY b, lb"
        );
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(StatsRow {
                    bucket: r.try_get(0)?,
                    latency_bucket: r.try_get(1)?,
                    spans: r.try_get(2)?,
                    errors: r.try_get(3)?,
                    prompt_tokens: r.try_get(4)?,
                    completion_tokens: r.try_get(5)?,
                    total_tokens: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Token use per time bucket and model, with the cost spans reported
    /// themselves: `(bucket, model, prompt, completion, reported cost, spans
    /// without a reported cost' prompt and completion tokens)`.
    pub async fn model_usage(&self, q: &StatsQuery) -> Result<Vec<ModelUsage>, StoreError> {
        let mut sql = Sql::default();
        let bucket = sql.arg(Arg::Int(q.bucket_ns.max(1)));
        let p = sql.arg(Arg::Text(q.project.to_string()));
        let from = sql.arg(Arg::Int(q.from_ns));
        let to = sql.arg(Arg::Int(q.to_ns));
        sql.text = format!(
            "SELECT (start_ns - {from}) / {bucket} AS b, model, \
             CAST(COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN prompt_tokens END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN cost_usd IS NULL THEN completion_tokens END), 0) AS BIGINT), \
             COALESCE(SUM(cost_usd), 0.0) \
             FROM telemetry_spans WHERE project_id = {p} AND start_ns >= {from} AND start_ns < {to} \
             AND model IS NOT NULL GROUP BY b, model"
        );
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(ModelUsage {
                    bucket: r.try_get(0)?,
                    model: r.try_get(1)?,
                    unpriced_prompt_tokens: r.try_get(2)?,
                    unpriced_completion_tokens: r.try_get(3)?,
                    reported_cost_usd: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Human feedback per time bucket: `(bucket, count, negative)`, by when it was given.
    pub async fn feedback_stats(
        &self,
        project: ProjectId,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Vec<(i64, i64, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT (created_at - $2) / $4 AS b, COUNT(*), CAST(SUM(negative) AS BIGINT) FROM telemetry_annotations \
             WHERE project_id = $1 AND created_at >= $2 AND created_at < $3 AND annotator_kind = 'HUMAN' GROUP BY b",
        )
        .bind(project.to_string())
        .bind(from_ms)
        .bind(to_ms)
        .bind(bucket_ms.max(1))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
    }

    /// Distinct models seen in a project (for filter choices), most used first.
    pub async fn models_seen(&self, project: ProjectId) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT model FROM telemetry_spans WHERE project_id = $1 AND model IS NOT NULL \
             GROUP BY model ORDER BY COUNT(*) DESC LIMIT 50",
        )
        .bind(project.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }
}

/// Figures of one trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceAggregate {
    pub span_count: i64,
    pub error_count: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub start_ns: i64,
    pub end_ns: i64,
}

/// A trace in a list: its root span and figures.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    pub root: StoredSpan,
    pub aggregate: TraceAggregate,
}

/// A session in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub session_id: String,
    pub trace_count: i64,
    pub span_count: i64,
    pub start_ns: i64,
    pub end_ns: i64,
    pub total_tokens: i64,
    pub error_count: i64,
    pub user_id: Option<String>,
}

/// Which spans statistics cover, and how they are bucketed.
#[derive(Debug, Clone)]
pub struct StatsQuery {
    pub project: ProjectId,
    pub from_ns: i64,
    pub to_ns: i64,
    pub bucket_ns: i64,
    /// Requests are spans of this kind; root spans when `None`.
    pub kind: Option<String>,
}

/// Spans of one time bucket and one latency bucket (`-1`: not requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRow {
    /// Index of the time bucket from the query's start.
    pub bucket: i64,
    pub latency_bucket: i64,
    pub spans: i64,
    pub errors: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

/// Token use of one model in one time bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelUsage {
    pub bucket: i64,
    pub model: String,
    /// Tokens of spans that reported no cost: priced from the table.
    pub unpriced_prompt_tokens: i64,
    pub unpriced_completion_tokens: i64,
    pub reported_cost_usd: f64,
}
