//! Monitors: a CEL condition over a project's windowed statistics, evaluated on a
//! schedule. Each row carries an optimistic `version`, so when several replicas run
//! the scheduler only one evaluation of a due monitor wins; the others find their
//! update refused and skip.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{BundleId, FindingId, MonitorId, PolicyId, ProjectId, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// A monitor as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    pub id: MonitorId,
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
    /// The CEL condition.
    pub expression: String,
    /// Request-level figures count spans of this kind (root spans when `None`).
    pub span_kind: Option<String>,
    pub window_secs: i64,
    pub interval_secs: i64,
    /// Severity of the findings it raises.
    pub severity: String,
    pub bundle_id: Option<BundleId>,
    pub policy_id: Option<PolicyId>,
    /// The `policyMonitoringCheck` it was made from.
    pub check_id: Option<String>,
    /// Usernames and group names told when it triggers.
    pub recipients: Vec<String>,
    pub enabled: bool,
    /// `pending`, `healthy`, `no_data` or `triggered`.
    pub state: String,
    pub state_since: Option<Millis>,
    pub last_evaluated_at: Option<Millis>,
    pub next_due_at: Millis,
    /// JSON of the last evaluation's figures.
    pub last_stats: Option<String>,
    pub last_error: Option<String>,
    pub last_finding_id: Option<FindingId>,
    pub created_by: UserId,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub version: i64,
}

/// A monitor's definition: what create and update take.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMonitor {
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
    pub expression: String,
    pub span_kind: Option<String>,
    pub window_secs: i64,
    pub interval_secs: i64,
    pub severity: String,
    pub bundle_id: Option<BundleId>,
    pub policy_id: Option<PolicyId>,
    pub check_id: Option<String>,
    pub recipients: Vec<String>,
    pub enabled: bool,
}

/// A monitor entering a new state.
#[derive(Debug, Clone, PartialEq)]
pub struct MonitorChange {
    pub to_state: &'static str,
    pub at: Millis,
    pub next_due_at: Millis,
    /// The figures that caused it, as JSON.
    pub stats: String,
    pub finding_id: Option<FindingId>,
    pub error: Option<String>,
}

/// A recorded change of state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorEvent {
    pub at: Millis,
    pub from_state: String,
    pub to_state: String,
    pub stats: String,
    pub finding_id: Option<String>,
}

const COLUMNS: &str = "id, project_id, name, description, expression, span_kind, window_secs, interval_secs, severity, \
     bundle_id, policy_id, check_id, recipients, enabled, state, state_since, last_evaluated_at, next_due_at, \
     last_stats, last_error, last_finding_id, created_by, created_at, updated_at, version";

fn opt_id<T: std::str::FromStr<Err = charter_domain::id::IdError>>(v: Option<String>) -> Result<Option<T>, StoreError> {
    v.map(decode_id).transpose()
}

fn from_row(r: &AnyRow) -> Result<Monitor, StoreError> {
    let recipients: String = r.try_get(12)?;
    Ok(Monitor {
        id: decode_id(r.try_get::<String, _>(0)?)?,
        project_id: decode_id(r.try_get::<String, _>(1)?)?,
        name: r.try_get(2)?,
        description: r.try_get(3)?,
        expression: r.try_get(4)?,
        span_kind: r.try_get(5)?,
        window_secs: r.try_get(6)?,
        interval_secs: r.try_get(7)?,
        severity: r.try_get(8)?,
        bundle_id: opt_id(r.try_get(9)?)?,
        policy_id: opt_id(r.try_get(10)?)?,
        check_id: r.try_get(11)?,
        recipients: serde_json::from_str(&recipients).unwrap_or_default(),
        enabled: r.try_get::<i64, _>(13)? != 0,
        state: r.try_get(14)?,
        state_since: r.try_get(15)?,
        last_evaluated_at: r.try_get(16)?,
        next_due_at: r.try_get(17)?,
        last_stats: r.try_get(18)?,
        last_error: r.try_get(19)?,
        last_finding_id: opt_id(r.try_get(20)?)?,
        created_by: decode_id(r.try_get::<String, _>(21)?)?,
        created_at: r.try_get(22)?,
        updated_at: r.try_get(23)?,
        version: r.try_get(24)?,
    })
}

fn definition(m: &NewMonitor) -> serde_json::Value {
    json!({
        "name": m.name, "description": m.description, "condition": m.expression, "span_kind": m.span_kind,
        "window_secs": m.window_secs, "interval_secs": m.interval_secs, "severity": m.severity,
        "bundle_id": m.bundle_id.map(|b| b.to_string()), "policy_id": m.policy_id.map(|p| p.to_string()),
        "check_id": m.check_id, "recipients": m.recipients, "enabled": m.enabled,
    })
}

impl Monitor {
    /// Its definition, as create and update take it.
    pub fn definition(&self) -> NewMonitor {
        NewMonitor {
            project_id: self.project_id,
            name: self.name.clone(),
            description: self.description.clone(),
            expression: self.expression.clone(),
            span_kind: self.span_kind.clone(),
            window_secs: self.window_secs,
            interval_secs: self.interval_secs,
            severity: self.severity.clone(),
            bundle_id: self.bundle_id,
            policy_id: self.policy_id,
            check_id: self.check_id.clone(),
            recipients: self.recipients.clone(),
            enabled: self.enabled,
        }
    }
}

impl Store {
    /// A project's monitors by name.
    pub async fn monitors(&self, project: ProjectId) -> Result<Vec<Monitor>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM telemetry_monitors WHERE project_id = $1 ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Monitors linked to a bundle.
    pub async fn monitors_of_bundle(&self, bundle: BundleId) -> Result<Vec<Monitor>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM telemetry_monitors WHERE bundle_id = $1 ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bundle.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn monitor(&self, id: MonitorId) -> Result<Monitor, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM telemetry_monitors WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("monitor {id}")))?;
        from_row(&row)
    }

    /// Enabled monitors due at `now`, most overdue first.
    pub async fn due_monitors(&self, now: Millis) -> Result<Vec<Monitor>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM telemetry_monitors WHERE enabled = 1 AND next_due_at <= $1 ORDER BY next_due_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// A monitor's changes of state, newest first.
    pub async fn monitor_events(&self, id: MonitorId, limit: i64) -> Result<Vec<MonitorEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, from_state, to_state, stats, finding_id FROM telemetry_monitor_events \
             WHERE monitor_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(id.to_string())
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MonitorEvent {
                    at: r.try_get(0)?,
                    from_state: r.try_get(1)?,
                    to_state: r.try_get(2)?,
                    stats: r.try_get(3)?,
                    finding_id: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Record an evaluation that left the state as it was (bookkeeping). Fails
    /// with a conflict when someone else evaluated or changed the monitor first.
    pub async fn record_monitor_evaluation(
        &self,
        monitor: &Monitor,
        at: Millis,
        next_due_at: Millis,
        stats: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "UPDATE telemetry_monitors SET last_evaluated_at = $1, next_due_at = $2, last_stats = $3, last_error = $4, \
             version = version + 1 WHERE id = $5 AND version = $6",
        )
        .bind(at)
        .bind(next_due_at)
        .bind(stats)
        .bind(error)
        .bind(monitor.id.to_string())
        .bind(monitor.version)
        .execute(tx.conn())
        .await?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "monitor `{}` was evaluated or changed meanwhile",
                monitor.name
            )));
        }
        tx.commit_unaudited("an evaluation that changes no state is bookkeeping; state changes are audited")
            .await
    }
}

/// Create a monitor; audited as `monitor.created`. It is due at once.
pub async fn create_monitor(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    new: &NewMonitor,
    by: &User,
) -> Result<Monitor, StoreError> {
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM telemetry_monitors WHERE project_id = $1 AND name = $2")
        .bind(new.project_id.to_string())
        .bind(&new.name)
        .fetch_one(tx.conn())
        .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!(
            "a monitor named `{}` already exists in this project",
            new.name
        )));
    }
    let now = now_ms();
    let m = Monitor {
        id: MonitorId::new(),
        project_id: new.project_id,
        name: new.name.clone(),
        description: new.description.clone(),
        expression: new.expression.clone(),
        span_kind: new.span_kind.clone(),
        window_secs: new.window_secs,
        interval_secs: new.interval_secs,
        severity: new.severity.clone(),
        bundle_id: new.bundle_id,
        policy_id: new.policy_id,
        check_id: new.check_id.clone(),
        recipients: new.recipients.clone(),
        enabled: new.enabled,
        state: "pending".into(),
        state_since: Some(now),
        last_evaluated_at: None,
        next_due_at: now,
        last_stats: None,
        last_error: None,
        last_finding_id: None,
        created_by: by.id,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    sqlx::query(
        "INSERT INTO telemetry_monitors (id, project_id, name, description, expression, span_kind, window_secs, \
         interval_secs, severity, bundle_id, policy_id, check_id, recipients, enabled, state, state_since, \
         next_due_at, created_by, created_at, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19, 1)",
    )
    .bind(m.id.to_string())
    .bind(m.project_id.to_string())
    .bind(&m.name)
    .bind(&m.description)
    .bind(&m.expression)
    .bind(&m.span_kind)
    .bind(m.window_secs)
    .bind(m.interval_secs)
    .bind(&m.severity)
    .bind(m.bundle_id.map(|b| b.to_string()))
    .bind(m.policy_id.map(|p| p.to_string()))
    .bind(&m.check_id)
    .bind(serde_json::to_string(&m.recipients).unwrap_or_else(|_| "[]".into()))
    .bind(i64::from(m.enabled))
    .bind(&m.state)
    .bind(now)
    .bind(m.next_due_at)
    .bind(by.id.to_string())
    .bind(now)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event(
        "monitor.created",
        "monitor",
        m.id,
        json!({ "project_id": m.project_id.to_string(), "after": definition(new) }),
    ));
    Ok(m)
}

/// Change a monitor's definition (optimistically, against the version read);
/// audited as `monitor.updated` with before and after. A changed definition is
/// evaluated again at once.
pub async fn update_monitor(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    before: &Monitor,
    after: &NewMonitor,
) -> Result<Monitor, StoreError> {
    if after.name != before.name {
        let taken: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM telemetry_monitors WHERE project_id = $1 AND name = $2")
                .bind(before.project_id.to_string())
                .bind(&after.name)
                .fetch_one(tx.conn())
                .await?;
        if taken > 0 {
            return Err(StoreError::Conflict(format!(
                "a monitor named `{}` already exists in this project",
                after.name
            )));
        }
    }
    let now = now_ms();
    let n = sqlx::query(
        "UPDATE telemetry_monitors SET name = $1, description = $2, expression = $3, span_kind = $4, window_secs = $5, \
         interval_secs = $6, severity = $7, bundle_id = $8, policy_id = $9, check_id = $10, recipients = $11, \
         enabled = $12, next_due_at = $13, updated_at = $13, version = version + 1 WHERE id = $14 AND version = $15",
    )
    .bind(&after.name)
    .bind(&after.description)
    .bind(&after.expression)
    .bind(&after.span_kind)
    .bind(after.window_secs)
    .bind(after.interval_secs)
    .bind(&after.severity)
    .bind(after.bundle_id.map(|b| b.to_string()))
    .bind(after.policy_id.map(|p| p.to_string()))
    .bind(&after.check_id)
    .bind(serde_json::to_string(&after.recipients).unwrap_or_else(|_| "[]".into()))
    .bind(i64::from(after.enabled))
    .bind(now)
    .bind(before.id.to_string())
    .bind(before.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "monitor `{}` changed meanwhile; reload it and try again",
            before.name
        )));
    }
    tx.audit(ctx.event(
        "monitor.updated",
        "monitor",
        before.id,
        json!({ "before": definition(&before.definition()), "after": definition(after) }),
    ));
    let m: Monitor = {
        let sql = format!("SELECT {COLUMNS} FROM telemetry_monitors WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(before.id.to_string())
            .fetch_one(tx.conn())
            .await?;
        from_row(&row)?
    };
    Ok(m)
}

/// Delete a monitor and its history; audited as `monitor.deleted`.
pub async fn delete_monitor(tx: &mut WriteTx, ctx: &AuditContext, m: &Monitor) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM telemetry_monitor_events WHERE monitor_id = $1")
        .bind(m.id.to_string())
        .execute(tx.conn())
        .await?;
    let n = sqlx::query("DELETE FROM telemetry_monitors WHERE id = $1")
        .bind(m.id.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound(format!("monitor {}", m.id)));
    }
    tx.audit(ctx.event(
        "monitor.deleted",
        "monitor",
        m.id,
        json!({ "project_id": m.project_id.to_string(), "before": definition(&m.definition()), "state": m.state }),
    ));
    Ok(())
}

/// Move a monitor to a new state (optimistically), keep the change in its history,
/// and audit it: `monitor.triggered`, `monitor.recovered` (back to healthy),
/// `monitor.no_data`.
pub async fn change_state(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    m: &Monitor,
    change: &MonitorChange,
) -> Result<(), StoreError> {
    let n = sqlx::query(
        "UPDATE telemetry_monitors SET state = $1, state_since = $2, last_evaluated_at = $2, next_due_at = $3, \
         last_stats = $4, last_error = $5, last_finding_id = COALESCE($6, last_finding_id), version = version + 1 \
         WHERE id = $7 AND version = $8",
    )
    .bind(change.to_state)
    .bind(change.at)
    .bind(change.next_due_at)
    .bind(&change.stats)
    .bind(&change.error)
    .bind(change.finding_id.map(|f| f.to_string()))
    .bind(m.id.to_string())
    .bind(m.version)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "monitor `{}` was evaluated or changed meanwhile",
            m.name
        )));
    }
    sqlx::query(
        "INSERT INTO telemetry_monitor_events (monitor_id, at, from_state, to_state, stats, finding_id) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(m.id.to_string())
    .bind(change.at)
    .bind(&m.state)
    .bind(change.to_state)
    .bind(&change.stats)
    .bind(change.finding_id.map(|f| f.to_string()))
    .execute(tx.conn())
    .await?;
    let action = match change.to_state {
        "triggered" => "monitor.triggered",
        "healthy" => "monitor.recovered",
        "no_data" => "monitor.no_data",
        _ => "monitor.state_changed",
    };
    tx.audit(ctx.event(
        action,
        "monitor",
        m.id,
        json!({
            "project_id": m.project_id.to_string(), "name": m.name, "condition": m.expression,
            "from": m.state, "to": change.to_state,
            "stats": serde_json::from_str::<serde_json::Value>(&change.stats).unwrap_or_default(),
            "finding_id": change.finding_id.map(|f| f.to_string()), "error": change.error,
        }),
    ));
    Ok(())
}
