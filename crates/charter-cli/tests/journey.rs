//! The workshop's governance journey, end to end, through the `charter` CLI against a
//! running server — on SQLite, and on PostgreSQL when `CHARTER_TEST_POSTGRES_URL` is set:
//! publish General Intake, create the HelpBot bundle, answer (classification changes,
//! a conditional section appears), request review, approve with a condition and a
//! finding, resolve it, approve the next stage, pass the launch gate, copy the evidence
//! into "HelpBot Model Update", confirm, approve, complete — and the audit chain
//! verifies with every step in it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

struct Server {
    child: Child,
    url: String,
    data: PathBuf,
    db_url: Option<String>,
    _tmp: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn charter_cmd(server: &Server) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_charter"));
    cmd.env("CHARTER_DATA_DIR", &server.data)
        .env("CHARTER_LOG_LEVEL", "warn")
        .env("CHARTER_URL", &server.url)
        .env_remove("CHARTER_TOKEN")
        .current_dir(server.data.parent().unwrap());
    match &server.db_url {
        Some(u) => cmd.env("CHARTER_DATABASE_URL", u),
        None => cmd.env_remove("CHARTER_DATABASE_URL"),
    };
    cmd
}

/// Run `charter ARGS` as `token`'s owner (or as the operator when `None`).
fn run(server: &Server, token: Option<&str>, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut cmd = charter_cmd(server);
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
    child.wait_with_output().unwrap()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "`{what}` failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn json(out: Output, what: &str) -> Value {
    let text = ok(out, what);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("`{what}` did not print JSON ({e}): {text}"))
}

async fn start(db_url: Option<String>) -> Server {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Server {
        child: Command::new("true").spawn().unwrap(),
        url: format!("http://127.0.0.1:{port}"),
        data,
        db_url,
        _tmp: tmp,
    };
    let mut cmd = charter_cmd(&server);
    server.child = cmd
        .arg("serve")
        .env("CHARTER_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{}/ready", server.url)).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "charter serve did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
}

fn user(server: &Server, name: &str, role: &str) -> String {
    ok(
        run(
            server,
            None,
            &["user", "create", name, "--role", role, "--password-stdin"],
            Some("journey-password-1\n"),
        ),
        "user create",
    );
    ok(
        run(
            server,
            None,
            &["token", "create", "--user", name, "--name", "journey", "--quiet"],
            None,
        ),
        "token create",
    )
    .trim()
    .to_owned()
}

async fn journey(db_url: Option<String>) {
    let s = start(db_url).await;
    let policy_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/general-intake.yaml");
    let policy_file = policy_file.to_str().unwrap();

    // People: a governance admin, a developer, a validator in both approver groups.
    let gov = user(&s, "grace", "governance_admin");
    let dev = user(&s, "devon", "practitioner");
    let val = user(&s, "valerie", "practitioner");
    for group in ["ai-governance", "model-risk"] {
        ok(run(&s, None, &["group", "create", group], None), "group create");
        ok(
            run(&s, None, &["group", "add-member", group, "valerie"], None),
            "group add-member",
        );
    }

    // The governance admin publishes General Intake.
    ok(
        run(
            &s,
            Some(&gov),
            &["policy", "apply", policy_file, "--name", "General Intake"],
            None,
        ),
        "policy apply",
    );
    ok(
        run(&s, Some(&gov), &["policy", "publish", "General Intake"], None),
        "policy publish",
    );

    // The developer creates the HelpBot project and bundle.
    ok(
        run(&s, Some(&dev), &["project", "create", "helpbot"], None),
        "project create",
    );
    let bundle = json(
        run(
            &s,
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
                "--json",
            ],
            None,
        ),
        "bundle create",
    );
    let b = bundle["id"].as_str().unwrap().to_owned();

    let answer = |bundle: &str, input: &str, value: &str| -> Value {
        json(
            run(
                &s,
                Some(&dev),
                &[
                    "bundle",
                    "answer",
                    bundle,
                    "--policy",
                    "General Intake",
                    input,
                    value,
                    "--json",
                ],
                None,
            ),
            &format!("answer {input}"),
        )
    };
    for (input, value) in [
        ("use-case-name", "HelpBot internal support assistant"),
        (
            "use-case-description",
            "Answers staff questions from the help-centre articles, with citations.",
        ),
        ("business-owner", "Dana Whitfield, Head of IT Service"),
        ("affected-users", "staff"),
        ("human-review", "sample"),
        ("data-sources", "The help-centre knowledge base; staff questions."),
        ("proposed-tier", "Medium"),
        (
            "proposed-tier-reason",
            "Internal users only; personal data may appear in questions.",
        ),
    ] {
        answer(&b, input, value);
    }
    // Classification follows the answers: an LLM informing decisions is Medium…
    answer(&b, "model-type", "llm");
    answer(
        &b,
        "llm-provider",
        "Offline extractive generator; optional OpenAI-compatible endpoint",
    );
    answer(&b, "data-leaves-firm", "No");
    let medium = answer(&b, "decision-impact", "informs");
    assert_eq!(medium["classification"], "Medium");
    // …a decision-making system is High, and the high-risk controls section appears…
    let high = answer(&b, "decision-impact", "decides");
    assert_eq!(high["classification"], "High");
    assert!(
        high["visible_sets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "Local.high-risk-controls"),
        "{high}"
    );
    let back = answer(&b, "decision-impact", "informs");
    assert_eq!(back["classification"], "Medium");
    assert!(
        back["hidden_sets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "Local.high-risk-controls")
    );
    // …and personal data reveals the personal-data section.
    let pd = answer(&b, "personal-data", "Yes");
    assert!(
        pd["visible_sets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "Local.personal-data-handling"),
        "{pd}"
    );
    for (input, value) in [
        ("special-categories", "No"),
        ("lawful-basis", "Legitimate interests"),
        (
            "data-minimisation",
            "E-mail addresses and phone numbers are redacted before logging.",
        ),
        ("retention", "30 days"),
        ("dpia-status", "In progress"),
    ] {
        answer(&b, input, value);
    }
    let last = answer(&b, "output-safeguards", r#"["grounding","refusal","pii-filter"]"#);
    // Everything the Intake stage requires is answered; only the next stage's question is left.
    assert_eq!(
        last["missing_required"],
        serde_json::json!(["review-frequency"]),
        "{last}"
    );

    // Review: the validator approves with a condition and a finding.
    ok(
        run(
            &s,
            Some(&dev),
            &[
                "bundle",
                "request-review",
                &b,
                "--policy",
                "General Intake",
                "--stage",
                "Intake",
            ],
            None,
        ),
        "request review",
    );
    let tasks = ok(run(&s, Some(&val), &["task", "list"], None), "task list");
    assert!(tasks.contains("approval"), "the validator has a review task: {tasks}");
    // The developer who answered may not approve (separation of duties).
    let refused = run(
        &s,
        Some(&dev),
        &[
            "bundle",
            "approve",
            "Intake review",
            "--bundle",
            &b,
            "--signoff",
            "intake-decision=Proceed",
            "--signoff",
            "intake-confirmed-tier=Medium",
        ],
        None,
    );
    assert!(!refused.status.success(), "the bundle's creator cannot approve it");
    ok(
        run(
            &s,
            Some(&val),
            &[
                "bundle",
                "approve-with-conditions",
                "Intake review",
                "--bundle",
                &b,
                "--signoff",
                "intake-decision=Proceed with conditions",
                "--signoff",
                "intake-conditions=Add a PII redaction test to the evaluation set.",
                "--signoff",
                "intake-confirmed-tier=Medium",
                "--finding",
                "PII redaction is untested|high|2099-12-31",
            ],
            None,
        ),
        "approve with conditions",
    );
    let findings = json(
        run(&s, Some(&dev), &["finding", "list", "--bundle", &b, "--json"], None),
        "finding list",
    );
    let finding = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "PII redaction is untested")
        .expect("the condition's finding")
        .clone();
    ok(
        run(
            &s,
            Some(&dev),
            &[
                "finding",
                "resolve",
                finding["id"].as_str().unwrap(),
                "--note",
                "Added 12 PII cases to eval/golden.jsonl; all redacted.",
            ],
            None,
        ),
        "finding resolve",
    );

    // The second stage, then the launch gate opens.
    answer(&b, "review-frequency", "Every year");
    ok(
        run(
            &s,
            Some(&dev),
            &[
                "bundle",
                "request-review",
                &b,
                "--policy",
                "General Intake",
                "--stage",
                "Risk review",
            ],
            None,
        ),
        "request review 2",
    );
    ok(
        run(
            &s,
            Some(&val),
            &["bundle", "approve", "Model risk approval", "--bundle", &b],
            None,
        ),
        "approve stage 2",
    );
    ok(
        run(
            &s,
            Some(&dev),
            &["gate", "check", "--project", "helpbot", "--action", "start_app"],
            None,
        ),
        "gate check",
    );

    // The model update: copy the evidence, confirm it, review again, complete.
    let copy = json(
        run(
            &s,
            Some(&dev),
            &["bundle", "copy", &b, "--name", "HelpBot Model Update", "--json"],
            None,
        ),
        "bundle copy",
    );
    let u = copy["bundle"]["id"].as_str().unwrap().to_owned();
    assert!(copy["plan"]["answers"].as_array().unwrap().len() >= 15, "{copy}");
    let shown = json(
        run(&s, Some(&dev), &["bundle", "show", &u, "--json"], None),
        "bundle show",
    );
    let carried = shown.to_string().matches("\"carried_over\":true").count();
    assert!(carried >= 15, "copied answers are marked carried over: {carried}");
    answer(&u, "use-case-name", "HelpBot internal support assistant");
    answer(
        &u,
        "proposed-tier-reason",
        "Unchanged scope; new retrieval model version.",
    );
    ok(
        run(
            &s,
            Some(&dev),
            &[
                "bundle",
                "request-review",
                &u,
                "--policy",
                "General Intake",
                "--stage",
                "Intake",
            ],
            None,
        ),
        "request review 3",
    );
    ok(
        run(
            &s,
            Some(&val),
            &[
                "bundle",
                "approve",
                "Intake review",
                "--bundle",
                &u,
                "--signoff",
                "intake-decision=Proceed",
                "--signoff",
                "intake-confirmed-tier=Medium",
            ],
            None,
        ),
        "approve update",
    );
    ok(
        run(
            &s,
            Some(&dev),
            &[
                "bundle",
                "request-review",
                &u,
                "--policy",
                "General Intake",
                "--stage",
                "Risk review",
            ],
            None,
        ),
        "request review 4",
    );
    ok(
        run(
            &s,
            Some(&val),
            &["bundle", "approve", "Model risk approval", "--bundle", &u],
            None,
        ),
        "approve update 2",
    );
    let done = ok(
        run(&s, Some(&dev), &["bundle", "complete", &u], None),
        "bundle complete",
    );
    assert!(done.contains("complete"), "{done}");

    // Every step is in the audit trail, and the chain verifies.
    let verified = ok(run(&s, None, &["audit", "verify"], None), "audit verify");
    assert!(verified.contains("audit chain OK"), "{verified}");
    let csv = ok(
        run(&s, None, &["audit", "export", "--format", "csv"], None),
        "audit export",
    );
    for action in [
        "policy.created",
        "policy_version.published",
        "project.created",
        "bundle.created",
        "evidence.answered",
        "bundle.classified",
        "approval.requested",
        "approval.conditionally_granted",
        "finding.created",
        "finding.resolved",
        "approval.granted",
        "gate.allowed",
        "evidence.carried_over",
        "evidence.confirmed",
        "bundle.completed",
    ] {
        assert!(
            csv.contains(&format!(",{action},")),
            "the audit trail records `{action}`"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workshop_journey_runs_through_the_cli_on_sqlite() {
    journey(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workshop_journey_runs_through_the_cli_on_postgres() {
    let Ok(base) = std::env::var("CHARTER_TEST_POSTGRES_URL") else {
        eprintln!(
            "SKIPPED (postgres): CHARTER_TEST_POSTGRES_URL not set; the CLI journey did not run against PostgreSQL"
        );
        return;
    };
    use sqlx::Connection;
    let schema = format!("j_{}", std::process::id());
    let mut conn = sqlx::postgres::PgConnection::connect(&base).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    journey(Some(format!("{base}{sep}options=-c%20search_path%3D{schema}"))).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .unwrap();
}
