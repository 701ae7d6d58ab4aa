//! The pure parts of Charter's MLflow-compatible tracking server and registry: the
//! search filter grammar, `order_by` clauses and page tokens. No IO.
//!
//! The grammar is MLflow's (`mlflow/utils/search_utils.py`): a conjunction of
//! clauses joined by `AND` (no `OR`, no parentheses), each `identifier comparator
//! value` or `identifier IS [NOT] NULL`, where an identifier is `[entity.]key` and a
//! key is a bare word, a `` `back-ticked` `` or a `"double-quoted"` name:
//!
//! ```text
//! metrics.loss < 1 and params.alpha = '0.5'
//! tags.`mlflow.source.type` LIKE 'NOTE%' AND attributes.status = "FINISHED"
//! run_id IN ('a', 'b') AND tags.owner IS NULL
//! ```
//!
//! [`parse_filter`] turns text into [`Clause`]s; [`SearchTarget::check`] then checks
//! them against what one search endpoint allows (which attributes exist, which
//! comparators and value types each takes), so that the store only ever sees
//! well-formed clauses. Errors say what was wrong and where (the character offset).

mod filter;
mod order;
mod page;

pub use filter::{Clause, Comparator, Entity, FilterError, Key, Value, parse_filter};
pub use order::{OrderBy, parse_order_by};
pub use page::PageToken;

/// The search endpoints, each with its own identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchTarget {
    Runs,
    Experiments,
    RegisteredModels,
    ModelVersions,
    LoggedModels,
}

/// How an attribute compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrKind {
    /// Strings: `= != LIKE ILIKE` (and `IN` when `in_list`).
    Text { in_list: bool },
    /// Integers (times, version numbers): `= != > >= < <=`.
    Number,
}

impl SearchTarget {
    fn name(self) -> &'static str {
        match self {
            Self::Runs => "runs",
            Self::Experiments => "experiments",
            Self::RegisteredModels => "registered models",
            Self::ModelVersions => "model versions",
            Self::LoggedModels => "logged models",
        }
    }

    /// The canonical name of an attribute, and how it compares.
    fn attribute(self, key: &str) -> Option<(&'static str, AttrKind)> {
        use AttrKind::{Number, Text};
        let plain = Text { in_list: false };
        let listed = Text { in_list: true };
        Some(match (self, key) {
            (Self::Runs, "run_id") => ("run_id", listed),
            (Self::Runs, "run_name" | "run name" | "Run name" | "Run Name") => ("run_name", plain),
            (Self::Runs, "status") => ("status", plain),
            (Self::Runs, "user_id") => ("user_id", plain),
            (Self::Runs, "artifact_uri") => ("artifact_uri", plain),
            (Self::Runs, "start_time" | "created" | "Created") => ("start_time", Number),
            (Self::Runs, "end_time") => ("end_time", Number),
            (Self::Experiments, "name") => ("name", plain),
            (Self::Experiments, "experiment_id") => ("experiment_id", listed),
            (Self::Experiments, "creation_time") => ("creation_time", Number),
            (Self::Experiments, "last_update_time") => ("last_update_time", Number),
            (Self::RegisteredModels, "name") => ("name", listed),
            (Self::ModelVersions, "name") => ("name", listed),
            (Self::ModelVersions, "run_id") => ("run_id", listed),
            (Self::ModelVersions, "source_path" | "source") => ("source", plain),
            (Self::ModelVersions, "version_number" | "version") => ("version_number", Number),
            (Self::LoggedModels, "name") => ("name", listed),
            (Self::LoggedModels, "model_id") => ("model_id", listed),
            (Self::LoggedModels, "model_type") => ("model_type", plain),
            (Self::LoggedModels, "status") => ("status", plain),
            (Self::LoggedModels, "source_run_id") => ("source_run_id", listed),
            (Self::LoggedModels, "creation_time" | "creation_timestamp") => ("creation_time", Number),
            (Self::LoggedModels, "last_updated_time" | "last_updated_timestamp") => ("last_updated_time", Number),
            _ => return None,
        })
    }

    fn attribute_names(self) -> &'static str {
        match self {
            Self::Runs => "run_id, run_name, status, user_id, artifact_uri, start_time, end_time",
            Self::Experiments => "name, experiment_id, creation_time, last_update_time",
            Self::RegisteredModels => "name",
            Self::ModelVersions => "name, run_id, source_path, version_number",
            Self::LoggedModels => "name, model_id, model_type, status, source_run_id, creation_time, last_updated_time",
        }
    }

    fn allows(self, entity: Entity) -> bool {
        match self {
            Self::Runs => true,
            Self::LoggedModels => !matches!(entity, Entity::Dataset),
            Self::Experiments | Self::RegisteredModels | Self::ModelVersions => {
                matches!(entity, Entity::Attribute | Entity::Tag)
            }
        }
    }

    /// Check parsed clauses against this endpoint, canonicalising attribute names
    /// (`created` → `start_time`, `` `Run name` `` → `run_name`).
    pub fn check(self, clauses: Vec<Clause>) -> Result<Vec<Clause>, FilterError> {
        clauses.into_iter().map(|c| self.check_clause(c)).collect()
    }

    fn check_clause(self, mut clause: Clause) -> Result<Clause, FilterError> {
        let at = clause.at;
        let bad = |message: String| FilterError { at, message };
        let entity = clause.key.entity;
        if !self.allows(entity) {
            return Err(bad(format!(
                "searching {} cannot filter on {} (`{}`)",
                self.name(),
                entity.plural(),
                clause.key
            )));
        }
        let op = clause.op;
        let ops_text = |ops: &[Comparator]| ops.iter().map(|o| o.as_str()).collect::<Vec<_>>().join(", ");
        match entity {
            Entity::Metric => {
                if !op.is_numeric() {
                    return Err(bad(format!(
                        "`{}` compares numbers; use one of {} (not {})",
                        clause.key,
                        ops_text(&Comparator::NUMERIC),
                        op.as_str()
                    )));
                }
                if !matches!(clause.value, Value::Number(_)) {
                    return Err(bad(format!(
                        "`{}` is compared with a number, e.g. `{} {} 0.5` (without quotes)",
                        clause.key,
                        clause.key,
                        op.as_str()
                    )));
                }
            }
            Entity::Param | Entity::Tag => {
                let allowed = [
                    Comparator::Eq,
                    Comparator::Ne,
                    Comparator::Like,
                    Comparator::ILike,
                    Comparator::IsNull,
                    Comparator::IsNotNull,
                ];
                if !allowed.contains(&op) {
                    return Err(bad(format!(
                        "`{}` compares strings; use one of {} (not {})",
                        clause.key,
                        ops_text(&allowed),
                        op.as_str()
                    )));
                }
                check_string_value(&clause, at)?;
            }
            Entity::Dataset => {
                let key = clause.key.key.as_str();
                if !matches!(key, "name" | "digest" | "context") {
                    return Err(bad(format!(
                        "`{}` is not a dataset field; use datasets.name, datasets.digest or datasets.context",
                        clause.key
                    )));
                }
                let allowed = [
                    Comparator::Eq,
                    Comparator::Ne,
                    Comparator::Like,
                    Comparator::ILike,
                    Comparator::In,
                    Comparator::NotIn,
                ];
                if !allowed.contains(&op) {
                    return Err(bad(format!(
                        "`{}` takes one of {} (not {})",
                        clause.key,
                        ops_text(&allowed),
                        op.as_str()
                    )));
                }
                check_string_value(&clause, at)?;
            }
            Entity::Attribute => {
                let Some((canonical, kind)) = self.attribute(&clause.key.key) else {
                    return Err(bad(format!(
                        "`{}` is not an attribute of {}; use one of {}",
                        clause.key.key,
                        self.name(),
                        self.attribute_names()
                    )));
                };
                clause.key.key = canonical.to_owned();
                match kind {
                    AttrKind::Number => {
                        if !op.is_numeric() {
                            return Err(bad(format!(
                                "`{canonical}` compares numbers; use one of {}",
                                ops_text(&Comparator::NUMERIC)
                            )));
                        }
                        if !matches!(clause.value, Value::Number(_)) {
                            return Err(bad(format!(
                                "`{canonical}` is compared with a number, e.g. `{canonical} > 1700000000000`"
                            )));
                        }
                    }
                    AttrKind::Text { in_list } => {
                        let mut allowed = vec![Comparator::Eq, Comparator::Ne, Comparator::Like, Comparator::ILike];
                        if in_list {
                            allowed.extend([Comparator::In, Comparator::NotIn]);
                        }
                        if !allowed.contains(&op) {
                            return Err(bad(format!(
                                "`{canonical}` takes one of {} (not {})",
                                ops_text(&allowed),
                                op.as_str()
                            )));
                        }
                        check_string_value(&clause, at)?;
                    }
                }
            }
        }
        Ok(clause)
    }
}

fn check_string_value(clause: &Clause, at: usize) -> Result<(), FilterError> {
    let ok = match clause.op {
        Comparator::IsNull | Comparator::IsNotNull => true,
        Comparator::In | Comparator::NotIn => matches!(clause.value, Value::List(_)),
        _ => matches!(clause.value, Value::Text(_)),
    };
    if ok {
        return Ok(());
    }
    let example = match clause.op {
        Comparator::In | Comparator::NotIn => format!("`{} {} ('a', 'b')`", clause.key, clause.op.as_str()),
        _ => format!("`{} {} 'value'`", clause.key, clause.op.as_str()),
    };
    Err(FilterError {
        at,
        message: format!("`{}` is compared with a quoted string, e.g. {example}", clause.key),
    })
}

/// A field's value, for checking a clause in memory (experiments, registry).
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// A string, or `None` when the entity has no such key.
    Text(Option<&'a str>),
    /// A number, or `None` when missing.
    Number(Option<f64>),
}

impl Clause {
    /// Whether a field's value satisfies this clause. A missing value matches only
    /// `IS NULL` (and `!=`, as MLflow's anti-join for prompt tags has it, is left to
    /// the caller).
    pub fn matches(&self, field: Field<'_>) -> bool {
        match (self.op, field) {
            (Comparator::IsNull, Field::Text(v)) => v.is_none(),
            (Comparator::IsNotNull, Field::Text(v)) => v.is_some(),
            (_, Field::Text(None) | Field::Number(None)) => false,
            (op, Field::Number(Some(n))) => {
                let Value::Number(v) = self.value else {
                    return false;
                };
                match op {
                    Comparator::Eq => n == v,
                    Comparator::Ne => n != v,
                    Comparator::Gt => n > v,
                    Comparator::Ge => n >= v,
                    Comparator::Lt => n < v,
                    Comparator::Le => n <= v,
                    _ => false,
                }
            }
            (op, Field::Text(Some(t))) => match (&self.value, op) {
                (Value::Text(v), Comparator::Eq) => t == v,
                (Value::Text(v), Comparator::Ne) => t != v,
                (Value::Text(v), Comparator::Like) => like_match(v, t, false),
                (Value::Text(v), Comparator::ILike) => like_match(v, t, true),
                (Value::List(items), Comparator::In) => items.iter().any(|i| i == t),
                (Value::List(items), Comparator::NotIn) => !items.iter().any(|i| i == t),
                _ => false,
            },
        }
    }
}

/// SQL `LIKE` in memory: `%` any run, `_` one character; `ignore_case` for `ILIKE`.
pub fn like_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Greedy matching with backtracking to the last `%`: linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// Turn a SQL `LIKE` pattern (`%` any run, `_` one character) into a `GLOB`
/// pattern with the same meaning. SQLite's `LIKE` ignores ASCII case; MLflow's
/// `LIKE` is case-sensitive, and `GLOB` is, so SQLite searches use this.
pub fn like_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    for c in pattern.chars() {
        match c {
            '%' => out.push('*'),
            '_' => out.push('?'),
            '*' => out.push_str("[*]"),
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(target: SearchTarget, text: &str) -> Result<Vec<Clause>, FilterError> {
        target.check(parse_filter(text)?)
    }

    #[test]
    fn runs_accept_the_documented_examples() {
        for text in [
            "metrics.loss < 1 and params.alpha = '0.5'",
            "tags.team LIKE 'gov%'",
            "attributes.status = 'FINISHED'",
            "run_id IN ('a','b')",
            "metrics.`val-loss` <= 0.2",
            "params.\"model.type\" = \"xgb\"",
            "tags.owner IS NULL",
            "tags.owner is not null",
            "created > 100",
            "attributes.`Run name` = 'x'",
            "datasets.name IN ('iris')",
            "",
        ] {
            check(SearchTarget::Runs, text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        let c = check(SearchTarget::Runs, "created > 5 and `Run Name` != 'a'").unwrap();
        assert_eq!(c[0].key.key, "start_time");
        assert_eq!(c[1].key.key, "run_name");
    }

    #[test]
    fn mistakes_are_named() {
        let e = check(SearchTarget::Runs, "metrics.loss < '1'").unwrap_err();
        assert!(e.message.contains("number"), "{e}");
        let e = check(SearchTarget::Runs, "params.a > 'x'").unwrap_err();
        assert!(e.message.contains("strings"), "{e}");
        let e = check(SearchTarget::Runs, "colour = 'red'").unwrap_err();
        assert!(e.message.contains("not an attribute"), "{e}");
        let e = check(SearchTarget::Runs, "status IN ('a')").unwrap_err();
        assert!(e.message.contains("takes one of"), "{e}");
        let e = check(SearchTarget::Experiments, "metrics.a > 1").unwrap_err();
        assert!(e.message.contains("cannot filter"), "{e}");
    }

    #[test]
    fn registry_filters() {
        check(
            SearchTarget::RegisteredModels,
            "tag.`mlflow.prompt.is_prompt` != 'true' AND name LIKE 'a%'",
        )
        .unwrap();
        check(SearchTarget::ModelVersions, "name = 'm' and version_number > 2").unwrap();
        check(SearchTarget::ModelVersions, "run_id IN ('x')").unwrap();
    }

    #[test]
    fn like_matches_as_sql_does() {
        assert!(like_match("gov%", "governance", false));
        assert!(!like_match("gov%", "Governance", false));
        assert!(like_match("gov%", "Governance", true));
        assert!(like_match("a_c", "abc", false));
        assert!(!like_match("a_c", "abbc", false));
        assert!(like_match("%b%", "abc", false));
        assert!(like_match("%", "", false));
        assert!(!like_match("_", "", false));
    }

    proptest::proptest! {
        /// A pattern without wildcards matches exactly itself; `%` + text + `%` finds
        /// any substring.
        #[test]
        fn like_agrees_with_plain_string_tests(a in "[a-z]{0,8}", b in "[a-z]{0,8}", c in "[a-z]{0,8}") {
            let whole = format!("{a}{b}{c}");
            let around = format!("%{b}%");
            let prefix = format!("{a}%");
            proptest::prop_assert!(like_match(&whole, &whole, false));
            proptest::prop_assert!(like_match(&around, &whole, false));
            proptest::prop_assert_eq!(like_match(&a, &b, false), a == b);
            proptest::prop_assert_eq!(like_match(&prefix, &whole, false), whole.starts_with(a.as_str()));
        }
    }

    #[test]
    fn like_patterns_become_globs() {
        assert_eq!(like_to_glob("gov%"), "gov*");
        assert_eq!(like_to_glob("a_b"), "a?b");
        assert_eq!(like_to_glob("*?["), "[*][?][[]");
    }
}
