//! Aggregate queries behind the governance dashboard: counts are computed by the
//! database (`GROUP BY`), so the dashboard costs a handful of queries whatever the
//! number of bundles, answers and approvals.

use std::collections::HashMap;

use charter_domain::time::Millis;
use charter_domain::{BundleId, PolicyId, ProjectId};
use sqlx::Row;

use crate::approval::{self, Approval, ApprovalStatus};
use crate::bundle::BundleState;
use crate::finding::Severity;
use crate::{Store, StoreError, decode_id};

/// Which bundles a dashboard counts.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Only bundles of these projects; `None` means every project.
    pub projects: Option<Vec<ProjectId>>,
    /// Only bundles following this policy (and, for per-policy counts, only it).
    pub policy: Option<PolicyId>,
}

impl Scope {
    /// Whether the scope can hold no bundle at all (a member of no project).
    pub fn is_empty(&self) -> bool {
        self.projects.as_ref().is_some_and(Vec::is_empty)
    }

    /// `AND …` restricting the bundle alias `b` to the scope, with its binds,
    /// numbered from `$first`.
    fn bundle_filter(&self, first: usize) -> (String, Vec<String>) {
        let mut sql = String::new();
        let mut binds = Vec::new();
        if let Some(projects) = &self.projects {
            let marks: Vec<String> = (0..projects.len()).map(|i| format!("${}", first + i)).collect();
            sql.push_str(&format!(" AND b.project_id IN ({})", marks.join(", ")));
            binds.extend(projects.iter().map(ToString::to_string));
        }
        if let Some(policy) = self.policy {
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM bundle_policies x WHERE x.bundle_id = b.id AND x.policy_id = ${})",
                first + binds.len()
            ));
            binds.push(policy.to_string());
        }
        (sql, binds)
    }

    /// `bundle_id IN (live bundles in scope)` plus the policy filter on `policy_id`.
    fn live_filter(&self, first: usize) -> (String, Vec<String>) {
        let (inner, mut binds) = self.bundle_filter(first);
        let mut sql = format!(" AND bundle_id IN (SELECT b.id FROM bundles b WHERE b.state <> 'archived'{inner})");
        if let Some(policy) = self.policy {
            sql.push_str(&format!(" AND policy_id = ${}", first + binds.len()));
            binds.push(policy.to_string());
        }
        (sql, binds)
    }
}

/// Active and complete bundles of one policy in one stage with one classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingCount {
    pub state: BundleState,
    pub policy_id: PolicyId,
    pub stage: String,
    pub classification: Option<String>,
    pub count: i64,
}

/// Unresolved findings of one severity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityCount {
    pub severity: Severity,
    pub open: i64,
    pub overdue: i64,
}

/// What [`Store::dashboard_weekly`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weekly {
    BundlesCreated,
    /// Approvals granted, granted with conditions or rejected (by `decided_at`).
    ApprovalsDecided,
    FindingsOpened,
}

/// A bundle's id, name and project, for labelling dashboard rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLabel {
    pub id: BundleId,
    pub name: String,
    pub project_id: ProjectId,
}

fn corrupt(what: String) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(format!("unexpected {what} in the database").into()))
}

fn query(sql: String, binds: Vec<String>) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b);
    }
    q
}

impl Store {
    /// Bundles in scope per state.
    pub async fn dashboard_states(&self, scope: &Scope) -> Result<Vec<(BundleState, i64)>, StoreError> {
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let (filter, binds) = scope.bundle_filter(1);
        let sql = format!("SELECT b.state, COUNT(*) FROM bundles b WHERE 1 = 1{filter} GROUP BY b.state");
        let rows = query(sql, binds).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get(0)?;
                let state = BundleState::parse(&state).ok_or_else(|| corrupt(format!("bundle state `{state}`")))?;
                Ok((state, r.try_get::<i64, _>(1)?))
            })
            .collect()
    }

    /// Where live (active and complete) bundles in scope stand, per policy, stage
    /// and classification.
    pub async fn dashboard_standings(&self, scope: &Scope) -> Result<Vec<StandingCount>, StoreError> {
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let (mut filter, mut binds) = scope.bundle_filter(1);
        if let Some(policy) = scope.policy {
            filter.push_str(&format!(" AND bp.policy_id = ${}", binds.len() + 1));
            binds.push(policy.to_string());
        }
        let sql = format!(
            "SELECT b.state, bp.policy_id, bp.current_stage, bp.classification, COUNT(*) \
             FROM bundle_policies bp JOIN bundles b ON b.id = bp.bundle_id \
             WHERE b.state <> 'archived'{filter} \
             GROUP BY b.state, bp.policy_id, bp.current_stage, bp.classification"
        );
        let rows = query(sql, binds).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get(0)?;
                Ok(StandingCount {
                    state: BundleState::parse(&state).ok_or_else(|| corrupt(format!("bundle state `{state}`")))?,
                    policy_id: decode_id(r.try_get::<String, _>(1)?)?,
                    stage: r.try_get(2)?,
                    classification: r.try_get(3)?,
                    count: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// How many approvals of live bundles in scope are in `status`.
    pub async fn dashboard_approval_count(&self, scope: &Scope, status: ApprovalStatus) -> Result<i64, StoreError> {
        if scope.is_empty() {
            return Ok(0);
        }
        let (filter, mut binds) = scope.live_filter(2);
        binds.insert(0, status.as_str().to_owned());
        let sql = format!("SELECT COUNT(*) FROM approvals WHERE status = $1{filter}");
        Ok(query(sql, binds).fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Pending approvals of live bundles in scope requested before `before`, oldest first.
    pub async fn dashboard_overdue(&self, scope: &Scope, before: Millis) -> Result<Vec<Approval>, StoreError> {
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let (filter, binds) = scope.live_filter(2);
        let sql = format!(
            "SELECT {} FROM approvals WHERE status = 'pending' AND requested_at < $1{filter} ORDER BY requested_at, id",
            approval::COLUMNS
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before);
        for b in binds {
            q = q.bind(b);
        }
        q.fetch_all(&self.pool).await?.iter().map(approval::from_row).collect()
    }

    /// Granted approvals of live bundles in scope expiring in `[from, to]`, soonest first.
    pub async fn dashboard_expiring(
        &self,
        scope: &Scope,
        from: Millis,
        to: Millis,
    ) -> Result<Vec<Approval>, StoreError> {
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let granted: Vec<&str> = ApprovalStatus::ALL
            .into_iter()
            .filter(|s| s.is_granted())
            .map(ApprovalStatus::as_str)
            .collect();
        let quoted: Vec<String> = granted.iter().map(|s| format!("'{s}'")).collect();
        let (filter, binds) = scope.live_filter(3);
        let sql = format!(
            "SELECT {} FROM approvals WHERE status IN ({}) AND expires_at >= $1 AND expires_at <= $2{filter} \
             ORDER BY expires_at, id",
            approval::COLUMNS,
            quoted.join(", ")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(from).bind(to);
        for b in binds {
            q = q.bind(b);
        }
        q.fetch_all(&self.pool).await?.iter().map(approval::from_row).collect()
    }

    /// Unresolved findings of live bundles in scope per severity, with how many are
    /// past their due date at `now`.
    pub async fn dashboard_findings(&self, scope: &Scope, now: Millis) -> Result<Vec<SeverityCount>, StoreError> {
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let (filter, binds) = scope.live_filter(2);
        let sql = format!(
            "SELECT severity, COUNT(*), SUM(CASE WHEN due_at IS NOT NULL AND due_at < $1 THEN 1 ELSE 0 END) \
             FROM findings WHERE status IN ('open', 'in_progress'){filter} GROUP BY severity"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for b in binds {
            q = q.bind(b);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                let severity: String = r.try_get(0)?;
                Ok(SeverityCount {
                    severity: Severity::parse(&severity)
                        .ok_or_else(|| corrupt(format!("finding severity `{severity}`")))?,
                    open: r.try_get(1)?,
                    overdue: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Weekly counts in scope since `since`, as `(week, count)` with week 0 starting
    /// at `since` and each `week` milliseconds long: what `what` counts (bundles
    /// created, approvals decided, findings opened), archived bundles included —
    /// history happened.
    pub async fn dashboard_weekly(
        &self,
        scope: &Scope,
        what: Weekly,
        since: Millis,
        week: Millis,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let (filter, mut binds) = scope.bundle_filter(3);
        let inner = match what {
            Weekly::BundlesCreated => {
                format!("SELECT (b.created_at - $1) / $2 AS w FROM bundles b WHERE b.created_at >= $1{filter}")
            }
            Weekly::ApprovalsDecided | Weekly::FindingsOpened => {
                let (table, at) = match what {
                    Weekly::ApprovalsDecided => ("approvals", "decided_at"),
                    _ => ("findings", "created_at"),
                };
                let mut sql = format!(
                    "SELECT (t.{at} - $1) / $2 AS w FROM {table} t WHERE t.{at} >= $1 \
                     AND t.bundle_id IN (SELECT b.id FROM bundles b WHERE 1 = 1{filter})"
                );
                if let Some(policy) = scope.policy {
                    sql.push_str(&format!(" AND t.policy_id = ${}", 3 + binds.len()));
                    binds.push(policy.to_string());
                }
                sql
            }
        };
        let sql = format!("SELECT w, COUNT(*) FROM ({inner}) weeks GROUP BY w ORDER BY w");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since).bind(week);
        for b in binds {
            q = q.bind(b);
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect()
    }

    /// Which of `ids` are bundles in scope (any state), with their names.
    pub async fn dashboard_labels(
        &self,
        scope: &Scope,
        ids: &[String],
    ) -> Result<HashMap<String, BundleLabel>, StoreError> {
        let mut out = HashMap::new();
        if scope.is_empty() || ids.is_empty() {
            return Ok(out);
        }
        for chunk in ids.chunks(200) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let (filter, binds) = scope.bundle_filter(chunk.len() + 1);
            let sql = format!(
                "SELECT b.id, b.name, b.project_id FROM bundles b WHERE b.id IN ({}){filter}",
                marks.join(", ")
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.clone());
            }
            for b in binds {
                q = q.bind(b);
            }
            for r in q.fetch_all(&self.pool).await? {
                let id: String = r.try_get(0)?;
                out.insert(
                    id.clone(),
                    BundleLabel {
                        id: decode_id(id)?,
                        name: r.try_get(1)?,
                        project_id: decode_id(r.try_get::<String, _>(2)?)?,
                    },
                );
            }
        }
        Ok(out)
    }
}
