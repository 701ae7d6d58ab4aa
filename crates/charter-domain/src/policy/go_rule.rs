//! Domino classification rules written in Go, and their CEL equivalents.
//!
//! Charter does not run Go. A rule that is a simple if-chain over `classificationInputs` is
//! translated so the lint message can show the CEL to paste in:
//!
//! ```text
//! tier := "Low"
//! if classificationInputs["a"].(string) == "Yes" { tier = "Medium" }
//! if classificationInputs["b"].(string) == "X" { tier = "High" }
//! return tier
//! ```
//!
//! becomes `inputs["b"] == "X" ? "High" : (inputs["a"] == "Yes" ? "Medium" : "Low")` (a later `if`
//! overrides an earlier one). `if … { return "X" }`, `else if` and `else` are understood too.

/// Whether a rule looks like Go rather than CEL.
pub(crate) fn looks_like_go(rule: &str) -> bool {
    rule.contains(":=")
        || rule.contains("classificationInputs")
        || rule
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .any(|w| w == "return" || w == "func")
}

/// Translate a simple Go if-chain into CEL, or `None` when the rule is not that simple.
pub(crate) fn to_cel(rule: &str) -> Option<String> {
    let tokens = tokenize(rule)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        var: None,
    };
    let stmts = parser.program()?;
    let cel = build(&stmts, None, parser.var.as_deref())?;
    Some(cel.text)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Punct(&'static str),
}

const PUNCTS: [&str; 20] = [
    ":=", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "=", "(", ")", "[", "]", "{", "}", ".", ",", ";",
];

fn tokenize(src: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = src.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match *chars.get(i)? {
                    '"' => break,
                    '\\' => {
                        i += 1;
                        s.push(match *chars.get(i)? {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    other => s.push(other),
                }
                i += 1;
            }
            i += 1;
            tokens.push(Tok::Str(s));
        } else if c == '`' {
            let end = chars[i + 1..].iter().position(|&c| c == '`')? + i + 1;
            tokens.push(Tok::Str(chars[i + 1..end].iter().collect()));
            i = end + 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Tok::Num(chars[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let punct = PUNCTS.iter().find(|p| rest.starts_with(**p))?;
            tokens.push(Tok::Punct(punct));
            i += punct.chars().count();
        }
    }
    Some(tokens)
}

/// A CEL literal (`"Low"`, `2.5`).
type Lit = String;

#[derive(Debug)]
enum Body {
    Assign(Lit),
    Return(Value),
}

#[derive(Debug)]
enum Value {
    Lit(Lit),
    Var,
}

#[derive(Debug)]
enum Stmt {
    Assign(Lit),
    /// `if c1 {…} else if c2 {…} else {…}`: conditions as raw tokens (translated in context).
    If(Vec<(Vec<Tok>, Body)>, Option<Body>),
    Return(Value),
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
    /// The variable the chain assigns (`tier`).
    var: Option<String>,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Punct(q)) if *q == p) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_ident(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_semicolons(&mut self) {
        while self.eat(";") {}
    }

    fn literal(&mut self) -> Option<Lit> {
        match self.next()? {
            Tok::Str(s) => Some(cel_string(&s)),
            Tok::Num(n) => n.parse::<f64>().is_ok().then_some(n),
            Tok::Ident(w) if w == "true" || w == "false" => Some(w),
            _ => None,
        }
    }

    fn is_var(&self, name: &str) -> bool {
        self.var.as_deref() == Some(name)
    }

    fn program(&mut self) -> Option<Vec<Stmt>> {
        let mut stmts = Vec::new();
        loop {
            self.skip_semicolons();
            let Some(tok) = self.next() else { break };
            match tok {
                Tok::Ident(w) if w == "var" => {
                    let Some(Tok::Ident(name)) = self.next() else {
                        return None;
                    };
                    self.var.get_or_insert(name);
                    // `var tier string = "Low"` or `var tier = "Low"` or `var tier string`.
                    if let Some(Tok::Ident(_)) = self.peek() {
                        self.at += 1;
                    }
                    if self.eat("=") {
                        stmts.push(Stmt::Assign(self.literal()?));
                    }
                }
                Tok::Ident(w) if w == "if" => stmts.push(self.if_chain()?),
                Tok::Ident(w) if w == "return" => stmts.push(Stmt::Return(self.value()?)),
                Tok::Ident(name) => {
                    if self.eat(":=") {
                        if self.var.as_deref().is_some_and(|v| v != name) {
                            return None;
                        }
                        self.var = Some(name);
                    } else if !(self.is_var(&name) && self.eat("=")) {
                        return None;
                    }
                    stmts.push(Stmt::Assign(self.literal()?));
                }
                _ => return None,
            }
        }
        Some(stmts)
    }

    fn value(&mut self) -> Option<Value> {
        if let Some(Tok::Ident(name)) = self.peek()
            && self.is_var(name)
        {
            self.at += 1;
            return Some(Value::Var);
        }
        self.literal().map(Value::Lit)
    }

    fn if_chain(&mut self) -> Option<Stmt> {
        let mut branches = vec![(self.condition()?, self.block()?)];
        let mut otherwise = None;
        while self.eat_ident("else") {
            if self.eat_ident("if") {
                branches.push((self.condition()?, self.block()?));
            } else {
                otherwise = Some(self.block()?);
                break;
            }
        }
        Some(Stmt::If(branches, otherwise))
    }

    fn condition(&mut self) -> Option<Vec<Tok>> {
        let start = self.at;
        while !matches!(self.peek()?, Tok::Punct("{")) {
            self.at += 1;
        }
        (self.at > start).then(|| self.tokens[start..self.at].to_vec())
    }

    fn block(&mut self) -> Option<Body> {
        if !self.eat("{") {
            return None;
        }
        self.skip_semicolons();
        let body = match self.next()? {
            Tok::Ident(w) if w == "return" => Body::Return(self.value()?),
            Tok::Ident(name) if self.is_var(&name) && self.eat("=") => Body::Assign(self.literal()?),
            _ => return None,
        };
        self.skip_semicolons();
        self.eat("}").then_some(body)
    }
}

fn cel_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A CEL expression under construction; `conditional` ones get parentheses when nested.
#[derive(Clone, Debug)]
struct Cel {
    text: String,
    conditional: bool,
}

impl Cel {
    fn lit(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            conditional: false,
        }
    }

    fn nested(&self) -> String {
        if self.conditional {
            format!("({})", self.text)
        } else {
            self.text.clone()
        }
    }

    fn ternary(cond: &str, then: &Cel, otherwise: &Cel) -> Self {
        Self {
            text: format!("{cond} ? {} : {}", then.nested(), otherwise.nested()),
            conditional: true,
        }
    }
}

/// Translate a condition's tokens; `current` is the variable's value so far (for `tier == "Medium"`).
fn condition(tokens: &[Tok], var: Option<&str>, current: Option<&Cel>) -> Option<String> {
    let mut out = String::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Tok::Ident(w) if w == "classificationInputs" => {
                // classificationInputs["alias"] followed by an optional type assertion .(T)
                let (Some(Tok::Punct("[")), Some(Tok::Str(alias)), Some(Tok::Punct("]"))) =
                    (tokens.get(i + 1), tokens.get(i + 2), tokens.get(i + 3))
                else {
                    return None;
                };
                out.push_str(&format!("inputs[{}]", cel_string(alias)));
                i += 4;
                if matches!(tokens.get(i), Some(Tok::Punct("."))) && matches!(tokens.get(i + 1), Some(Tok::Punct("(")))
                {
                    let close = tokens[i + 2..].iter().position(|t| *t == Tok::Punct(")"))? + i + 2;
                    i = close + 1;
                }
                continue;
            }
            Tok::Ident(w) if w == "true" || w == "false" => out.push_str(w),
            Tok::Ident(w) if Some(w.as_str()) == var => out.push_str(&current?.nested()),
            Tok::Ident(_) => return None,
            Tok::Str(s) => out.push_str(&cel_string(s)),
            Tok::Num(n) => out.push_str(n),
            Tok::Punct(p @ ("==" | "!=" | "<=" | ">=" | "<" | ">" | "&&" | "||")) => {
                out.push(' ');
                out.push_str(p);
                out.push(' ');
                i += 1;
                continue;
            }
            Tok::Punct(p @ ("!" | "(" | ")")) => out.push_str(p),
            Tok::Punct(_) => return None,
        }
        i += 1;
    }
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (!out.is_empty()).then_some(out)
}

/// Build the CEL for `stmts` given the variable's current value.
fn build(stmts: &[Stmt], current: Option<Cel>, var: Option<&str>) -> Option<Cel> {
    let (first, rest) = stmts.split_first()?;
    match first {
        Stmt::Assign(lit) => build(rest, Some(Cel::lit(lit)), var),
        Stmt::Return(Value::Lit(lit)) => Some(Cel::lit(lit)),
        Stmt::Return(Value::Var) => current,
        Stmt::If(branches, otherwise) => {
            let conds: Vec<String> = branches
                .iter()
                .map(|(tokens, _)| condition(tokens, var, current.as_ref()))
                .collect::<Option<_>>()?;
            let only_assignments = branches.iter().all(|(_, b)| matches!(b, Body::Assign(_)))
                && otherwise.as_ref().is_none_or(|b| matches!(b, Body::Assign(_)));
            if only_assignments {
                // The chain only sets the variable: fold it into the variable's new value.
                let mut value = match otherwise {
                    Some(Body::Assign(lit)) => Cel::lit(lit),
                    _ => current?,
                };
                for (cond, (_, body)) in conds.iter().zip(branches).rev() {
                    let Body::Assign(lit) = body else { return None };
                    value = Cel::ternary(cond, &Cel::lit(lit), &value);
                }
                return build(rest, Some(value), var);
            }
            // Some branch returns: each branch continues with its own outcome.
            let outcome = |body: Option<&Body>| -> Option<Cel> {
                match body {
                    Some(Body::Return(Value::Lit(lit))) => Some(Cel::lit(lit)),
                    Some(Body::Return(Value::Var)) => current.clone(),
                    Some(Body::Assign(lit)) => build(rest, Some(Cel::lit(lit)), var),
                    None => build(rest, current.clone(), var),
                }
            };
            let mut value = outcome(otherwise.as_ref())?;
            for (cond, (_, body)) in conds.iter().zip(branches).rev() {
                value = Cel::ternary(cond, &outcome(Some(body))?, &value);
            }
            Some(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_ifs_win() {
        let rule = "tier := \"Low\"\nif classificationInputs[\"a\"].(string) == \"Yes\" { tier = \"Medium\" }\n\
                    if classificationInputs[\"b\"].(string) == \"X\" { tier = \"High\" }\nreturn tier";
        assert!(looks_like_go(rule));
        assert_eq!(
            to_cel(rule).unwrap(),
            r#"inputs["b"] == "X" ? "High" : (inputs["a"] == "Yes" ? "Medium" : "Low")"#
        );
    }

    #[test]
    fn multi_line_blocks_else_and_returns() {
        let rule = r#"
            var tier string = "Low"
            if classificationInputs["pii"].(string) == "Yes" && classificationInputs["n"].(float64) > 3 {
                tier = "High"
            } else if classificationInputs["pii"].(string) == "Maybe" {
                tier = "Medium"
            }
            return tier
        "#;
        assert_eq!(
            to_cel(rule).unwrap(),
            r#"inputs["pii"] == "Yes" && inputs["n"] > 3 ? "High" : (inputs["pii"] == "Maybe" ? "Medium" : "Low")"#
        );
        let rule = "if classificationInputs[\"x\"] == \"A\" { return \"High\" }\nreturn \"Low\"";
        assert_eq!(to_cel(rule).unwrap(), r#"inputs["x"] == "A" ? "High" : "Low""#);
    }

    #[test]
    fn anything_else_is_not_simple() {
        assert_eq!(to_cel("score := 0\nscore = score + 1\nreturn score"), None);
        assert_eq!(
            to_cel("if strings.Contains(classificationInputs[\"a\"].(string), \"x\") { return \"H\" }"),
            None
        );
        assert_eq!(
            to_cel("tier := \"Low\"\nfor _, v := range xs { tier = v }\nreturn tier"),
            None
        );
        assert!(!looks_like_go(r#"inputs["a"] == "Yes" ? "High" : "Low""#));
    }
}
