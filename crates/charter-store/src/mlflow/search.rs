//! `runs/search` in SQL: checked filter clauses become `EXISTS` subqueries, sort keys
//! become scalar subqueries with missing values last.

use charter_domain::mlflow::{Clause, Comparator, Entity, OrderBy, Value, like_to_glob};

use sqlx::Row;

use super::{Bind, Sql, ViewType, in_list};
use crate::{Backend, Store, StoreError};

/// A run search, already checked (see `charter_domain::mlflow`).
#[derive(Debug, Clone, Default)]
pub struct RunSearch {
    pub experiment_ids: Vec<i64>,
    pub clauses: Vec<Clause>,
    pub order_by: Vec<OrderBy>,
    pub view: ViewType,
    pub offset: i64,
    pub limit: i64,
}

/// A string comparison on `column` (case-sensitive `LIKE` as MLflow has it).
fn text_cmp(sql: &mut Sql, backend: Backend, column: &str, op: Comparator, value: &Value) -> String {
    match (op, value) {
        (Comparator::Eq, Value::Text(t)) => format!("{column} = {}", sql.text(t.clone())),
        (Comparator::Ne, Value::Text(t)) => format!("{column} <> {}", sql.text(t.clone())),
        (Comparator::Like, Value::Text(t)) => match backend {
            Backend::Sqlite => format!("{column} GLOB {}", sql.text(like_to_glob(t))),
            Backend::Postgres => format!("{column} LIKE {}", sql.text(t.clone())),
        },
        (Comparator::ILike, Value::Text(t)) => match backend {
            Backend::Sqlite => format!("LOWER({column}) LIKE LOWER({})", sql.text(t.clone())),
            Backend::Postgres => format!("{column} ILIKE {}", sql.text(t.clone())),
        },
        (Comparator::In, Value::List(items)) => format!("{column} IN ({})", in_list(sql, items)),
        (Comparator::NotIn, Value::List(items)) => format!("{column} NOT IN ({})", in_list(sql, items)),
        // Checked clauses never get here; match nothing rather than everything.
        _ => "1 = 0".to_owned(),
    }
}

fn num_op(op: Comparator) -> &'static str {
    match op {
        Comparator::Eq => "=",
        Comparator::Ne => "<>",
        Comparator::Gt => ">",
        Comparator::Ge => ">=",
        Comparator::Lt => "<",
        _ => "<=",
    }
}

fn clause_sql(sql: &mut Sql, backend: Backend, c: &Clause) -> String {
    let key = c.key.key.clone();
    match c.key.entity {
        Entity::Metric => {
            let Value::Number(n) = c.value else {
                return "1 = 0".into();
            };
            let k = sql.text(key);
            let v = sql.bind(Bind::Float(n));
            format!(
                "EXISTS (SELECT 1 FROM mlflow_latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = {k} AND m.is_nan = 0 AND m.value {} {v})",
                num_op(c.op)
            )
        }
        Entity::Param | Entity::Tag => {
            let table = if c.key.entity == Entity::Param {
                "mlflow_params"
            } else {
                "mlflow_tags"
            };
            let k = sql.text(key);
            match c.op {
                Comparator::IsNull => {
                    format!("NOT EXISTS (SELECT 1 FROM {table} p WHERE p.run_uuid = r.run_uuid AND p.key = {k})")
                }
                Comparator::IsNotNull => {
                    format!("EXISTS (SELECT 1 FROM {table} p WHERE p.run_uuid = r.run_uuid AND p.key = {k})")
                }
                op => {
                    let cmp = text_cmp(sql, backend, "p.value", op, &c.value);
                    format!("EXISTS (SELECT 1 FROM {table} p WHERE p.run_uuid = r.run_uuid AND p.key = {k} AND {cmp})")
                }
            }
        }
        Entity::Dataset => {
            let column = match key.as_str() {
                "name" => "d.name",
                "digest" => "d.digest",
                _ => "i.context",
            };
            let cmp = text_cmp(sql, backend, column, c.op, &c.value);
            format!(
                "EXISTS (SELECT 1 FROM mlflow_run_inputs i JOIN mlflow_datasets d ON d.dataset_uuid = i.dataset_uuid \
                 WHERE i.run_uuid = r.run_uuid AND {cmp})"
            )
        }
        Entity::Attribute => {
            let column = match key.as_str() {
                "run_id" => "r.run_uuid",
                "run_name" => "r.name",
                "status" => "r.status",
                "user_id" => "r.user_id",
                "artifact_uri" => "r.artifact_uri",
                "start_time" => "r.start_time",
                "end_time" => "r.end_time",
                _ => return "1 = 0".into(),
            };
            match &c.value {
                Value::Number(n) => {
                    let v = sql.bind(Bind::Int(*n as i64));
                    format!("{column} {} {v}", num_op(c.op))
                }
                value => text_cmp(sql, backend, column, c.op, value),
            }
        }
    }
}

/// The expression a sort key orders by.
fn order_expr(sql: &mut Sql, o: &OrderBy) -> String {
    let key = o.key.key.clone();
    match o.key.entity {
        Entity::Metric => {
            let k = sql.text(key);
            format!(
                "(SELECT CASE WHEN m.is_nan = 1 THEN NULL ELSE m.value END FROM mlflow_latest_metrics m WHERE m.run_uuid = r.run_uuid AND m.key = {k})"
            )
        }
        Entity::Param => {
            let k = sql.text(key);
            format!("(SELECT p.value FROM mlflow_params p WHERE p.run_uuid = r.run_uuid AND p.key = {k})")
        }
        Entity::Tag => {
            let k = sql.text(key);
            format!("(SELECT t.value FROM mlflow_tags t WHERE t.run_uuid = r.run_uuid AND t.key = {k})")
        }
        _ => match key.as_str() {
            "run_id" => "r.run_uuid",
            "run_name" => "r.name",
            "status" => "r.status",
            "user_id" => "r.user_id",
            "artifact_uri" => "r.artifact_uri",
            "end_time" => "r.end_time",
            _ => "r.start_time",
        }
        .to_owned(),
    }
}

impl Store {
    /// The ids of the runs a search finds, in order: at most `limit`, from `offset`.
    pub async fn mlflow_search_runs(&self, s: &RunSearch) -> Result<Vec<String>, StoreError> {
        if s.experiment_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::default();
        let ids = s
            .experiment_ids
            .iter()
            .map(|id| sql.bind(Bind::Int(*id)))
            .collect::<Vec<_>>()
            .join(", ");
        let mut wheres = vec![format!("r.experiment_id IN ({ids})"), s.view.sql("r.lifecycle_stage")];
        for c in &s.clauses {
            wheres.push(clause_sql(&mut sql, self.backend, c));
        }
        let mut orders = Vec::new();
        let mut by_start = false;
        let mut by_id = false;
        for o in &s.order_by {
            let expr = order_expr(&mut sql, o);
            by_start |= expr == "r.start_time";
            by_id |= expr == "r.run_uuid";
            let dir = if o.ascending { "ASC" } else { "DESC" };
            // Missing values sort last whichever the direction.
            orders.push(format!("CASE WHEN {expr} IS NULL THEN 1 ELSE 0 END, {expr} {dir}"));
        }
        if !by_start {
            orders.push("r.start_time DESC".into());
        }
        if !by_id {
            orders.push("r.run_uuid ASC".into());
        }
        let limit = sql.bind(Bind::Int(s.limit));
        let offset = sql.bind(Bind::Int(s.offset));
        sql.text = format!(
            "SELECT r.run_uuid FROM mlflow_runs r WHERE {} ORDER BY {} LIMIT {limit} OFFSET {offset}",
            wheres.join(" AND "),
            orders.join(", ")
        );
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
            .collect()
    }
}
