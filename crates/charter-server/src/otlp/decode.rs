//! From an HTTP request to an `ExportTraceServiceRequest`: the content type picks
//! the decoder (binary protobuf or OTLP/JSON, both from `opentelemetry-proto`), the
//! content encoding the decompressor (gzip, deflate, none), and the body is capped
//! before and after decompression.

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures::StreamExt;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::status::{Encoding, OtlpError, code};

/// The encoding a request's `Content-Type` names (parameters such as `charset` are
/// ignored); anything else is refused with 415.
pub fn encoding_of(headers: &HeaderMap) -> Result<Encoding, OtlpError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err(OtlpError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::INVALID_ARGUMENT,
            format!(
                "Content-Type `{ct}` is not an OTLP encoding; send `application/x-protobuf` (binary protobuf) or \
                 `application/json` (OTLP/JSON)"
            ),
        )),
    }
}

/// How the body is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Deflate,
}

pub fn compression_of(headers: &HeaderMap) -> Result<Compression, OtlpError> {
    let ce = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ce.as_str() {
        "" | "identity" | "none" => Ok(Compression::None),
        "gzip" | "x-gzip" => Ok(Compression::Gzip),
        "deflate" => Ok(Compression::Deflate),
        other => Err(OtlpError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::INVALID_ARGUMENT,
            format!("Content-Encoding `{other}` is not supported; send gzip, deflate or an uncompressed body"),
        )),
    }
}

/// Read the whole body, refusing (413) once it passes `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, OtlpError> {
    let mut stream = body.into_data_stream();
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| OtlpError::bad_data("body", format!("the request body could not be read: {e}")))?;
        if out.len() + chunk.len() > limit {
            return Err(OtlpError::too_large(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Decompress and decode a body (CPU work: call from a blocking thread).
pub fn decode(
    body: Vec<u8>,
    compression: Compression,
    encoding: Encoding,
    limit: usize,
) -> Result<ExportTraceServiceRequest, OtlpError> {
    let bytes = match compression {
        Compression::None => body,
        Compression::Gzip => inflate(flate2::read::MultiGzDecoder::new(body.as_slice()), limit, "gzip")?,
        Compression::Deflate => inflate(flate2::read::ZlibDecoder::new(body.as_slice()), limit, "deflate")?,
    };
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes.as_slice()).map_err(|e| {
            OtlpError::bad_data(
                "body",
                format!("the body is not a protobuf ExportTraceServiceRequest ({e}); was it cut short?"),
            )
        }),
        Encoding::Json => serde_json::from_slice::<ExportTraceServiceRequest>(&bytes).map_err(|e| {
            OtlpError::bad_data(
                "body",
                format!(
                    "the body is not OTLP/JSON: {e} (ids are hex strings, enums are integers, keys are lowerCamelCase)"
                ),
            )
        }),
    }
}

fn inflate(reader: impl Read, limit: usize, what: &str) -> Result<Vec<u8>, OtlpError> {
    let mut out = Vec::new();
    let read = reader
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| OtlpError::bad_data("body", format!("the {what} body does not decompress: {e}")))?;
    if read > limit {
        return Err(OtlpError::too_large(limit));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn gzip_is_capped_after_decompression() {
        let raw = vec![b'a'; 10_000];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        let packed = gz.finish().unwrap();
        assert!(packed.len() < 1024);
        let err = decode(packed, Compression::Gzip, Encoding::Json, 1024).unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn content_types_are_read_by_their_essence() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, "application/json; charset=utf-8".parse().unwrap());
        assert_eq!(encoding_of(&h).unwrap(), Encoding::Json);
        h.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
        assert_eq!(
            encoding_of(&h).unwrap_err().status,
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn json_edge_cases_decode() {
        for ok in ["{}", r#"{"resourceSpans":[]}"#] {
            decode(ok.as_bytes().to_vec(), Compression::None, Encoding::Json, 1 << 20).unwrap();
        }
        let err = decode(
            b"{\"resourceSpans\":".to_vec(),
            Compression::None,
            Encoding::Json,
            1 << 20,
        )
        .unwrap_err();
        assert!(err.message.contains("not OTLP/JSON"), "{}", err.message);
    }
}
