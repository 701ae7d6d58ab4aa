//! CEL expressions: compiling with checks at lint time, evaluating without panics at run time.
//!
//! Expressions see `inputs`, a map from `aliasForClassification` to the answer (strings, numbers,
//! lists of strings, booleans; dates as `YYYY-MM-DD` strings). An unanswered input is absent from
//! the map, so `has(inputs.x)` and `"x" in inputs` test for an answer. Visibility conditions and gate
//! conditions also see `classification` (a string, empty when there is none) and its Domino synonym
//! `classificationValue`.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr, LiteralValue};
use cel::{Context, Env, ExecutionError, IdedExpr, Program, Value};

use super::diagnostic::{Diagnostic, Pos};
use super::text::{capitalize, did_you_mean};
use super::yaml::Node;

/// The CEL environment: the standard library and the strings extension (`lowerAscii`, `trim`, …).
pub(crate) static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    env.add_extension(cel::extensions::strings)
        .expect("the strings extension registers on the standard library");
    Arc::new(env)
});

/// Longest expression accepted, in characters.
pub(crate) const MAX_EXPR_CHARS: usize = 10_000;
/// Deepest nesting of `(`, `[` and `{` accepted.
pub(crate) const MAX_EXPR_NESTING: usize = 32;
/// Deepest expression tree accepted (a chain `a + b + c …` is as deep as it is long).
pub(crate) const MAX_EXPR_DEPTH: usize = 100;

/// Stack guaranteed to CEL work. The `cel` crate parses and evaluates recursively, with large
/// frames in debug builds (a 2 MiB thread overflows at ~20 nested parentheses); the limits above
/// keep its work well inside this.
const CEL_STACK: usize = 32 * 1024 * 1024;

/// Run `f` with at least [`CEL_STACK`] bytes of stack (on a fresh segment when the current one has
/// less). The entry points ([`lint`](super::lint), [`Policy::evaluate`](super::Policy::evaluate))
/// call this once, so everything below them may use CEL freely.
pub(crate) fn with_cel_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(CEL_STACK, CEL_STACK, f)
}

/// Where an expression is used; decides which variables it may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExprContext {
    /// `classification.rule`: sees `inputs`.
    Classification,
    /// `visibility.conditions[].when` / `visibilityRule`: sees `inputs` and `classification`.
    Visibility,
    /// A gate's `when`: sees `inputs` and `classification`.
    Gate,
}

impl ExprContext {
    fn variables(self) -> &'static [&'static str] {
        match self {
            Self::Classification => &["inputs"],
            Self::Visibility | Self::Gate => &["inputs", "classification", "classificationValue"],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Classification => "the classification rule",
            Self::Visibility => "this visibility condition",
            Self::Gate => "this gate condition",
        }
    }
}

/// A compiled CEL expression, with the source it was written as.
#[derive(Clone)]
pub struct CelExpr {
    source: String,
    program: Arc<Program>,
    aliases: Arc<[AliasRef]>,
}

/// A reference to `inputs.<alias>` (or `inputs["alias"]`, `"alias" in inputs`) in an expression.
#[derive(Clone, Debug)]
pub(crate) struct AliasRef {
    pub alias: String,
    pub pos: Pos,
}

impl fmt::Debug for CelExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CelExpr").field(&self.source).finish()
    }
}

impl PartialEq for CelExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source.trim() == other.source.trim()
    }
}

impl fmt::Display for CelExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source.trim())
    }
}

impl CelExpr {
    /// The expression as written.
    pub fn source(&self) -> &str {
        self.source.trim()
    }

    /// The aliases it reads from `inputs` (with a literal key), in order of appearance.
    pub fn aliases(&self) -> impl Iterator<Item = &str> {
        self.aliases.iter().map(|r| r.alias.as_str())
    }

    pub(crate) fn alias_refs(&self) -> &[AliasRef] {
        &self.aliases
    }

    /// Run the expression. Interpreter errors (and, defensively, interpreter panics) become `Err`
    /// with a sentence for people.
    pub(crate) fn execute(&self, context: &Context<'_, '_>) -> Result<Value, String> {
        match catch_unwind(AssertUnwindSafe(|| self.program.execute(context))) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(describe_execution_error(&err)),
            Err(_) => Err("the CEL interpreter failed on this expression".to_owned()),
        }
    }
}

/// A context for evaluation, with `inputs` and (if given) `classification` bound.
pub(crate) fn context(inputs: Value, classification: Option<&str>) -> Context<'static, 'static> {
    let mut context = Context::with_env(Arc::clone(&ENV));
    context.add_variable_from_value("inputs", inputs);
    if let Some(c) = classification {
        context.add_variable_from_value("classification", c.to_owned());
        context.add_variable_from_value("classificationValue", c.to_owned());
    }
    context
}

fn describe_execution_error(err: &ExecutionError) -> String {
    match err {
        ExecutionError::NoSuchKey(key) => {
            format!("`inputs.{key}` has no answer; test for it first with `has(inputs.{key})` or `\"{key}\" in inputs`")
        }
        ExecutionError::UndeclaredReference(name) => format!("`{name}` is not defined"),
        other => other.to_string(),
    }
}

/// Maps positions inside an expression to positions in the YAML source.
pub(crate) struct Locator {
    /// Where each line of the expression starts in the YAML, when that could be verified.
    lines: Vec<Option<Pos>>,
    fallback: Pos,
}

impl Locator {
    /// Locate `value`, the text of the scalar `node`, in the YAML source (given as lines). Lines
    /// are only mapped when the source at the computed place really holds that text (plain,
    /// single-quoted and literal `|` scalars); otherwise positions fall back to the node.
    pub fn new(src_lines: &[&str], node: &Node, value: &str) -> Self {
        let base = node.pos;
        let mut lines = Vec::new();
        for (i, text) in value.split('\n').enumerate() {
            let line_no = base.line as usize + i;
            let found = src_lines.get(line_no.wrapping_sub(1)).and_then(|src_line| {
                let start = base.column as usize - 1;
                // A quoted scalar's node starts at the quote on its first line.
                let candidates: &[usize] = if i == 0 { &[start, start + 1] } else { &[start] };
                candidates.iter().copied().find(|&c| {
                    let rest: String = src_line.chars().skip(c).collect();
                    !text.trim().is_empty() && rest.starts_with(text.trim_end())
                })
            });
            lines.push(found.map(|c| Pos::new(u32::try_from(line_no).unwrap_or(u32::MAX), c as u32 + 1)));
        }
        Self { lines, fallback: base }
    }

    /// A locator that always answers `pos`.
    #[cfg(test)]
    pub fn fixed(pos: Pos) -> Self {
        Self {
            lines: Vec::new(),
            fallback: pos,
        }
    }

    /// The YAML position of 1-based `line`/`column` (characters) inside the expression.
    pub fn at(&self, line: usize, column: usize) -> Pos {
        match self.lines.get(line.wrapping_sub(1)).copied().flatten() {
            Some(start) => Pos::new(start.line, start.column + u32::try_from(column.max(1) - 1).unwrap_or(0)),
            None => self.fallback,
        }
    }

    /// The YAML position of a byte offset inside `expr`.
    pub fn at_offset(&self, expr: &str, offset: usize) -> Pos {
        let before = expr.get(..offset.min(expr.len())).unwrap_or(expr);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        self.at(line, column)
    }
}

/// Compile `source` for `ctx`: syntax, variables and functions are checked here; references to
/// aliases are returned with the expression, for the caller to check against the policy.
pub(crate) fn compile(source: &str, ctx: ExprContext, locator: &Locator) -> Result<CelExpr, Vec<Diagnostic>> {
    if source.trim().is_empty() {
        return Err(vec![Diagnostic::error(
            "cel_syntax",
            locator.fallback,
            format!(
                "{} is empty; write a CEL expression, e.g. `inputs[\"risk\"] == \"High\"`.",
                capitalize(ctx.describe())
            ),
        )]);
    }
    if let Some(problem) = too_complex_source(source) {
        return Err(vec![too_complex(ctx, locator.fallback, &problem)]);
    }
    let compiled = catch_unwind(AssertUnwindSafe(|| ENV.compile(source)));
    let program = match compiled {
        Ok(Ok(program)) => program,
        Ok(Err(errors)) => {
            let mut diagnostics: Vec<Diagnostic> = Vec::new();
            // The parser recovers and goes on, but errors after the first are mostly its echoes.
            for err in errors.errors.iter().take(1) {
                let pos = locator.at(
                    usize::try_from(err.pos.0).unwrap_or(1),
                    usize::try_from(err.pos.1).unwrap_or(1),
                );
                let msg = err.msg.split(" expecting {").next().unwrap_or(&err.msg).trim();
                let msg = msg.strip_prefix("Syntax error: ").unwrap_or(msg);
                if diagnostics.iter().any(|d| d.pos() == pos) {
                    continue;
                }
                diagnostics.push(Diagnostic::error(
                    "cel_syntax",
                    pos,
                    format!(
                        "{} does not compile as CEL ({msg}); fix the expression here (CEL writes `==`, `&&`, `||`, \
                         `cond ? a : b`, and strings in double quotes).",
                        capitalize(ctx.describe())
                    ),
                ));
            }
            if diagnostics.is_empty() {
                diagnostics.push(Diagnostic::error(
                    "cel_syntax",
                    locator.fallback,
                    format!(
                        "{} does not compile as CEL; fix the expression.",
                        capitalize(ctx.describe())
                    ),
                ));
            }
            return Err(diagnostics);
        }
        Err(_) => {
            return Err(vec![Diagnostic::error(
                "cel_syntax",
                locator.fallback,
                format!(
                    "{} could not be compiled; simplify the expression.",
                    capitalize(ctx.describe())
                ),
            )]);
        }
    };

    let depth = tree_depth(program.expression());
    if depth > MAX_EXPR_DEPTH {
        let problem = format!("it is {depth} levels deep, and at most {MAX_EXPR_DEPTH} are accepted");
        return Err(vec![too_complex(ctx, locator.fallback, &problem)]);
    }
    let mut analysis = Analysis::default();
    walk(program.expression(), &program, &mut Vec::new(), &mut analysis);
    let at = |offset: u32| locator.at_offset(source, offset as usize);

    let mut diagnostics = Vec::new();
    let allowed = ctx.variables();
    for (name, offset) in &analysis.idents {
        if allowed.contains(&name.as_str()) {
            continue;
        }
        let hint = if ctx == ExprContext::Classification && (name == "classification" || name == "classificationValue")
        {
            " The classification rule computes the classification, so it cannot read it; use `inputs` instead."
                .to_owned()
        } else if name == "classificationInputs" {
            " Domino's `classificationInputs[\"x\"]` is `inputs[\"x\"]` in Charter.".to_owned()
        } else {
            format!(
                " Answers are read through `inputs` (`inputs[\"alias\"]`; quote aliases that contain `-`){}.",
                did_you_mean(name, allowed.iter().copied())
            )
        };
        diagnostics.push(Diagnostic::error(
            "cel_unknown_variable",
            at(*offset),
            format!(
                "{} uses `{name}`, which is not defined; it can read {}.{hint}",
                capitalize(ctx.describe()),
                allowed.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    for (name, member, offset) in &analysis.calls {
        if !function_exists(name, *member) {
            diagnostics.push(Diagnostic::error(
                "cel_unknown_function",
                at(*offset),
                format!(
                    "{} calls `{name}()`, which CEL does not have{}; use a standard CEL function such as `size`, \
                     `contains`, `startsWith`, `endsWith`, `matches`, `lowerAscii` or `exists`.",
                    capitalize(ctx.describe()),
                    did_you_mean(name, KNOWN_FUNCTIONS.iter().copied())
                ),
            ));
        }
    }
    if !diagnostics.is_empty() {
        return Err(diagnostics);
    }
    let aliases = analysis
        .aliases
        .into_iter()
        .map(|(alias, offset)| AliasRef { alias, pos: at(offset) })
        .collect();
    Ok(CelExpr {
        source: source.to_owned(),
        program: Arc::new(program),
        aliases,
    })
}

fn too_complex(ctx: ExprContext, pos: Pos, problem: &str) -> Diagnostic {
    Diagnostic::error(
        "cel_too_complex",
        pos,
        format!(
            "{} is too complex to evaluate safely ({problem}); split it, e.g. move parts into separate visibility \
             conditions or use `||`/`&&` instead of nesting.",
            capitalize(ctx.describe())
        ),
    )
}

/// Length and bracket nesting, checked on the text before parsing (the parser itself recurses).
pub(crate) fn too_complex_source(source: &str) -> Option<String> {
    let length = source.chars().count();
    if length > MAX_EXPR_CHARS {
        return Some(format!(
            "it is {length} characters long, and at most {MAX_EXPR_CHARS} are accepted"
        ));
    }
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    (deepest > MAX_EXPR_NESTING)
        .then(|| format!("brackets nest {deepest} deep, and at most {MAX_EXPR_NESTING} are accepted"))
}

/// The depth of an expression tree, without recursion.
pub(crate) fn tree_depth(root: &IdedExpr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((expr, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        stack.extend(children(expr).into_iter().map(|child| (child, depth + 1)));
    }
    deepest
}

/// The direct subexpressions of an expression.
fn children(expr: &IdedExpr) -> Vec<&IdedExpr> {
    match &expr.expr {
        Expr::Call(call) => call.target.iter().map(|t| &**t).chain(call.args.iter()).collect(),
        Expr::Select(select) => vec![&select.operand],
        Expr::Comprehension(c) => vec![&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Struct(st) => st
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(e) => vec![&e.key, &e.value],
                EntryExpr::StructField(f) => vec![&f.value],
            })
            .collect(),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

/// Common functions, for suggestions only (existence is checked against the interpreter itself).
pub(crate) const KNOWN_FUNCTIONS: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "lowerAscii",
    "upperAscii",
    "trim",
    "split",
    "join",
    "replace",
    "int",
    "double",
    "string",
    "exists",
    "all",
    "filter",
    "map",
];

/// Whether the interpreter knows a function: it is unknown exactly when calling it with no
/// arguments reports an undeclared reference to it (any other error means it exists).
pub(crate) fn function_exists(name: &str, member: bool) -> bool {
    let probes: Vec<String> = if member {
        vec![
            format!("\"\".{name}()"),
            format!("[].{name}()"),
            format!("{{}}.{name}()"),
        ]
    } else {
        vec![format!("{name}()")]
    };
    let context = Context::with_env(Arc::clone(&ENV));
    probes.iter().any(|probe| {
        let Ok(Ok(program)) = catch_unwind(|| ENV.compile(probe)) else {
            return true;
        };
        match catch_unwind(AssertUnwindSafe(|| program.execute(&context))) {
            Ok(Err(ExecutionError::UndeclaredReference(n))) => n.as_str() != name,
            _ => true,
        }
    })
}

#[derive(Default)]
pub(crate) struct Analysis {
    /// Free identifiers and their byte offsets.
    pub(crate) idents: Vec<(String, u32)>,
    /// Function calls: name, whether member-style, byte offset.
    pub(crate) calls: Vec<(String, bool, u32)>,
    /// Literal alias references and their byte offsets.
    pub(crate) aliases: Vec<(String, u32)>,
}

fn offset(program: &Program, expr: &IdedExpr) -> u32 {
    program.source_info().offset_for(expr.id).map_or(0, |(start, _)| start)
}

fn is_inputs(expr: &IdedExpr, scope: &[String]) -> bool {
    matches!(&expr.expr, Expr::Ident(name) if name == "inputs" && !scope.iter().any(|s| s == "inputs"))
}

fn string_literal(expr: &IdedExpr) -> Option<String> {
    match &expr.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

pub(crate) fn walk(expr: &IdedExpr, program: &Program, scope: &mut Vec<String>, out: &mut Analysis) {
    match &expr.expr {
        Expr::Ident(name) => {
            if !scope.iter().any(|s| s == name) && !out.idents.iter().any(|(n, _)| n == name) {
                out.idents.push((name.clone(), offset(program, expr)));
            }
        }
        Expr::Select(select) => {
            if is_inputs(&select.operand, scope) {
                out.aliases
                    .push((select.field.clone(), offset(program, &select.operand)));
            }
            walk(&select.operand, program, scope, out);
        }
        Expr::Call(call) => {
            let name = call.func_name.as_str();
            match (name, call.args.as_slice()) {
                ("_[_]" | "_[?_]", [map, key]) if is_inputs(map, scope) => {
                    if let Some(alias) = string_literal(key) {
                        out.aliases.push((alias, offset(program, map)));
                    }
                }
                ("@in", [key, map]) if is_inputs(map, scope) => {
                    if let Some(alias) = string_literal(key) {
                        out.aliases.push((alias, offset(program, key)));
                    }
                }
                _ => {}
            }
            let operator = name.starts_with('_') || name.starts_with('@') || name == "!_" || name == "-_";
            if !operator
                && !out
                    .calls
                    .iter()
                    .any(|(n, m, _)| n == name && *m == call.target.is_some())
            {
                // The call's offset is its `(`; point at the name when it is written just before.
                let at = offset(program, expr);
                let source = &program.source_info().source;
                let start = (at as usize)
                    .checked_sub(name.len())
                    .filter(|&s| source.get(s..at as usize) == Some(name));
                out.calls
                    .push((name.to_owned(), call.target.is_some(), start.map_or(at, |s| s as u32)));
            }
            if let Some(target) = &call.target {
                walk(target, program, scope, out);
            }
            for arg in &call.args {
                walk(arg, program, scope, out);
            }
        }
        Expr::Comprehension(comp) => {
            walk(&comp.iter_range, program, scope, out);
            walk(&comp.accu_init, program, scope, out);
            let depth = scope.len();
            scope.push(comp.iter_var.clone());
            scope.extend(comp.iter_var2.clone());
            scope.push(comp.accu_var.clone());
            walk(&comp.loop_cond, program, scope, out);
            walk(&comp.loop_step, program, scope, out);
            walk(&comp.result, program, scope, out);
            scope.truncate(depth);
        }
        Expr::List(list) => {
            for element in &list.elements {
                walk(element, program, scope, out);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(e) = &entry.expr {
                    walk(&e.key, program, scope, out);
                    walk(&e.value, program, scope, out);
                }
            }
        }
        Expr::Struct(st) => {
            for entry in &st.entries {
                match &entry.expr {
                    EntryExpr::StructField(f) => walk(&f.value, program, scope, out),
                    EntryExpr::MapEntry(e) => {
                        walk(&e.key, program, scope, out);
                        walk(&e.value, program, scope, out);
                    }
                }
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn compile_at(src: &str, ctx: ExprContext) -> Result<CelExpr, Vec<Diagnostic>> {
        compile(src, ctx, &Locator::fixed(Pos::new(1, 1)))
    }

    #[test]
    fn collects_alias_references_in_every_form() {
        let expr = compile_at(
            r#"inputs.a == "x" || inputs["b-c"] == "y" || has(inputs.d) || "e" in inputs || [1].exists(i, i == inputs.f)"#,
            ExprContext::Classification,
        )
        .unwrap();
        let aliases: Vec<_> = expr.aliases().collect();
        assert_eq!(aliases, ["a", "b-c", "d", "e", "f"]);
    }

    #[test]
    fn rejects_unknown_variables_and_functions() {
        let errs = compile_at("classification == \"High\"", ExprContext::Classification).unwrap_err();
        assert_eq!(errs[0].code, "cel_unknown_variable");
        assert!(errs[0].message.contains("cannot read it"), "{}", errs[0].message);
        assert!(compile_at("classification == \"High\"", ExprContext::Visibility).is_ok());
        let errs = compile_at("foo(inputs.a)", ExprContext::Visibility).unwrap_err();
        assert_eq!(errs[0].code, "cel_unknown_function");
        assert!(
            compile_at(
                "inputs.a.lowerAscii().startsWith(\"y\") && size(inputs) > 0",
                ExprContext::Visibility
            )
            .is_ok()
        );
        let errs = compile_at("inputs.a.lowerCase()", ExprContext::Visibility).unwrap_err();
        assert!(errs[0].message.contains("lowerAscii"), "{}", errs[0].message);
    }

    #[test]
    fn syntax_errors_point_into_the_expression() {
        let yaml = "rule: inputs.a == \n";
        let node = super::super::yaml::parse(yaml).unwrap();
        let super::super::yaml::Kind::Map(entries) = &node.kind else {
            panic!()
        };
        let value = &entries[0].1;
        let lines: Vec<&str> = yaml.lines().collect();
        let text = "inputs.a ==";
        let errs = compile(text, ExprContext::Classification, &Locator::new(&lines, value, text)).unwrap_err();
        assert_eq!(errs[0].code, "cel_syntax");
        assert_eq!(errs[0].pos(), Pos::new(1, 18));
    }

    #[test]
    fn evaluation_errors_are_values_not_panics() {
        let expr = compile_at("inputs.missing == \"x\"", ExprContext::Visibility).unwrap();
        let inputs: HashMap<String, Value> = HashMap::new();
        let err = expr.execute(&context(inputs.into(), Some(""))).unwrap_err();
        assert!(err.contains("has(inputs.missing)"), "{err}");
    }
}
