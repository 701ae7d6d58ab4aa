//! Policy tests (Charter extension): example answers with the expected classification and
//! visible sections, carried in the policy itself and run by `charter policy test`.
//!
//! ```yaml
//! tests:
//!   - name: personal data makes it high risk
//!     answers:                       # by input id or alias
//!       uses-personal-data: "Yes"
//!       channels: [Web, Slack]
//!     expect:
//!       classification: High         # `null` expects no classification
//!       visible: [Local.privacy]     # evidence-set ids
//!       hidden: [Local.low-risk-fast-track]
//!       visibleInputs: [pii-fields]  # input ids or aliases (optional)
//!       hiddenInputs: []
//! ```

use std::fmt;

use super::answer::{Answers, validate_answer};
use super::diagnostic::Pos;
use super::model::{Input, Policy};
use super::read::Reader;
use super::text::{capitalize, did_you_mean};
use super::yaml::{Kind, Node, key_text};

const TEST_KEYS: &[&str] = &["name", "answers", "expect"];
const EXPECT_KEYS: &[&str] = &["classification", "visible", "hidden", "visibleInputs", "hiddenInputs"];

/// One policy test.
#[derive(Clone, Debug)]
pub struct PolicyTest {
    pub(crate) name: String,
    pub(crate) answers: Answers,
    pub(crate) expect: TestExpectation,
    pub(crate) pos: Pos,
}

impl PolicyTest {
    /// The test's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its answers, by input id.
    pub fn answers(&self) -> &Answers {
        &self.answers
    }

    /// What it expects.
    pub fn expect(&self) -> &TestExpectation {
        &self.expect
    }
}

/// What a policy test expects. Anything not mentioned is not checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestExpectation {
    /// `Some(Some(c))`: classification `c`; `Some(None)`: no classification; `None`: not checked.
    pub classification: Option<Option<String>>,
    /// Evidence sets that must be shown.
    pub visible: Vec<String>,
    /// Evidence sets that must be hidden.
    pub hidden: Vec<String>,
    /// Inputs (by id) that must be shown.
    pub visible_inputs: Vec<String>,
    /// Inputs (by id) that must be hidden.
    pub hidden_inputs: Vec<String>,
}

/// The outcome of one policy test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyTestResult {
    /// The test's name.
    pub name: String,
    /// One sentence per unmet expectation; empty when the test passed.
    pub failures: Vec<String>,
    /// Expressions that failed while evaluating the test's answers.
    pub notes: Vec<String>,
}

impl PolicyTestResult {
    /// Whether every expectation was met.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl fmt::Display for PolicyTestResult {
    /// `ok   name` or `FAIL name` followed by one indented line per failure.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed() {
            return write!(f, "ok   {}", self.name);
        }
        write!(f, "FAIL {}", self.name)?;
        for failure in &self.failures {
            write!(f, "\n     - {failure}")?;
        }
        for note in &self.notes {
            write!(f, "\n     note: {note}")?;
        }
        Ok(())
    }
}

/// Run every test the policy carries.
pub fn run_policy_tests(policy: &Policy) -> Vec<PolicyTestResult> {
    policy.tests.iter().map(|test| run_one(policy, test)).collect()
}

fn run_one(policy: &Policy, test: &PolicyTest) -> PolicyTestResult {
    let eval = policy.evaluate(&test.answers);
    let mut failures = Vec::new();
    let show = |c: &Option<String>| c.as_ref().map_or_else(|| "none".to_owned(), |c| format!("{c:?}"));
    if let Some(expected) = &test.expect.classification
        && *expected != eval.classification
    {
        failures.push(format!(
            "expected classification {}, got {}",
            show(expected),
            show(&eval.classification)
        ));
    }
    let set_name = |id: &str| {
        policy
            .evidence_set(id)
            .map_or_else(|| id.to_owned(), |s| format!("`{id}` ({})", s.name))
    };
    for id in &test.expect.visible {
        if !eval.is_set_visible(id) {
            failures.push(format!(
                "expected evidence set {} to be shown, but it is hidden",
                set_name(id)
            ));
        }
    }
    for id in &test.expect.hidden {
        if eval.is_set_visible(id) {
            failures.push(format!(
                "expected evidence set {} to be hidden, but it is shown",
                set_name(id)
            ));
        }
    }
    let input_name = |id: &str| {
        policy
            .input(id)
            .map_or_else(|| id.to_owned(), |i| format!("`{id}` ({:?})", i.label))
    };
    for id in &test.expect.visible_inputs {
        if !eval.is_input_visible(id) {
            failures.push(format!(
                "expected input {} to be shown, but it is hidden",
                input_name(id)
            ));
        }
    }
    for id in &test.expect.hidden_inputs {
        if eval.is_input_visible(id) {
            failures.push(format!(
                "expected input {} to be hidden, but it is shown",
                input_name(id)
            ));
        }
    }
    PolicyTestResult {
        name: test.name.clone(),
        failures,
        notes: eval
            .issues
            .iter()
            .map(|i| format!("{}: {}", i.subject, i.message))
            .collect(),
    }
}

/// Find an input by id, then by alias.
fn resolve_input<'p>(policy: &'p Policy, key: &str) -> Option<&'p Input> {
    policy.input(key).or_else(|| policy.input_by_alias(key))
}

fn input_names(policy: &Policy) -> Vec<&str> {
    policy
        .inputs()
        .flat_map(|i| std::iter::once(i.id.as_str()).chain(i.alias.as_deref()))
        .collect()
}

/// Read `tests:` once the rest of the policy is known (answers name its inputs).
pub(crate) fn read_tests(reader: &mut Reader<'_>, node: &Node, policy: &Policy) -> Vec<PolicyTest> {
    let items = match &node.kind {
        Kind::Seq(items) => items.as_slice(),
        _ => {
            reader.error(
                "invalid_type",
                node.pos,
                format!(
                    "`tests` must be a list of tests (each with `name`, `answers`, `expect`), not {}.",
                    node.describe()
                ),
            );
            return Vec::new();
        }
    };
    let mut tests: Vec<PolicyTest> = Vec::new();
    for item in items {
        let Some(f) = reader.map(item, "a policy test", TEST_KEYS) else {
            continue;
        };
        let Some((name, pos)) = reader.required_text(&f, "name", "the policy test", "high risk when personal data")
        else {
            continue;
        };
        if let Some(first) = tests.iter().find(|t| t.name == name) {
            reader.error(
                "duplicate_test_name",
                pos,
                format!(
                    "A test named `{name}` already exists (line {}); give each test its own name.",
                    first.pos.line
                ),
            );
        }
        let what = format!("test `{name}`");
        let mut answers = Answers::new();
        if let Some(anode) = f.get("answers") {
            match &anode.kind {
                Kind::Map(entries) => {
                    for (key, value) in entries {
                        let key_name = key_text(key);
                        let Some(input) = resolve_input(policy, &key_name) else {
                            reader.error(
                                "unknown_test_input",
                                key.pos,
                                format!(
                                    "Test `{name}` answers `{key_name}`, but no input has that id or alias{}; use an input \
                                     id or an `aliasForClassification` from the policy.",
                                    did_you_mean(&key_name, input_names(policy))
                                ),
                            );
                            continue;
                        };
                        if answers.get(&input.id).is_some() {
                            reader.error(
                                "duplicate_test_answer",
                                key.pos,
                                format!(
                                    "Test `{name}` answers input `{}` twice (by id and by alias); keep one.",
                                    input.id
                                ),
                            );
                            continue;
                        }
                        match validate_answer(input, &value.to_json()) {
                            Ok(answer) => {
                                answers.insert(input.id.clone(), answer);
                            }
                            Err(err) => reader.error(
                                "invalid_test_answer",
                                value.pos,
                                format!(
                                    "Test `{name}` gives an answer the question does not accept: {err}. Fix the answer."
                                ),
                            ),
                        }
                    }
                }
                _ => reader.error(
                    "invalid_type",
                    anode.pos,
                    format!(
                        "`answers` of {what} must map input ids or aliases to answers, not {}.",
                        anode.describe()
                    ),
                ),
            }
        }
        let mut expect = TestExpectation::default();
        match f
            .entries()
            .iter()
            .find(|(k, _)| matches!(&k.kind, Kind::Str(s) if s == "expect"))
            .map(|(_, v)| v)
        {
            None => reader.error(
                "missing_field",
                f.pos,
                format!(
                    "{} has no `expect`; add e.g. `expect: {{classification: High, visible: [Local.privacy]}}`.",
                    capitalize(&what)
                ),
            ),
            Some(enode) => {
                if let Some(ef) = reader.map(enode, &format!("`expect` of {what}"), EXPECT_KEYS) {
                    let ewhat = format!("`expect` of {what}");
                    // `classification: null` (or `~`) expects none; absent: not checked.
                    let class_entry = ef
                        .entries()
                        .iter()
                        .find(|(k, _)| matches!(&k.kind, Kind::Str(s) if s == "classification"));
                    if let Some((_, cnode)) = class_entry {
                        expect.classification = if cnode.is_null() {
                            Some(None)
                        } else {
                            reader.text(&ef, "classification", &ewhat).map(|(c, _)| Some(c))
                        };
                    }
                    for (key, target) in [("visible", &mut expect.visible), ("hidden", &mut expect.hidden)] {
                        for (id, pos) in reader.text_list(&ef, key, &ewhat) {
                            if policy.evidence_set(&id).is_none() {
                                reader.error(
                                    "unknown_test_set",
                                    pos,
                                    format!(
                                        "Test `{name}` expects evidence set `{id}`, which the policy does not have{}; use an \
                                         evidence-set id.",
                                        did_you_mean(&id, policy.evidence_sets().map(|s| s.id.as_str()))
                                    ),
                                );
                            } else {
                                target.push(id);
                            }
                        }
                    }
                    for (key, target) in [
                        ("visibleInputs", &mut expect.visible_inputs),
                        ("hiddenInputs", &mut expect.hidden_inputs),
                    ] {
                        for (id, pos) in reader.text_list(&ef, key, &ewhat) {
                            match resolve_input(policy, &id) {
                                Some(input) => target.push(input.id.clone()),
                                None => reader.error(
                                    "unknown_test_input",
                                    pos,
                                    format!(
                                        "Test `{name}` expects input `{id}`, but no input has that id or alias{}.",
                                        did_you_mean(&id, input_names(policy))
                                    ),
                                ),
                            }
                        }
                    }
                }
            }
        }
        tests.push(PolicyTest {
            name,
            answers,
            expect,
            pos,
        });
    }
    tests
}
