//! Personal API tokens, stored as hashes.

use charter_domain::time::{Millis, now_ms};
use charter_domain::token::TokenSecret;
use charter_domain::{TokenId, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::{User, columns_prefixed, from_row as user_from_row};
use crate::{AuditContext, Store, StoreError, WriteTx};

/// A token's metadata (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    pub user_id: UserId,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl ApiToken {
    /// Whether the token can be used at `now`.
    pub fn is_active(&self, now: Millis) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }
}

const COLUMNS: &str = "t.id, t.user_id, t.name, t.prefix, t.created_at, t.expires_at, t.last_used_at, t.revoked_at";

fn from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let decode = |e: charter_domain::id::IdError| StoreError::Database(sqlx::Error::Decode(Box::new(e)));
    let id: String = row.try_get(0)?;
    let user_id: String = row.try_get(1)?;
    Ok(ApiToken {
        id: id.parse().map_err(decode)?,
        user_id: user_id.parse().map_err(decode)?,
        name: row.try_get(2)?,
        prefix: row.try_get(3)?,
        created_at: row.try_get(4)?,
        expires_at: row.try_get(5)?,
        last_used_at: row.try_get(6)?,
        revoked_at: row.try_get(7)?,
    })
}

impl Store {
    /// A user's tokens, newest first.
    pub async fn tokens_of(&self, user: UserId) -> Result<Vec<ApiToken>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.created_at DESC, t.id DESC");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn token(&self, id: TokenId) -> Result<ApiToken, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_tokens t WHERE t.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
        from_row(&row)
    }

    /// The token with this secret and its user, whatever their state (the caller
    /// decides what a revoked or expired token means).
    pub async fn token_by_secret(&self, secret: &TokenSecret) -> Result<Option<(ApiToken, User)>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS}, {} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
            columns_prefixed("u")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(secret.hash())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((from_row(&r)?, user_from_row(&r, 8)?))).transpose()
    }

    /// Record that a token was used (bookkeeping, not audited). Writes at most once
    /// a minute per token so busy clients do not turn reads into writes.
    pub async fn touch_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        let now = now_ms();
        if token.last_used_at.is_some_and(|t| now - t < 60_000) {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(token.id.to_string())
            .execute(tx.conn())
            .await?;
        tx.commit_unaudited("a token's last-used time is bookkeeping").await
    }
}

/// Create a token; audited as `token.created` (the secret is not recorded).
pub async fn create(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    user: &User,
    name: &str,
    secret: &TokenSecret,
    expires_at: Option<Millis>,
) -> Result<ApiToken, StoreError> {
    let token = ApiToken {
        id: TokenId::new(),
        user_id: user.id,
        name: name.to_owned(),
        prefix: secret.display_prefix(),
        created_at: now_ms(),
        expires_at,
        last_used_at: None,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, prefix, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token.id.to_string())
    .bind(user.id.to_string())
    .bind(&token.name)
    .bind(&token.prefix)
    .bind(secret.hash())
    .bind(token.created_at)
    .bind(token.expires_at)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event(
        "token.created",
        "token",
        token.id,
        json!({ "user_id": user.id.to_string(), "username": user.username, "name": token.name,
                "prefix": token.prefix, "expires_at": token.expires_at }),
    ));
    Ok(token)
}

/// Revoke a token; audited as `token.revoked`. Revoking twice is a conflict.
pub async fn revoke(tx: &mut WriteTx, ctx: &AuditContext, token: &ApiToken) -> Result<ApiToken, StoreError> {
    let now = now_ms();
    let changed = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now)
        .bind(token.id.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict(format!("token {} is already revoked", token.id)));
    }
    tx.audit(ctx.event(
        "token.revoked",
        "token",
        token.id,
        json!({ "user_id": token.user_id.to_string(), "name": token.name, "prefix": token.prefix }),
    ));
    Ok(ApiToken {
        revoked_at: Some(now),
        ..token.clone()
    })
}
