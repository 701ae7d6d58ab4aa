//! One chat turn, end to end: guardrails (length, PII redaction, prompt injection,
//! out of scope), retrieval, generation and citation checks, each a span under one
//! CHAIN span per request. The web handlers, the evaluation and the benchmarks all
//! call [`Engine::chat`].

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use opentelemetry::{Context, KeyValue};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::generate::{self, Generated, LlmEndpoint, Message, Outcome, Passage};
use crate::guardrail::{self, INJECTION_REFUSAL, OUT_OF_SCOPE_REFUSAL};
use crate::model::{GeneratorKind, ModelConfig, Serving};
use crate::retrieval::Retriever;
use crate::telemetry::{self, Telemetry, oi};

/// Turns of history kept per session for LLM generators.
const HISTORY_TURNS: usize = 3;
/// Sessions remembered at once; the oldest is forgotten beyond this.
const MAX_SESSIONS: usize = 10_000;

/// A question.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatRequest {
    pub message: String,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
}

/// Something streamed while an answer is written.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of the answer.
    Token(String),
    /// The answer so far is withdrawn and replaced (an LLM answer failed its checks).
    Replace(String),
}

/// A cited passage as the page and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct Citation {
    pub n: usize,
    pub path: String,
    pub title: String,
    pub heading: String,
    pub text: String,
    pub score: f32,
}

/// The answer to a question.
#[derive(Debug, Clone, Serialize)]
pub struct ChatResponse {
    pub session_id: String,
    pub answer: String,
    pub outcome: Outcome,
    pub citations: Vec<Citation>,
    /// The CHAIN span of this answer (feedback annotates it).
    pub trace_id: String,
    pub span_id: String,
    /// Which model version answered.
    pub model_version: String,
    pub latency_ms: f64,
    /// Kinds of personal data removed from the question (never the values).
    pub redacted: Vec<&'static str>,
    /// Why an LLM answer was replaced by the extractive one, if it was.
    pub fallback: Option<String>,
    /// Articles retrieved, best first (for evaluation).
    #[serde(skip)]
    pub retrieved: Vec<String>,
    /// Messages sent to a language model (for evaluation's PII check).
    #[serde(skip)]
    pub prompt: Vec<Message>,
    /// Retrieval confidence (the best passage's share of the question's IDF weight).
    pub confidence: f32,
    /// Share of the question's IDF weight made of words the knowledge base knows.
    pub known_share: f32,
    /// The question as written to logs and traces (redacted).
    #[serde(skip)]
    pub logged_question: String,
}

/// Everything a chat turn needs.
pub struct Engine {
    pub config: ModelConfig,
    pub serving: Serving,
    pub retriever: Retriever,
    pub generator: GeneratorKind,
    pub llm: Option<LlmEndpoint>,
    pub telemetry: Telemetry,
    sessions: Mutex<Sessions>,
}

#[derive(Default)]
struct Sessions {
    history: HashMap<String, VecDeque<Message>>,
    order: VecDeque<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("serving", &self.serving).finish()
    }
}

fn kv(k: &'static str, v: impl Into<opentelemetry::Value>) -> KeyValue {
    KeyValue::new(k, v)
}

impl Engine {
    pub fn new(
        config: ModelConfig,
        serving: Serving,
        retriever: Retriever,
        generator: GeneratorKind,
        llm: Option<LlmEndpoint>,
        telemetry: Telemetry,
    ) -> Self {
        Self {
            config,
            serving,
            retriever,
            generator,
            llm,
            telemetry,
            sessions: Mutex::new(Sessions::default()),
        }
    }

    fn guardrail(&self, parent: &Context, name: &str, input: &str) -> Context {
        self.telemetry.start(
            name,
            "GUARDRAIL",
            Some(parent),
            vec![kv(oi::INPUT_VALUE, input.to_owned()), kv(oi::INPUT_MIME, "text/plain")],
        )
    }

    fn guardrail_end(cx: &Context, passed: bool, output: &str, detail: serde_json::Value) {
        telemetry::set(
            cx,
            vec![
                kv(oi::OUTPUT_VALUE, output.to_owned()),
                kv(oi::OUTPUT_MIME, "text/plain"),
                kv("guardrail.passed", passed),
                kv(oi::METADATA, json!({ "passed": passed, "detail": detail }).to_string()),
            ],
        );
        telemetry::end(cx, None);
    }

    fn history(&self, session: &str) -> Vec<Message> {
        let s = self.sessions.lock().expect("sessions lock");
        s.history
            .get(session)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn remember(&self, session: &str, question: &str, answer: &str) {
        let mut s = self.sessions.lock().expect("sessions lock");
        if !s.history.contains_key(session) {
            if s.order.len() >= MAX_SESSIONS
                && let Some(old) = s.order.pop_front()
            {
                s.history.remove(&old);
            }
            s.order.push_back(session.to_owned());
        }
        let h = s.history.entry(session.to_owned()).or_default();
        h.push_back(Message {
            role: "user".into(),
            content: question.to_owned(),
        });
        h.push_back(Message {
            role: "assistant".into(),
            content: answer.to_owned(),
        });
        while h.len() > HISTORY_TURNS * 2 {
            h.pop_front();
        }
    }

    /// Answer one question; pieces of the answer go to `stream` as they are written.
    pub async fn chat(&self, req: ChatRequest, stream: Option<UnboundedSender<StreamEvent>>) -> ChatResponse {
        let started = Instant::now();
        let session_id = req
            .session_id
            .filter(|s| !s.trim().is_empty() && s.len() <= 128)
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let user_id = req
            .user_id
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "anonymous".into());
        let g = &self.config.guardrails;

        // PII is redacted before anything is recorded, including the root span's input.
        let redacted = if g.redact_pii {
            guardrail::redact(&req.message)
        } else {
            guardrail::Redacted {
                text: req.message.clone(),
                found: vec![],
            }
        };
        let question = redacted.text.trim().to_owned();
        let root = self.telemetry.start(
            "helpbot.chat",
            "CHAIN",
            None,
            vec![
                kv(
                    oi::INPUT_VALUE,
                    question.chars().take(g.max_input_chars).collect::<String>(),
                ),
                kv(oi::INPUT_MIME, "text/plain"),
                kv(oi::SESSION_ID, session_id.clone()),
                kv(oi::USER_ID, user_id.clone()),
                kv(
                    oi::METADATA,
                    json!({
                        "model_uri": self.serving.uri,
                        "model_version": self.serving.version,
                        "model_label": self.serving.label,
                        "model_fingerprint": self.serving.fingerprint,
                        "generator": self.generator.as_str(),
                    })
                    .to_string(),
                ),
                kv("helpbot.model.uri", self.serving.uri.clone()),
            ],
        );
        let (trace_id, span_id) = telemetry::ids(&root);
        let mut resp = ChatResponse {
            session_id: session_id.clone(),
            answer: String::new(),
            outcome: Outcome::Answered,
            citations: vec![],
            trace_id,
            span_id,
            model_version: self.serving.display(),
            latency_ms: 0.0,
            redacted: redacted.found.clone(),
            fallback: None,
            retrieved: vec![],
            prompt: vec![],
            logged_question: question.clone(),
            confidence: 0.0,
            known_share: 0.0,
        };

        let outcome = self
            .turn(
                &root,
                &req.message,
                &question,
                &redacted,
                &session_id,
                stream.as_ref(),
                &mut resp,
            )
            .await;
        resp.outcome = outcome;
        if outcome.declined() && resp.answer.is_empty() {
            resp.answer = match outcome {
                Outcome::RefusedInjection => INJECTION_REFUSAL.into(),
                Outcome::RefusedOutOfScope => OUT_OF_SCOPE_REFUSAL.into(),
                Outcome::RefusedTooLong => format!(
                    "Your question is too long: please keep it under {} characters.",
                    g.max_input_chars
                ),
                _ => generate::DONT_KNOW.into(),
            };
            if let Some(tx) = &stream {
                for p in generate::stream_pieces(&resp.answer) {
                    let _ = tx.send(StreamEvent::Token(p));
                }
            }
        }
        if outcome == Outcome::Answered {
            self.remember(&session_id, &question, &resp.answer);
        }
        resp.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        telemetry::set(
            &root,
            vec![
                kv(oi::OUTPUT_VALUE, resp.answer.clone()),
                kv(oi::OUTPUT_MIME, "text/plain"),
                kv("helpbot.outcome", outcome.as_str()),
                kv(
                    oi::TAGS,
                    opentelemetry::Value::Array(vec![opentelemetry::StringValue::from(outcome.as_str())].into()),
                ),
            ],
        );
        telemetry::end(&root, None);
        tracing::info!(
            session = %resp.session_id,
            trace = %resp.trace_id,
            outcome = outcome.as_str(),
            citations = resp.citations.len(),
            latency_ms = format!("{:.1}", resp.latency_ms),
            question = %question.chars().take(200).collect::<String>(),
            "answered"
        );
        resp
    }

    #[expect(clippy::too_many_arguments, reason = "one turn's state, passed once")]
    async fn turn(
        &self,
        root: &Context,
        raw: &str,
        question: &str,
        redacted: &guardrail::Redacted,
        session_id: &str,
        stream: Option<&UnboundedSender<StreamEvent>>,
        resp: &mut ChatResponse,
    ) -> Outcome {
        let g = &self.config.guardrails;

        // 1. Length.
        let cx = self.guardrail(
            root,
            "guardrail.input_length",
            &format!("{} characters", raw.chars().count()),
        );
        let len = raw.chars().count();
        let ok = len <= g.max_input_chars && !question.is_empty();
        Self::guardrail_end(
            &cx,
            ok,
            if ok { "pass" } else { "refuse" },
            json!({"chars": len, "limit": g.max_input_chars}),
        );
        if !ok {
            if question.is_empty() {
                resp.answer = "Please type a question.".into();
                return Outcome::DontKnow;
            }
            return Outcome::RefusedTooLong;
        }

        // 2. PII (already applied; the span records what was found, never the values).
        let cx = self.guardrail(root, "guardrail.pii_redaction", question);
        Self::guardrail_end(
            &cx,
            true,
            question,
            json!({"enabled": g.redact_pii, "found": redacted.found}),
        );

        // 3. Prompt injection.
        let cx = self.guardrail(root, "guardrail.prompt_injection", question);
        let hit = if g.block_injection {
            guardrail::injection(question)
        } else {
            None
        };
        Self::guardrail_end(
            &cx,
            hit.is_none(),
            if hit.is_some() { "refuse" } else { "pass" },
            json!({"enabled": g.block_injection, "pattern": hit}),
        );
        if hit.is_some() {
            return Outcome::RefusedInjection;
        }

        // 4. Retrieval.
        let rcx = self.telemetry.start(
            "helpbot.retrieve",
            "RETRIEVER",
            Some(root),
            vec![kv(oi::INPUT_VALUE, question.to_owned())],
        );
        let retrieval = match self.retriever.search(question) {
            Ok(r) => r,
            Err(e) => {
                telemetry::end(&rcx, Some(&e.to_string()));
                tracing::error!(error = %e, "retrieval failed");
                resp.answer = "Sorry, the search index failed; please try again.".into();
                return Outcome::DontKnow;
            }
        };
        let kb = self.retriever.kb();
        let passages = generate::passages(kb, &retrieval);
        let mut attrs = Vec::new();
        for (i, (p, h)) in passages.iter().zip(&retrieval.hits).enumerate() {
            let pre = format!("retrieval.documents.{i}.document");
            attrs.push(KeyValue::new(format!("{pre}.id"), format!("{}#{}", p.path, p.chunk)));
            attrs.push(KeyValue::new(format!("{pre}.score"), f64::from(p.score)));
            attrs.push(KeyValue::new(format!("{pre}.content"), p.text.clone()));
            attrs.push(KeyValue::new(
                format!("{pre}.metadata"),
                json!({"path": p.path, "title": p.title, "heading": p.heading, "coverage": h.coverage}).to_string(),
            ));
        }
        attrs.push(kv(
            oi::METADATA,
            json!({"confidence": retrieval.confidence(), "known_share": retrieval.known_share, "top_k": self.retriever.params().top_k}).to_string(),
        ));
        telemetry::set(&rcx, attrs);
        telemetry::end(&rcx, None);
        resp.confidence = retrieval.confidence();
        resp.known_share = retrieval.known_share;
        resp.retrieved = retrieval.articles(kb).into_iter().map(str::to_owned).collect();

        // 5. Out of scope: a refused topic, or a question made of words the KB lacks.
        let cx = self.guardrail(root, "guardrail.out_of_scope", question);
        let topic = guardrail::off_topic(question, g);
        let unknown = retrieval.known_share < g.min_known_share;
        let oos = topic.is_some() || unknown;
        Self::guardrail_end(
            &cx,
            !oos,
            if oos { "refuse" } else { "pass" },
            json!({"topic": topic, "known_share": retrieval.known_share, "min_known_share": g.min_known_share}),
        );
        if oos {
            return Outcome::RefusedOutOfScope;
        }

        // 6. Generation.
        let stems = |t: &str| self.retriever.stems(t);
        let extractive = generate::extractive(question, &retrieval, &passages, &self.config.generator, &stems);
        let generated = match (self.generator, &self.llm) {
            (GeneratorKind::Openai, Some(llm)) if extractive.outcome == Outcome::Answered => {
                self.llm_answer(root, llm, question, session_id, &passages, extractive, stream)
                    .await
            }
            _ => {
                self.record_generation(root, &extractive, question, None);
                if let Some(tx) = stream {
                    for p in generate::stream_pieces(&extractive.text) {
                        let _ = tx.send(StreamEvent::Token(p));
                    }
                }
                extractive
            }
        };
        resp.citations = generated
            .cited
            .iter()
            .filter_map(|n| passages.iter().find(|p| p.n == *n))
            .map(|p| Citation {
                n: p.n,
                path: p.path.clone(),
                title: p.title.clone(),
                heading: p.heading.clone(),
                text: p.text.clone(),
                score: p.score,
            })
            .collect();
        resp.answer = generated.text;
        resp.fallback = generated.fallback;
        resp.prompt = generated.messages;
        generated.outcome
    }

    fn record_generation(&self, root: &Context, g: &Generated, question: &str, error: Option<&str>) {
        let cx = self.telemetry.start(
            "helpbot.generate",
            "LLM",
            Some(root),
            vec![
                kv(oi::LLM_MODEL, g.model.clone()),
                kv(oi::LLM_PROVIDER, g.provider.clone()),
                kv(oi::LLM_SYSTEM, g.provider.clone()),
                kv(
                    oi::LLM_PARAMS,
                    json!({
                        "temperature": self.config.generator.temperature,
                        "max_tokens": self.config.generator.max_tokens,
                        "min_confidence": self.config.generator.min_confidence,
                    })
                    .to_string(),
                ),
            ],
        );
        let mut attrs = Vec::new();
        let messages: Vec<Message> = if g.messages.is_empty() {
            vec![Message {
                role: "user".into(),
                content: question.to_owned(),
            }]
        } else {
            g.messages.clone()
        };
        for (i, m) in messages.iter().enumerate() {
            attrs.push(KeyValue::new(
                format!("llm.input_messages.{i}.message.role"),
                m.role.clone(),
            ));
            attrs.push(KeyValue::new(
                format!("llm.input_messages.{i}.message.content"),
                m.content.clone(),
            ));
        }
        attrs.push(KeyValue::new("llm.output_messages.0.message.role", "assistant"));
        attrs.push(KeyValue::new("llm.output_messages.0.message.content", g.text.clone()));
        attrs.push(kv(oi::TOKENS_PROMPT, i64::from(g.usage.prompt)));
        attrs.push(kv(oi::TOKENS_COMPLETION, i64::from(g.usage.completion)));
        attrs.push(kv(oi::TOKENS_TOTAL, i64::from(g.usage.total)));
        attrs.push(kv(oi::OUTPUT_VALUE, g.text.clone()));
        attrs.push(kv(
            oi::METADATA,
            json!({"outcome": g.outcome.as_str(), "tokens_estimated": g.usage.estimated, "cited": g.cited}).to_string(),
        ));
        telemetry::set(&cx, attrs);
        telemetry::end(&cx, error);
    }

    #[expect(clippy::too_many_arguments, reason = "one turn's state, passed once")]
    async fn llm_answer(
        &self,
        root: &Context,
        llm: &LlmEndpoint,
        question: &str,
        session_id: &str,
        passages: &[Passage],
        extractive: Generated,
        stream: Option<&UnboundedSender<StreamEvent>>,
    ) -> Generated {
        let history = self.history(session_id);
        let messages = generate::build_messages(&self.config.prompt, passages, question, &history);
        let (tx, mut rx) = unbounded_channel::<String>();
        let forward = stream.cloned();
        let pump = tokio::spawn(async move {
            let mut any = false;
            while let Some(p) = rx.recv().await {
                any = true;
                if let Some(f) = &forward {
                    let _ = f.send(StreamEvent::Token(p));
                }
            }
            any
        });
        let result = generate::complete(llm, &self.config.generator, &messages, Some(&tx)).await;
        drop(tx);
        let streamed = pump.await.unwrap_or(false);
        let fall_back = |reason: String, shown: bool| {
            if let (Some(s), true) = (stream, shown) {
                let _ = s.send(StreamEvent::Replace(extractive.text.clone()));
            } else if let Some(s) = stream {
                for p in generate::stream_pieces(&extractive.text) {
                    let _ = s.send(StreamEvent::Token(p));
                }
            }
            let mut g = extractive.clone();
            g.fallback = Some(reason);
            g.messages = messages.clone();
            g
        };
        match result {
            Err(e) => {
                let failed = Generated {
                    text: String::new(),
                    cited: vec![],
                    outcome: Outcome::Answered,
                    model: self.config.generator.model.clone(),
                    provider: "openai-compatible".into(),
                    messages: messages.clone(),
                    usage: Default::default(),
                    fallback: None,
                };
                self.record_generation(root, &failed, question, Some(&e.to_string()));
                tracing::warn!(error = %e, "LLM failed; answering extractively");
                fall_back(e.to_string(), streamed)
            }
            Ok(c) => {
                let mut g = Generated {
                    text: c.text.trim().to_owned(),
                    cited: vec![],
                    outcome: Outcome::Answered,
                    model: c.model,
                    provider: "openai-compatible".into(),
                    messages: messages.clone(),
                    usage: c.usage,
                    fallback: None,
                };
                let check = generate::check_citations(&g.text, passages.len());
                let cx = self.guardrail(root, "guardrail.citation_check", &g.text);
                Self::guardrail_end(
                    &cx,
                    check.is_ok(),
                    if check.is_ok() { "pass" } else { "replace" },
                    json!({"error": check.as_ref().err(), "passages": passages.len()}),
                );
                match check {
                    Ok(cited) => {
                        if cited.is_empty() {
                            g.outcome = Outcome::DontKnow;
                        }
                        g.cited = cited;
                        self.record_generation(root, &g, question, None);
                        g
                    }
                    Err(reason) => {
                        self.record_generation(root, &g, question, None);
                        fall_back(format!("citation check: {reason}"), streamed)
                    }
                }
            }
        }
    }
}
