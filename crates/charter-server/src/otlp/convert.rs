//! From decoded OTLP messages to rows: ids and times checked by the domain,
//! attributes redacted by the project's rules, then read with OpenInference /
//! GenAI conventions into the derived columns. A span that fails its checks is
//! refused alone (reported as partial success); its neighbours are kept.

use std::sync::Arc;

use charter_domain::ProjectId;
use charter_domain::telemetry::redact::Redactor;
use charter_domain::telemetry::stats::latency_bucket;
use charter_domain::telemetry::{AttrValue, Attributes, RawSpan, SpanId, TraceId, check_span, semconv};
use charter_store::telemetry::{ResourceRecord, SpanRecord};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span as OtlpSpan;
use serde::Serialize;

/// The resource attribute OpenInference names the project with.
pub const PROJECT_ATTRIBUTE: &str = "openinference.project.name";

/// Where one resource's spans go.
#[derive(Debug, Clone)]
pub struct Destination {
    pub project: ProjectId,
    pub redactor: Arc<Redactor>,
}

/// What a request becomes.
#[derive(Debug, Default)]
pub struct Converted {
    pub resources: Vec<ResourceRecord>,
    pub spans: Vec<SpanRecord>,
    /// Spans refused, and why the first one was.
    pub rejected: i64,
    pub first_error: Option<String>,
    /// Matches replaced by redaction rules.
    pub redactions: usize,
}

fn value(v: Option<&AnyValue>) -> AttrValue {
    let Some(v) = v.and_then(|v| v.value.as_ref()) else {
        return AttrValue::Empty;
    };
    match v {
        any_value::Value::StringValue(s) => AttrValue::Str(s.clone()),
        any_value::Value::BoolValue(b) => AttrValue::Bool(*b),
        any_value::Value::IntValue(i) => AttrValue::Int(*i),
        any_value::Value::DoubleValue(d) => AttrValue::Double(*d),
        any_value::Value::ArrayValue(a) => AttrValue::Array(a.values.iter().map(|v| value(Some(v))).collect()),
        any_value::Value::KvlistValue(kv) => AttrValue::Map(
            kv.values
                .iter()
                .map(|kv| (kv.key.clone(), value(kv.value.as_ref())))
                .collect(),
        ),
        any_value::Value::BytesValue(b) => AttrValue::Bytes(b.clone()),
        // A profiles-only reference: meaningless for traces, read as empty.
        any_value::Value::StringValueStrindex(_) => AttrValue::Empty,
    }
}

/// Attributes from OTLP key-values.
pub fn attributes(kvs: &[KeyValue]) -> Attributes {
    Attributes(
        kvs.iter()
            .map(|kv| (kv.key.clone(), value(kv.value.as_ref())))
            .collect(),
    )
}

/// The project each resource names (`openinference.project.name`), in order.
pub fn resource_project_names(req: &ExportTraceServiceRequest) -> Vec<Option<String>> {
    req.resource_spans
        .iter()
        .map(|rs| {
            rs.resource.as_ref().and_then(|r| {
                r.attributes
                    .iter()
                    .find(|kv| kv.key == PROJECT_ATTRIBUTE)
                    .and_then(|kv| value(kv.value.as_ref()).as_str().map(|s| s.trim().to_owned()))
                    .filter(|s| !s.is_empty())
            })
        })
        .collect()
}

/// How many spans a request carries.
pub fn span_count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

#[derive(Serialize)]
struct EventJson<'a> {
    time_unix_nano: i64,
    name: &'a str,
    #[serde(skip_serializing_if = "Attributes::is_empty")]
    attributes: Attributes,
}

#[derive(Serialize)]
struct LinkJson {
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    trace_state: String,
    #[serde(skip_serializing_if = "Attributes::is_empty")]
    attributes: Attributes,
}

/// Convert a request: `destinations[i]` says where resource `i`'s spans go, or why
/// they are refused.
pub fn convert(req: ExportTraceServiceRequest, destinations: &[Result<Destination, String>]) -> Converted {
    let mut out = Converted::default();
    let refuse = |out: &mut Converted, n: i64, why: String| {
        out.rejected += n;
        if out.first_error.is_none() {
            out.first_error = Some(why);
        }
    };
    for (i, rs) in req.resource_spans.into_iter().enumerate() {
        let n: i64 = rs.scope_spans.iter().map(|ss| ss.spans.len() as i64).sum();
        let dest = match destinations.get(i) {
            Some(Ok(d)) => d,
            Some(Err(why)) => {
                refuse(&mut out, n, why.clone());
                continue;
            }
            None => {
                refuse(&mut out, n, "no destination".into());
                continue;
            }
        };
        if n == 0 {
            continue;
        }
        let resource = rs
            .resource
            .as_ref()
            .map(|r| attributes(&r.attributes))
            .unwrap_or_default();
        let resource_json = resource.to_json();
        let hash = blake3::hash(resource_json.as_bytes()).to_hex()[..32].to_owned();
        if !out.resources.iter().any(|r| r.hash == hash) {
            out.resources.push(ResourceRecord {
                hash: hash.clone(),
                attributes: resource_json,
            });
        }
        for (j, ss) in rs.scope_spans.into_iter().enumerate() {
            let (scope_name, scope_version) = ss.scope.map(|s| (s.name, s.version)).unwrap_or_default();
            for (k, span) in ss.spans.into_iter().enumerate() {
                match record(span, dest, &hash, &scope_name, &scope_version, &mut out.redactions) {
                    Ok(r) => out.spans.push(r),
                    Err(why) => refuse(
                        &mut out,
                        1,
                        format!("resourceSpans[{i}].scopeSpans[{j}].spans[{k}]: {why}"),
                    ),
                }
            }
        }
    }
    out
}

fn nonzero_json(pairs: &[(&str, u32)]) -> Option<String> {
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| ((*k).to_owned(), serde_json::Value::from(*n)))
        .collect();
    (!map.is_empty()).then(|| serde_json::Value::Object(map).to_string())
}

fn record(
    span: OtlpSpan,
    dest: &Destination,
    resource_hash: &str,
    scope_name: &str,
    scope_version: &str,
    redactions: &mut usize,
) -> Result<SpanRecord, String> {
    let (trace, span_id, parent, start, end) = check_span(&RawSpan {
        trace_id: &span.trace_id,
        span_id: &span.span_id,
        parent_span_id: &span.parent_span_id,
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
    })
    .map_err(|e| e.0)?;
    let mut attrs = attributes(&span.attributes);
    let mut events: Vec<(i64, String, Attributes)> = span
        .events
        .iter()
        .map(|e| {
            (
                i64::try_from(e.time_unix_nano).unwrap_or(i64::MAX),
                e.name.clone(),
                attributes(&e.attributes),
            )
        })
        .collect();
    if !dest.redactor.is_empty() {
        *redactions += dest.redactor.apply(&mut attrs);
        for (_, _, a) in &mut events {
            *redactions += dest.redactor.apply(a);
        }
    }
    let derived = semconv::derive(&attrs);
    let status = span.status.as_ref();
    let status_code = charter_domain::telemetry::StatusCode::from_otlp(status.map_or(0, |s| s.code));
    let events_json = (!events.is_empty()).then(|| {
        let list: Vec<EventJson<'_>> = events
            .iter()
            .map(|(t, name, a)| EventJson {
                time_unix_nano: *t,
                name,
                attributes: a.clone(),
            })
            .collect();
        serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
    });
    let links = span
        .links
        .iter()
        .filter_map(|l| {
            Some(LinkJson {
                trace_id: TraceId::from_bytes(&l.trace_id).ok()?.to_string(),
                span_id: SpanId::from_bytes(&l.span_id).ok()?.to_string(),
                trace_state: l.trace_state.clone(),
                attributes: attributes(&l.attributes),
            })
        })
        .collect::<Vec<_>>();
    let latency_ms = (end - start) as f64 / 1e6;
    Ok(SpanRecord {
        project_id: dest.project,
        trace_id: trace.to_string(),
        span_id: span_id.to_string(),
        parent_span_id: parent.map(|p| p.to_string()),
        name: span.name,
        span_kind: derived.kind().as_str(),
        otel_kind: i64::from(span.kind),
        start_ns: start,
        end_ns: end,
        latency_ms,
        latency_bucket: latency_bucket(latency_ms),
        status_code: status_code.as_i64(),
        status_message: status.map(|s| s.message.clone()).unwrap_or_default(),
        documents: (!derived.documents.is_empty())
            .then(|| serde_json::to_string(&derived.documents).unwrap_or_else(|_| "[]".into())),
        model: derived.model,
        provider: derived.provider,
        prompt_tokens: derived.prompt_tokens,
        completion_tokens: derived.completion_tokens,
        total_tokens: derived.total_tokens,
        cost_usd: derived.cost_usd,
        input_value: derived.input,
        input_mime: derived.input_mime,
        output_value: derived.output,
        output_mime: derived.output_mime,
        session_id: derived.session_id,
        user_id: derived.user_id,
        attributes: attrs.to_json(),
        events: events_json,
        links: (!links.is_empty()).then(|| serde_json::to_string(&links).unwrap_or_else(|_| "[]".into())),
        resource_hash: resource_hash.to_owned(),
        scope_name: scope_name.to_owned(),
        scope_version: scope_version.to_owned(),
        trace_state: span.trace_state,
        dropped: nonzero_json(&[
            ("attributes", span.dropped_attributes_count),
            ("events", span.dropped_events_count),
            ("links", span.dropped_links_count),
        ]),
    })
}
