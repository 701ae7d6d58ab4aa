//! Users: accounts with a role and an optional password.

use charter_domain::time::{Millis, now_ms};
use charter_domain::user::{Email, Username};
use charter_domain::{Role, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{AuditContext, Store, StoreError, WriteTx};

/// A user as stored (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// A user about to be created.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub display_name: String,
    pub email: Email,
    pub role: Role,
    /// PHC-format argon2id hash, or `None` for an account that signs in with tokens only.
    pub password_hash: Option<String>,
}

const COLUMNS: &str = "id, username, display_name, email, role, disabled, created_at, updated_at";

pub(crate) fn from_row(row: &AnyRow, offset: usize) -> Result<User, StoreError> {
    let id: String = row.try_get(offset)?;
    let role: String = row.try_get(offset + 4)?;
    let disabled: i64 = row.try_get(offset + 5)?;
    Ok(User {
        id: id
            .parse()
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?,
        username: row.try_get(offset + 1)?,
        display_name: row.try_get(offset + 2)?,
        email: row.try_get(offset + 3)?,
        role: role
            .parse()
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?,
        disabled: disabled != 0,
        created_at: row.try_get(offset + 6)?,
        updated_at: row.try_get(offset + 7)?,
    })
}

pub(crate) fn columns_prefixed(prefix: &str) -> String {
    COLUMNS
        .split(", ")
        .map(|c| format!("{prefix}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn user_json(u: &User) -> serde_json::Value {
    json!({
        "id": u.id.to_string(),
        "username": u.username,
        "display_name": u.display_name,
        "email": u.email,
        "role": u.role.as_str(),
        "disabled": u.disabled,
    })
}

impl Store {
    /// All users, by username.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users ORDER BY username");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(|r| from_row(r, 0)).collect()
    }

    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await?)
    }

    pub async fn user(&self, id: UserId) -> Result<User, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        from_row(&row, 0)
    }

    pub async fn user_by_username(&self, username: &str) -> Result<User, StoreError> {
        Ok(self.user_with_password(username).await?.0)
    }

    /// A user and their password hash, for signing in.
    pub async fn user_with_password(&self, username: &str) -> Result<(User, Option<String>), StoreError> {
        let sql = format!("SELECT {COLUMNS}, password_hash FROM users WHERE username = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user `{username}`")))?;
        Ok((from_row(&row, 0)?, row.try_get(8)?))
    }
}

/// Create a user; audited as `user.created`.
pub async fn create(tx: &mut WriteTx, ctx: &AuditContext, new: NewUser) -> Result<User, StoreError> {
    let now = now_ms();
    let user = User {
        id: UserId::new(),
        username: new.username.as_str().to_owned(),
        display_name: new.display_name,
        email: new.email.as_str().to_owned(),
        role: new.role,
        disabled: false,
        created_at: now,
        updated_at: now,
    };
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = $1")
        .bind(&user.username)
        .fetch_one(tx.conn())
        .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!(
            "username `{}` is already taken",
            user.username
        )));
    }
    sqlx::query(
        "INSERT INTO users (id, username, display_name, email, password_hash, role, disabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
    )
    .bind(user.id.to_string())
    .bind(&user.username)
    .bind(&user.display_name)
    .bind(&user.email)
    .bind(new.password_hash)
    .bind(user.role.as_str())
    .bind(now)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event("user.created", "user", user.id, json!({ "after": user_json(&user) })));
    Ok(user)
}

async fn load(tx: &mut WriteTx, id: UserId) -> Result<User, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
    from_row(&row, 0)
}

/// Changes to a user's profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub email: Option<Email>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Change a user; audited as `user.updated` (or `user.disabled`/`user.enabled` when
/// only that changed) with before and after.
pub async fn update(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    id: UserId,
    changes: UserChanges,
) -> Result<User, StoreError> {
    let before = load(tx, id).await?;
    let mut after = before.clone();
    if let Some(v) = changes.display_name {
        after.display_name = v;
    }
    if let Some(v) = changes.email {
        after.email = v.as_str().to_owned();
    }
    if let Some(v) = changes.role {
        after.role = v;
    }
    if let Some(v) = changes.disabled {
        after.disabled = v;
    }
    after.updated_at = now_ms();
    sqlx::query(
        "UPDATE users SET display_name = $1, email = $2, role = $3, disabled = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(&after.display_name)
    .bind(&after.email)
    .bind(after.role.as_str())
    .bind(i64::from(after.disabled))
    .bind(after.updated_at)
    .bind(id.to_string())
    .execute(tx.conn())
    .await?;
    if after.disabled {
        // A disabled account keeps no way in.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
    }
    let only_disabled =
        before.display_name == after.display_name && before.email == after.email && before.role == after.role;
    let action = match (only_disabled, before.disabled, after.disabled) {
        (true, false, true) => "user.disabled",
        (true, true, false) => "user.enabled",
        _ => "user.updated",
    };
    tx.audit(ctx.event(
        action,
        "user",
        id,
        json!({ "before": user_json(&before), "after": user_json(&after) }),
    ));
    Ok(after)
}

/// Set a user's password hash; audited as `user.password_changed` (the hash is not
/// recorded). Every session of the user ends.
pub async fn set_password(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    id: UserId,
    password_hash: &str,
) -> Result<(), StoreError> {
    load(tx, id).await?;
    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now_ms())
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event("user.password_changed", "user", id, json!({})));
    Ok(())
}
