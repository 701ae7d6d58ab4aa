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

    /// [`PayloadDiff::of`] an event's payload, also reading `before`/`after` that are
    /// single values (an answer, a classification, a state): one changed row named
    /// after what changed (the payload's `input_id`, else what the action changes),
    /// with the payload's other fields as unchanged context.
    pub fn of_event(action: &str, payload: &Value) -> Self {
        let Some(object) = payload.as_object() else {
            return Self::of(payload);
        };
        let (Some(before), Some(after)) = (object.get("before"), object.get("after")) else {
            return Self::of(payload);
        };
        if before.is_object() || after.is_object() {
            return Self::of(payload);
        }
        let key = object
            .get("input_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| changed_field(action).to_owned());
        let text = |v: &Value| match v {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        };
        let (b, a) = (text(before), text(after));
        let mut rows = vec![DiffRow {
            key,
            changed: b != a,
            before: b,
            after: a,
        }];
        let mut context: Map<String, Value> = object.clone();
        context.remove("before");
        context.remove("after");
        for (k, v) in flatten(&Value::Object(context)) {
            rows.push(DiffRow {
                key: k,
                before: Some(v.clone()),
                after: Some(v),
                changed: false,
            });
        }
        Self {
            kind: DiffKind::Change,
            rows,
            raw: serde_json::to_string_pretty(payload).unwrap_or_default(),
        }
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
                    "group" | "role" | "severity" | "status" | "stage" | "version" => 1,
                    "display_name" | "email" | "prefix" => 2,
                    k if k == "id"
                        || k.ends_with("_id")
                        || k.contains("hash")
                        || k.contains("sha256")
                        || k == "disabled" =>
                    {
                        9
                    }
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

/// What an action with single-value `before`/`after` changes (`bundle.classified`
/// changes the classification).
fn changed_field(action: &str) -> &'static str {
    match action.rsplit('.').next().unwrap_or(action) {
        "classified" => "classification",
        "stage_changed" => "stage",
        "published" | "retired" | "reopened" if action.starts_with("policy_version.") => "status",
        "archived" | "completed" | "reopened" => "state",
        _ => "value",
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
    fn single_values_before_and_after_read_as_a_change() {
        let d = PayloadDiff::of_event(
            "evidence.answered",
            &json!({ "before": null, "after": "Low", "input_id": "proposed-tier", "revision": 1 }),
        );
        assert_eq!(d.kind, DiffKind::Change);
        assert_eq!(
            d.rows[0],
            DiffRow {
                key: "proposed-tier".into(),
                before: None,
                after: Some("Low".into()),
                changed: true
            }
        );
        assert_eq!(d.rows.iter().filter(|r| r.changed).count(), 1, "context is unchanged");
        assert_eq!(d.summary(), "proposed-tier: — → Low");
        let d = PayloadDiff::of_event("bundle.archived", &json!({ "before": "active", "after": "archived" }));
        assert_eq!(d.summary(), "state: active → archived");
        let d = PayloadDiff::of_event(
            "policy_version.published",
            &json!({ "before": "draft", "after": "published" }),
        );
        assert_eq!(d.summary(), "status: draft → published");
        // Objects on both sides keep the field-by-field diff.
        let d = PayloadDiff::of_event(
            "user.updated",
            &json!({ "before": { "role": "a" }, "after": { "role": "b" } }),
        );
        assert_eq!(d.summary(), "role: a → b");
    }

    #[test]
    fn a_payload_without_sides_shows_its_fields() {
        let d = PayloadDiff::of(&json!({ "group": "ops", "username": "ann", "user_id": "usr_1" }));
        assert_eq!(d.kind, DiffKind::Fields);
        assert_eq!(d.summary(), "username: ann; group: ops");
    }
}
