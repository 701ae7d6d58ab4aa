//! Migrating a bundle to another published version of one of its policies.
//!
//! A bundle stays on the policy version it was created with; moving it is an
//! explicit, audited act with a plan that says what changes. Charter's rules:
//! - approvals the new version no longer names are removed (findings linked to them
//!   keep their text and lose the link); new ones start `not_requested`;
//! - a decision stands only if nothing it rested on changed: an approval that was
//!   requested or decided is **reset** to `not_requested` when the approval itself
//!   changed (stage, approvers, sign-off) or any question, evidence set or setting
//!   of its stage changed; otherwise it is kept;
//! - answers are never deleted: answers to questions the new version lacks stay in
//!   the history and stop counting (listed as `answers_orphaned`);
//! - classification and current stage are recomputed afterwards.

use std::collections::{BTreeMap, BTreeSet};

use charter_domain::policy::{ChangeKind, Policy, Subject};
use charter_store::AuditContext;
use charter_store::approval::{Approval, ApprovalStatus};
use charter_store::bundle::{Bundle, BundleState};
use charter_store::bundle_migration::Migration;
use charter_store::user::User;
use serde::Serialize;

use super::super::project::{Access, require};
use super::super::{parsed, policy as policies};
use super::{approver_refs, bundle_policy, recompute_all};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// What migrating a bundle's policy does (or did).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MigrationPlan {
    /// `bdl_…`.
    pub bundle_id: String,
    /// `pol_…`.
    pub policy_id: String,
    pub policy: String,
    pub from_version: i64,
    pub to_version: i64,
    /// What differs between the two versions, one readable line each.
    pub changes: Vec<String>,
    /// Approvals the new version adds, as `stage/name`.
    pub approvals_added: Vec<String>,
    /// Approvals the new version no longer names, with the status they had.
    pub approvals_removed: Vec<String>,
    /// Requested or decided approvals whose basis changed: back to `not_requested`.
    pub approvals_reset: Vec<String>,
    /// Approvals kept as they stand.
    pub approvals_kept: Vec<String>,
    /// Answered questions the new version does not ask (kept in history, no longer counted).
    pub answers_orphaned: Vec<String>,
    /// False for a dry run.
    pub applied: bool,
}

/// Plan, and unless `dry_run` apply, moving `bundle` to version `to` (`published`,
/// `latest` or a number) of `policy_ref`.
pub async fn migrate(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    policy_ref: &str,
    to: &str,
    dry_run: bool,
) -> ApiResult<MigrationPlan> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, by, &project, Access::Write).await?;
    if bundle.state != BundleState::Active {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is {}; only active bundles move to another policy version",
            bundle.name,
            bundle.state.as_str()
        )));
    }
    let (bp, from_version, old) = bundle_policy(state, bundle, policy_ref).await?;
    let stored = state.store.policy(bp.policy_id).await?;
    let target = policies::find_version(state, &stored, to).await?;
    if target.status != charter_store::policy::VersionStatus::Published {
        return Err(ApiError::invalid(format!(
            "to: version {} of `{}` is {}; bundles move only to a published version",
            target.version,
            stored.name,
            target.status.as_str()
        )));
    }
    if target.id == from_version.id {
        return Err(ApiError::conflict(format!(
            "bundle `{}` already follows version {} of `{}`",
            bundle.name, target.version, stored.name
        )));
    }
    let new = parsed(state, &target)?;
    let diff = charter_domain::policy::diff(&old, &new);
    let changed_stages = changed_stages(&old, &new, &diff);
    let changed_approvals: BTreeSet<&str> = diff
        .changes
        .iter()
        .filter(|c| c.subject == Subject::Approval && c.kind == ChangeKind::Changed)
        .map(|c| c.id.as_str())
        .collect();

    let approvals: Vec<Approval> = state
        .store
        .approvals(bundle.id)
        .await?
        .into_iter()
        .filter(|a| a.policy_id == bp.policy_id)
        .collect();
    let by_name: BTreeMap<&str, &Approval> = approvals.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut m = Migration {
        bundle_id: bundle.id,
        policy_id: bp.policy_id,
        from: from_version.id,
        to: target.id,
        added: Vec::new(),
        removed: Vec::new(),
        reset: Vec::new(),
        kept: Vec::new(),
        payload: serde_json::Value::Null,
    };
    let mut plan = MigrationPlan {
        bundle_id: bundle.id.to_string(),
        policy_id: bp.policy_id.to_string(),
        policy: stored.name.clone(),
        from_version: from_version.version,
        to_version: target.version,
        changes: diff.lines(),
        approvals_added: Vec::new(),
        approvals_removed: Vec::new(),
        approvals_reset: Vec::new(),
        approvals_kept: Vec::new(),
        answers_orphaned: Vec::new(),
        applied: !dry_run,
    };
    let mut named = BTreeSet::new();
    for stage in new.stages() {
        for a in stage.approvals() {
            named.insert(a.name());
            let mut refs = approver_refs(state, &new, a).await?;
            let label = format!("{}/{}", stage.name(), a.name());
            match by_name.get(a.name()) {
                None => {
                    plan.approvals_added.push(label);
                    m.added.push((stage.name().to_owned(), a.name().to_owned(), refs));
                }
                Some(existing) => {
                    // Approvers added for this bundle stay.
                    refs.extend(existing.approvers.iter().filter(|r| r.additional).cloned());
                    let basis_changed = changed_approvals.contains(a.name())
                        || changed_stages.contains(stage.name())
                        || changed_stages.contains(existing.stage.as_str());
                    if basis_changed && existing.status != ApprovalStatus::NotRequested {
                        plan.approvals_reset
                            .push(format!("{label} (was {})", existing.status.as_str()));
                        m.reset.push(existing.id);
                    } else {
                        plan.approvals_kept
                            .push(format!("{label} ({})", existing.status.as_str()));
                    }
                    m.kept.push((existing.id, stage.name().to_owned(), refs));
                }
            }
        }
    }
    for a in &approvals {
        if !named.contains(a.name.as_str()) {
            plan.approvals_removed
                .push(format!("{}/{} (was {})", a.stage, a.name, a.status.as_str()));
            m.removed.push(a.id);
        }
    }
    let answers = state.store.latest_answers(bundle.id, bp.policy_id).await?;
    plan.answers_orphaned = answers.keys().filter(|id| new.input(id).is_none()).cloned().collect();
    if dry_run {
        return Ok(plan);
    }
    m.payload = serde_json::to_value(&plan).unwrap_or_default();
    let mut tx = state.store.begin().await?;
    charter_store::bundle_migration::apply(&mut tx, ctx, m).await?;
    tx.commit().await?;
    recompute_all(state, ctx, bundle).await?;
    Ok(plan)
}

/// Stages whose evidence or settings differ between the versions.
fn changed_stages(old: &Policy, new: &Policy, diff: &charter_domain::policy::PolicyDiff) -> BTreeSet<String> {
    let set_stage = |id: &str| {
        new.evidence_set(id)
            .or_else(|| old.evidence_set(id))
            .map(|s| s.stage().to_owned())
    };
    let mut out = BTreeSet::new();
    for c in &diff.changes {
        let stage = match c.subject {
            Subject::Stage => Some(c.id.clone()),
            Subject::EvidenceSet => set_stage(&c.id),
            Subject::Question => new
                .input(&c.id)
                .or_else(|| old.input(&c.id))
                .and_then(|i| set_stage(i.evidence_set())),
            _ => None,
        };
        out.extend(stage);
    }
    out
}
