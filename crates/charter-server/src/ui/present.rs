//! How governance facts read on the bundle, approval and finding pages: labels
//! for states and statuses, badge classes, answers as text, file sizes. Pure
//! functions, shared by those pages.

use charter_domain::time::parse_instant;

use super::When;
use crate::governance::bundle::notebook::{AttachmentView, NotebookInput};

/// An RFC 3339 instant as the API's views carry it, to the minute.
pub fn when(text: &str) -> When {
    match parse_instant(text) {
        Ok(ms) => When::from_ms(ms),
        Err(_) => When {
            iso: text.to_owned(),
            text: text.to_owned(),
        },
    }
}

/// An approval status as people read it.
pub fn approval_status(status: &str) -> &'static str {
    match status {
        "not_requested" => "Not requested",
        "pending" => "Waiting for review",
        "approved" => "Approved",
        "conditionally_approved" => "Approved with conditions",
        "rejected" => "Rejected",
        "revoked" => "Revoked",
        "pending_expiration" => "Approved, expiring",
        "expired" => "Expired",
        _ => "Unknown",
    }
}

/// A finding status as people read it.
pub fn finding_status(status: &str) -> &'static str {
    match status {
        "open" => "Open",
        "in_progress" => "In progress",
        "resolved" => "Resolved",
        "wont_do" => "Won't do",
        "closed" => "Closed",
        _ => "Unknown",
    }
}

/// A severity as people read it.
pub fn severity(s: &str) -> &'static str {
    match s {
        "low" => "Low",
        "medium" => "Medium",
        "high" => "High",
        "critical" => "Critical",
        _ => "Unknown",
    }
}

/// A bundle state as people read it.
pub fn bundle_state(s: &str) -> &'static str {
    match s {
        "active" => "Active",
        "complete" => "Complete",
        "archived" => "Archived",
        _ => "Unknown",
    }
}

/// The badge class of a classification (`Low`, `Medium`, `High` are coloured; any
/// other name a policy uses is shown plainly).
pub fn classification_class(c: Option<&str>) -> &'static str {
    match c.map(str::to_ascii_lowercase).as_deref() {
        Some("low") => "class-low",
        Some("medium") => "class-medium",
        Some("high") => "class-high",
        Some(_) => "class-other",
        None => "class-none",
    }
}

/// An attachment kind as people read it. Kinds this page does not know (added by
/// later parts of Charter) are shown as they are named.
pub fn attachment_kind(kind: &str) -> String {
    match kind {
        "model_version" => "Model version".into(),
        "app" => "App".into(),
        "report" => "Report".into(),
        "check_result" => "Check result".into(),
        "telemetry" => "Telemetry".into(),
        "file" => "File".into(),
        other => {
            let spaced = other.replace(['_', '-'], " ");
            let mut chars = spaced.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// Bytes as people read them.
pub fn size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    #[expect(clippy::cast_precision_loss, reason = "a size shown to one decimal")]
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A number as people write it: `1200`, not `1200.0`.
pub fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
            #[expect(clippy::cast_possible_truncation, reason = "whole numbers below 1e15 only")]
            let whole = f as i64;
            whole.to_string()
        }
        _ => n.to_string(),
    }
}

/// A JSON value as one line of text (reference fields, sign-off answers).
pub fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => number_text(n),
        serde_json::Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// An answer as people read it: option labels rather than stored values, lists
/// joined, attachments by name.
pub fn answer_text(input: &NotebookInput, value: &serde_json::Value, attachments: &[AttachmentView]) -> String {
    let label_of = |v: &str| {
        input
            .options
            .iter()
            .find(|o| o.value == v)
            .map_or_else(|| v.to_owned(), |o| o.label.clone())
    };
    match (input.input_type.as_str(), value) {
        ("file", serde_json::Value::String(id)) => attachments
            .iter()
            .find(|a| a.id == *id)
            .map_or_else(|| id.clone(), |a| a.name.clone()),
        (_, serde_json::Value::String(s)) if !input.options.is_empty() => label_of(s),
        (_, serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), label_of))
            .collect::<Vec<_>>()
            .join(", "),
        (_, v) => json_text(v),
    }
}

/// Who is asked to approve, in words (`group ai-governance, user ann`).
pub fn approvers_text<'a>(approvers: impl Iterator<Item = (&'a str, &'a str, bool)>) -> String {
    approvers
        .map(|(kind, name, additional)| {
            let extra = if additional { " (added)" } else { "" };
            format!("{kind} {name}{extra}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(json_text(&serde_json::json!(1200.0)), "1200");
        assert_eq!(json_text(&serde_json::json!(0.25)), "0.25");
    }

    #[test]
    fn sizes_read_like_sizes() {
        assert_eq!(size(12), "12 bytes");
        assert_eq!(size(2048), "2.0 KB");
        assert_eq!(size(5 * 1024 * 1024 + 1), "5.0 MB");
    }

    #[test]
    fn unknown_attachment_kinds_are_named_as_they_are() {
        assert_eq!(attachment_kind("model_version"), "Model version");
        assert_eq!(attachment_kind("registered_model_alias"), "Registered model alias");
    }

    #[test]
    fn classifications_get_a_badge_class() {
        assert_eq!(classification_class(Some("High")), "class-high");
        assert_eq!(classification_class(Some("Tier 2")), "class-other");
        assert_eq!(classification_class(None), "class-none");
    }
}
