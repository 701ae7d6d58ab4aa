//! Storage of the MLflow-compatible tracking server and registry: experiments, runs
//! (params, tags, metric points and the latest value per key, dataset and model
//! inputs/outputs), logged models, registered models, versions and aliases.
//!
//! Governed changes (experiments, run creation and status, registry, aliases) go
//! through a [`WriteTx`](crate::WriteTx) with their audit event. Metric points,
//! params and tags are high-volume run data: they go through the [`RunWriter`], which
//! commits many requests' writes in one transaction (group commit) without an audit
//! event per point.

pub mod experiment;
pub mod logged_model;
pub mod registry;
pub mod run;
mod search;
mod writer;

use sqlx::any::AnyArguments;
use sqlx::query::Query;

pub use search::RunSearch;
pub use writer::{RunWrite, RunWriter, WriterOptions};

/// `active` or `deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Active,
    Deleted,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }

    pub fn parse(text: &str) -> Self {
        if text == "deleted" { Self::Deleted } else { Self::Active }
    }
}

/// Which lifecycle stages a search includes (`run_view_type`, `view_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    /// Parse `ACTIVE_ONLY`, `DELETED_ONLY`, `ALL` (or 1, 2, 3).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "" | "ACTIVE_ONLY" | "1" => Some(Self::ActiveOnly),
            "DELETED_ONLY" | "2" => Some(Self::DeletedOnly),
            "ALL" | "3" => Some(Self::All),
            _ => None,
        }
    }

    pub fn includes(self, stage: Lifecycle) -> bool {
        match self {
            Self::ActiveOnly => stage == Lifecycle::Active,
            Self::DeletedOnly => stage == Lifecycle::Deleted,
            Self::All => true,
        }
    }

    pub(crate) fn sql(self, column: &str) -> String {
        match self {
            Self::ActiveOnly => format!("{column} = 'active'"),
            Self::DeletedOnly => format!("{column} = 'deleted'"),
            Self::All => "1 = 1".to_owned(),
        }
    }
}

/// A key and a value (params, tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// One metric point.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    /// NaN and ±∞ are kept as such.
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    pub model_id: Option<String>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

impl Metric {
    /// Order points as MLflow picks the latest: by step, then timestamp, then value.
    pub(crate) fn later_than(&self, other: &Metric) -> bool {
        let v = |m: &Metric| if m.value.is_nan() { 0.0 } else { m.value };
        (self.step, self.timestamp) > (other.step, other.timestamp)
            || ((self.step, self.timestamp) == (other.step, other.timestamp) && v(self) > v(other))
    }
}

/// A value bound into a dynamically built statement.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
    Float(f64),
}

/// Builds SQL with `$N` placeholders and keeps their values.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
}

impl Sql {
    /// Add a value; returns its placeholder.
    pub fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    pub fn text(&mut self, s: impl Into<String>) -> String {
        self.bind(Bind::Text(s.into()))
    }

    pub fn query(&self) -> Query<'_, sqlx::Any, AnyArguments> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(self.text.clone()));
        for b in &self.binds {
            q = match b {
                Bind::Text(t) => q.bind(t.clone()),
                Bind::Int(i) => q.bind(*i),
                Bind::Float(f) => q.bind(*f),
            };
        }
        q
    }
}

/// `$a, $b, …` placeholders for a list of texts.
pub(crate) fn in_list(sql: &mut Sql, items: &[String]) -> String {
    items.iter().map(|i| sql.text(i.clone())).collect::<Vec<_>>().join(", ")
}

/// Stored value of a metric: NaN becomes 0 with the `is_nan` flag (SQLite stores a
/// NaN as NULL).
pub(crate) fn stored_value(v: f64) -> (f64, i64) {
    if v.is_nan() { (0.0, 1) } else { (v, 0) }
}

pub(crate) fn loaded_value(v: f64, is_nan: i64) -> f64 {
    if is_nan != 0 { f64::NAN } else { v }
}
