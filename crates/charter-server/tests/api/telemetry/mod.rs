//! LLM telemetry: OTLP ingestion at `/v1/traces`, and the telemetry API under
//! `/api/v1` (tokens, settings, queries, annotations, monitors, evidence).
//!
//! Payloads are built with `opentelemetry-proto`'s types — the same messages any
//! OTLP exporter sends — and encoded as binary protobuf or OTLP/JSON.

mod annotations;
mod ingest;
mod query;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::{Value, json};

use crate::harness::{Auth, TestApp};

/// Nanoseconds in a millisecond.
pub const MS: u64 = 1_000_000;

pub fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.to_owned())),
    }
}

pub fn i(v: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    }
}

pub fn f(v: f64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::DoubleValue(v)),
    }
}

pub fn list(items: &[&str]) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(|x| s(x)).collect(),
        })),
    }
}

pub fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(value),
        ..KeyValue::default()
    }
}

/// A 16-byte trace id made from a number.
pub fn trace_id(n: u64) -> Vec<u8> {
    let mut id = vec![0xab; 8];
    id.extend_from_slice(&n.to_be_bytes());
    id
}

/// An 8-byte span id made from a number.
pub fn span_id(n: u64) -> Vec<u8> {
    (n | (1 << 60)).to_be_bytes().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One chatbot turn as HelpBot traces it: a CHAIN root (session, user, input,
/// output), a RETRIEVER with two documents, and an LLM call with messages and
/// tokens. Starts `start_ms` after the epoch-ish base and lasts `latency_ms`.
pub fn chatbot_turn(n: u64, start_ns: u64, latency_ms: u64, session: &str) -> Vec<Span> {
    let trace = trace_id(n);
    let root = span_id(n * 10);
    let end = start_ns + latency_ms * MS;
    let span = |id: u64, parent: Option<&Vec<u8>>, name: &str, from: u64, to: u64, attrs: Vec<KeyValue>| Span {
        trace_id: trace.clone(),
        span_id: span_id(id),
        parent_span_id: parent.cloned().unwrap_or_default(),
        name: name.to_owned(),
        kind: 1,
        start_time_unix_nano: from,
        end_time_unix_nano: to,
        attributes: attrs,
        status: Some(Status {
            code: 1,
            message: String::new(),
        }),
        ..Span::default()
    };
    vec![
        span(
            n * 10,
            None,
            "chat_turn",
            start_ns,
            end,
            vec![
                kv("openinference.span.kind", s("CHAIN")),
                kv("session.id", s(session)),
                kv("user.id", s("user-7")),
                kv("input.value", s(&format!("What is the refund policy? ({n})"))),
                kv("output.value", s("Refunds are possible within 30 days [1].")),
                kv("metadata", s(r#"{"model_version_id":"mv-17"}"#)),
                kv("tag.tags", list(&["prod", "governed"])),
            ],
        ),
        span(
            n * 10 + 1,
            Some(&root),
            "retrieve",
            start_ns + MS,
            start_ns + 20 * MS,
            vec![
                kv("openinference.span.kind", s("RETRIEVER")),
                kv("input.value", s("refund policy")),
                kv("retrieval.documents.0.document.id", s("expenses/refunds.md")),
                kv("retrieval.documents.0.document.content", s("Refunds within 30 days.")),
                kv("retrieval.documents.0.document.score", f(0.92)),
                kv("retrieval.documents.1.document.id", s("expenses/receipts.md")),
                kv("retrieval.documents.1.document.score", f(0.41)),
            ],
        ),
        span(
            n * 10 + 2,
            Some(&root),
            "ChatCompletion",
            start_ns + 25 * MS,
            end - MS,
            vec![
                kv("openinference.span.kind", s("LLM")),
                kv("llm.model_name", s("gpt-4o-mini")),
                kv("llm.provider", s("openai")),
                kv("llm.input_messages.0.message.role", s("user")),
                kv("llm.input_messages.0.message.content", s("What is the refund policy?")),
                kv("llm.output_messages.0.message.role", s("assistant")),
                kv("llm.output_messages.0.message.content", s("Refunds within 30 days.")),
                kv("llm.token_count.prompt", i(512)),
                kv("llm.token_count.completion", i(40)),
                kv("llm.token_count.total", i(552)),
            ],
        ),
    ]
}

/// A request carrying `spans` from one resource naming `project` (if any).
pub fn request(project: Option<&str>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    let mut attributes = vec![kv("service.name", s("helpbot"))];
    if let Some(p) = project {
        attributes.push(kv("openinference.project.name", s(p)));
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes,
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "charter-tests".into(),
                    version: "1".into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

pub fn protobuf(req: &ExportTraceServiceRequest) -> Vec<u8> {
    req.encode_to_vec()
}

pub fn json_body(req: &ExportTraceServiceRequest) -> Vec<u8> {
    serde_json::to_vec(req).unwrap()
}

/// An answer from `/v1/…`, whose body may be binary protobuf.
#[derive(Debug)]
pub struct OtlpReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
    /// The body as JSON, or `Null`.
    pub json: Value,
    /// The body as (lossy) text, for messages.
    pub text: String,
}

impl OtlpReply {
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(
            self.status, status,
            "answered {} instead of {status}: {}",
            self.status, self.text
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// `POST /v1/traces` with a body, content type and extra headers.
pub async fn post_traces<'a>(
    app: &TestApp,
    auth: impl Into<Auth<'a>>,
    content_type: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> OtlpReply {
    let mut req = auth
        .into()
        .apply(app.client.post(app.url("/v1/traces")))
        .header("content-type", content_type)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = req.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("read the body").to_vec();
    OtlpReply {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    }
}

/// Make a project as the admin (its owner) and an ingest token for it.
pub async fn project_with_token(app: &TestApp, name: &str) -> (Value, String) {
    let project = app
        .post("/projects", &app.admin, &json!({ "name": name }))
        .await
        .expect(201)
        .clone();
    let token = app
        .post(
            &format!("/projects/{name}/ingest-tokens"),
            &app.admin,
            &json!({ "name": "tests" }),
        )
        .await
        .expect(201)["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    (project, token)
}

/// Nanoseconds now, minus a margin so spans are "recent".
pub fn now_ns() -> u64 {
    u64::try_from(charter_domain::time::now_ms()).unwrap() * MS
}

/// The telemetry routes that change things, each walked once by the audit-coverage
/// test (`audit_coverage.rs`), which checks that each writes its audit event.
pub async fn audit_steps(walk: &mut crate::audit_coverage::Walk<'_>) {
    let app = walk.app;
    let admin = &app.admin;
    app.post("/projects", admin, &json!({ "name": "walk-telemetry" }))
        .await
        .expect(201);
    let body = json!({ "name": "walk" });
    let token = walk
        .step(
            "POST",
            "/projects/{id}/ingest-tokens",
            201,
            "ingest_token.created",
            app.post("/projects/walk-telemetry/ingest-tokens", admin, &body),
        )
        .await
        .json;
    let secret = token["secret"].as_str().unwrap().to_owned();
    let turn = chatbot_turn(1, now_ns(), 100, "s");
    post_traces(
        app,
        Auth::Bearer(&secret),
        "application/x-protobuf",
        &[],
        protobuf(&request(None, turn)),
    )
    .await
    .expect(200);
    let body = json!({ "data": [{ "span_id": hex(&span_id(10)), "name": "user_feedback", "annotator_kind": "HUMAN",
                                  "result": { "label": "thumbs_up", "score": 1 } }] });
    walk.step(
        "POST",
        "/span_annotations",
        200,
        "annotation.recorded",
        app.post("/span_annotations", admin, &body),
    )
    .await;
    let body = json!({ "data": [{ "trace_id": hex(&trace_id(1)), "name": "resolved", "annotator_kind": "CODE" }] });
    let recorded = walk
        .step(
            "POST",
            "/trace_annotations",
            200,
            "annotation.recorded",
            app.post("/trace_annotations", admin, &body),
        )
        .await
        .json;
    let path = format!("/annotations/{}", recorded["data"][0]["id"].as_str().unwrap());
    walk.step(
        "DELETE",
        "/annotations/{id}",
        200,
        "annotation.deleted",
        app.delete(&path, admin),
    )
    .await;
    let path = format!(
        "/projects/walk-telemetry/ingest-tokens/{}",
        token["id"].as_str().unwrap()
    );
    walk.step(
        "DELETE",
        "/projects/{id}/ingest-tokens/{token_id}",
        200,
        "ingest_token.revoked",
        app.delete(&path, admin),
    )
    .await;
    let body = json!({ "retention_days": 7 });
    walk.step(
        "PUT",
        "/projects/{id}/telemetry/settings",
        200,
        "telemetry.settings_changed",
        app.call(
            reqwest::Method::PUT,
            "/projects/walk-telemetry/telemetry/settings",
            admin,
            Some(&body),
        ),
    )
    .await;
}
