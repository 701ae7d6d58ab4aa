//! Browser sessions: a random id in an HttpOnly cookie, stored hashed.

use charter_domain::UserId;
use charter_domain::time::{Millis, now_ms};
use serde_json::json;
use sqlx::Row;

use crate::user::{User, columns_prefixed, from_row as user_from_row};
use crate::{AuditContext, Store, StoreError, WriteTx};

/// A live session and whose it is.
#[derive(Debug, Clone)]
pub struct Session {
    pub id_hash: String,
    pub user: User,
    /// The token browser forms must echo back (CSRF protection).
    pub csrf_token: String,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// A session about to start.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id_hash: String,
    pub user_id: UserId,
    pub csrf_token: String,
    pub expires_at: Millis,
    pub client_addr: String,
    pub user_agent: String,
}

impl Store {
    /// The unexpired session with this id hash, if its user is not disabled.
    pub async fn session(&self, id_hash: &str) -> Result<Option<Session>, StoreError> {
        let sql = format!(
            "SELECT s.id_hash, s.csrf_token, s.created_at, s.expires_at, {} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2 AND u.disabled = 0",
            columns_prefixed("u")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id_hash)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(Session {
                id_hash: r.try_get(0)?,
                csrf_token: r.try_get(1)?,
                created_at: r.try_get(2)?,
                expires_at: r.try_get(3)?,
                user: user_from_row(&r, 4)?,
            })
        })
        .transpose()
    }

    /// Remove expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(tx.conn())
            .await?
            .rows_affected();
        tx.commit_unaudited("expired sessions already ended; removing them changes nothing governed")
            .await?;
        Ok(n)
    }
}

/// Start a session (sign-in); audited as `session.created`.
pub async fn create(tx: &mut WriteTx, ctx: &AuditContext, new: NewSession) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, client_addr, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&new.id_hash)
    .bind(new.user_id.to_string())
    .bind(&new.csrf_token)
    .bind(now_ms())
    .bind(new.expires_at)
    .bind(&new.client_addr)
    .bind(&new.user_agent)
    .execute(tx.conn())
    .await?;
    // The session id itself is a secret: record only a short prefix of its hash.
    tx.audit(ctx.event(
        "session.created",
        "user",
        new.user_id,
        json!({ "session": &new.id_hash[..12.min(new.id_hash.len())], "user_agent": new.user_agent }),
    ));
    Ok(())
}

/// End a session (sign-out); audited as `session.ended`.
pub async fn end(tx: &mut WriteTx, ctx: &AuditContext, session: &Session) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(&session.id_hash)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "session.ended",
        "user",
        session.user.id,
        json!({ "session": &session.id_hash[..12.min(session.id_hash.len())] }),
    ));
    Ok(())
}
