//! Findings (issues in the way of compliance), their comments, and waivers
//! (accepted deviations with an expiry).

use charter_domain::time::{Millis, now_ms};
use charter_domain::{ApprovalId, BundleId, CommentId, FindingId, PolicyId, UserId, WaiverId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Low, Severity::Medium, Severity::High, Severity::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text.to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingStatus {
    Open,
    InProgress,
    Resolved,
    WontDo,
    Closed,
}

impl FindingStatus {
    pub const ALL: [FindingStatus; 5] = [
        FindingStatus::Open,
        FindingStatus::InProgress,
        FindingStatus::Resolved,
        FindingStatus::WontDo,
        FindingStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingStatus::Open => "open",
            FindingStatus::InProgress => "in_progress",
            FindingStatus::Resolved => "resolved",
            FindingStatus::WontDo => "wont_do",
            FindingStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Open or in progress: still standing in the way.
    pub fn is_unresolved(self) -> bool {
        matches!(self, FindingStatus::Open | FindingStatus::InProgress)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: FindingId,
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    pub stage: String,
    pub approval_id: Option<ApprovalId>,
    pub name: String,
    pub description: String,
    pub severity: Severity,
    pub status: FindingStatus,
    pub assignee_id: Option<UserId>,
    pub approver_id: Option<UserId>,
    pub due_at: Option<Millis>,
    pub resolution: String,
    pub created_by: UserId,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Finding {
    /// Unresolved past its due date.
    pub fn is_overdue(&self, now: Millis) -> bool {
        self.status.is_unresolved() && self.due_at.is_some_and(|d| d < now)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: CommentId,
    pub finding_id: FindingId,
    pub author_id: UserId,
    pub body: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    pub id: WaiverId,
    pub bundle_id: BundleId,
    pub finding_id: Option<FindingId>,
    pub justification: String,
    pub approver_id: UserId,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub expires_at: Millis,
    pub created_by: UserId,
    pub created_at: Millis,
}

const COLUMNS: &str = "id, bundle_id, policy_id, stage, approval_id, name, description, severity, status, \
                       assignee_id, approver_id, due_at, resolution, created_by, created_at, updated_at";
const WAIVER_COLUMNS: &str =
    "id, bundle_id, finding_id, justification, approver_id, status, expires_at, created_by, created_at";

fn opt_id<T: std::str::FromStr<Err = charter_domain::id::IdError>>(v: Option<String>) -> Result<Option<T>, StoreError> {
    v.map(decode_id).transpose()
}

fn from_row(row: &AnyRow) -> Result<Finding, StoreError> {
    let severity: String = row.try_get(7)?;
    let status: String = row.try_get(8)?;
    Ok(Finding {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        bundle_id: decode_id(row.try_get::<String, _>(1)?)?,
        policy_id: decode_id(row.try_get::<String, _>(2)?)?,
        stage: row.try_get(3)?,
        approval_id: opt_id(row.try_get(4)?)?,
        name: row.try_get(5)?,
        description: row.try_get(6)?,
        severity: Severity::parse(&severity).unwrap_or(Severity::Medium),
        status: FindingStatus::parse(&status).unwrap_or(FindingStatus::Open),
        assignee_id: opt_id(row.try_get(9)?)?,
        approver_id: opt_id(row.try_get(10)?)?,
        due_at: row.try_get(11)?,
        resolution: row.try_get(12)?,
        created_by: decode_id(row.try_get::<String, _>(13)?)?,
        created_at: row.try_get(14)?,
        updated_at: row.try_get(15)?,
    })
}

fn waiver_from_row(row: &AnyRow) -> Result<Waiver, StoreError> {
    Ok(Waiver {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        bundle_id: decode_id(row.try_get::<String, _>(1)?)?,
        finding_id: opt_id(row.try_get(2)?)?,
        justification: row.try_get(3)?,
        approver_id: decode_id(row.try_get::<String, _>(4)?)?,
        status: row.try_get(5)?,
        expires_at: row.try_get(6)?,
        created_by: decode_id(row.try_get::<String, _>(7)?)?,
        created_at: row.try_get(8)?,
    })
}

fn finding_json(f: &Finding) -> serde_json::Value {
    json!({
        "name": f.name, "severity": f.severity.as_str(), "status": f.status.as_str(), "stage": f.stage,
        "approval_id": f.approval_id.map(|a| a.to_string()), "assignee_id": f.assignee_id.map(|u| u.to_string()),
        "approver_id": f.approver_id.map(|u| u.to_string()), "due_at": f.due_at, "resolution": f.resolution,
    })
}

impl Store {
    /// Findings, newest first; of one bundle when `bundle` is given.
    pub async fn findings(&self, bundle: Option<BundleId>) -> Result<Vec<Finding>, StoreError> {
        let rows = match bundle {
            Some(b) => {
                let sql =
                    format!("SELECT {COLUMNS} FROM findings WHERE bundle_id = $1 ORDER BY created_at DESC, id DESC");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(b.to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {COLUMNS} FROM findings ORDER BY created_at DESC, id DESC");
                sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    pub async fn finding(&self, id: FindingId) -> Result<Finding, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM findings WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("finding {id}")))?;
        from_row(&row)
    }

    /// Findings linked to an approval (its conditions).
    pub async fn findings_of_approval(&self, approval: ApprovalId) -> Result<Vec<Finding>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM findings WHERE approval_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(approval.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn comments(&self, finding: FindingId) -> Result<Vec<Comment>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, finding_id, author_id, body, created_at FROM finding_comments WHERE finding_id = $1 ORDER BY created_at, id",
        )
        .bind(finding.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Comment {
                    id: decode_id(r.try_get::<String, _>(0)?)?,
                    finding_id: decode_id(r.try_get::<String, _>(1)?)?,
                    author_id: decode_id(r.try_get::<String, _>(2)?)?,
                    body: r.try_get(3)?,
                    created_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// A waiver by id.
    pub async fn waiver(&self, id: WaiverId) -> Result<Waiver, StoreError> {
        let sql = format!("SELECT {WAIVER_COLUMNS} FROM waivers WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("waiver {id}")))?;
        waiver_from_row(&row)
    }

    /// Waivers, newest first; of one bundle when given.
    pub async fn waivers(&self, bundle: Option<BundleId>) -> Result<Vec<Waiver>, StoreError> {
        let rows = match bundle {
            Some(b) => {
                let sql = format!(
                    "SELECT {WAIVER_COLUMNS} FROM waivers WHERE bundle_id = $1 ORDER BY created_at DESC, id DESC"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(b.to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {WAIVER_COLUMNS} FROM waivers ORDER BY created_at DESC, id DESC");
                sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(waiver_from_row).collect()
    }
}

/// A finding about to be logged.
#[derive(Debug, Clone)]
pub struct NewFinding {
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    pub stage: String,
    pub approval_id: Option<ApprovalId>,
    pub name: String,
    pub description: String,
    pub severity: Severity,
    pub assignee_id: Option<UserId>,
    pub approver_id: Option<UserId>,
    pub due_at: Option<Millis>,
}

/// Log a finding; audited as `finding.created`.
pub async fn create(tx: &mut WriteTx, ctx: &AuditContext, new: NewFinding, by: &User) -> Result<Finding, StoreError> {
    let now = now_ms();
    let f = Finding {
        id: FindingId::new(),
        bundle_id: new.bundle_id,
        policy_id: new.policy_id,
        stage: new.stage,
        approval_id: new.approval_id,
        name: new.name,
        description: new.description,
        severity: new.severity,
        status: FindingStatus::Open,
        assignee_id: new.assignee_id,
        approver_id: new.approver_id,
        due_at: new.due_at,
        resolution: String::new(),
        created_by: by.id,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO findings (id, bundle_id, policy_id, stage, approval_id, name, description, severity, status, \
         assignee_id, approver_id, due_at, resolution, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '', $13, $14, $14)",
    )
    .bind(f.id.to_string())
    .bind(f.bundle_id.to_string())
    .bind(f.policy_id.to_string())
    .bind(&f.stage)
    .bind(f.approval_id.map(|a| a.to_string()))
    .bind(&f.name)
    .bind(&f.description)
    .bind(f.severity.as_str())
    .bind(f.status.as_str())
    .bind(f.assignee_id.map(|u| u.to_string()))
    .bind(f.approver_id.map(|u| u.to_string()))
    .bind(f.due_at)
    .bind(by.id.to_string())
    .bind(now)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event(
        "finding.created",
        "finding",
        f.id,
        json!({ "bundle_id": f.bundle_id.to_string(), "after": finding_json(&f), "description": f.description }),
    ));
    Ok(f)
}

/// Save a changed finding (status, assignee, due date, resolution, link); audited
/// as `finding.<status>` for status changes (`finding.resolved`, `finding.closed`…)
/// or `finding.updated`, with before and after.
pub async fn update(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    before: &Finding,
    after: Finding,
) -> Result<Finding, StoreError> {
    let after = Finding {
        updated_at: now_ms(),
        ..after
    };
    let changed = sqlx::query(
        "UPDATE findings SET status = $1, severity = $2, assignee_id = $3, approver_id = $4, due_at = $5, resolution = $6, \
         approval_id = $7, description = $8, updated_at = $9 WHERE id = $10 AND updated_at = $11",
    )
    .bind(after.status.as_str())
    .bind(after.severity.as_str())
    .bind(after.assignee_id.map(|u| u.to_string()))
    .bind(after.approver_id.map(|u| u.to_string()))
    .bind(after.due_at)
    .bind(&after.resolution)
    .bind(after.approval_id.map(|a| a.to_string()))
    .bind(&after.description)
    .bind(after.updated_at)
    .bind(before.id.to_string())
    .bind(before.updated_at)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "finding `{}` was changed meanwhile; reload it",
            before.name
        )));
    }
    let action = if before.status == after.status {
        "finding.updated".to_owned()
    } else {
        format!("finding.{}", after.status.as_str())
    };
    tx.audit(ctx.event(
        &action,
        "finding",
        before.id,
        json!({ "bundle_id": before.bundle_id.to_string(), "before": finding_json(before), "after": finding_json(&after) }),
    ));
    Ok(after)
}

/// Comment on a finding; audited as `finding.commented`.
pub async fn comment(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    finding: &Finding,
    body: &str,
    by: &User,
) -> Result<Comment, StoreError> {
    let c = Comment {
        id: CommentId::new(),
        finding_id: finding.id,
        author_id: by.id,
        body: body.to_owned(),
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO finding_comments (id, finding_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(c.id.to_string())
    .bind(finding.id.to_string())
    .bind(by.id.to_string())
    .bind(body)
    .bind(c.created_at)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event(
        "finding.commented",
        "finding",
        finding.id,
        json!({ "comment_id": c.id.to_string(), "body": body }),
    ));
    Ok(c)
}

/// Grant a waiver; audited as `waiver.granted`.
#[expect(clippy::too_many_arguments, reason = "a waiver has that many facts")]
pub async fn grant_waiver(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: BundleId,
    finding: Option<FindingId>,
    justification: &str,
    approver: &User,
    expires_at: Millis,
    by: &User,
) -> Result<Waiver, StoreError> {
    let w = Waiver {
        id: WaiverId::new(),
        bundle_id: bundle,
        finding_id: finding,
        justification: justification.to_owned(),
        approver_id: approver.id,
        status: "active".into(),
        expires_at,
        created_by: by.id,
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO waivers (id, bundle_id, finding_id, justification, approver_id, status, expires_at, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(w.id.to_string())
    .bind(bundle.to_string())
    .bind(finding.map(|f| f.to_string()))
    .bind(justification)
    .bind(approver.id.to_string())
    .bind(&w.status)
    .bind(expires_at)
    .bind(by.id.to_string())
    .bind(w.created_at)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event(
        "waiver.granted",
        "waiver",
        w.id,
        json!({ "bundle_id": bundle.to_string(), "finding_id": finding.map(|f| f.to_string()),
                "justification": justification, "approver": approver.username, "expires_at": expires_at }),
    ));
    Ok(w)
}

/// End a waiver (`expired` by the clock, or `revoked` by a person); audited as
/// `waiver.expired` / `waiver.revoked`.
pub async fn end_waiver(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    waiver: &Waiver,
    status: &'static str,
) -> Result<(), StoreError> {
    let changed = sqlx::query("UPDATE waivers SET status = $1 WHERE id = $2 AND status = 'active'")
        .bind(status)
        .bind(waiver.id.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "waiver {} is no longer active",
            waiver.id
        )));
    }
    let action = if status == "expired" {
        "waiver.expired"
    } else {
        "waiver.revoked"
    };
    tx.audit(ctx.event(
        action,
        "waiver",
        waiver.id,
        json!({ "bundle_id": waiver.bundle_id.to_string(), "finding_id": waiver.finding_id.map(|f| f.to_string()) }),
    ));
    Ok(())
}
