//! The YAML layer: a generic tree of nodes, each with the line and column it was written at.
//!
//! Policies are read in two steps: serde-saphyr parses the text into this tree (syntax errors
//! stop here, with their position), then `read` walks the tree and builds the typed model. Going
//! through a tree rather than `#[derive(Deserialize)]` structs lets the linter report every problem
//! at once, warn about unknown keys instead of failing, and point at the exact node.

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::diagnostic::{Diagnostic, Pos};

/// A YAML node with its position.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub kind: Kind,
    pub pos: Pos,
    /// Byte range of a scalar in the source, when the parser knows it.
    pub span: Option<Range<usize>>,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the node's kind, for messages ("a string", "a list").
    pub fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "nothing (null)",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// The scalar as text: strings as they are, numbers and booleans as written in the source
    /// (`1.0` stays `1.0`), `None` for null, lists and mappings.
    pub fn scalar_text(&self, src: &str) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) => {
                if let Some(raw) = self.span.clone().and_then(|r| src.get(r)) {
                    let raw = raw.trim();
                    if !raw.is_empty() && !raw.starts_with(['"', '\'', '*', '&', '!']) {
                        return Some(raw.to_owned());
                    }
                }
                Some(match &self.kind {
                    Kind::Bool(b) => b.to_string(),
                    Kind::Int(i) => i.to_string(),
                    Kind::Float(f) => f.to_string(),
                    _ => unreachable!("matched above"),
                })
            }
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// The node as JSON (for free-form fields such as gate parameters and test answers).
    pub fn to_json(&self) -> serde_json::Value {
        match &self.kind {
            Kind::Null => serde_json::Value::Null,
            Kind::Bool(b) => serde_json::Value::Bool(*b),
            Kind::Int(i) => serde_json::Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into),
            Kind::Str(s) => serde_json::Value::String(s.clone()),
            Kind::Seq(items) => items.iter().map(Node::to_json).collect(),
            Kind::Map(entries) => {
                serde_json::Value::Object(entries.iter().map(|(k, v)| (key_text(k), v.to_json())).collect())
            }
        }
    }
}

/// A mapping key as text (keys are nearly always strings; numbers and booleans are shown as such).
pub(crate) fn key_text(key: &Node) -> String {
    match &key.kind {
        Kind::Str(s) => s.clone(),
        Kind::Bool(b) => b.to_string(),
        Kind::Int(i) => i.to_string(),
        Kind::Float(f) => f.to_string(),
        Kind::Null => "null".to_owned(),
        Kind::Seq(_) | Kind::Map(_) => "<complex key>".to_owned(),
    }
}

/// Parse `src` into a node tree, or return the syntax error with its position.
pub(crate) fn parse(src: &str) -> Result<Node, Diagnostic> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans only: `Yes` and `No` are option labels in real policies, not booleans.
    options.strict_booleans = true;
    // `007` is an identifier, not the number 7.
    options.leading_zero_numbers_as_strings = true;
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(src, options) {
        Ok(raw) => Ok(convert(raw)),
        Err(err) => {
            let pos = err.location().map_or(Pos::new(1, 1), |loc| pos_of(&loc));
            Err(syntax_diagnostic(&err, pos))
        }
    }
}

fn syntax_diagnostic(err: &serde_saphyr::Error, pos: Pos) -> Diagnostic {
    let text = err.without_snippet().to_string();
    // serde-saphyr prefixes "error: line L column C: "; the diagnostic carries the position itself.
    let detail = match text.find(": ") {
        Some(i) if text.starts_with("error: line ") => {
            let rest = &text[i + 2..];
            rest.split_once(": ").map_or(rest, |(_, msg)| msg)
        }
        _ => text.as_str(),
    };
    let detail = detail.lines().next().unwrap_or_default().trim().trim_end_matches('.');
    if let Some(key) = detail.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return Diagnostic::error(
            "duplicate_key",
            pos,
            format!(
                "The key `{key}` appears twice in the same mapping; keep one of them (YAML does not allow repeated keys)."
            ),
        );
    }
    Diagnostic::error(
        "yaml_syntax",
        pos,
        format!(
            "The YAML cannot be read: {detail}. Fix the syntax here (check indentation, the `:` after each key, \
             and that quotes and brackets are closed)."
        ),
    )
}

fn pos_of(loc: &Location) -> Pos {
    let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX).max(1);
    Pos::new(clamp(loc.line()), clamp(loc.column()))
}

fn convert(raw: Spanned<Raw>) -> Node {
    let pos = pos_of(&raw.referenced);
    let span = raw.referenced.span();
    let span = match (span.byte_offset(), span.byte_len()) {
        (Some(off), Some(len)) => {
            let off = usize::try_from(off).ok();
            let len = usize::try_from(len).ok();
            off.zip(len).map(|(off, len)| off..off.saturating_add(len))
        }
        _ => None,
    };
    let kind = match raw.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => Kind::Bool(b),
        Raw::Int(i) => Kind::Int(i),
        Raw::UInt(u) => i64::try_from(u).map_or(Kind::Float(u as f64), Kind::Int),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(s) => Kind::Str(s),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(convert).collect()),
        Raw::Map(entries) => Kind::Map(entries.into_iter().map(|(k, v)| (convert(k), convert(v))).collect()),
    };
    Node { kind, pos, span }
}

/// What serde-saphyr hands us: any YAML value, with spans on every child.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::UInt(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        Raw::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Raw>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_positions_and_raw_text() {
        let src = "a: 1.0\nb:\n  - \"Yes\"\n  - No\n";
        let node = parse(src).unwrap();
        let Kind::Map(entries) = &node.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].1.pos, Pos::new(1, 4));
        assert_eq!(entries[0].1.scalar_text(src).as_deref(), Some("1.0"));
        let Kind::Seq(items) = &entries[1].1.kind else {
            panic!("not a seq")
        };
        assert_eq!(items[1].pos, Pos::new(4, 5));
        // YAML 1.1 booleans stay strings.
        assert!(matches!(&items[1].kind, Kind::Str(s) if s == "No"));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert_eq!(err.code, "yaml_syntax");
        assert_eq!((err.line, err.column), (2, 2));
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.code, "duplicate_key");
        assert_eq!((err.line, err.column), (2, 1));
        assert!(err.message.contains("`a`"), "{}", err.message);
    }
}
