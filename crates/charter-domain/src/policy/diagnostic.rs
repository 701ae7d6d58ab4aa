//! Lint findings: what is wrong, where, and how to fix it.

use std::fmt;

use serde::Serialize;

use super::model::Policy;

/// A position in the policy source: 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Pos {
    pub(crate) const fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How bad a finding is. Errors stop a policy from being saved; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The policy cannot be used until this is fixed.
    Error,
    /// The policy works, but something is probably not what the author meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One lint finding.
///
/// `code` is stable snake_case, for programs; `message` is a sentence for people that says what is
/// wrong and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `unknown_input_type`.
    pub code: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
    /// 1-based line of the offending YAML node.
    pub line: u32,
    /// 1-based column (in characters) of the offending YAML node.
    pub column: u32,
}

impl Diagnostic {
    pub(crate) fn error(code: &'static str, pos: Pos, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            line: pos.line,
            column: pos.column,
        }
    }

    pub(crate) fn warning(code: &'static str, pos: Pos, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            code,
            message: message.into(),
            line: pos.line,
            column: pos.column,
        }
    }

    /// Whether this finding is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Where the finding points.
    pub fn pos(&self) -> Pos {
        Pos::new(self.line, self.column)
    }
}

impl fmt::Display for Diagnostic {
    /// `12:7: error[unknown_input_type]: …`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}[{}]: {}",
            self.line, self.column, self.severity, self.code, self.message
        )
    }
}

/// The result of [`lint`](super::lint): every finding, and the policy when there is no error.
#[derive(Debug)]
pub struct LintReport {
    /// All findings, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The typed policy; present if and only if no diagnostic is an error.
    pub policy: Option<Policy>,
}

impl LintReport {
    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The error findings.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warning findings.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}
