//! `charter bench`: figures for docs/benchmarks.md, measured, never asserted.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use charter_domain::audit::AuditKey;
use charter_server::Config;
use charter_server::api::token::CreateTokenRequest;
use charter_server::api::user::CreateUserRequest;
use charter_store::{AuditContext, Store, StoreOptions};
use clap::Subcommand;
use serde_json::json;

use crate::progress::Progress;

mod governance;
mod ui;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Audit append throughput and `audit verify` speed.
    Audit {
        /// Events to append (and then verify).
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Events per transaction in the bulk phase.
        #[arg(long, default_value_t = 100)]
        batch: u64,
        /// Database to use (default: a fresh SQLite file in a temporary directory).
        /// A PostgreSQL URL must name an empty, disposable database.
        #[arg(long, env = "CHARTER_BENCH_POSTGRES_URL")]
        database_url: Option<String>,
    },
    /// HTTP request rate and latency: `GET /health` and an authenticated API call.
    Http {
        #[arg(long, default_value_t = 20_000)]
        requests: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: u64,
    },
    /// Governance: policy lint of a 500-question policy, evidence saves with
    /// classification recompute, and the dashboard at many bundles.
    Governance {
        /// Bundles to create for the dashboard.
        #[arg(long, default_value_t = 10_000)]
        bundles: u64,
        /// Answers per bundle (10k bundles x 10 = 100k answers).
        #[arg(long, default_value_t = 10)]
        answers_per_bundle: u64,
        /// Evidence saves to time.
        #[arg(long, default_value_t = 500)]
        saves: usize,
    },
    /// The governance web pages over HTTP on the `governance` data: dashboard,
    /// tasks, policy list and editor, live check, audit trail (p50/p99).
    Ui {
        /// Bundles to create.
        #[arg(long, default_value_t = 10_000)]
        bundles: u64,
        /// Answers per bundle.
        #[arg(long, default_value_t = 10)]
        answers_per_bundle: u64,
        /// Requests per page.
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Bundles to copy (their answers become tasks to confirm).
        #[arg(long, default_value_t = 20)]
        copies: usize,
    },
    /// Server start-up time to ready, and idle memory.
    Startup {
        #[arg(long, default_value_t = 7)]
        runs: usize,
    },
}

impl BenchCommand {
    pub async fn run(self, _file: Option<&Path>) -> anyhow::Result<ExitCode> {
        println!("machine: {} cores; charter {}", num_cpus(), env!("CARGO_PKG_VERSION"));
        match self {
            BenchCommand::Audit {
                events,
                batch,
                database_url,
            } => bench_audit(events, batch.max(1), database_url).await?,
            BenchCommand::Http { requests, concurrency } => bench_http(requests, concurrency.max(1)).await?,
            BenchCommand::Governance {
                bundles,
                answers_per_bundle,
                saves,
            } => governance::run(bundles.max(1), answers_per_bundle, saves.max(1)).await?,
            BenchCommand::Ui {
                bundles,
                answers_per_bundle,
                requests,
                copies,
            } => ui::run(bundles.max(1), answers_per_bundle, requests.max(1), copies).await?,
            BenchCommand::Startup { runs } => bench_startup(runs.max(1)).await?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Print a latency row: count, p50, p99 and max.
fn print_latency(label: &str, sorted: &[Duration]) {
    println!(
        "| {label} | p50 {:.2} ms | p99 {:.2} ms | max {:.2} ms |",
        percentile(sorted, 0.50).as_secs_f64() * 1000.0,
        percentile(sorted, 0.99).as_secs_f64() * 1000.0,
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1000.0
    );
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn bench_audit(events: u64, batch: u64, url: Option<String>) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let options = match &url {
        Some(u) => StoreOptions::new(u.clone()),
        None => StoreOptions::sqlite_file(&dir.path().join("bench.db")),
    };
    let store = Store::open(&options).await?;
    if store.audit_count().await? > 0 {
        bail!("the benchmark database already holds audit events; give it an empty database");
    }
    let ctx = AuditContext::system("bench");
    let event = |i: u64| {
        ctx.event(
            "bench.appended",
            "bench",
            i,
            json!({ "i": i, "note": "benchmark event" }),
        )
    };

    // Single-event transactions, as governed changes make them, from 8 writers.
    let single = events.min(4_000);
    let started = Instant::now();
    let per_task = single / 8;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let mut tx = store.begin().await?;
                tx.audit(ctx.event("bench.appended", "bench", t * per_task + i, json!({ "i": i })));
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let single_rate = (per_task * 8) as f64 / started.elapsed().as_secs_f64();

    // Bulk: `batch` events per transaction.
    let mut progress = Progress::new("appending audit events", Some(events));
    let started = Instant::now();
    let mut done = 0;
    while done < events {
        let n = batch.min(events - done);
        let mut tx = store.begin().await?;
        for i in 0..n {
            tx.audit(event(done + i));
        }
        tx.commit().await?;
        done += n;
        progress.set(done);
    }
    progress.finish();
    let bulk_rate = events as f64 / started.elapsed().as_secs_f64();

    let key = AuditKey::from_seed([9; 32]);
    store.checkpoint(&key).await?;
    let total = store.audit_count().await? as u64;
    let mut progress = Progress::new("verifying", Some(total));
    let started = Instant::now();
    let report = store.verify_audit(&key.verifying_key(), |n| progress.set(n)).await?;
    let verify_secs = started.elapsed().as_secs_f64();
    progress.finish();
    let backend = store.backend().as_str();
    println!("| audit append, 1 event/transaction, 8 writers ({backend}) | {single_rate:.0} events/s |");
    println!("| audit append, {batch} events/transaction ({backend}) | {bulk_rate:.0} events/s |");
    println!(
        "| audit verify, {} events ({backend}) | {:.0} events/s ({verify_secs:.2} s) |",
        report.events,
        report.events as f64 / verify_secs
    );
    Ok(())
}

/// Start a server in-process on a random port with a fresh SQLite database, an
/// admin and a token. Returns the base URL and the token.
async fn start_server(dir: &Path) -> anyhow::Result<(String, String)> {
    let config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    let state = charter_server::open(config).await?;
    let ctx = AuditContext::system("bench");
    let admin = charter_server::api::user::create(
        &state,
        &ctx,
        CreateUserRequest {
            username: "bench".into(),
            display_name: None,
            email: "bench@example.com".into(),
            role: Some("admin".into()),
            password: Some("bench-password-123".into()),
        },
    )
    .await
    .map_err(super::api_err)?;
    let (_, secret) = charter_server::api::token::create(
        &state,
        &ctx,
        &admin,
        CreateTokenRequest {
            name: "bench".into(),
            expires_in_days: None,
            expires_at: None,
        },
    )
    .await
    .map_err(super::api_err)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(charter_server::serve_on(state, listener));
    Ok((format!("http://{addr}"), secret.expose().to_owned()))
}

async fn bench_http(requests: u64, concurrency: u64) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (base, token) = start_server(dir.path()).await?;
    for (label, path, auth) in [
        ("GET /health", "/health", false),
        ("GET /api/v1/me (Bearer token)", "/api/v1/me", true),
    ] {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency as usize)
            .build()?;
        let url = format!("{base}{path}");
        // Warm up connections and caches.
        for _ in 0..50 {
            let mut rb = client.get(&url);
            if auth {
                rb = rb.bearer_auth(&token);
            }
            rb.send().await?.error_for_status()?;
        }
        let per_task = requests / concurrency;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let client = client.clone();
            let url = url.clone();
            let token = token.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_task as usize);
                for _ in 0..per_task {
                    let t = Instant::now();
                    let mut rb = client.get(&url);
                    if auth {
                        rb = rb.bearer_auth(&token);
                    }
                    let resp = rb.send().await?;
                    if !resp.status().is_success() {
                        bail!("{url} answered {}", resp.status());
                    }
                    resp.bytes().await?;
                    lat.push(t.elapsed());
                }
                anyhow::Ok(lat)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        let secs = started.elapsed().as_secs_f64();
        all.sort();
        println!(
            "| {label}, {concurrency} clients | {:.0} req/s | p50 {:.2} ms | p99 {:.2} ms |",
            all.len() as f64 / secs,
            percentile(&all, 0.50).as_secs_f64() * 1000.0,
            percentile(&all, 0.99).as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn bench_startup(runs: usize) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("finding the charter binary")?;
    let client = reqwest::Client::new();
    let mut fresh = Vec::new();
    let mut warm = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        for (i, bucket) in [&mut fresh, &mut warm].into_iter().enumerate() {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let started = Instant::now();
            let mut child = std::process::Command::new(&exe)
                .arg("serve")
                .env("CHARTER_DATA_DIR", dir.path())
                .env("CHARTER_BIND", format!("127.0.0.1:{port}"))
                .env("CHARTER_LOG_LEVEL", "error")
                .env("CHARTER_BOOTSTRAP_ADMIN_PASSWORD", "bench-password-123")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .context("starting charter serve")?;
            let url = format!("http://127.0.0.1:{port}/ready");
            let ready = loop {
                if let Ok(r) = client.get(&url).send().await
                    && r.status().is_success()
                {
                    break started.elapsed();
                }
                if started.elapsed() > Duration::from_secs(30) {
                    let _ = child.kill();
                    bail!("charter serve was not ready within 30 s");
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            };
            bucket.push(ready.as_secs_f64());
            if i == 1 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                if let Some(kib) = rss_kib(child.id()) {
                    rss.push(kib as f64 / 1024.0);
                }
            }
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }
    println!(
        "| start-up to ready, fresh data dir (creates DB, migrates, creates admin) | median {:.3} s |",
        median_f64(fresh)
    );
    println!(
        "| start-up to ready, existing data dir | median {:.3} s |",
        median_f64(warm)
    );
    if !rss.is_empty() {
        println!("| idle RSS after start-up | median {:.1} MiB |", median_f64(rss));
    }
    Ok(())
}
