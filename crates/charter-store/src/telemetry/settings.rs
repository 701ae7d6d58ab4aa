//! A project's telemetry settings (retention, redaction rules) and its ingest
//! tokens. Both are governed: every change is audited.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{IngestTokenId, ProjectId, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// Retention and redaction for one project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySettings {
    pub project_id: ProjectId,
    /// Spans older than this many days are deleted.
    pub retention_days: Option<i64>,
    /// Only the newest this many spans are kept.
    pub retention_max_spans: Option<i64>,
    /// The redaction rules, as a JSON array.
    pub redaction: String,
    pub updated_by: Option<UserId>,
    pub updated_at: Millis,
    pub version: i64,
}

impl TelemetrySettings {
    /// What a project without stored settings has: keep everything, redact nothing.
    pub fn defaults(project_id: ProjectId) -> Self {
        Self {
            project_id,
            retention_days: None,
            retention_max_spans: None,
            redaction: "[]".into(),
            updated_by: None,
            updated_at: 0,
            version: 0,
        }
    }
}

const SETTINGS_COLUMNS: &str =
    "project_id, retention_days, retention_max_spans, redaction, updated_by, updated_at, version";

fn settings_from_row(r: &AnyRow) -> Result<TelemetrySettings, StoreError> {
    Ok(TelemetrySettings {
        project_id: decode_id(r.try_get::<String, _>(0)?)?,
        retention_days: r.try_get(1)?,
        retention_max_spans: r.try_get(2)?,
        redaction: r.try_get(3)?,
        updated_by: Some(decode_id(r.try_get::<String, _>(4)?)?),
        updated_at: r.try_get(5)?,
        version: r.try_get(6)?,
    })
}

/// A project ingest token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestToken {
    pub id: IngestTokenId,
    pub project_id: ProjectId,
    pub name: String,
    pub prefix: String,
    pub created_by: UserId,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

const TOKEN_COLUMNS: &str = "id, project_id, name, prefix, created_by, created_at, last_used_at, revoked_at";

fn token_from_row(r: &AnyRow) -> Result<IngestToken, StoreError> {
    Ok(IngestToken {
        id: decode_id(r.try_get::<String, _>(0)?)?,
        project_id: decode_id(r.try_get::<String, _>(1)?)?,
        name: r.try_get(2)?,
        prefix: r.try_get(3)?,
        created_by: decode_id(r.try_get::<String, _>(4)?)?,
        created_at: r.try_get(5)?,
        last_used_at: r.try_get(6)?,
        revoked_at: r.try_get(7)?,
    })
}

impl Store {
    /// A project's settings (the defaults when none were saved).
    pub async fn telemetry_settings(&self, project: ProjectId) -> Result<TelemetrySettings, StoreError> {
        let sql = format!("SELECT {SETTINGS_COLUMNS} FROM telemetry_settings WHERE project_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => settings_from_row(&r),
            None => Ok(TelemetrySettings::defaults(project)),
        }
    }

    /// Every project's saved settings (for the retention job).
    pub async fn all_telemetry_settings(&self) -> Result<Vec<TelemetrySettings>, StoreError> {
        let sql = format!("SELECT {SETTINGS_COLUMNS} FROM telemetry_settings ORDER BY project_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(settings_from_row).collect()
    }

    pub async fn ingest_tokens(&self, project: ProjectId) -> Result<Vec<IngestToken>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM telemetry_ingest_tokens WHERE project_id = $1 ORDER BY created_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    pub async fn ingest_token(&self, id: IngestTokenId) -> Result<IngestToken, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM telemetry_ingest_tokens WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("ingest token {id}")))?;
        token_from_row(&row)
    }

    /// The token with this secret hash, whatever its state.
    pub async fn ingest_token_by_hash(&self, hash: &str) -> Result<Option<IngestToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM telemetry_ingest_tokens WHERE token_hash = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| token_from_row(&r)).transpose()
    }

    /// Record that a token was used (bookkeeping; at most once a minute).
    pub async fn touch_ingest_token(&self, token: &IngestToken) -> Result<(), StoreError> {
        let now = now_ms();
        if token.last_used_at.is_some_and(|t| now - t < 60_000) {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE telemetry_ingest_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token.id.to_string())
            .execute(tx.conn())
            .await?;
        tx.commit_unaudited("an ingest token's last-used time is bookkeeping")
            .await
    }
}

/// Save a project's settings; audited as `telemetry.settings_changed` with what
/// they were and are.
pub async fn save_settings(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    before: &TelemetrySettings,
    retention_days: Option<i64>,
    retention_max_spans: Option<i64>,
    redaction: &str,
    by: &User,
) -> Result<TelemetrySettings, StoreError> {
    let now = now_ms();
    let row = sqlx::query(
        "INSERT INTO telemetry_settings (project_id, retention_days, retention_max_spans, redaction, updated_by, updated_at, version) \
         VALUES ($1, $2, $3, $4, $5, $6, 1) \
         ON CONFLICT (project_id) DO UPDATE SET retention_days = excluded.retention_days, \
         retention_max_spans = excluded.retention_max_spans, redaction = excluded.redaction, \
         updated_by = excluded.updated_by, updated_at = excluded.updated_at, version = telemetry_settings.version + 1 \
         RETURNING version",
    )
    .bind(before.project_id.to_string())
    .bind(retention_days)
    .bind(retention_max_spans)
    .bind(redaction)
    .bind(by.id.to_string())
    .bind(now)
    .fetch_one(tx.conn())
    .await?;
    let after = TelemetrySettings {
        project_id: before.project_id,
        retention_days,
        retention_max_spans,
        redaction: redaction.to_owned(),
        updated_by: Some(by.id),
        updated_at: now,
        version: row.try_get(0)?,
    };
    let view = |s: &TelemetrySettings| {
        json!({
            "retention_days": s.retention_days,
            "retention_max_spans": s.retention_max_spans,
            "redaction": serde_json::from_str::<serde_json::Value>(&s.redaction).unwrap_or_default(),
        })
    };
    tx.audit(ctx.event(
        "telemetry.settings_changed",
        "project",
        before.project_id,
        json!({ "before": view(before), "after": view(&after) }),
    ));
    Ok(after)
}

/// Create an ingest token (its hash and display prefix); audited as
/// `ingest_token.created` (the secret is not recorded).
pub async fn create_ingest_token(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    project: ProjectId,
    name: &str,
    token_hash: &str,
    prefix: &str,
    by: &User,
) -> Result<IngestToken, StoreError> {
    let token = IngestToken {
        id: IngestTokenId::new(),
        project_id: project,
        name: name.to_owned(),
        prefix: prefix.to_owned(),
        created_by: by.id,
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO telemetry_ingest_tokens (id, project_id, name, prefix, token_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token.id.to_string())
    .bind(project.to_string())
    .bind(name)
    .bind(prefix)
    .bind(token_hash)
    .bind(by.id.to_string())
    .bind(token.created_at)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event(
        "ingest_token.created",
        "project",
        project,
        json!({ "token_id": token.id.to_string(), "name": name, "prefix": prefix }),
    ));
    Ok(token)
}

/// Revoke an ingest token; audited as `ingest_token.revoked`.
pub async fn revoke_ingest_token(tx: &mut WriteTx, ctx: &AuditContext, token: &IngestToken) -> Result<(), StoreError> {
    let n = sqlx::query("UPDATE telemetry_ingest_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(token.id.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::Conflict(format!(
            "ingest token `{}` is already revoked",
            token.name
        )));
    }
    tx.audit(ctx.event(
        "ingest_token.revoked",
        "project",
        token.project_id,
        json!({ "token_id": token.id.to_string(), "name": token.name, "prefix": token.prefix }),
    ));
    Ok(())
}
