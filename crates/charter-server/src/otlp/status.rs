//! OTLP/HTTP answers: `ExportTraceServiceResponse` on success (with
//! `partial_success` when spans were refused), and a `google.rpc.Status` body on
//! failure — both in the encoding the request used, as the spec requires.
//!
//! `google.rpc.Status` and `BadRequest` are not in `opentelemetry-proto`; they are
//! declared here with `prost`'s derive (the same code `prost-build` generates from
//! `google/rpc/status.proto` and `error_details.proto`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;

/// How a request's body is encoded, and so how its answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<RpcAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub struct RpcAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.BadRequest`.
#[derive(Clone, PartialEq, Message)]
pub struct BadRequest {
    #[prost(message, repeated, tag = "1")]
    pub field_violations: Vec<FieldViolation>,
}

/// `google.rpc.BadRequest.FieldViolation`.
#[derive(Clone, PartialEq, Message)]
pub struct FieldViolation {
    #[prost(string, tag = "1")]
    pub field: String,
    #[prost(string, tag = "2")]
    pub description: String,
}

const BAD_REQUEST_TYPE: &str = "type.googleapis.com/google.rpc.BadRequest";

/// gRPC codes used in `Status.code`.
pub mod code {
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const NOT_FOUND: i32 = 5;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// A refused export: HTTP status, gRPC code, a sentence saying what was wrong,
/// optionally the field, and `Retry-After` for 429/503.
#[derive(Debug, Clone)]
pub struct OtlpError {
    pub status: StatusCode,
    pub code: i32,
    pub message: String,
    pub field: Option<String>,
    pub retry_after: Option<u64>,
}

impl OtlpError {
    pub fn new(status: StatusCode, code: i32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 400: the payload cannot be used (not retried).
    pub fn bad_data(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT, message)
        }
    }

    /// 503 with `Retry-After` (retried by exporters).
    pub fn unavailable(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code::UNAVAILABLE, message)
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code::UNAUTHENTICATED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code::PERMISSION_DENIED, message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::RESOURCE_EXHAUSTED,
            format!(
                "the request body is larger than {limit} bytes (after decompression); send smaller batches, \
                 or an operator can raise telemetry.max_body_bytes"
            ),
        )
    }

    pub fn status(&self) -> RpcStatus {
        let details = self
            .field
            .as_ref()
            .map(|field| {
                vec![RpcAny {
                    type_url: BAD_REQUEST_TYPE.to_owned(),
                    value: BadRequest {
                        field_violations: vec![FieldViolation {
                            field: field.clone(),
                            description: self.message.clone(),
                        }],
                    }
                    .encode_to_vec(),
                }]
            })
            .unwrap_or_default();
        RpcStatus {
            code: self.code,
            message: self.message.clone(),
            details,
        }
    }

    /// The answer in `encoding`.
    pub fn into_response_as(self, encoding: Encoding) -> Response {
        let body = match encoding {
            Encoding::Protobuf => self.status().encode_to_vec(),
            Encoding::Json => {
                let details: Vec<serde_json::Value> = self
                    .field
                    .iter()
                    .map(|field| {
                        serde_json::json!({
                            "@type": BAD_REQUEST_TYPE,
                            "fieldViolations": [{ "field": field, "description": self.message }],
                        })
                    })
                    .collect();
                serde_json::to_vec(&serde_json::json!({
                    "code": self.code, "message": self.message, "details": details,
                }))
                .unwrap_or_default()
            }
        };
        let mut response = (self.status, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// 200 with `ExportTraceServiceResponse`: empty on full success, `partial_success`
/// naming how many spans were refused and why otherwise.
pub fn success(encoding: Encoding, rejected: i64, message: &str) -> Response {
    let partial = (rejected > 0 || !message.is_empty()).then(|| ExportTracePartialSuccess {
        rejected_spans: rejected,
        error_message: message.to_owned(),
    });
    let body = match (encoding, &partial) {
        (Encoding::Protobuf, _) => ExportTraceServiceResponse {
            partial_success: partial.clone(),
        }
        .encode_to_vec(),
        // The spec's empty JSON answer is `{}`.
        (Encoding::Json, None) => b"{}".to_vec(),
        (Encoding::Json, Some(p)) => serde_json::to_vec(&serde_json::json!({
            "partialSuccess": { "rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message }
        }))
        .unwrap_or_default(),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_data_carries_a_bad_request_detail_that_decodes() {
        let e = OtlpError::bad_data("resourceSpans[0].scopeSpans[0].spans[1].traceId", "not 16 bytes");
        let decoded = RpcStatus::decode(e.status().encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.code, code::INVALID_ARGUMENT);
        assert_eq!(decoded.details[0].type_url, BAD_REQUEST_TYPE);
        let br = BadRequest::decode(decoded.details[0].value.as_slice()).unwrap();
        assert_eq!(
            br.field_violations[0].field,
            "resourceSpans[0].scopeSpans[0].spans[1].traceId"
        );
    }
}
