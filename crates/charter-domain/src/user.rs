//! Value types for accounts, parsed at the edge so that the inside never sees a bad one.

use std::fmt;

/// What is wrong with a user-supplied value, in a sentence that says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    pub field: &'static str,
    pub reason: String,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidValue {
    InvalidValue {
        field,
        reason: reason.into(),
    }
}

/// A login name: 1–64 characters of lower-case letters, digits, `.`, `-` and `_`,
/// starting with a letter or digit.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_');
        if text.is_empty() || text.len() > 64 {
            return Err(invalid("username", "must be 1 to 64 characters long"));
        }
        if !text.chars().all(ok_char) {
            return Err(invalid(
                "username",
                format!("`{text}` may hold only lower-case letters, digits, `.`, `-` and `_`"),
            ));
        }
        if !text.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(invalid("username", "must start with a letter or a digit"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A group name: the same alphabet as usernames.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupName(String);

impl GroupName {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        Username::parse(text).map(|u| Self(u.0)).map_err(|e| InvalidValue {
            field: "name",
            reason: e.reason,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address, checked for shape only (one `@`, something on both sides, a dot
/// in the domain); deliverability is not Charter's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let text = text.trim();
        let bad = || {
            invalid(
                "email",
                format!("`{text}` is not an e-mail address (expected name@example.com)"),
            )
        };
        let (local, domain) = text.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || text.contains(char::is_whitespace)
            || text.len() > 254
        {
            return Err(bad());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password being set. Its `Debug` never shows it.
#[derive(Clone)]
pub struct NewPassword(String);

/// The shortest password Charter accepts.
pub const MIN_PASSWORD_LEN: usize = 10;

impl NewPassword {
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        if text.chars().count() < MIN_PASSWORD_LEN {
            return Err(invalid(
                "password",
                format!("must be at least {MIN_PASSWORD_LEN} characters long"),
            ));
        }
        if text.len() > 1024 {
            return Err(invalid("password", "must be at most 1024 bytes long"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The secret itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_refuse_what_would_be_ambiguous() {
        assert!(Username::parse("alice.smith-2").is_ok());
        assert!(Username::parse("Alice").unwrap_err().reason.contains("lower-case"));
        assert!(Username::parse("").is_err());
        assert!(Username::parse("_x").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn emails_are_checked_for_shape() {
        assert!(Email::parse("ann@example.com").is_ok());
        for bad in [
            "ann",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a n@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn short_passwords_are_refused_and_debug_hides_them() {
        assert!(NewPassword::parse("short").is_err());
        let pw = NewPassword::parse("correct horse battery").unwrap();
        assert!(!format!("{pw:?}").contains("horse"));
    }
}
