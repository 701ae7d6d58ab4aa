//! Reading a span's attributes with the two semantic conventions LLM apps use:
//! OpenInference (`openinference.span.kind`, `llm.*`, `input.value`, `retrieval.*`,
//! `session.id`…) and the OTel GenAI conventions (`gen_ai.*`), which fill in
//! whatever OpenInference keys are missing. The result, [`Derived`], becomes the
//! span's queryable columns.

use std::collections::BTreeMap;

use super::SpanKind;
use super::attr::{AttrValue, Attributes};

/// Lists flattened into attributes (`llm.input_messages.3.message.role`) are read up
/// to this many entries; a sender's index beyond it is ignored.
const MAX_LIST_ENTRIES: usize = 1_000;

/// The columns Charter derives from a span's attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Derived {
    pub kind: Option<SpanKind>,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub prompt_tokens: Option<i64>,
    pub completion_tokens: Option<i64>,
    pub total_tokens: Option<i64>,
    /// Cost the instrumentation reported (`llm.cost.total`), in USD.
    pub cost_usd: Option<f64>,
    pub input: Option<String>,
    pub input_mime: Option<String>,
    pub output: Option<String>,
    pub output_mime: Option<String>,
    pub session_id: Option<String>,
    pub user_id: Option<String>,
    /// Retrieved documents (reranked ones for a reranker).
    pub documents: Vec<Document>,
}

impl Derived {
    /// The OpenInference kind, `UNKNOWN` when nothing says.
    pub fn kind(&self) -> SpanKind {
        self.kind.unwrap_or(SpanKind::Unknown)
    }
}

/// A retrieved document.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// JSON text, as OpenInference sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// A chat message sent to or received from a model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub role: String,
    pub content: String,
    pub name: Option<String>,
    pub tool_calls: Vec<ToolCall>,
}

/// A tool call a model asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolCall {
    pub id: Option<String>,
    pub name: String,
    pub arguments: String,
}

/// Read the derived columns from (already redacted) attributes.
pub fn derive(attrs: &Attributes) -> Derived {
    let s = |k: &str| attrs.get_str(k).map(str::to_owned);
    let int = |k: &str| attrs.get(k).and_then(AttrValue::as_i64).filter(|n| *n >= 0);
    let first_str = |keys: &[&str]| keys.iter().find_map(|k| s(k));
    let first_int = |keys: &[&str]| keys.iter().find_map(|k| int(k));

    let model = first_str(&[
        "llm.model_name",
        "llm.response.model_name",
        "llm.request.model_name",
        "embedding.model_name",
        "reranker.model_name",
        "gen_ai.response.model",
        "gen_ai.request.model",
    ]);
    let provider = first_str(&["llm.provider", "llm.system", "gen_ai.provider.name", "gen_ai.system"]);
    let prompt_tokens = first_int(&[
        "llm.token_count.prompt",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
    ]);
    let completion_tokens = first_int(&[
        "llm.token_count.completion",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
    ]);
    let total_tokens = first_int(&["llm.token_count.total", "gen_ai.usage.total_tokens"]).or(
        match (prompt_tokens, completion_tokens) {
            (None, None) => None,
            (p, c) => Some(p.unwrap_or(0).saturating_add(c.unwrap_or(0))),
        },
    );
    let cost_usd = attrs
        .get("llm.cost.total")
        .and_then(AttrValue::as_f64)
        .filter(|c| *c >= 0.0);

    let kind = attrs
        .get_str("openinference.span.kind")
        .map(|k| SpanKind::parse(k).unwrap_or(SpanKind::Unknown))
        .or_else(|| gen_ai_kind(attrs))
        .or_else(|| {
            (attrs.get("llm.model_name").is_some() || attrs.get("llm.token_count.total").is_some())
                .then_some(SpanKind::Llm)
        });

    let (input, input_mime) = match s("input.value") {
        Some(v) => (Some(v), s("input.mime_type")),
        None => (fallback_input(attrs), None),
    };
    let (output, output_mime) = match s("output.value") {
        Some(v) => (Some(v), s("output.mime_type")),
        None => (fallback_output(attrs), None),
    };
    let input_mime = input_mime.or_else(|| input.as_ref().map(|_| "text/plain".to_owned()));
    let output_mime = output_mime.or_else(|| output.as_ref().map(|_| "text/plain".to_owned()));

    let documents = if kind == Some(SpanKind::Reranker) {
        documents(attrs, "reranker.output_documents")
    } else {
        documents(attrs, "retrieval.documents")
    };

    Derived {
        kind,
        model,
        provider,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        cost_usd,
        input,
        input_mime,
        output,
        output_mime,
        session_id: first_str(&["session.id", "gen_ai.conversation.id"]),
        user_id: first_str(&["user.id", "enduser.id"]),
        documents,
    }
}

/// The kind the GenAI conventions imply, from `gen_ai.operation.name` (or a model
/// request at all).
fn gen_ai_kind(attrs: &Attributes) -> Option<SpanKind> {
    match attrs.get_str("gen_ai.operation.name") {
        Some("chat" | "text_completion" | "generate_content" | "completion") => Some(SpanKind::Llm),
        Some("embeddings") => Some(SpanKind::Embedding),
        Some("execute_tool") => Some(SpanKind::Tool),
        Some("invoke_agent" | "create_agent") => Some(SpanKind::Agent),
        Some("retrieval") => Some(SpanKind::Retriever),
        _ => (attrs.get("gen_ai.request.model").is_some() || attrs.get("gen_ai.system").is_some())
            .then_some(SpanKind::Llm),
    }
}

/// Entries of a flattened list: `prefix.<i>.<rest>` → `i → [(rest, value)]`.
fn flattened<'a>(attrs: &'a Attributes, prefix: &str) -> BTreeMap<usize, Vec<(&'a str, &'a AttrValue)>> {
    let mut out: BTreeMap<usize, Vec<(&str, &AttrValue)>> = BTreeMap::new();
    for (key, value) in attrs.iter() {
        let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        let (index, field) = rest.split_once('.').unwrap_or((rest, ""));
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        if index < MAX_LIST_ENTRIES {
            out.entry(index).or_default().push((field, value));
        }
    }
    out
}

fn field<'a>(fields: &[(&str, &'a AttrValue)], name: &str) -> Option<&'a AttrValue> {
    fields.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

fn field_text(fields: &[(&str, &AttrValue)], name: &str) -> Option<String> {
    field(fields, name).map(AttrValue::to_text).filter(|s| !s.is_empty())
}

/// Documents flattened under `prefix` (`retrieval.documents.<i>.document.*`).
pub fn documents(attrs: &Attributes, prefix: &str) -> Vec<Document> {
    flattened(attrs, prefix)
        .into_values()
        .map(|fields| Document {
            id: field_text(&fields, "document.id"),
            content: field_text(&fields, "document.content"),
            score: field(&fields, "document.score").and_then(AttrValue::as_f64),
            metadata: field_text(&fields, "document.metadata"),
        })
        .collect()
}

/// OpenInference messages flattened under `prefix` (`llm.input_messages`,
/// `llm.output_messages`): role, content (or the text parts of `contents`), tool calls.
pub fn messages(attrs: &Attributes, prefix: &str) -> Vec<Message> {
    flattened(attrs, prefix)
        .into_values()
        .map(|fields| {
            let mut content = field_text(&fields, "message.content").unwrap_or_default();
            if content.is_empty() {
                // Multimodal messages: `message.contents.<j>.message_content.text`.
                let mut parts: BTreeMap<usize, String> = BTreeMap::new();
                for (k, v) in &fields {
                    if let Some(rest) = k.strip_prefix("message.contents.")
                        && let Some((j, "message_content.text")) = rest.split_once('.')
                        && let Ok(j) = j.parse::<usize>()
                    {
                        parts.insert(j, v.to_text());
                    }
                }
                content = parts.into_values().collect::<Vec<_>>().join("\n");
            }
            let mut calls: BTreeMap<usize, ToolCall> = BTreeMap::new();
            for (k, v) in &fields {
                let Some(rest) = k.strip_prefix("message.tool_calls.") else {
                    continue;
                };
                let Some((j, what)) = rest.split_once('.') else {
                    continue;
                };
                let Ok(j) = j.parse::<usize>() else { continue };
                if j >= MAX_LIST_ENTRIES {
                    continue;
                }
                let call = calls.entry(j).or_default();
                match what {
                    "tool_call.id" => call.id = Some(v.to_text()),
                    "tool_call.function.name" => call.name = v.to_text(),
                    "tool_call.function.arguments" => call.arguments = v.to_text(),
                    _ => {}
                }
            }
            Message {
                role: field_text(&fields, "message.role").unwrap_or_default(),
                content,
                name: field_text(&fields, "message.name"),
                tool_calls: calls.into_values().collect(),
            }
        })
        .collect()
}

/// GenAI messages as JSON (`gen_ai.input.messages`): `[{"role", "parts":[{"type":"text","content"}]}]`,
/// also accepting a plain `content` string.
fn gen_ai_json_messages(text: &str) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    items
        .iter()
        .map(|m| {
            let role = m.get("role").and_then(|r| r.as_str()).unwrap_or_default().to_owned();
            let content = match (m.get("content"), m.get("parts")) {
                (Some(serde_json::Value::String(c)), _) => c.clone(),
                (_, Some(serde_json::Value::Array(parts))) => parts
                    .iter()
                    .filter_map(|p| p.get("content").and_then(|c| c.as_str()))
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            };
            (role, content)
        })
        .collect()
}

/// The user's last message, from whichever convention carries it.
fn fallback_input(attrs: &Attributes) -> Option<String> {
    let oi: Vec<(String, String)> = messages(attrs, "llm.input_messages")
        .into_iter()
        .map(|m| (m.role, m.content))
        .collect();
    let from_list = |list: &[(String, String)]| {
        list.iter()
            .rev()
            .find(|(role, c)| role == "user" && !c.is_empty())
            .or_else(|| list.iter().rev().find(|(_, c)| !c.is_empty()))
            .map(|(_, c)| c.clone())
    };
    from_list(&oi)
        .or_else(|| {
            attrs
                .get_str("gen_ai.input.messages")
                .and_then(|t| from_list(&gen_ai_json_messages(t)))
        })
        .or_else(|| attrs.get_str("gen_ai.prompt").map(str::to_owned))
        .or_else(|| {
            let legacy: Vec<(String, String)> = flattened(attrs, "gen_ai.prompt")
                .into_values()
                .map(|f| {
                    (
                        field_text(&f, "role").unwrap_or_default(),
                        field_text(&f, "content").unwrap_or_default(),
                    )
                })
                .collect();
            from_list(&legacy)
        })
}

/// The model's first answer, from whichever convention carries it.
fn fallback_output(attrs: &Attributes) -> Option<String> {
    messages(attrs, "llm.output_messages")
        .into_iter()
        .map(|m| m.content)
        .find(|c| !c.is_empty())
        .or_else(|| {
            attrs.get_str("gen_ai.output.messages").and_then(|t| {
                gen_ai_json_messages(t)
                    .into_iter()
                    .map(|(_, c)| c)
                    .find(|c| !c.is_empty())
            })
        })
        .or_else(|| attrs.get_str("gen_ai.completion").map(str::to_owned))
        .or_else(|| {
            flattened(attrs, "gen_ai.completion")
                .into_values()
                .find_map(|f| field_text(&f, "content"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, AttrValue)]) -> Attributes {
        Attributes(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    }

    fn s(v: &str) -> AttrValue {
        AttrValue::Str(v.to_owned())
    }

    #[test]
    fn openinference_llm_span() {
        let a = attrs(&[
            ("openinference.span.kind", s("LLM")),
            ("llm.model_name", s("gpt-4o-mini")),
            ("llm.provider", s("openai")),
            ("llm.input_messages.0.message.role", s("system")),
            ("llm.input_messages.0.message.content", s("Be brief.")),
            ("llm.input_messages.1.message.role", s("user")),
            ("llm.input_messages.1.message.content", s("What is the refund policy?")),
            ("llm.output_messages.0.message.role", s("assistant")),
            ("llm.output_messages.0.message.content", s("Refunds within 30 days.")),
            ("llm.token_count.prompt", AttrValue::Str("512".into())),
            ("llm.token_count.completion", AttrValue::Int(40)),
            ("llm.token_count.total", AttrValue::Int(552)),
            ("session.id", s("sess-42")),
            ("user.id", s("user-7")),
        ]);
        let d = derive(&a);
        assert_eq!(d.kind, Some(SpanKind::Llm));
        assert_eq!(d.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(d.provider.as_deref(), Some("openai"));
        assert_eq!(
            (d.prompt_tokens, d.completion_tokens, d.total_tokens),
            (Some(512), Some(40), Some(552))
        );
        // No input.value: the user's last message stands in.
        assert_eq!(d.input.as_deref(), Some("What is the refund policy?"));
        assert_eq!(d.output.as_deref(), Some("Refunds within 30 days."));
        assert_eq!(d.session_id.as_deref(), Some("sess-42"));
        assert_eq!(d.user_id.as_deref(), Some("user-7"));
        let msgs = messages(&a, "llm.input_messages");
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0].role, "system");
    }

    #[test]
    fn retriever_documents_in_index_order() {
        let a = attrs(&[
            ("openinference.span.kind", s("retriever")),
            ("retrieval.documents.1.document.id", s("kb/b.md")),
            ("retrieval.documents.1.document.score", AttrValue::Double(0.5)),
            ("retrieval.documents.0.document.id", s("kb/a.md")),
            ("retrieval.documents.0.document.content", s("Refunds…")),
            ("retrieval.documents.0.document.score", AttrValue::Double(0.9)),
            (
                "retrieval.documents.0.document.metadata",
                s("{\"heading\":\"Refunds\"}"),
            ),
            ("input.value", s("refund policy")),
        ]);
        let d = derive(&a);
        assert_eq!(d.kind, Some(SpanKind::Retriever));
        assert_eq!(d.documents.len(), 2);
        assert_eq!(d.documents[0].id.as_deref(), Some("kb/a.md"));
        assert_eq!(d.documents[0].score, Some(0.9));
        assert_eq!(d.documents[1].content, None);
        assert_eq!(d.input.as_deref(), Some("refund policy"));
    }

    #[test]
    fn gen_ai_conventions_fill_in() {
        let a = attrs(&[
            ("gen_ai.operation.name", s("chat")),
            ("gen_ai.request.model", s("claude-3-5-sonnet")),
            ("gen_ai.response.model", s("claude-3-5-sonnet-20241022")),
            ("gen_ai.provider.name", s("anthropic")),
            ("gen_ai.usage.input_tokens", AttrValue::Int(100)),
            ("gen_ai.usage.output_tokens", AttrValue::Int(20)),
            ("gen_ai.conversation.id", s("conv-1")),
            (
                "gen_ai.input.messages",
                s(r#"[{"role":"user","parts":[{"type":"text","content":"Hi there"}]}]"#),
            ),
            (
                "gen_ai.output.messages",
                s(r#"[{"role":"assistant","parts":[{"type":"text","content":"Hello!"}]}]"#),
            ),
        ]);
        let d = derive(&a);
        assert_eq!(d.kind, Some(SpanKind::Llm));
        assert_eq!(d.model.as_deref(), Some("claude-3-5-sonnet-20241022"));
        assert_eq!(d.provider.as_deref(), Some("anthropic"));
        assert_eq!(
            (d.prompt_tokens, d.completion_tokens, d.total_tokens),
            (Some(100), Some(20), Some(120))
        );
        assert_eq!(d.session_id.as_deref(), Some("conv-1"));
        assert_eq!(d.input.as_deref(), Some("Hi there"));
        assert_eq!(d.output.as_deref(), Some("Hello!"));
    }

    #[test]
    fn openllmetry_style_prompts_and_tools() {
        let a = attrs(&[
            ("gen_ai.system", s("openai")),
            ("gen_ai.prompt.0.role", s("user")),
            ("gen_ai.prompt.0.content", s("weather?")),
            ("gen_ai.completion.0.content", s("sunny")),
        ]);
        let d = derive(&a);
        assert_eq!(d.kind, Some(SpanKind::Llm));
        assert_eq!(d.input.as_deref(), Some("weather?"));
        assert_eq!(d.output.as_deref(), Some("sunny"));
        let t = derive(&attrs(&[("gen_ai.operation.name", s("execute_tool"))]));
        assert_eq!(t.kind, Some(SpanKind::Tool));
    }

    #[test]
    fn openinference_wins_over_gen_ai_and_unknown_kinds_read_unknown() {
        let a = attrs(&[
            ("openinference.span.kind", s("dreaming")),
            ("llm.model_name", s("a")),
            ("gen_ai.request.model", s("b")),
        ]);
        let d = derive(&a);
        assert_eq!(d.kind, Some(SpanKind::Unknown));
        assert_eq!(d.model.as_deref(), Some("a"));
        assert_eq!(derive(&Attributes::new()).kind(), SpanKind::Unknown);
    }

    #[test]
    fn tool_calls_and_multimodal_contents() {
        let a = attrs(&[
            ("llm.output_messages.0.message.role", s("assistant")),
            ("llm.output_messages.0.message.tool_calls.0.tool_call.id", s("call_1")),
            (
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
                s("lookup"),
            ),
            (
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
                s("{\"q\":1}"),
            ),
            ("llm.input_messages.0.message.role", s("user")),
            (
                "llm.input_messages.0.message.contents.1.message_content.text",
                s("second"),
            ),
            (
                "llm.input_messages.0.message.contents.0.message_content.text",
                s("first"),
            ),
        ]);
        let out = messages(&a, "llm.output_messages");
        assert_eq!(out[0].tool_calls[0].name, "lookup");
        assert_eq!(out[0].tool_calls[0].id.as_deref(), Some("call_1"));
        let input = messages(&a, "llm.input_messages");
        assert_eq!(input[0].content, "first\nsecond");
    }
}
