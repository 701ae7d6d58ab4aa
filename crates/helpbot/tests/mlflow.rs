//! `helpbot register` against a real `mlflow server` (from PyPI, pinned in
//! tests/python/requirements.txt), started here on a free loopback port with a
//! temporary SQLite backend and artifact store: the run's params, metrics and
//! artifacts, the registered versions, the alias, and HelpBot serving
//! `models:/helpbot@champion` from it.
//!
//! `MLFLOW_BIN` names the `mlflow` executable (`.ci/run` sets it to the CI
//! virtualenv's); without it the test says loudly that it is skipped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct MlflowServer {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_mlflow() -> Option<MlflowServer> {
    let Ok(bin) = std::env::var("MLFLOW_BIN") else {
        eprintln!("##### MLFLOW_BIN is not set: the real-MLflow registration test is SKIPPED #####");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("mlflow.log")).unwrap();
    let child = Command::new(&bin)
        .args([
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--workers",
            "1",
            "--backend-store-uri",
            &format!("sqlite:///{}", dir.path().join("mlflow.db").display()),
            "--artifacts-destination",
            &dir.path().join("artifacts").display().to_string(),
        ])
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .env("DO_NOT_TRACK", "true")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {bin}: {e}"));
    let url = format!("http://127.0.0.1:{port}");
    let server = MlflowServer { child, url, _dir: dir };
    let http = reqwest::Client::new();
    let started = Instant::now();
    // Wait for readiness (bounded): the server answers /health once migrated.
    loop {
        if let Ok(r) = http.get(format!("{}/health", server.url)).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "mlflow server did not become ready: {}",
            std::fs::read_to_string(server._dir.path().join("mlflow.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Some(server)
}

async fn get(url: &str) -> Value {
    let r = reqwest::get(url).await.unwrap();
    assert!(r.status().is_success(), "GET {url}: {}", r.status());
    r.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_versions_in_real_mlflow_and_serves_the_alias() {
    let Some(server) = start_mlflow().await else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = tempfile::tempdir().unwrap();
    let mut settings = helpbot::settings::Settings::offline(&root.join("kb"), data.path());
    settings.mlflow_uri = Some(server.url.clone());
    let dataset = helpbot::eval::load_dataset(&root.join("eval/golden.jsonl")).unwrap();

    // Version 1: the shipped configuration, alias champion.
    let (config, uri) = settings.local_config().unwrap();
    let chosen = helpbot::settings::local_serving(config, uri, "", None);
    let (engine, _) = helpbot::app::build_engine(&settings, chosen, &mut |_, _| {})
        .await
        .unwrap();
    let report = helpbot::eval::run(&engine, &dataset, "golden.jsonl", &mut |_| {}).await;
    let out = tempfile::tempdir().unwrap();
    let r1 = helpbot::register::register(&settings, "helpbot", &engine, &report, out.path(), Some("champion"))
        .await
        .unwrap();
    assert_eq!(r1.version, "1");

    // The run holds params, metrics and artifacts.
    let run = get(&format!("{}/api/2.0/mlflow/runs/get?run_id={}", server.url, r1.run_id)).await;
    let data_ = &run["run"]["data"];
    let param = |k: &str| {
        data_["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == k)
            .map(|p| p["value"].as_str().unwrap().to_owned())
    };
    assert_eq!(param("generator.kind").as_deref(), Some("extractive"));
    assert_eq!(param("retrieval.top_k").as_deref(), Some("8"));
    assert_eq!(
        param("kb.manifest_sha256").as_deref(),
        Some(engine.retriever.kb().manifest.sha256.as_str())
    );
    let metric = |k: &str| {
        data_["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == k)
            .and_then(|m| m["value"].as_f64())
    };
    assert_eq!(metric("eval_hit_at_1"), Some(report.metrics.hit_at_1));
    assert_eq!(metric("eval_pii_leak_count"), Some(0.0));
    assert_eq!(run["run"]["info"]["status"], "FINISHED");
    let artifact_root = run["run"]["info"]["artifact_uri"]
        .as_str()
        .unwrap()
        .trim_start_matches("mlflow-artifacts:/")
        .to_owned();
    for (dir, file) in [
        ("model", "config.toml"),
        ("model", "kb_manifest.json"),
        ("eval", "report.json"),
        ("eval", "report.html"),
    ] {
        let listing = get(&format!(
            "{}/api/2.0/mlflow-artifacts/artifacts?path={artifact_root}/{dir}",
            server.url
        ))
        .await;
        assert!(
            listing["files"].as_array().unwrap().iter().any(|f| f["path"] == file),
            "{dir}/{file} missing: {listing}"
        );
    }

    // HelpBot serves models:/helpbot@champion from this server.
    settings.model_alias = Some("champion".into());
    let (chosen, _) = helpbot::app::choose(&settings).await.unwrap();
    assert_eq!(chosen.serving.source, "registry");
    assert_eq!(chosen.serving.version.as_deref(), Some("1"));
    assert_eq!(chosen.serving.uri, "models:/helpbot@champion");
    assert_eq!(chosen.config, engine.config);

    // Version 2: a changed configuration; moving the alias changes what is served.
    let mut changed = engine.config.clone();
    changed.label = "1.0.1".into();
    changed.generator.max_sentences = 4;
    let chosen2 = helpbot::settings::local_serving(changed.clone(), "local:test".into(), "", None);
    let (engine2, _) = helpbot::app::build_engine(&settings, chosen2, &mut |_, _| {})
        .await
        .unwrap();
    let report2 = helpbot::eval::run(&engine2, &dataset, "golden.jsonl", &mut |_| {}).await;
    let r2 = helpbot::register::register(&settings, "helpbot", &engine2, &report2, out.path(), Some("champion"))
        .await
        .unwrap();
    assert_eq!(r2.version, "2");
    let (chosen, _) = helpbot::app::choose(&settings).await.unwrap();
    assert_eq!(chosen.serving.version.as_deref(), Some("2"));
    assert_eq!(chosen.serving.label, "1.0.1");
    assert_eq!(chosen.config.generator.max_sentences, 4);
    // A pinned version still loads the old one.
    let (chosen, _) = helpbot::app::choose_with(&settings, Some("1")).await.unwrap();
    assert_eq!(chosen.serving.uri, "models:/helpbot/1");
    assert_eq!(chosen.config.label, engine.config.label);

    // An alias that does not exist falls back to the local configuration, saying why.
    settings.model_alias = Some("nope".into());
    let (chosen, _) = helpbot::app::choose(&settings).await.unwrap();
    assert_eq!(chosen.serving.source, "local");
    assert!(chosen.serving.note.unwrap().contains("models:/helpbot@nope"));
    // ... but asking for it explicitly is an error.
    assert!(helpbot::app::choose_with(&settings, Some("nope")).await.is_err());
}
