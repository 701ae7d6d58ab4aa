//! Start-up: choose the model configuration (a registered version by alias, or the
//! local file), index the knowledge base, set up telemetry, ask Charter's gate, and
//! build the web app's state.

use std::sync::Arc;

use anyhow::Context as _;

use crate::charter::{self, FeedbackSink};
use crate::mlflow;
use crate::server::{AppState, GateReport, IndexReport};
use crate::settings::{self, Chosen, Settings};
use crate::telemetry::Telemetry;

/// Choose what to serve: `models:/<name>@<alias>` when the tracking server answers,
/// else the local configuration (with the reason).
pub async fn choose(settings: &Settings) -> anyhow::Result<(Chosen, Option<mlflow::RegisteredConfig>)> {
    choose_with(settings, None).await
}

/// [`choose`], or a given model version: a configuration file, a registry version
/// number, or an alias. An explicit version that cannot be loaded is an error (not
/// a silent fallback).
pub async fn choose_with(
    settings: &Settings,
    selector: Option<&str>,
) -> anyhow::Result<(Chosen, Option<mlflow::RegisteredConfig>)> {
    if let Some(sel) = selector.filter(|s| std::path::Path::new(s).is_file()) {
        let text = std::fs::read_to_string(sel).with_context(|| format!("reading {sel}"))?;
        let config = crate::model::ModelConfig::parse(&text, sel)?;
        return Ok((settings::local_serving(config, format!("local:{sel}"), "", None), None));
    }
    let (local, uri) = settings.local_config()?;
    let wanted = selector.map(str::to_owned).or_else(|| settings.model_alias.clone());
    let (Some(alias), Some(tracking)) = (wanted, &settings.mlflow_uri) else {
        if let Some(sel) = selector {
            anyhow::bail!(
                "model version `{sel}`: no such file, and no MLflow tracking server is configured (MLFLOW_TRACKING_URI or CHARTER_URL)"
            );
        }
        let note = settings
            .model_alias
            .as_ref()
            .map(|_| "no MLflow tracking server configured".to_owned());
        return Ok((settings::local_serving(local, uri, "", note), None));
    };
    let client = mlflow::Client::new(tracking, settings.mlflow_token.clone());
    let by_version = alias.chars().all(|c| c.is_ascii_digit());
    let loaded = if by_version {
        client.load_by_version(&settings.model_name, &alias).await
    } else {
        client.load_by_alias(&settings.model_name, &alias).await
    };
    match loaded {
        Ok(reg) => {
            let config = reg.config.clone();
            let fingerprint = config.fingerprint(&reg.kb_manifest_sha256)[..12].to_owned();
            let serving = crate::model::Serving {
                source: "registry",
                name: settings.model_name.clone(),
                version: Some(reg.version.clone()),
                alias: (!by_version).then(|| alias.clone()),
                label: config.label.clone(),
                uri: if by_version {
                    format!("models:/{}/{alias}", settings.model_name)
                } else {
                    format!("models:/{}@{alias}", settings.model_name)
                },
                fingerprint,
                note: None,
                kb_manifest_sha256: reg.kb_manifest_sha256.clone(),
                generator: config.generator.kind.as_str().to_owned(),
            };
            Ok((Chosen { config, serving }, Some(reg)))
        }
        Err(e) if selector.is_some() => Err(anyhow::anyhow!("model version `{alias}`: {e}")),
        Err(e) => {
            tracing::warn!(error = %e, "serving the local configuration");
            Ok((
                settings::local_serving(
                    local,
                    uri,
                    "",
                    Some(format!("models:/{}@{alias} not loaded: {e}", settings.model_name)),
                ),
                None,
            ))
        }
    }
}

/// Ask Charter's gate for `start_app`. In production a refusal (or no answer) stops
/// the start with the missing approvals named; in development it is a warning.
pub async fn gate(settings: &Settings, target: &str) -> anyhow::Result<Option<GateReport>> {
    let Some(url) = &settings.charter_url else {
        return Ok(None);
    };
    let client = charter_client::Client::new(url, settings.charter_token.clone());
    let production = settings.environment == "production";
    let report = match charter::check_gate(&client, &settings.project, target).await {
        Ok(decision) => {
            if !decision.allowed {
                let missing = decision
                    .missing
                    .iter()
                    .map(|m| format!("{} ({} on bundle {}, {})", m.approval, m.policy, m.bundle, m.status))
                    .collect::<Vec<_>>()
                    .join("; ");
                if production {
                    anyhow::bail!(
                        "Charter's gate refuses start_app for project `{}`: missing approvals: {missing}",
                        settings.project
                    );
                }
                tracing::warn!(project = %settings.project, missing = %missing, "gate: start_app is not approved (development: starting anyway)");
            } else {
                tracing::info!(project = %settings.project, message = %decision.message, "gate: start_app allowed");
            }
            GateReport {
                project: settings.project.clone(),
                decision: Some(decision),
                error: None,
            }
        }
        Err(e) => {
            if production {
                anyhow::bail!(
                    "Charter's gate could not be checked for project `{}`: {e}",
                    settings.project
                );
            }
            tracing::warn!(error = %e, "gate: could not ask Charter (development: starting anyway)");
            GateReport {
                project: settings.project.clone(),
                decision: None,
                error: Some(e.to_string()),
            }
        }
    };
    Ok(Some(report))
}

/// Why traces sent to Charter would be refused, found at start-up. Charter takes
/// spans only for a project that exists and that the token may write in, and the
/// OpenTelemetry exporter logs only a status code when it refuses them; so when
/// traces go to Charter with a personal token, HelpBot asks Charter about the
/// project first. `None` when nothing is wrong (or nothing can be checked: with a
/// project ingest token the token's project is used, whatever HelpBot names).
pub async fn telemetry_problem(settings: &Settings) -> Option<String> {
    let endpoint = settings.otlp_endpoint.as_deref().filter(|_| settings.telemetry)?;
    if !settings.is_charter(endpoint) || settings.charter_ingest_token.is_some() {
        return None;
    }
    let url = settings.charter_url.as_deref()?;
    let project = &settings.project;
    let Some(token) = &settings.charter_token else {
        return Some(format!(
            "traces go to Charter ({url}) without a token: Charter refuses them (401) unless it accepts anonymous \
             spans; set CHARTER_TOKEN or CHARTER_INGEST_TOKEN"
        ));
    };
    let client = charter_client::Client::new(url, Some(token.clone()));
    let path = format!("/projects/{}", path_segment(project));
    match client.get::<serde_json::Value>(&path).await {
        Ok(_) => None,
        Err(charter_client::ClientError::Api { status: 404, .. }) => Some(format!(
            "project `{project}` does not exist in Charter ({url}), so Charter refuses HelpBot's traces and \
             feedback: create it (`charter project create {project}`) or set HELPBOT_PROJECT to an existing one"
        )),
        Err(charter_client::ClientError::Api { status, message, .. }) => Some(format!(
            "Charter ({url}) will not take traces for project `{project}` with CHARTER_TOKEN: {message} (HTTP {status})"
        )),
        Err(e) => Some(format!("{e}: traces are dropped while Charter cannot be reached")),
    }
}

/// A project name as one URL path segment.
fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Everything up to a ready app state.
pub async fn build(settings: &Settings, progress: &mut dyn FnMut(usize, usize)) -> anyhow::Result<Arc<AppState>> {
    let (chosen, _) = choose(settings).await?;
    let gate = gate(settings, &chosen.serving.uri).await?;
    let telemetry_problem = telemetry_problem(settings).await;
    if let Some(p) = &telemetry_problem {
        tracing::warn!("telemetry: {p}");
    }
    let (engine, index) = build_engine(settings, chosen, progress).await?;
    let feedback = FeedbackSink {
        url: settings.feedback_url.clone(),
        token: settings.feedback_token(),
        journal: settings.data_dir.join("feedback.jsonl"),
        http: reqwest::Client::new(),
    };
    Ok(Arc::new(AppState {
        engine,
        feedback,
        gate,
        telemetry_problem,
        charter_url: settings.charter_url.clone(),
        environment: settings.environment.clone(),
        index,
    }))
}

/// Index the knowledge base for a chosen configuration and build the engine.
pub async fn build_engine(
    settings: &Settings,
    mut chosen: Chosen,
    progress: &mut dyn FnMut(usize, usize),
) -> anyhow::Result<(crate::chat::Engine, IndexReport)> {
    let (retriever, source, path, build_ms) = {
        let settings = settings.clone();
        let config = chosen.config.clone();
        tokio::task::block_in_place(|| settings::load_index(&settings, &config, progress))?
    };
    let kb_sha = retriever.kb().manifest.sha256.clone();
    if chosen.serving.source == "local" {
        chosen.serving.fingerprint = chosen.config.fingerprint(&kb_sha)[..12].to_owned();
        chosen.serving.kb_manifest_sha256 = kb_sha.clone();
    } else if chosen.serving.kb_manifest_sha256 != kb_sha {
        let note = format!(
            "the knowledge base differs from the one registered (registered {}…, serving {}…)",
            &chosen.serving.kb_manifest_sha256.get(..12).unwrap_or(""),
            &kb_sha[..12]
        );
        tracing::warn!("{note}");
        chosen.serving.note = Some(note);
    }
    let telemetry = Telemetry::init(&settings.telemetry_settings(&chosen.serving.display()))
        .context("setting up OpenTelemetry export")?;
    let engine = settings::engine(settings, chosen, retriever, telemetry)?;
    Ok((
        engine,
        IndexReport {
            source,
            path: Some(path.display().to_string()),
            build_ms,
        },
    ))
}
