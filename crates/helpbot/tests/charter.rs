//! HelpBot against a real, running Charter (`charter serve` from `HELPBOT_TEST_CHARTER_BIN`;
//! `.ci/run` points it at the workspace's build): the start-up gate. The governance
//! set-up (users, the General Intake policy, the HelpBot project and bundle) is done
//! with the `charter` CLI, as a person would; HelpBot itself only calls Charter's
//! public HTTP API. Without `HELPBOT_TEST_CHARTER_BIN` the test says loudly that it is skipped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_up_gate_names_missing_approvals_and_blocks_production() {
    let Some(charter) = start_charter().await else { return };
    let policy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/general-intake.yaml");
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
    let kb = Path::new(env!("CARGO_MANIFEST_DIR")).join("kb");
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
