//! The policy pack shipped in `policies/`: every policy lints with no error and no warning, carries
//! what the pack promises (a classification rule, a conditional section, approvals naming groups,
//! at least two policy tests), and its own tests pass. So the pack can never rot.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use charter_domain::policy::{ClassificationRule, LintReport, Policy, lint, run_policy_tests};

/// The policies the pack ships, by file name.
const PACK: &[&str] = &[
    "eu-ai-act-high-risk.yaml",
    "final-documentation.yaml",
    "general-intake.yaml",
    "model-risk-sr26-2.yaml",
    "nist-ai-rmf.yaml",
    "third-party-intake.yaml",
];

fn pack_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

/// Every `policies/*.yaml`, sorted by file name, with its text.
fn pack_files() -> Vec<(String, String)> {
    let dir = pack_dir();
    let mut files: Vec<(String, String)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml" || ext == "yml"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, text)
        })
        .collect();
    files.sort();
    files
}

fn render(name: &str, report: &LintReport) -> String {
    report
        .diagnostics
        .iter()
        .map(|d| format!("policies/{name}:{d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every policy of the pack, linted; panics listing every finding of every file otherwise.
fn pack() -> Vec<(String, Policy)> {
    let mut problems = Vec::new();
    let mut policies = Vec::new();
    for (name, text) in pack_files() {
        let report = lint(&text);
        if !report.diagnostics.is_empty() {
            problems.push(render(&name, &report));
        }
        if let Some(policy) = report.policy {
            policies.push((name, policy));
        }
    }
    assert!(
        problems.is_empty(),
        "the policy pack must lint with no error and no warning:\n{}",
        problems.join("\n")
    );
    policies
}

#[test]
fn the_pack_holds_the_promised_policies() {
    let names: Vec<String> = pack_files().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, PACK, "policies/*.yaml");
}

#[test]
fn every_policy_lints_without_errors_or_warnings() {
    assert_eq!(pack().len(), PACK.len());
}

#[test]
fn every_policy_test_passes() {
    let mut failures = Vec::new();
    for (name, policy) in pack() {
        let results = run_policy_tests(&policy);
        assert!(
            results.len() >= 2,
            "policies/{name} carries {} tests; at least 2 expected",
            results.len()
        );
        for result in &results {
            if !result.passed() {
                failures.push(format!("policies/{name}: {result}"));
            }
            // An expression that fails at run time counts as false, which could let a test pass by
            // accident: every rule must evaluate cleanly on every test's answers.
            for note in &result.notes {
                failures.push(format!("policies/{name}: test `{}`: {note}", result.name));
            }
        }
    }
    assert!(failures.is_empty(), "failing policy tests:\n{}", failures.join("\n"));
}

#[test]
fn every_policy_classifies_shows_sections_on_answers_and_names_approvers() {
    for (name, policy) in pack() {
        let rule = policy.classification().map(|c| c.rule());
        assert!(
            matches!(rule, Some(ClassificationRule::Cel(_))),
            "policies/{name} needs a CEL classification rule"
        );
        let conditional = policy
            .evidence_sets()
            .any(|set| set.sign_off_for().is_none() && !set.visibility_conditions().is_empty());
        assert!(
            conditional,
            "policies/{name} needs a section shown only for some answers"
        );
        assert!(policy.approvals().count() > 0, "policies/{name} has no approvals");
        for approval in policy.approvals() {
            assert!(
                !policy.approvers_for(approval).is_empty(),
                "policies/{name}: approval `{}` names no approvers",
                approval.name()
            );
        }
        // Each test expects a classification, so every rule's outcomes are pinned down.
        for test in policy.tests() {
            assert!(
                matches!(test.expect().classification, Some(Some(_))),
                "policies/{name}: test `{}` should expect a classification",
                test.name()
            );
        }
    }
}

/// The README tells an admin which groups to create: every approver the pack names is listed there,
/// and so is every policy.
#[test]
fn the_readme_lists_every_policy_and_every_approver_group() {
    let path = pack_dir().join("README.md");
    let readme = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut missing = Vec::new();
    let mut groups = BTreeSet::new();
    for (name, policy) in pack() {
        if !readme.contains(&format!("`{name}`")) {
            missing.push(format!("policy `{name}`"));
        }
        groups.extend(policy.default_approvers().iter().map(|a| a.name().to_owned()));
        for approval in policy.approvals() {
            groups.extend(approval.approvers().iter().map(|a| a.name().to_owned()));
        }
    }
    for group in groups {
        if !readme.contains(&format!("`{group}`")) {
            missing.push(format!("group `{group}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "policies/README.md does not mention: {}",
        missing.join(", ")
    );
}
