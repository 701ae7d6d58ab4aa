//! LLM telemetry: spans as Charter understands them, whatever wire they came on.
//!
//! The OTLP receiver (`charter-server/src/otlp`) turns each decoded protobuf or JSON
//! span into a [`Span`] here, checking ids and times on the way; everything after
//! that — redaction ([`redact`]), the OpenInference / OTel GenAI reading of its
//! attributes ([`semconv`]), statistics ([`stats`]), monitor conditions
//! ([`monitor`]) and feedback ([`feedback`]) — is pure code over these types.

pub mod attr;
pub mod feedback;
pub mod monitor;
pub mod redact;
pub mod semconv;
pub mod stats;
pub mod token;

use std::fmt;
use std::str::FromStr;

pub use attr::{AttrValue, Attributes};
pub use semconv::{Derived, Document, Message};

/// A 16-byte trace id, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId([u8; 16]);

/// An 8-byte span id, written as 16 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId([u8; 8]);

/// Why bytes or text are not a trace or span id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadId(pub String);

macro_rules! otel_id {
    ($name:ident, $len:literal, $what:literal) => {
        impl $name {
            /// The id from its bytes: exactly the right length and not all zero (OTLP's
            /// "invalid" id).
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, BadId> {
                let array: [u8; $len] = bytes.try_into().map_err(|_| {
                    BadId(format!(
                        "{} must be {} bytes ({} hex digits), not {}",
                        $what,
                        $len,
                        $len * 2,
                        bytes.len()
                    ))
                })?;
                if array.iter().all(|b| *b == 0) {
                    return Err(BadId(format!("{} is all zeros, which OTLP calls invalid", $what)));
                }
                Ok(Self(array))
            }

            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = BadId;

            /// Hex, either case (OTLP/JSON writes ids as case-insensitive hex).
            fn from_str(s: &str) -> Result<Self, BadId> {
                let bytes = hex::decode(s.trim()).map_err(|_| BadId(format!("{} `{}` is not hex", $what, s.trim())))?;
                Self::from_bytes(&bytes)
            }
        }
    };
}

otel_id!(TraceId, 16, "a trace id");
otel_id!(SpanId, 8, "a span id");

/// OpenInference's `openinference.span.kind`: what a span did in an LLM application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpanKind {
    Llm,
    Embedding,
    Chain,
    Retriever,
    Reranker,
    Tool,
    Agent,
    Guardrail,
    Evaluator,
    Prompt,
    Decision,
    Unknown,
}

impl SpanKind {
    pub const ALL: [SpanKind; 12] = [
        SpanKind::Llm,
        SpanKind::Embedding,
        SpanKind::Chain,
        SpanKind::Retriever,
        SpanKind::Reranker,
        SpanKind::Tool,
        SpanKind::Agent,
        SpanKind::Guardrail,
        SpanKind::Evaluator,
        SpanKind::Prompt,
        SpanKind::Decision,
        SpanKind::Unknown,
    ];

    /// The upper-case name OpenInference writes.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Llm => "LLM",
            SpanKind::Embedding => "EMBEDDING",
            SpanKind::Chain => "CHAIN",
            SpanKind::Retriever => "RETRIEVER",
            SpanKind::Reranker => "RERANKER",
            SpanKind::Tool => "TOOL",
            SpanKind::Agent => "AGENT",
            SpanKind::Guardrail => "GUARDRAIL",
            SpanKind::Evaluator => "EVALUATOR",
            SpanKind::Prompt => "PROMPT",
            SpanKind::Decision => "DECISION",
            SpanKind::Unknown => "UNKNOWN",
        }
    }

    /// A kind by name, in any case (instrumentations differ); `None` for names
    /// OpenInference does not define.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        Self::ALL.into_iter().find(|k| k.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for SpanKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A span's status code (OTLP `Status.code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    Unset,
    Ok,
    Error,
}

impl StatusCode {
    /// From OTLP's integer; values it does not define read as `Unset`.
    pub fn from_otlp(code: i32) -> Self {
        match code {
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => StatusCode::Unset,
        }
    }

    pub fn as_i64(self) -> i64 {
        match self {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "UNSET",
            StatusCode::Ok => "OK",
            StatusCode::Error => "ERROR",
        }
    }

    /// By name (`ok`, `ERROR`, `unset`) or OTLP number.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "UNSET" | "0" => Some(StatusCode::Unset),
            "OK" | "1" => Some(StatusCode::Ok),
            "ERROR" | "2" => Some(StatusCode::Error),
            _ => None,
        }
    }
}

/// An OTel span kind (OTLP `Span.kind`: internal, server, client, producer, consumer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtelKind(pub i32);

impl OtelKind {
    pub fn as_str(self) -> &'static str {
        match self.0 {
            1 => "INTERNAL",
            2 => "SERVER",
            3 => "CLIENT",
            4 => "PRODUCER",
            5 => "CONSUMER",
            _ => "UNSPECIFIED",
        }
    }
}

/// Something that happened during a span (an `exception`, a retry…).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub time_unix_nano: i64,
    pub name: String,
    pub attributes: Attributes,
}

/// A link from a span to another span, possibly in another trace.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanLink {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: String,
    pub attributes: Attributes,
}

/// A span as received, checked at the edge: valid ids, a start time, an end no
/// earlier than the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    pub trace_state: String,
    pub name: String,
    pub otel_kind: OtelKind,
    pub start_unix_nano: i64,
    pub end_unix_nano: i64,
    pub attributes: Attributes,
    pub events: Vec<SpanEvent>,
    pub links: Vec<SpanLink>,
    pub status: StatusCode,
    pub status_message: String,
    /// The instrumentation scope (`openinference.instrumentation.openai`) and its version.
    pub scope_name: String,
    pub scope_version: String,
    pub dropped_attributes_count: u32,
    pub dropped_events_count: u32,
    pub dropped_links_count: u32,
}

/// Why a span was refused; the receiver reports these as OTLP partial success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadSpan(pub String);

/// The raw parts of a span as the wire gave them, before checking.
#[derive(Debug, Clone, Default)]
pub struct RawSpan<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: &'a [u8],
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
}

/// Ids and times of a raw span, checked: `(trace, span, parent, start, end)`.
pub fn check_span(raw: &RawSpan<'_>) -> Result<(TraceId, SpanId, Option<SpanId>, i64, i64), BadSpan> {
    let trace = TraceId::from_bytes(raw.trace_id).map_err(|e| BadSpan(format!("traceId: {e}")))?;
    let span = SpanId::from_bytes(raw.span_id).map_err(|e| BadSpan(format!("spanId: {e}")))?;
    let parent = if raw.parent_span_id.is_empty() || raw.parent_span_id.iter().all(|b| *b == 0) {
        None
    } else {
        Some(SpanId::from_bytes(raw.parent_span_id).map_err(|e| BadSpan(format!("parentSpanId: {e}")))?)
    };
    if raw.start_unix_nano == 0 {
        return Err(BadSpan(format!(
            "span {span} of trace {trace}: startTimeUnixNano is missing"
        )));
    }
    let start = i64::try_from(raw.start_unix_nano)
        .map_err(|_| BadSpan(format!("span {span}: startTimeUnixNano is past the year 2262")))?;
    // A span still open when exported (end 0) is stored as zero-length.
    let end = if raw.end_unix_nano == 0 {
        start
    } else {
        i64::try_from(raw.end_unix_nano)
            .map_err(|_| BadSpan(format!("span {span}: endTimeUnixNano is past the year 2262")))?
    };
    if end < start {
        return Err(BadSpan(format!(
            "span {span} of trace {trace} ends ({end}) before it starts ({start})"
        )));
    }
    Ok((trace, span, parent, start, end))
}

impl Span {
    /// How long the span took, in milliseconds.
    pub fn latency_ms(&self) -> f64 {
        (self.end_unix_nano - self.start_unix_nano) as f64 / 1e6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_hex_in_either_case_and_refuse_the_rest() {
        let t: TraceId = "5B8EFFF798038103D269B633813FC60C".parse().unwrap();
        assert_eq!(t.to_string(), "5b8efff798038103d269b633813fc60c");
        let err = "5b8efff7980381".parse::<TraceId>().unwrap_err();
        assert!(err.0.contains("16 bytes"), "{err}");
        let err = "zz8efff798038103d269b633813fc60c".parse::<TraceId>().unwrap_err();
        assert!(err.0.contains("not hex"), "{err}");
        assert!(
            "0000000000000000"
                .parse::<SpanId>()
                .unwrap_err()
                .0
                .contains("all zeros")
        );
    }

    #[test]
    fn span_kinds_read_in_any_case() {
        assert_eq!(SpanKind::parse("llm"), Some(SpanKind::Llm));
        assert_eq!(SpanKind::parse(" Retriever "), Some(SpanKind::Retriever));
        assert_eq!(SpanKind::parse("thinking"), None);
    }

    #[test]
    fn spans_need_ids_a_start_and_an_end_after_it() {
        let trace = [1u8; 16];
        let span = [2u8; 8];
        let ok = RawSpan {
            trace_id: &trace,
            span_id: &span,
            parent_span_id: &[],
            start_unix_nano: 10,
            end_unix_nano: 20,
        };
        let (_, _, parent, start, end) = check_span(&ok).unwrap();
        assert_eq!((parent, start, end), (None, 10, 20));
        let open = RawSpan {
            end_unix_nano: 0,
            ..ok.clone()
        };
        assert_eq!(check_span(&open).unwrap().4, 10);
        let backwards = RawSpan {
            end_unix_nano: 5,
            ..ok.clone()
        };
        assert!(check_span(&backwards).unwrap_err().0.contains("before it starts"));
        let short = RawSpan {
            span_id: &span[..4],
            ..ok.clone()
        };
        assert!(check_span(&short).unwrap_err().0.starts_with("spanId"));
        let no_start = RawSpan {
            start_unix_nano: 0,
            ..ok
        };
        assert!(check_span(&no_start).unwrap_err().0.contains("startTimeUnixNano"));
    }
}
