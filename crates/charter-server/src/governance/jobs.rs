//! Governance work the clock triggers, run every minute by
//! [`spawn_background_jobs`](crate::spawn_background_jobs) and by tests with a clock
//! of their own:
//!
//! 1. waivers past their expiry become `expired`, and the findings they set aside
//!    open again;
//! 2. conditional approvals with a linked finding unresolved past its due date are
//!    revoked, and their approvers get a task;
//! 3. approvals with an expiry: `approved` ones within [`RENEWAL_WINDOW_MS`] of it
//!    become `pending_expiration` (approvers get a task to renew, by deciding
//!    again); past it, granted ones become `expired`. A conditional approval keeps
//!    its status until it expires, so its conditions stay watched.
//!
//! Each change is its own transaction, audited with the actor `scheduler`. Every
//! step is idempotent and safe with several replicas running it at once: a change
//! someone else made first is a conflict, skipped.

use charter_domain::time::{Millis, rfc3339};
use charter_store::approval::{Approval, ApprovalStatus, Transition};
use charter_store::finding::Waiver;
use charter_store::{AuditContext, StoreError};
use serde::Serialize;
use serde_json::json;

use super::review::{approval_tasks, approver_users, policy_by_id, restand};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long before its expiry an approval enters `pending_expiration`: 30 days.
pub const RENEWAL_WINDOW_MS: Millis = 30 * 86_400_000;

/// The actor of the jobs' audit events.
pub const ACTOR: &str = "scheduler";

/// What one run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct JobReport {
    pub waivers_expired: usize,
    pub conditional_revoked: usize,
    pub pending_expiration: usize,
    pub expired: usize,
    /// Changes that failed (logged), to retry next run.
    pub failed: usize,
}

impl JobReport {
    /// Whether the run changed nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Do what is due at `now`.
pub async fn run_due(state: &AppState, now: Millis) -> JobReport {
    let ctx = AuditContext::system(ACTOR);
    let mut report = JobReport::default();
    match state.store.waivers(None).await {
        Ok(waivers) => {
            for w in waivers.iter().filter(|w| w.status == "active" && w.expires_at <= now) {
                let outcome = expire_waiver(state, &ctx, w).await;
                report.waivers_expired += tally(&mut report.failed, outcome, "could not expire a waiver");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not list waivers");
            report.failed += 1;
        }
    }

    match state.store.approvals_in(&[ApprovalStatus::ConditionallyApproved]).await {
        Ok(approvals) => {
            for a in approvals {
                let outcome = revoke_if_lapsed(state, &ctx, &a, now).await;
                report.conditional_revoked += tally(&mut report.failed, outcome, "could not revoke a lapsed approval");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not list conditional approvals");
            report.failed += 1;
        }
    }

    let granted = [
        ApprovalStatus::Approved,
        ApprovalStatus::ConditionallyApproved,
        ApprovalStatus::PendingExpiration,
    ];
    match state.store.approvals_in(&granted).await {
        Ok(approvals) => {
            for a in approvals {
                let Some(at) = a.expires_at else { continue };
                if at <= now {
                    let outcome = expire(state, &ctx, &a, ApprovalStatus::Expired).await;
                    report.expired += tally(&mut report.failed, outcome, "could not expire an approval");
                } else if a.status == ApprovalStatus::Approved && at - now <= RENEWAL_WINDOW_MS {
                    let outcome = expire(state, &ctx, &a, ApprovalStatus::PendingExpiration).await;
                    report.pending_expiration += tally(&mut report.failed, outcome, "could not open a renewal");
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not list approvals with an expiry");
            report.failed += 1;
        }
    }
    report
}

async fn expire_waiver(state: &AppState, ctx: &AuditContext, waiver: &Waiver) -> ApiResult<bool> {
    let mut tx = state.store.begin().await?;
    super::finding::end_waiver(state, &mut tx, ctx, waiver, "expired").await?;
    tx.commit().await?;
    Ok(true)
}

/// Revoke a conditional approval whose conditions lapsed at `now`.
async fn revoke_if_lapsed(state: &AppState, ctx: &AuditContext, approval: &Approval, now: Millis) -> ApiResult<bool> {
    let lapsed: Vec<_> = state
        .store
        .findings_of_approval(approval.id)
        .await?
        .into_iter()
        .filter(|f| f.is_overdue(now))
        .collect();
    if lapsed.is_empty() {
        return Ok(false);
    }
    let names: Vec<String> = lapsed
        .iter()
        .map(|f| format!("`{}` (due {})", f.name, f.due_at.map(rfc3339).unwrap_or_default()))
        .collect();
    let reason = format!(
        "revoked automatically: the conditional approval's finding(s) {} were not resolved by their due date",
        names.join(", ")
    );
    let bundle = state.store.bundle(approval.bundle_id).await?;
    let on = policy_by_id(state, &bundle, approval.policy_id).await?;
    let users = approver_users(state, &approval.approvers).await?;
    let mut tx = state.store.begin().await?;
    charter_store::approval::lock_standing(&mut tx, bundle.id, approval.policy_id).await?;
    let after = charter_store::approval::transition(
        &mut tx,
        ctx,
        approval,
        Transition {
            to: ApprovalStatus::Revoked,
            action: "approval.revoked",
            comment: Some(reason.clone()),
            signoff: None,
            expires_at: None,
            details: json!({
                "reason": "conditions_lapsed",
                "findings": lapsed.iter().map(|f| json!({
                    "finding_id": f.id.to_string(), "name": f.name, "due_at": f.due_at, "status": f.status.as_str(),
                })).collect::<Vec<_>>(),
                "notified": users.iter().map(|u| &u.username).collect::<Vec<_>>(),
            }),
        },
        None,
    )
    .await
    .map_err(conflict_is_skip)?;
    let title = format!(
        "`{}` (stage `{}`) of bundle `{}` was revoked: {}",
        approval.name,
        approval.stage,
        bundle.name,
        names.join(", ")
    );
    approval_tasks(&mut tx, &users, &after, &bundle, &title).await?;
    restand(state, &mut tx, ctx, &bundle, &on, std::slice::from_ref(&after)).await?;
    tx.commit().await?;
    Ok(true)
}

/// Move a granted approval to `pending_expiration` or `expired`.
async fn expire(state: &AppState, ctx: &AuditContext, approval: &Approval, to: ApprovalStatus) -> ApiResult<bool> {
    let bundle = state.store.bundle(approval.bundle_id).await?;
    let on = policy_by_id(state, &bundle, approval.policy_id).await?;
    let users = approver_users(state, &approval.approvers).await?;
    let at = approval.expires_at.map(rfc3339).unwrap_or_default();
    let (action, title) = if to == ApprovalStatus::Expired {
        (
            "approval.expired",
            format!(
                "`{}` (stage `{}`) of bundle `{}` expired on {at}; it needs a new review",
                approval.name, approval.stage, bundle.name
            ),
        )
    } else {
        (
            "approval.expiration_pending",
            format!(
                "Renew `{}` (stage `{}`) of bundle `{}` before it expires on {at}",
                approval.name, approval.stage, bundle.name
            ),
        )
    };
    let mut tx = state.store.begin().await?;
    charter_store::approval::lock_standing(&mut tx, bundle.id, approval.policy_id).await?;
    let after = charter_store::approval::transition(
        &mut tx,
        ctx,
        approval,
        Transition {
            to,
            action,
            comment: None,
            signoff: None,
            expires_at: None,
            details: json!({ "expires_at": approval.expires_at, "notified": users.iter().map(|u| &u.username).collect::<Vec<_>>() }),
        },
        None,
    )
    .await
    .map_err(conflict_is_skip)?;
    approval_tasks(&mut tx, &users, &after, &bundle, &title).await?;
    restand(state, &mut tx, ctx, &bundle, &on, std::slice::from_ref(&after)).await?;
    tx.commit().await?;
    Ok(true)
}

/// 1 for a change made, 0 for none (or one someone else made first); failures are
/// logged and counted.
fn tally(failed: &mut usize, outcome: ApiResult<bool>, what: &str) -> usize {
    match outcome {
        Ok(true) => 1,
        Ok(false) => 0,
        Err(e) if e.status == axum::http::StatusCode::CONFLICT => 0,
        Err(e) => {
            tracing::warn!(error = %e, "{what}");
            *failed += 1;
            0
        }
    }
}

fn conflict_is_skip(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(m) => ApiError::conflict(m),
        other => other.into(),
    }
}
