//! Password hashing with argon2id (RustCrypto defaults: m=19 MiB, t=2, p=1).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use charter_domain::UserId;

/// Hash a password into a PHC string. CPU-heavy: call from a blocking task.
pub fn hash_password(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("argon2 with default parameters cannot fail")
        .to_string()
}

/// Check a password against a stored PHC hash. CPU-heavy: call from a blocking task.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Hash on the blocking pool.
pub async fn hash_password_async(password: String) -> String {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .expect("hashing task does not panic")
}

/// Verify on the blocking pool. When the user does not exist, a dummy hash is
/// verified instead so that the answer takes as long either way and does not
/// reveal which usernames exist.
pub async fn verify_password_async(password: String, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => verify_password(&password, &phc),
        None => {
            let _ = verify_password(&password, dummy_hash());
            false
        }
    })
    .await
    .expect("verification task does not panic")
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("charter-dummy-password-for-timing"))
}

/// Recently verified `Authorization: Basic` credentials. Clients such as MLflow's
/// send the password with every request; verifying argon2 each time would cost
/// tens of milliseconds per call. Entries are keyed by a BLAKE3 hash of the
/// credentials (never the password itself) and live for one minute. Each entry
/// remembers the stored hash the password was verified against: it vouches only
/// while that is still the user's hash, so a password changed elsewhere (another
/// replica, the CLI) ends it at once.
#[derive(Default)]
pub struct BasicCache {
    entries: Mutex<HashMap<String, (UserId, String, Instant)>>,
}

const BASIC_TTL: Duration = Duration::from_secs(60);

impl BasicCache {
    fn key(username: &str, password: &str) -> String {
        let mut h = blake3::Hasher::new();
        h.update(username.as_bytes());
        h.update(&[0]);
        h.update(password.as_bytes());
        h.finalize().to_hex().to_string()
    }

    /// The user these credentials were verified for, and the stored password hash
    /// they were verified against.
    pub fn get(&self, username: &str, password: &str) -> Option<(UserId, String)> {
        let key = Self::key(username, password);
        let entries = self.entries.lock().expect("cache lock");
        entries
            .get(&key)
            .filter(|(_, _, at)| at.elapsed() < BASIC_TTL)
            .map(|(id, phc, _)| (*id, phc.clone()))
    }

    pub fn put(&self, username: &str, password: &str, user: UserId, phc: &str) {
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() > 10_000 {
            entries.retain(|_, (_, _, at)| at.elapsed() < BASIC_TTL);
        }
        entries.insert(Self::key(username, password), (user, phc.to_owned(), Instant::now()));
    }

    /// Forget every cached credential of a user (password changed, user disabled).
    pub fn forget(&self, user: UserId) {
        self.entries
            .lock()
            .expect("cache lock")
            .retain(|_, (id, _, _)| *id != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify_only_the_right_password() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}
