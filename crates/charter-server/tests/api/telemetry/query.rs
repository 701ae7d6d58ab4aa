//! Reading traces back through `/api/v1`: trace and span lists with every filter,
//! pages, a trace as a tree, sessions, statistics with cost.

use std::collections::BTreeMap;

use charter_domain::telemetry::stats::Price;
use charter_server::Config;
use serde_json::Value;

use super::*;
use crate::harness::{Auth, TestApp, query};

on_every_backend!(
    trace_lists_filter_and_page,
    a_trace_reads_as_a_tree_with_everything_sent,
    sessions_group_turns,
    statistics_bucket_count_rates_latency_tokens_and_cost(priced),
    telemetry_is_readable_by_members_only,
);

fn priced(c: &mut Config) {
    c.telemetry.prices = BTreeMap::from([(
        "gpt-4o-mini".to_owned(),
        Price {
            input_per_million: 0.15,
            output_per_million: 0.60,
        },
    )]);
}

/// Five turns a second apart, starting ten minutes ago: turn 3 failed, turn 4 was
/// slow (3 s), turns 1–3 are session `sess-a`, 4–5 `sess-b`.
async fn load(app: &TestApp) -> (String, u64) {
    let (_, token) = project_with_token(app, "helpbot").await;
    let base = now_ns() - 600_000 * MS;
    let mut spans = Vec::new();
    for n in 1..=5u64 {
        let session = if n <= 3 { "sess-a" } else { "sess-b" };
        let latency = if n == 4 { 3000 } else { 500 + n * 10 };
        let mut turn = chatbot_turn(n, base + n * 1000 * MS, latency, session);
        if n == 3 {
            turn[2].status = Some(opentelemetry_proto::tonic::trace::v1::Status {
                code: 2,
                message: "rate limited".into(),
            });
        }
        if n == 5 {
            turn[0].attributes.push(kv("metadata.topic", s("Expenses and refunds")));
        }
        spans.extend(turn);
    }
    post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[],
        protobuf(&request(None, spans)),
    )
    .await
    .expect(200);
    (token, base)
}

async fn traces(app: &TestApp, params: &[(&str, &str)]) -> Value {
    app.get(&format!("/projects/helpbot/traces?{}", query(params)), &app.admin)
        .await
        .expect(200)
        .clone()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn trace_lists_filter_and_page(app: &TestApp) {
    let (_, base) = load(app).await;
    let all = traces(app, &[]).await;
    assert_eq!(
        ids(&all),
        (1..=5).rev().map(|n| hex(&trace_id(n))).collect::<Vec<_>>(),
        "newest first"
    );
    let first = &all["items"][4];
    assert_eq!(first["name"], "chat_turn");
    assert_eq!(first["span_kind"], "CHAIN");
    assert_eq!(first["span_count"], 3);
    assert_eq!(first["total_tokens"], 552);
    assert_eq!(first["session_id"], "sess-a");
    assert_eq!(first["input"], "What is the refund policy? (1)");
    assert!(all.get("next_cursor").is_none());

    let one = |params: &'static [(&'static str, &'static str)]| async move { ids(&traces(app, params).await) };
    assert_eq!(
        one(&[("status", "error")]).await,
        vec![hex(&trace_id(3))],
        "an error anywhere in the trace"
    );
    assert_eq!(one(&[("min_latency_ms", "2000")]).await, vec![hex(&trace_id(4))]);
    assert_eq!(one(&[("session", "sess-b")]).await.len(), 2);
    assert_eq!(one(&[("model", "gpt-4o-mini")]).await.len(), 5);
    assert!(one(&[("model", "claude")]).await.is_empty());
    assert_eq!(one(&[("kind", "retriever")]).await.len(), 5);
    assert_eq!(one(&[("attr", "session.id=sess-a")]).await.len(), 3);
    assert_eq!(
        one(&[("attr_contains", "metadata.topic=REFUND")]).await,
        vec![hex(&trace_id(5))]
    );
    assert_eq!(one(&[("q", "policy? (2)")]).await, vec![hex(&trace_id(2))]);
    let from = ((base + 2500 * MS) / MS).to_string();
    let to = ((base + 4500 * MS) / MS).to_string();
    let window = ids(&traces(app, &[("from", &from), ("to", &to)]).await);
    assert_eq!(window, vec![hex(&trace_id(4)), hex(&trace_id(3))]);

    // Pages of two: every trace exactly once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = vec![("limit", "2".to_owned())];
        if let Some(c) = &cursor {
            params.push(("cursor", c.clone()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = traces(app, &params).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ids(&all));

    // Spans: every span, filtered the same way.
    let spans = app
        .get("/projects/helpbot/spans?kind=LLM&status=ERROR", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(spans["items"].as_array().unwrap().len(), 1);
    assert_eq!(spans["items"][0]["status_message"], "rate limited");
    assert_eq!(spans["items"][0]["prompt_tokens"], 512);

    // Bad filters name themselves.
    for (param, value) in [
        ("kind", "THINKING"),
        ("status", "meh"),
        ("limit", "0"),
        ("from", "yesterday"),
        ("attr", "nokey"),
        ("cursor", "junk"),
        ("colour", "red"),
    ] {
        let reply = app
            .get(
                &format!("/projects/helpbot/traces?{}", query(&[(param, value)])),
                &app.admin,
            )
            .await;
        let msg = reply.expect_error(400, "invalid_request");
        assert!(msg.contains(param), "{param}: {msg}");
    }
}

async fn a_trace_reads_as_a_tree_with_everything_sent(app: &TestApp) {
    load(app).await;
    let t = app
        .get(&format!("/projects/helpbot/traces/{}", hex(&trace_id(1))), &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(t["span_count"], 3);
    assert_eq!(t["total_tokens"], 552);
    let roots = t["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 1);
    let root = &roots[0];
    assert_eq!(
        (root["depth"].as_u64(), root["offset_ms"].as_f64()),
        (Some(0), Some(0.0))
    );
    assert_eq!(root["attributes"]["tag.tags"][1], "governed");
    assert_eq!(root["resource"]["service.name"], "helpbot");
    assert_eq!(root["scope_name"], "charter-tests");
    let children = root["children"].as_array().unwrap();
    assert_eq!(
        children
            .iter()
            .map(|c| c["span_kind"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["RETRIEVER", "LLM"],
        "children by start time"
    );
    let retriever = &children[0];
    assert_eq!(retriever["depth"], 1);
    assert_eq!(retriever["offset_ms"], 1.0);
    assert_eq!(retriever["documents"][0]["id"], "expenses/refunds.md");
    assert_eq!(retriever["documents"][0]["score"], 0.92);
    assert_eq!(retriever["documents"][1]["id"], "expenses/receipts.md");
    let llm = &children[1];
    assert_eq!(llm["input_messages"][0]["content"], "What is the refund policy?");
    assert_eq!(llm["output_messages"][0]["role"], "assistant");
    assert_eq!(llm["model"], "gpt-4o-mini");

    let reply = app
        .get(&format!("/projects/helpbot/traces/{}", hex(&trace_id(99))), &app.admin)
        .await;
    reply.expect_error(404, "not_found");
    let reply = app.get("/projects/helpbot/traces/not-hex", &app.admin).await;
    reply.expect_error(400, "invalid_request");
}

async fn sessions_group_turns(app: &TestApp) {
    load(app).await;
    let list = app
        .get("/projects/helpbot/sessions", &app.admin)
        .await
        .expect(200)
        .clone();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["session_id"], "sess-b", "most recently active first");
    assert_eq!(items[0]["trace_count"], 2);
    assert_eq!(items[1]["trace_count"], 3);
    assert_eq!(items[1]["error_count"], 1);
    let page = app
        .get("/projects/helpbot/sessions?limit=1", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(page["next_cursor"], "1");
    let next = app
        .get("/projects/helpbot/sessions?limit=1&cursor=1", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(next["items"][0]["session_id"], "sess-a");

    let detail = app
        .get("/projects/helpbot/sessions/sess-a", &app.admin)
        .await
        .expect(200)
        .clone();
    let turns: Vec<String> = ids(&json!({ "items": detail["traces"] }));
    assert_eq!(
        turns,
        (1..=3).map(|n| hex(&trace_id(n))).collect::<Vec<_>>(),
        "oldest first"
    );
    assert_eq!(detail["user_id"], "user-7");
    app.get("/projects/helpbot/sessions/nope", &app.admin)
        .await
        .expect_error(404, "not_found");
}

async fn statistics_bucket_count_rates_latency_tokens_and_cost(app: &TestApp) {
    let (_, base) = load(app).await;
    let from = (base / MS).to_string();
    let to = ((base + 10_000 * MS) / MS).to_string();
    let stats = app
        .get(
            &format!(
                "/projects/helpbot/telemetry/stats?{}",
                query(&[("from", &from), ("to", &to), ("bucket", "5s")])
            ),
            &app.admin,
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(stats["bucket_seconds"], 5);
    let buckets = stats["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 2);
    // Turns 1–4 start in the first five seconds, turn 5 in the next.
    assert_eq!(
        (buckets[0]["trace_count"].as_i64(), buckets[1]["trace_count"].as_i64()),
        (Some(4), Some(1))
    );
    let total = &stats["total"];
    assert_eq!(total["span_count"], 15);
    assert_eq!(total["trace_count"], 5);
    assert_eq!(total["span_error_count"], 1);
    assert_eq!(total["total_tokens"], 5 * 552);
    let p50 = total["latency_p50_ms"].as_f64().unwrap();
    assert!((p50 - 530.0).abs() / 530.0 < 0.03, "p50 {p50}");
    let p99 = total["latency_p99_ms"].as_f64().unwrap();
    assert!((p99 - 3000.0).abs() / 3000.0 < 0.03, "p99 {p99}");
    // 5 × (512 × 0.15 + 40 × 0.60) / 1e6 USD.
    let cost = total["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - 5.0 * (512.0 * 0.15 + 40.0 * 0.60) / 1e6).abs() < 1e-12,
        "cost {cost}"
    );
    assert_eq!(stats["models"][0]["model"], "gpt-4o-mini");
    assert_eq!(stats["models"][0]["unpriced"], false);

    // LLM spans as the requests: 5 of them, one failed.
    let llm = app
        .get(
            &format!(
                "/projects/helpbot/telemetry/stats?{}",
                query(&[("from", &from), ("to", &to), ("kind", "LLM")])
            ),
            &app.admin,
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(llm["total"]["trace_count"], 5);
    assert_eq!(llm["total"]["error_rate"], 0.2);
    app.get("/projects/helpbot/telemetry/stats?bucket=1y", &app.admin)
        .await
        .expect_error(400, "invalid_request");
}

async fn telemetry_is_readable_by_members_only(app: &TestApp) {
    load(app).await;
    let stranger = app.user("stranger", charter_domain::Role::Practitioner).await;
    for path in [
        "/projects/helpbot/traces",
        "/projects/helpbot/spans",
        "/projects/helpbot/sessions",
        "/projects/helpbot/telemetry/stats",
        "/projects/helpbot/ingest-tokens",
    ] {
        app.get(path, &stranger).await.expect_error(403, "forbidden");
    }
    app.get("/projects/helpbot/traces", Auth::Anonymous)
        .await
        .expect_error(401, "unauthenticated");
}
