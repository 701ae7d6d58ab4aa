//! Sign-in rate limiting per account and per client address.
//!
//! Failed attempts are counted in a fixed window; past the limit, sign-in for that
//! account (or from that address) is refused until the window ends. The counters
//! live in memory: each replica limits on its own, which bounds a guesser to
//! `replicas × limit` tries per window — documented in docs/operations.md.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window_secs: u64) -> Self {
        Self {
            max_failures,
            window: Duration::from_secs(window_secs),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, addr: &str) -> [String; 2] {
        [format!("user:{username}"), format!("addr:{addr}")]
    }

    /// `Err(seconds)` when the account or address must wait before trying again.
    pub fn check(&self, username: &str, addr: &str) -> Result<(), u64> {
        let map = self.failures.lock().expect("limiter lock");
        for key in Self::keys(username, addr) {
            if let Some((count, start)) = map.get(&key) {
                let elapsed = start.elapsed();
                if *count >= self.max_failures && elapsed < self.window {
                    return Err((self.window - elapsed).as_secs().max(1));
                }
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, username: &str, addr: &str) {
        let mut map = self.failures.lock().expect("limiter lock");
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, start)| start.elapsed() < window);
        }
        for key in Self::keys(username, addr) {
            let entry = map.entry(key).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= self.window {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
    }

    /// A successful sign-in clears the account's counter (not the address's).
    pub fn record_success(&self, username: &str) {
        self.failures
            .lock()
            .expect("limiter lock")
            .remove(&format!("user:{username}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_the_limit_and_success_clears_it() {
        let l = LoginLimiter::new(3, 60);
        for _ in 0..3 {
            assert!(l.check("ann", "1.1.1.1").is_ok());
            l.record_failure("ann", "1.1.1.1");
        }
        assert!(
            l.check("ann", "2.2.2.2").is_err(),
            "the account is locked from any address"
        );
        assert!(
            l.check("bob", "1.1.1.1").is_err(),
            "the address is locked for any account"
        );
        assert!(l.check("bob", "3.3.3.3").is_ok());
        l.record_success("ann");
        assert!(l.check("ann", "2.2.2.2").is_ok());
    }
}
