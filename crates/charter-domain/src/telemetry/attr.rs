//! Attribute values (OTLP `AnyValue`) and attribute lists, and their stored form: a
//! compact JSON object keyed by the attribute's dotted name.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// An attribute value: OTLP's `AnyValue`.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Array(Vec<AttrValue>),
    Map(Vec<(String, AttrValue)>),
    /// Bytes, stored as lowercase hex text.
    Bytes(Vec<u8>),
    /// A value the sender left empty.
    Empty,
}

impl AttrValue {
    /// The value as text, if it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an integer: ints, whole doubles, and strings of digits (token
    /// counts arrive in all three forms).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            AttrValue::Double(d) if d.is_finite() && d.fract() == 0.0 && d.abs() < 9.0e15 => Some(*d as i64),
            AttrValue::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a number: ints, doubles, numeric strings.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Int(i) => Some(*i as f64),
            AttrValue::Double(d) if d.is_finite() => Some(*d),
            AttrValue::Str(s) => s.trim().parse().ok().filter(|d: &f64| d.is_finite()),
            _ => None,
        }
    }

    /// The value as text for display and filtering: strings as themselves, other
    /// scalars in their JSON form, arrays and maps as JSON.
    pub fn to_text(&self) -> String {
        match self {
            AttrValue::Str(s) => s.clone(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }

    /// Every string inside this value (for redaction).
    pub fn strings_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        match self {
            AttrValue::Str(s) => f(s),
            AttrValue::Array(items) => items.iter_mut().for_each(|v| v.strings_mut(f)),
            AttrValue::Map(entries) => entries.iter_mut().for_each(|(_, v)| v.strings_mut(f)),
            _ => {}
        }
    }

    /// From stored JSON.
    pub fn from_json(value: &serde_json::Value) -> Self {
        match value {
            serde_json::Value::Null => AttrValue::Empty,
            serde_json::Value::Bool(b) => AttrValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => AttrValue::Int(i),
                None => AttrValue::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => AttrValue::Str(s.clone()),
            serde_json::Value::Array(items) => AttrValue::Array(items.iter().map(Self::from_json).collect()),
            serde_json::Value::Object(map) => {
                AttrValue::Map(map.iter().map(|(k, v)| (k.clone(), Self::from_json(v))).collect())
            }
        }
    }
}

impl Serialize for AttrValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AttrValue::Str(v) => s.serialize_str(v),
            AttrValue::Bool(v) => s.serialize_bool(*v),
            AttrValue::Int(v) => s.serialize_i64(*v),
            // JSON has no NaN or infinities: keep them readable as text.
            AttrValue::Double(v) if v.is_finite() => s.serialize_f64(*v),
            AttrValue::Double(v) => s.serialize_str(&v.to_string()),
            AttrValue::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            AttrValue::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            AttrValue::Bytes(b) => s.serialize_str(&hex::encode(b)),
            AttrValue::Empty => s.serialize_unit(),
        }
    }
}

/// A span's (or resource's, or event's) attributes, in the order sent. OTLP says
/// keys are unique; when a sender repeats one, the last value wins on reading.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attributes(pub Vec<(String, AttrValue)>);

impl Attributes {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn push(&mut self, key: impl Into<String>, value: AttrValue) {
        self.0.push((key.into(), value));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The value of `key` (the last one, if repeated).
    pub fn get(&self, key: &str) -> Option<&AttrValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The string value of `key`, if it is a non-empty string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(AttrValue::as_str).filter(|s| !s.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &AttrValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The stored form: a compact JSON object (`{"llm.model_name":"gpt-4o",…}`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Back from the stored form; anything but an object reads as no attributes.
    pub fn from_json(text: &str) -> Self {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => {
                Self(map.iter().map(|(k, v)| (k.clone(), AttrValue::from_json(v))).collect())
            }
            _ => Self::new(),
        }
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Repeated keys would make invalid-looking JSON objects; keep the last.
        let has_repeats = {
            let mut keys: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
            keys.sort_unstable();
            keys.windows(2).any(|w| w[0] == w[1])
        };
        let mut map = s.serialize_map(None)?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if has_repeats && self.0[i + 1..].iter().any(|(later, _)| later == k) {
                continue;
            }
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_through_their_stored_json() {
        let mut a = Attributes::new();
        a.push("llm.model_name", AttrValue::Str("gpt-4o".into()));
        a.push("llm.token_count.prompt", AttrValue::Int(512));
        a.push("score", AttrValue::Double(0.5));
        a.push("tag.tags", AttrValue::Array(vec![AttrValue::Str("prod".into())]));
        a.push("flag", AttrValue::Bool(true));
        let json = a.to_json();
        assert_eq!(
            json,
            r#"{"llm.model_name":"gpt-4o","llm.token_count.prompt":512,"score":0.5,"tag.tags":["prod"],"flag":true}"#
        );
        let back = Attributes::from_json(&json);
        assert_eq!(back.get_str("llm.model_name"), Some("gpt-4o"));
        assert_eq!(
            back.get("llm.token_count.prompt").and_then(AttrValue::as_i64),
            Some(512)
        );
        assert_eq!(back.get("score"), Some(&AttrValue::Double(0.5)));
    }

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let mut a = Attributes::new();
        a.push("k", AttrValue::Int(1));
        a.push("k", AttrValue::Int(2));
        assert_eq!(a.get("k"), Some(&AttrValue::Int(2)));
        assert_eq!(a.to_json(), r#"{"k":2}"#);
    }

    #[test]
    fn numbers_are_read_from_ints_doubles_and_text() {
        assert_eq!(AttrValue::Str(" 40 ".into()).as_i64(), Some(40));
        assert_eq!(AttrValue::Double(40.0).as_i64(), Some(40));
        assert_eq!(AttrValue::Double(40.5).as_i64(), None);
        assert_eq!(AttrValue::Double(f64::NAN).as_f64(), None);
        assert_eq!(AttrValue::Double(f64::INFINITY).to_text(), "\"inf\"");
    }
}
