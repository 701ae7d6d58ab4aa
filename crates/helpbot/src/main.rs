//! The `helpbot` binary: `serve` (the default), `index`, `eval`, `register`, `bench`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use helpbot::settings::Settings;

#[derive(Parser)]
#[command(name = "helpbot", version, about = "HelpBot, Charter's governed reference chatbot")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Start the chat app (the default).
    Serve {
        /// Address to listen on (default 0.0.0.0:$PORT, PORT defaulting to 8501).
        #[arg(long, env = "HELPBOT_BIND")]
        bind: Option<SocketAddr>,
    },
    /// Build (or reuse) the search index of the knowledge base.
    Index,
    /// Evaluate a model version on a golden set: JSON and HTML reports, thresholds.
    Eval(EvalArgs),
    /// Evaluate the local configuration, log an MLflow run (params, metrics,
    /// config, KB manifest, eval reports) and register a new model version.
    Register(RegisterArgs),
    /// Point an alias of the registered model at a version
    /// (`helpbot alias champion 3`). Charter refuses gated aliases (`champion`,
    /// `production`) while the promotion gate misses approvals, and says which.
    Alias {
        /// The alias (`champion`, `staging`, …).
        alias: String,
        /// The version number.
        version: String,
    },
    /// Measure answer latency (shipped, 1k and 10k documents), index build time and
    /// memory, and HTTP throughput under concurrent sessions.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Questions (their `question` fields) used for latency.
    #[arg(long, default_value = "crates/helpbot/eval/golden.jsonl")]
    dataset: PathBuf,
    /// Documents in the large generated KB.
    #[arg(long, default_value_t = 10_000)]
    docs: usize,
    /// Concurrent HTTP sessions.
    #[arg(long, default_value_t = 32)]
    sessions: usize,
    /// Requests per session.
    #[arg(long, default_value_t = 25)]
    requests: usize,
    /// Print the figures as JSON as well.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct RegisterArgs {
    /// The configuration to register (default: HELPBOT_MODEL_CONFIG or the built-in one).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The golden set evaluated before registering.
    #[arg(long, default_value = "crates/helpbot/eval/golden.jsonl")]
    dataset: PathBuf,
    /// MLflow experiment.
    #[arg(long, default_value = "helpbot")]
    experiment: String,
    /// Point this alias at the new version (e.g. `champion`, `challenger`).
    #[arg(long)]
    alias: Option<String>,
    /// Where the evaluation reports go.
    #[arg(long, default_value = "target/helpbot-eval")]
    out: PathBuf,
    /// Register even when a threshold is missed.
    #[arg(long)]
    allow_failing: bool,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// The golden set (JSON Lines).
    #[arg(long, default_value = "crates/helpbot/eval/golden.jsonl")]
    dataset: PathBuf,
    /// A configuration file, a registry version number, or an alias (default: what
    /// `serve` would serve).
    #[arg(long)]
    model_version: Option<String>,
    /// Where the reports go.
    #[arg(long, default_value = "target/helpbot-eval")]
    out: PathBuf,
    /// Log the evaluation as an MLflow run (to MLFLOW_TRACKING_URI or CHARTER_URL).
    #[arg(long)]
    log_to_charter: bool,
    /// MLflow experiment for --log-to-charter.
    #[arg(long, default_value = "helpbot-eval")]
    experiment: String,
    /// Exit with status 1 when a threshold is missed.
    #[arg(long)]
    check: bool,
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let pb = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({elapsed})")
            .expect("progress template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_owned());
    pb
}

fn init_logs() {
    let filter = std::env::var("HELPBOT_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_logs();
    let cli = Cli::parse();
    let settings = Settings::from_env()?;
    match cli.command.unwrap_or(Command::Serve { bind: None }) {
        Command::Serve { bind } => serve(settings, bind).await,
        Command::Index => index(settings).await,
        Command::Eval(args) => eval(settings, args).await,
        Command::Register(args) => register(settings, args).await,
        Command::Alias { alias, version } => set_alias(settings, alias, version).await,
        Command::Bench(args) => bench(settings, args).await,
    }
}

async fn serve(settings: Settings, bind: Option<SocketAddr>) -> anyhow::Result<()> {
    let bind = match bind {
        Some(b) => b,
        None => {
            let port: u16 = std::env::var("PORT")
                .ok()
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().with_context(|| format!("PORT=`{p}` is not a port number")))
                .transpose()?
                .unwrap_or(8501);
            SocketAddr::from(([0, 0, 0, 0], port))
        }
    };
    let pb = progress_bar(0, "indexing");
    let state = helpbot::app::build(&settings, &mut |n, total| {
        pb.set_length(total as u64);
        pb.set_position(n as u64);
    })
    .await?;
    pb.finish_and_clear();
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("listening on {bind}"))?;
    tracing::info!(
        address = %listener.local_addr()?,
        model = %state.engine.serving.display(),
        source = state.engine.serving.source,
        articles = state.engine.retriever.kb().articles.len(),
        chunks = state.engine.retriever.kb().chunks.len(),
        index = ?state.index.source,
        traces = ?state.engine.telemetry.traces_url,
        "HelpBot is ready"
    );
    let app = helpbot::server::router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            // Ctrl-C or SIGTERM (docker stop, systemd): finish requests, flush traces.
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match term.as_mut() {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        })
        .await?;
    let s = state.clone();
    tokio::task::spawn_blocking(move || s.engine.telemetry.shutdown()).await?;
    Ok(())
}

async fn index(settings: Settings) -> anyhow::Result<()> {
    let (config, _) = settings.local_config()?;
    let pb = progress_bar(0, "indexing");
    let (retriever, source, path, ms) = tokio::task::block_in_place(|| {
        helpbot::settings::load_index(&settings, &config, &mut |n, total| {
            pb.set_length(total as u64);
            pb.set_position(n as u64);
        })
    })?;
    pb.finish_and_clear();
    let kb = retriever.kb();
    println!(
        "{} articles, {} chunks from {} → {} index at {} in {:.0} ms (KB manifest {})",
        kb.articles.len(),
        kb.chunks.len(),
        kb.dir.display(),
        match source {
            helpbot::retrieval::IndexSource::Built => "built",
            helpbot::retrieval::IndexSource::Cached => "cached",
            helpbot::retrieval::IndexSource::Memory => "in-memory",
        },
        path.display(),
        ms,
        &kb.manifest.sha256[..12]
    );
    let _: PathBuf = path;
    Ok(())
}

async fn eval(mut settings: Settings, args: EvalArgs) -> anyhow::Result<()> {
    // Evaluation questions are not production traffic: no traces.
    settings.telemetry = false;
    let dataset = helpbot::eval::load_dataset(&args.dataset)?;
    let (chosen, _) = helpbot::app::choose_with(&settings, args.model_version.as_deref()).await?;
    let (engine, _) = helpbot::app::build_engine(&settings, chosen, &mut |_, _| {}).await?;
    let pb = progress_bar(dataset.len() as u64, "evaluating");
    let report = helpbot::eval::run(&engine, &dataset, &args.dataset.display().to_string(), &mut |n| {
        pb.set_position(n as u64)
    })
    .await;
    pb.finish_and_clear();
    let (json_path, html_path) = helpbot::register::write_reports(&report, &args.out)?;
    let m = &report.metrics;
    println!(
        "HelpBot evaluation — {} — {} questions",
        report.model.display(),
        m.questions
    );
    println!(
        "  retrieval hit@1 {:.3}  hit@3 {:.3}  MRR {:.3}",
        m.hit_at_1, m.hit_at_3, m.mrr
    );
    println!(
        "  fact recall {:.3}  citation precision {:.3}",
        m.fact_recall, m.citation_precision
    );
    println!(
        "  correct refusal rate {:.3} (declined {:.1}% of should-decline, refused {:.1}% of answerable)",
        m.correct_refusal_rate,
        m.decline_recall * 100.0,
        m.false_refusal_rate * 100.0
    );
    println!(
        "  PII leaks {}  latency p50 {:.1} ms  p95 {:.1} ms",
        m.pii_leak_count, m.latency_p50_ms, m.latency_p95_ms
    );
    println!("  reports: {} and {}", json_path.display(), html_path.display());
    if args.log_to_charter {
        let run =
            helpbot::register::log_eval_run(&settings, &args.experiment, &engine, &report, &json_path, &html_path)
                .await?;
        println!("  logged as MLflow run {run}");
    }
    let s = std::sync::Arc::new(engine);
    tokio::task::spawn_blocking(move || s.telemetry.shutdown()).await?;
    if report.failures.is_empty() {
        println!("  all thresholds met");
    } else {
        for f in &report.failures {
            println!("  THRESHOLD MISSED: {f}");
        }
        if args.check {
            std::process::exit(1);
        }
    }
    Ok(())
}

async fn register(mut settings: Settings, args: RegisterArgs) -> anyhow::Result<()> {
    settings.telemetry = false;
    if let Some(c) = &args.config {
        settings.model_config = Some(c.clone());
    }
    let dataset = helpbot::eval::load_dataset(&args.dataset)?;
    let (config, uri) = settings.local_config()?;
    let chosen = helpbot::settings::local_serving(config, uri, "", None);
    let (engine, _) = helpbot::app::build_engine(&settings, chosen, &mut |_, _| {}).await?;
    let pb = progress_bar(dataset.len() as u64, "evaluating");
    let report = helpbot::eval::run(&engine, &dataset, &args.dataset.display().to_string(), &mut |n| {
        pb.set_position(n as u64)
    })
    .await;
    pb.finish_and_clear();
    if !report.failures.is_empty() && !args.allow_failing {
        anyhow::bail!(
            "not registered: the evaluation misses thresholds ({}); fix the configuration or pass --allow-failing",
            report.failures.join("; ")
        );
    }
    let r = helpbot::register::register(
        &settings,
        &args.experiment,
        &engine,
        &report,
        &args.out,
        args.alias.as_deref(),
    )
    .await?;
    println!(
        "registered {} version {} (run {} in experiment {}){}",
        settings.model_name,
        r.version,
        r.run_id,
        r.experiment_id,
        r.alias.as_ref().map(|a| format!(", alias @{a}")).unwrap_or_default()
    );
    println!(
        "  eval: hit@1 {:.3}, fact recall {:.3}, correct refusal {:.3}, PII leaks {}",
        report.metrics.hit_at_1,
        report.metrics.fact_recall,
        report.metrics.correct_refusal_rate,
        report.metrics.pii_leak_count
    );
    let s = std::sync::Arc::new(engine);
    tokio::task::spawn_blocking(move || s.telemetry.shutdown()).await?;
    if let Some(refused) = r.alias_refused {
        anyhow::bail!(
            "{} version {} is registered, but its {refused}\n  once the approvals are granted: helpbot alias {} {}",
            settings.model_name,
            r.version,
            refused.alias,
            r.version
        );
    }
    Ok(())
}

async fn set_alias(settings: Settings, alias: String, version: String) -> anyhow::Result<()> {
    match helpbot::register::set_alias(&settings, &alias, &version).await? {
        Ok(()) => {
            println!(
                "models:/{}@{alias} now points at version {version}",
                settings.model_name
            );
            Ok(())
        }
        Err(refused) => anyhow::bail!("{} version {version}: {refused}", settings.model_name),
    }
}

async fn bench(settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    use helpbot::bench;
    let questions: Vec<String> = helpbot::eval::load_dataset(&args.dataset)?
        .into_iter()
        .map(|q| q.question)
        .collect();
    let (config, _) = settings.local_config()?;
    let tmp = std::env::temp_dir().join(format!("helpbot-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let mut out = serde_json::Map::new();

    // The shipped KB.
    let shipped = bench::generated_kb(&settings.kb_dir, 0)?;
    let (engine, build_ms) = bench::engine_for(&shipped, &config, &tmp.join("shipped"))?;
    let kb_docs = engine.retriever.kb().articles.len();
    let lat = bench::answer_latency(&engine, &questions, 5).await;
    println!(
        "shipped KB: {kb_docs} docs, {} chunks, index {build_ms:.0} ms; answer p50 {:.2} ms, p99 {:.2} ms ({} answers)",
        engine.retriever.kb().chunks.len(),
        lat.p50_ms,
        lat.p99_ms,
        lat.n
    );
    out.insert(
        "shipped".into(),
        serde_json::json!({"docs": kb_docs, "index_ms": build_ms, "answer": lat}),
    );

    // HTTP throughput on the shipped KB.
    let state = std::sync::Arc::new(helpbot::server::AppState {
        engine,
        feedback: helpbot::charter::FeedbackSink {
            url: None,
            token: None,
            journal: tmp.join("feedback.jsonl"),
            http: reqwest::Client::new(),
        },
        gate: None,
        telemetry_problem: None,
        charter_url: None,
        environment: "development".into(),
        index: helpbot::server::IndexReport {
            source: helpbot::retrieval::IndexSource::Built,
            path: None,
            build_ms,
        },
    });
    let t = bench::http_throughput(state, &questions, args.sessions, args.requests).await?;
    println!(
        "HTTP: {} sessions, {} requests in {:.2} s = {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms",
        t.sessions, t.requests, t.seconds, t.requests_per_sec, t.latency.p50_ms, t.latency.p99_ms
    );
    out.insert("http".into(), serde_json::to_value(&t)?);

    // Generated KBs: 1k documents, then the large one.
    for docs in [1_000, args.docs] {
        let files = bench::generated_kb(&settings.kb_dir, docs)?;
        let rss_before = bench::rss_mib().unwrap_or(0.0);
        let (engine, build_ms) = bench::engine_for(&files, &config, &tmp.join(format!("gen-{docs}")))?;
        let peak = bench::peak_rss_mib().unwrap_or(0.0);
        let rss_after = bench::rss_mib().unwrap_or(0.0);
        let lat = bench::answer_latency(&engine, &questions, 2).await;
        println!(
            "{docs} docs ({} chunks): index built in {:.2} s, RSS {:.0} → {:.0} MiB (peak {:.0} MiB); answer p50 {:.2} ms, p99 {:.2} ms",
            engine.retriever.kb().chunks.len(),
            build_ms / 1000.0,
            rss_before,
            rss_after,
            peak,
            lat.p50_ms,
            lat.p99_ms
        );
        out.insert(
            format!("docs_{docs}"),
            serde_json::json!({"chunks": engine.retriever.kb().chunks.len(), "index_ms": build_ms, "rss_before_mib": rss_before, "rss_after_mib": rss_after, "peak_rss_mib": peak, "answer": lat}),
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}
