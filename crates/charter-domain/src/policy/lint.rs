//! The linter: syntax, structure and cross-references, every problem at once.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::diagnostic::{Diagnostic, LintReport, Pos};
use super::expr::CelExpr;
use super::model::{ClassificationRule, DependencyTarget, Policy};
use super::read::Reader;
use super::suite;
use super::text::did_you_mean;
use super::yaml;

/// Lint a policy: report every problem (with line and column), and build the typed [`Policy`]
/// when there is no error.
pub fn lint(yaml_src: &str) -> LintReport {
    lint_inner(yaml_src, None)
}

/// [`lint`], and also check every approver name (top-level `approvers` and each approval's) with
/// `is_known`, which says whether a user or group of that name exists. Unknown names are errors
/// (`unknown_approver`). The caller does the lookup, so the domain stays free of IO.
pub fn lint_with_approvers(yaml_src: &str, is_known: impl Fn(&str) -> bool) -> LintReport {
    lint_inner(yaml_src, Some(&is_known))
}

fn lint_inner(yaml_src: &str, is_known: Option<&dyn Fn(&str) -> bool>) -> LintReport {
    super::expr::with_cel_stack(|| lint_on_stack(yaml_src, is_known))
}

fn lint_on_stack(yaml_src: &str, is_known: Option<&dyn Fn(&str) -> bool>) -> LintReport {
    let root = match yaml::parse(yaml_src) {
        Ok(root) => root,
        Err(diagnostic) => {
            return LintReport {
                diagnostics: vec![diagnostic],
                policy: None,
            };
        }
    };
    let mut reader = Reader::new(yaml_src);
    let (mut policy, tests) = reader.policy(&root);
    check(&mut policy, &mut reader.diags);
    if let Some(is_known) = is_known {
        let approvers = policy
            .approvers
            .iter()
            .chain(policy.approvals().flat_map(|a| a.approvers.iter()));
        for approver in approvers {
            if !is_known(&approver.name) {
                reader.error(
                    "unknown_approver",
                    approver.pos,
                    format!(
                        "No user or group is named `{}`; create it, or fix the name to an existing user or group.",
                        approver.name
                    ),
                );
            }
        }
    }
    if let Some(tests) = tests {
        policy.tests = suite::read_tests(&mut reader, tests, &policy);
    }
    let mut diagnostics = reader.diags;
    diagnostics.sort_by_key(|d| (d.line, d.column));
    diagnostics.dedup();
    let policy = (!diagnostics.iter().any(Diagnostic::is_error)).then_some(policy);
    LintReport { diagnostics, policy }
}

/// Report the first repeat of each key, pointing at the repeat and naming the first's line.
fn duplicates<'a>(
    items: impl IntoIterator<Item = (&'a str, Pos)>,
    diags: &mut Vec<Diagnostic>,
    message: impl Fn(&str, Pos) -> (&'static str, String),
) {
    let mut seen: HashMap<&str, Pos> = HashMap::new();
    for (key, pos) in items {
        if key.is_empty() {
            continue;
        }
        match seen.get(key) {
            Some(first) => {
                let (code, text) = message(key, *first);
                diags.push(Diagnostic::error(code, pos, text));
            }
            None => {
                seen.insert(key, pos);
            }
        }
    }
}

/// Cross-reference checks over the read policy; resolves `dependsOn` targets on the way.
fn check(policy: &mut Policy, diags: &mut Vec<Diagnostic>) {
    duplicates(
        policy.stages.iter().map(|s| (s.name.as_str(), s.pos)),
        diags,
        |name, first| {
            (
                "duplicate_stage_name",
                format!(
                    "A stage named `{name}` already exists (line {}); rename one of them.",
                    first.line
                ),
            )
        },
    );
    duplicates(
        policy.evidence_sets().map(|s| (s.id.as_str(), s.pos)),
        diags,
        |id, first| {
            (
                "duplicate_evidence_set_id",
                format!(
                    "The evidence-set id `{id}` is already used (line {}); ids must be unique across the policy, sign-off \
                 evidence included, so rename this one.",
                    first.line
                ),
            )
        },
    );
    duplicates(policy.inputs().map(|i| (i.id.as_str(), i.pos)), diags, |id, first| {
        (
            "duplicate_input_id",
            format!(
                "The input id `{id}` is already used (line {}); answers are stored by input id, so give this input its \
                 own `id` (or a distinct `policyEntityId`, alias or label).",
                first.line
            ),
        )
    });
    duplicates(
        policy
            .inputs()
            .filter_map(|i| Some((i.alias.as_deref()?, i.alias_pos?))),
        diags,
        |alias, first| {
            (
                "duplicate_alias",
                format!(
                    "The aliasForClassification `{alias}` is already used (line {}); each alias must name one input, so \
                     rename this one.",
                    first.line
                ),
            )
        },
    );
    duplicates(
        policy.approvals().map(|a| (a.name.as_str(), a.pos)),
        diags,
        |name, first| {
            (
                "duplicate_approval_name",
                format!(
                    "An approval named `{name}` already exists (line {}); gates refer to approvals by name, so rename one.",
                    first.line
                ),
            )
        },
    );
    duplicates(
        policy.gates.iter().map(|g| (g.name.as_str(), g.pos)),
        diags,
        |name, first| {
            (
                "duplicate_gate_name",
                format!(
                    "A gate named `{name}` already exists (line {}); rename one of them.",
                    first.line
                ),
            )
        },
    );

    let aliases: BTreeSet<String> = policy.inputs().filter_map(|i| i.alias.clone()).collect();
    let alias_help = |alias: &str| {
        let quoted = aliases
            .iter()
            .find(|a| a.starts_with(&format!("{alias}-")))
            .map(|a| format!(" (an alias with `-` must be quoted: `inputs[\"{a}\"]`)"))
            .unwrap_or_default();
        format!("{}{quoted}", did_you_mean(alias, aliases.iter().map(String::as_str)))
    };

    // Classification artifacts and every CEL expression's alias references.
    if let Some(classification) = &policy.classification {
        for (alias, pos) in classification.artifacts.iter().zip(&classification.artifact_pos) {
            if !aliases.contains(alias) {
                diags.push(Diagnostic::error(
                    "unknown_alias",
                    *pos,
                    format!(
                        "`classification.artifacts` lists `{alias}`, but no input declares `aliasForClassification: {alias}`{}; \
                         add the alias to an input or remove it from the list.",
                        alias_help(alias)
                    ),
                ));
            }
        }
    }
    let mut expressions: Vec<&CelExpr> = Vec::new();
    if let Some(ClassificationRule::Cel(rule)) = policy.classification.as_ref().map(|c| &c.rule) {
        expressions.push(rule);
    }
    expressions.extend(policy.evidence_sets().flat_map(|s| s.visibility.iter()));
    expressions.extend(policy.gates.iter().filter_map(|g| g.when.as_ref()));
    for expr in expressions {
        for r in expr.alias_refs() {
            if !aliases.contains(&r.alias) {
                diags.push(Diagnostic::error(
                    "cel_unknown_alias",
                    r.pos,
                    format!(
                        "The expression reads `inputs[\"{}\"]`, but no input declares `aliasForClassification: {}`{}; \
                         fix the name or add the alias to the input.",
                        r.alias,
                        r.alias,
                        alias_help(&r.alias)
                    ),
                ));
            }
        }
    }

    // Gates name approvals.
    let approval_names: Vec<String> = policy.approvals().map(|a| a.name.clone()).collect();
    for gate in &policy.gates {
        for (name, pos) in gate.approvals.iter().zip(&gate.approval_pos) {
            if !approval_names.contains(name) {
                diags.push(Diagnostic::error(
                    "unknown_approval",
                    *pos,
                    format!(
                        "Gate `{}` waits for approval `{name}`, which no stage defines{}; use the `name` of an approval.",
                        gate.name,
                        did_you_mean(name, approval_names.iter().map(String::as_str))
                    ),
                ));
            }
        }
    }

    // Approvals need someone to approve.
    if policy.approvers.is_empty() {
        for approval in policy.approvals() {
            if approval.approvers.is_empty() && !approval.name.is_empty() {
                diags.push(Diagnostic::warning(
                    "no_approvers",
                    approval.approvers_pos,
                    format!(
                        "Approval `{}` names no approvers and the policy has no default `approvers`; list users or \
                         groups under `approvers:`.",
                        approval.name
                    ),
                ));
            }
        }
    }

    resolve_dependencies(policy, diags);
}

/// Resolve `dependsOn` (evidence-set id, else input id, else alias), check the shown-if values
/// against the options, and report dependency cycles.
fn resolve_dependencies(policy: &mut Policy, diags: &mut Vec<Diagnostic>) {
    let set_ids: Vec<String> = policy.evidence_sets().map(|s| s.id.clone()).collect();
    let input_ids: HashSet<String> = policy.inputs().map(|i| i.id.clone()).collect();
    let alias_ids: HashMap<String, String> = policy
        .inputs()
        .filter_map(|i| Some((i.alias.clone()?, i.id.clone())))
        .collect();

    for stage in &mut policy.stages {
        let sets = stage
            .evidence_sets
            .iter_mut()
            .chain(stage.approvals.iter_mut().filter_map(|a| a.evidence.as_mut()));
        for set in sets {
            for artifact in &mut set.artifacts {
                let super::model::Artifact::Input(input) = artifact else {
                    continue;
                };
                let Some(cd) = &mut input.conditional_display else {
                    continue;
                };
                let name = cd.depends_on.trim();
                cd.target = if set_ids.iter().any(|s| s == name) {
                    DependencyTarget::EvidenceSet(name.to_owned())
                } else if input_ids.contains(name) {
                    DependencyTarget::Input(name.to_owned())
                } else if let Some(id) = alias_ids.get(name) {
                    DependencyTarget::Input(id.clone())
                } else {
                    diags.push(Diagnostic::error(
                        "unknown_depends_on",
                        cd.pos,
                        format!(
                            "`dependsOn: {name}` names no evidence set{}; use the `id` of the evidence set whose answer \
                             shows this input (or, in Charter, an input id or alias).",
                            did_you_mean(name, set_ids.iter().map(String::as_str))
                        ),
                    ));
                    continue;
                };
            }
        }
    }

    // Which inputs each conditional input depends on.
    let inputs: Vec<&super::model::Input> = policy.inputs().collect();
    let deps = |input: &super::model::Input| -> Vec<usize> {
        let Some(cd) = &input.conditional_display else {
            return Vec::new();
        };
        inputs
            .iter()
            .enumerate()
            .filter(|(_, other)| {
                other.id != input.id
                    && match &cd.target {
                        DependencyTarget::EvidenceSet(set) => other.set_id == *set,
                        DependencyTarget::Input(id) => other.id == *id,
                    }
            })
            .map(|(i, _)| i)
            .collect()
    };
    let dep_lists: Vec<Vec<usize>> = inputs.iter().map(|i| deps(i)).collect();
    let resolved = |i: usize| {
        inputs[i]
            .conditional_display
            .as_ref()
            .is_some_and(|cd| match &cd.target {
                DependencyTarget::EvidenceSet(s) => set_ids.contains(s),
                DependencyTarget::Input(id) => input_ids.contains(id),
            })
    };

    // Shown-if values that no option of the inputs depended on can take.
    for (i, input) in inputs.iter().enumerate() {
        let Some(cd) = &input.conditional_display else { continue };
        if !resolved(i) || dep_lists[i].is_empty() {
            continue;
        }
        let targets: Vec<&super::model::Input> = dep_lists[i].iter().map(|&j| inputs[j]).collect();
        if targets.iter().any(|t| !t.input_type.has_options()) {
            continue; // a free-text answer could match anything
        }
        for value in &cd.values {
            if !targets.iter().any(|t| t.options.iter().any(|o| o.value == *value)) {
                let all: Vec<&str> = targets
                    .iter()
                    .flat_map(|t| t.options.iter().map(|o| o.value.as_str()))
                    .collect();
                diags.push(Diagnostic::warning(
                    "show_if_value_not_an_option",
                    cd.value_pos,
                    format!(
                        "This input is shown when an answer is `{value}`, but no question in `{}` has that option{}, so it \
                         may never be shown; use one of the option values.",
                        cd.depends_on,
                        did_you_mean(value, all)
                    ),
                ));
            }
        }
    }

    // Inputs that can never be shown: every input they depend on is itself conditional, round a
    // loop that never reaches an always-shown question.
    let mut reachable: Vec<bool> = inputs.iter().map(|i| i.conditional_display.is_none()).collect();
    loop {
        let mut changed = false;
        for i in 0..inputs.len() {
            if !reachable[i] && resolved(i) && dep_lists[i].iter().any(|&j| reachable[j]) {
                reachable[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (i, input) in inputs.iter().enumerate() {
        let Some(cd) = &input.conditional_display else { continue };
        if reachable[i] || !resolved(i) {
            continue;
        }
        let message = if dep_lists[i].is_empty() {
            format!(
                "`{}` is shown only when another question in `{}` is answered, but that set has no other question, so it \
                 is never shown; point `dependsOn` at the evidence set holding the question it follows.",
                input.label, cd.depends_on
            )
        } else {
            format!(
                "`{}` can never be shown: every question it depends on (via `dependsOn: {}`) is itself conditional, and \
                 the chain loops back without reaching a question that is always shown; break the cycle by making one \
                 of them unconditional or pointing `dependsOn` elsewhere.",
                input.label, cd.depends_on
            )
        };
        diags.push(Diagnostic::error("depends_on_cycle", cd.pos, message));
    }

    // Cycles between evidence sets: A shows on B's answers while B shows on A's.
    let mut edges: HashMap<&str, Vec<(&str, Pos)>> = HashMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let Some(cd) = &input.conditional_display else { continue };
        for &j in &dep_lists[i] {
            let to = inputs[j].set_id.as_str();
            if to != input.set_id {
                let list = edges.entry(input.set_id.as_str()).or_default();
                if !list.iter().any(|(t, _)| *t == to) {
                    list.push((to, cd.pos));
                }
            }
        }
    }
    let mut reported: HashSet<Vec<&str>> = HashSet::new();
    let mut starts: Vec<&str> = edges.keys().copied().collect();
    starts.sort_unstable();
    for start in starts {
        if let Some((cycle, pos)) = find_cycle(start, &edges) {
            let mut key = cycle.clone();
            key.sort_unstable();
            if reported.insert(key) {
                let path: Vec<String> = cycle
                    .iter()
                    .chain(std::iter::once(&cycle[0]))
                    .map(|s| format!("`{s}`"))
                    .collect();
                diags.push(Diagnostic::error(
                    "depends_on_cycle",
                    pos,
                    format!(
                        "Conditional questions depend on each other in a cycle: {}; make one of these sets' questions \
                         depend on something outside the cycle.",
                        path.join(" → ")
                    ),
                ));
            }
        }
    }
}

/// A cycle through `start`, as the list of sets on it, with the position of its last edge.
fn find_cycle<'a>(start: &'a str, edges: &HashMap<&'a str, Vec<(&'a str, Pos)>>) -> Option<(Vec<&'a str>, Pos)> {
    fn dfs<'a>(
        node: &'a str,
        start: &'a str,
        edges: &HashMap<&'a str, Vec<(&'a str, Pos)>>,
        path: &mut Vec<&'a str>,
        visited: &mut HashSet<&'a str>,
    ) -> Option<Pos> {
        for (next, pos) in edges.get(node).map(Vec::as_slice).unwrap_or_default() {
            if *next == start {
                return Some(*pos);
            }
            if visited.insert(next) {
                path.push(next);
                if let Some(pos) = dfs(next, start, edges, path, visited) {
                    return Some(pos);
                }
                path.pop();
            }
        }
        None
    }
    let mut path = vec![start];
    let mut visited = HashSet::from([start]);
    dfs(start, start, edges, &mut path, &mut visited).map(|pos| (path, pos))
}
