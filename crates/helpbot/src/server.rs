//! The web app: the chat page at `/`, `POST /api/chat` (JSON, or server-sent events
//! with `stream: true`), `POST /api/feedback`, `GET /kb/{path}` (a cited article),
//! `GET /health`, and the page's CSS and script.

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc::unbounded_channel;

use crate::charter::{Feedback, FeedbackSink, GateDecision};
use crate::chat::{ChatRequest, Engine, StreamEvent};
use crate::model::Serving;

/// What the handlers share.
pub struct AppState {
    pub engine: Engine,
    pub feedback: FeedbackSink,
    /// The start-up gate decision, when Charter was asked.
    pub gate: Option<GateReport>,
    /// Why the trace destination would refuse HelpBot's traces, found at start-up.
    pub telemetry_problem: Option<String>,
    pub charter_url: Option<String>,
    pub environment: String,
    pub index: IndexReport,
}

/// The gate as `/health` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub project: String,
    pub decision: Option<GateDecision>,
    /// Why the gate could not be asked, if it could not.
    pub error: Option<String>,
}

/// How the index was obtained.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub source: crate::retrieval::IndexSource,
    pub path: Option<String>,
    pub build_ms: f64,
}

type Shared = Arc<AppState>;

/// The router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(page_chat))
        .route("/api/chat", post(post_chat))
        .route("/api/feedback", post(post_feedback))
        .route("/kb/{*path}", get(page_article))
        .route("/health", get(get_health))
        .route("/static/{file}", get(get_asset))
        .with_state(state)
}

/// The error shape: `{"error":{"code","message"}}`, like Charter's.
fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message.into()}})),
    )
        .into_response()
}

const CSS: &str = include_str!("../static/helpbot.css");
const JS: &str = include_str!("../static/helpbot.js");

/// Short content hash of the assets, appended to their URLs.
fn asset_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(CSS);
        h.update(JS);
        hex::encode(h.finalize())[..10].to_owned()
    })
}

async fn get_asset(Path(file): Path<String>) -> Response {
    let (body, ty) = match file.as_str() {
        "helpbot.css" => (CSS, "text/css; charset=utf-8"),
        "helpbot.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return error(StatusCode::NOT_FOUND, "not_found", format!("no asset `{file}`")),
    };
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage<'a> {
    v: &'a str,
    serving: &'a Serving,
    max_chars: usize,
}

async fn page_chat(State(state): State<Shared>) -> Response {
    let page = ChatPage {
        v: asset_version(),
        serving: &state.engine.serving,
        max_chars: state.engine.config.guardrails.max_input_chars,
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("template: {e}")),
    }
}

struct SectionView {
    anchor: String,
    heading: String,
    blocks: Vec<String>,
}

#[derive(Template)]
#[template(path = "article.html")]
struct ArticlePage<'a> {
    v: &'a str,
    path: &'a str,
    title: &'a str,
    sections: Vec<SectionView>,
    highlight: String,
}

#[derive(Deserialize)]
struct ArticleQuery {
    heading: Option<String>,
}

async fn page_article(
    State(state): State<Shared>,
    Path(path): Path<String>,
    Query(q): Query<ArticleQuery>,
) -> Response {
    let kb = state.engine.retriever.kb();
    let Some(article) = kb.article(&path) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no article `{path}` in the knowledge base"),
        );
    };
    let sections = article
        .sections
        .iter()
        .enumerate()
        .map(|(i, s)| SectionView {
            anchor: format!("s{i}"),
            heading: s.heading.clone(),
            blocks: s.blocks.clone(),
        })
        .collect();
    let page = ArticlePage {
        v: asset_version(),
        path: &article.path,
        title: &article.title,
        sections,
        highlight: q.heading.unwrap_or_default(),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("template: {e}")),
    }
}

/// `POST /api/chat` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatBody {
    pub message: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            format!("request body: {e} (expected {{\"message\": \"…\", \"session_id\"?: \"…\", \"stream\"?: true}})"),
        ))
    })
}

async fn post_chat(State(state): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let req: ChatBody = match parse_json(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    let wants_stream = req.stream.unwrap_or_else(|| {
        headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/event-stream"))
    });
    // Behind an authenticating proxy the user comes from its header.
    let user_id = req.user_id.or_else(|| {
        ["x-forwarded-user", "remote-user", "x-auth-request-user"]
            .iter()
            .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()).map(str::to_owned))
    });
    let chat = ChatRequest {
        message: req.message,
        session_id: req.session_id,
        user_id,
    };
    if !wants_stream {
        let resp = state.engine.chat(chat, None).await;
        return Json(resp).into_response();
    }
    Sse::new(stream_chat(state, chat))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn stream_chat(state: Shared, chat: ChatRequest) -> impl Stream<Item = Result<Event, Infallible>> {
    let (tx, mut rx) = unbounded_channel::<StreamEvent>();
    let task = tokio::spawn({
        let state = state.clone();
        async move { state.engine.chat(chat, Some(tx)).await }
    });
    async_stream(move |yield_tx| async move {
        while let Some(ev) = rx.recv().await {
            let event = match ev {
                StreamEvent::Token(t) => Event::default().event("token").data(json!(t).to_string()),
                StreamEvent::Replace(t) => Event::default().event("replace").data(json!(t).to_string()),
            };
            if yield_tx.send(event).is_err() {
                return;
            }
        }
        let done = match task.await {
            Ok(resp) => Event::default()
                .event("done")
                .data(serde_json::to_string(&resp).unwrap_or_default()),
            Err(e) => Event::default()
                .event("error")
                .data(json!({"message": format!("the answer failed: {e}")}).to_string()),
        };
        let _ = yield_tx.send(done);
    })
}

/// A stream fed by a task through a channel (keeps the SSE code free of a macro crate).
fn async_stream<F, Fut>(f: F) -> impl Stream<Item = Result<Event, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::UnboundedSender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = unbounded_channel::<Event>();
    tokio::spawn(f(tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (Ok(e), rx)) })
}

async fn post_feedback(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let f: Feedback = match parse_json(&body) {
        Ok(f) => f,
        Err(resp) => return *resp,
    };
    // Export the answer's span first if the annotation API does not know it yet.
    let flush = || {
        let state = state.clone();
        async move {
            let _ = tokio::task::spawn_blocking(move || state.engine.telemetry.flush()).await;
        }
    };
    match state.feedback.record(&f, flush).await {
        Ok(out) => Json(out).into_response(),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_feedback", e.0),
    }
}

async fn get_health(State(state): State<Shared>) -> Response {
    let e = &state.engine;
    let kb = e.retriever.kb();
    Json(json!({
        "status": "ok",
        "environment": state.environment,
        "model": e.serving,
        "generator": e.generator.as_str(),
        "kb": {
            "dir": kb.dir.display().to_string(),
            "articles": kb.articles.len(),
            "chunks": kb.chunks.len(),
            "manifest_sha256": kb.manifest.sha256,
        },
        "index": state.index,
        "retrieval": {"hybrid_embeddings": e.retriever.embeddings()},
        "telemetry": {"traces_url": e.telemetry.traces_url, "project": e.telemetry.project, "problem": state.telemetry_problem},
        "feedback": {"annotations_url": state.feedback.url.as_ref().map(|u| format!("{}/v1/span_annotations", u.trim_end_matches('/')))},
        "charter": {"url": state.charter_url, "gate": state.gate},
    }))
    .into_response()
}
