//! Project ingest tokens: `chi_` followed by 64 hex digits. A token belongs to one
//! project and can do one thing — send spans (and feedback) to it — so it can sit
//! in an application's environment without carrying a person's rights. Only a
//! BLAKE3 hash is stored.

use std::fmt;

/// The prefix every ingest token starts with.
pub const INGEST_TOKEN_PREFIX: &str = "chi_";
const SECRET_HEX_LEN: usize = 64;

/// An ingest token's secret text. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct IngestSecret(String);

impl IngestSecret {
    /// A token made from 32 random bytes supplied by the caller.
    pub fn from_random(bytes: [u8; 32]) -> Self {
        Self(format!("{INGEST_TOKEN_PREFIX}{}", hex::encode(bytes)))
    }

    /// Parse a presented token; `None` if it is not shaped like one.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.trim().strip_prefix(INGEST_TOKEN_PREFIX)?;
        (rest.len() == SECRET_HEX_LEN && rest.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Self(text.trim().to_owned()))
    }

    /// Whether a presented credential is meant as an ingest token.
    pub fn looks_like(text: &str) -> bool {
        text.trim().starts_with(INGEST_TOKEN_PREFIX)
    }

    /// The stored form: BLAKE3 of the token text, hex.
    pub fn hash(&self) -> String {
        blake3::hash(self.0.as_bytes()).to_hex().to_string()
    }

    /// The first characters, safe to show so people can tell tokens apart.
    pub fn display_prefix(&self) -> String {
        self.0[..INGEST_TOKEN_PREFIX.len() + 8].to_owned()
    }

    /// The secret itself: show it once, at creation.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IngestSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IngestSecret({}…[redacted])", self.display_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_tokens_round_trip_and_hide_their_secret() {
        let t = IngestSecret::from_random([9; 32]);
        assert!(t.expose().starts_with("chi_"));
        assert_eq!(IngestSecret::parse(t.expose()), Some(t.clone()));
        assert!(!format!("{t:?}").contains(&t.expose()[12..]));
        assert!(IngestSecret::parse("chi_abc").is_none());
        assert!(IngestSecret::parse(&format!("chr_{}", "a".repeat(64))).is_none());
    }
}
