//! A HelpBot "model": a versioned configuration — prompt template, chunking and
//! retrieval parameters, generator settings, guardrail settings — plus the manifest
//! of the knowledge base it was built from. `helpbot register` logs it to MLflow as
//! `config.toml` and `kb_manifest.json`; the app serves either a registered version
//! (`models:/helpbot@<alias>`) or the local file.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::guardrail::GuardrailParams;
use crate::kb::ChunkParams;
use crate::retrieval::RetrievalParams;

/// The configuration shipped with HelpBot (`crates/helpbot/model.toml`).
pub const DEFAULT_CONFIG: &str = include_str!("../model.toml");

/// Which generator writes answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorKind {
    /// Offline and deterministic: the best sentences of the best passages, cited.
    Extractive,
    /// Any OpenAI-compatible `/v1/chat/completions` endpoint.
    Openai,
}

impl GeneratorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Extractive => "extractive",
            Self::Openai => "openai",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "extractive" => Some(Self::Extractive),
            "openai" | "llm" => Some(Self::Openai),
            _ => None,
        }
    }
}

/// Generator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeneratorParams {
    pub kind: GeneratorKind,
    /// Below this retrieval confidence (the best passage's share of the question's
    /// IDF weight) HelpBot says it does not know.
    pub min_confidence: f32,
    /// Extractive: most sentences in an answer.
    pub max_sentences: usize,
    /// Extractive: most words in an answer (whole sentences).
    pub max_words: usize,
    /// Extractive: passages after the first are used when their coverage is at least
    /// this share of the first one's.
    pub secondary_ratio: f32,
    /// Extractive: bonus for a sentence holding the kind of fact the question asks
    /// for — a number for "how long / how many / when …", a place to go or someone
    /// to contact (a link, an e-mail address, a phone number or extension) for "how
    /// do I … / where … / who …". 0 (the default, and what versions registered
    /// before this setting existed get) ranks sentences by question words alone.
    pub fact_weight: f32,
    /// OpenAI-compatible: the model name sent in the request.
    pub model: String,
    pub temperature: f32,
    pub max_tokens: u32,
    /// Seconds before a request (or a silent stream) is abandoned.
    pub timeout_secs: u64,
    /// Retries after a connection error, 429 or 5xx, with exponential backoff.
    pub max_retries: u32,
    /// First backoff in milliseconds (doubled each retry).
    pub backoff_ms: u64,
}

impl Default for GeneratorParams {
    fn default() -> Self {
        Self {
            kind: GeneratorKind::Extractive,
            min_confidence: 0.2,
            max_sentences: 6,
            max_words: 120,
            secondary_ratio: 1.0,
            fact_weight: 0.0,
            model: "gpt-4o-mini".into(),
            temperature: 0.0,
            max_tokens: 400,
            timeout_secs: 30,
            max_retries: 2,
            backoff_ms: 500,
        }
    }
}

/// The prompt for LLM generators. `{passages}`, `{question}` and `{history}` are
/// replaced; passages are numbered `[1]`, `[2]`… so answers can cite them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptParams {
    pub system: String,
    pub user: String,
}

impl Default for PromptParams {
    fn default() -> Self {
        Self {
            system: "You are HelpBot, Northwind Analytics' internal help-desk assistant.".into(),
            user: "Passages:\n{passages}\n\nQuestion: {question}".into(),
        }
    }
}

/// A HelpBot model version's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Registered-model name (`helpbot`).
    pub name: String,
    /// A human label for this configuration (`1.2.0`); the registry's version number
    /// is separate.
    pub label: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub chunking: ChunkParams,
    #[serde(default)]
    pub retrieval: RetrievalParams,
    #[serde(default)]
    pub generator: GeneratorParams,
    #[serde(default)]
    pub guardrails: GuardrailParams,
    #[serde(default)]
    pub prompt: PromptParams,
}

/// A configuration that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("model configuration {source_name}: {message}")]
pub struct ConfigError {
    pub source_name: String,
    pub message: String,
}

impl ModelConfig {
    /// Parse a TOML configuration; `source_name` says where it came from in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, ConfigError> {
        let cfg: Self = toml::from_str(text).map_err(|e| ConfigError {
            source_name: source_name.to_owned(),
            message: e.to_string().trim().to_owned(),
        })?;
        cfg.validate().map_err(|message| ConfigError {
            source_name: source_name.to_owned(),
            message,
        })?;
        Ok(cfg)
    }

    /// The shipped default.
    pub fn shipped() -> Self {
        Self::parse(DEFAULT_CONFIG, "model.toml (built in)").expect("the shipped model.toml parses")
    }

    fn validate(&self) -> Result<(), String> {
        let g = &self.generator;
        if !(0.0..=1.0).contains(&g.min_confidence) {
            return Err(format!(
                "generator.min_confidence = {}: must be between 0 and 1",
                g.min_confidence
            ));
        }
        if self.retrieval.top_k == 0 || self.retrieval.top_k > 50 {
            return Err(format!("retrieval.top_k = {}: must be 1 to 50", self.retrieval.top_k));
        }
        if self.chunking.max_words < 10 {
            return Err(format!(
                "chunking.max_words = {}: must be at least 10",
                self.chunking.max_words
            ));
        }
        if self.guardrails.max_input_chars == 0 {
            return Err("guardrails.max_input_chars must be positive".into());
        }
        if !self.prompt.user.contains("{question}") || !self.prompt.user.contains("{passages}") {
            return Err("prompt.user must contain {question} and {passages}".into());
        }
        Ok(())
    }

    /// The configuration as TOML (what is logged as the `config.toml` artifact).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a model config serializes")
    }

    /// SHA-256 of the configuration's TOML and the KB manifest hash: two servings
    /// with the same fingerprint behave the same.
    pub fn fingerprint(&self, kb_manifest_sha256: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.to_toml().as_bytes());
        h.update(b"|kb:");
        h.update(kb_manifest_sha256.as_bytes());
        hex::encode(h.finalize())
    }

    /// Flat `key = value` pairs for MLflow params.
    pub fn params(&self) -> Vec<(String, String)> {
        let value = toml::Value::try_from(self).expect("a model config is a TOML table");
        let mut out = Vec::new();
        flatten("", &value, &mut out);
        out
    }
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        toml::Value::Array(a) => out.push((
            prefix.to_owned(),
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
        )),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

/// Which configuration is serving and where it came from (footer, `/health`).
#[derive(Debug, Clone, Serialize)]
pub struct Serving {
    /// `registry` (an MLflow model version by alias) or `local`.
    pub source: &'static str,
    /// `helpbot`.
    pub name: String,
    /// The registry version number, when served from the registry.
    pub version: Option<String>,
    /// The alias asked for (`champion`).
    pub alias: Option<String>,
    /// The configuration's label.
    pub label: String,
    /// `models:/helpbot@champion` or `local:model.toml`.
    pub uri: String,
    /// SHA-256 of the configuration and KB manifest, first 12 hex digits.
    pub fingerprint: String,
    /// Why the local configuration is serving, when an alias was asked for.
    pub note: Option<String>,
    pub kb_manifest_sha256: String,
    /// Generator actually used (the environment may override the configuration's).
    pub generator: String,
}

impl Serving {
    /// One line for the footer: `helpbot v3 (models:/helpbot@champion) · 1.0.0 · 3f2a…`.
    pub fn display(&self) -> String {
        match &self.version {
            Some(v) => format!("{} v{v} · {} · {}", self.name, self.uri, self.label),
            None => format!("{} {} · {}", self.name, self.label, self.uri),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_round_trips_and_flattens() {
        let cfg = ModelConfig::shipped();
        let again = ModelConfig::parse(&cfg.to_toml(), "round trip").unwrap();
        assert_eq!(cfg, again);
        let params = cfg.params();
        assert!(params.iter().any(|(k, v)| k == "generator.kind" && v == "extractive"));
        assert!(params.iter().any(|(k, _)| k == "retrieval.top_k"));
        assert_ne!(cfg.fingerprint("a"), cfg.fingerprint("b"));
    }

    #[test]
    fn bad_config_names_the_key() {
        let err = ModelConfig::parse("name='helpbot'\nlabel='x'\n[retrieval]\ntop_kk = 3\n", "test.toml").unwrap_err();
        assert!(err.to_string().contains("top_kk"), "{err}");
        let err = ModelConfig::parse("name='helpbot'\nlabel='x'\n[generator]\nmin_confidence = 3\n", "t").unwrap_err();
        assert!(err.to_string().contains("min_confidence"), "{err}");
    }
}
