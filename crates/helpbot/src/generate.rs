//! Generators: `extractive` (offline, deterministic: the best sentences of the best
//! passages, each cited) and `openai` (any OpenAI-compatible `/v1/chat/completions`
//! endpoint, streamed, with timeouts, retries with backoff, the prompt template from
//! the model version, and citations required and checked).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures::StreamExt;
use regex::Regex;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedSender;
use unicode_segmentation::UnicodeSegmentation;

use crate::kb::KnowledgeBase;
use crate::model::{GeneratorParams, PromptParams};
use crate::retrieval::Retrieval;

/// What the answer to a question is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An answer with citations.
    Answered,
    /// The knowledge base does not answer it.
    DontKnow,
    /// Refused: a prompt-injection attempt.
    RefusedInjection,
    /// Refused: not about working at Northwind.
    RefusedOutOfScope,
    /// Refused: the question is too long.
    RefusedTooLong,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answered => "answered",
            Self::DontKnow => "dont_know",
            Self::RefusedInjection => "refused_injection",
            Self::RefusedOutOfScope => "refused_out_of_scope",
            Self::RefusedTooLong => "refused_too_long",
        }
    }

    /// Whether the question was declined (not answered).
    pub fn declined(self) -> bool {
        self != Self::Answered
    }
}

/// A passage offered to the generator, numbered for citation.
#[derive(Debug, Clone, Serialize)]
pub struct Passage {
    /// Citation number, from 1.
    pub n: usize,
    pub chunk: u32,
    pub path: String,
    pub title: String,
    pub heading: String,
    pub text: String,
    pub score: f32,
}

/// A chat message (for the LLM and its trace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub prompt: u32,
    pub completion: u32,
    pub total: u32,
    /// Counted by HelpBot (words), not reported by a model.
    pub estimated: bool,
}

/// A generated answer.
#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub text: String,
    /// Citation numbers used, each a passage's `n`.
    pub cited: Vec<usize>,
    pub outcome: Outcome,
    /// The generator's model name (`helpbot-extractive` or the LLM's).
    pub model: String,
    pub provider: String,
    pub messages: Vec<Message>,
    pub usage: Usage,
    /// Why the LLM's answer was replaced by the extractive one, if it was.
    pub fallback: Option<String>,
}

/// The sentence HelpBot says when it does not know.
pub const DONT_KNOW: &str = "I don't know: the help-centre articles don't answer that. Please ask the Service Desk, HR or Finance, who can help.";

static CITATION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\[(\d{1,2})\]").expect("citation regex"));

/// The numbered passages for a retrieval.
pub fn passages(kb: &KnowledgeBase, retrieval: &Retrieval) -> Vec<Passage> {
    retrieval
        .hits
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let c = &kb.chunks[h.chunk as usize];
            Passage {
                n: i + 1,
                chunk: h.chunk,
                path: c.path.clone(),
                title: c.title.clone(),
                heading: c.heading.clone(),
                text: c.text.clone(),
                score: h.score,
            }
        })
        .collect()
}

/// Sentences of a passage: blocks (lines) split at sentence boundaries, with
/// fragments of fewer than three words kept with the sentence before them.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for block in text.lines() {
        let mut first_in_block = true;
        for s in block.split_sentence_bounds() {
            let s = s.trim();
            if s.is_empty() {
                continue;
            }
            if !first_in_block
                && s.split_whitespace().count() < 3
                && let Some(last) = out.last_mut()
            {
                last.push(' ');
                last.push_str(s);
                continue;
            }
            out.push(s.to_owned());
            first_in_block = false;
        }
    }
    out
}

/// The kinds of fact a question asks for, from its wording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Wants {
    /// A number: an amount, a duration, a limit, a time or a date.
    pub number: bool,
    /// Where to go or whom to contact: a link, an e-mail address, a phone number.
    pub contact: bool,
}

static WANTS_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(how (long|many|much|often|soon|far|quickly|early|late|old|big)|when\b|what time|which days?\b|what (is|are|'s) the (limit|limits|rate|rates|maximum|minimum|deadline|cap|allowance|amount|cost|price|notice)|deadline|how many days)",
    )
    .expect("number intent regex")
});
static WANTS_CONTACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(how (do|can|should|would|could) (i|we|you)\b|how to\b|where\b|who (do|should|can|must) i\b|who to\b|which (site|page|link|address|number|portal|form|tool|team)\b|(link|address|url|website|portal|extension|phone number|e-?mail address)\b|contact|get in touch|report\b)",
    )
    .expect("contact intent regex")
});
static HAS_CONTACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(https?://|\bwww\.|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(example|com|org|net|io|co\.uk)\b|\b[\w.+-]+@[\w-]+(\.[\w-]+)+\b|\bextension \d|\+\d[\d ]{6,}\d)",
    )
    .expect("contact regex")
});

impl Wants {
    /// What `question` asks for.
    pub fn of(question: &str) -> Self {
        Self {
            number: WANTS_NUMBER.is_match(question),
            contact: WANTS_CONTACT.is_match(question),
        }
    }

    /// How many of the wanted kinds of fact `sentence` holds (0, 1 or 2).
    fn met_by(self, sentence: &str) -> f32 {
        let number = self.number && sentence.chars().any(|c| c.is_ascii_digit());
        let contact = self.contact && HAS_CONTACT.is_match(sentence);
        f32::from(u8::from(number) + u8::from(contact))
    }
}

/// The extractive generator. `stems` analyses text as the index does; `question`
/// (as retrieved) tells which kinds of fact the answer should hold.
pub fn extractive(
    question: &str,
    retrieval: &Retrieval,
    passages: &[Passage],
    params: &GeneratorParams,
    stems: &dyn Fn(&str) -> HashSet<String>,
) -> Generated {
    let dont_know = || Generated {
        text: DONT_KNOW.into(),
        cited: vec![],
        outcome: Outcome::DontKnow,
        model: "helpbot-extractive".into(),
        provider: "helpbot".into(),
        messages: vec![],
        usage: Usage::default(),
        fallback: None,
    };
    let confidence = retrieval.confidence();
    if passages.is_empty() || confidence < params.min_confidence {
        return dont_know();
    }
    let idf: HashMap<&str, f32> = retrieval.terms.iter().map(|t| (t.stem.as_str(), t.idf)).collect();
    let total: f32 = idf.values().sum::<f32>().max(f32::EPSILON);
    let share = |set: &HashSet<String>| set.iter().filter_map(|s| idf.get(s.as_str())).sum::<f32>() / total;
    let wants = Wants::of(question);

    struct Candidate {
        rank: usize,
        pos: usize,
        text: String,
        score: f32,
    }
    let mut candidates = Vec::new();
    let top_path = passages[0].path.as_str();
    for (rank, (p, hit)) in passages.iter().zip(&retrieval.hits).enumerate().take(4) {
        // Further passages of the best article, or others nearly as good.
        if rank > 0 && p.path != top_path && hit.coverage < confidence * params.secondary_ratio {
            continue;
        }
        let heading_share = share(&stems(&format!("{} {}", p.title, p.heading)));
        for (pos, s) in sentences(&p.text).into_iter().enumerate() {
            let own = share(&stems(&s));
            // A sentence with the kind of fact asked for ranks higher, but only one
            // that speaks to the question's words as well (below).
            let facts = if own > 0.0 {
                params.fact_weight * wants.met_by(&s)
            } else {
                0.0
            };
            let score = own + facts + 0.2 * heading_share - 0.04 * rank as f32 - 0.002 * pos as f32;
            if own > 0.0 || rank == 0 {
                candidates.push(Candidate {
                    rank,
                    pos,
                    text: s,
                    score,
                });
            }
        }
    }
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut picked: Vec<&Candidate> = Vec::new();
    let mut words = 0;
    for c in &candidates {
        if picked.len() >= params.max_sentences || words >= params.max_words {
            break;
        }
        if picked.iter().any(|p| p.text == c.text) {
            continue; // the same sentence twice, through chunk overlap
        }
        let w = c.text.split_whitespace().count();
        if !picked.is_empty() && words + w > params.max_words + 20 {
            continue;
        }
        words += w;
        picked.push(c);
    }
    if picked.is_empty() {
        return dont_know();
    }
    picked.sort_by_key(|c| (c.rank, c.pos));
    let mut text = String::new();
    let mut cited = Vec::new();
    let mut i = 0;
    while i < picked.len() {
        let rank = picked[i].rank;
        let mut group = Vec::new();
        while i < picked.len() && picked[i].rank == rank {
            group.push(picked[i].text.as_str());
            i += 1;
        }
        let n = passages[rank].n;
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&group.join(" "));
        text.push_str(&format!(" [{n}]"));
        cited.push(n);
    }
    let completion = text.split_whitespace().count() as u32;
    Generated {
        text,
        cited,
        outcome: Outcome::Answered,
        model: "helpbot-extractive".into(),
        provider: "helpbot".into(),
        messages: vec![],
        usage: Usage {
            prompt: 0,
            completion,
            total: completion,
            estimated: true,
        },
        fallback: None,
    }
}

/// Split an answer into the pieces streamed to the browser (words with their
/// trailing space).
pub fn stream_pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if ch == ' ' {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Citation numbers in an answer, in order of first use.
pub fn citations_in(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for c in CITATION.captures_iter(text) {
        if let Ok(n) = c[1].parse::<usize>()
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

/// Check an LLM answer's citations against the passages it was given: every
/// number must name a passage, and an answer (not a "don't know") needs at least one.
pub fn check_citations(text: &str, passages: usize) -> Result<Vec<usize>, String> {
    let cited = citations_in(text);
    if let Some(bad) = cited.iter().find(|&&n| n == 0 || n > passages) {
        return Err(format!("cites [{bad}] but only {passages} passage(s) were given"));
    }
    if cited.is_empty() && !looks_like_dont_know(text) {
        return Err("the answer cites no passage".into());
    }
    Ok(cited)
}

/// Whether a model's answer says it does not know.
pub fn looks_like_dont_know(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "i don't know",
        "i do not know",
        "i don’t know",
        "not covered",
        "cannot find",
        "can't find",
    ]
    .iter()
    .any(|p| t.contains(p))
}

/// Fill the prompt template.
pub fn build_messages(
    prompt: &PromptParams,
    passages: &[Passage],
    question: &str,
    history: &[Message],
) -> Vec<Message> {
    let passages_text = passages
        .iter()
        .map(|p| format!("[{}] {} — {}\n{}", p.n, p.title, p.heading, p.text))
        .collect::<Vec<_>>()
        .join("\n\n");
    let history_text = if history.is_empty() {
        "(none)".to_owned()
    } else {
        history
            .iter()
            .map(|m| format!("{}: {}", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let user = prompt
        .user
        .replace("{passages}", &passages_text)
        .replace("{history}", &history_text)
        .replace("{question}", question);
    vec![
        Message {
            role: "system".into(),
            content: prompt.system.trim().to_owned(),
        },
        Message {
            role: "user".into(),
            content: user.trim().to_owned(),
        },
    ]
}

/// Where an OpenAI-compatible endpoint is and how to call it.
#[derive(Clone)]
pub struct LlmEndpoint {
    /// Base URL up to `/v1` (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`).
    pub base_url: String,
    pub api_key: Option<String>,
    pub http: reqwest::Client,
}

impl std::fmt::Debug for LlmEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmEndpoint")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// Why an LLM call failed (the chat then falls back to the extractive answer).
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum LlmError {
    #[error("LLM endpoint {url} unreachable: {reason}")]
    Connect { url: String, reason: String },
    #[error("LLM endpoint answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("LLM endpoint timed out after {secs} s")]
    Timeout { secs: u64 },
    #[error("LLM stream chunk is malformed: {reason}")]
    Malformed { reason: String },
    #[error("LLM answer rejected: {reason}")]
    Citations { reason: String },
}

impl LlmError {
    fn retryable(&self) -> bool {
        match self {
            Self::Connect { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

#[derive(Deserialize)]
struct StreamChunk {
    #[serde(default)]
    choices: Vec<StreamChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Deserialize)]
struct StreamChoice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    #[serde(default)]
    total_tokens: u32,
}

/// What a streamed completion produced.
#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    pub model: String,
    pub usage: Usage,
}

/// Stream a chat completion, sending content pieces to `tokens` as they arrive.
/// Connection errors, timeouts, 429 and 5xx are retried with exponential backoff,
/// but only before the first piece was sent (a half-streamed answer is never
/// repeated).
pub async fn complete(
    endpoint: &LlmEndpoint,
    params: &GeneratorParams,
    messages: &[Message],
    tokens: Option<&UnboundedSender<String>>,
) -> Result<Completion, LlmError> {
    let mut attempt = 0;
    loop {
        let mut sent_any = false;
        let result = complete_once(endpoint, params, messages, tokens, &mut sent_any).await;
        match result {
            Err(e) if e.retryable() && !sent_any && attempt < params.max_retries => {
                let wait = params.backoff_ms.saturating_mul(1 << attempt.min(10));
                tracing::warn!(error = %e, attempt = attempt + 1, wait_ms = wait, "LLM call failed; retrying");
                tokio::time::sleep(Duration::from_millis(wait)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn complete_once(
    endpoint: &LlmEndpoint,
    params: &GeneratorParams,
    messages: &[Message],
    tokens: Option<&UnboundedSender<String>>,
    sent_any: &mut bool,
) -> Result<Completion, LlmError> {
    let url = format!("{}/chat/completions", endpoint.base_url.trim_end_matches('/'));
    let timeout = Duration::from_secs(params.timeout_secs.max(1));
    let body = serde_json::json!({
        "model": params.model,
        "messages": messages,
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    let mut rb = endpoint.http.post(&url).json(&body);
    if let Some(key) = &endpoint.api_key {
        rb = rb.bearer_auth(key);
    }
    let resp = match tokio::time::timeout(timeout, rb.send()).await {
        Err(_) => {
            return Err(LlmError::Timeout {
                secs: timeout.as_secs(),
            });
        }
        Ok(Err(e)) => {
            return Err(LlmError::Connect {
                url,
                reason: e.to_string(),
            });
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    if !status.is_success() {
        let text = tokio::time::timeout(timeout, resp.text())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(200).collect());
        return Err(LlmError::Status {
            status: status.as_u16(),
            message,
        });
    }
    let mut stream = resp.bytes_stream().eventsource();
    let mut text = String::new();
    let mut usage = None;
    let mut model = params.model.clone();
    loop {
        let next = match tokio::time::timeout(timeout, stream.next()).await {
            Err(_) => {
                return Err(LlmError::Timeout {
                    secs: timeout.as_secs(),
                });
            }
            Ok(n) => n,
        };
        let Some(event) = next else {
            return Err(LlmError::Malformed {
                reason: "the stream ended without `data: [DONE]`".into(),
            });
        };
        let event = event.map_err(|e| LlmError::Malformed { reason: e.to_string() })?;
        let data = event.data.trim();
        if data.is_empty() {
            continue;
        }
        if data == "[DONE]" {
            break;
        }
        let chunk: StreamChunk = serde_json::from_str(data).map_err(|e| LlmError::Malformed {
            reason: format!("{e} in `{}`", data.chars().take(80).collect::<String>()),
        })?;
        if let Some(m) = chunk.model {
            model = m;
        }
        if let Some(u) = chunk.usage {
            usage = Some(u);
        }
        for choice in chunk.choices {
            if let Some(piece) = choice.delta.content.filter(|c| !c.is_empty()) {
                text.push_str(&piece);
                if let Some(tx) = tokens {
                    let _ = tx.send(piece);
                    *sent_any = true;
                }
            }
        }
    }
    let usage = match usage {
        Some(u) => Usage {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
            total: if u.total_tokens > 0 {
                u.total_tokens
            } else {
                u.prompt_tokens + u.completion_tokens
            },
            estimated: false,
        },
        None => {
            // Estimated like the common rule of thumb: four characters per token.
            let prompt = messages.iter().map(|m| m.content.len()).sum::<usize>().div_ceil(4) as u32;
            let completion = text.len().div_ceil(4) as u32;
            Usage {
                prompt,
                completion,
                total: prompt + completion,
                estimated: true,
            }
        }
    };
    Ok(Completion { text, model, usage })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_blocks_and_keep_short_fragments() {
        let s = sentences("At least 14 characters. It must not contain your name.\nPasswords expire every 180 days.");
        assert_eq!(
            s,
            [
                "At least 14 characters.",
                "It must not contain your name.",
                "Passwords expire every 180 days."
            ]
        );
    }

    #[test]
    fn questions_say_which_facts_they_want() {
        let w = Wants::of("How do I reset my password?");
        assert!(w.contact && !w.number);
        let w = Wants::of("How long until a locked account unlocks?");
        assert!(w.number && !w.contact);
        assert_eq!(Wants::of("Is gambling allowed on work laptops?"), Wants::default());
        let contact = Wants {
            number: false,
            contact: true,
        };
        assert_eq!(contact.met_by("Open https://password.northwind.example."), 1.0);
        assert_eq!(contact.met_by("Call the Service Desk on extension 4357."), 1.0);
        assert_eq!(contact.met_by("Write to it-help@northwind.example."), 1.0);
        assert_eq!(contact.met_by("Choose a new password and confirm it."), 0.0);
        let number = Wants {
            number: true,
            contact: false,
        };
        assert_eq!(number.met_by("Passwords expire every 180 days."), 1.0);
        assert_eq!(number.met_by("Open https://password.northwind.example."), 0.0);
    }

    #[test]
    fn citations_are_checked() {
        assert_eq!(
            check_citations("Reset it at the portal [1]. Then lock [2].", 3),
            Ok(vec![1, 2])
        );
        assert!(check_citations("Reset it [4].", 3).unwrap_err().contains("[4]"));
        assert!(
            check_citations("Reset it at the portal.", 3)
                .unwrap_err()
                .contains("no passage")
        );
        assert_eq!(check_citations("I don't know.", 3), Ok(vec![]));
    }

    #[test]
    fn stream_pieces_rebuild_the_text() {
        let t = "Reset it at the portal [1].";
        assert_eq!(stream_pieces(t).concat(), t);
        assert_eq!(stream_pieces(t).len(), 6);
    }

    #[test]
    fn prompt_template_is_filled() {
        let p = PromptParams {
            system: "sys".into(),
            user: "P:\n{passages}\nH: {history}\nQ: {question}".into(),
        };
        let passages = vec![Passage {
            n: 1,
            chunk: 0,
            path: "a.md".into(),
            title: "A".into(),
            heading: "S".into(),
            text: "Text.".into(),
            score: 1.0,
        }];
        let m = build_messages(&p, &passages, "why?", &[]);
        assert_eq!(m[0].content, "sys");
        assert_eq!(m[1].content, "P:\n[1] A — S\nText.\nH: (none)\nQ: why?");
    }
}
