//! The linter never panics, whatever it is given.

use charter_domain::policy::lint;
use proptest::prelude::*;

use super::fixture;

/// YAML-ish text: keys, indentation, lists, flow collections, quotes, CEL-ish operators.
fn yamlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("stages:".to_owned()),
        Just("- ".to_owned()),
        Just("  ".to_owned()),
        Just("\n".to_owned()),
        Just("name: ".to_owned()),
        Just("evidenceSet:".to_owned()),
        Just("definition:".to_owned()),
        Just("artifactType: input".to_owned()),
        Just("details: {type: radio, options: [a, b]}".to_owned()),
        Just("conditionalDisplay: {dependsOn: Local.a, showIfValue: a}".to_owned()),
        Just("classification: {rule: 'inputs.a == \"x\" ? 1 : 2'}".to_owned()),
        Just("visibilityRule: classification == \"High\"".to_owned()),
        Just("tests: [{name: t, answers: {a: 1}, expect: {classification: x}}]".to_owned()),
        Just("id: Local.a".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("'".to_owned()),
        Just("|".to_owned()),
        "[a-zA-Z0-9 :\\-_.\\[\\]{}\"'#&*!|>?()=<]{0,12}",
    ];
    proptest::collection::vec(token, 0..60).prop_map(|tokens| tokens.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lint_never_panics_on_yamlish_text(src in yamlish()) {
        let report = lint(&src);
        prop_assert_eq!(report.policy.is_some(), !report.has_errors());
    }

    #[test]
    fn lint_never_panics_on_damaged_policies(cuts in proptest::collection::vec((0usize..20_000, 0usize..40, "[ -~\n]{0,8}"), 1..6)) {
        let mut src = fixture("eu-ai-act.yaml");
        for (at, len, insert) in cuts {
            let mut at = at.min(src.len());
            while !src.is_char_boundary(at) { at -= 1; }
            let mut end = (at + len).min(src.len());
            while !src.is_char_boundary(end) { end -= 1; }
            src.replace_range(at..end, &insert);
        }
        let report = lint(&src);
        prop_assert_eq!(report.policy.is_some(), !report.has_errors());
        for d in &report.diagnostics {
            prop_assert!(d.line >= 1 && d.column >= 1);
        }
    }
}
