//! Personal API tokens: `chr_` followed by 64 hex digits of randomness.
//!
//! The prefix lets secret scanners find leaked tokens; only a BLAKE3 hash of the
//! whole token is stored. A fast hash is right here: the token carries 256 bits of
//! randomness, so there is nothing for a slow password hash to protect.

use std::fmt;

/// The prefix every Charter token starts with.
pub const TOKEN_PREFIX: &str = "chr_";
const SECRET_HEX_LEN: usize = 64;

/// A token's secret text. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSecret(String);

impl TokenSecret {
    /// A token made from 32 random bytes supplied by the caller.
    pub fn from_random(bytes: [u8; 32]) -> Self {
        Self(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
    }

    /// Parse a presented token; `None` if it is not shaped like one of ours.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(TOKEN_PREFIX)?;
        (rest.len() == SECRET_HEX_LEN && rest.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self(text.to_owned()))
    }

    /// Whether a presented credential looks like a Charter token at all.
    pub fn looks_like_token(text: &str) -> bool {
        text.starts_with(TOKEN_PREFIX)
    }

    /// The stored form: BLAKE3 of the token text, hex.
    pub fn hash(&self) -> String {
        blake3::hash(self.0.as_bytes()).to_hex().to_string()
    }

    /// The first characters, safe to show in lists so people can tell tokens apart.
    pub fn display_prefix(&self) -> String {
        self.0[..TOKEN_PREFIX.len() + 8].to_owned()
    }

    /// The secret itself: show it once, at creation.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenSecret({}…[redacted])", self.display_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_hide_their_secret() {
        let t = TokenSecret::from_random([7; 32]);
        assert!(t.expose().starts_with("chr_"));
        assert_eq!(TokenSecret::parse(t.expose()), Some(t.clone()));
        assert!(!format!("{t:?}").contains(&t.expose()[12..]));
        assert_eq!(t.hash().len(), 64);
        assert_ne!(t.hash(), TokenSecret::from_random([8; 32]).hash());
    }

    #[test]
    fn malformed_tokens_are_not_tokens() {
        assert!(TokenSecret::parse("chr_123").is_none());
        assert!(TokenSecret::parse(&format!("xyz_{}", "a".repeat(64))).is_none());
        assert!(TokenSecret::parse(&format!("chr_{}", "g".repeat(64))).is_none());
    }
}
