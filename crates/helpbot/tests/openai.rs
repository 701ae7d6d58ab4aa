//! The `openai` generator against a local server that speaks the OpenAI-compatible
//! streaming protocol (`POST /v1/chat/completions`, `stream: true`, SSE chunks,
//! `data: [DONE]`). The model name in the request picks the server's behaviour:
//! a good cited answer, no citations, a bad citation, a 500 then success, a 400, a
//! stall past the timeout, a malformed chunk, a stream cut short, "I don't know".

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use helpbot::generate::{self, LlmEndpoint, LlmError, Message, Outcome};
use helpbot::model::{GeneratorKind, GeneratorParams};

#[derive(Default)]
struct Server {
    requests: AtomicUsize,
    last: std::sync::Mutex<Option<(HeaderMap, Value)>>,
}

fn chunk(content: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"id": "c1", "object": "chat.completion.chunk", "model": "test-model", "choices": [{"index": 0, "delta": {"content": content}}]})
    )
}

fn sse(body: String) -> Response {
    ([("content-type", "text/event-stream")], body).into_response()
}

fn answer(pieces: &[&str], usage: bool) -> String {
    let mut body: String = pieces.iter().map(|p| chunk(p)).collect();
    if usage {
        body.push_str(&format!(
            "data: {}\n\n",
            json!({"id": "c1", "choices": [], "usage": {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}})
        ));
    }
    body.push_str("data: [DONE]\n\n");
    body
}

async fn completions(
    State(s): State<Arc<Server>>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let n = s.requests.fetch_add(1, Ordering::SeqCst);
    *s.last.lock().unwrap() = Some((headers, body.clone()));
    assert_eq!(body["stream"], true);
    match body["model"].as_str().unwrap_or("") {
        "good" => sse(answer(
            &["You can reset it ", "yourself at the self-service page [1]", "."],
            true,
        )),
        "no-citation" => sse(answer(&["Just reset it."], false)),
        "bad-citation" => sse(answer(&["Reset it [9]."], false)),
        "dont-know" => sse(answer(&["I don't know; please ask the Service Desk."], false)),
        "flaky" if n == 0 => (StatusCode::INTERNAL_SERVER_ERROR, "upstream hiccup").into_response(),
        "flaky" => sse(answer(&["Reset it [1]."], false)),
        "bad-request" => (
            StatusCode::BAD_REQUEST,
            axum::Json(
                json!({"error": {"message": "model `bad-request` does not exist", "type": "invalid_request_error"}}),
            ),
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            sse(answer(&["late [1]"], false))
        }
        "malformed" => sse(format!("{}data: {{\"choices\": [{{\"delta\": \n\n", chunk("Reset "))),
        "cut" => sse(chunk("Reset it [1]")),
        other => (StatusCode::NOT_FOUND, format!("unknown model {other}")).into_response(),
    }
}

async fn server() -> (String, Arc<Server>) {
    let s = Arc::new(Server::default());
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), s)
}

fn params(model: &str) -> GeneratorParams {
    GeneratorParams {
        kind: GeneratorKind::Openai,
        model: model.into(),
        timeout_secs: 1,
        max_retries: 1,
        backoff_ms: 10,
        ..Default::default()
    }
}

fn endpoint(base: &str) -> LlmEndpoint {
    LlmEndpoint {
        base_url: base.into(),
        api_key: Some("sk-test-123".into()),
        http: reqwest::Client::new(),
    }
}

fn msgs() -> Vec<Message> {
    vec![Message {
        role: "user".into(),
        content: "hi".into(),
    }]
}

#[tokio::test]
async fn streams_pieces_reports_usage_and_sends_the_key() {
    let (base, s) = server().await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let c = generate::complete(&endpoint(&base), &params("good"), &msgs(), Some(&tx))
        .await
        .unwrap();
    drop(tx);
    let mut pieces = Vec::new();
    while let Some(p) = rx.recv().await {
        pieces.push(p);
    }
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces.concat(), c.text);
    assert_eq!(c.text, "You can reset it yourself at the self-service page [1].");
    assert_eq!(
        (c.usage.prompt, c.usage.completion, c.usage.total, c.usage.estimated),
        (321, 12, 333, false)
    );
    assert_eq!(c.model, "test-model");
    let (headers, body) = s.last.lock().unwrap().clone().unwrap();
    assert_eq!(headers["authorization"], "Bearer sk-test-123");
    assert_eq!(body["messages"][0]["content"], "hi");
}

#[tokio::test]
async fn errors_timeouts_and_malformed_chunks_are_named() {
    let (base, s) = server().await;
    let ep = endpoint(&base);

    // A 500 is retried once, then succeeds.
    let c = generate::complete(&ep, &params("flaky"), &msgs(), None).await.unwrap();
    assert_eq!(c.text, "Reset it [1].");
    assert_eq!(s.requests.load(Ordering::SeqCst), 2);
    // Without usage in the stream, tokens are estimated.
    assert!(c.usage.estimated && c.usage.completion > 0);

    // A 400 is not retried, and its message is kept.
    let before = s.requests.load(Ordering::SeqCst);
    let e = generate::complete(&ep, &params("bad-request"), &msgs(), None)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        LlmError::Status {
            status: 400,
            message: "model `bad-request` does not exist".into()
        }
    );
    assert_eq!(s.requests.load(Ordering::SeqCst), before + 1);

    // A stall past the timeout: timed out (after one retry).
    let e = generate::complete(&ep, &params("slow"), &msgs(), None)
        .await
        .unwrap_err();
    assert_eq!(e, LlmError::Timeout { secs: 1 });

    // A chunk that is not JSON.
    let e = generate::complete(&ep, &params("malformed"), &msgs(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Malformed { .. }), "{e:?}");
    // A stream that ends without [DONE].
    let e = generate::complete(&ep, &params("cut"), &msgs(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("[DONE]"), "{e}");

    // Nobody listening.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/v1", l.local_addr().unwrap())
    };
    let e = generate::complete(&endpoint(&dead), &params("good"), &msgs(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Connect { .. }), "{e:?}");
}

async fn engine(base: &str, model: &str) -> (helpbot::chat::Engine, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let kb = Path::new(env!("CARGO_MANIFEST_DIR")).join("kb");
    let mut settings = helpbot::settings::Settings::offline(&kb, data.path());
    settings.generator = Some(GeneratorKind::Openai);
    settings.llm_base_url = Some(base.into());
    settings.llm_model = Some(model.into());
    settings.llm_api_key = Some("sk-test-123".into());
    let (mut config, uri) = settings.local_config().unwrap();
    config.generator.timeout_secs = 1;
    config.generator.max_retries = 0;
    let chosen = helpbot::settings::local_serving(config, uri, "", None);
    let (engine, _) = helpbot::app::build_engine(&settings, chosen, &mut |_, _| {})
        .await
        .unwrap();
    (engine, data)
}

fn ask(q: &str) -> helpbot::chat::ChatRequest {
    helpbot::chat::ChatRequest {
        message: q.into(),
        session_id: Some("s1".into()),
        user_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_uses_the_prompt_template_checks_citations_and_falls_back() {
    let (base, s) = server().await;

    // A good answer: streamed, cited, and the prompt came from the model version,
    // with the question's personal data redacted.
    let (e, _d) = engine(&base, "good").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = e
        .chat(
            ask("I'm jo.bloggs@example.org and I forgot my password. How do I reset it?"),
            Some(tx),
        )
        .await;
    assert_eq!(r.outcome, Outcome::Answered);
    assert_eq!(r.answer, "You can reset it yourself at the self-service page [1].");
    assert!(r.fallback.is_none());
    assert_eq!(r.citations.len(), 1);
    let mut streamed = String::new();
    while let Some(helpbot::chat::StreamEvent::Token(t)) = rx.recv().await {
        streamed.push_str(&t);
    }
    assert_eq!(streamed, r.answer);
    let (_, body) = s.last.lock().unwrap().clone().unwrap();
    assert_eq!(body["model"], "good");
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(system.starts_with("You are HelpBot"), "{system}");
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("[1] Reset your password"), "{user}");
    assert!(user.contains("[EMAIL]") && !user.contains("jo.bloggs"), "{user}");

    // No citation: replaced by the extractive answer, which cites.
    let (e, _d) = engine(&base, "no-citation").await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = e.chat(ask("How do I reset my password?"), Some(tx)).await;
    assert!(
        r.fallback.as_deref().unwrap().contains("cites no passage"),
        "{:?}",
        r.fallback
    );
    assert!(r.answer.contains("[1]") && r.answer != "Just reset it.");
    let mut replaced = false;
    while let Some(ev) = rx.recv().await {
        if let helpbot::chat::StreamEvent::Replace(t) = ev {
            assert_eq!(t, r.answer);
            replaced = true;
        }
    }
    assert!(replaced, "the streamed LLM text was replaced");

    // A citation of a passage that was not given.
    let (e, _d) = engine(&base, "bad-citation").await;
    let r = e.chat(ask("How do I reset my password?"), None).await;
    assert!(r.fallback.as_deref().unwrap().contains("[9]"), "{:?}", r.fallback);

    // The model says it does not know.
    let (e, _d) = engine(&base, "dont-know").await;
    let r = e.chat(ask("How do I reset my password?"), None).await;
    assert_eq!(r.outcome, Outcome::DontKnow);

    // The endpoint times out: the chat still answers, extractively, and says why.
    let (e, _d) = engine(&base, "slow").await;
    let r = e.chat(ask("How do I reset my password?"), None).await;
    assert_eq!(r.outcome, Outcome::Answered);
    assert!(r.fallback.as_deref().unwrap().contains("timed out"), "{:?}", r.fallback);
}
