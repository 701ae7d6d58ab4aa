//! Runs: their info, data (latest metrics, params, tags), inputs and outputs, and
//! metric history.

use std::collections::HashMap;

use charter_domain::time::now_ms;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{KeyValue, Lifecycle, Metric, Sql, in_list, loaded_value};
use crate::{AuditContext, Store, StoreError, WriteTx};

/// A run's own fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    pub run_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub user_id: String,
    /// `RUNNING`, `SCHEDULED`, `FINISHED`, `FAILED`, `KILLED`.
    pub status: String,
    pub start_time: i64,
    pub end_time: Option<i64>,
    pub lifecycle: Lifecycle,
    pub artifact_uri: String,
}

/// A dataset a run read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInput {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
    pub tags: Vec<KeyValue>,
}

/// A run with everything it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub info: RunInfo,
    /// The latest point per key.
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    pub dataset_inputs: Vec<DatasetInput>,
    pub model_inputs: Vec<String>,
    /// `(model_id, step)`.
    pub model_outputs: Vec<(String, i64)>,
}

const COLUMNS: &str =
    "run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri";

fn info_from_row(row: &AnyRow) -> Result<RunInfo, StoreError> {
    let stage: String = row.try_get(7)?;
    Ok(RunInfo {
        run_id: row.try_get(0)?,
        experiment_id: row.try_get(1)?,
        name: row.try_get(2)?,
        user_id: row.try_get(3)?,
        status: row.try_get(4)?,
        start_time: row.try_get(5)?,
        end_time: row.try_get(6)?,
        lifecycle: Lifecycle::parse(&stage),
        artifact_uri: row.try_get(8)?,
    })
}

/// What a new run starts with.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub user_id: String,
    pub start_time: i64,
    pub tags: Vec<KeyValue>,
    pub artifact_uri: String,
    /// The Charter user who created it.
    pub created_by: String,
}

impl Store {
    /// A run's info alone (cheap: used for access checks on every write).
    pub async fn mlflow_run_info(&self, run_id: &str) -> Result<RunInfo, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mlflow_runs WHERE run_uuid = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("Run with id={run_id}")))?;
        info_from_row(&row)
    }

    /// One run with its data.
    pub async fn mlflow_run(&self, run_id: &str) -> Result<Run, StoreError> {
        let info = self.mlflow_run_info(run_id).await?;
        let mut runs = self.mlflow_runs_with_data(vec![info]).await?;
        Ok(runs.remove(0))
    }

    /// Runs by id, in the order given (missing ones left out).
    pub async fn mlflow_runs(&self, ids: &[String]) -> Result<Vec<Run>, StoreError> {
        let mut infos = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut sql = Sql::default();
            let list = in_list(&mut sql, chunk);
            sql.text = format!("SELECT {COLUMNS} FROM mlflow_runs WHERE run_uuid IN ({list})");
            let rows = sql.query().fetch_all(&self.pool).await?;
            for r in &rows {
                infos.push(info_from_row(r)?);
            }
        }
        let order: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
        infos.sort_by_key(|i| order.get(i.run_id.as_str()).copied().unwrap_or(usize::MAX));
        self.mlflow_runs_with_data(infos).await
    }

    /// Every run of some experiments (for the UI's compare views), newest first.
    pub async fn mlflow_run_infos(&self, experiment_id: i64, limit: i64) -> Result<Vec<RunInfo>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM mlflow_runs WHERE experiment_id = $1 AND lifecycle_stage = 'active' ORDER BY start_time DESC LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(experiment_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(info_from_row).collect()
    }

    async fn mlflow_runs_with_data(&self, infos: Vec<RunInfo>) -> Result<Vec<Run>, StoreError> {
        let mut runs: Vec<Run> = infos
            .into_iter()
            .map(|info| Run {
                info,
                metrics: Vec::new(),
                params: Vec::new(),
                tags: Vec::new(),
                dataset_inputs: Vec::new(),
                model_inputs: Vec::new(),
                model_outputs: Vec::new(),
            })
            .collect();
        let index: HashMap<String, usize> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.info.run_id.clone(), i))
            .collect();
        let ids: Vec<String> = runs.iter().map(|r| r.info.run_id.clone()).collect();
        for chunk in ids.chunks(500) {
            let mut sql = Sql::default();
            let list = in_list(&mut sql, chunk);
            for (table, is_param) in [("mlflow_params", true), ("mlflow_tags", false)] {
                sql.text = format!("SELECT run_uuid, key, value FROM {table} WHERE run_uuid IN ({list}) ORDER BY key");
                for r in sql.query().fetch_all(&self.pool).await? {
                    let id: String = r.try_get(0)?;
                    if let Some(&i) = index.get(&id) {
                        let kv = KeyValue::new(r.try_get::<String, _>(1)?, r.try_get::<String, _>(2)?);
                        if is_param {
                            runs[i].params.push(kv);
                        } else {
                            runs[i].tags.push(kv);
                        }
                    }
                }
            }
            sql.text = format!(
                "SELECT run_uuid, key, value, is_nan, timestamp, step FROM mlflow_latest_metrics WHERE run_uuid IN ({list}) ORDER BY key"
            );
            for r in sql.query().fetch_all(&self.pool).await? {
                let id: String = r.try_get(0)?;
                if let Some(&i) = index.get(&id) {
                    runs[i].metrics.push(Metric {
                        key: r.try_get(1)?,
                        value: loaded_value(r.try_get(2)?, r.try_get(3)?),
                        timestamp: r.try_get(4)?,
                        step: r.try_get(5)?,
                        model_id: None,
                        dataset_name: None,
                        dataset_digest: None,
                    });
                }
            }
            sql.text = format!(
                "SELECT i.run_uuid, d.name, d.digest, d.source_type, d.source, d.schema, d.profile, i.tags \
                 FROM mlflow_run_inputs i JOIN mlflow_datasets d ON d.dataset_uuid = i.dataset_uuid \
                 WHERE i.run_uuid IN ({list}) ORDER BY d.name"
            );
            for r in sql.query().fetch_all(&self.pool).await? {
                let id: String = r.try_get(0)?;
                if let Some(&i) = index.get(&id) {
                    let tags: String = r.try_get(7)?;
                    let tags: Vec<(String, String)> = serde_json::from_str(&tags).unwrap_or_default();
                    runs[i].dataset_inputs.push(DatasetInput {
                        name: r.try_get(1)?,
                        digest: r.try_get(2)?,
                        source_type: r.try_get(3)?,
                        source: r.try_get(4)?,
                        schema: r.try_get(5)?,
                        profile: r.try_get(6)?,
                        tags: tags.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect(),
                    });
                }
            }
            sql.text = format!(
                "SELECT run_uuid, model_id, direction, step FROM mlflow_run_models WHERE run_uuid IN ({list}) ORDER BY model_id"
            );
            for r in sql.query().fetch_all(&self.pool).await? {
                let id: String = r.try_get(0)?;
                if let Some(&i) = index.get(&id) {
                    let direction: String = r.try_get(2)?;
                    let model: String = r.try_get(1)?;
                    if direction == "input" {
                        runs[i].model_inputs.push(model);
                    } else {
                        runs[i].model_outputs.push((model, r.try_get(3)?));
                    }
                }
            }
        }
        Ok(runs)
    }

    /// A metric's points, ordered by timestamp, step and value; `offset`/`limit` page.
    pub async fn mlflow_metric_history(
        &self,
        run_id: &str,
        key: &str,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<Metric>, StoreError> {
        let rows = sqlx::query(
            "SELECT key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest FROM mlflow_metrics \
             WHERE run_uuid = $1 AND key = $2 ORDER BY timestamp, step, value LIMIT $3 OFFSET $4",
        )
        .bind(run_id)
        .bind(key)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Metric {
                    key: r.try_get(0)?,
                    value: loaded_value(r.try_get(1)?, r.try_get(2)?),
                    timestamp: r.try_get(3)?,
                    step: r.try_get(4)?,
                    model_id: r.try_get(5)?,
                    dataset_name: r.try_get(6)?,
                    dataset_digest: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Every point of `key` for several runs, by step (the UI's charts).
    pub async fn mlflow_metric_series(
        &self,
        run_ids: &[String],
        key: &str,
    ) -> Result<Vec<(String, Metric)>, StoreError> {
        let mut sql = Sql::default();
        let list = in_list(&mut sql, run_ids);
        let k = sql.text(key);
        sql.text = format!(
            "SELECT run_uuid, value, is_nan, timestamp, step FROM mlflow_metrics WHERE run_uuid IN ({list}) AND key = {k} \
             ORDER BY run_uuid, step, timestamp LIMIT 200000"
        );
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get(0)?,
                    Metric {
                        key: key.to_owned(),
                        value: loaded_value(r.try_get(1)?, r.try_get(2)?),
                        timestamp: r.try_get(3)?,
                        step: r.try_get(4)?,
                        model_id: None,
                        dataset_name: None,
                        dataset_digest: None,
                    },
                ))
            })
            .collect()
    }
}

/// Create a run with its tags; audited as `run.created`.
pub async fn create(tx: &mut WriteTx, ctx: &AuditContext, new: &NewRun) -> Result<RunInfo, StoreError> {
    sqlx::query(
        "INSERT INTO mlflow_runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, created_by) \
         VALUES ($1, $2, $3, $4, 'RUNNING', $5, NULL, 'active', $6, $7)",
    )
    .bind(&new.run_id)
    .bind(new.experiment_id)
    .bind(&new.name)
    .bind(&new.user_id)
    .bind(new.start_time)
    .bind(&new.artifact_uri)
    .bind(&new.created_by)
    .execute(tx.conn())
    .await?;
    for t in &new.tags {
        sqlx::query(
            "INSERT INTO mlflow_tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO UPDATE SET value = $3",
        )
        .bind(&new.run_id)
        .bind(&t.key)
        .bind(&t.value)
        .execute(tx.conn())
        .await?;
    }
    tx.audit(ctx.event(
        "run.created",
        "run",
        &new.run_id,
        json!({ "experiment_id": new.experiment_id.to_string(), "run_name": new.name, "user_id": new.user_id }),
    ));
    Ok(RunInfo {
        run_id: new.run_id.clone(),
        experiment_id: new.experiment_id,
        name: new.name.clone(),
        user_id: new.user_id.clone(),
        status: "RUNNING".into(),
        start_time: new.start_time,
        end_time: None,
        lifecycle: Lifecycle::Active,
        artifact_uri: new.artifact_uri.clone(),
    })
}

/// Change a run's status, end time or name; audited as `run.status_changed` when the
/// status changes, else `run.updated`.
pub async fn update(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    before: &RunInfo,
    status: Option<&str>,
    end_time: Option<i64>,
    name: Option<&str>,
) -> Result<RunInfo, StoreError> {
    let mut after = before.clone();
    if let Some(s) = status {
        s.clone_into(&mut after.status);
    }
    if end_time.is_some() {
        after.end_time = end_time;
    }
    if let Some(n) = name {
        n.clone_into(&mut after.name);
    }
    sqlx::query("UPDATE mlflow_runs SET status = $1, end_time = $2, name = $3 WHERE run_uuid = $4")
        .bind(&after.status)
        .bind(after.end_time)
        .bind(&after.name)
        .bind(&after.run_id)
        .execute(tx.conn())
        .await?;
    if name.is_some() {
        sqlx::query(
            "INSERT INTO mlflow_tags (run_uuid, key, value) VALUES ($1, 'mlflow.runName', $2) ON CONFLICT (run_uuid, key) DO UPDATE SET value = $2",
        )
        .bind(&after.run_id)
        .bind(&after.name)
        .execute(tx.conn())
        .await?;
    }
    let action = if after.status != before.status {
        "run.status_changed"
    } else {
        "run.updated"
    };
    tx.audit(ctx.event(
        action,
        "run",
        &before.run_id,
        json!({
            "before": { "status": before.status, "end_time": before.end_time, "run_name": before.name },
            "after": { "status": after.status, "end_time": after.end_time, "run_name": after.name },
        }),
    ));
    Ok(after)
}

/// Delete (soft) or restore a run; audited as `run.deleted` / `run.restored`.
pub async fn set_lifecycle(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    run: &RunInfo,
    to: Lifecycle,
) -> Result<(), StoreError> {
    let deleted_time = (to == Lifecycle::Deleted).then(now_ms);
    sqlx::query("UPDATE mlflow_runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_uuid = $3")
        .bind(to.as_str())
        .bind(deleted_time)
        .bind(&run.run_id)
        .execute(tx.conn())
        .await?;
    let action = match to {
        Lifecycle::Deleted => "run.deleted",
        Lifecycle::Active => "run.restored",
    };
    tx.audit(ctx.event(
        action,
        "run",
        &run.run_id,
        json!({ "experiment_id": run.experiment_id.to_string(), "run_name": run.name }),
    ));
    Ok(())
}

/// Record datasets and models a run read (`log-inputs`). Not audited: run data.
pub async fn log_inputs(
    store: &Store,
    run: &RunInfo,
    datasets: &[DatasetInput],
    models: &[String],
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    for d in datasets {
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT dataset_uuid FROM mlflow_datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
        )
        .bind(run.experiment_id)
        .bind(&d.name)
        .bind(&d.digest)
        .fetch_optional(tx.conn())
        .await?;
        let id = match existing {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::now_v7().simple().to_string();
                sqlx::query(
                    "INSERT INTO mlflow_datasets (dataset_uuid, experiment_id, name, digest, source_type, source, schema, profile) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&id)
                .bind(run.experiment_id)
                .bind(&d.name)
                .bind(&d.digest)
                .bind(&d.source_type)
                .bind(&d.source)
                .bind(&d.schema)
                .bind(&d.profile)
                .execute(tx.conn())
                .await?;
                id
            }
        };
        let tags: Vec<(&str, &str)> = d.tags.iter().map(|t| (t.key.as_str(), t.value.as_str())).collect();
        let context = d
            .tags
            .iter()
            .find(|t| t.key == "mlflow.data.context")
            .map(|t| t.value.clone());
        sqlx::query(
            "INSERT INTO mlflow_run_inputs (run_uuid, dataset_uuid, tags, context) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (run_uuid, dataset_uuid) DO UPDATE SET tags = $3, context = $4",
        )
        .bind(&run.run_id)
        .bind(&id)
        .bind(serde_json::to_string(&tags).unwrap_or_default())
        .bind(context)
        .execute(tx.conn())
        .await?;
    }
    for m in models {
        link_model(&mut tx, &run.run_id, m, "input", 0).await?;
    }
    tx.commit_unaudited("a run's inputs are run data, like its params; the run's creation is audited")
        .await
}

/// Record models a run produced (`runs/outputs`). Not audited: run data.
pub async fn log_outputs(store: &Store, run: &RunInfo, models: &[(String, i64)]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    for (m, step) in models {
        link_model(&mut tx, &run.run_id, m, "output", *step).await?;
    }
    tx.commit_unaudited("a run's outputs are run data; the logged model's creation is audited")
        .await
}

async fn link_model(tx: &mut WriteTx, run: &str, model: &str, direction: &str, step: i64) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mlflow_run_models (run_uuid, model_id, direction, step) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (run_uuid, model_id, direction) DO UPDATE SET step = $4",
    )
    .bind(run)
    .bind(model)
    .bind(direction)
    .bind(step)
    .execute(tx.conn())
    .await?;
    Ok(())
}
