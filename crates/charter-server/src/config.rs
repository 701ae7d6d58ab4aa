//! One typed configuration: compiled-in defaults, then an optional `charter.toml`,
//! then `CHARTER_*` environment variables. Secrets are [`Secret`]s, which never show
//! in `Debug` output or logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use charter_store::blob::BlobConfig;
use charter_store::{SqliteSync, StoreOptions};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A configuration value that must not leak: `Debug` and serialization show
/// `[redacted]`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// Everything Charter can be configured with. See `charter config example`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where Charter keeps its SQLite database, blobs and audit key.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub audit: AuditConfig,
    pub log: LogConfig,
    pub mlflow: MlflowConfig,
    pub telemetry: TelemetryConfig,
}

/// The MLflow-compatible API (`docs/mlflow.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlflowConfig {
    pub default_project: String,
    pub gated_aliases: Vec<String>,
    pub group_commit_max_requests: usize,
    pub group_commit_linger_us: u64,
}

impl Default for MlflowConfig {
    fn default() -> Self {
        Self {
            default_project: "default".into(),
            gated_aliases: vec!["production".into(), "champion".into()],
            group_commit_max_requests: 256,
            group_commit_linger_us: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
    pub public_url: Option<String>,
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: Option<Secret>,
    pub max_connections: u32,
    pub busy_timeout_ms: u64,
    pub sqlite_synchronous: SyncMode,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    Normal,
    Full,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StorageBackend {
    Local,
    S3,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub backend: StorageBackend,
    pub local_dir: Option<PathBuf>,
    pub s3_bucket: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<Secret>,
    pub s3_allow_http: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    pub session_ttl_hours: u64,
    pub cookie_secure: bool,
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    pub bootstrap_admin_password: Option<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    pub signing_key_file: Option<PathBuf>,
    pub signing_key: Option<Secret>,
    pub checkpoint_interval_secs: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub level: String,
    pub format: LogFormat,
}

/// OTLP trace ingestion and what is done with the traces.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    pub max_body_bytes: usize,
    pub queue_spans: usize,
    pub batch_spans: usize,
    pub max_inflight_requests: usize,
    pub retry_after_secs: u64,
    pub allow_anonymous: bool,
    pub auto_create_projects: bool,
    pub default_project: Option<String>,
    pub retention_interval_secs: u64,
    pub monitor_tick_secs: u64,
    pub prices: std::collections::BTreeMap<String, charter_domain::telemetry::stats::Price>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024 * 1024,
            queue_spans: 100_000,
            batch_spans: 20_000,
            max_inflight_requests: 16,
            retry_after_secs: 1,
            allow_anonymous: false,
            auto_create_projects: false,
            default_project: None,
            retention_interval_secs: 3600,
            monitor_tick_secs: 15,
            prices: std::collections::BTreeMap::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./charter-data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            audit: AuditConfig::default(),
            log: LogConfig::default(),
            mlflow: MlflowConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            body_limit_bytes: 16 * 1024 * 1024,
            request_timeout_secs: 60,
            shutdown_grace_secs: 30,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 8,
            busy_timeout_ms: 10_000,
            sqlite_synchronous: SyncMode::Normal,
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: StorageBackend::Local,
            local_dir: None,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl_hours: 12,
            cookie_secure: true,
            login_max_failures: 5,
            login_window_secs: 900,
            bootstrap_admin_password: None,
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            signing_key_file: None,
            signing_key: None,
            checkpoint_interval_secs: 300,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// Environment variables with a `CHARTER_` prefix that are not server settings:
/// the CLI's remote target and config file, and anything for tests, benchmarks and
/// CI (`CHARTER_TEST_*`, `CHARTER_BENCH_*`, `CHARTER_CI_*`).
const NOT_SETTINGS: &[&str] = &["url", "token", "config"];
const NOT_SETTINGS_PREFIXES: &[&str] = &["test_", "bench_", "ci_"];

fn is_setting(key: &str) -> bool {
    !NOT_SETTINGS.contains(&key) && !NOT_SETTINGS_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Flat names kept for convenience: `CHARTER_DATABASE_URL` and friends.
fn env_key(key: &str) -> String {
    match key {
        "database_url" => "database.url".into(),
        "bootstrap_admin_password" => "auth.bootstrap_admin_password".into(),
        "bind" => "server.bind".into(),
        "log_level" => "log.level".into(),
        other => other.replace("__", "."),
    }
}

/// A configuration that cannot be used, naming the key and the reason.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Load from defaults, then `file` (or `./charter.toml` when it exists and no file
    /// is named), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, Env::prefixed("CHARTER_"))
    }

    fn load_from(file: Option<&Path>, env: Env) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError(format!(
                        "the config file {} does not exist",
                        path.display()
                    )));
                }
                fig = fig.merge(Toml::file_exact(path));
            }
            None => {
                let default = Path::new("charter.toml");
                if default.exists() {
                    fig = fig.merge(Toml::file_exact(default));
                }
            }
        }
        let env = env
            .filter(|k| is_setting(&k.as_str().to_ascii_lowercase()))
            .map(|k| env_key(&k.as_str().to_ascii_lowercase()).into());
        fig = fig.merge(env);
        let config: Config = fig.extract().map_err(|e| ConfigError(describe_figment(e)))?;
        config.validate()?;
        Ok(config)
    }

    /// Check what types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.bind_addr()?;
        if let Some(url) = &self.database.url {
            charter_store::Backend::of_url(url.expose()).map_err(|e| ConfigError(e.to_string()))?;
        }
        if self.storage.backend == StorageBackend::S3 && self.storage.s3_bucket.as_deref().unwrap_or("").is_empty() {
            return Err(ConfigError(
                "storage.s3_bucket: must be set when storage.backend is \"s3\"".into(),
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError("database.max_connections: must be at least 1".into()));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(ConfigError("server.body_limit_bytes: must be at least 1024".into()));
        }
        if self.mlflow.default_project.trim().is_empty() {
            return Err(ConfigError("mlflow.default_project: name a project".into()));
        }
        if self.auth.session_ttl_hours == 0 {
            return Err(ConfigError("auth.session_ttl_hours: must be at least 1".into()));
        }
        if self.audit.checkpoint_interval_secs == 0 {
            return Err(ConfigError("audit.checkpoint_interval_secs: must be at least 1".into()));
        }
        if let Some(key) = &self.audit.signing_key {
            charter_domain::audit::AuditKey::from_hex(key.expose())
                .map_err(|e| ConfigError(format!("audit.signing_key: {e}")))?;
        }
        let t = &self.telemetry;
        if t.max_body_bytes < 1024 || t.queue_spans == 0 || t.batch_spans == 0 || t.max_inflight_requests == 0 {
            return Err(ConfigError(
                "telemetry: max_body_bytes must be at least 1024, and queue_spans, batch_spans and \
                 max_inflight_requests at least 1"
                    .into(),
            ));
        }
        if t.retention_interval_secs == 0 || t.monitor_tick_secs == 0 {
            return Err(ConfigError(
                "telemetry: retention_interval_secs and monitor_tick_secs must be at least 1".into(),
            ));
        }
        for (model, price) in &t.prices {
            if !(price.input_per_million >= 0.0 && price.output_per_million >= 0.0) {
                return Err(ConfigError(format!(
                    "telemetry.prices.\"{model}\": prices must be zero or more USD per million tokens"
                )));
            }
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError(format!("log.level: `{}` is not a log filter: {e}", self.log.level)))?;
        Ok(())
    }

    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.server.bind.parse().map_err(|_| {
            ConfigError(format!(
                "server.bind: `{}` is not an address such as 127.0.0.1:8080",
                self.server.bind
            ))
        })
    }

    /// The database to open: the configured URL, else SQLite in the data directory.
    pub fn store_options(&self) -> StoreOptions {
        let mut options = match &self.database.url {
            Some(url) => StoreOptions::new(url.expose()),
            None => StoreOptions::sqlite_file(&self.data_dir.join("charter.db")),
        };
        options.max_connections = self.database.max_connections;
        options.busy_timeout = Duration::from_millis(self.database.busy_timeout_ms);
        options.sqlite_sync = match self.database.sqlite_synchronous {
            SyncMode::Normal => SqliteSync::Normal,
            SyncMode::Full => SqliteSync::Full,
        };
        options
    }

    pub fn blob_config(&self) -> BlobConfig {
        match self.storage.backend {
            StorageBackend::Local => BlobConfig::Local {
                root: self
                    .storage
                    .local_dir
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("blobs")),
            },
            StorageBackend::S3 => BlobConfig::S3 {
                bucket: self.storage.s3_bucket.clone().unwrap_or_default(),
                endpoint: self.storage.s3_endpoint.clone(),
                region: self.storage.s3_region.clone(),
                access_key_id: self.storage.s3_access_key_id.clone(),
                secret_access_key: self
                    .storage
                    .s3_secret_access_key
                    .as_ref()
                    .map(|s| s.expose().to_owned()),
                allow_http: self.storage.s3_allow_http,
            },
        }
    }

    /// Where the audit signing key lives when it is not given inline.
    pub fn signing_key_path(&self) -> PathBuf {
        self.audit
            .signing_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit-signing.key"))
    }
}

fn describe_figment(err: figment::Error) -> String {
    err.into_iter()
        .map(|e| {
            let key = if e.path.is_empty() {
                String::new()
            } else {
                format!("{}: ", e.path.join("."))
            };
            let source = match &e.metadata {
                Some(m) => match &m.source {
                    Some(src) => format!(" (from {src})"),
                    None => format!(" (from {})", m.name),
                },
                None => String::new(),
            };
            format!("{key}{}{source}", e.kind)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `charter config example`: every key, its default, and what it does.
pub const EXAMPLE: &str = r#"# charter.toml — every setting, with its default.
# Each key can also be set with an environment variable: CHARTER_<SECTION>__<KEY>,
# e.g. CHARTER_SERVER__BIND=0.0.0.0:8080. Environment variables win over this file.

# Where Charter keeps its SQLite database, blobs and audit signing key.
# Env: CHARTER_DATA_DIR
data_dir = "./charter-data"

[server]
# Address and port to listen on. Env: CHARTER_BIND or CHARTER_SERVER__BIND
bind = "127.0.0.1:8080"
# The URL people reach Charter at, used in links (optional).
# public_url = "https://charter.example.com"
# Largest request body accepted, in bytes; larger requests get 413.
body_limit_bytes = 16777216
# Requests taking longer than this are answered 408 and abandoned.
request_timeout_secs = 60
# On SIGTERM/Ctrl-C, how long in-flight requests may take to finish.
shutdown_grace_secs = 30

[database]
# Omit for the embedded SQLite database in data_dir. Set a postgres:// URL to share
# one PostgreSQL database between several Charter replicas. Secret: never logged.
# Env: CHARTER_DATABASE_URL
# url = "postgres://charter@127.0.0.1:5432/charter"
# Connections in the pool.
max_connections = 8
# How long a SQLite writer waits for another process's lock, in milliseconds.
busy_timeout_ms = 10000
# SQLite durability: "normal" keeps every acknowledged write across a crash of the
# process; "full" also fsyncs every commit, surviving power loss.
sqlite_synchronous = "normal"

[storage]
# Where uploaded files and artifacts live: "local" (a directory) or "s3".
backend = "local"
# For "local": the directory (default: <data_dir>/blobs).
# local_dir = "./charter-data/blobs"
# For "s3": bucket, optional endpoint for S3-compatible services, region, credentials.
# s3_bucket = "charter"
# s3_endpoint = "http://127.0.0.1:9000"
s3_region = "us-east-1"
# s3_access_key_id = "..."
# Secret: never logged. Env: CHARTER_STORAGE__S3_SECRET_ACCESS_KEY
# s3_secret_access_key = "..."
# Allow a plain-http endpoint (local test services only).
s3_allow_http = false

[auth]
# How long a browser session lasts, in hours.
session_ttl_hours = 12
# Mark the session cookie Secure (sent over HTTPS and to localhost only).
cookie_secure = true
# Failed sign-ins allowed per account and per address within the window below,
# after which sign-in is refused with 429 until the window passes.
login_max_failures = 5
login_window_secs = 900
# Creates the user `admin` with this password at the first start, when no user
# exists yet. Secret: never logged. Env: CHARTER_BOOTSTRAP_ADMIN_PASSWORD
# bootstrap_admin_password = "..."

[audit]
# File holding the Ed25519 key (64 hex digits) that signs audit checkpoints
# (default: <data_dir>/audit-signing.key, created at first start).
# signing_key_file = "/etc/charter/audit-signing.key"
# Or the key itself. Secret: never logged. Env: CHARTER_AUDIT__SIGNING_KEY
# signing_key = "..."
# How often the head of the audit chain is signed, in seconds.
checkpoint_interval_secs = 300

[log]
# A tracing filter: "info", "debug", "charter_server=debug,info"… Env: CHARTER_LOG_LEVEL
level = "info"
# "text" for people, "json" for log collectors.
format = "text"

[mlflow]
# The project that experiments and registered models created through the MLflow API
# land in when they name none (tag `charter.project` names another). Created on first
# use; MLflow users join it automatically.
default_project = "default"
# Registry aliases whose setting is a promotion, refused while the promotion gate of
# the version's bundles (or project) misses approvals.
gated_aliases = ["production", "champion"]
# Group commit of metric points, params and tags: at most this many requests share
# one transaction...
group_commit_max_requests = 256
# ...and the writer waits this long (microseconds) for more before committing
# (0: it takes what is already waiting; concurrency alone forms the groups).
group_commit_linger_us = 0
[telemetry]
# OTLP/HTTP trace ingestion at POST /v1/traces (docs/telemetry.md).
# Largest request body, in bytes, after gzip decompression; larger ones get 413.
max_body_bytes = 67108864
# Spans accepted but not yet written. When the queue is full, exporters get 503 with
# Retry-After and retry; memory stays bounded however fast they send.
queue_spans = 100000
# Most spans written in one database transaction (one commit for many requests).
batch_spans = 20000
# Requests read and decoded at once; more get 503 with Retry-After.
max_inflight_requests = 16
# Seconds exporters are told to wait (Retry-After) when the queue is full.
retry_after_secs = 1
# Accept spans without a token, for the project their x-project-name header or
# openinference.project.name resource attribute names (trusted networks only).
allow_anonymous = false
# Create a project that does not exist yet when a signed-in user (personal token)
# sends spans for it; otherwise such spans are refused, naming the project.
auto_create_projects = false
# The project for spans that name none (no token, header or resource attribute).
# default_project = "default"
# How often retention (per-project max age / max spans) runs, in seconds.
retention_interval_secs = 3600
# How often due monitors are looked for, in seconds.
monitor_tick_secs = 15
# USD per million tokens by model name, for cost in statistics; a model takes the
# longest entry its name starts with. Replace {} with entries such as:
# prices = { "gpt-4o-mini" = { input_per_million = 0.15, output_per_million = 0.60 } }
prices = {}
"#;

#[cfg(test)]
#[expect(
    clippy::result_large_err,
    reason = "figment::Jail closures must return figment::Error, which is large"
)]
mod tests {
    use super::*;

    /// Load inside a figment jail: a temporary working directory and environment.
    fn load_with(vars: &[(&str, &str)], file: Option<&str>) -> Result<Config, String> {
        let mut out = None;
        figment::Jail::expect_with(|jail| {
            for (k, v) in vars {
                jail.set_env(k, v);
            }
            if let Some(content) = file {
                jail.create_file("charter.toml", content)?;
            }
            out = Some(Config::load(None).map_err(|e| e.to_string()));
            Ok(())
        });
        out.unwrap()
    }

    #[test]
    fn the_example_parses_to_the_defaults_and_names_every_key() {
        let from_example: Config = toml::from_str(EXAMPLE).expect("example parses");
        let defaults = serde_json::to_value(Config::default()).unwrap();
        assert_eq!(serde_json::to_value(&from_example).unwrap(), defaults);
        for (section, keys) in defaults.as_object().unwrap() {
            match keys.as_object() {
                Some(keys) => {
                    assert!(EXAMPLE.contains(&format!("[{section}]")), "section {section} missing");
                    for key in keys.keys() {
                        assert!(
                            EXAMPLE.contains(&format!("{key} =")),
                            "key {section}.{key} missing from the example"
                        );
                    }
                }
                None => assert!(EXAMPLE.contains(&format!("{section} =")), "key {section} missing"),
            }
        }
    }

    #[test]
    fn environment_overrides_with_flat_and_nested_names() {
        let c = load_with(
            &[
                ("CHARTER_DATABASE_URL", "postgres://u:pw@h/db"),
                ("CHARTER_SERVER__BIND", "0.0.0.0:9000"),
                ("CHARTER_URL", "http://ignored"),
                ("CHARTER_TEST_S3_ENDPOINT", "http://ignored"),
                ("CHARTER_BENCH_POSTGRES_URL", "postgres://ignored"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(c.server.bind, "0.0.0.0:9000");
        assert_eq!(c.database.url.as_ref().unwrap().expose(), "postgres://u:pw@h/db");
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = load_with(&[("CHARTER_SERVER__BIND", "nowhere")], None).unwrap_err();
        assert!(err.contains("server.bind"), "{err}");
        let err = load_with(&[("CHARTER_DATABASE__SQLITE_SYNCHRONOUS", "sometimes")], None).unwrap_err();
        assert!(err.contains("database.sqlite_synchronous"), "{err}");
        let err = load_with(&[("CHARTER_SERVER__NOPE", "1")], None).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        let err = load_with(&[("CHARTER_DATABASE_URL", "mysql://x")], None).unwrap_err();
        assert!(err.contains("database.url"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("CHARTER_BOOTSTRAP_ADMIN_PASSWORD", "sup3r-s3cret");
            jail.set_env("CHARTER_DATABASE_URL", "postgres://u:hunter2@h/db");
            let c = Config::load(None).unwrap();
            let shown = format!("{c:?}");
            assert!(!shown.contains("sup3r-s3cret") && !shown.contains("hunter2"), "{shown}");
            Ok(())
        });
    }

    #[test]
    fn a_toml_file_is_read_and_its_mistakes_named() {
        let err = load_with(&[], Some("[auth]\nsession_ttl_hours = \"long\"\n")).unwrap_err();
        assert!(err.contains("auth.session_ttl_hours"), "{err}");
        let c = load_with(&[], Some("[auth]\nsession_ttl_hours = 2\n")).unwrap();
        assert_eq!(c.auth.session_ttl_hours, 2);
    }
}
