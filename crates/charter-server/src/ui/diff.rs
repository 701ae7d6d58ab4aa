//! An audit payload as people read it: `before`/`after` side by side with the
//! changed keys marked, or the payload's fields when it records no change.

use serde_json::{Map, Value};

/// How the payload is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    /// `before` and `after`: an update.
    Change,
    /// Only `after`: something was created.
    Created,
    /// Only `before`: something was removed.
    Removed,
    /// Neither: the payload's own fields.
    Fields,
}

/// One key of the payload (nested objects flattened to `a.b`).
#[derive(Debug, PartialEq, Eq)]
pub struct DiffRow {
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub changed: bool,
}

#[derive(Debug)]
pub struct PayloadDiff {
    pub kind: DiffKind,
    pub rows: Vec<DiffRow>,
    /// The payload, pretty-printed, for those who want it whole.
    pub raw: String,
}

impl PayloadDiff {
    pub fn of(payload: &Value) -> Self {
        let raw = serde_json::to_string_pretty(payload).unwrap_or_default();
        let object = payload.as_object();
        let side = |name: &str| object.and_then(|o| o.get(name)).filter(|v| v.is_object());
        let (kind, before, after) = match (side("before"), side("after")) {
            (Some(b), Some(a)) => (DiffKind::Change, flatten(b), flatten(a)),
            (None, Some(a)) => (DiffKind::Created, Vec::new(), flatten(a)),
            (Some(b), None) => (DiffKind::Removed, flatten(b), Vec::new()),
            (None, None) => (DiffKind::Fields, Vec::new(), flatten(payload)),
        };
        let mut keys: Vec<&String> = before.iter().chain(after.iter()).map(|(k, _)| k).collect();
        keys.sort();
        keys.dedup();
        let find = |side: &[(String, String)], key: &str| side.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let rows = keys
            .into_iter()
            .map(|key| {
                let b = find(&before, key);
                let a = find(&after, key);
                DiffRow {
                    changed: kind == DiffKind::Change && b != a,
                    key: key.clone(),
                    before: b,
                    after: a,
                }
            })
            .collect();
        Self { kind, rows, raw }
    }

    /// A one-line summary for the events table: what changed, or a few fields.
    pub fn summary(&self) -> String {
        let text = match self.kind {
            DiffKind::Change => {
                let changed: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|r| r.changed)
                    .map(|r| {
                        format!(
                            "{}: {} → {}",
                            r.key,
                            r.before.as_deref().unwrap_or("—"),
                            r.after.as_deref().unwrap_or("—")
                        )
                    })
                    .collect();
                if changed.is_empty() {
                    "no field changed".to_owned()
                } else {
                    changed.join("; ")
                }
            }
            DiffKind::Created | DiffKind::Removed | DiffKind::Fields => {
                // Names first: they say what the event is about; ids and flags last.
                let rank = |key: &str| match key.rsplit('.').next().unwrap_or(key) {
                    "username" | "name" => 0,
                    "group" | "role" => 1,
                    "display_name" | "email" | "prefix" => 2,
                    k if k == "id" || k.ends_with("_id") || k.contains("hash") || k == "disabled" => 9,
                    _ => 3,
                };
                let mut rows: Vec<&DiffRow> = self.rows.iter().filter(|r| rank(&r.key) < 9).collect();
                rows.sort_by_key(|r| rank(&r.key));
                rows.iter()
                    .take(3)
                    .map(|r| {
                        let v = r.after.as_deref().or(r.before.as_deref()).unwrap_or("");
                        format!("{}: {v}", r.key)
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        };
        truncate(&text, 90)
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Object keys flattened to dotted paths; other values shown as text (strings
/// without quotes, everything else as compact JSON).
fn flatten(value: &Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, map: &Map<String, Value>, out: &mut Vec<(String, String)>) {
        for (k, v) in map {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(inner) if !inner.is_empty() => walk(&key, inner, out),
                Value::String(s) => out.push((key, s.clone())),
                other => out.push((key, other.to_string())),
            }
        }
    }
    let mut out = Vec::new();
    match value {
        Value::Object(map) => walk("", map, &mut out),
        Value::Null => {}
        other => out.push(("value".to_owned(), other.to_string())),
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_update_marks_exactly_the_changed_keys() {
        let d = PayloadDiff::of(&json!({
            "before": { "role": "viewer", "disabled": false, "email": "a@x.io" },
            "after": { "role": "admin", "disabled": false, "email": "a@x.io" },
        }));
        assert_eq!(d.kind, DiffKind::Change);
        let changed: Vec<&str> = d.rows.iter().filter(|r| r.changed).map(|r| r.key.as_str()).collect();
        assert_eq!(changed, ["role"]);
        assert_eq!(d.summary(), "role: viewer → admin");
    }

    #[test]
    fn a_creation_lists_the_new_fields_and_nested_objects_flatten() {
        let d = PayloadDiff::of(&json!({ "after": { "name": "ops", "meta": { "tier": 1 } } }));
        assert_eq!(d.kind, DiffKind::Created);
        assert_eq!(
            d.rows.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(),
            ["meta.tier", "name"]
        );
        assert!(d.rows.iter().all(|r| r.before.is_none() && !r.changed));
    }

    #[test]
    fn a_payload_without_sides_shows_its_fields() {
        let d = PayloadDiff::of(&json!({ "group": "ops", "username": "ann", "user_id": "usr_1" }));
        assert_eq!(d.kind, DiffKind::Fields);
        assert_eq!(d.summary(), "username: ann; group: ops");
    }
}
