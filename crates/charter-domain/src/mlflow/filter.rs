//! The filter grammar: a lexer and a parser for `clause AND clause …`.

use std::fmt;

/// What a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// A run's (or experiment's, model's) own field: `status`, `name`, `start_time`.
    Attribute,
    /// The latest value of a metric.
    Metric,
    Param,
    Tag,
    /// A dataset input of a run (`name`, `digest`, `context`).
    Dataset,
}

impl Entity {
    /// The entity a prefix names (`metrics`, `param`, `attr`, …).
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        Some(match prefix.to_ascii_lowercase().as_str() {
            "metric" | "metrics" => Self::Metric,
            "param" | "params" | "parameter" | "parameters" => Self::Param,
            "tag" | "tags" => Self::Tag,
            "attribute" | "attributes" | "attr" | "run" => Self::Attribute,
            "dataset" | "datasets" => Self::Dataset,
            _ => return None,
        })
    }

    /// The prefix written back.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Attribute => "attributes",
            Self::Metric => "metrics",
            Self::Param => "params",
            Self::Tag => "tags",
            Self::Dataset => "datasets",
        }
    }

    pub(crate) fn plural(self) -> &'static str {
        match self {
            Self::Attribute => "attributes",
            Self::Metric => "metrics",
            Self::Param => "params",
            Self::Tag => "tags",
            Self::Dataset => "datasets",
        }
    }
}

/// `[entity.]key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub entity: Entity,
    pub key: String,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bare = !self.key.is_empty() && self.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if bare {
            write!(f, "{}.{}", self.entity.prefix(), self.key)
        } else {
            write!(f, "{}.`{}`", self.entity.prefix(), self.key)
        }
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparator {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    ILike,
    In,
    NotIn,
    IsNull,
    IsNotNull,
}

impl Comparator {
    pub(crate) const NUMERIC: [Self; 6] = [Self::Eq, Self::Ne, Self::Gt, Self::Ge, Self::Lt, Self::Le];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Like => "LIKE",
            Self::ILike => "ILIKE",
            Self::In => "IN",
            Self::NotIn => "NOT IN",
            Self::IsNull => "IS NULL",
            Self::IsNotNull => "IS NOT NULL",
        }
    }

    /// Whether it compares numbers (`= != > >= < <=`).
    pub fn is_numeric(self) -> bool {
        Self::NUMERIC.contains(&self)
    }
}

/// The right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(f64),
    List(Vec<String>),
    /// For `IS [NOT] NULL`.
    None,
}

/// One `identifier comparator value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub key: Key,
    pub op: Comparator,
    pub value: Value,
    /// Where the clause starts in the filter text (a character offset).
    pub at: usize,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl fmt::Display for Clause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Value::None => write!(f, "{} {}", self.key, self.op.as_str()),
            Value::Text(t) => write!(f, "{} {} {}", self.key, self.op.as_str(), quote(t)),
            Value::Number(n) => write!(f, "{} {} {n:?}", self.key, self.op.as_str()),
            Value::List(items) => write!(
                f,
                "{} {} ({})",
                self.key,
                self.op.as_str(),
                items.iter().map(|i| quote(i)).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// A filter that cannot be read, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at character {at}: {message}")]
pub struct FilterError {
    /// Character offset in the filter text.
    pub at: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A bare word (letters, digits, `_`, `.`); keywords are words too.
    Word(String),
    /// `` `x` `` or `"x"`: a quoted name (or, for `"…"` in value position, a string).
    Backtick(String),
    DoubleQuoted(String),
    SingleQuoted(String),
    Number(f64),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

struct Lexed {
    tok: Tok,
    at: usize,
    /// Whether whitespace came right before it (a quoted key must follow `entity.` directly).
    spaced: bool,
}

fn lex(text: &str) -> Result<Vec<Lexed>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut spaced = true;
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        if c.is_whitespace() {
            i += 1;
            spaced = true;
            continue;
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::Open
            }
            ')' => {
                i += 1;
                Tok::Close
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' => {
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
                Tok::Op("=")
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Tok::Op("!=")
            }
            '<' => match chars.get(i + 1) {
                Some('=') => {
                    i += 2;
                    Tok::Op("<=")
                }
                Some('>') => {
                    i += 2;
                    Tok::Op("!=")
                }
                _ => {
                    i += 1;
                    Tok::Op("<")
                }
            },
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    i += 2;
                    Tok::Op(">=")
                } else {
                    i += 1;
                    Tok::Op(">")
                }
            }
            '\'' | '"' | '`' => {
                let (s, next) = quoted(&chars, i)?;
                i = next;
                match c {
                    '\'' => Tok::SingleQuoted(s),
                    '"' => Tok::DoubleQuoted(s),
                    _ => Tok::Backtick(s),
                }
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+' || c == '.')
                    && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit() || *d == '.')) =>
            {
                let start = i;
                i += 1;
                while i < chars.len() {
                    let d = chars[i];
                    let exp_sign = (d == '-' || d == '+') && matches!(chars[i - 1], 'e' | 'E');
                    if d.is_ascii_digit() || d == '.' || d == 'e' || d == 'E' || exp_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                let s: String = chars[start..i].iter().collect();
                let n: f64 = s.parse().map_err(|_| FilterError {
                    at: start,
                    message: format!("`{s}` is not a number"),
                })?;
                Tok::Number(n)
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.') {
                    i += 1;
                }
                Tok::Word(chars[start..i].iter().collect())
            }
            other => {
                return Err(FilterError {
                    at,
                    message: format!("unexpected character `{other}`"),
                });
            }
        };
        out.push(Lexed { tok, at, spaced });
        spaced = false;
    }
    Ok(out)
}

/// A quoted run starting at `chars[i]`; a doubled quote character stands for itself.
fn quoted(chars: &[char], i: usize) -> Result<(String, usize), FilterError> {
    let q = chars[i];
    let mut s = String::new();
    let mut j = i + 1;
    loop {
        match chars.get(j) {
            None => {
                return Err(FilterError {
                    at: i,
                    message: format!("the quote {q} opened here is never closed"),
                });
            }
            Some(&c) if c == q => {
                if chars.get(j + 1) == Some(&q) {
                    s.push(q);
                    j += 2;
                } else {
                    return Ok((s, j + 1));
                }
            }
            Some('\\') if chars.get(j + 1) == Some(&q) => {
                s.push(q);
                j += 2;
            }
            Some(&c) => {
                s.push(c);
                j += 1;
            }
        }
    }
}

struct Parser {
    toks: Vec<Lexed>,
    pos: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Lexed> {
        self.toks.get(self.pos)
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.end, |t| t.at)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, FilterError> {
        Err(FilterError {
            at: self.here(),
            message: message.into(),
        })
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Lexed { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(word))
    }

    fn identifier(&mut self) -> Result<Key, FilterError> {
        let Some(first) = self.toks.get(self.pos) else {
            return self.err("expected a key such as `metrics.loss`, `params.alpha` or `status`");
        };
        match &first.tok {
            Tok::Backtick(k) | Tok::DoubleQuoted(k) => {
                let key = k.clone();
                self.pos += 1;
                Ok(Key {
                    entity: Entity::Attribute,
                    key,
                })
            }
            Tok::Word(w) => {
                let w = w.clone();
                let at = first.at;
                self.pos += 1;
                if let Some(prefix) = w.strip_suffix('.') {
                    // `entity.` followed directly by a quoted key.
                    let Some(entity) = Entity::from_prefix(prefix) else {
                        return Err(FilterError {
                            at,
                            message: format!(
                                "`{prefix}` is not an entity; use metrics, params, tags, attributes or datasets"
                            ),
                        });
                    };
                    match self.toks.get(self.pos) {
                        Some(Lexed {
                            tok: Tok::Backtick(k) | Tok::DoubleQuoted(k),
                            spaced: false,
                            ..
                        }) => {
                            let key = k.clone();
                            self.pos += 1;
                            Ok(Key { entity, key })
                        }
                        _ => self.err(format!("a quoted key must follow `{w}` directly, e.g. {w}`my key`")),
                    }
                } else if let Some((prefix, key)) = w.split_once('.')
                    && let Some(entity) = Entity::from_prefix(prefix)
                {
                    if key.is_empty() {
                        return Err(FilterError {
                            at,
                            message: format!("`{w}` names no key"),
                        });
                    }
                    Ok(Key {
                        entity,
                        key: key.to_owned(),
                    })
                } else if w.contains('.') {
                    Err(FilterError {
                        at,
                        message: format!(
                            "`{w}` has an unknown entity; use metrics., params., tags., attributes. or datasets. (quote keys with dots: tags.`a.b`)"
                        ),
                    })
                } else {
                    Ok(Key {
                        entity: Entity::Attribute,
                        key: w,
                    })
                }
            }
            _ => self.err("expected a key such as `metrics.loss`, `params.alpha` or `status`"),
        }
    }

    fn comparator(&mut self) -> Result<Comparator, FilterError> {
        let Some(t) = self.peek() else {
            return self.err("expected a comparison (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, IS NULL)");
        };
        let op = match &t.tok {
            Tok::Op(o) => match *o {
                "=" => Comparator::Eq,
                "!=" => Comparator::Ne,
                ">" => Comparator::Gt,
                ">=" => Comparator::Ge,
                "<" => Comparator::Lt,
                _ => Comparator::Le,
            },
            Tok::Word(w) => match w.to_ascii_uppercase().as_str() {
                "LIKE" => Comparator::Like,
                "ILIKE" => Comparator::ILike,
                "IN" => Comparator::In,
                "NOT" => {
                    self.pos += 1;
                    if self.keyword("IN") {
                        self.pos += 1;
                        return Ok(Comparator::NotIn);
                    }
                    return self.err("expected IN after NOT");
                }
                "IS" => {
                    self.pos += 1;
                    let not = self.keyword("NOT");
                    if not {
                        self.pos += 1;
                    }
                    if !self.keyword("NULL") {
                        return self.err("expected NULL after IS");
                    }
                    self.pos += 1;
                    return Ok(if not { Comparator::IsNotNull } else { Comparator::IsNull });
                }
                _ => {
                    return self.err(format!(
                        "`{w}` is not a comparison; use =, !=, >, >=, <, <=, LIKE, ILIKE, IN"
                    ));
                }
            },
            _ => return self.err("expected a comparison (=, !=, >, >=, <, <=, LIKE, ILIKE, IN, IS NULL)"),
        };
        self.pos += 1;
        Ok(op)
    }

    fn value(&mut self, op: Comparator) -> Result<Value, FilterError> {
        if matches!(op, Comparator::IsNull | Comparator::IsNotNull) {
            return Ok(Value::None);
        }
        let Some(t) = self.peek() else {
            return self.err("expected a value: a quoted string, a number or a list ('a', 'b')");
        };
        let v = match &t.tok {
            Tok::SingleQuoted(s) | Tok::DoubleQuoted(s) => Value::Text(s.clone()),
            Tok::Number(n) => Value::Number(*n),
            Tok::Open => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    match self.peek().map(|t| &t.tok) {
                        Some(Tok::SingleQuoted(s) | Tok::DoubleQuoted(s)) => items.push(s.clone()),
                        _ => return self.err("a list holds quoted strings: ('a', 'b')"),
                    }
                    self.pos += 1;
                    match self.peek().map(|t| &t.tok) {
                        Some(Tok::Comma) => self.pos += 1,
                        Some(Tok::Close) => break,
                        _ => return self.err("expected `,` or `)` in the list"),
                    }
                }
                Value::List(items)
            }
            Tok::Word(w) => {
                return self.err(format!("`{w}` is not a value; quote strings: '{w}'"));
            }
            _ => return self.err("expected a value: a quoted string, a number or a list ('a', 'b')"),
        };
        self.pos += 1;
        Ok(v)
    }
}

/// Parse a filter into its clauses (empty text: no clauses). Which keys and
/// comparators an endpoint allows is checked by [`super::SearchTarget::check`].
pub fn parse_filter(text: &str) -> Result<Vec<Clause>, FilterError> {
    let toks = lex(text)?;
    let end = text.chars().count();
    let mut p = Parser { toks, pos: 0, end };
    let mut clauses = Vec::new();
    if p.peek().is_none() {
        return Ok(clauses);
    }
    loop {
        let at = p.here();
        let key = p.identifier()?;
        let op = p.comparator()?;
        let value = p.value(op)?;
        clauses.push(Clause { key, op, value, at });
        if p.peek().is_none() {
            break;
        }
        if p.keyword("AND") {
            p.pos += 1;
            if p.peek().is_none() {
                return p.err("the filter ends after AND; add a clause or remove AND");
            }
            continue;
        }
        if p.keyword("OR") {
            return p.err("OR is not supported; search filters join clauses with AND only");
        }
        return p.err("expected AND between clauses");
    }
    Ok(clauses)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn clauses_are_read_with_their_parts() {
        let c =
            parse_filter("metrics.loss < 1e-3 AND params.\"model.type\" = \"xgb\" and tags.`a b` IS NOT NULL").unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[0].key,
            Key {
                entity: Entity::Metric,
                key: "loss".into()
            }
        );
        assert_eq!(c[0].op, Comparator::Lt);
        assert_eq!(c[0].value, Value::Number(0.001));
        assert_eq!(c[1].key.key, "model.type");
        assert_eq!(c[1].value, Value::Text("xgb".into()));
        assert_eq!(c[2].op, Comparator::IsNotNull);
        let c = parse_filter("run_id NOT IN ('a', 'b''c')").unwrap();
        assert_eq!(c[0].value, Value::List(vec!["a".into(), "b'c".into()]));
        assert_eq!(c[0].op, Comparator::NotIn);
        assert_eq!(parse_filter("metrics.x >= -2").unwrap()[0].value, Value::Number(-2.0));
    }

    #[test]
    fn errors_say_where() {
        let e = parse_filter("metrics.a > 1 OR metrics.b > 2").unwrap_err();
        assert_eq!(e.at, 14);
        assert!(e.message.contains("OR"));
        let e = parse_filter("params.a = 'x").unwrap_err();
        assert_eq!(e.at, 11);
        let e = parse_filter("params.a = x").unwrap_err();
        assert!(e.message.contains("quote"), "{e}");
        let e = parse_filter("foo.bar = 'x'").unwrap_err();
        assert!(e.message.contains("unknown entity"), "{e}");
        assert!(parse_filter("metrics.a > 1 AND").is_err());
        assert!(parse_filter("metrics.a >").is_err());
        assert!(parse_filter("metrics. `a` > 1").is_err());
    }

    fn key_strategy() -> impl Strategy<Value = Key> {
        let entity = prop_oneof![
            Just(Entity::Metric),
            Just(Entity::Param),
            Just(Entity::Tag),
            Just(Entity::Attribute),
            Just(Entity::Dataset)
        ];
        (entity, "[a-zA-Z_][a-zA-Z0-9_. :/-]{0,12}").prop_map(|(entity, key)| Key { entity, key })
    }

    fn clause_strategy() -> impl Strategy<Value = Clause> {
        let text = "[a-zA-Z0-9 %_'\".-]{0,10}";
        let op_value = prop_oneof![
            (
                prop_oneof![
                    Just(Comparator::Eq),
                    Just(Comparator::Ne),
                    Just(Comparator::Gt),
                    Just(Comparator::Le)
                ],
                -1e6f64..1e6
            )
                .prop_map(|(op, n)| (op, Value::Number(n))),
            (
                prop_oneof![Just(Comparator::Eq), Just(Comparator::Like), Just(Comparator::ILike)],
                text
            )
                .prop_map(|(op, s)| (op, Value::Text(s))),
            (
                prop_oneof![Just(Comparator::In), Just(Comparator::NotIn)],
                proptest::collection::vec(text, 1..4)
            )
                .prop_map(|(op, l)| (op, Value::List(l))),
            prop_oneof![Just(Comparator::IsNull), Just(Comparator::IsNotNull)].prop_map(|op| (op, Value::None)),
        ];
        (key_strategy(), op_value).prop_map(|(key, (op, value))| Clause { key, op, value, at: 0 })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any text either parses or fails with an offset inside it; it never panics.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,60}") {
            if let Err(e) = parse_filter(&text) {
                prop_assert!(e.at <= text.chars().count());
            }
        }

        /// Text made of the grammar's own tokens, in any order, never panics either.
        #[test]
        fn token_soup_never_panics(parts in proptest::collection::vec(prop_oneof![
            Just("metrics.a"), Just("params.`x y`"), Just("AND"), Just("and"), Just("="), Just("!="),
            Just("<="), Just("LIKE"), Just("IS"), Just("NOT"), Just("NULL"), Just("IN"), Just("("),
            Just(")"), Just(","), Just("'v'"), Just("\"v\""), Just("1.5"), Just("-2"), Just("tags."),
            Just("`k`"), Just("OR"),
        ], 0..12)) {
            let text = parts.join(" ");
            let _ = parse_filter(&text);
        }

        /// Clauses written out and read back are the same clauses.
        #[test]
        fn clauses_round_trip(clauses in proptest::collection::vec(clause_strategy(), 1..5)) {
            let text = clauses.iter().map(ToString::to_string).collect::<Vec<_>>().join(" AND ");
            let parsed = parse_filter(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(parsed.len(), clauses.len());
            for (a, b) in parsed.iter().zip(&clauses) {
                prop_assert_eq!(&a.key, &b.key, "{}", text);
                prop_assert_eq!(a.op, b.op);
                prop_assert_eq!(&a.value, &b.value);
            }
        }
    }
}
