//! Server-side redaction: rules a project sets, applied to span (and span event)
//! attributes before anything is stored, so personal data an application forgot to
//! mask never reaches the database.
//!
//! A rule names the attributes it covers (glob patterns where `*` matches any run of
//! characters, dots included: `llm.*.message.content`) and what to look for: a preset
//! (`email`, `card_number`, `phone`, `us_ssn`, `iban`) or a regular expression.
//! Every match inside a covered string — also inside arrays and maps — is replaced.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::attr::Attributes;

/// Most rules a project may have.
pub const MAX_RULES: usize = 50;
/// Compiled-size limit of one expression (the `regex` crate's measure).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A rule as configured and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionRule {
    /// A name to tell rules apart (shown in the replacement of presets).
    pub name: String,
    /// Attribute keys the rule applies to; `*` matches any characters.
    pub attributes: Vec<String>,
    /// A built-in pattern: `email`, `card_number`, `phone`, `us_ssn`, `iban`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// A regular expression (Rust `regex` syntax), instead of a preset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// What a match becomes; default `[REDACTED:<preset>]` or `[REDACTED]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
}

/// The built-in patterns.
pub const PRESETS: [&str; 5] = ["email", "card_number", "phone", "us_ssn", "iban"];

fn preset_pattern(name: &str) -> Option<&'static str> {
    Some(match name {
        "email" => r"(?i)[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}",
        // 13–19 digits, optionally grouped by spaces or dashes; checked with Luhn below.
        "card_number" => r"\b(?:\d[ \-]?){12,18}\d\b",
        "phone" => r"(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,4}\)[\s.\-]?|\b\d{2,4}[\s.\-])\d{3,4}[\s.\-]?\d{3,4}\b",
        "us_ssn" => r"\b\d{3}-\d{2}-\d{4}\b",
        "iban" => r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b",
        _ => return None,
    })
}

/// Why a rule cannot be used; names the rule and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

struct Compiled {
    keys: Vec<Regex>,
    pattern: Regex,
    replacement: String,
    luhn: bool,
}

/// A project's rules, compiled.
#[derive(Default)]
pub struct Redactor {
    rules: Vec<Compiled>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} rules)", self.rules.len())
    }
}

fn glob(pattern: &str) -> Result<Regex, regex::Error> {
    let mut re = String::from("^");
    for (i, part) in pattern.split('*').enumerate() {
        if i > 0 {
            re.push_str(".*");
        }
        re.push_str(&regex::escape(part));
    }
    re.push('$');
    Regex::new(&re)
}

/// Whether a run of digits (spaces and dashes ignored) passes the Luhn check card
/// numbers carry.
fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl Redactor {
    /// Compile rules; each problem names the rule (by position and name) and field.
    pub fn compile(rules: &[RedactionRule]) -> Result<Self, RuleError> {
        if rules.len() > MAX_RULES {
            return Err(RuleError(format!(
                "redaction: at most {MAX_RULES} rules, not {}",
                rules.len()
            )));
        }
        let mut compiled = Vec::with_capacity(rules.len());
        for (i, rule) in rules.iter().enumerate() {
            let at = format!("redaction rule {} (`{}`)", i + 1, rule.name);
            if rule.name.trim().is_empty() {
                return Err(RuleError(format!("redaction rule {}: give it a `name`", i + 1)));
            }
            if rule.attributes.is_empty() || rule.attributes.iter().any(|a| a.trim().is_empty()) {
                return Err(RuleError(format!(
                    "{at}: `attributes` must list attribute keys such as `input.value` or `llm.*.message.content`"
                )));
            }
            let keys = rule
                .attributes
                .iter()
                .map(|a| glob(a.trim()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| RuleError(format!("{at}: attributes: {e}")))?;
            let (source, luhn, default_replacement) = match (&rule.preset, &rule.pattern) {
                (Some(p), None) => {
                    let source = preset_pattern(p.trim()).ok_or_else(|| {
                        RuleError(format!(
                            "{at}: preset `{p}` does not exist; use one of {}",
                            PRESETS.join(", ")
                        ))
                    })?;
                    (
                        source.to_owned(),
                        p.trim() == "card_number",
                        format!("[REDACTED:{}]", p.trim()),
                    )
                }
                (None, Some(p)) if !p.is_empty() => (p.clone(), false, "[REDACTED]".to_owned()),
                _ => {
                    return Err(RuleError(format!(
                        "{at}: give either `preset` ({}) or `pattern` (a regular expression), not both or neither",
                        PRESETS.join(", ")
                    )));
                }
            };
            let pattern = RegexBuilder::new(&source)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| RuleError(format!("{at}: pattern does not compile: {e}")))?;
            compiled.push(Compiled {
                keys,
                pattern,
                replacement: rule.replacement.clone().unwrap_or(default_replacement),
                luhn,
            });
        }
        Ok(Self { rules: compiled })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Redact `attrs` in place; returns how many matches were replaced.
    pub fn apply(&self, attrs: &mut Attributes) -> usize {
        let mut replaced = 0;
        for (key, value) in attrs.0.iter_mut() {
            for rule in &self.rules {
                if !rule.keys.iter().any(|k| k.is_match(key)) {
                    continue;
                }
                value.strings_mut(&mut |s: &mut String| {
                    if !rule.pattern.is_match(s) {
                        return;
                    }
                    let mut n = 0;
                    let out = rule.pattern.replace_all(s, |caps: &regex::Captures<'_>| {
                        let m = &caps[0];
                        if rule.luhn && !luhn(m) {
                            m.to_owned()
                        } else {
                            n += 1;
                            rule.replacement.clone()
                        }
                    });
                    if n > 0 {
                        *s = out.into_owned();
                        replaced += n;
                    }
                });
            }
        }
        replaced
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::attr::AttrValue;

    fn rule(name: &str, attributes: &[&str], preset: Option<&str>, pattern: Option<&str>) -> RedactionRule {
        RedactionRule {
            name: name.into(),
            attributes: attributes.iter().map(|s| (*s).to_owned()).collect(),
            preset: preset.map(str::to_owned),
            pattern: pattern.map(str::to_owned),
            replacement: None,
        }
    }

    #[test]
    fn presets_redact_chosen_attributes_only() {
        let r = Redactor::compile(&[
            rule("emails", &["input.value", "llm.*.message.content"], Some("email"), None),
            rule("cards", &["input.value"], Some("card_number"), None),
        ])
        .unwrap();
        let mut a = Attributes::new();
        a.push(
            "input.value",
            AttrValue::Str("mail ann@example.com, card 4111 1111 1111 1111, order 1234567890123".into()),
        );
        a.push(
            "llm.input_messages.0.message.content",
            AttrValue::Str("I am Bob.Smith@Corp.co.uk".into()),
        );
        a.push("user.id", AttrValue::Str("ann@example.com".into()));
        let n = r.apply(&mut a);
        assert_eq!(n, 3);
        assert_eq!(
            a.get_str("input.value"),
            Some("mail [REDACTED:email], card [REDACTED:card_number], order 1234567890123")
        );
        assert_eq!(
            a.get_str("llm.input_messages.0.message.content"),
            Some("I am [REDACTED:email]")
        );
        // Not covered by any rule: untouched.
        assert_eq!(a.get_str("user.id"), Some("ann@example.com"));
    }

    #[test]
    fn custom_patterns_reach_inside_arrays() {
        let mut custom = rule("tickets", &["tag.*"], None, Some(r"TKT-\d+"));
        custom.replacement = Some("TKT-?".into());
        let r = Redactor::compile(&[custom]).unwrap();
        let mut a = Attributes::new();
        a.push(
            "tag.tags",
            AttrValue::Array(vec![AttrValue::Str("TKT-42".into()), AttrValue::Str("prod".into())]),
        );
        assert_eq!(r.apply(&mut a), 1);
        assert_eq!(a.to_json(), r#"{"tag.tags":["TKT-?","prod"]}"#);
    }

    #[test]
    fn bad_rules_are_named() {
        let err = Redactor::compile(&[rule("x", &["input.value"], Some("dna"), None)]).unwrap_err();
        assert!(err.0.contains("rule 1 (`x`)") && err.0.contains("email"), "{err}");
        let err = Redactor::compile(&[rule("y", &["input.value"], None, Some("(unclosed"))]).unwrap_err();
        assert!(err.0.contains("does not compile"), "{err}");
        let err = Redactor::compile(&[rule("z", &[], Some("email"), None)]).unwrap_err();
        assert!(err.0.contains("attributes"), "{err}");
        let err = Redactor::compile(&[rule("w", &["a"], Some("email"), Some("x"))]).unwrap_err();
        assert!(err.0.contains("not both"), "{err}");
    }

    #[test]
    fn luhn_tells_card_numbers_from_other_digits() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert!(!luhn("123"));
    }
}
