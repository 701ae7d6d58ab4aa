//! Graceful shutdown: told to stop (SIGTERM), Charter stops accepting connections,
//! finishes the requests in flight, signs a last audit checkpoint and exits cleanly.
//!
//! `serve_on` waits for a real signal, and a signal reaches the whole process, so the
//! server runs in a child process: this test binary itself, running only
//! [`serve_until_told_to_stop`]. Nothing waits on a clock: the request is known to be
//! in flight when the server asks for its body (`100 Continue`), and the shutdown
//! known to have begun when connections are refused.
#![cfg(unix)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use charter_server::Config;
use charter_server::api::token::CreateTokenRequest;
use charter_server::api::user::CreateUserRequest;
use charter_store::AuditContext;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Names the child's data directory; without it the child test does nothing.
const CHILD_ENV: &str = "CHARTER_TEST_SHUTDOWN_CHILD_DIR";
const CHILD_TEST: &str = "shutdown::serve_until_told_to_stop";
/// How long anything may take before the test gives up (a deadline, not a pause).
const PATIENCE: Duration = Duration::from_secs(60);

fn config(dir: &Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    config.log.level = "warn".into();
    config
}

/// The server half, run by [`in_flight_requests_finish_when_the_server_is_told_to_stop`]
/// in a process of its own. A current-thread runtime runs spawned tasks in order, so
/// `serve_on` listens for the signal before it handles the first connection.
#[tokio::test(flavor = "current_thread")]
#[ignore = "the server process of shutdown::in_flight_requests_finish_when_the_server_is_told_to_stop"]
async fn serve_until_told_to_stop() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let state = charter_server::open(config(Path::new(&dir))).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("LISTENING {}", listener.local_addr().unwrap());
    charter_server::serve_on(state, listener)
        .await
        .expect("a clean shutdown");
}

async fn read_until(conn: &mut TcpStream, end: &str) -> String {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(end.as_bytes()) {
        let n = conn.read(&mut byte).await.expect("read from the server");
        assert!(
            n > 0,
            "the server closed the connection early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.push(byte[0]);
    }
    String::from_utf8(seen).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_requests_finish_when_the_server_is_told_to_stop() {
    let dir = tempfile::tempdir().unwrap();
    let token = {
        let state = charter_server::open(config(dir.path())).await.unwrap();
        let ctx = AuditContext::system("test-setup");
        let admin = CreateUserRequest {
            username: "admin".into(),
            display_name: None,
            email: "admin@example.com".into(),
            role: Some("admin".into()),
            password: None,
        };
        let admin = charter_server::api::user::create(&state, &ctx, admin).await.unwrap();
        let request = CreateTokenRequest {
            name: "shutdown test".into(),
            expires_in_days: None,
            expires_at: None,
        };
        let (_, secret) = charter_server::api::token::create(&state, &ctx, &admin, request)
            .await
            .unwrap();
        state.store.close().await;
        secret.expose().to_owned()
    };

    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([CHILD_TEST, "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server process");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = loop {
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .expect("the server process starts")
            .unwrap()
            .expect("the server process prints its address");
        // libtest prints `test <name> ... ` on the same line first.
        if let Some((_, addr)) = line.split_once("LISTENING ") {
            break addr.trim().parse().unwrap();
        }
    };
    let output = tokio::spawn(async move {
        let mut out = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            out.push_str(&line);
            out.push('\n');
        }
        out
    });

    // A request in flight: its headers sent, its body held back until the handler asks.
    let body = r#"{"name":"in-flight"}"#;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/groups HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let interim = tokio::time::timeout(PATIENCE, read_until(&mut conn, "\r\n\r\n"))
        .await
        .expect("the server asks for the body");
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");

    // Told to stop…
    let pid = child.id().expect("the server process runs").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    // …it stops accepting connections (so a load balancer moves on). Polled: the
    // signal arrives when it arrives.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            _ => {
                assert!(Instant::now() < deadline, "the server still accepts connections");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    // …but finishes the request it is in the middle of, and then closes.
    conn.write_all(body.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, conn.read_to_string(&mut response))
        .await
        .expect("the response arrives and the connection closes")
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 201 Created"), "{response}");
    assert!(response.contains(r#""name":"in-flight""#), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "{response}"
    );

    let status = tokio::time::timeout(PATIENCE, child.wait())
        .await
        .expect("the server process exits")
        .unwrap();
    let output = output.await.unwrap();
    assert!(status.success(), "the server process failed ({status}):\n{output}");
    assert!(output.contains("1 passed"), "{output}");

    // The change is there with its event, and the last checkpoint signs it.
    let state = charter_server::open(config(dir.path())).await.unwrap();
    let group = state.store.group_by_name("in-flight").await.unwrap();
    let head = state.store.audit_head().await.unwrap();
    let newest = state.store.audit_events(&Default::default()).await.unwrap().remove(0);
    assert_eq!(
        (newest.action.as_str(), newest.target_id.clone()),
        ("group.created", group.id.to_string())
    );
    assert_eq!(newest.seq, head.seq);
    let checkpoints = state.store.checkpoints().await.unwrap();
    assert_eq!(
        checkpoints.last().map(|c| c.seq),
        Some(head.seq),
        "the last checkpoint signs the final head"
    );
    state
        .store
        .verify_audit(&state.audit_key.verifying_key(), |_| {})
        .await
        .expect("the chain verifies");
    state.store.close().await;
}
