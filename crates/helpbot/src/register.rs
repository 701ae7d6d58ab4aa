//! `helpbot register` and `helpbot eval --log-to-charter`: an MLflow run with the
//! configuration's params, the evaluation's metrics and the artifacts (config, KB
//! manifest, evaluation reports), and a new version of the registered model.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::chat::Engine;
use crate::eval::Report;
use crate::mlflow::Client;
use crate::settings::Settings;

/// Write `report.json` and `report.html` into `dir`.
pub fn write_reports(report: &Report, dir: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json_path = dir.join("report.json");
    let html_path = dir.join("report.html");
    std::fs::write(&json_path, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    std::fs::write(&html_path, crate::eval::html(report))
        .with_context(|| format!("writing {}", html_path.display()))?;
    Ok((json_path, html_path))
}

fn tracking(settings: &Settings) -> anyhow::Result<Client> {
    let uri = settings
        .mlflow_uri
        .as_deref()
        .context("no MLflow tracking server: set MLFLOW_TRACKING_URI (or CHARTER_URL)")?;
    Ok(Client::new(uri, settings.mlflow_token.clone()))
}

/// What a registration made.
#[derive(Debug, Clone)]
pub struct Registered {
    pub run_id: String,
    pub experiment_id: String,
    pub version: String,
    /// The alias now pointing at the version.
    pub alias: Option<String>,
    /// Why the alias asked for was not set (the version is registered all the same):
    /// Charter refuses a gated alias such as `champion` while approvals are missing.
    pub alias_refused: Option<AliasRefused>,
}

/// An alias the tracking server would not set.
#[derive(Debug, Clone)]
pub struct AliasRefused {
    pub alias: String,
    /// The server's error code (`PERMISSION_DENIED` for Charter's promotion gate).
    pub code: Option<String>,
    /// The server's sentence (Charter's names the missing approvals), or the error.
    pub message: String,
}

impl std::fmt::Display for AliasRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "alias @{} was refused ({code}): {}", self.alias, self.message),
            None => write!(f, "alias @{} was not set: {}", self.alias, self.message),
        }
    }
}

/// Point `alias` at `version` of the registered model; a refusal (Charter's
/// promotion gate) comes back as [`AliasRefused`] with the server's message.
pub async fn set_alias(settings: &Settings, alias: &str, version: &str) -> anyhow::Result<Result<(), AliasRefused>> {
    let client = tracking(settings)?;
    Ok(set_alias_with(&client, &settings.model_name, alias, version).await)
}

async fn set_alias_with(client: &Client, model: &str, alias: &str, version: &str) -> Result<(), AliasRefused> {
    client.set_alias(model, alias, version).await.map_err(|e| AliasRefused {
        alias: alias.to_owned(),
        code: e.code().map(str::to_owned),
        message: e.server_message().map_or_else(|| e.to_string(), str::to_owned),
    })
}

#[expect(clippy::too_many_arguments, reason = "one run's pieces, passed once")]
async fn log_run(
    client: &Client,
    project: &str,
    experiment: &str,
    run_name: &str,
    engine: &Engine,
    report: &Report,
    json_path: &Path,
    html_path: &Path,
) -> anyhow::Result<crate::mlflow::Run> {
    let exp = client.experiment(experiment, Some(project)).await?;
    let kb = engine.retriever.kb();
    let fingerprint = engine.config.fingerprint(&kb.manifest.sha256);
    let tags = vec![
        ("mlflow.source.name".to_owned(), "helpbot".to_owned()),
        ("mlflow.source.type".to_owned(), "LOCAL".to_owned()),
        ("helpbot.fingerprint".to_owned(), fingerprint),
        ("helpbot.kb_manifest_sha256".to_owned(), kb.manifest.sha256.clone()),
        ("helpbot.dataset".to_owned(), report.dataset.clone()),
        (
            "helpbot.thresholds_met".to_owned(),
            report.failures.is_empty().to_string(),
        ),
    ];
    let run = client.create_run(&exp, run_name, &tags).await?;
    let result = async {
        let mut params = engine.config.params();
        params.push(("kb.manifest_sha256".into(), kb.manifest.sha256.clone()));
        params.push(("kb.articles".into(), kb.articles.len().to_string()));
        params.push(("kb.chunks".into(), kb.chunks.len().to_string()));
        params.push(("generator.served".into(), engine.generator.as_str().into()));
        client
            .log_batch(&run.run_id, &params, &report.metrics.as_pairs())
            .await?;
        client
            .upload_artifact(
                &run.artifact_uri,
                "model/config.toml",
                engine.config.to_toml().into_bytes(),
                "text/plain",
            )
            .await?;
        client
            .upload_artifact(
                &run.artifact_uri,
                "model/kb_manifest.json",
                serde_json::to_vec_pretty(&kb.manifest)?,
                "application/json",
            )
            .await?;
        client
            .upload_artifact(
                &run.artifact_uri,
                "eval/report.json",
                std::fs::read(json_path)?,
                "application/json",
            )
            .await?;
        client
            .upload_artifact(
                &run.artifact_uri,
                "eval/report.html",
                std::fs::read(html_path)?,
                "text/html",
            )
            .await?;
        anyhow::Ok(())
    }
    .await;
    match result {
        Ok(()) => {
            client.finish_run(&run.run_id, "FINISHED").await?;
            Ok(run)
        }
        Err(e) => {
            let _ = client.finish_run(&run.run_id, "FAILED").await;
            Err(e)
        }
    }
}

/// Log an evaluation as an MLflow run; returns its run id.
pub async fn log_eval_run(
    settings: &Settings,
    experiment: &str,
    engine: &Engine,
    report: &Report,
    json_path: &Path,
    html_path: &Path,
) -> anyhow::Result<String> {
    let client = tracking(settings)?;
    let name = format!("eval-{}-{}", engine.config.label, &engine.serving.fingerprint);
    let run = log_run(
        &client,
        &settings.project,
        experiment,
        &name,
        engine,
        report,
        json_path,
        html_path,
    )
    .await?;
    Ok(run.run_id)
}

/// Log a run for the engine's configuration and evaluation, and register it as a
/// new version of `settings.model_name`, optionally pointing `alias` at it. The
/// experiment and the registered model are put in Charter project
/// `settings.project` (the `charter.project` tag). An alias the server refuses
/// does not undo the registration: it is reported in [`Registered::alias_refused`].
pub async fn register(
    settings: &Settings,
    experiment: &str,
    engine: &Engine,
    report: &Report,
    reports_dir: &Path,
    alias: Option<&str>,
) -> anyhow::Result<Registered> {
    let client = tracking(settings)?;
    let (json_path, html_path) = write_reports(report, reports_dir)?;
    let name = format!("helpbot-{}-{}", engine.config.label, &engine.serving.fingerprint);
    let run = log_run(
        &client,
        &settings.project,
        experiment,
        &name,
        engine,
        report,
        &json_path,
        &html_path,
    )
    .await?;
    let model = &settings.model_name;
    client
        .ensure_registered_model(
            model,
            "HelpBot, the Northwind help-desk assistant (a versioned configuration)",
            Some(&settings.project),
        )
        .await?;
    let source = format!("{}/model", run.artifact_uri.trim_end_matches('/'));
    let m = &report.metrics;
    let description = format!(
        "{} — {}; eval on {}: hit@1 {:.3}, fact recall {:.3}, correct refusal {:.3}, PII leaks {}",
        engine.config.label,
        engine.config.description,
        report.dataset,
        m.hit_at_1,
        m.fact_recall,
        m.correct_refusal_rate,
        m.pii_leak_count
    );
    let tags = vec![
        ("helpbot.fingerprint".to_owned(), engine.serving.fingerprint.clone()),
        (
            "helpbot.kb_manifest_sha256".to_owned(),
            engine.retriever.kb().manifest.sha256.clone(),
        ),
        ("helpbot.label".to_owned(), engine.config.label.clone()),
    ];
    let version = client
        .create_model_version(model, &source, &run.run_id, &description, &tags)
        .await?;
    let mut alias_refused = None;
    if let Some(a) = alias
        && let Err(refused) = set_alias_with(&client, model, a, &version).await
    {
        alias_refused = Some(refused);
    }
    Ok(Registered {
        run_id: run.run_id,
        experiment_id: run.experiment_id,
        version,
        alias: alias.filter(|_| alias_refused.is_none()).map(str::to_owned),
        alias_refused,
    })
}
