//! Metrics checks: each evaluation of a policy's metric threshold against an
//! attached model version's metrics, with its outcome (`pass`, `fail`, `missing`, or
//! `info` for a metric without a threshold) and the finding a failure raised.

use charter_domain::time::now_ms;
use charter_domain::{BundleId, FindingId, PolicyId};
use serde_json::json;
use sqlx::Row;

use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// One evaluated check.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCheckResult {
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    pub stage: String,
    /// The `modelmetric` artifact's id (or `metrics` for the policy's top-level list).
    pub check_id: String,
    pub metric: String,
    /// The name the value was found under (the metric or one of its aliases).
    pub matched_key: Option<String>,
    pub model: String,
    pub version: i64,
    pub value: Option<f64>,
    pub operator: Option<String>,
    pub threshold: Option<f64>,
    /// `pass`, `fail`, `missing` or `info`.
    pub outcome: String,
    pub finding_id: Option<FindingId>,
    pub checked_at: i64,
}

impl Store {
    /// The newest evaluation of each check of a bundle (by policy, check, metric,
    /// model version), newest first.
    pub async fn metric_checks(&self, bundle: BundleId) -> Result<Vec<MetricCheckResult>, StoreError> {
        let rows = sqlx::query(
            "SELECT bundle_id, policy_id, stage, check_id, metric, matched_key, model, version, value, operator, threshold, \
             outcome, finding_id, checked_at FROM metric_checks WHERE bundle_id = $1 ORDER BY checked_at DESC, id DESC",
        )
        .bind(bundle.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<MetricCheckResult> = Vec::new();
        for r in rows {
            let finding: Option<String> = r.try_get(12)?;
            let c = MetricCheckResult {
                bundle_id: decode_id(r.try_get::<String, _>(0)?)?,
                policy_id: decode_id(r.try_get::<String, _>(1)?)?,
                stage: r.try_get(2)?,
                check_id: r.try_get(3)?,
                metric: r.try_get(4)?,
                matched_key: r.try_get(5)?,
                model: r.try_get(6)?,
                version: r.try_get(7)?,
                value: r.try_get(8)?,
                operator: r.try_get(9)?,
                threshold: r.try_get(10)?,
                outcome: r.try_get(11)?,
                finding_id: finding.map(decode_id).transpose()?,
                checked_at: r.try_get(13)?,
            };
            let seen = out.iter().any(|o| {
                o.policy_id == c.policy_id
                    && o.check_id == c.check_id
                    && o.metric == c.metric
                    && o.model == c.model
                    && o.version == c.version
            });
            if !seen {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// Record an evaluation's results; audited as one `metric_check.evaluated` event
/// naming every result.
pub async fn record(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: BundleId,
    why: &str,
    results: &[MetricCheckResult],
) -> Result<(), StoreError> {
    if results.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    for c in results {
        sqlx::query(
            "INSERT INTO metric_checks (id, bundle_id, policy_id, stage, check_id, metric, matched_key, model, version, value, \
             operator, threshold, outcome, finding_id, checked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(uuid::Uuid::now_v7().simple().to_string())
        .bind(c.bundle_id.to_string())
        .bind(c.policy_id.to_string())
        .bind(&c.stage)
        .bind(&c.check_id)
        .bind(&c.metric)
        .bind(c.matched_key.clone())
        .bind(&c.model)
        .bind(c.version)
        .bind(c.value.filter(|v| v.is_finite()))
        .bind(c.operator.clone())
        .bind(c.threshold)
        .bind(&c.outcome)
        .bind(c.finding_id.map(|f| f.to_string()))
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    let summary: Vec<serde_json::Value> = results
        .iter()
        .map(|c| {
            json!({
                "policy": c.policy_id.to_string(), "stage": c.stage, "metric": c.metric, "model": c.model,
                "version": c.version, "value": c.value.filter(|v| v.is_finite()), "operator": c.operator,
                "threshold": c.threshold, "outcome": c.outcome,
                "finding": c.finding_id.map(|f| f.to_string()),
            })
        })
        .collect();
    tx.audit(ctx.event(
        "metric_check.evaluated",
        "bundle",
        bundle,
        json!({ "trigger": why, "results": summary }),
    ));
    Ok(())
}
