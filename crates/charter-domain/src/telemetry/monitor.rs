//! Monitor conditions: CEL over a window's statistics (`error_rate > 0.05`,
//! `latency_p95_ms > 2000`, `negative_feedback_rate > 0.2`, `span_count == 0`), and
//! the state a monitor is in after evaluating one.
//!
//! Conditions are checked when saved — syntax, variables, functions — with the same
//! CEL machinery as policy rules, so a typo is an error that names the variable and
//! suggests the one meant, never a monitor that silently never fires.

use std::collections::HashMap;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use cel::{Context, Program, Value};

use super::stats::WindowStats;
use crate::policy::expr::{
    Analysis, ENV, KNOWN_FUNCTIONS, MAX_EXPR_DEPTH, function_exists, too_complex_source, tree_depth, walk,
    with_cel_stack,
};
use crate::policy::text::did_you_mean;

/// The variables a condition can read, and what each means.
pub const VARIABLES: [(&str, &str); 16] = [
    ("span_count", "spans that started in the window (int)"),
    (
        "trace_count",
        "requests: root spans, or spans of the monitor's kind (int)",
    ),
    ("error_count", "requests whose status is ERROR (int)"),
    ("error_rate", "error_count / trace_count, 0 without requests (double)"),
    ("span_error_count", "spans whose status is ERROR (int)"),
    ("span_error_rate", "span_error_count / span_count (double)"),
    ("latency_p50_ms", "median request latency in milliseconds (double)"),
    (
        "latency_p95_ms",
        "95th-percentile request latency in milliseconds (double)",
    ),
    (
        "latency_p99_ms",
        "99th-percentile request latency in milliseconds (double)",
    ),
    ("prompt_tokens", "prompt tokens of every span (int)"),
    ("completion_tokens", "completion tokens of every span (int)"),
    ("total_tokens", "total tokens of every span (int)"),
    ("cost_usd", "cost of those tokens from the price table, in USD (double)"),
    (
        "feedback_count",
        "human feedback annotations received in the window (int)",
    ),
    ("negative_feedback_count", "negative ones among them (int)"),
    (
        "negative_feedback_rate",
        "negative_feedback_count / feedback_count (double)",
    ),
];

/// Longest condition accepted, in characters.
const MAX_CHARS: usize = 2_000;

/// Why a condition cannot be used: a sentence saying where and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConditionError(pub String);

/// A checked condition.
#[derive(Clone)]
pub struct Condition {
    source: String,
    program: Arc<Program>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

fn variable_list() -> String {
    VARIABLES
        .iter()
        .map(|(v, _)| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Condition {
    /// Check and compile a condition.
    pub fn parse(source: &str) -> Result<Self, ConditionError> {
        let source = source.trim();
        if source.is_empty() {
            return Err(ConditionError(
                "condition: write a CEL condition over the window's statistics, e.g. `error_rate > 0.05`".into(),
            ));
        }
        if source.chars().count() > MAX_CHARS {
            return Err(ConditionError(format!("condition: at most {MAX_CHARS} characters")));
        }
        if let Some(problem) = too_complex_source(source) {
            return Err(ConditionError(format!("condition: too complex ({problem})")));
        }
        with_cel_stack(|| {
            let program = match catch_unwind(AssertUnwindSafe(|| ENV.compile(source))) {
                Ok(Ok(p)) => p,
                Ok(Err(errors)) => {
                    let detail = errors
                        .errors
                        .first()
                        .map(|e| {
                            let msg = e.msg.split(" expecting {").next().unwrap_or(&e.msg).trim();
                            format!(
                                " at column {}: {}",
                                e.pos.1,
                                msg.strip_prefix("Syntax error: ").unwrap_or(msg)
                            )
                        })
                        .unwrap_or_default();
                    return Err(ConditionError(format!(
                        "condition: `{source}` is not valid CEL{detail}; CEL writes `>`, `==`, `&&`, `||`"
                    )));
                }
                Err(_) => return Err(ConditionError("condition: could not be compiled; simplify it".into())),
            };
            let depth = tree_depth(program.expression());
            if depth > MAX_EXPR_DEPTH {
                return Err(ConditionError(format!(
                    "condition: too complex ({depth} levels deep, at most {MAX_EXPR_DEPTH})"
                )));
            }
            let mut analysis = Analysis::default();
            walk(program.expression(), &program, &mut Vec::new(), &mut analysis);
            for (name, _) in &analysis.idents {
                if !VARIABLES.iter().any(|(v, _)| v == name) {
                    return Err(ConditionError(format!(
                        "condition: `{name}` is not a statistic{}; a condition can read {}",
                        did_you_mean(name, VARIABLES.iter().map(|(v, _)| *v)),
                        variable_list()
                    )));
                }
            }
            for (name, member, _) in &analysis.calls {
                if !function_exists(name, *member) {
                    return Err(ConditionError(format!(
                        "condition: `{name}()` is not a CEL function{}",
                        did_you_mean(name, KNOWN_FUNCTIONS.iter().copied())
                    )));
                }
            }
            let condition = Self {
                source: source.to_owned(),
                program: Arc::new(program),
            };
            // A condition that cannot give a yes or no on real figures is useless.
            condition
                .evaluate(&WindowStats::default())
                .map_err(|e| ConditionError(format!("condition: {e}")))?;
            Ok(condition)
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the condition holds for `stats`.
    pub fn evaluate(&self, stats: &WindowStats) -> Result<bool, String> {
        let mut context = Context::with_env(Arc::clone(&ENV));
        for (name, value) in variables(stats) {
            context.add_variable_from_value(name, value);
        }
        let result = with_cel_stack(|| catch_unwind(AssertUnwindSafe(|| self.program.execute(&context))));
        match result {
            Ok(Ok(Value::Bool(b))) => Ok(b),
            Ok(Ok(other)) => Err(format!(
                "`{}` gives {other:?}, not true or false; compare a statistic, e.g. `error_rate > 0.05`",
                self.source
            )),
            Ok(Err(e)) => Err(format!("`{}` failed: {e}", self.source)),
            Err(_) => Err(format!("`{}` could not be evaluated", self.source)),
        }
    }
}

/// The statistics as CEL values, by variable name.
pub fn variables(stats: &WindowStats) -> HashMap<&'static str, Value> {
    HashMap::from([
        ("span_count", Value::Int(stats.span_count)),
        ("trace_count", Value::Int(stats.trace_count)),
        ("error_count", Value::Int(stats.error_count)),
        ("error_rate", Value::Float(stats.error_rate())),
        ("span_error_count", Value::Int(stats.span_error_count)),
        ("span_error_rate", Value::Float(stats.span_error_rate())),
        ("latency_p50_ms", Value::Float(stats.latency_ms(50.0))),
        ("latency_p95_ms", Value::Float(stats.latency_ms(95.0))),
        ("latency_p99_ms", Value::Float(stats.latency_ms(99.0))),
        ("prompt_tokens", Value::Int(stats.prompt_tokens)),
        ("completion_tokens", Value::Int(stats.completion_tokens)),
        ("total_tokens", Value::Int(stats.total_tokens)),
        ("cost_usd", Value::Float(stats.cost_usd)),
        ("feedback_count", Value::Int(stats.feedback_count)),
        ("negative_feedback_count", Value::Int(stats.negative_feedback_count)),
        ("negative_feedback_rate", Value::Float(stats.negative_feedback_rate())),
    ])
}

/// Where a monitor stands after an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorState {
    /// Not evaluated yet.
    Pending,
    Healthy,
    /// The window held no spans and the condition did not fire.
    NoData,
    Triggered,
}

impl MonitorState {
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorState::Pending => "pending",
            MonitorState::Healthy => "healthy",
            MonitorState::NoData => "no_data",
            MonitorState::Triggered => "triggered",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            MonitorState::Pending,
            MonitorState::Healthy,
            MonitorState::NoData,
            MonitorState::Triggered,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// The state for a condition's outcome: a true condition triggers (so
    /// `span_count == 0` alerts on silence); otherwise an empty window is `no_data`.
    pub fn after(condition_holds: bool, stats: &WindowStats) -> Self {
        if condition_holds {
            MonitorState::Triggered
        } else if stats.span_count == 0 {
            MonitorState::NoData
        } else {
            MonitorState::Healthy
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::stats::LatencyHistogram;

    fn stats() -> WindowStats {
        let mut latency = LatencyHistogram::new();
        for ms in [100.0, 200.0, 3000.0] {
            latency.record_ms(ms);
        }
        WindowStats {
            span_count: 12,
            trace_count: 3,
            error_count: 1,
            latency,
            feedback_count: 5,
            negative_feedback_count: 2,
            ..WindowStats::default()
        }
    }

    #[test]
    fn conditions_from_the_issue_evaluate() {
        let s = stats();
        for (source, expected) in [
            ("error_rate > 0.05", true),
            ("latency_p95_ms > 2000", true),
            ("latency_p50_ms > 2000", false),
            ("negative_feedback_rate > 0.2", true),
            ("span_count == 0", false),
            ("trace_count > 2 && error_count >= 1", true),
        ] {
            let c = Condition::parse(source).unwrap();
            assert_eq!(c.evaluate(&s).unwrap(), expected, "{source}");
        }
        let silence = Condition::parse("span_count == 0").unwrap();
        assert!(silence.evaluate(&WindowStats::default()).unwrap());
    }

    #[test]
    fn mistakes_are_named_when_saved() {
        let err = Condition::parse("eror_rate > 0.05").unwrap_err();
        assert!(
            err.0.contains("`eror_rate`") && err.0.contains("did you mean `error_rate`"),
            "{err}"
        );
        let err = Condition::parse("error_rate >").unwrap_err();
        assert!(err.0.contains("not valid CEL"), "{err}");
        let err = Condition::parse("error_rate + 1.0").unwrap_err();
        assert!(err.0.contains("not true or false"), "{err}");
        let err = Condition::parse("florp(error_rate)").unwrap_err();
        assert!(err.0.contains("not a CEL function"), "{err}");
        assert!(Condition::parse("  ").is_err());
    }

    #[test]
    fn states_follow_the_condition_then_the_data() {
        assert_eq!(
            MonitorState::after(true, &WindowStats::default()),
            MonitorState::Triggered
        );
        assert_eq!(
            MonitorState::after(false, &WindowStats::default()),
            MonitorState::NoData
        );
        assert_eq!(MonitorState::after(false, &stats()), MonitorState::Healthy);
        assert_eq!(MonitorState::parse("no_data"), Some(MonitorState::NoData));
    }
}
