//! Moving a bundle from one version of a policy to another, explicitly: the
//! bundle's pin, its approval rows (added, removed, reset, refreshed) and the
//! audit event that records the whole plan, in one transaction.

use charter_domain::{ApprovalId, BundleId, PolicyId, PolicyVersionId};
use serde_json::json;

use crate::approval::{self, ApproverRef};
use crate::{AuditContext, StoreError, WriteTx};

/// What a migration does to a bundle's rows, decided by the governance service.
#[derive(Debug, Clone)]
pub struct Migration {
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    /// The version the bundle follows now; the update refuses if it changed meanwhile.
    pub from: PolicyVersionId,
    pub to: PolicyVersionId,
    /// New approvals: (stage, name, approvers).
    pub added: Vec<(String, String, Vec<ApproverRef>)>,
    /// Approvals the new version no longer names. Findings linked to them keep
    /// their text but lose the link; their open tasks close.
    pub removed: Vec<ApprovalId>,
    /// Approvals whose decision no longer stands (their stage's evidence changed):
    /// back to `not_requested`, open tasks closed.
    pub reset: Vec<ApprovalId>,
    /// Approvals kept, with their stage and approvers as the new version names them.
    pub kept: Vec<(ApprovalId, String, Vec<ApproverRef>)>,
    /// The readable plan, stored as the audit payload.
    pub payload: serde_json::Value,
}

/// Apply a migration; audited as `bundle.policy_migrated` with the plan.
pub async fn apply(tx: &mut WriteTx, ctx: &AuditContext, m: Migration) -> Result<(), StoreError> {
    approval::lock_standing(tx, m.bundle_id, m.policy_id).await?;
    let moved = sqlx::query(
        "UPDATE bundle_policies SET policy_version_id = $1 \
         WHERE bundle_id = $2 AND policy_id = $3 AND policy_version_id = $4",
    )
    .bind(m.to.to_string())
    .bind(m.bundle_id.to_string())
    .bind(m.policy_id.to_string())
    .bind(m.from.to_string())
    .execute(tx.conn())
    .await?
    .rows_affected();
    if moved != 1 {
        return Err(StoreError::Conflict(
            "the bundle's policy version changed while the migration was planned; plan it again".into(),
        ));
    }
    for id in &m.removed {
        sqlx::query("UPDATE findings SET approval_id = NULL WHERE approval_id = $1")
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
        crate::task::close_for(tx, "approval", &id.to_string()).await?;
        sqlx::query("DELETE FROM approvals WHERE id = $1")
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
    }
    for id in &m.reset {
        sqlx::query(
            "UPDATE approvals SET status = 'not_requested', requested_by = NULL, requested_at = NULL, \
             decided_by = NULL, decided_at = NULL, comment = '', signoff = '{}', expires_at = NULL, \
             version = version + 1 WHERE id = $1",
        )
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
        crate::task::close_for(tx, "approval", &id.to_string()).await?;
    }
    for (id, stage, approvers) in &m.kept {
        sqlx::query("UPDATE approvals SET stage = $1, approvers = $2, version = version + 1 WHERE id = $3")
            .bind(stage)
            .bind(serde_json::to_string(approvers).unwrap_or_else(|_| "[]".into()))
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
    }
    approval::create_for_bundle(tx, m.bundle_id, m.policy_id, &m.added).await?;
    let mut payload = m.payload;
    payload["policy_id"] = json!(m.policy_id.to_string());
    payload["from_version_id"] = json!(m.from.to_string());
    payload["to_version_id"] = json!(m.to.to_string());
    tx.audit(ctx.event("bundle.policy_migrated", "bundle", m.bundle_id, payload));
    Ok(())
}
