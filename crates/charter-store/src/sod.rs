//! Separation of duties: the facts the rule needs (who answered a stage's evidence)
//! and the per-policy exemptions admins grant.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{BundleId, PolicyId, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// A user allowed to decide approvals of one policy despite separation of duties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SodExemption {
    pub policy_id: PolicyId,
    pub user_id: UserId,
    /// Why the exemption is acceptable (a small team, an emergency…).
    pub reason: String,
    pub created_by: UserId,
    pub created_at: Millis,
}

const COLUMNS: &str = "policy_id, user_id, reason, created_by, created_at";

fn from_row(row: &AnyRow) -> Result<SodExemption, StoreError> {
    Ok(SodExemption {
        policy_id: decode_id(row.try_get::<String, _>(0)?)?,
        user_id: decode_id(row.try_get::<String, _>(1)?)?,
        reason: row.try_get(2)?,
        created_by: decode_id(row.try_get::<String, _>(3)?)?,
        created_at: row.try_get(4)?,
    })
}

/// Someone who answered evidence of a stage, and one question they answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageAnswerer {
    pub user_id: UserId,
    /// An input id they answered (any revision), to name in explanations.
    pub input_id: String,
}

impl Store {
    /// The exemptions of one policy, oldest first.
    pub async fn sod_exemptions(&self, policy: PolicyId) -> Result<Vec<SodExemption>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sod_exemptions WHERE policy_id = $1 ORDER BY created_at, user_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(policy.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The exemption of `user` on `policy`, if there is one.
    pub async fn sod_exemption(&self, policy: PolicyId, user: UserId) -> Result<Option<SodExemption>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sod_exemptions WHERE policy_id = $1 AND user_id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(policy.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    /// Everyone who saved an answer (any revision, carried over or not) in `stage` of
    /// one policy on a bundle, each with one question they answered.
    pub async fn stage_answerers(
        &self,
        bundle: BundleId,
        policy: PolicyId,
        stage: &str,
    ) -> Result<Vec<StageAnswerer>, StoreError> {
        let rows = sqlx::query(
            "SELECT answered_by, MIN(input_id) FROM answers WHERE bundle_id = $1 AND policy_id = $2 AND stage = $3 \
             GROUP BY answered_by ORDER BY answered_by",
        )
        .bind(bundle.to_string())
        .bind(policy.to_string())
        .bind(stage)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StageAnswerer {
                    user_id: decode_id(r.try_get::<String, _>(0)?)?,
                    input_id: r.try_get(1)?,
                })
            })
            .collect()
    }
}

/// Exempt `user` from separation of duties on `policy`; audited as
/// `sod_exemption.granted`.
pub async fn grant(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    policy: PolicyId,
    user: &User,
    reason: &str,
    by: &User,
) -> Result<SodExemption, StoreError> {
    let e = SodExemption {
        policy_id: policy,
        user_id: user.id,
        reason: reason.to_owned(),
        created_by: by.id,
        created_at: now_ms(),
    };
    let inserted = sqlx::query(
        "INSERT INTO sod_exemptions (policy_id, user_id, reason, created_by, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (policy_id, user_id) DO NOTHING",
    )
    .bind(policy.to_string())
    .bind(user.id.to_string())
    .bind(reason)
    .bind(by.id.to_string())
    .bind(e.created_at)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(StoreError::Conflict(format!(
            "`{}` is already exempt from separation of duties on this policy",
            user.username
        )));
    }
    tx.audit(ctx.event(
        "sod_exemption.granted",
        "policy",
        policy,
        json!({ "user_id": user.id.to_string(), "username": user.username, "reason": reason }),
    ));
    Ok(e)
}

/// End an exemption; audited as `sod_exemption.revoked`.
pub async fn revoke(tx: &mut WriteTx, ctx: &AuditContext, policy: PolicyId, user: &User) -> Result<(), StoreError> {
    let deleted = sqlx::query("DELETE FROM sod_exemptions WHERE policy_id = $1 AND user_id = $2")
        .bind(policy.to_string())
        .bind(user.id.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(StoreError::NotFound(format!(
            "an exemption of `{}` on this policy",
            user.username
        )));
    }
    tx.audit(ctx.event(
        "sod_exemption.revoked",
        "policy",
        policy,
        json!({ "user_id": user.id.to_string(), "username": user.username }),
    ));
    Ok(())
}
