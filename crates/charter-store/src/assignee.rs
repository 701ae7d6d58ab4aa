//! Stage assignees: the one person who works on a stage of a policy on a bundle.
//! Assigning gives them a task; reassigning or unassigning closes it.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{BundleId, PolicyId, UserId};
use serde_json::json;
use sqlx::Row;

use crate::task::{self, NewTask};
use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageAssignee {
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    pub stage: String,
    pub user_id: UserId,
    pub assigned_by: UserId,
    pub assigned_at: Millis,
}

impl Store {
    /// Every stage assignee of a bundle.
    pub async fn stage_assignees(&self, bundle: BundleId) -> Result<Vec<StageAssignee>, StoreError> {
        let rows = sqlx::query(
            "SELECT bundle_id, policy_id, stage, user_id, assigned_by, assigned_at FROM stage_assignees \
             WHERE bundle_id = $1 ORDER BY policy_id, stage",
        )
        .bind(bundle.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StageAssignee {
                    bundle_id: decode_id(r.try_get::<String, _>(0)?)?,
                    policy_id: decode_id(r.try_get::<String, _>(1)?)?,
                    stage: r.try_get(2)?,
                    user_id: decode_id(r.try_get::<String, _>(3)?)?,
                    assigned_by: decode_id(r.try_get::<String, _>(4)?)?,
                    assigned_at: r.try_get(5)?,
                })
            })
            .collect()
    }
}

/// The task target for a stage of a policy on a bundle.
pub fn target(bundle: BundleId, policy: PolicyId, stage: &str) -> String {
    format!("{bundle}/{policy}/{stage}")
}

/// Assign `to` (or nobody) to a stage; audited as `stage.assigned` or
/// `stage.unassigned` with the previous assignee. A no-op writes nothing and
/// returns false.
pub async fn assign(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: BundleId,
    policy: PolicyId,
    stage: &str,
    to: Option<&User>,
    by: &User,
) -> Result<bool, StoreError> {
    let before: Option<String> = sqlx::query_scalar(
        "SELECT user_id FROM stage_assignees WHERE bundle_id = $1 AND policy_id = $2 AND stage = $3",
    )
    .bind(bundle.to_string())
    .bind(policy.to_string())
    .bind(stage)
    .fetch_optional(tx.conn())
    .await?;
    if before.as_deref() == to.map(|u| u.id.to_string()).as_deref() {
        return Ok(false);
    }
    let target_id = target(bundle, policy, stage);
    task::close_for(tx, "stage", &target_id).await?;
    sqlx::query("DELETE FROM stage_assignees WHERE bundle_id = $1 AND policy_id = $2 AND stage = $3")
        .bind(bundle.to_string())
        .bind(policy.to_string())
        .bind(stage)
        .execute(tx.conn())
        .await?;
    let payload = json!({
        "policy_id": policy.to_string(),
        "stage": stage,
        "before": before,
        "after": to.map(|u| u.id.to_string()),
        "after_username": to.map(|u| u.username.clone()),
    });
    match to {
        Some(user) => {
            sqlx::query(
                "INSERT INTO stage_assignees (bundle_id, policy_id, stage, user_id, assigned_by, assigned_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(bundle.to_string())
            .bind(policy.to_string())
            .bind(stage)
            .bind(user.id.to_string())
            .bind(by.id.to_string())
            .bind(now_ms())
            .execute(tx.conn())
            .await?;
            task::create(
                tx,
                NewTask {
                    user_id: user.id,
                    kind: "stage_assigned",
                    bundle_id: Some(bundle),
                    target_type: "stage",
                    target_id,
                    title: format!("Work on stage `{stage}`"),
                },
            )
            .await?;
            tx.audit(ctx.event("stage.assigned", "bundle", bundle, payload));
        }
        None => tx.audit(ctx.event("stage.unassigned", "bundle", bundle, payload)),
    }
    Ok(true)
}
