//! Time as Charter stores it: milliseconds since the Unix epoch, UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The current time in milliseconds.
pub fn now_ms() -> Millis {
    to_ms(OffsetDateTime::now_utc())
}

/// An instant as milliseconds since the epoch.
pub fn to_ms(t: OffsetDateTime) -> Millis {
    (t.unix_timestamp_nanos() / 1_000_000) as Millis
}

/// Milliseconds as RFC 3339 text (`2026-12-03T19:07:17.123Z`).
pub fn rfc3339(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Parse an instant written as RFC 3339 text, a date (`2026-12-03`, midnight UTC) or
/// epoch milliseconds.
pub fn parse_instant(text: &str) -> Result<Millis, String> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(to_ms(t));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(text, &fmt) {
        return Ok(to_ms(d.midnight().assume_utc()));
    }
    Err(format!(
        "`{text}` is not a time; write RFC 3339 (2026-12-03T10:00:00Z), a date (2026-12-03) or epoch milliseconds"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_in_every_documented_form() {
        assert_eq!(parse_instant("1970-01-02").unwrap(), 86_400_000);
        assert_eq!(parse_instant("1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(parse_instant("42").unwrap(), 42);
        assert!(parse_instant("yesterday").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn rfc3339_round_trips() {
        let ms = 1_764_788_837_123;
        assert_eq!(parse_instant(&rfc3339(ms)).unwrap(), ms);
    }
}
