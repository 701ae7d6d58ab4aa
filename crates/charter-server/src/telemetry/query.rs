//! Reading traces back: filters parsed at the edge, lists, a trace as a tree,
//! sessions, and statistics per time bucket (the figures charts plot and monitors
//! read).

use std::collections::{BTreeMap, HashMap};

use charter_domain::ProjectId;
use charter_domain::telemetry::stats::WindowStats;
use charter_domain::telemetry::{SpanKind, StatusCode};
use charter_domain::time::{Millis, now_ms, parse_instant};
use charter_store::project::Project;
use charter_store::telemetry::{Annotation, ListMode, SpanCursor, SpanFilter, StatsQuery, StoredSpan};
use charter_store::user::User;

use super::ms_to_ns;
use crate::error::{ApiError, ApiResult};
use crate::governance::project::{Access, require};
use crate::state::AppState;

/// Most rows a list returns at once.
pub const MAX_LIMIT: i64 = 1000;
/// Most time buckets a statistics query may ask for.
pub const MAX_BUCKETS: i64 = 2000;

/// List filters as query-string text (every field optional).
#[derive(Debug, Clone, Default)]
pub struct FilterText {
    pub from: Option<String>,
    pub to: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub model: Option<String>,
    pub session: Option<String>,
    pub user: Option<String>,
    pub name: Option<String>,
    pub trace_id: Option<String>,
    /// `key=value`, repeatable.
    pub attr: Vec<String>,
    /// `key=text`, repeatable.
    pub attr_contains: Vec<String>,
    pub q: Option<String>,
    pub min_latency_ms: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<String>,
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An instant from query text (RFC 3339, a date, or epoch milliseconds).
pub fn instant(field: &str, text: &str) -> ApiResult<Millis> {
    parse_instant(text).map_err(|e| ApiError::invalid(format!("{field}: {e}")))
}

fn pairs(field: &str, items: &[String]) -> ApiResult<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                ApiError::invalid(format!(
                    "{field}: `{item}` must be `key=value`, e.g. `{field}=metadata.topic=refunds`"
                ))
            })?;
            let k = k.trim();
            if k.is_empty() || k.contains('"') {
                return Err(ApiError::invalid(format!("{field}: `{k}` is not an attribute key")));
            }
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// A page cursor as text: `<start_ns>.<trace_id>.<span_id>`.
pub fn cursor_text(c: &SpanCursor) -> String {
    format!("{}.{}.{}", c.start_ns, c.trace_id, c.span_id)
}

fn parse_cursor(text: &str) -> ApiResult<SpanCursor> {
    let bad = || ApiError::invalid(format!("cursor: `{text}` is not a cursor from a previous page"));
    let mut parts = text.split('.');
    let (Some(start), Some(trace), Some(span), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex(trace, 32) || !hex(span, 16) {
        return Err(bad());
    }
    Ok(SpanCursor {
        start_ns: start.parse().map_err(|_| bad())?,
        trace_id: trace.to_owned(),
        span_id: span.to_owned(),
    })
}

/// The span kind named by query text, or an error listing them.
pub fn span_kind(text: &str) -> ApiResult<SpanKind> {
    SpanKind::parse(text).ok_or_else(|| {
        ApiError::invalid(format!(
            "kind: `{text}` is not an OpenInference span kind; use one of {}",
            SpanKind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        ))
    })
}

impl FilterText {
    /// The store filter these describe; each problem names its parameter.
    pub fn parse(&self, mode: ListMode) -> ApiResult<SpanFilter> {
        let limit = match nonempty(&self.limit) {
            Some(l) => l
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| ApiError::invalid(format!("limit: `{l}` must be a number from 1 to {MAX_LIMIT}")))?,
            None => 50,
        };
        let status = nonempty(&self.status)
            .map(|s| {
                StatusCode::parse(s)
                    .ok_or_else(|| ApiError::invalid(format!("status: `{s}` must be OK, ERROR or UNSET")))
            })
            .transpose()?;
        let trace_id = nonempty(&self.trace_id)
            .map(|t| {
                t.parse::<charter_domain::telemetry::TraceId>()
                    .map(|t| t.to_string())
                    .map_err(|e| ApiError::invalid(format!("trace_id: {e}")))
            })
            .transpose()?;
        let min_latency_ms = nonempty(&self.min_latency_ms)
            .map(|m| {
                m.parse::<f64>()
                    .ok()
                    .filter(|m| m.is_finite() && *m >= 0.0)
                    .ok_or_else(|| ApiError::invalid(format!("min_latency_ms: `{m}` must be a number of milliseconds")))
            })
            .transpose()?;
        Ok(SpanFilter {
            mode,
            from_ns: nonempty(&self.from)
                .map(|t| instant("from", t))
                .transpose()?
                .map(ms_to_ns),
            to_ns: nonempty(&self.to).map(|t| instant("to", t)).transpose()?.map(ms_to_ns),
            kind: nonempty(&self.kind)
                .map(span_kind)
                .transpose()?
                .map(|k| k.as_str().to_owned()),
            status: status.map(StatusCode::as_i64),
            model: nonempty(&self.model).map(str::to_owned),
            session: nonempty(&self.session).map(str::to_owned),
            user: nonempty(&self.user).map(str::to_owned),
            trace_id,
            name: nonempty(&self.name).map(str::to_owned),
            attr_equals: pairs("attr", &self.attr)?,
            attr_contains: pairs("attr_contains", &self.attr_contains)?,
            text: nonempty(&self.q).map(str::to_owned),
            min_latency_ms,
            cursor: nonempty(&self.cursor).map(parse_cursor).transpose()?,
            limit,
        })
    }
}

/// The project, checked for the caller's read access.
pub async fn readable(state: &AppState, by: &User, id_or_name: &str) -> ApiResult<Project> {
    let p = crate::governance::project::find(state, id_or_name).await?;
    require(state, by, &p, Access::Read).await?;
    Ok(p)
}

/// A trace: every span, the resources that sent them, and its annotations.
pub struct TraceDetail {
    pub spans: Vec<StoredSpan>,
    pub resources: HashMap<String, String>,
    pub annotations: Vec<Annotation>,
}

/// A trace by id (hex), 404 when the project holds none of its spans.
pub async fn trace(state: &AppState, project: ProjectId, trace_id: &str) -> ApiResult<TraceDetail> {
    let id: charter_domain::telemetry::TraceId = trace_id
        .parse()
        .map_err(|e: charter_domain::telemetry::BadId| ApiError::invalid(format!("trace id: {e}")))?;
    let spans = state.store.trace_spans(project, &id.to_string()).await?;
    if spans.is_empty() {
        return Err(ApiError::not_found(format!("trace {id} not found in this project")));
    }
    let mut hashes: Vec<String> = spans.iter().map(|s| s.resource_hash.clone()).collect();
    hashes.sort();
    hashes.dedup();
    let resources = state.store.resources(&hashes).await?;
    let annotations = state.store.trace_annotations(project, &id.to_string()).await?;
    Ok(TraceDetail {
        spans,
        resources,
        annotations,
    })
}

/// A statistics window: from, to and bucket width, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from_ms: Millis,
    pub to_ms: Millis,
    pub bucket_ms: Millis,
}

/// Bucket widths chosen automatically, smallest first.
const AUTO_BUCKETS: [i64; 8] = [
    60_000,
    300_000,
    900_000,
    3_600_000,
    6 * 3_600_000,
    86_400_000,
    7 * 86_400_000,
    30 * 86_400_000,
];

/// `a / b` rounded up, for positive numbers.
fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b.max(1)
}

/// A bucket width from text: `5m`, `1h`, `1d`, or seconds.
fn bucket_width(text: &str) -> ApiResult<Millis> {
    let t = text.trim();
    let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = n
        .parse()
        .map_err(|_| ApiError::invalid(format!("bucket: `{t}` must be like 5m, 1h, 1d or a number of seconds")))?;
    let unit_ms = match unit {
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(ApiError::invalid(format!(
                "bucket: `{t}` must be like 5m, 1h, 1d or a number of seconds"
            )));
        }
    };
    if n < 1 {
        return Err(ApiError::invalid("bucket: must be at least one second"));
    }
    Ok(n * unit_ms)
}

impl Window {
    /// A window from query text: `from` (default: 24 hours before `to`), `to`
    /// (default: now), `bucket` (default: chosen for at most 100 buckets).
    pub fn parse(from: Option<&str>, to: Option<&str>, bucket: Option<&str>) -> ApiResult<Self> {
        let to_ms = match to.map(str::trim).filter(|s| !s.is_empty()) {
            Some(t) => instant("to", t)?,
            None => now_ms(),
        };
        let from_ms = match from.map(str::trim).filter(|s| !s.is_empty()) {
            Some(f) => instant("from", f)?,
            None => to_ms - 86_400_000,
        };
        if from_ms >= to_ms {
            return Err(ApiError::invalid("from: must be before `to`"));
        }
        let span = to_ms - from_ms;
        let bucket_ms = match bucket.map(str::trim).filter(|s| !s.is_empty()) {
            Some(b) => bucket_width(b)?,
            None => AUTO_BUCKETS
                .iter()
                .copied()
                .find(|b| span / b <= 100)
                .unwrap_or(ceil_div(span, 100).max(1)),
        };
        let buckets = ceil_div(span, bucket_ms);
        if buckets > MAX_BUCKETS {
            return Err(ApiError::invalid(format!(
                "bucket: {buckets} buckets between from and to; at most {MAX_BUCKETS} (make the bucket wider)"
            )));
        }
        Ok(Self {
            from_ms,
            to_ms,
            bucket_ms,
        })
    }

    pub fn buckets(&self) -> i64 {
        ceil_div(self.to_ms - self.from_ms, self.bucket_ms)
    }
}

/// Token use and cost of one model over a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelFigures {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_usd: f64,
    /// Whether the price table had no price for it (its unreported cost is unknown).
    pub unpriced: bool,
}

/// Statistics of a window: per bucket, in total, and per model.
#[derive(Debug, Clone, Default)]
pub struct Statistics {
    pub buckets: Vec<WindowStats>,
    pub total: WindowStats,
    pub models: BTreeMap<String, ModelFigures>,
}

/// Compute statistics for `project` over `window`; request-level figures count
/// spans of `kind` (root spans when `None`).
pub async fn statistics(
    state: &AppState,
    project: ProjectId,
    window: Window,
    kind: Option<SpanKind>,
) -> ApiResult<Statistics> {
    let q = StatsQuery {
        project,
        from_ns: ms_to_ns(window.from_ms),
        to_ns: ms_to_ns(window.to_ms),
        bucket_ns: ms_to_ns(window.bucket_ms),
        kind: kind.map(|k| k.as_str().to_owned()),
    };
    let (rows, usage, feedback) = tokio::try_join!(
        state.store.span_stats(&q),
        state.store.model_usage(&q),
        state
            .store
            .feedback_stats(project, window.from_ms, window.to_ms, window.bucket_ms),
    )?;
    let n = window.buckets().max(1) as usize;
    let mut buckets = vec![WindowStats::default(); n];
    let at = |b: i64| usize::try_from(b).ok().filter(|b| *b < n);
    for r in rows {
        let Some(b) = at(r.bucket) else { continue };
        let s = &mut buckets[b];
        s.span_count += r.spans;
        s.span_error_count += r.errors;
        s.prompt_tokens += r.prompt_tokens;
        s.completion_tokens += r.completion_tokens;
        s.total_tokens += r.total_tokens;
        if r.latency_bucket >= 0 {
            s.trace_count += r.spans;
            s.error_count += r.errors;
            s.latency.add(r.latency_bucket, u64::try_from(r.spans).unwrap_or(0));
        }
    }
    let mut models: BTreeMap<String, ModelFigures> = BTreeMap::new();
    for u in usage {
        let priced = state
            .telemetry
            .prices
            .cost(&u.model, u.unpriced_prompt_tokens, u.unpriced_completion_tokens);
        let cost = u.reported_cost_usd + priced.unwrap_or(0.0);
        if let Some(b) = at(u.bucket) {
            buckets[b].cost_usd += cost;
        }
        let m = models.entry(u.model).or_default();
        m.prompt_tokens += u.unpriced_prompt_tokens;
        m.completion_tokens += u.unpriced_completion_tokens;
        m.cost_usd += cost;
        m.unpriced |= priced.is_none() && (u.unpriced_prompt_tokens + u.unpriced_completion_tokens) > 0;
    }
    for (b, count, negative) in feedback {
        if let Some(b) = at(b) {
            buckets[b].feedback_count += count;
            buckets[b].negative_feedback_count += negative;
        }
    }
    let mut total = WindowStats::default();
    for b in &buckets {
        total.merge(b);
    }
    Ok(Statistics { buckets, total, models })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_choose_a_bucket_or_take_one() {
        let w = Window::parse(Some("0"), Some("86400000"), None).unwrap();
        assert_eq!(w.bucket_ms, 900_000);
        assert_eq!(w.buckets(), 96);
        let w = Window::parse(Some("0"), Some("3600000"), Some("5m")).unwrap();
        assert_eq!((w.bucket_ms, w.buckets()), (300_000, 12));
        assert!(Window::parse(Some("10"), Some("5"), None).is_err());
        assert!(Window::parse(Some("0"), Some("86400000"), Some("1s")).is_err());
        assert!(Window::parse(None, None, Some("1y")).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = SpanCursor {
            start_ns: 42,
            trace_id: "ab".repeat(16),
            span_id: "cd".repeat(8),
        };
        assert_eq!(parse_cursor(&cursor_text(&c)).unwrap(), c);
        assert!(parse_cursor("42.xyz.abc").is_err());
    }

    #[test]
    fn filters_name_their_bad_parameter() {
        let bad = |f: FilterText| f.parse(ListMode::Spans).unwrap_err().message;
        assert!(
            bad(FilterText {
                kind: Some("THINKING".into()),
                ..Default::default()
            })
            .starts_with("kind:")
        );
        assert!(
            bad(FilterText {
                status: Some("meh".into()),
                ..Default::default()
            })
            .starts_with("status:")
        );
        assert!(
            bad(FilterText {
                attr: vec!["nokey".into()],
                ..Default::default()
            })
            .starts_with("attr:")
        );
        assert!(
            bad(FilterText {
                limit: Some("0".into()),
                ..Default::default()
            })
            .starts_with("limit:")
        );
        assert!(
            bad(FilterText {
                from: Some("yesterday".into()),
                ..Default::default()
            })
            .starts_with("from:")
        );
        let ok = FilterText {
            attr: vec!["metadata.topic=a=b".into()],
            kind: Some("llm".into()),
            ..Default::default()
        }
        .parse(ListMode::Traces)
        .unwrap();
        assert_eq!(ok.attr_equals, vec![("metadata.topic".to_owned(), "a=b".to_owned())]);
        assert_eq!(ok.kind.as_deref(), Some("LLM"));
    }
}
