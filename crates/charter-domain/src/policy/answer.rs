//! Answers to a policy's questions, and validating them against the question's type.

use std::collections::BTreeMap;
use std::fmt;

use time::Date;
use time::macros::format_description;

use super::model::{Artifact, Input, InputType, Policy};

/// The longest text answer accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 100_000;

/// The longest attachment id accepted, in characters.
pub const MAX_ATTACHMENT_ID_CHARS: usize = 200;

/// A validated answer.
#[derive(Clone, Debug, PartialEq)]
pub enum AnswerValue {
    /// Text, or the value of the chosen option (radio, select).
    Text(String),
    /// A number (numeric inputs).
    Number(f64),
    /// Option values (multiselect, checkbox).
    List(Vec<String>),
    /// A boolean (accepted in policy tests and seen by CEL as `true`/`false`).
    Bool(bool),
    /// A calendar date (date inputs).
    Date(Date),
    /// The id of an uploaded attachment (file inputs).
    Attachment(String),
}

impl AnswerValue {
    /// Whether the answer says nothing (blank text, an empty list): such an answer counts as
    /// unanswered and is absent from CEL's `inputs`.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Text(s) | Self::Attachment(s) => s.trim().is_empty(),
            Self::List(items) => items.is_empty(),
            Self::Number(_) | Self::Bool(_) | Self::Date(_) => false,
        }
    }

    /// Whether the answer equals `expected`, or, for a list, contains it (`conditionalDisplay`).
    pub fn matches(&self, expected: &str) -> bool {
        match self {
            Self::Text(s) | Self::Attachment(s) => s == expected,
            Self::List(items) => items.iter().any(|i| i == expected),
            Self::Number(n) => expected.trim().parse::<f64>().is_ok_and(|e| e == *n),
            Self::Bool(b) => expected.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
            Self::Date(d) => iso_date(*d) == expected,
        }
    }

    /// The answer as JSON, in the form [`validate_answer`] accepts back.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Text(s) | Self::Attachment(s) => serde_json::Value::String(s.clone()),
            Self::Number(n) => serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into),
            Self::List(items) => items.iter().cloned().map(serde_json::Value::String).collect(),
            Self::Bool(b) => serde_json::Value::Bool(*b),
            Self::Date(d) => serde_json::Value::String(iso_date(*d)),
        }
    }

    /// The answer as CEL sees it: strings, numbers, lists of strings, booleans; dates as
    /// `YYYY-MM-DD` strings (which compare in date order).
    pub(crate) fn to_cel(&self) -> cel::Value {
        match self {
            Self::Text(s) | Self::Attachment(s) => s.clone().into(),
            Self::Number(n) => cel::Value::Float(*n),
            Self::List(items) => cel::Value::List(std::sync::Arc::new(items.iter().cloned().map(Into::into).collect())),
            Self::Bool(b) => cel::Value::Bool(*b),
            Self::Date(d) => iso_date(*d).into(),
        }
    }
}

impl fmt::Display for AnswerValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) | Self::Attachment(s) => write!(f, "{s:?}"),
            Self::Number(n) => write!(f, "{n}"),
            Self::List(items) => write!(f, "{items:?}"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Date(d) => f.write_str(&iso_date(*d)),
        }
    }
}

fn iso_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Answers by input id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answers(BTreeMap<String, AnswerValue>);

impl Answers {
    /// No answers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the answer to an input.
    pub fn insert(&mut self, input_id: impl Into<String>, value: AnswerValue) -> Option<AnswerValue> {
        self.0.insert(input_id.into(), value)
    }

    /// Remove the answer to an input.
    pub fn remove(&mut self, input_id: &str) -> Option<AnswerValue> {
        self.0.remove(input_id)
    }

    /// The answer to an input, if any (empty answers included).
    pub fn get(&self, input_id: &str) -> Option<&AnswerValue> {
        self.0.get(input_id)
    }

    /// The answer to an input, unless absent or empty.
    pub fn given(&self, input_id: &str) -> Option<&AnswerValue> {
        self.0.get(input_id).filter(|v| !v.is_empty())
    }

    /// All answers, by input id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AnswerValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many answers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no answers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>> FromIterator<(K, AnswerValue)> for Answers {
    fn from_iter<I: IntoIterator<Item = (K, AnswerValue)>>(iter: I) -> Self {
        Self(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

/// An answer that does not fit its question. The message names the question (label and id).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`{label}` ({input_id}): {problem}")]
pub struct AnswerError {
    /// The input id.
    pub input_id: String,
    /// The question's label (empty for an unknown input).
    pub label: String,
    /// What is wrong.
    pub problem: AnswerProblem,
}

impl AnswerError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.problem.code()
    }
}

/// What is wrong with an answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AnswerProblem {
    /// No input has this id.
    #[error("no question has this id; use an input id from the policy")]
    UnknownInput,
    /// The artifact is guidance or a check.
    #[error("{0} artifacts take no answer")]
    NotAnswerable(&'static str),
    /// The input is disabled.
    #[error("this question is disabled and takes no answer")]
    Disabled,
    /// The input is hidden by the other answers (its set's visibility or its `conditionalDisplay`).
    #[error("this question is hidden by the other answers, so it takes no answer")]
    Hidden,
    /// The JSON type is wrong.
    #[error("expected {expected}, got {got}")]
    WrongType {
        /// What is accepted.
        expected: String,
        /// What was sent.
        got: String,
    },
    /// A number outside `min`/`max`.
    #[error("expected a number {range}, got {got}")]
    OutOfRange {
        /// The accepted range, in words.
        range: String,
        /// The number sent.
        got: f64,
    },
    /// A date not written `YYYY-MM-DD`.
    #[error("expected a date written YYYY-MM-DD (ISO 8601), e.g. 2026-03-31, got {0:?}")]
    InvalidDate(String),
    /// A value that is not an option.
    #[error("{got:?} is not one of the options ({allowed})")]
    NotAnOption {
        /// The value sent.
        got: String,
        /// The option values, in words.
        allowed: String,
    },
    /// The same option twice.
    #[error("{0:?} is chosen twice; send each option once")]
    DuplicateChoice(String),
    /// Text over the limit.
    #[error("the answer is {length} characters long; at most {max} are accepted")]
    TooLong {
        /// Length sent.
        length: usize,
        /// Limit.
        max: usize,
    },
}

impl AnswerProblem {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownInput => "unknown_input",
            Self::NotAnswerable(_) => "not_answerable",
            Self::Disabled => "input_disabled",
            Self::Hidden => "input_hidden",
            Self::WrongType { .. } => "wrong_answer_type",
            Self::OutOfRange { .. } => "answer_out_of_range",
            Self::InvalidDate(_) => "invalid_date",
            Self::NotAnOption { .. } => "not_an_option",
            Self::DuplicateChoice(_) => "duplicate_choice",
            Self::TooLong { .. } => "answer_too_long",
        }
    }
}

fn describe_json(value: &serde_json::Value) -> String {
    let text = match value {
        serde_json::Value::Null => return "null".to_owned(),
        serde_json::Value::Bool(b) => return format!("the boolean {b}"),
        serde_json::Value::Number(n) => return format!("the number {n}"),
        serde_json::Value::String(s) => return format!("the text {s:?}").chars().take(80).collect(),
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    };
    text.to_owned()
}

/// Check `value` (JSON, as sent by a client) against `input` and turn it into an [`AnswerValue`].
///
/// - text inputs take a string of at most [`MAX_TEXT_CHARS`] characters;
/// - numeric inputs take a number or a numeric string, within `min`/`max` (inclusive);
/// - date inputs take `YYYY-MM-DD`;
/// - radio and select take one option value; multiselect and checkbox a list of distinct values;
/// - file inputs take an attachment id (a non-empty string);
/// - disabled inputs take nothing.
pub fn validate_answer(input: &Input, value: &serde_json::Value) -> Result<AnswerValue, AnswerError> {
    let fail = |problem| AnswerError {
        input_id: input.id.clone(),
        label: input.label.clone(),
        problem,
    };
    let wrong = |expected: &str| {
        fail(AnswerProblem::WrongType {
            expected: expected.to_owned(),
            got: describe_json(value),
        })
    };
    if input.disabled {
        return Err(fail(AnswerProblem::Disabled));
    }
    match input.input_type {
        InputType::TextInput | InputType::TextArea => {
            let serde_json::Value::String(s) = value else {
                return Err(wrong("text"));
            };
            let length = s.chars().count();
            if length > MAX_TEXT_CHARS {
                return Err(fail(AnswerProblem::TooLong {
                    length,
                    max: MAX_TEXT_CHARS,
                }));
            }
            Ok(AnswerValue::Text(s.clone()))
        }
        InputType::Numeric => {
            let number = match value {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            let Some(number) = number.filter(|n| n.is_finite()) else {
                return Err(wrong("a number"));
            };
            let below = input.min.is_some_and(|min| number < min);
            let above = input.max.is_some_and(|max| number > max);
            if below || above {
                let range = match (input.min, input.max) {
                    (Some(min), Some(max)) => format!("from {min} to {max}"),
                    (Some(min), None) => format!("of at least {min}"),
                    (None, Some(max)) => format!("of at most {max}"),
                    (None, None) => unreachable!("out of range without bounds"),
                };
                return Err(fail(AnswerProblem::OutOfRange { range, got: number }));
            }
            Ok(AnswerValue::Number(number))
        }
        InputType::Date => {
            let serde_json::Value::String(s) = value else {
                return Err(wrong("a date written YYYY-MM-DD"));
            };
            let well_formed = s.len() == 10
                && s.char_indices()
                    .all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
            let date = well_formed
                .then(|| Date::parse(s, format_description!("[year]-[month]-[day]")).ok())
                .flatten();
            date.map(AnswerValue::Date)
                .ok_or_else(|| fail(AnswerProblem::InvalidDate(s.clone())))
        }
        InputType::Radio | InputType::Select => {
            let Some(choice) = scalar_text(value) else {
                return Err(wrong("one option value (text)"));
            };
            check_option(input, &choice).map_err(fail)?;
            Ok(AnswerValue::Text(choice))
        }
        InputType::MultiSelect | InputType::Checkbox => {
            let serde_json::Value::Array(items) = value else {
                return Err(wrong("a list of option values"));
            };
            let mut chosen: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let Some(choice) = scalar_text(item) else {
                    return Err(wrong("a list of option values (text)"));
                };
                check_option(input, &choice).map_err(fail)?;
                if chosen.contains(&choice) {
                    return Err(fail(AnswerProblem::DuplicateChoice(choice)));
                }
                chosen.push(choice);
            }
            Ok(AnswerValue::List(chosen))
        }
        InputType::File => {
            let serde_json::Value::String(s) = value else {
                return Err(wrong("an attachment id (text)"));
            };
            let id = s.trim();
            if id.is_empty() || id.chars().count() > MAX_ATTACHMENT_ID_CHARS {
                return Err(wrong("an attachment id (text)"));
            }
            Ok(AnswerValue::Attachment(id.to_owned()))
        }
    }
}

/// Like [`validate_answer`], for any artifact: guidance and checks take no answer.
pub fn validate_artifact_answer(artifact: &Artifact, value: &serde_json::Value) -> Result<AnswerValue, AnswerError> {
    let not_answerable = |kind: &'static str, id: Option<&str>| AnswerError {
        input_id: id.unwrap_or_default().to_owned(),
        label: String::new(),
        problem: AnswerProblem::NotAnswerable(kind),
    };
    match artifact {
        Artifact::Input(input) => validate_answer(input, value),
        Artifact::Guidance(_) => Err(not_answerable("guidance", artifact.id())),
        Artifact::ModelMetrics(_) => Err(not_answerable("modelmetric", artifact.id())),
        Artifact::ScriptedCheck(_) => Err(not_answerable("policyScriptedCheck", artifact.id())),
        Artifact::MonitoringCheck(_) => Err(not_answerable("policyMonitoringCheck", artifact.id())),
    }
}

impl Policy {
    /// Validate an answer to the artifact with this id (an input id, or another artifact's id).
    pub fn validate_answer(&self, id: &str, value: &serde_json::Value) -> Result<AnswerValue, AnswerError> {
        let artifact = self
            .evidence_sets()
            .flat_map(|s| s.artifacts.iter())
            .find(|a| a.id() == Some(id));
        match artifact {
            Some(artifact) => validate_artifact_answer(artifact, value),
            None => Err(AnswerError {
                input_id: id.to_owned(),
                label: String::new(),
                problem: AnswerProblem::UnknownInput,
            }),
        }
    }

    /// Like [`Policy::validate_answer`], in the context of the other answers: an input hidden by
    /// them (its evidence set's visibility, or its `conditionalDisplay`) takes no answer.
    pub fn validate_answer_given(
        &self,
        answers: &Answers,
        id: &str,
        value: &serde_json::Value,
    ) -> Result<AnswerValue, AnswerError> {
        let answer = self.validate_answer(id, value)?;
        if !self.evaluate(answers).is_input_visible(id) {
            let label = self.input(id).map(|i| i.label.clone()).unwrap_or_default();
            return Err(AnswerError {
                input_id: id.to_owned(),
                label,
                problem: AnswerProblem::Hidden,
            });
        }
        Ok(answer)
    }
}

fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn check_option(input: &Input, choice: &str) -> Result<(), AnswerProblem> {
    if input.options.iter().any(|o| o.value == choice) {
        return Ok(());
    }
    let mut allowed: Vec<String> = input
        .options
        .iter()
        .take(12)
        .map(|o| format!("{:?}", o.value))
        .collect();
    if input.options.len() > 12 {
        allowed.push(format!("and {} more", input.options.len() - 12));
    }
    let hint = input
        .options
        .iter()
        .find(|o| o.label == choice)
        .map(|o| format!("; that is the label of option {:?}, send its value", o.value))
        .unwrap_or_default();
    Err(AnswerProblem::NotAnOption {
        got: choice.to_owned(),
        allowed: format!("{}{hint}", allowed.join(", ")),
    })
}
