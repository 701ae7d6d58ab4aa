//! Charter's storage: one code path over SQLite (the embedded default) and
//! PostgreSQL (for several replicas sharing one database), plus blob storage.
//!
//! SQL goes through `sqlx::Any` with portable statements and `$N` placeholders;
//! only the migrations differ per backend (`migrations/sqlite`, `migrations/postgres`).
//! Every governed change happens in a [`WriteTx`], which refuses to commit unless
//! the change queued its audit event: the event is appended to the hash chain in the
//! same transaction as the change.
#![forbid(unsafe_code)]

pub mod approval;
pub mod assignee;
pub mod audit;
mod audit_scan;
pub mod backup;
pub mod blob;
pub mod bundle;
pub mod bundle_migration;
pub mod dashboard;
pub mod finding;
pub mod group;
pub mod metric_check;
pub mod mlflow;
pub mod policy;
pub mod project;
pub mod session;
pub mod sod;
pub mod task;
pub mod telemetry;
pub mod token;
pub mod user;

mod error;
mod tx;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

pub use audit::{Actor, AuditContext, NewAuditEvent};
pub use blob::BlobStore;
pub use error::StoreError;
pub use tx::WriteTx;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "database.url: `{}` is neither a sqlite: nor a postgres:// URL",
                redact_url(url)
            )))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// How SQLite commits reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// WAL with `synchronous=NORMAL`: every acknowledged write survives a crash or
    /// kill of the process; a power cut may lose the last commits.
    #[default]
    Normal,
    /// WAL with `synchronous=FULL`: every commit is fsynced before it is acknowledged.
    Full,
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    pub busy_timeout: Duration,
    pub sqlite_sync: SqliteSync,
}

impl StoreOptions {
    /// Options for a database URL with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            busy_timeout: Duration::from_secs(10),
            sqlite_sync: SqliteSync::Normal,
        }
    }

    /// The SQLite URL of a file, created if missing.
    pub fn sqlite_file(path: &Path) -> Self {
        Self::new(format!("sqlite://{}?mode=rwc", path.display()))
    }
}

/// A handle on the database: cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database URL, for the few reads that use the backend's own driver
    /// (audit verification).
    url: String,
    /// SQLite allows one writer at a time; queueing writers here (instead of in
    /// SQLite's sleep-and-retry busy handler) keeps writes fair and fast. Other
    /// processes on the same file are still covered by the busy timeout.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

static MIGRATOR_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static MIGRATOR_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

impl Store {
    /// Connect (without migrating).
    pub async fn connect(options: &StoreOptions) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(&options.url)?;
        let connect = AnyConnectOptions::from_url(&options.url.parse().map_err(|e| {
            StoreError::Config(format!(
                "database.url: cannot parse `{}`: {e}",
                redact_url(&options.url)
            ))
        })?)
        .map_err(|e| StoreError::Config(format!("database.url: {e}")))?
        .log_statements(tracing::log::LevelFilter::Trace);
        let busy_ms = options.busy_timeout.as_millis();
        let sync = match options.sqlite_sync {
            SqliteSync::Normal => "NORMAL",
            SqliteSync::Full => "FULL",
        };
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name() == "SQLite" {
                        let pragmas = format!(
                            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busy_ms}; PRAGMA synchronous = {sync};"
                        );
                        conn.execute(sqlx::AssertSqlSafe(pragmas)).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot open the database `{}`: {e}", redact_url(&options.url))))?;
        let write_lock = (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(())));
        Ok(Self {
            pool,
            backend,
            url: options.url.clone(),
            write_lock,
        })
    }

    /// Connect and apply any migrations not yet applied.
    pub async fn open(options: &StoreOptions) -> Result<Self, StoreError> {
        let store = Self::connect(options).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Apply pending migrations; returns how many were applied.
    pub async fn migrate(&self) -> Result<usize, StoreError> {
        let migrator = self.migrator();
        let before = self.applied_migrations().await.unwrap_or(0);
        migrator
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let after = self.applied_migrations().await?;
        Ok(after.saturating_sub(before))
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        match self.backend {
            Backend::Sqlite => &MIGRATOR_SQLITE,
            Backend::Postgres => &MIGRATOR_POSTGRES,
        }
    }

    /// The number of migrations this build knows of.
    pub fn known_migrations(&self) -> usize {
        self.migrator().iter().count()
    }

    async fn applied_migrations(&self) -> Result<usize, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as usize)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Begin a write transaction. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so a transaction that reads before it writes never fails
    /// half-way on a lock upgrade.
    pub async fn begin(&self) -> Result<WriteTx, StoreError> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx::new(tx, guard))
    }

    /// Close the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Parse a stored id, turning a malformed one into a decode error.
pub(crate) fn decode_id<T: std::str::FromStr<Err = charter_domain::id::IdError>>(
    text: String,
) -> Result<T, StoreError> {
    text.parse()
        .map_err(|e: charter_domain::id::IdError| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
        assert_eq!(redact_url("sqlite://a.db"), "sqlite://a.db");
    }

    #[test]
    fn backends_are_named_by_their_url() {
        assert_eq!(Backend::of_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of_url("postgresql://h/db").unwrap(), Backend::Postgres);
        assert!(Backend::of_url("mysql://h/db").is_err());
    }
}
