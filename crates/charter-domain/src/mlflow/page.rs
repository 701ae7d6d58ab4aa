//! Page tokens: opaque to the client, an offset into the ordered result for us.

/// Where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageToken {
    pub offset: u64,
}

impl PageToken {
    /// The token text: hex of `{"offset": N}`.
    pub fn encode(self) -> String {
        hex::encode(format!("{{\"offset\":{}}}", self.offset))
    }

    /// Read a token (an empty one is the first page).
    pub fn decode(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::default());
        }
        let bad = || format!("page_token `{text}` is not a token this server handed out");
        let bytes = hex::decode(text).map_err(|_| bad())?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        let offset = value
            .get("offset")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(bad)?;
        Ok(Self { offset })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn tokens_round_trip(offset in any::<u64>()) {
            let t = PageToken { offset };
            prop_assert_eq!(PageToken::decode(&t.encode()).unwrap(), t);
        }

        #[test]
        fn garbage_is_refused_not_panicked_on(text in "\\PC{1,40}") {
            let _ = PageToken::decode(&text);
        }
    }

    #[test]
    fn empty_is_the_first_page() {
        assert_eq!(PageToken::decode("").unwrap().offset, 0);
        assert!(PageToken::decode("zz").is_err());
    }
}
