//! HelpBot against a real, running Charter (`charter serve` from `HELPBOT_TEST_CHARTER_BIN`;
//! `.ci/run` builds it first and points the variable at it): the whole governed
//! loop. `helpbot register` logs its run and registers a version through Charter's
//! MLflow API, in the HelpBot project; a gated alias waits for the bundle's
//! approval and a plain one is served; the start-up gate refuses production until
//! the approval is granted; chats are exported over OTLP and read back through the
//! telemetry query API; a thumbs-down becomes an annotation and negative feedback in
//! the statistics.
//!
//! The governance set-up (users, groups, policies, project, bundle) is done with the
//! `charter` CLI, as a person would, and approvals through `/api/v1`; HelpBot itself
//! only calls Charter's public HTTP APIs. Without `HELPBOT_TEST_CHARTER_BIN` the
//! tests say loudly that they are skipped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

struct Charter {
    child: Child,
    bin: PathBuf,
    url: String,
    data: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for Charter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Charter {
    fn cmd(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.env("CHARTER_DATA_DIR", &self.data)
            .env("CHARTER_LOG_LEVEL", "warn")
            .env("CHARTER_URL", &self.url)
            .env_remove("CHARTER_TOKEN")
            .env_remove("CHARTER_DATABASE_URL")
            .env_remove("HELPBOT_TEST_CHARTER_BIN");
        cmd
    }

    fn run(&self, token: Option<&str>, args: &[&str], stdin: Option<&str>) -> String {
        use std::io::Write;
        let mut cmd = self.cmd();
        if let Some(t) = token {
            cmd.env("CHARTER_TOKEN", t);
        }
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        let out: Output = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "`charter {}` failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `/api/v1{path}` (or any path starting with `/v1` or `/api/2.0`) as `token`.
    async fn api(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let url = if path.starts_with("/v1/") || path.starts_with("/api/2.0/") {
            format!("{}{path}", self.url)
        } else {
            format!("{}/api/v1{path}", self.url)
        };
        let mut rb = reqwest::Client::new().request(method, &url).bearer_auth(token);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|_| json!({"raw": text})),
        )
    }

    /// A `GET` that must succeed.
    async fn get(&self, path: &str, token: &str) -> Value {
        let (status, v) = self.api(reqwest::Method::GET, path, token, None).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    fn user(&self, name: &str, role: &str) -> String {
        self.run(
            None,
            &["user", "create", name, "--role", role, "--password-stdin"],
            Some("helpbot-test-password-1\n"),
        );
        self.run(
            None,
            &["token", "create", "--user", name, "--name", "helpbot", "--quiet"],
            None,
        )
        .trim()
        .to_owned()
    }
}

async fn start_charter() -> Option<Charter> {
    let Ok(bin) = std::env::var("HELPBOT_TEST_CHARTER_BIN") else {
        eprintln!(
            "##### HELPBOT_TEST_CHARTER_BIN is not set: HelpBot's tests against a running Charter are SKIPPED #####"
        );
        return None;
    };
    let tmp = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = Charter {
        child: Command::new("true").spawn().unwrap(),
        bin: PathBuf::from(bin),
        url: format!("http://127.0.0.1:{port}"),
        data: tmp.path().join("data"),
        _tmp: tmp,
    };
    std::fs::create_dir_all(&c.data).unwrap();
    let log = std::fs::File::create(c.data.join("../charter.log")).unwrap();
    c.child = c
        .cmd()
        .arg("serve")
        .env("CHARTER_BIND", format!("127.0.0.1:{port}"))
        .current_dir(c.data.parent().unwrap())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{}/ready", c.url)).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60) && c.child.try_wait().unwrap().is_none(),
            "charter did not become ready: {}",
            std::fs::read_to_string(c.data.join("../charter.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(c)
}

/// A policy with one reviewed stage and a gate on starting the app and promoting
/// the model, both waiting for "Launch sign-off" by the model-risk group.
const LAUNCH_POLICY: &str = r#"stages:
  - name: Review
    evidenceSet:
      - id: Local.ownership
        name: Ownership
        definition:
          - artifactType: input
            id: owner
            required: true
            details: {type: textinput, label: Business owner}
    approvals:
      - name: Launch sign-off
        approvers: [model-risk]
gates:
  - name: Launch
    rules:
      - action: start_app
      - action: promote_model
    approvals: [Launch sign-off]
"#;

/// People and governance: a governance admin, a developer who owns project
/// `helpbot`, and a validator in the approver group; optionally the launch policy
/// and a bundle following it. Returns (governance admin, developer, validator) tokens.
fn govern(charter: &Charter, with_bundle: bool) -> (String, String, String) {
    let gov = charter.user("grace", "governance_admin");
    let dev = charter.user("devon", "practitioner");
    let val = charter.user("vera", "practitioner");
    charter.run(None, &["group", "create", "model-risk"], None);
    charter.run(None, &["group", "add-member", "model-risk", "vera"], None);
    charter.run(Some(&dev), &["project", "create", "helpbot"], None);
    if with_bundle {
        let file = charter.data.join("../launch-policy.yaml");
        std::fs::write(&file, LAUNCH_POLICY).unwrap();
        charter.run(
            Some(&gov),
            &["policy", "apply", file.to_str().unwrap(), "--name", "HelpBot launch"],
            None,
        );
        charter.run(Some(&gov), &["policy", "publish", "HelpBot launch"], None);
        charter.run(
            Some(&dev),
            &[
                "bundle",
                "create",
                "--project",
                "helpbot",
                "--name",
                "HelpBot",
                "--policy",
                "HelpBot launch",
            ],
            None,
        );
    }
    (gov, dev, val)
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The `helpbot` binary with only the given settings (nothing from the environment
/// the tests run in).
fn helpbot_cmd(charter: &Charter, token: &str, data: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_helpbot"));
    for (k, _) in std::env::vars() {
        if k.starts_with("HELPBOT_") || k.starts_with("OTEL_") || k.starts_with("MLFLOW_") || k.starts_with("CHARTER_")
        {
            cmd.env_remove(k);
        }
    }
    // Errors read as a person sees them, without a backtrace.
    cmd.env_remove("RUST_BACKTRACE").env_remove("RUST_LIB_BACKTRACE");
    cmd.env("CHARTER_URL", &charter.url)
        .env("CHARTER_TOKEN", token)
        .env("HELPBOT_PROJECT", "helpbot")
        .env("HELPBOT_KB_DIR", root().join("kb"))
        .env("HELPBOT_DATA_DIR", data)
        .env("HELPBOT_LOG_LEVEL", "warn")
        .current_dir(data)
        .args(args)
        .output()
        .unwrap()
}

/// HelpBot's settings for talking to `charter` as `token`.
fn settings_for(charter: &Charter, token: &str, data: &Path) -> helpbot::settings::Settings {
    let mut s = helpbot::settings::Settings::offline(&root().join("kb"), data);
    s.charter_url = Some(charter.url.clone());
    s.charter_token = Some(token.to_owned());
    s.mlflow_uri = Some(charter.url.clone());
    s.mlflow_token = Some(token.to_owned());
    s.otlp_endpoint = Some(charter.url.clone());
    s.feedback_url = Some(charter.url.clone());
    s.telemetry = true;
    s.project = "helpbot".into();
    s
}

/// HelpBot's app, started in this process on a free port.
struct Bot {
    url: String,
    state: Arc<helpbot::server::AppState>,
    http: reqwest::Client,
}

impl Bot {
    async fn start(settings: &helpbot::settings::Settings) -> anyhow::Result<Bot> {
        let state = helpbot::app::build(settings, &mut |_, _| {}).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let app = helpbot::server::router(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Ok(Bot {
            url: format!("http://{addr}"),
            state,
            http: reqwest::Client::new(),
        })
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "POST {path}");
        r.json().await.unwrap()
    }

    async fn health(&self) -> Value {
        self.http
            .get(format!("{}/health", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn page(&self) -> String {
        self.http.get(&self.url).send().await.unwrap().text().await.unwrap()
    }

    /// Export what the batch processor holds (Charter answers once it is stored).
    async fn flush(&self) {
        let s = self.state.clone();
        tokio::task::spawn_blocking(move || s.engine.telemetry.flush())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_gate_names_missing_approvals_and_blocks_production() {
    let Some(charter) = start_charter().await else { return };
    let policy = root().join("../../policies/general-intake.yaml");
    let gov = charter.user("grace", "governance_admin");
    let dev = charter.user("devon", "practitioner");
    for group in ["ai-governance", "model-risk"] {
        charter.run(None, &["group", "create", group], None);
    }
    charter.run(
        Some(&gov),
        &["policy", "apply", policy.to_str().unwrap(), "--name", "General Intake"],
        None,
    );
    charter.run(Some(&gov), &["policy", "publish", "General Intake"], None);
    charter.run(Some(&dev), &["project", "create", "helpbot"], None);
    charter.run(
        Some(&dev),
        &[
            "bundle",
            "create",
            "--project",
            "helpbot",
            "--name",
            "HelpBot",
            "--policy",
            "General Intake",
        ],
        None,
    );

    let data = tempfile::tempdir().unwrap();
    let kb = root().join("kb");
    let mut settings = helpbot::settings::Settings::offline(&kb, data.path());
    settings.charter_url = Some(charter.url.clone());
    settings.charter_token = Some(dev.clone());
    settings.project = "helpbot".into();

    // Development: HelpBot starts, and reports the refusal.
    let report = helpbot::app::gate(&settings, "models:/helpbot@champion")
        .await
        .unwrap()
        .expect("Charter was asked");
    let decision = report.decision.expect("a decision");
    assert!(!decision.allowed);
    assert!(
        decision.missing.iter().any(|m| m.approval == "Intake review"),
        "{decision:?}"
    );

    // Production: HelpBot refuses to start, naming the approval.
    settings.environment = "production".into();
    let err = helpbot::app::gate(&settings, "models:/helpbot@champion")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Intake review") && err.contains("start_app"), "{err}");
    let err = helpbot::app::build(&settings, &mut |_, _| {})
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("Intake review"), "{err}");

    // A token Charter does not know: in production that is a refusal too.
    settings.charter_token = Some("chr_0000000000000000000000000000000000000000000000000000000000000000".into());
    let err = helpbot::app::gate(&settings, "x").await.unwrap_err().to_string();
    assert!(err.contains("could not be checked"), "{err}");

    // Every decision was audited by Charter (gate.denied).
    let audit = charter.run(
        Some(&gov),
        &["audit", "export", "--format", "csv", "--action", "gate.*"],
        None,
    );
    assert!(audit.matches("gate.denied").count() >= 2, "{audit}");
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_in_charter_and_the_gated_alias_and_start_wait_for_the_approval() {
    let Some(charter) = start_charter().await else { return };
    let (gov, dev, val) = govern(&charter, true);
    let data = tempfile::tempdir().unwrap();
    let reports = data.path().join("reports");
    let dataset = root().join("eval/golden.jsonl");

    // `helpbot register --alias champion`: the version is registered, but champion is
    // a gated alias and the bundle's launch approval is missing — Charter's message
    // names it, and HelpBot shows it.
    let out = helpbot_cmd(
        &charter,
        &dev,
        data.path(),
        &[
            "register",
            "--alias",
            "champion",
            "--dataset",
            dataset.to_str().unwrap(),
            "--out",
            reports.to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "a refused alias fails the command:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("registered helpbot version 1 "), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("helpbot version 1 is registered, but its alias @champion was refused (PERMISSION_DENIED)")
            && stderr.contains("Launch sign-off (HelpBot launch on bundle HelpBot")
            && stderr.contains("helpbot alias champion 1"),
        "{stderr}"
    );

    // Read back through Charter's MLflow API: the version, its run's params, metrics
    // and artifacts, all in project `helpbot`.
    let v = charter
        .get("/api/2.0/mlflow/model-versions/get?name=helpbot&version=1", &dev)
        .await;
    let mv = &v["model_version"];
    assert_eq!(mv["status"], "READY");
    assert!(mv["aliases"].as_array().is_none_or(|a| a.is_empty()), "{mv}");
    let run_id = mv["run_id"].as_str().unwrap().to_owned();
    let run = charter
        .get(&format!("/api/2.0/mlflow/runs/get?run_id={run_id}"), &dev)
        .await;
    assert_eq!(run["run"]["info"]["status"], "FINISHED");
    assert!(mv["source"].as_str().unwrap().ends_with("/model"), "{mv}");
    let find = |list: &str, k: &str| {
        run["run"]["data"][list]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == k)
            .map(|p| p["value"].clone())
    };
    let shipped = helpbot::model::ModelConfig::shipped();
    let kb = helpbot::kb::KnowledgeBase::load(&root().join("kb"), &shipped.chunking).unwrap();
    assert_eq!(find("params", "generator.kind"), Some(json!("extractive")));
    assert_eq!(find("params", "retrieval.top_k"), Some(json!("8")));
    assert_eq!(find("params", "kb.manifest_sha256"), Some(json!(kb.manifest.sha256)));
    let report: Value = serde_json::from_slice(&std::fs::read(reports.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        find("metrics", "eval_hit_at_1"),
        Some(report["metrics"]["hit_at_1"].clone())
    );
    assert_eq!(find("metrics", "eval_pii_leak_count"), Some(json!(0.0)));
    for (dir, files) in [
        ("model", ["config.toml", "kb_manifest.json"]),
        ("eval", ["report.json", "report.html"]),
    ] {
        let listing = charter
            .get(
                &format!("/api/2.0/mlflow/artifacts/list?run_id={run_id}&path={dir}"),
                &dev,
            )
            .await;
        for f in files {
            assert!(
                listing["files"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["path"] == format!("{dir}/{f}")),
                "{dir}/{f} missing: {listing}"
            );
        }
    }
    let exp = charter
        .get("/api/2.0/mlflow/experiments/get-by-name?experiment_name=helpbot", &dev)
        .await;
    assert!(
        exp["experiment"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "charter.project" && t["value"] == "helpbot"),
        "{exp}"
    );

    // Charter's audit trail shows the registration and the refused promotion.
    let audit = |action: &'static str| {
        let (charter, gov) = (&charter, &gov);
        async move {
            charter
                .get(&format!("/audit-events?action={action}&limit=100"), gov)
                .await
                .to_string()
        }
    };
    let created = audit("model_version.created").await;
    assert!(created.contains("devon") && created.contains("helpbot"), "{created}");
    assert!(audit("registered_model.created").await.contains("helpbot"));
    let denied = audit("gate.denied").await;
    assert!(denied.contains("helpbot/1 @champion"), "{denied}");

    // A plain alias is set at once, and HelpBot serves it from the registry.
    let out = helpbot_cmd(&charter, &dev, data.path(), &["alias", "staging", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("models:/helpbot@staging now points at version 1"));
    let mut settings = settings_for(&charter, &dev, data.path());
    settings.telemetry = false;
    settings.model_alias = Some("staging".into());
    let bot = Bot::start(&settings).await.unwrap();
    let health = bot.health().await;
    assert_eq!(health["model"]["source"], "registry", "{health}");
    assert_eq!(health["model"]["version"], "1");
    assert_eq!(health["model"]["uri"], "models:/helpbot@staging");
    assert_eq!(health["model"]["kb_manifest_sha256"], kb.manifest.sha256.as_str());
    // Development: the closed gate is reported, and HelpBot starts anyway.
    assert_eq!(health["charter"]["gate"]["decision"]["allowed"], false, "{health}");
    let page = bot.page().await;
    assert!(
        page.contains("helpbot v1 · models:/helpbot@staging") && page.contains("served from the registry"),
        "{page}"
    );

    // Production: HelpBot refuses to start, naming the approval.
    settings.environment = "production".into();
    settings.model_alias = Some("champion".into());
    let err = Bot::start(&settings).await.err().expect("refused").to_string();
    assert!(
        err.contains("start_app") && err.contains("Launch sign-off (HelpBot launch on bundle HelpBot"),
        "{err}"
    );

    // The approval, through /api/v1: the developer answers and asks for review, the
    // validator approves.
    let bundles = charter.get("/bundles?project=helpbot", &dev).await;
    let bundle = bundles
        .as_array()
        .and_then(|b| b.first())
        .or_else(|| bundles["items"].as_array().and_then(|b| b.first()))
        .unwrap_or_else(|| panic!("no bundle: {bundles}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = charter
        .api(
            reqwest::Method::PUT,
            &format!("/bundles/{bundle}/answers"),
            &dev,
            Some(json!({"policy": "HelpBot launch", "input": "owner", "value": "Head of Service Desk"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, requested) = charter
        .api(
            reqwest::Method::POST,
            &format!("/bundles/{bundle}/stages/Review/request-review"),
            &dev,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{requested}");
    let approval = &requested["approvals"][0];
    let (status, decided) = charter
        .api(
            reqwest::Method::POST,
            &format!("/approvals/{}/decision", approval["id"].as_str().unwrap()),
            &val,
            Some(json!({"outcome": "approve", "version": approval["version"]})),
        )
        .await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["approval"]["granted"], true, "{decided}");

    // Now the promotion is allowed, and production starts serving the champion.
    let out = helpbot_cmd(&charter, &dev, data.path(), &["alias", "champion", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bot = Bot::start(&settings).await.unwrap();
    let health = bot.health().await;
    assert_eq!(health["environment"], "production");
    assert_eq!(health["charter"]["gate"]["decision"]["allowed"], true, "{health}");
    assert_eq!(health["model"]["source"], "registry");
    assert_eq!(health["model"]["uri"], "models:/helpbot@champion");
    let allowed = audit("gate.allowed").await;
    assert!(
        allowed.contains("start_app") && allowed.contains("helpbot/1 @champion"),
        "{allowed}"
    );
    assert!(audit("model_alias.set").await.contains("champion"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_are_traced_in_charter_and_a_thumbs_down_is_negative_feedback() {
    let Some(charter) = start_charter().await else { return };
    let (gov, dev, _) = govern(&charter, false);
    let data = tempfile::tempdir().unwrap();
    let settings = settings_for(&charter, &dev, data.path());
    let bot = Bot::start(&settings).await.unwrap();
    let health = bot.health().await;
    assert_eq!(health["telemetry"]["traces_url"], format!("{}/v1/traces", charter.url));

    let ask = |message: &'static str| {
        let bot = &bot;
        async move {
            bot.post(
                "/api/chat",
                json!({"message": message, "session_id": "s-42", "user_id": "sam"}),
            )
            .await
        }
    };
    let a1 = ask("How do I reset my password? I'm jo.bloggs@example.org").await;
    assert_eq!(a1["outcome"], "answered", "{a1}");
    let a2 = ask("How long until a locked account unlocks?").await;
    bot.flush().await;

    // The trace, read back through Charter's query API: a CHAIN root with the
    // session and user, and its GUARDRAIL, RETRIEVER and LLM children.
    let t = charter
        .get(
            &format!("/projects/helpbot/traces/{}", a1["trace_id"].as_str().unwrap()),
            &dev,
        )
        .await;
    assert_eq!(t["roots"].as_array().unwrap().len(), 1, "{t}");
    let root = &t["roots"][0];
    assert_eq!(root["span_id"], a1["span_id"]);
    assert_eq!(root["name"], "helpbot.chat");
    assert_eq!(root["span_kind"], "CHAIN");
    assert_eq!(root["session_id"], "s-42");
    assert_eq!(root["user_id"], "sam");
    assert_eq!(root["status"], "OK");
    let input = root["input"].as_str().unwrap();
    assert!(input.contains("[EMAIL]") && !input.contains("jo.bloggs"), "{input}");
    assert_eq!(root["output"], a1["answer"]);
    assert_eq!(root["resource"]["service.name"], "helpbot", "{}", root["resource"]);
    assert_eq!(
        root["attributes"]["helpbot.outcome"], "answered",
        "{}",
        root["attributes"]
    );
    let children = root["children"].as_array().unwrap();
    let of_kind = |k: &str| children.iter().filter(|c| c["span_kind"] == k).collect::<Vec<_>>();
    let guardrails: Vec<&str> = of_kind("GUARDRAIL")
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        guardrails.len(),
        4,
        "input_length, pii_redaction, prompt_injection, out_of_scope: {guardrails:?}"
    );
    for g in ["guardrail.pii_redaction", "guardrail.prompt_injection"] {
        assert!(guardrails.contains(&g), "{guardrails:?}");
    }
    let retriever = of_kind("RETRIEVER");
    assert_eq!(retriever.len(), 1);
    let doc = &retriever[0]["documents"][0];
    assert!(
        doc["id"]
            .as_str()
            .unwrap()
            .starts_with("it-access/reset-your-password.md#"),
        "{doc}"
    );
    assert!(doc["score"].as_f64().unwrap() > 0.0);
    let llm = of_kind("LLM");
    assert_eq!(llm[0]["model"], "helpbot-extractive");
    assert!(llm[0]["total_tokens"].as_i64().unwrap() > 0);
    assert!(!llm[0]["output_messages"][0]["content"].as_str().unwrap().is_empty());
    assert!(
        children
            .iter()
            .all(|c| c["depth"] == 1 && c["children"].as_array().unwrap().is_empty()),
        "every step is a child of the CHAIN span"
    );
    // The session holds both turns, oldest first.
    let session = charter.get("/projects/helpbot/sessions/s-42", &dev).await;
    assert_eq!(session["trace_count"], 2, "{session}");
    assert_eq!(session["user_id"], "sam");
    assert_eq!(session["traces"][0]["trace_id"], a1["trace_id"]);
    assert_eq!(session["traces"][1]["trace_id"], a2["trace_id"]);

    // A thumbs-down straight after the answer (its span still in the exporter's
    // batch): HelpBot exports it, and the annotation lands on the answer's span.
    let a3 = ask("Can I claim a taxi home after working late?").await;
    let fb = bot
        .post(
            "/api/feedback",
            json!({"span_id": a3["span_id"], "trace_id": a3["trace_id"], "session_id": "s-42",
                   "label": "down", "comment": "no limit given; reply to sam@example.com"}),
        )
        .await;
    assert_eq!(fb["forwarded"], true, "{fb}");
    let ann_id = fb["annotation_ids"][0].as_str().unwrap().to_owned();
    assert!(ann_id.starts_with("ann_"), "{fb}");
    let anns = charter
        .get(
            &format!(
                "/projects/helpbot/annotations?span_ids={}",
                a3["span_id"].as_str().unwrap()
            ),
            &dev,
        )
        .await;
    let ann = &anns["data"][0];
    assert_eq!(ann["id"], ann_id.as_str());
    assert_eq!(ann["name"], "user_feedback");
    assert_eq!(ann["annotator_kind"], "HUMAN");
    assert_eq!(ann["result"]["label"], "thumbs_down");
    assert_eq!(ann["result"]["score"], 0.0);
    let explanation = ann["result"]["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("[EMAIL]") && !explanation.contains("sam@"),
        "{explanation}"
    );
    assert_eq!(ann["negative"], true);
    assert_eq!(ann["metadata"]["session_id"], "s-42");
    let t3 = charter
        .get(
            &format!("/projects/helpbot/traces/{}", a3["trace_id"].as_str().unwrap()),
            &dev,
        )
        .await;
    assert_eq!(t3["roots"][0]["annotations"][0]["result"]["label"], "thumbs_down");
    // A thumbs-up on the first answer; the statistics count both, one negative.
    let fb = bot
        .post(
            "/api/feedback",
            json!({"span_id": a1["span_id"], "trace_id": a1["trace_id"], "label": "up"}),
        )
        .await;
    assert_eq!(fb["forwarded"], true, "{fb}");
    let stats = charter.get("/projects/helpbot/telemetry/stats", &dev).await;
    let total = &stats["total"];
    assert_eq!(total["trace_count"], 3, "{stats}");
    assert_eq!(total["feedback_count"], 2, "{stats}");
    assert_eq!(total["negative_feedback_count"], 1, "{stats}");
    assert_eq!(total["negative_feedback_rate"], 0.5, "{stats}");
    let recorded = charter
        .get("/audit-events?action=annotation.recorded&limit=10", &gov)
        .await
        .to_string();
    assert!(recorded.contains("devon"), "{recorded}");

    // A project ingest token instead of the personal token: its project wins, and
    // it may annotate that project's spans.
    let (status, created) = charter
        .api(
            reqwest::Method::POST,
            "/projects/helpbot/ingest-tokens",
            &dev,
            Some(json!({"name": "helpbot test"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let mut with_ingest = settings_for(&charter, &dev, data.path());
    with_ingest.charter_token = None;
    with_ingest.charter_ingest_token = Some(created["secret"].as_str().unwrap().to_owned());
    let bot2 = Bot::start(&with_ingest).await.unwrap();
    let a4 = bot2
        .post("/api/chat", json!({"message": "How do I connect to the VPN?"}))
        .await;
    let fb = bot2
        .post("/api/feedback", json!({"span_id": a4["span_id"], "label": "up"}))
        .await;
    assert_eq!(fb["forwarded"], true, "{fb}");
    charter
        .get(
            &format!("/projects/helpbot/traces/{}", a4["trace_id"].as_str().unwrap()),
            &dev,
        )
        .await;
    let recorded = charter
        .get("/audit-events?action=annotation.recorded&limit=10", &gov)
        .await
        .to_string();
    assert!(recorded.contains("ingest token `helpbot test`"), "{recorded}");

    // A project Charter does not have: chats still work, feedback is kept locally,
    // and HelpBot says why it was not forwarded.
    let mut elsewhere = settings_for(&charter, &dev, data.path());
    elsewhere.project = "nowhere".into();
    let bot3 = Bot::start(&elsewhere).await.unwrap();
    let a5 = bot3
        .post("/api/chat", json!({"message": "How do I connect to the VPN?"}))
        .await;
    assert_eq!(a5["outcome"], "answered");
    let fb = bot3
        .post("/api/feedback", json!({"span_id": a5["span_id"], "label": "down"}))
        .await;
    assert_eq!(
        (fb["saved"].as_bool(), fb["forwarded"].as_bool()),
        (Some(true), Some(false))
    );
    assert!(fb["note"].as_str().unwrap().contains("does not know span"), "{fb}");
    let health = bot3.health().await;
    assert!(
        health["charter"]["gate"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("nowhere"),
        "{health}"
    );
}
