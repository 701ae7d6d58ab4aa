//! `POST /v1/traces`: protobuf, JSON and gzip; malformed payloads; idempotent
//! retries; partial success; who may send to which project; back-pressure;
//! redaction before storage.

use std::io::Write as _;

use charter_domain::ProjectId;
use charter_server::Config;
use charter_server::otlp::status::RpcStatus;
use charter_store::telemetry::{SpanFilter, StoredSpan};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::{Value, json};

use super::*;
use crate::harness::{Auth, TestApp};

on_every_backend!(
    protobuf_json_and_gzip_are_stored_and_answered_in_kind,
    malformed_payloads_get_their_status_and_store_nothing(small_bodies),
    retried_exports_store_each_span_once,
    partial_success_names_the_refused_spans,
    senders_are_identified_and_projects_resolved,
    unknown_projects_are_created_when_configured(auto_create),
    anonymous_senders_when_configured(anonymous),
    back_pressure_answers_503_with_retry_after,
    redaction_rules_apply_before_storage,
    other_signals_are_refused_clearly,
);

fn small_bodies(c: &mut Config) {
    c.telemetry.max_body_bytes = 4096;
}

fn auto_create(c: &mut Config) {
    c.telemetry.auto_create_projects = true;
}

fn anonymous(c: &mut Config) {
    c.telemetry.allow_anonymous = true;
}

fn project_id(p: &Value) -> ProjectId {
    p["id"].as_str().unwrap().parse().unwrap()
}

async fn spans(app: &TestApp, p: ProjectId) -> Vec<StoredSpan> {
    let (spans, _) = app
        .state
        .store
        .list_spans(
            p,
            &SpanFilter {
                limit: 1000,
                ..SpanFilter::default()
            },
        )
        .await
        .unwrap();
    spans
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

async fn protobuf_json_and_gzip_are_stored_and_answered_in_kind(app: &TestApp) {
    let (p, token) = project_with_token(app, "helpbot").await;
    let base = now_ns();

    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[],
        protobuf(&request(Some("helpbot"), chatbot_turn(1, base, 700, "sess-42"))),
    )
    .await;
    reply.expect(200);
    assert_eq!(reply.header("content-type"), Some("application/x-protobuf"));
    let answer = ExportTraceServiceResponse::decode(reply.bytes.as_slice()).unwrap();
    assert_eq!(
        answer.partial_success, None,
        "full success leaves partial_success unset"
    );

    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/json; charset=utf-8",
        &[],
        json_body(&request(Some("helpbot"), chatbot_turn(2, base, 300, "sess-42"))),
    )
    .await;
    reply.expect(200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text, "{}");

    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[("content-encoding", "gzip")],
        gzip(&protobuf(&request(
            Some("helpbot"),
            chatbot_turn(3, base, 300, "sess-43"),
        ))),
    )
    .await;
    reply.expect(200);

    let stored = spans(app, project_id(&p)).await;
    assert_eq!(stored.len(), 9);
    let llm = stored
        .iter()
        .find(|s| s.trace_id == hex(&trace_id(1)) && s.span_kind == "LLM")
        .expect("the LLM span of turn 1");
    assert_eq!(llm.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(llm.provider.as_deref(), Some("openai"));
    assert_eq!(
        (llm.prompt_tokens, llm.completion_tokens, llm.total_tokens),
        (Some(512), Some(40), Some(552))
    );
    assert_eq!(llm.parent_span_id.as_deref(), Some(hex(&span_id(10)).as_str()));
    let root = stored
        .iter()
        .find(|s| s.trace_id == hex(&trace_id(1)) && s.parent_span_id.is_none())
        .unwrap();
    assert_eq!(root.span_kind, "CHAIN");
    assert_eq!(root.session_id.as_deref(), Some("sess-42"));
    assert_eq!(root.user_id.as_deref(), Some("user-7"));
    assert_eq!(root.input_value.as_deref(), Some("What is the refund policy? (1)"));
    assert!((root.latency_ms - 700.0).abs() < 1e-6);
    let full = app
        .state
        .store
        .trace_spans(project_id(&p), &hex(&trace_id(1)))
        .await
        .unwrap();
    let retriever = full.iter().find(|s| s.span_kind == "RETRIEVER").unwrap();
    let docs: Value = serde_json::from_str(retriever.documents.as_deref().unwrap()).unwrap();
    assert_eq!(docs[0]["id"], "expenses/refunds.md");
    assert_eq!(docs[0]["score"], 0.92);
    let attrs: Value = serde_json::from_str(&full[0].attributes).unwrap();
    assert_eq!(attrs["tag.tags"], json!(["prod", "governed"]));
    let resources = app
        .state
        .store
        .resources(&[full[0].resource_hash.clone()])
        .await
        .unwrap();
    let resource: Value = serde_json::from_str(&resources[&full[0].resource_hash]).unwrap();
    assert_eq!(resource["service.name"], "helpbot");
}

async fn malformed_payloads_get_their_status_and_store_nothing(app: &TestApp) {
    let (p, token) = project_with_token(app, "helpbot").await;
    let good = protobuf(&request(Some("helpbot"), chatbot_turn(1, now_ns(), 100, "s")));

    // Truncated protobuf: 400 with a google.rpc.Status in protobuf.
    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[],
        good[..good.len() - 7].to_vec(),
    )
    .await;
    reply.expect(400);
    assert_eq!(reply.header("content-type"), Some("application/x-protobuf"));
    let status = RpcStatus::decode(reply.bytes.as_slice()).expect("a protobuf Status");
    assert_eq!(status.code, 3, "INVALID_ARGUMENT");
    assert!(status.message.contains("cut short"), "{}", status.message);

    // OTLP/JSON with an id that is not hex: 400 with a JSON Status.
    let mut bad = serde_json::to_value(request(Some("helpbot"), chatbot_turn(2, now_ns(), 100, "s"))).unwrap();
    bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = json!("zz8efff798038103d269b633813fc60c");
    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/json",
        &[],
        serde_json::to_vec(&bad).unwrap(),
    )
    .await;
    reply.expect(400);
    assert_eq!(reply.json["code"], 3);
    assert!(
        reply.json["message"].as_str().unwrap().contains("not OTLP/JSON"),
        "{}",
        reply.text
    );
    assert_eq!(
        reply.json["details"][0]["@type"],
        "type.googleapis.com/google.rpc.BadRequest"
    );

    // Not an OTLP content type: 415.
    let reply = post_traces(app, Auth::Bearer(&token), "text/plain", &[], good.clone()).await;
    reply.expect(415);
    assert!(
        reply.json["message"]
            .as_str()
            .unwrap()
            .contains("application/x-protobuf")
    );

    // Larger than the limit (4096 bytes here): 413, before or after decompression.
    let big: Vec<_> = (0..60)
        .flat_map(|n| chatbot_turn(100 + n, now_ns(), 100, "s"))
        .collect();
    let big = protobuf(&request(Some("helpbot"), big));
    assert!(big.len() > 4096);
    let reply = post_traces(app, Auth::Bearer(&token), "application/x-protobuf", &[], big.clone()).await;
    reply.expect(413);
    let packed = gzip(&big);
    assert!(
        packed.len() < 4096,
        "gzip packs it under the limit ({} bytes)",
        packed.len()
    );
    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[("content-encoding", "gzip")],
        packed,
    )
    .await;
    reply.expect(413);

    // Broken gzip: 400; an encoding nobody asked us to support: 415.
    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[("content-encoding", "gzip")],
        b"not gzip at all".to_vec(),
    )
    .await;
    reply.expect(400);
    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[("content-encoding", "br")],
        good,
    )
    .await;
    reply.expect(415);

    assert!(spans(app, project_id(&p)).await.is_empty(), "nothing was stored");
}

async fn retried_exports_store_each_span_once(app: &TestApp) {
    let (p, token) = project_with_token(app, "helpbot").await;
    let body = protobuf(&request(Some("helpbot"), chatbot_turn(1, now_ns(), 100, "s")));
    for _ in 0..3 {
        post_traces(app, Auth::Bearer(&token), "application/x-protobuf", &[], body.clone())
            .await
            .expect(200);
    }
    assert_eq!(spans(app, project_id(&p)).await.len(), 3);
}

async fn partial_success_names_the_refused_spans(app: &TestApp) {
    let (p, token) = project_with_token(app, "helpbot").await;
    let mut turn = chatbot_turn(1, now_ns(), 100, "s");
    turn[2].span_id = vec![1, 2, 3, 4];
    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[],
        protobuf(&request(Some("helpbot"), turn.clone())),
    )
    .await;
    reply.expect(200);
    let answer = ExportTraceServiceResponse::decode(reply.bytes.as_slice()).unwrap();
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(
        partial.error_message.contains("spans[2]") && partial.error_message.contains("spanId"),
        "{}",
        partial.error_message
    );
    assert_eq!(spans(app, project_id(&p)).await.len(), 2);

    // The same in OTLP/JSON.
    let mut turn = chatbot_turn(2, now_ns(), 100, "s");
    turn[1].end_time_unix_nano = turn[1].start_time_unix_nano - 1;
    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/json",
        &[],
        json_body(&request(Some("helpbot"), turn)),
    )
    .await;
    reply.expect(200);
    assert_eq!(reply.json["partialSuccess"]["rejectedSpans"], "1");
    assert!(
        reply.json["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("before it starts"),
        "{}",
        reply.text
    );
}

async fn senders_are_identified_and_projects_resolved(app: &TestApp) {
    let (p, token) = project_with_token(app, "helpbot").await;
    let (other, _) = project_with_token(app, "elsewhere").await;
    let body = |n: u64, project: Option<&str>| protobuf(&request(project, chatbot_turn(n, now_ns(), 100, "s")));

    // Nobody: 401, saying what to send.
    let reply = post_traces(app, Auth::Anonymous, "application/json", &[], b"{}".to_vec()).await;
    reply.expect(401);
    assert!(
        reply.json["message"].as_str().unwrap().contains("chi_"),
        "{}",
        reply.text
    );
    let reply = post_traces(
        app,
        Auth::Bearer(&format!("chi_{}", "0".repeat(64))),
        "application/json",
        &[],
        b"{}".to_vec(),
    )
    .await;
    reply.expect(401);

    // An ingest token decides the project, whatever the resource says.
    post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[],
        body(1, Some("elsewhere")),
    )
    .await
    .expect(200);
    assert_eq!(spans(app, project_id(&p)).await.len(), 3);
    assert!(spans(app, project_id(&other)).await.is_empty());
    // Arize-style `api_key` header.
    post_traces(
        app,
        Auth::Anonymous,
        "application/x-protobuf",
        &[("api_key", &token)],
        body(2, None),
    )
    .await
    .expect(200);
    assert_eq!(spans(app, project_id(&p)).await.len(), 6);

    // A person's token: the header, then the resource attribute, name the project.
    post_traces(
        app,
        &app.admin,
        "application/x-protobuf",
        &[("x-project-name", "elsewhere")],
        body(3, Some("helpbot")),
    )
    .await
    .expect(200);
    assert_eq!(spans(app, project_id(&other)).await.len(), 3);
    let reply = post_traces(app, &app.admin, "application/x-protobuf", &[], body(4, None)).await;
    reply.expect(400);
    assert!(reply.text.contains("name no project"), "{}", reply.text);
    let reply = post_traces(app, &app.admin, "application/x-protobuf", &[], body(5, Some("nowhere"))).await;
    reply.expect(404);
    assert!(
        reply.text.contains("project `nowhere` does not exist"),
        "{}",
        reply.text
    );

    // Someone who is not a member of the project may not write to it.
    let stranger = app.user("stranger", charter_domain::Role::Practitioner).await;
    let reply = post_traces(app, &stranger, "application/x-protobuf", &[], body(6, Some("helpbot"))).await;
    reply.expect(403);
    assert!(reply.text.contains("helpbot"), "{}", reply.text);

    // A revoked token stops working, and says so.
    let tokens = app.get("/projects/helpbot/ingest-tokens", &app.admin).await;
    let id = tokens.expect(200)[0]["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/projects/helpbot/ingest-tokens/{id}"), &app.admin)
        .await
        .expect(200);
    let reply = post_traces(app, Auth::Bearer(&token), "application/x-protobuf", &[], body(7, None)).await;
    reply.expect(401);
    assert!(reply.text.contains("was revoked"), "{}", reply.text);
    let actions: Vec<String> = app.events().await.into_iter().map(|e| e.action).collect();
    assert!(actions.contains(&"ingest_token.created".to_owned()));
    assert!(actions.contains(&"ingest_token.revoked".to_owned()));
}

async fn unknown_projects_are_created_when_configured(app: &TestApp) {
    let body = protobuf(&request(Some("brand-new"), chatbot_turn(1, now_ns(), 100, "s")));
    post_traces(app, &app.admin, "application/x-protobuf", &[], body)
        .await
        .expect(200);
    let p = app.get("/projects/brand-new", &app.admin).await.expect(200).clone();
    assert_eq!(spans(app, project_id(&p)).await.len(), 3);
    let created = app.last_event("project.created").await;
    assert!(created.payload.contains("brand-new"));
}

async fn anonymous_senders_when_configured(app: &TestApp) {
    let (p, _) = project_with_token(app, "helpbot").await;
    let body = protobuf(&request(None, chatbot_turn(1, now_ns(), 100, "s")));
    post_traces(
        app,
        Auth::Anonymous,
        "application/x-protobuf",
        &[("x-project-name", "helpbot")],
        body.clone(),
    )
    .await
    .expect(200);
    assert_eq!(spans(app, project_id(&p)).await.len(), 3);
    // Still no inventing projects for nobody.
    let reply = post_traces(
        app,
        Auth::Anonymous,
        "application/x-protobuf",
        &[("x-project-name", "ghost")],
        body,
    )
    .await;
    reply.expect(404);
}

async fn back_pressure_answers_503_with_retry_after(app: &TestApp) {
    let (p, token) = project_with_token(app, "helpbot").await;
    let body = protobuf(&request(None, chatbot_turn(1, now_ns(), 100, "s")));

    // Every request slot busy.
    let slots = app.state.config.telemetry.max_inflight_requests as u32;
    let held = app
        .state
        .telemetry
        .inflight
        .clone()
        .try_acquire_many_owned(slots)
        .unwrap();
    let reply = post_traces(app, Auth::Bearer(&token), "application/x-protobuf", &[], body.clone()).await;
    reply.expect(503);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(
        RpcStatus::decode(reply.bytes.as_slice()).unwrap().code,
        14,
        "UNAVAILABLE"
    );
    drop(held);

    // The span queue full.
    let capacity = app.state.telemetry.queue.capacity() as u32;
    let backlog = app.state.telemetry.queue.reserve(capacity).unwrap();
    let reply = post_traces(
        app,
        Auth::Bearer(&token),
        "application/json",
        &[],
        json_body(&request(None, chatbot_turn(1, now_ns(), 100, "s"))),
    )
    .await;
    reply.expect(503);
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        reply.json["message"].as_str().unwrap().contains("queue is full"),
        "{}",
        reply.text
    );
    assert!(spans(app, project_id(&p)).await.is_empty());
    drop(backlog);

    // Room again: the retry goes through.
    post_traces(app, Auth::Bearer(&token), "application/x-protobuf", &[], body)
        .await
        .expect(200);
    assert_eq!(spans(app, project_id(&p)).await.len(), 3);
}

async fn redaction_rules_apply_before_storage(app: &TestApp) {
    let (p, token) = project_with_token(app, "helpbot").await;
    let rules = json!({
        "retention_days": 30,
        "redaction": [
            { "name": "emails", "attributes": ["input.value", "llm.*.message.content"], "preset": "email" },
            { "name": "tickets", "attributes": ["output.value"], "pattern": "TKT-\\d+", "replacement": "TKT-?" },
        ]
    });
    let saved = app
        .call(
            reqwest::Method::PUT,
            "/projects/helpbot/telemetry/settings",
            &app.admin,
            Some(&rules),
        )
        .await;
    assert_eq!(saved.expect(200)["redaction"].as_array().unwrap().len(), 2);
    let changed = app.last_event("telemetry.settings_changed").await;
    assert!(changed.payload.contains("emails"), "{}", changed.payload);

    let mut turn = chatbot_turn(1, now_ns(), 100, "s");
    turn[0]
        .attributes
        .retain(|kv| kv.key != "input.value" && kv.key != "output.value");
    turn[0]
        .attributes
        .push(kv("input.value", s("I am ann@example.com, help")));
    turn[0]
        .attributes
        .push(kv("output.value", s("Opened TKT-4711 for ann@example.com")));
    turn[2].attributes.push(kv(
        "llm.input_messages.1.message.content",
        s("reply to bob@corp.example"),
    ));
    post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[],
        protobuf(&request(None, turn)),
    )
    .await
    .expect(200);
    let stored = app
        .state
        .store
        .trace_spans(project_id(&p), &hex(&trace_id(1)))
        .await
        .unwrap();
    let all: String = stored.iter().map(|s| s.attributes.clone()).collect();
    assert!(
        !all.contains("I am ann@example.com") && !all.contains("bob@corp.example"),
        "{all}"
    );
    assert!(!all.contains("TKT-4711"), "{all}");
    let root = stored.iter().find(|s| s.parent_span_id.is_none()).unwrap();
    assert_eq!(root.input_value.as_deref(), Some("I am [REDACTED:email], help"));
    // Only the rules' attributes are touched: the email in output.value stays.
    assert_eq!(root.output_value.as_deref(), Some("Opened TKT-? for ann@example.com"));

    // A rule that cannot work is refused, naming it, and nothing changes.
    let bad = json!({ "redaction": [ { "name": "broken", "attributes": ["input.value"], "pattern": "(" } ] });
    let reply = app
        .call(
            reqwest::Method::PUT,
            "/projects/helpbot/telemetry/settings",
            &app.admin,
            Some(&bad),
        )
        .await;
    let msg = reply.expect_error(400, "invalid_request");
    assert!(msg.contains("`broken`") && msg.contains("does not compile"), "{msg}");
    let now = app.get("/projects/helpbot/telemetry/settings", &app.admin).await;
    assert_eq!(now.expect(200)["redaction"][0]["name"], "emails");
    assert_eq!(now.json["retention_days"], 30);
}

async fn other_signals_are_refused_clearly(app: &TestApp) {
    let reply = app
        .send(
            app.client
                .post(app.url("/v1/metrics"))
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
    reply.expect(404);
    assert_eq!(reply.json["code"], 5);
    assert!(reply.json["message"].as_str().unwrap().contains("traces only"));
}
