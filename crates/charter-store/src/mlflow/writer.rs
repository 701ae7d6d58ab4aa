//! Group commit for run data: metric points, params and tags.
//!
//! Every `log-metric`, `log-parameter`, `set-tag` and `log-batch` request becomes a
//! [`RunWrite`] sent to one writer task. The task takes everything that is waiting
//! (up to a limit), writes it all in **one** transaction, commits, and only then
//! answers each request. A request is therefore acknowledged only after the commit
//! that holds it, so an acknowledged write survives a crash of the process (and, with
//! `synchronous = FULL` or PostgreSQL, a power cut) — but sixteen clients logging at
//! once share one commit (and one fsync) instead of queueing for sixteen.
//!
//! A request that is invalid (a param changed to a new value) fails alone: its checks
//! run before any of its writes. If the shared transaction fails for another reason,
//! each request of the group is retried in its own transaction, so one bad request
//! cannot fail its neighbours.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{KeyValue, Metric, stored_value};
use crate::{Store, StoreError, WriteTx};

/// One request's run data.
#[derive(Debug, Clone, Default)]
pub struct RunWrite {
    pub run_id: String,
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
    pub delete_tags: Vec<String>,
}

/// How the writer groups.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// The most requests in one transaction.
    pub max_batch: usize,
    /// How long to wait for more requests once one arrived (zero: take only what is
    /// already waiting, which is right for nearly every load).
    pub linger: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            max_batch: 256,
            linger: Duration::ZERO,
        }
    }
}

type Reply = oneshot::Sender<Result<(), StoreError>>;

/// The handle requests are sent through: cheap to clone.
#[derive(Clone)]
pub struct RunWriter {
    tx: mpsc::Sender<(RunWrite, Reply)>,
}

impl std::fmt::Debug for RunWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunWriter")
    }
}

const WHY: &str = "metric points, params and tags are high-volume run data; run creation, status changes and the registry are audited";

impl RunWriter {
    /// Start the writer task on `store` (needs a Tokio runtime).
    pub fn start(store: Store, options: WriterOptions) -> Self {
        let (tx, mut rx) = mpsc::channel::<(RunWrite, Reply)>(4096);
        tokio::spawn(async move {
            let max = options.max_batch.max(1);
            while let Some(first) = rx.recv().await {
                let mut group = vec![first];
                if !options.linger.is_zero() {
                    tokio::time::sleep(options.linger).await;
                }
                while group.len() < max {
                    match rx.try_recv() {
                        Ok(next) => group.push(next),
                        Err(_) => break,
                    }
                }
                commit_group(&store, group).await;
            }
        });
        Self { tx }
    }

    /// Write `w` and wait until its transaction has committed.
    pub async fn write(&self, w: RunWrite) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((w, reply))
            .await
            .map_err(|_| StoreError::Unavailable("the run writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("the run writer stopped before answering".into()))?
    }
}

async fn commit_group(store: &Store, group: Vec<(RunWrite, Reply)>) {
    let together = async {
        let mut tx = store.begin().await?;
        let mut outcomes = Vec::with_capacity(group.len());
        for (w, _) in &group {
            match apply(&mut tx, w).await {
                Ok(()) => outcomes.push(Ok(())),
                Err(StoreError::Invalid(msg)) => outcomes.push(Err(StoreError::Invalid(msg))),
                Err(other) => return Err(other),
            }
        }
        tx.commit_unaudited(WHY).await?;
        Ok::<_, StoreError>(outcomes)
    }
    .await;
    match together {
        Ok(outcomes) => {
            for ((_, reply), outcome) in group.into_iter().zip(outcomes) {
                let _ = reply.send(outcome);
            }
        }
        Err(e) => {
            if group.len() > 1 {
                tracing::warn!(error = %e, requests = group.len(), "a group commit failed; retrying its requests one by one");
            }
            for (w, reply) in group {
                let alone = async {
                    let mut tx = store.begin().await?;
                    apply(&mut tx, &w).await?;
                    tx.commit_unaudited(WHY).await
                }
                .await;
                let _ = reply.send(alone);
            }
        }
    }
}

/// One request's writes. Its checks (params must not change) run before its writes,
/// so an invalid request leaves nothing behind in the shared transaction.
async fn apply(tx: &mut WriteTx, w: &RunWrite) -> Result<(), StoreError> {
    let mut new_params: Vec<&KeyValue> = Vec::new();
    for p in &w.params {
        let old: Option<String> =
            sqlx::query_scalar("SELECT value FROM mlflow_params WHERE run_uuid = $1 AND key = $2")
                .bind(&w.run_id)
                .bind(&p.key)
                .fetch_optional(tx.conn())
                .await?;
        match old {
            Some(old) if old == p.value => {}
            Some(old) => {
                return Err(StoreError::Invalid(format!(
                    "Changing param values is not allowed. Param with key='{}' was already logged with value='{old}' for run ID='{}'. Attempted logging new value '{}'.",
                    p.key, w.run_id, p.value
                )));
            }
            None => {
                if let Some(earlier) = new_params.iter().find(|q| q.key == p.key) {
                    if earlier.value != p.value {
                        return Err(StoreError::Invalid(format!(
                            "Duplicate parameter keys with different values in one batch: '{}'",
                            p.key
                        )));
                    }
                } else {
                    new_params.push(p);
                }
            }
        }
    }
    for p in new_params {
        sqlx::query("INSERT INTO mlflow_params (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO NOTHING")
            .bind(&w.run_id)
            .bind(&p.key)
            .bind(&p.value)
            .execute(tx.conn())
            .await?;
    }
    insert_metrics(tx, &w.run_id, &w.metrics).await?;
    for t in &w.tags {
        sqlx::query(
            "INSERT INTO mlflow_tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) DO UPDATE SET value = $3",
        )
        .bind(&w.run_id)
        .bind(&t.key)
        .bind(&t.value)
        .execute(tx.conn())
        .await?;
        if t.key == "mlflow.runName" {
            sqlx::query("UPDATE mlflow_runs SET name = $1 WHERE run_uuid = $2")
                .bind(&t.value)
                .bind(&w.run_id)
                .execute(tx.conn())
                .await?;
        }
    }
    for key in &w.delete_tags {
        sqlx::query("DELETE FROM mlflow_tags WHERE run_uuid = $1 AND key = $2")
            .bind(&w.run_id)
            .bind(key)
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Metric points in multi-row statements, and one latest-value upsert per key.
async fn insert_metrics(tx: &mut WriteTx, run: &str, metrics: &[Metric]) -> Result<(), StoreError> {
    if metrics.is_empty() {
        return Ok(());
    }
    for chunk in metrics.chunks(100) {
        let mut sql = String::from(
            "INSERT INTO mlflow_metrics (run_uuid, key, value, is_nan, timestamp, step, model_id, dataset_name, dataset_digest) VALUES ",
        );
        for i in 0..chunk.len() {
            let b = i * 9;
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9
            ));
        }
        sql.push_str(" ON CONFLICT (run_uuid, key, timestamp, step, value, is_nan) DO NOTHING");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for m in chunk {
            let (value, is_nan) = stored_value(m.value);
            q = q
                .bind(run)
                .bind(&m.key)
                .bind(value)
                .bind(is_nan)
                .bind(m.timestamp)
                .bind(m.step)
                .bind(m.model_id.clone())
                .bind(m.dataset_name.clone())
                .bind(m.dataset_digest.clone());
        }
        q.execute(tx.conn()).await?;
    }
    let mut latest: HashMap<&str, &Metric> = HashMap::new();
    for m in metrics {
        match latest.get(m.key.as_str()) {
            Some(prev) if !m.later_than(prev) => {}
            _ => {
                latest.insert(&m.key, m);
            }
        }
    }
    for m in latest.values() {
        let (value, is_nan) = stored_value(m.value);
        sqlx::query(
            "INSERT INTO mlflow_latest_metrics (run_uuid, key, value, is_nan, timestamp, step) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, \
             timestamp = excluded.timestamp, step = excluded.step \
             WHERE excluded.step > mlflow_latest_metrics.step \
             OR (excluded.step = mlflow_latest_metrics.step AND excluded.timestamp > mlflow_latest_metrics.timestamp) \
             OR (excluded.step = mlflow_latest_metrics.step AND excluded.timestamp = mlflow_latest_metrics.timestamp \
                 AND excluded.value > mlflow_latest_metrics.value)",
        )
        .bind(run)
        .bind(&m.key)
        .bind(value)
        .bind(is_nan)
        .bind(m.timestamp)
        .bind(m.step)
        .execute(tx.conn())
        .await?;
    }
    // Points logged against a logged model also count as that model's metrics.
    for m in metrics.iter().filter(|m| m.model_id.is_some()) {
        let (value, is_nan) = stored_value(m.value);
        sqlx::query(
            "INSERT INTO mlflow_logged_model_metrics (model_id, key, value, is_nan, timestamp, step, run_uuid, dataset_name, dataset_digest) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (model_id, key, timestamp, step, run_uuid) DO NOTHING",
        )
        .bind(m.model_id.clone())
        .bind(&m.key)
        .bind(value)
        .bind(is_nan)
        .bind(m.timestamp)
        .bind(m.step)
        .bind(run)
        .bind(m.dataset_name.clone())
        .bind(m.dataset_digest.clone())
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}
