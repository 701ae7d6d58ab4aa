//! The `charter` binary as an operator uses it: bootstrap, tokens, audit verify and
//! export, tampering caught with a non-zero exit, backup and restore.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn charter(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_charter"))
        .args(args)
        .env("CHARTER_DATA_DIR", data_dir)
        .env_remove("CHARTER_DATABASE_URL")
        .env("CHARTER_LOG_LEVEL", "warn")
        .current_dir(data_dir.parent().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("charter runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "charter failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ok(&charter(
        &data,
        &["user", "create", "alice", "--admin", "--password-stdin"],
        Some("alice-password-1\n"),
    ));
    ok(&charter(
        &data,
        &["group", "create", "validators", "--description", "Model validation"],
        None,
    ));
    ok(&charter(&data, &["group", "add-member", "validators", "alice"], None));
    (tmp, data)
}

async fn tamper(data: &Path, sql: &[&str]) {
    let store = charter_store::Store::connect(&charter_store::StoreOptions::sqlite_file(&data.join("charter.db")))
        .await
        .unwrap();
    for statement in [
        "DROP TRIGGER audit_events_no_update",
        "DROP TRIGGER audit_events_no_delete",
    ]
    .iter()
    .chain(sql)
    {
        sqlx_exec(&store, statement).await;
    }
    store.close().await;
}

async fn sqlx_exec(store: &charter_store::Store, sql: &str) {
    let mut tx = store.begin().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit_unaudited("test tampering").await.unwrap();
}

#[test]
fn a_new_operator_bootstraps_an_admin_and_a_token() {
    let (_tmp, data) = setup();
    let users = ok(&charter(&data, &["user", "list"], None));
    assert!(users.contains("alice") && users.contains("admin"), "{users}");
    let token = ok(&charter(
        &data,
        &["token", "create", "--user", "alice", "--name", "ci", "--quiet"],
        None,
    ));
    assert!(token.trim().starts_with("chr_") && token.trim().len() == 68, "{token}");
    let listed = ok(&charter(&data, &["token", "list", "--user", "alice"], None));
    assert!(
        listed.contains("ci") && listed.contains("active") && !listed.contains(token.trim()),
        "{listed}"
    );
    let members = ok(&charter(&data, &["group", "members", "validators"], None));
    assert!(members.contains("alice"));
}

#[test]
fn without_a_terminal_the_password_must_come_from_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let out = charter(&tmp.path().join("data"), &["user", "create", "bob"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));
}

#[test]
fn bad_configuration_names_the_key_and_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_charter"))
        .args(["migrate"])
        .env("CHARTER_DATA_DIR", tmp.path())
        .env("CHARTER_DATABASE__SQLITE_SYNCHRONOUS", "sometimes")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database.sqlite_synchronous"), "{err}");
}

#[test]
fn audit_export_filters_and_verify_passes_on_an_honest_log() {
    let (_tmp, data) = setup();
    let csv = ok(&charter(
        &data,
        &["audit", "export", "--format", "csv", "--action", "group.*"],
        None,
    ));
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("seq,id,occurred_at"), "{csv}");
    assert_eq!(lines.len(), 3, "header + group.created + group.member_added: {csv}");
    assert!(lines.iter().skip(1).all(|l| l.contains(",group.")));
    ok(&charter(&data, &["audit", "checkpoint"], None));
    let verified = ok(&charter(&data, &["audit", "verify"], None));
    assert!(verified.contains("audit chain OK: 3 events"), "{verified}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_payload_fails_verify_naming_the_event() {
    let (_tmp, data) = setup();
    tamper(
        &data,
        &["UPDATE audit_events SET payload = '{\"after\":{\"name\":\"auditors\"}}' WHERE seq = 2"],
    )
    .await;
    let out = charter(&data, &["audit", "verify"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AUDIT CHAIN BROKEN") && err.contains("first broken event: #2 evt_"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_signed_events_is_caught_by_exported_checkpoints() {
    let (tmp, data) = setup();
    ok(&charter(&data, &["audit", "checkpoint"], None));
    let exported = tmp.path().join("checkpoints.json");
    ok(&charter(
        &data,
        &["audit", "checkpoints", "--output", exported.to_str().unwrap()],
        None,
    ));
    // An attacker removes the newest event and the checkpoint that signed it, and
    // rewinds the head row.
    tamper(
        &data,
        &[
            "DELETE FROM audit_events WHERE seq = 3",
            "DELETE FROM audit_checkpoints",
            "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_events WHERE seq = 2) WHERE id = 1",
        ],
    )
    .await;
    let plain = charter(&data, &["audit", "verify"], None);
    assert!(
        plain.status.success(),
        "without the exported checkpoints the truncation is invisible"
    );
    let out = charter(
        &data,
        &["audit", "verify", "--checkpoints", exported.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("#3") && err.contains("truncated"), "{err}");
}

#[test]
fn a_backup_restores_into_a_fresh_data_directory() {
    let (tmp, data) = setup();
    let backup = tmp.path().join("backup.db");
    ok(&charter(&data, &["backup", backup.to_str().unwrap()], None));
    let fresh = tmp.path().join("restored");
    let restored = ok(&charter(&fresh, &["restore", backup.to_str().unwrap()], None));
    assert!(restored.contains("1 users"), "{restored}");
    // The restored copy verifies with the original key.
    std::fs::copy(data.join("audit-signing.key"), fresh.join("audit-signing.key")).unwrap();
    let verified = ok(&charter(&fresh, &["audit", "verify"], None));
    assert!(verified.contains("audit chain OK: 3 events"), "{verified}");
    let again = charter(&fresh, &["restore", backup.to_str().unwrap()], None);
    assert!(!again.status.success(), "restoring over a database needs --force");
}
