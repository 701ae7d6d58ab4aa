//! The governance dashboard: where bundles stand, which approvals wait or lapse,
//! which findings are open, and what happened lately — across every project for
//! governance admins, across their own projects for everyone else.
//!
//! Counting is the database's job (`charter_store::dashboard`: `GROUP BY` queries
//! over bundles, standings, approvals and findings), so the cost stays a handful of
//! queries at 10k bundles; only the approvals listed (overdue, expiring) and the
//! bundles recent activity names are loaded as rows.

use std::collections::{BTreeMap, HashMap, HashSet};

use charter_domain::time::{Millis, now_ms, rfc3339};
use charter_store::approval::{Approval, ApprovalStatus};
use charter_store::audit::AuditFilter;
use charter_store::bundle::BundleState;
use charter_store::dashboard::{Scope, Weekly};
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
/// The trend covers this many weeks, the current one last.
pub const TREND_WEEKS: i64 = 12;
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

/// One week of the trend.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrendWeek {
    /// When the week starts (weeks are the 7-day spans ending now).
    pub week_start: String,
    pub bundles_created: usize,
    /// Approvals granted, granted with conditions or rejected.
    pub approvals_decided: usize,
    pub findings_opened: usize,
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
    /// The last 12 weeks, oldest first: bundles created, approvals decided and
    /// findings opened in scope (archived bundles included).
    pub trend: Vec<TrendWeek>,
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
    let scope = Scope {
        projects: match (&project, &allowed) {
            (Some(p), _) => Some(vec![p.id]),
            (None, Some(ids)) => Some(ids.iter().copied().collect()),
            (None, None) => None,
        },
        policy: policy.as_ref().map(|p| p.id),
    };

    // Every count is its own read; they run at once on the pool's connections.
    let store = &state.store;
    let week = 7 * DAY_MS;
    let since = now - TREND_WEEKS * week;
    let ((states, standings, pending, overdue, expiring, finding_rows, recent_activity), (created, decided, opened)) =
        tokio::try_join!(
            async {
                tokio::try_join!(
                    store.dashboard_states(&scope),
                    store.dashboard_standings(&scope),
                    store.dashboard_approval_count(&scope, ApprovalStatus::Pending),
                    store.dashboard_overdue(&scope, now - OVERDUE_AFTER_DAYS * DAY_MS),
                    store.dashboard_expiring(&scope, now, now + EXPIRING_WITHIN_DAYS * DAY_MS),
                    store.dashboard_findings(&scope, now),
                    recent_activity(state, &scope),
                )
            },
            async {
                tokio::try_join!(
                    store.dashboard_weekly(&scope, Weekly::BundlesCreated, since, week),
                    store.dashboard_weekly(&scope, Weekly::ApprovalsDecided, since, week),
                    store.dashboard_weekly(&scope, Weekly::FindingsOpened, since, week),
                )
            },
        )?;
    let count_in = |rows: &[(i64, i64)], w: i64| rows.iter().find(|(k, _)| *k == w).map_or(0, |(_, n)| *n as usize);
    let trend = (0..TREND_WEEKS)
        .map(|w| TrendWeek {
            week_start: rfc3339(since + w * week),
            bundles_created: count_in(&created, w),
            approvals_decided: count_in(&decided, w),
            findings_opened: count_in(&opened, w),
        })
        .collect();

    // Bundle counts.
    let mut counts = StateCounts::default();
    for (s, n) in states {
        let n = n as usize;
        match s {
            BundleState::Active => counts.active += n,
            BundleState::Complete => counts.complete += n,
            BundleState::Archived => counts.archived += n,
        }
    }
    let mut by_stage: BTreeMap<(String, String), (String, usize)> = BTreeMap::new();
    let mut by_class: BTreeMap<(String, Option<String>), (String, usize)> = BTreeMap::new();
    for row in standings {
        let name = policy_names.get(&row.policy_id).cloned().unwrap_or_default();
        if row.state == BundleState::Active {
            by_stage
                .entry((row.policy_id.to_string(), row.stage.clone()))
                .or_insert_with(|| (name.clone(), 0))
                .1 += row.count as usize;
        }
        by_class
            .entry((row.policy_id.to_string(), row.classification.clone()))
            .or_insert_with(|| (name, 0))
            .1 += row.count as usize;
    }

    // Approvals of live bundles in scope: counted by the database, and only the
    // overdue and expiring ones loaded.
    let pending = pending as usize;
    let ids: Vec<String> = overdue
        .iter()
        .chain(&expiring)
        .map(|a| a.bundle_id.to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let labels = state.store.dashboard_labels(&scope, &ids).await?;
    let item = |a: &Approval| ApprovalItem {
        approval_id: a.id.to_string(),
        name: a.name.clone(),
        status: a.status.as_str().to_owned(),
        bundle_id: a.bundle_id.to_string(),
        bundle: labels
            .get(&a.bundle_id.to_string())
            .map(|b| b.name.clone())
            .unwrap_or_default(),
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

    // Open findings of live bundles in scope.
    let mut severity = SeverityCounts::default();
    let mut open = 0;
    let mut findings_overdue = 0;
    for row in finding_rows {
        let n = row.open as usize;
        open += n;
        findings_overdue += row.overdue as usize;
        match row.severity {
            Severity::Low => severity.low += n,
            Severity::Medium => severity.medium += n,
            Severity::High => severity.high += n,
            Severity::Critical => severity.critical += n,
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
            total: counts.active + counts.complete + counts.archived,
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
            pending,
            overdue: overdue.iter().map(item).collect(),
            expiring_soon: expiring.iter().map(item).collect(),
        },
        findings: FindingCounts {
            open,
            overdue: findings_overdue,
            open_by_severity: severity,
        },
        recent_activity,
        trend,
    })
}

/// The newest events touching bundles in scope: events on a bundle, or on
/// something of a bundle whose payload names it (`bundle_id`). Looks back a
/// bounded number of events, in pages; each page costs one query to tell which of
/// the bundles it names are in scope.
async fn recent_activity(state: &AppState, scope: &Scope) -> Result<Vec<ActivityItem>, charter_store::StoreError> {
    // Most dashboards find their 20 events in the newest page; smaller pages
    // cost less when they do.
    const PAGE: i64 = 100;
    let mut out = Vec::new();
    if scope.is_empty() {
        return Ok(out);
    }
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
        let named: Vec<Option<String>> = page
            .iter()
            .map(|e| {
                if e.target_type == "bundle" {
                    Some(e.target_id.clone())
                } else if e.payload.contains("bundle_id") {
                    serde_json::from_str::<serde_json::Value>(&e.payload)
                        .ok()
                        .and_then(|p| p["bundle_id"].as_str().map(str::to_owned))
                } else {
                    None
                }
            })
            .collect();
        let ids: Vec<String> = named
            .iter()
            .flatten()
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let labels = state.store.dashboard_labels(scope, &ids).await?;
        for (e, bundle_id) in page.iter().zip(&named) {
            let Some(b) = bundle_id.as_deref().and_then(|id| labels.get(id)) else {
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
