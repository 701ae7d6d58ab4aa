//! The policy engine: import of real Domino policies, lint, evaluation, answers, tests, diffs.

mod answers;
mod diff;
mod evaluate;
mod import;
mod lint;
mod props;
mod suite;

use charter_domain::policy::{Diagnostic, LintReport, Policy, lint};

/// A fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Lint and require a policy (panics with every diagnostic otherwise).
pub fn policy(yaml: &str) -> Policy {
    let report = lint(yaml);
    match report.policy {
        Some(policy) => policy,
        None => panic!("policy has errors:\n{}", render(&report)),
    }
}

pub fn render(report: &LintReport) -> String {
    report
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The diagnostic with `code`; panics listing all diagnostics when there is none.
pub fn find<'a>(report: &'a LintReport, code: &str) -> &'a Diagnostic {
    report
        .diagnostics
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no `{code}` diagnostic; got:\n{}", render(report)))
}

/// Lint `yaml`, expect a `code` diagnostic at `line:column`, and return its message.
pub fn expect_at(yaml: &str, code: &str, line: u32, column: u32) -> String {
    let report = lint(yaml);
    let d = find(&report, code);
    assert_eq!(
        (d.line, d.column),
        (line, column),
        "position of `{code}`; all:\n{}",
        render(&report)
    );
    if d.is_error() {
        assert!(report.policy.is_none(), "a policy was returned despite an error");
    }
    d.message.clone()
}
