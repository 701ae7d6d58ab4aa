//! Approvals: one per approval named in a policy stage, per bundle. Decisions use
//! optimistic concurrency (a `version` column), so two approvers acting at once
//! never produce a double transition: the second is told someone else acted.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{ApprovalId, BundleId, PolicyId, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// Where an approval stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalStatus {
    /// Nobody has asked for it yet.
    NotRequested,
    /// Review requested; approvers have tasks.
    Pending,
    Approved,
    /// Approved, provided linked findings are resolved by their due dates.
    ConditionallyApproved,
    /// Rejected: the stage is open for evidence again.
    Rejected,
    /// Withdrawn after being granted (by a person, or because a condition lapsed).
    Revoked,
    /// Granted, but its revalidation date is near.
    PendingExpiration,
    /// Granted once; its revalidation date has passed.
    Expired,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 8] = [
        ApprovalStatus::NotRequested,
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::ConditionallyApproved,
        ApprovalStatus::Rejected,
        ApprovalStatus::Revoked,
        ApprovalStatus::PendingExpiration,
        ApprovalStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::NotRequested => "not_requested",
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::ConditionallyApproved => "conditionally_approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Revoked => "revoked",
            ApprovalStatus::PendingExpiration => "pending_expiration",
            ApprovalStatus::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the approval counts as granted (for compliance and gates).
    pub fn is_granted(self) -> bool {
        matches!(
            self,
            ApprovalStatus::Approved | ApprovalStatus::ConditionallyApproved | ApprovalStatus::PendingExpiration
        )
    }
}

/// Who may decide an approval: a user or a group, by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ApproverRef {
    /// `user` or `group`.
    pub kind: String,
    pub name: String,
    /// Added for this bundle only (`allowAdditionalApprovers`).
    #[serde(default)]
    pub additional: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub id: ApprovalId,
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    pub stage: String,
    pub name: String,
    pub status: ApprovalStatus,
    pub approvers: Vec<ApproverRef>,
    pub requested_by: Option<UserId>,
    pub requested_at: Option<Millis>,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<Millis>,
    pub comment: String,
    /// The sign-off form's answers (JSON object).
    pub signoff: serde_json::Value,
    pub expires_at: Option<Millis>,
    /// Bumped on every change; decisions name the version they saw.
    pub version: i64,
}

pub(crate) const COLUMNS: &str = "id, bundle_id, policy_id, stage, name, status, approvers, requested_by, requested_at, \
                       decided_by, decided_at, comment, signoff, expires_at, version";

pub(crate) fn from_row(row: &AnyRow) -> Result<Approval, StoreError> {
    let status: String = row.try_get(5)?;
    let approvers: String = row.try_get(6)?;
    let signoff: String = row.try_get(12)?;
    let opt_user = |v: Option<String>| v.map(decode_id).transpose();
    Ok(Approval {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        bundle_id: decode_id(row.try_get::<String, _>(1)?)?,
        policy_id: decode_id(row.try_get::<String, _>(2)?)?,
        stage: row.try_get(3)?,
        name: row.try_get(4)?,
        status: ApprovalStatus::parse(&status).unwrap_or(ApprovalStatus::NotRequested),
        approvers: serde_json::from_str(&approvers).unwrap_or_default(),
        requested_by: opt_user(row.try_get(7)?)?,
        requested_at: row.try_get(8)?,
        decided_by: opt_user(row.try_get(9)?)?,
        decided_at: row.try_get(10)?,
        comment: row.try_get(11)?,
        signoff: serde_json::from_str(&signoff).unwrap_or(serde_json::Value::Null),
        expires_at: row.try_get(13)?,
        version: row.try_get(14)?,
    })
}

impl Store {
    /// A bundle's approvals, in policy and stage order of creation.
    pub async fn approvals(&self, bundle: BundleId) -> Result<Vec<Approval>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM approvals WHERE bundle_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bundle.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn approval(&self, id: ApprovalId) -> Result<Approval, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM approvals WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("approval {id}")))?;
        from_row(&row)
    }

    /// Approvals in any of the given states, across bundles (for background jobs
    /// and the dashboard).
    pub async fn approvals_in(&self, statuses: &[ApprovalStatus]) -> Result<Vec<Approval>, StoreError> {
        let mut all = Vec::new();
        for status in statuses {
            let sql = format!("SELECT {COLUMNS} FROM approvals WHERE status = $1 ORDER BY id");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(status.as_str())
                .fetch_all(&self.pool)
                .await?;
            for r in &rows {
                all.push(from_row(r)?);
            }
        }
        Ok(all)
    }
}

/// Create the approval rows a policy names, when a bundle takes the policy. Part
/// of the bundle's creation (its `bundle.created` event covers them).
pub async fn create_for_bundle(
    tx: &mut WriteTx,
    bundle: BundleId,
    policy: PolicyId,
    approvals: &[(String, String, Vec<ApproverRef>)],
) -> Result<Vec<Approval>, StoreError> {
    let mut out = Vec::new();
    for (stage, name, approvers) in approvals {
        let a = Approval {
            id: ApprovalId::new(),
            bundle_id: bundle,
            policy_id: policy,
            stage: stage.clone(),
            name: name.clone(),
            status: ApprovalStatus::NotRequested,
            approvers: approvers.clone(),
            requested_by: None,
            requested_at: None,
            decided_by: None,
            decided_at: None,
            comment: String::new(),
            signoff: json!({}),
            expires_at: None,
            version: 0,
        };
        sqlx::query(
            "INSERT INTO approvals (id, bundle_id, policy_id, stage, name, status, approvers, comment, signoff, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '', '{}', 0)",
        )
        .bind(a.id.to_string())
        .bind(bundle.to_string())
        .bind(policy.to_string())
        .bind(&a.stage)
        .bind(&a.name)
        .bind(a.status.as_str())
        .bind(serde_json::to_string(&a.approvers).unwrap_or_else(|_| "[]".into()))
        .execute(tx.conn())
        .await?;
        out.push(a);
    }
    Ok(out)
}

/// A change to an approval's state, checked against the version the actor saw.
#[derive(Debug, Clone)]
pub struct Transition {
    pub to: ApprovalStatus,
    /// The audit action: `approval.requested`, `approval.granted`, …
    pub action: &'static str,
    pub comment: Option<String>,
    pub signoff: Option<serde_json::Value>,
    pub expires_at: Option<Option<Millis>>,
    /// Extra facts for the audit payload (linked findings, reasons).
    pub details: serde_json::Value,
}

/// Apply a transition if nobody changed the approval since `seen.version`.
pub async fn transition(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    seen: &Approval,
    change: Transition,
    by: Option<&User>,
) -> Result<Approval, StoreError> {
    let now = now_ms();
    let mut after = seen.clone();
    after.status = change.to;
    after.version = seen.version + 1;
    match change.to {
        ApprovalStatus::Pending => {
            after.requested_by = by.map(|u| u.id);
            after.requested_at = Some(now);
            after.decided_by = None;
            after.decided_at = None;
        }
        _ => {
            after.decided_by = by.map(|u| u.id).or(seen.decided_by);
            after.decided_at = Some(now);
        }
    }
    if let Some(c) = change.comment {
        after.comment = c;
    }
    if let Some(s) = change.signoff {
        after.signoff = s;
    }
    if let Some(e) = change.expires_at {
        after.expires_at = e;
    }
    let changed = sqlx::query(
        "UPDATE approvals SET status = $1, requested_by = $2, requested_at = $3, decided_by = $4, decided_at = $5, \
         comment = $6, signoff = $7, expires_at = $8, version = $9 WHERE id = $10 AND version = $11",
    )
    .bind(after.status.as_str())
    .bind(after.requested_by.map(|u| u.to_string()))
    .bind(after.requested_at)
    .bind(after.decided_by.map(|u| u.to_string()))
    .bind(after.decided_at)
    .bind(&after.comment)
    .bind(after.signoff.to_string())
    .bind(after.expires_at)
    .bind(after.version)
    .bind(seen.id.to_string())
    .bind(seen.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "approval `{}` was changed by someone else meanwhile; reload it and decide again",
            seen.name
        )));
    }
    tx.audit(ctx.event(
        change.action,
        "approval",
        seen.id,
        json!({
            "bundle_id": seen.bundle_id.to_string(), "policy_id": seen.policy_id.to_string(), "stage": seen.stage,
            "name": seen.name, "before": seen.status.as_str(), "after": after.status.as_str(),
            "comment": after.comment, "signoff": after.signoff, "expires_at": after.expires_at, "details": change.details,
        }),
    ));
    Ok(after)
}

/// Replace the approvers of one approval on one bundle (additional approvers);
/// audited as `approval.approvers_changed`.
pub async fn set_approvers(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    seen: &Approval,
    approvers: Vec<ApproverRef>,
) -> Result<Approval, StoreError> {
    let changed =
        sqlx::query("UPDATE approvals SET approvers = $1, version = version + 1 WHERE id = $2 AND version = $3")
            .bind(serde_json::to_string(&approvers).unwrap_or_else(|_| "[]".into()))
            .bind(seen.id.to_string())
            .bind(seen.version)
            .execute(tx.conn())
            .await?
            .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "approval `{}` was changed meanwhile; reload it",
            seen.name
        )));
    }
    tx.audit(ctx.event(
        "approval.approvers_changed",
        "approval",
        seen.id,
        json!({ "before": seen.approvers, "after": approvers }),
    ));
    Ok(Approval {
        approvers,
        version: seen.version + 1,
        ..seen.clone()
    })
}

/// Serialize decisions on one policy of one bundle until the transaction ends: the
/// first statement of a decision, so that the stage it then computes from the
/// approvals sees every decision committed before it (a row lock on PostgreSQL;
/// SQLite's write lock already serializes writers).
pub async fn lock_standing(tx: &mut WriteTx, bundle: BundleId, policy: PolicyId) -> Result<(), StoreError> {
    let locked =
        sqlx::query("UPDATE bundle_policies SET current_stage = current_stage WHERE bundle_id = $1 AND policy_id = $2")
            .bind(bundle.to_string())
            .bind(policy.to_string())
            .execute(tx.conn())
            .await?
            .rows_affected();
    if locked == 0 {
        return Err(StoreError::NotFound(format!("policy {policy} on bundle {bundle}")));
    }
    Ok(())
}
