//! HelpBot's settings, read from the environment (`.env.example` documents each
//! one), and the start-up that turns them into a running [`Engine`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;

use crate::chat::Engine;
use crate::generate::LlmEndpoint;
use crate::kb::KnowledgeBase;
use crate::model::{GeneratorKind, ModelConfig, Serving};
use crate::retrieval::{IndexSource, Retriever};
use crate::telemetry::{Telemetry, TelemetrySettings, parse_headers};

/// Every setting, with its environment variable.
#[derive(Clone)]
pub struct Settings {
    /// `HELPBOT_KB_DIR`: the knowledge base (default `crates/helpbot/kb`).
    pub kb_dir: PathBuf,
    /// `HELPBOT_DATA_DIR`: index cache and feedback journal (default `.helpbot`).
    pub data_dir: PathBuf,
    /// `HELPBOT_MODEL_CONFIG`: a model configuration file (default: the built-in `model.toml`).
    pub model_config: Option<PathBuf>,
    /// `HELPBOT_GENERATOR`: overrides the configuration's generator.
    pub generator: Option<GeneratorKind>,
    /// `HELPBOT_LLM_BASE_URL` (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`).
    pub llm_base_url: Option<String>,
    /// `HELPBOT_LLM_MODEL`: overrides the configuration's model name.
    pub llm_model: Option<String>,
    /// `HELPBOT_LLM_API_KEY` (or `OPENAI_API_KEY`).
    pub llm_api_key: Option<String>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (default: `CHARTER_URL`).
    pub otlp_endpoint: Option<String>,
    /// `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`).
    pub otlp_headers: String,
    /// `HELPBOT_TELEMETRY=off` exports nothing.
    pub telemetry: bool,
    /// `HELPBOT_PROJECT`: the project in Charter (gate) and in traces (default `helpbot`).
    pub project: String,
    /// `CHARTER_URL`.
    pub charter_url: Option<String>,
    /// `CHARTER_TOKEN`: an API token (`chr_…`).
    pub charter_token: Option<String>,
    /// `CHARTER_INGEST_TOKEN`: a project ingest token (`chi_…`) for traces and
    /// feedback sent to Charter (default: `CHARTER_TOKEN`).
    pub charter_ingest_token: Option<String>,
    /// `MLFLOW_TRACKING_URI` (default: `CHARTER_URL`, which speaks MLflow's REST API).
    pub mlflow_uri: Option<String>,
    /// `MLFLOW_TRACKING_TOKEN` (default: `CHARTER_TOKEN`).
    pub mlflow_token: Option<String>,
    /// `HELPBOT_MODEL_NAME`: the registered model (default `helpbot`).
    pub model_name: String,
    /// `HELPBOT_MODEL_ALIAS`: the alias served (default `champion`); empty serves the local file.
    pub model_alias: Option<String>,
    /// `HELPBOT_ENV`: `development` (default) or `production`.
    pub environment: String,
    /// `HELPBOT_EMBEDDINGS_DIR`: a local Model2Vec model for hybrid retrieval (used
    /// when the model version's `retrieval.embedding_weight` > 0).
    pub embeddings_dir: Option<PathBuf>,
    /// `HELPBOT_FEEDBACK_URL`: the annotation API (default: Charter's).
    pub feedback_url: Option<String>,
    /// `HELPBOT_FEEDBACK_TOKEN` as set; [`Settings::feedback_token`] adds Charter's
    /// tokens when the annotation API is Charter.
    pub feedback_token: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("kb_dir", &self.kb_dir)
            .field("charter_url", &self.charter_url)
            .field("mlflow_uri", &self.mlflow_uri)
            .field("otlp_endpoint", &self.otlp_endpoint)
            .finish_non_exhaustive()
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Settings {
    /// Read the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        let charter_url = var("CHARTER_URL").map(|u| u.trim_end_matches('/').to_owned());
        let charter_token = var("CHARTER_TOKEN");
        let generator = match var("HELPBOT_GENERATOR") {
            None => None,
            Some(g) => Some(
                GeneratorKind::parse(&g)
                    .with_context(|| format!("HELPBOT_GENERATOR=`{g}`: use `extractive` or `openai`"))?,
            ),
        };
        let environment = var("HELPBOT_ENV")
            .unwrap_or_else(|| "development".into())
            .to_ascii_lowercase();
        if environment != "development" && environment != "production" {
            anyhow::bail!("HELPBOT_ENV=`{environment}`: use `development` or `production`");
        }
        let telemetry = match var("HELPBOT_TELEMETRY").as_deref() {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => anyhow::bail!("HELPBOT_TELEMETRY=`{other}`: use `on` or `off`"),
        };
        Ok(Self {
            kb_dir: var("HELPBOT_KB_DIR").map_or_else(|| PathBuf::from("crates/helpbot/kb"), PathBuf::from),
            data_dir: var("HELPBOT_DATA_DIR").map_or_else(|| PathBuf::from(".helpbot"), PathBuf::from),
            model_config: var("HELPBOT_MODEL_CONFIG").map(PathBuf::from),
            generator,
            llm_base_url: var("HELPBOT_LLM_BASE_URL"),
            llm_model: var("HELPBOT_LLM_MODEL"),
            llm_api_key: var("HELPBOT_LLM_API_KEY").or_else(|| var("OPENAI_API_KEY")),
            otlp_endpoint: var("OTEL_EXPORTER_OTLP_ENDPOINT").or_else(|| charter_url.clone()),
            otlp_headers: var("OTEL_EXPORTER_OTLP_HEADERS").unwrap_or_default(),
            telemetry,
            project: var("HELPBOT_PROJECT").unwrap_or_else(|| "helpbot".into()),
            mlflow_uri: var("MLFLOW_TRACKING_URI").or_else(|| charter_url.clone()),
            mlflow_token: var("MLFLOW_TRACKING_TOKEN").or_else(|| charter_token.clone()),
            model_name: var("HELPBOT_MODEL_NAME").unwrap_or_else(|| "helpbot".into()),
            model_alias: match std::env::var("HELPBOT_MODEL_ALIAS") {
                Ok(a) if a.trim().is_empty() => None,
                Ok(a) => Some(a.trim().to_owned()),
                Err(_) => Some("champion".into()),
            },
            environment,
            embeddings_dir: var("HELPBOT_EMBEDDINGS_DIR").map(PathBuf::from),
            feedback_url: var("HELPBOT_FEEDBACK_URL").or_else(|| charter_url.clone()),
            feedback_token: var("HELPBOT_FEEDBACK_TOKEN"),
            charter_ingest_token: var("CHARTER_INGEST_TOKEN"),
            charter_url,
            charter_token,
        })
    }

    /// A settings value for tests and benchmarks: the given KB, nothing remote.
    pub fn offline(kb_dir: &Path, data_dir: &Path) -> Self {
        Self {
            kb_dir: kb_dir.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            model_config: None,
            generator: None,
            llm_base_url: None,
            llm_model: None,
            llm_api_key: None,
            otlp_endpoint: None,
            otlp_headers: String::new(),
            telemetry: false,
            project: "helpbot".into(),
            charter_url: None,
            charter_token: None,
            charter_ingest_token: None,
            mlflow_uri: None,
            mlflow_token: None,
            model_name: "helpbot".into(),
            model_alias: None,
            environment: "development".into(),
            embeddings_dir: None,
            feedback_url: None,
            feedback_token: None,
        }
    }

    /// The local model configuration (file or built-in) and where it came from.
    pub fn local_config(&self) -> anyhow::Result<(ModelConfig, String)> {
        match &self.model_config {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
                Ok((
                    ModelConfig::parse(&text, &p.display().to_string())?,
                    format!("local:{}", p.display()),
                ))
            }
            None => Ok((ModelConfig::shipped(), "local:model.toml".into())),
        }
    }

    /// Whether `url` is the configured Charter (so Charter's tokens may be sent to it).
    pub fn is_charter(&self, url: &str) -> bool {
        self.charter_url.as_deref().is_some_and(|cu| {
            let url = url.trim_end_matches('/');
            url == cu || url.strip_prefix(cu).is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// The token sent with traces and feedback to Charter: the ingest token, else
    /// the personal one.
    fn charter_ingest(&self) -> Option<&String> {
        self.charter_ingest_token.as_ref().or(self.charter_token.as_ref())
    }

    /// The token for the annotation API: `HELPBOT_FEEDBACK_TOKEN`, else — when the
    /// annotation API is Charter — Charter's ingest or personal token. A Charter
    /// token is never sent to another service.
    pub fn feedback_token(&self) -> Option<String> {
        self.feedback_token.clone().or_else(|| {
            self.feedback_url
                .as_deref()
                .filter(|u| self.is_charter(u))
                .and_then(|_| self.charter_ingest().cloned())
        })
    }

    /// The telemetry settings.
    pub fn telemetry_settings(&self, service_version: &str) -> TelemetrySettings {
        let mut headers = parse_headers(&self.otlp_headers);
        // Exporting to Charter itself: authenticate with Charter's ingest token (its
        // project wins) or the personal token, and name the project the way Phoenix
        // clients do (Charter also reads the resource's `openinference.project.name`).
        if self.otlp_endpoint.as_deref().is_some_and(|ep| self.is_charter(ep)) {
            if let Some(t) = self.charter_ingest()
                && !headers.keys().any(|k| k.eq_ignore_ascii_case("authorization"))
            {
                headers.insert("authorization".into(), format!("Bearer {t}"));
            }
            if !headers.keys().any(|k| k.eq_ignore_ascii_case("x-project-name")) {
                headers.insert("x-project-name".into(), self.project.clone());
            }
        }
        TelemetrySettings {
            endpoint: if self.telemetry {
                self.otlp_endpoint.clone()
            } else {
                None
            },
            headers,
            project: self.project.clone(),
            service_version: service_version.to_owned(),
            environment: self.environment.clone(),
        }
    }
}

/// A configuration chosen for serving.
pub struct Chosen {
    pub config: ModelConfig,
    pub serving: Serving,
}

/// Load the KB and index it (cached under the data directory), with a progress
/// callback for `helpbot index`.
pub fn load_index(
    settings: &Settings,
    config: &ModelConfig,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<(Retriever, IndexSource, PathBuf, f64)> {
    let started = Instant::now();
    let kb = KnowledgeBase::load(&settings.kb_dir, &config.chunking)?;
    let total = kb.chunks.len();
    let kb = Arc::new(kb);
    let (mut retriever, source, path) = Retriever::cached(
        kb,
        config.retrieval.clone(),
        &settings.data_dir.join("index"),
        &mut |n| progress(n, total),
    )?;
    match (&settings.embeddings_dir, config.retrieval.embedding_weight > 0.0) {
        (Some(dir), true) => retriever.attach_embeddings(dir)?,
        (None, true) => tracing::warn!(
            "the model version asks for hybrid retrieval (retrieval.embedding_weight > 0) but HELPBOT_EMBEDDINGS_DIR is not set: BM25 only"
        ),
        (Some(dir), false) => tracing::info!(
            dir = %dir.display(),
            "HELPBOT_EMBEDDINGS_DIR is set but the model version's retrieval.embedding_weight is 0: not used"
        ),
        (None, false) => {}
    }
    Ok((retriever, source, path, started.elapsed().as_secs_f64() * 1000.0))
}

/// Build the engine for a chosen configuration.
pub fn engine(
    settings: &Settings,
    chosen: Chosen,
    retriever: Retriever,
    telemetry: Telemetry,
) -> anyhow::Result<Engine> {
    let Chosen {
        mut config,
        mut serving,
    } = chosen;
    let generator = settings.generator.unwrap_or(config.generator.kind);
    if let Some(m) = &settings.llm_model {
        config.generator.model = m.clone();
    }
    let llm = match generator {
        GeneratorKind::Extractive => None,
        GeneratorKind::Openai => {
            let base = settings
                .llm_base_url
                .clone()
                .context("the openai generator needs HELPBOT_LLM_BASE_URL (e.g. https://api.openai.com/v1)")?;
            Some(LlmEndpoint {
                base_url: base,
                api_key: settings.llm_api_key.clone(),
                http: reqwest::Client::builder()
                    .connect_timeout(std::time::Duration::from_secs(10))
                    .build()?,
            })
        }
    };
    serving.generator = match generator {
        GeneratorKind::Extractive => "extractive".into(),
        GeneratorKind::Openai => format!("openai ({})", config.generator.model),
    };
    if settings.generator.is_some_and(|g| g != config.generator.kind) {
        serving.generator.push_str(" — overridden by HELPBOT_GENERATOR");
    }
    Ok(Engine::new(config, serving, retriever, generator, llm, telemetry))
}

/// The local configuration as a serving.
pub fn local_serving(config: ModelConfig, uri: String, kb_sha: &str, note: Option<String>) -> Chosen {
    let fingerprint = config.fingerprint(kb_sha)[..12].to_owned();
    let serving = Serving {
        source: "local",
        name: config.name.clone(),
        version: None,
        alias: None,
        label: config.label.clone(),
        uri,
        fingerprint,
        note,
        kb_manifest_sha256: kb_sha.to_owned(),
        generator: config.generator.kind.as_str().to_owned(),
    };
    Chosen { config, serving }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charter_settings() -> Settings {
        let mut s = Settings::offline(Path::new("kb"), Path::new("data"));
        s.telemetry = true;
        s.charter_url = Some("http://charter:8080".into());
        s.charter_token = Some("chr_personal".into());
        s.otlp_endpoint = s.charter_url.clone();
        s.feedback_url = s.charter_url.clone();
        s.project = "helpbot".into();
        s
    }

    #[test]
    fn traces_and_feedback_to_charter_carry_its_token_and_the_project() {
        let mut s = charter_settings();
        let t = s.telemetry_settings("v1");
        assert_eq!(t.headers["authorization"], "Bearer chr_personal");
        assert_eq!(t.headers["x-project-name"], "helpbot");
        assert_eq!(s.feedback_token().as_deref(), Some("chr_personal"));
        // An ingest token wins for traces and feedback.
        s.charter_ingest_token = Some("chi_ingest".into());
        assert_eq!(s.telemetry_settings("v1").headers["authorization"], "Bearer chi_ingest");
        assert_eq!(s.feedback_token().as_deref(), Some("chi_ingest"));
        // Headers given explicitly are kept.
        s.otlp_headers = "Authorization=Bearer%20mine,x-project-name=other".into();
        let t = s.telemetry_settings("v1");
        assert_eq!(t.headers["Authorization"], "Bearer mine");
        assert_eq!(t.headers["x-project-name"], "other");
        assert_eq!(t.headers.len(), 2);
    }

    #[test]
    fn charter_tokens_are_not_sent_elsewhere() {
        let mut s = charter_settings();
        s.otlp_endpoint = Some("http://phoenix:6006".into());
        s.feedback_url = Some("http://phoenix:6006".into());
        assert!(s.telemetry_settings("v1").headers.is_empty());
        assert_eq!(s.feedback_token(), None);
        // A host that merely starts like Charter's is another host.
        s.otlp_endpoint = Some("http://charter:80801".into());
        assert!(!s.is_charter("http://charter:80801"));
        assert!(s.is_charter("http://charter:8080/v1/traces"));
        s.feedback_token = Some("phoenix-key".into());
        assert_eq!(s.feedback_token().as_deref(), Some("phoenix-key"));
    }
}
