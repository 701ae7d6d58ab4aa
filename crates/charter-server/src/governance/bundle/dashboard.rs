//! The governance dashboard: where bundles stand, which approvals wait or lapse,
//! which findings are open, and what happened lately — across every project for
//! governance admins, across their own projects for everyone else.
//!
//! For now this loads rows and counts in Rust (a query per bundle for its
//! policies, one per approval status, one for findings, a bounded scan of the
//! audit log). That is simple and fine for hundreds of bundles; aggregate SQL is
//! the next step when the benchmark at 10k bundles asks for it.

use std::collections::{BTreeMap, HashMap, HashSet};

use charter_domain::BundleId;
use charter_domain::time::{Millis, now_ms, rfc3339};
use charter_store::approval::{Approval, ApprovalStatus};
use charter_store::audit::AuditFilter;
use charter_store::bundle::{Bundle, BundleState};
use charter_store::finding::Severity;
use charter_store::user::User;
use serde::Serialize;

use super::super::project::{Access, readable, require};
use crate::error::ApiResult;
use crate::state::AppState;

const DAY_MS: Millis = 86_400_000;
/// A pending approval older than this is overdue.
pub const OVERDUE_AFTER_DAYS: i64 = 7;
/// A granted approval expiring within this many days is expiring soon.
pub const EXPIRING_WITHIN_DAYS: i64 = 30;
/// Recent activity shows this many events.
pub const RECENT_EVENTS: usize = 20;
/// How far back (in events) recent activity looks for events in scope.
const ACTIVITY_SCAN_LIMIT: i64 = 5_000;

/// What the dashboard covers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DashboardScope {
    /// Every project (governance admins) or only the caller's.
    pub all_projects: bool,
    /// How many projects are counted.
    pub projects: usize,
    /// The project filter, by name, if any.
    pub project: Option<String>,
    /// The policy filter, by name, if any.
    pub policy: Option<String>,
}

/// Bundles per state.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StateCounts {
    pub active: usize,
    pub complete: usize,
    pub archived: usize,
}

/// Active bundles of one policy in one stage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyStageCount {
    /// `pol_…`.
    pub policy_id: String,
    pub policy: String,
    pub stage: String,
    pub count: usize,
}

/// Active and complete bundles of one policy with one classification.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClassificationCount {
    /// `pol_…`.
    pub policy_id: String,
    pub policy: String,
    /// `null` for bundles not (yet) classified.
    pub classification: Option<String>,
    pub count: usize,
}

/// Bundle counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BundleCounts {
    pub total: usize,
    pub by_state: StateCounts,
    /// Where active bundles stand, per policy and current stage.
    pub by_policy_stage: Vec<PolicyStageCount>,
    /// Active and complete bundles per policy and classification.
    pub by_classification: Vec<ClassificationCount>,
}

/// An approval that needs attention.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalItem {
    /// `apr_…`.
    pub approval_id: String,
    pub name: String,
    pub status: String,
    /// `bdl_…`.
    pub bundle_id: String,
    pub bundle: String,
    /// `pol_…`.
    pub policy_id: String,
    pub policy: String,
    pub stage: String,
    pub requested_at: Option<String>,
    pub expires_at: Option<String>,
    /// Whole days since review was requested (pending approvals).
    pub days_pending: Option<i64>,
    /// Whole days until it expires (expiring approvals).
    pub days_left: Option<i64>,
}

/// Approval counts (approvals of archived bundles are left out).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalCounts {
    /// Review requested, not yet decided.
    pub pending: usize,
    /// Pending for more than 7 days, oldest first.
    pub overdue: Vec<ApprovalItem>,
    /// Granted, expiring within 30 days, soonest first.
    pub expiring_soon: Vec<ApprovalItem>,
}

/// Open findings per severity.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SeverityCounts {
    pub low: usize,
    pub medium: usize,
    pub high: usize,
    pub critical: usize,
}

/// Finding counts (open or in progress; archived bundles left out).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FindingCounts {
    pub open: usize,
    /// Open past their due date.
    pub overdue: usize,
    pub open_by_severity: SeverityCounts,
}

/// One recent event touching a bundle in scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActivityItem {
    pub seq: i64,
    /// `evt_…`.
    pub id: String,
    pub occurred_at: String,
    pub actor_name: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// `bdl_…`.
    pub bundle_id: String,
    pub bundle: String,
}

/// The dashboard.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub scope: DashboardScope,
    pub bundles: BundleCounts,
    pub approvals: ApprovalCounts,
    pub findings: FindingCounts,
    /// The last 20 audit events touching bundles in scope (the bundle itself, its
    /// approvals, findings and waivers), newest first.
    pub recent_activity: Vec<ActivityItem>,
}

/// The dashboard for `user`, optionally for one project and one policy (ids or names).
pub async fn dashboard(
    state: &AppState,
    user: &User,
    project: Option<&str>,
    policy: Option<&str>,
) -> ApiResult<Dashboard> {
    let now = now_ms();
    let project = match project.map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => {
            let p = super::super::project::find(state, p).await?;
            require(state, user, &p, Access::Read).await?;
            Some(p)
        }
        None => None,
    };
    let policy = match policy.map(str::trim).filter(|s| !s.is_empty()) {
        Some(p) => Some(super::super::policy::find(state, p).await?),
        None => None,
    };
    let allowed = readable(state, user).await?;
    let projects_counted = match (&project, &allowed) {
        (Some(_), _) => 1,
        (None, Some(ids)) => ids.len(),
        (None, None) => state.store.projects().await?.len(),
    };
    let policy_names: HashMap<_, _> = state
        .store
        .policies()
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();

    // Bundles in scope, with the policies each follows.
    let mut bundles: HashMap<BundleId, Bundle> = HashMap::new();
    let mut counts = StateCounts::default();
    let mut by_stage: BTreeMap<(String, String), (String, usize)> = BTreeMap::new();
    let mut by_class: BTreeMap<(String, Option<String>), (String, usize)> = BTreeMap::new();
    for b in state.store.bundles(project.as_ref().map(|p| p.id)).await? {
        if allowed.as_ref().is_some_and(|ids| !ids.contains(&b.project_id)) {
            continue;
        }
        let standings = state.store.bundle_policies(b.id).await?;
        if let Some(p) = &policy
            && !standings.iter().any(|bp| bp.policy_id == p.id)
        {
            continue;
        }
        match b.state {
            BundleState::Active => counts.active += 1,
            BundleState::Complete => counts.complete += 1,
            BundleState::Archived => counts.archived += 1,
        }
        for bp in standings {
            if policy.as_ref().is_some_and(|p| p.id != bp.policy_id) {
                continue;
            }
            let name = policy_names.get(&bp.policy_id).cloned().unwrap_or_default();
            if b.state == BundleState::Active {
                by_stage
                    .entry((bp.policy_id.to_string(), bp.current_stage.clone()))
                    .or_insert_with(|| (name.clone(), 0))
                    .1 += 1;
            }
            if b.state != BundleState::Archived {
                by_class
                    .entry((bp.policy_id.to_string(), bp.classification.clone()))
                    .or_insert_with(|| (name, 0))
                    .1 += 1;
            }
        }
        bundles.insert(b.id, b);
    }
    let live: HashSet<BundleId> = bundles
        .values()
        .filter(|b| b.state != BundleState::Archived)
        .map(|b| b.id)
        .collect();

    // Approvals of live bundles in scope.
    let in_scope = |a: &Approval| live.contains(&a.bundle_id) && policy.as_ref().is_none_or(|p| p.id == a.policy_id);
    let item = |a: &Approval| ApprovalItem {
        approval_id: a.id.to_string(),
        name: a.name.clone(),
        status: a.status.as_str().to_owned(),
        bundle_id: a.bundle_id.to_string(),
        bundle: bundles.get(&a.bundle_id).map(|b| b.name.clone()).unwrap_or_default(),
        policy_id: a.policy_id.to_string(),
        policy: policy_names.get(&a.policy_id).cloned().unwrap_or_default(),
        stage: a.stage.clone(),
        requested_at: a.requested_at.map(rfc3339),
        expires_at: a.expires_at.map(rfc3339),
        days_pending: (a.status == ApprovalStatus::Pending)
            .then(|| a.requested_at.map(|r| (now - r) / DAY_MS))
            .flatten(),
        days_left: a.expires_at.map(|e| (e - now) / DAY_MS),
    };
    let pending: Vec<Approval> = state
        .store
        .approvals_in(&[ApprovalStatus::Pending])
        .await?
        .into_iter()
        .filter(|a| in_scope(a))
        .collect();
    let mut overdue: Vec<&Approval> = pending
        .iter()
        .filter(|a| a.requested_at.is_some_and(|r| r < now - OVERDUE_AFTER_DAYS * DAY_MS))
        .collect();
    overdue.sort_by_key(|a| a.requested_at);
    let granted: Vec<ApprovalStatus> = ApprovalStatus::ALL.into_iter().filter(|s| s.is_granted()).collect();
    let mut expiring: Vec<Approval> = state
        .store
        .approvals_in(&granted)
        .await?
        .into_iter()
        .filter(|a| in_scope(a))
        .filter(|a| {
            a.expires_at
                .is_some_and(|e| e >= now && e <= now + EXPIRING_WITHIN_DAYS * DAY_MS)
        })
        .collect();
    expiring.sort_by_key(|a| a.expires_at);

    // Open findings of live bundles in scope.
    let mut severity = SeverityCounts::default();
    let mut open = 0;
    let mut findings_overdue = 0;
    for f in state.store.findings(None).await? {
        if !live.contains(&f.bundle_id) || policy.as_ref().is_some_and(|p| p.id != f.policy_id) {
            continue;
        }
        if !f.status.is_unresolved() {
            continue;
        }
        open += 1;
        if f.is_overdue(now) {
            findings_overdue += 1;
        }
        match f.severity {
            Severity::Low => severity.low += 1,
            Severity::Medium => severity.medium += 1,
            Severity::High => severity.high += 1,
            Severity::Critical => severity.critical += 1,
        }
    }

    Ok(Dashboard {
        scope: DashboardScope {
            all_projects: allowed.is_none() && project.is_none(),
            projects: projects_counted,
            project: project.map(|p| p.name),
            policy: policy.map(|p| p.name),
        },
        bundles: BundleCounts {
            total: bundles.len(),
            by_state: counts,
            by_policy_stage: by_stage
                .into_iter()
                .map(|((policy_id, stage), (policy, count))| PolicyStageCount {
                    policy_id,
                    policy,
                    stage,
                    count,
                })
                .collect(),
            by_classification: by_class
                .into_iter()
                .map(|((policy_id, classification), (policy, count))| ClassificationCount {
                    policy_id,
                    policy,
                    classification,
                    count,
                })
                .collect(),
        },
        approvals: ApprovalCounts {
            pending: pending.len(),
            overdue: overdue.into_iter().map(item).collect(),
            expiring_soon: expiring.iter().map(item).collect(),
        },
        findings: FindingCounts {
            open,
            overdue: findings_overdue,
            open_by_severity: severity,
        },
        recent_activity: recent_activity(state, &bundles).await?,
    })
}

/// The newest events touching `bundles`: events on a bundle, or on something of
/// a bundle whose payload names it (`bundle_id`). Looks back a bounded number of
/// events, in pages.
async fn recent_activity(state: &AppState, bundles: &HashMap<BundleId, Bundle>) -> ApiResult<Vec<ActivityItem>> {
    const PAGE: i64 = 500;
    let mut out = Vec::new();
    if bundles.is_empty() {
        return Ok(out);
    }
    let by_text: HashMap<String, &Bundle> = bundles.values().map(|b| (b.id.to_string(), b)).collect();
    let mut after = None;
    let mut scanned = 0;
    while out.len() < RECENT_EVENTS && scanned < ACTIVITY_SCAN_LIMIT {
        let page = state
            .store
            .audit_events(&AuditFilter {
                after_seq: after,
                limit: Some(PAGE),
                ..AuditFilter::default()
            })
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        scanned += page.len() as i64;
        for e in &page {
            let bundle_id = if e.target_type == "bundle" {
                Some(e.target_id.clone())
            } else if e.payload.contains("bundle_id") {
                serde_json::from_str::<serde_json::Value>(&e.payload)
                    .ok()
                    .and_then(|p| p["bundle_id"].as_str().map(str::to_owned))
            } else {
                None
            };
            let Some(b) = bundle_id.as_deref().and_then(|id| by_text.get(id)) else {
                continue;
            };
            out.push(ActivityItem {
                seq: e.seq,
                id: e.id.clone(),
                occurred_at: rfc3339(e.occurred_at),
                actor_name: e.actor_name.clone(),
                action: e.action.clone(),
                target_type: e.target_type.clone(),
                target_id: e.target_id.clone(),
                bundle_id: b.id.to_string(),
                bundle: b.name.clone(),
            });
            if out.len() == RECENT_EVENTS {
                break;
            }
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    Ok(out)
}
