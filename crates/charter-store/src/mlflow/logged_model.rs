//! Logged models (MLflow 3.x): every `log_model` creates one, uploads its files under
//! the model's own artifact location, then finalizes it.

use charter_domain::time::now_ms;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{KeyValue, Lifecycle, Metric, loaded_value};
use crate::{AuditContext, Store, StoreError, WriteTx};

/// A logged model with its params, tags and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub model_type: String,
    pub source_run_id: Option<String>,
    /// `LOGGED_MODEL_PENDING`, `LOGGED_MODEL_READY`, `LOGGED_MODEL_UPLOAD_FAILED`.
    pub status: String,
    pub status_message: String,
    pub artifact_uri: String,
    pub lifecycle: Lifecycle,
    pub creation_time: i64,
    pub last_updated_time: i64,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    /// `(run_id, metric)`.
    pub metrics: Vec<(String, Metric)>,
}

const COLUMNS: &str = "model_id, experiment_id, name, model_type, source_run_id, status, status_message, artifact_uri, \
                       lifecycle_stage, creation_time, last_updated_time";

fn from_row(r: &AnyRow) -> Result<LoggedModel, StoreError> {
    let stage: String = r.try_get(8)?;
    Ok(LoggedModel {
        model_id: r.try_get(0)?,
        experiment_id: r.try_get(1)?,
        name: r.try_get(2)?,
        model_type: r.try_get(3)?,
        source_run_id: r.try_get(4)?,
        status: r.try_get(5)?,
        status_message: r.try_get(6)?,
        artifact_uri: r.try_get(7)?,
        lifecycle: Lifecycle::parse(&stage),
        creation_time: r.try_get(9)?,
        last_updated_time: r.try_get(10)?,
        params: Vec::new(),
        tags: Vec::new(),
        metrics: Vec::new(),
    })
}

impl Store {
    /// One logged model with its params, tags and metrics.
    pub async fn mlflow_logged_model(&self, model_id: &str) -> Result<LoggedModel, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM mlflow_logged_models WHERE model_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(model_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("Logged model with ID '{model_id}'")))?;
        let mut m = from_row(&row)?;
        self.fill_logged_model(&mut m).await?;
        Ok(m)
    }

    async fn fill_logged_model(&self, m: &mut LoggedModel) -> Result<(), StoreError> {
        for (table, params) in [
            ("mlflow_logged_model_params", true),
            ("mlflow_logged_model_tags", false),
        ] {
            let sql = format!("SELECT key, value FROM {table} WHERE model_id = $1 ORDER BY key");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&m.model_id)
                .fetch_all(&self.pool)
                .await?;
            for r in rows {
                let kv = KeyValue::new(r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?);
                if params {
                    m.params.push(kv);
                } else {
                    m.tags.push(kv);
                }
            }
        }
        let rows = sqlx::query(
            "SELECT key, value, is_nan, timestamp, step, run_uuid, dataset_name, dataset_digest \
             FROM mlflow_logged_model_metrics WHERE model_id = $1 ORDER BY key, step, timestamp",
        )
        .bind(&m.model_id)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            m.metrics.push((
                r.try_get(5)?,
                Metric {
                    key: r.try_get(0)?,
                    value: loaded_value(r.try_get(1)?, r.try_get(2)?),
                    timestamp: r.try_get(3)?,
                    step: r.try_get(4)?,
                    model_id: Some(m.model_id.clone()),
                    dataset_name: r.try_get(6)?,
                    dataset_digest: r.try_get(7)?,
                },
            ));
        }
        Ok(())
    }

    /// The active logged models of some experiments (searches filter them further).
    pub async fn mlflow_logged_models(&self, experiment_ids: &[i64]) -> Result<Vec<LoggedModel>, StoreError> {
        let mut out = Vec::new();
        for id in experiment_ids {
            let sql = format!(
                "SELECT {COLUMNS} FROM mlflow_logged_models WHERE experiment_id = $1 AND lifecycle_stage = 'active' ORDER BY creation_time DESC"
            );
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(*id)
                .fetch_all(&self.pool)
                .await?;
            for r in rows {
                let mut m = from_row(&r)?;
                self.fill_logged_model(&mut m).await?;
                out.push(m);
            }
        }
        Ok(out)
    }
}

/// What a new logged model starts with.
#[derive(Debug, Clone)]
pub struct NewLoggedModel {
    pub experiment_id: i64,
    pub name: String,
    pub model_type: String,
    pub source_run_id: Option<String>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    pub created_by: String,
}

/// Create a logged model (status pending); audited as `logged_model.created`.
pub async fn create(tx: &mut WriteTx, ctx: &AuditContext, new: &NewLoggedModel) -> Result<String, StoreError> {
    let model_id = format!("m-{}", uuid::Uuid::now_v7().simple());
    let now = now_ms();
    let artifact_uri = format!("mlflow-artifacts:/{}/models/{model_id}/artifacts", new.experiment_id);
    sqlx::query(
        "INSERT INTO mlflow_logged_models (model_id, experiment_id, name, model_type, source_run_id, status, status_message, \
         artifact_uri, lifecycle_stage, creation_time, last_updated_time, created_by) \
         VALUES ($1, $2, $3, $4, $5, 'LOGGED_MODEL_PENDING', '', $6, 'active', $7, $7, $8)",
    )
    .bind(&model_id)
    .bind(new.experiment_id)
    .bind(&new.name)
    .bind(&new.model_type)
    .bind(new.source_run_id.clone())
    .bind(&artifact_uri)
    .bind(now)
    .bind(&new.created_by)
    .execute(tx.conn())
    .await?;
    for p in &new.params {
        sqlx::query(
            "INSERT INTO mlflow_logged_model_params (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO UPDATE SET value = $3",
        )
        .bind(&model_id)
        .bind(&p.key)
        .bind(&p.value)
        .execute(tx.conn())
        .await?;
    }
    for t in &new.tags {
        upsert_tag(tx, &model_id, &t.key, &t.value).await?;
    }
    tx.audit(ctx.event(
        "logged_model.created",
        "logged_model",
        &model_id,
        json!({ "name": new.name, "experiment_id": new.experiment_id.to_string(), "source_run_id": new.source_run_id }),
    ));
    Ok(model_id)
}

async fn upsert_tag(tx: &mut WriteTx, model: &str, key: &str, value: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mlflow_logged_model_tags (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO UPDATE SET value = $3",
    )
    .bind(model)
    .bind(key)
    .bind(value)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Finalize (ready or upload failed); audited as `logged_model.finalized`.
pub async fn finalize(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &LoggedModel,
    status: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE mlflow_logged_models SET status = $1, last_updated_time = $2 WHERE model_id = $3")
        .bind(status)
        .bind(now_ms())
        .bind(&model.model_id)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "logged_model.finalized",
        "logged_model",
        &model.model_id,
        json!({ "before": model.status, "after": status }),
    ));
    Ok(())
}

/// Set tags (`value: Some`) or delete one; audited as `logged_model.tagged` /
/// `logged_model.untagged`.
pub async fn set_tags(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &LoggedModel,
    tags: &[KeyValue],
    delete: Option<&str>,
) -> Result<(), StoreError> {
    for t in tags {
        upsert_tag(tx, &model.model_id, &t.key, &t.value).await?;
    }
    if let Some(key) = delete {
        sqlx::query("DELETE FROM mlflow_logged_model_tags WHERE model_id = $1 AND key = $2")
            .bind(&model.model_id)
            .bind(key)
            .execute(tx.conn())
            .await?;
    }
    let action = if delete.is_some() {
        "logged_model.untagged"
    } else {
        "logged_model.tagged"
    };
    tx.audit(ctx.event(
        action,
        "logged_model",
        &model.model_id,
        json!({ "tags": tags.iter().map(|t| (&t.key, &t.value)).collect::<std::collections::BTreeMap<_, _>>(), "deleted": delete }),
    ));
    Ok(())
}

/// Add params (more than the first 100 arrive this way). Audited as
/// `logged_model.params_logged`.
pub async fn log_params(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &LoggedModel,
    params: &[KeyValue],
) -> Result<(), StoreError> {
    for p in params {
        sqlx::query(
            "INSERT INTO mlflow_logged_model_params (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO UPDATE SET value = $3",
        )
        .bind(&model.model_id)
        .bind(&p.key)
        .bind(&p.value)
        .execute(tx.conn())
        .await?;
    }
    tx.audit(ctx.event(
        "logged_model.params_logged",
        "logged_model",
        &model.model_id,
        json!({ "count": params.len() }),
    ));
    Ok(())
}

/// Delete (soft); audited as `logged_model.deleted`.
pub async fn delete(tx: &mut WriteTx, ctx: &AuditContext, model: &LoggedModel) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE mlflow_logged_models SET lifecycle_stage = 'deleted', last_updated_time = $1 WHERE model_id = $2",
    )
    .bind(now_ms())
    .bind(&model.model_id)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event(
        "logged_model.deleted",
        "logged_model",
        &model.model_id,
        json!({ "name": model.name }),
    ));
    Ok(())
}
