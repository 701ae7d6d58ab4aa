//! Charter's HTTP server as a library: the JSON API (`/api/v1`), the web pages,
//! authentication, and the background jobs (audit checkpoints, session clean-up).
//! `charter serve` in `charter-cli` runs it; tests drive [`app`] in-process.
#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod governance;
pub mod mlflow;
pub mod otlp;
pub mod state;
pub mod telemetry;
pub mod ui;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::routing::get;
use charter_domain::audit::AuditKey;
use charter_store::{AuditContext, BlobStore, Store};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use config::Config;
pub use state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application router.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.server.body_limit_bytes;
    let timeout = Duration::from_secs(state.config.server.request_timeout_secs);
    let api = api::routes().layer(axum::middleware::from_fn(api::json_errors));
    Router::new()
        .route("/health", get(api::system::health))
        .route("/ready", get(api::system::ready))
        .nest("/api/v1", api)
        .merge(mlflow::routes())
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .merge(otlp::routes())
        .merge(ui::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::authenticate))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn api_not_found(request: axum::extract::Request) -> error::ApiError {
    error::ApiError::not_found(format!(
        "there is no API route {} {}",
        request.method(),
        request.uri().path()
    ))
}

/// Read the audit signing key from config or its file, creating the file (mode
/// 0600) with a fresh key on first use.
pub fn load_audit_key(config: &Config) -> anyhow::Result<AuditKey> {
    if let Some(hex) = &config.audit.signing_key {
        return AuditKey::from_hex(hex.expose()).context("audit.signing_key");
    }
    let path = config.signing_key_path();
    if path.exists() {
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("reading the audit key {}", path.display()))?;
        return AuditKey::from_hex(&text).with_context(|| format!("the audit key file {}", path.display()));
    }
    let key = AuditKey::from_seed(state::random_bytes::<32>());
    write_private(&path, &key.seed_hex()).with_context(|| format!("writing the audit key {}", path.display()))?;
    tracing::info!(path = %path.display(), public_key = %key.public_hex(), "created a new audit signing key");
    Ok(key)
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

/// Open the database (migrating it) and blob storage, and load the audit key.
pub async fn open(config: Config) -> anyhow::Result<AppState> {
    if config.database.url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    }
    let store = Store::open(&config.store_options())
        .await
        .context("opening the database")?;
    let blobs = BlobStore::open(&config.blob_config()).context("opening blob storage")?;
    let key = load_audit_key(&config)?;
    Ok(AppState::new(store, blobs, config, key))
}

/// First start: create `admin` from `CHARTER_BOOTSTRAP_ADMIN_PASSWORD`, or say how.
pub async fn bootstrap(state: &AppState) -> anyhow::Result<()> {
    if state.store.user_count().await? > 0 {
        return Ok(());
    }
    match &state.config.auth.bootstrap_admin_password {
        Some(pw) => {
            let req = api::user::CreateUserRequest {
                username: "admin".into(),
                display_name: Some("Administrator".into()),
                email: "admin@localhost.localdomain".into(),
                role: Some("admin".into()),
                password: Some(pw.expose().to_owned()),
            };
            api::user::create(state, &AuditContext::system("bootstrap"), req)
                .await
                .map_err(|e| anyhow::anyhow!("creating the first admin: {}", e.message))?;
            tracing::info!("created the first admin `admin` from CHARTER_BOOTSTRAP_ADMIN_PASSWORD");
        }
        None => tracing::warn!(
            "no users exist yet: create the first admin with `charter user create --admin <username>` \
             (or restart with CHARTER_BOOTSTRAP_ADMIN_PASSWORD set to create `admin`)"
        ),
    }
    Ok(())
}

/// Sign the audit chain's head now and then, clean up expired sessions, and run the
/// governance jobs (lapsed conditions, waiver and approval expiry) every minute.
pub fn spawn_background_jobs(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut checkpoint = tokio::time::interval(Duration::from_secs(state.config.audit.checkpoint_interval_secs));
        let mut sessions = tokio::time::interval(Duration::from_secs(3600));
        let mut governance_jobs = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = checkpoint.tick() => {
                    match state.store.checkpoint(&state.audit_key).await {
                        Ok(Some(cp)) => tracing::info!(seq = cp.seq, "signed an audit checkpoint"),
                        Ok(None) => {}
                        Err(e) => tracing::error!(error = %e, "could not sign an audit checkpoint"),
                    }
                }
                _ = governance_jobs.tick() => {
                    let report = governance::jobs::run_due(&state, charter_domain::time::now_ms()).await;
                    if !report.is_empty() {
                        tracing::info!(?report, "governance jobs ran");
                    }
                }
                _ = sessions.tick() => {
                    if let Err(e) = state.store.purge_expired_sessions().await {
                        tracing::warn!(error = %e, "could not purge expired sessions");
                    }
                }
            }
        }
    })
}

/// Run the server until SIGTERM or Ctrl-C, then finish in-flight requests (up to
/// the configured grace period) and sign a last checkpoint.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = state.config.bind_addr()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    serve_on(state, listener).await
}

/// [`serve`] on a listener the caller bound (tests bind port 0).
pub async fn serve_on(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    bootstrap(&state).await?;
    let jobs = spawn_background_jobs(state.clone());
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = state.store.backend().as_str(), "Charter is listening on http://{addr}");
    let grace = Duration::from_secs(state.config.server.shutdown_grace_secs);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = tx.send(());
    });
    let server = tokio::spawn(async move { server.await });
    let outcome = tokio::select! {
        r = server => r.context("server task")?.context("serving"),
        _ = async { let _ = rx.await; tokio::time::sleep(grace).await } => {
            tracing::warn!("in-flight requests did not finish within {}s; stopping", grace.as_secs());
            Ok(())
        }
    };
    jobs.abort();
    if let Err(e) = state.store.checkpoint(&state.audit_key).await {
        tracing::warn!(error = %e, "could not sign the final audit checkpoint");
    }
    state.store.close().await;
    outcome
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Set up logging from the config (`RUST_LOG` wins when set).
pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log.format {
        config::LogFormat::Json => builder.json().try_init(),
        config::LogFormat::Text => builder.try_init(),
    };
}
