//! A small client for MLflow's REST API (plain HTTP, as documented by MLflow and
//! spoken by Charter's MLflow-compatible server): experiments, runs, batched
//! params/metrics, proxied artifacts (`/api/2.0/mlflow-artifacts/artifacts/…`), the
//! model registry and aliases. Enough to log a HelpBot model version and to load
//! one back by alias.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::kb::Manifest;
use crate::model::ModelConfig;

/// What went wrong talking to the tracking server.
#[derive(Debug, thiserror::Error)]
pub enum MlflowError {
    #[error("MLflow at {url} unreachable: {reason}")]
    Transport { url: String, reason: String },
    #[error("MLflow {url} answered HTTP {status} {code}: {message}")]
    Api {
        url: String,
        status: u16,
        code: String,
        message: String,
    },
    #[error("MLflow: {0}")]
    Invalid(String),
}

impl MlflowError {
    /// The server's `error_code` (`PERMISSION_DENIED`, `RESOURCE_DOES_NOT_EXIST`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The server's own sentence, when it answered with one.
    pub fn server_message(&self) -> Option<&str> {
        match self {
            Self::Api { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// A tracking-server client.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("mlflow::Client").field("base", &self.base).finish()
    }
}

/// A registered HelpBot version, loaded back.
#[derive(Debug, Clone)]
pub struct RegisteredConfig {
    pub version: String,
    pub run_id: String,
    pub source: String,
    pub config: ModelConfig,
    pub kb_manifest_sha256: String,
}

/// A created run.
#[derive(Debug, Clone)]
pub struct Run {
    pub run_id: String,
    pub experiment_id: String,
    /// `mlflow-artifacts:/<exp>/<run>/artifacts`.
    pub artifact_uri: String,
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl Client {
    /// A client for the server at `base` (`http://127.0.0.1:5000`); `token` is sent
    /// as a Bearer token (Charter API tokens; MLflow's own auth uses Basic).
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn handle(&self, url: String, resp: Result<reqwest::Response, reqwest::Error>) -> Result<Value, MlflowError> {
        let resp = resp.map_err(|e| MlflowError::Transport {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| MlflowError::Transport {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let v: Value = if text.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text}))
        };
        if status.is_success() {
            return Ok(v);
        }
        Err(MlflowError::Api {
            url,
            status: status.as_u16(),
            code: v["error_code"].as_str().unwrap_or("UNKNOWN").to_owned(),
            message: v["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| text.chars().take(300).collect()),
        })
    }

    async fn post(&self, path: &str, body: &impl Serialize) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        let resp = self.auth(self.http.post(&url).json(body)).send().await;
        self.handle(url, resp).await
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        let resp = self.auth(self.http.get(&url).query(query)).send().await;
        self.handle(url, resp).await
    }

    /// The experiment's id, created if missing. A new experiment is tagged
    /// `charter.project` = `project`, which puts it in that Charter project (plain
    /// MLflow keeps the tag as a tag).
    pub async fn experiment(&self, name: &str, project: Option<&str>) -> Result<String, MlflowError> {
        match self.get("experiments/get-by-name", &[("experiment_name", name)]).await {
            Ok(v) => return id(&v["experiment"]["experiment_id"]),
            Err(e) if e.code() == Some("RESOURCE_DOES_NOT_EXIST") => {}
            Err(e) => return Err(e),
        }
        let v = self
            .post(
                "experiments/create",
                &json!({"name": name, "tags": project_tags(project)}),
            )
            .await?;
        id(&v["experiment_id"])
    }

    /// Start a run.
    pub async fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        tags: &[(String, String)],
    ) -> Result<Run, MlflowError> {
        let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        let v = self
            .post(
                "runs/create",
                &json!({"experiment_id": experiment_id, "run_name": run_name, "start_time": now_ms(), "tags": tags}),
            )
            .await?;
        let info = &v["run"]["info"];
        Ok(Run {
            run_id: id(&info["run_id"])?,
            experiment_id: experiment_id.to_owned(),
            artifact_uri: info["artifact_uri"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Log params (at most 100 per request, values cut to 6000 characters) and metrics.
    pub async fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[(String, f64)],
    ) -> Result<(), MlflowError> {
        let ts = now_ms();
        for chunk in params.chunks(100) {
            let params: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| json!({"key": k, "value": v.chars().take(6000).collect::<String>()}))
                .collect();
            self.post("runs/log-batch", &json!({"run_id": run_id, "params": params}))
                .await?;
        }
        for chunk in metrics.chunks(500) {
            let metrics: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| {
                    let value = if v.is_finite() { json!(v) } else { json!("NaN") };
                    json!({"key": k, "value": value, "timestamp": ts, "step": 0})
                })
                .collect();
            self.post("runs/log-batch", &json!({"run_id": run_id, "metrics": metrics}))
                .await?;
        }
        Ok(())
    }

    /// Set a run tag.
    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<(), MlflowError> {
        self.post(
            "runs/set-tag",
            &json!({"run_id": run_id, "run_uuid": run_id, "key": key, "value": value}),
        )
        .await
        .map(|_| ())
    }

    /// The proxied-artifact path of an `mlflow-artifacts:` URI.
    fn artifact_path(uri: &str) -> Result<String, MlflowError> {
        let rest = uri
            .strip_prefix("mlflow-artifacts:")
            .ok_or_else(|| {
                MlflowError::Invalid(format!(
                    "artifact location `{uri}` is not served by the tracking server (start it with artifact serving, the default, so locations are mlflow-artifacts:/…)"
                ))
            })?;
        // `mlflow-artifacts:/1/…` or `mlflow-artifacts://host/1/…`.
        let rest = rest.trim_start_matches('/');
        let rest = if uri.starts_with("mlflow-artifacts://") {
            rest.split_once('/').map_or("", |(_, p)| p)
        } else {
            rest
        };
        Ok(rest.to_owned())
    }

    /// Upload one artifact under a run's artifact URI.
    pub async fn upload_artifact(
        &self,
        artifact_uri: &str,
        rel: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), MlflowError> {
        let path = Self::artifact_path(artifact_uri)?;
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{path}/{rel}", self.base);
        let resp = self
            .auth(
                self.http
                    .put(&url)
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes),
            )
            .send()
            .await;
        self.handle(url, resp).await.map(|_| ())
    }

    /// Download one artifact.
    pub async fn download_artifact(&self, artifact_uri: &str, rel: &str) -> Result<Vec<u8>, MlflowError> {
        let path = Self::artifact_path(artifact_uri)?;
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{path}/{rel}", self.base);
        let resp = self
            .auth(self.http.get(&url))
            .send()
            .await
            .map_err(|e| MlflowError::Transport {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if !resp.status().is_success() {
            return self.handle(url, Ok(resp)).await.map(|_| vec![]);
        }
        resp.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| MlflowError::Transport {
                url,
                reason: e.to_string(),
            })
    }

    /// End a run.
    pub async fn finish_run(&self, run_id: &str, status: &str) -> Result<(), MlflowError> {
        self.post(
            "runs/update",
            &json!({"run_id": run_id, "run_uuid": run_id, "status": status, "end_time": now_ms()}),
        )
        .await
        .map(|_| ())
    }

    /// Create the registered model unless it exists (tagged `charter.project`, like
    /// [`Client::experiment`]).
    pub async fn ensure_registered_model(
        &self,
        name: &str,
        description: &str,
        project: Option<&str>,
    ) -> Result<(), MlflowError> {
        match self
            .post(
                "registered-models/create",
                &json!({"name": name, "description": description, "tags": project_tags(project)}),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("RESOURCE_ALREADY_EXISTS") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Register a version; waits (briefly) until it is READY.
    pub async fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        description: &str,
        tags: &[(String, String)],
    ) -> Result<String, MlflowError> {
        let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        let v = self
            .post(
                "model-versions/create",
                &json!({"name": name, "source": source, "run_id": run_id, "description": description, "tags": tags}),
            )
            .await?;
        let version = id(&v["model_version"]["version"])?;
        let mut status = v["model_version"]["status"].as_str().unwrap_or("READY").to_owned();
        let mut tries = 0;
        while status == "PENDING_REGISTRATION" && tries < 50 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let v = self
                .get("model-versions/get", &[("name", name), ("version", &version)])
                .await?;
            status = v["model_version"]["status"].as_str().unwrap_or("READY").to_owned();
            tries += 1;
        }
        if status != "READY" {
            return Err(MlflowError::Invalid(format!(
                "model version {name}/{version} is {status}"
            )));
        }
        Ok(version)
    }

    /// Point an alias at a version.
    pub async fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), MlflowError> {
        self.post(
            "registered-models/alias",
            &json!({"name": name, "alias": alias, "version": version}),
        )
        .await
        .map(|_| ())
    }

    /// Load `models:/<name>@<alias>`: the version, then its `config.toml` and
    /// `kb_manifest.json` artifacts.
    pub async fn load_by_alias(&self, name: &str, alias: &str) -> Result<RegisteredConfig, MlflowError> {
        let v = self
            .get("registered-models/alias", &[("name", name), ("alias", alias)])
            .await?;
        self.load_version(name, &v["model_version"]).await
    }

    /// Load `models:/<name>/<version>`.
    pub async fn load_by_version(&self, name: &str, version: &str) -> Result<RegisteredConfig, MlflowError> {
        let v = self
            .get("model-versions/get", &[("name", name), ("version", version)])
            .await?;
        self.load_version(name, &v["model_version"]).await
    }

    async fn load_version(&self, name: &str, mv: &Value) -> Result<RegisteredConfig, MlflowError> {
        let version = id(&mv["version"])?;
        let run_id = mv["run_id"].as_str().unwrap_or_default().to_owned();
        let source = match self
            .get(
                "model-versions/get-download-uri",
                &[("name", name), ("version", &version)],
            )
            .await
        {
            Ok(d) => d["artifact_uri"].as_str().map(str::to_owned),
            Err(_) => None,
        }
        .or_else(|| mv["source"].as_str().map(str::to_owned))
        .ok_or_else(|| MlflowError::Invalid(format!("model version {name}/{version} has no source")))?;
        let config_bytes = self.download_artifact(&source, "config.toml").await?;
        let text = String::from_utf8(config_bytes)
            .map_err(|_| MlflowError::Invalid(format!("{source}/config.toml is not UTF-8")))?;
        let config = ModelConfig::parse(&text, &format!("models:/{name}/{version} config.toml"))
            .map_err(|e| MlflowError::Invalid(e.to_string()))?;
        let manifest: Manifest = serde_json::from_slice(&self.download_artifact(&source, "kb_manifest.json").await?)
            .map_err(|e| MlflowError::Invalid(format!("{source}/kb_manifest.json: {e}")))?;
        Ok(RegisteredConfig {
            version,
            run_id,
            source,
            config,
            kb_manifest_sha256: manifest.sha256,
        })
    }
}

/// The tag that names the Charter project an experiment or registered model
/// belongs to (docs/mlflow.md); without it Charter files them in its default project.
pub const PROJECT_TAG: &str = "charter.project";

fn project_tags(project: Option<&str>) -> Vec<Value> {
    project
        .map(|p| json!({"key": PROJECT_TAG, "value": p}))
        .into_iter()
        .collect()
}

fn id(v: &Value) -> Result<String, MlflowError> {
    match v {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(MlflowError::Invalid(format!("expected an id, got {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths() {
        assert_eq!(
            Client::artifact_path("mlflow-artifacts:/1/abc/artifacts").unwrap(),
            "1/abc/artifacts"
        );
        assert_eq!(
            Client::artifact_path("mlflow-artifacts://host:5000/1/abc/artifacts").unwrap(),
            "1/abc/artifacts"
        );
        assert!(
            Client::artifact_path("file:///tmp/x")
                .unwrap_err()
                .to_string()
                .contains("not served")
        );
    }
}
