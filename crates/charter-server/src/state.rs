//! What every handler can reach: the store, blob storage, configuration, the audit
//! signing key and the sign-in rate limiter.

use std::sync::Arc;
use std::time::Instant;

use charter_domain::audit::AuditKey;
use charter_store::{BlobStore, Store};

use crate::auth::limiter::LoginLimiter;
use crate::auth::password::BasicCache;
use crate::config::Config;
use crate::governance::PolicyCache;

/// Shared state: cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub store: Store,
    pub blobs: BlobStore,
    pub config: Config,
    pub audit_key: AuditKey,
    pub limiter: LoginLimiter,
    pub basic_cache: BasicCache,
    pub policies: PolicyCache,
    pub mlflow: crate::mlflow::MlflowState,
    pub telemetry: crate::telemetry::TelemetryState,
    pub started_at: Instant,
}

impl AppState {
    pub fn new(store: Store, blobs: BlobStore, config: Config, audit_key: AuditKey) -> Self {
        let limiter = LoginLimiter::new(config.auth.login_max_failures, config.auth.login_window_secs);
        let telemetry = crate::telemetry::TelemetryState::new(&config.telemetry);
        Self(Arc::new(Inner {
            store,
            blobs,
            config,
            audit_key,
            limiter,
            basic_cache: BasicCache::default(),
            policies: PolicyCache::default(),
            mlflow: crate::mlflow::MlflowState::default(),
            telemetry,
            started_at: Instant::now(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Fill a buffer with operating-system randomness.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source is available");
    buf
}
