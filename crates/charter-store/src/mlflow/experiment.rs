//! Experiments: named groups of runs, each in a Charter project.

use charter_domain::ProjectId;
use charter_domain::time::now_ms;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{KeyValue, Lifecycle};
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// An experiment with its tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub id: i64,
    pub name: String,
    /// `None`: the configured default project (experiment 0 before anyone claimed it).
    pub project_id: Option<ProjectId>,
    pub artifact_location: String,
    pub lifecycle: Lifecycle,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: Vec<KeyValue>,
}

const COLUMNS: &str =
    "experiment_id, name, project_id, artifact_location, lifecycle_stage, creation_time, last_update_time";

fn from_row(row: &AnyRow) -> Result<Experiment, StoreError> {
    let project: Option<String> = row.try_get(2)?;
    let stage: String = row.try_get(4)?;
    Ok(Experiment {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        project_id: project.map(decode_id).transpose()?,
        artifact_location: row.try_get(3)?,
        lifecycle: Lifecycle::parse(&stage),
        creation_time: row.try_get(5)?,
        last_update_time: row.try_get(6)?,
        tags: Vec::new(),
    })
}

impl Store {
    async fn experiment_where(&self, clause: &str, bind: super::Bind) -> Result<Option<Experiment>, StoreError> {
        let mut sql = super::Sql::default();
        let p = sql.bind(bind);
        sql.text = format!("SELECT {COLUMNS} FROM mlflow_experiments WHERE {clause} = {p}");
        let Some(row) = sql.query().fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let mut e = from_row(&row)?;
        e.tags = self.experiment_tags(e.id).await?;
        Ok(Some(e))
    }

    /// One experiment by id.
    pub async fn mlflow_experiment(&self, id: i64) -> Result<Experiment, StoreError> {
        self.experiment_where("experiment_id", super::Bind::Int(id))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("experiment with id {id}")))
    }

    /// One experiment by name (active or deleted).
    pub async fn mlflow_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, StoreError> {
        self.experiment_where("name", super::Bind::Text(name.to_owned())).await
    }

    async fn experiment_tags(&self, id: i64) -> Result<Vec<KeyValue>, StoreError> {
        let rows = sqlx::query("SELECT key, value FROM mlflow_experiment_tags WHERE experiment_id = $1 ORDER BY key")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(KeyValue::new(r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?)))
            .collect()
    }

    /// Every experiment with its tags, by id.
    pub async fn mlflow_experiments(&self) -> Result<Vec<Experiment>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mlflow_experiments ORDER BY experiment_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        let mut out: Vec<Experiment> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        let tags = sqlx::query("SELECT experiment_id, key, value FROM mlflow_experiment_tags ORDER BY key")
            .fetch_all(&self.pool)
            .await?;
        for t in &tags {
            let id: i64 = t.try_get(0)?;
            if let Some(e) = out.iter_mut().find(|e| e.id == id) {
                e.tags
                    .push(KeyValue::new(t.try_get::<String, _>(1)?, t.try_get::<String, _>(2)?));
            }
        }
        Ok(out)
    }
}

/// Create an experiment; audited as `experiment.created`.
pub async fn create(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    name: &str,
    project: ProjectId,
    tags: &[KeyValue],
) -> Result<Experiment, StoreError> {
    let existing: Option<String> = sqlx::query_scalar("SELECT lifecycle_stage FROM mlflow_experiments WHERE name = $1")
        .bind(name)
        .fetch_optional(tx.conn())
        .await?;
    if let Some(stage) = existing {
        let how = if stage == "deleted" {
            " (in the deleted state: restore it, or choose another name)"
        } else {
            ""
        };
        return Err(StoreError::Conflict(format!("Experiment '{name}' already exists{how}")));
    }
    let id: i64 =
        sqlx::query_scalar("UPDATE mlflow_sequences SET value = value + 1 WHERE name = 'experiment' RETURNING value")
            .fetch_one(tx.conn())
            .await?;
    let now = now_ms();
    let e = Experiment {
        id,
        name: name.to_owned(),
        project_id: Some(project),
        artifact_location: format!("mlflow-artifacts:/{id}"),
        lifecycle: Lifecycle::Active,
        creation_time: now,
        last_update_time: now,
        tags: tags.to_vec(),
    };
    sqlx::query(
        "INSERT INTO mlflow_experiments (experiment_id, name, project_id, artifact_location, lifecycle_stage, creation_time, last_update_time) \
         VALUES ($1, $2, $3, $4, 'active', $5, $5)",
    )
    .bind(id)
    .bind(name)
    .bind(project.to_string())
    .bind(&e.artifact_location)
    .bind(now)
    .execute(tx.conn())
    .await?;
    for t in tags {
        upsert_tag(tx, id, &t.key, &t.value).await?;
    }
    tx.audit(ctx.event(
        "experiment.created",
        "experiment",
        id,
        json!({ "name": name, "project": project.to_string(), "tags": tags.iter().map(|t| (&t.key, &t.value)).collect::<std::collections::BTreeMap<_, _>>() }),
    ));
    Ok(e)
}

/// Give the default experiment (0) its project the first time someone uses it.
pub async fn claim_default(tx: &mut WriteTx, project: ProjectId) -> Result<(), StoreError> {
    sqlx::query("UPDATE mlflow_experiments SET project_id = $1 WHERE experiment_id = 0 AND project_id IS NULL")
        .bind(project.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

async fn upsert_tag(tx: &mut WriteTx, id: i64, key: &str, value: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mlflow_experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
         ON CONFLICT (experiment_id, key) DO UPDATE SET value = $3",
    )
    .bind(id)
    .bind(key)
    .bind(value)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Rename; audited as `experiment.renamed`.
pub async fn rename(tx: &mut WriteTx, ctx: &AuditContext, e: &Experiment, new_name: &str) -> Result<(), StoreError> {
    let taken: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM mlflow_experiments WHERE name = $1 AND experiment_id <> $2")
            .bind(new_name)
            .bind(e.id)
            .fetch_one(tx.conn())
            .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!("Experiment '{new_name}' already exists")));
    }
    sqlx::query("UPDATE mlflow_experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3")
        .bind(new_name)
        .bind(now_ms())
        .bind(e.id)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "experiment.renamed",
        "experiment",
        e.id,
        json!({ "before": e.name, "after": new_name }),
    ));
    Ok(())
}

/// Delete (soft) or restore an experiment and its runs; audited as
/// `experiment.deleted` / `experiment.restored`.
pub async fn set_lifecycle(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    e: &Experiment,
    to: Lifecycle,
) -> Result<(), StoreError> {
    let now = now_ms();
    sqlx::query("UPDATE mlflow_experiments SET lifecycle_stage = $1, last_update_time = $2 WHERE experiment_id = $3")
        .bind(to.as_str())
        .bind(now)
        .bind(e.id)
        .execute(tx.conn())
        .await?;
    let deleted_time = (to == Lifecycle::Deleted).then_some(now);
    let runs = sqlx::query("UPDATE mlflow_runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3")
        .bind(to.as_str())
        .bind(deleted_time)
        .bind(e.id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    let action = match to {
        Lifecycle::Deleted => "experiment.deleted",
        Lifecycle::Active => "experiment.restored",
    };
    tx.audit(ctx.event(action, "experiment", e.id, json!({ "name": e.name, "runs": runs })));
    Ok(())
}

/// Set or delete (`value: None`) a tag; audited as `experiment.tagged` /
/// `experiment.untagged`.
pub async fn set_tag(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    e: &Experiment,
    key: &str,
    value: Option<&str>,
) -> Result<(), StoreError> {
    match value {
        Some(v) => upsert_tag(tx, e.id, key, v).await?,
        None => {
            let n = sqlx::query("DELETE FROM mlflow_experiment_tags WHERE experiment_id = $1 AND key = $2")
                .bind(e.id)
                .bind(key)
                .execute(tx.conn())
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("tag `{key}` on experiment {}", e.id)));
            }
        }
    }
    let action = if value.is_some() {
        "experiment.tagged"
    } else {
        "experiment.untagged"
    };
    tx.audit(ctx.event(action, "experiment", e.id, json!({ "key": key, "value": value })));
    Ok(())
}
