//! Groups ("organizations" in Domino's words): named sets of users that policies
//! can name as approvers.

use charter_domain::GroupId;
use charter_domain::UserId;
use charter_domain::time::{Millis, now_ms};
use charter_domain::user::GroupName;
use serde_json::json;
use sqlx::Row;

use crate::user::{User, columns_prefixed, from_row as user_from_row};
use crate::{AuditContext, Store, StoreError, WriteTx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    pub created_at: Millis,
    pub member_count: i64,
}

fn group_from_row(row: &sqlx::any::AnyRow) -> Result<Group, StoreError> {
    let id: String = row.try_get(0)?;
    Ok(Group {
        id: id
            .parse()
            .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?,
        name: row.try_get(1)?,
        description: row.try_get(2)?,
        created_at: row.try_get(3)?,
        member_count: row.try_get(4)?,
    })
}

const SELECT: &str = "SELECT g.id, g.name, g.description, g.created_at, \
                      (SELECT COUNT(*) FROM group_members m WHERE m.group_id = g.id) FROM user_groups g";

impl Store {
    pub async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} ORDER BY g.name")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(group_from_row).collect()
    }

    pub async fn group_by_name(&self, name: &str) -> Result<Group, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE g.name = $1")))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group `{name}`")))?;
        group_from_row(&row)
    }

    pub async fn group(&self, id: GroupId) -> Result<Group, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE g.id = $1")))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("group {id}")))?;
        group_from_row(&row)
    }

    /// The members of a group, by username.
    pub async fn group_members(&self, id: GroupId) -> Result<Vec<User>, StoreError> {
        let sql = format!(
            "SELECT {} FROM users u JOIN group_members m ON m.user_id = u.id WHERE m.group_id = $1 ORDER BY u.username",
            columns_prefixed("u")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| user_from_row(r, 0)).collect()
    }

    /// The names of the groups a user belongs to.
    pub async fn groups_of(&self, user: UserId) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT g.name FROM user_groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user.to_string())
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Create a group; audited as `group.created`.
pub async fn create(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    name: &GroupName,
    description: &str,
) -> Result<Group, StoreError> {
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_groups WHERE name = $1")
        .bind(name.as_str())
        .fetch_one(tx.conn())
        .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!(
            "group `{}` already exists",
            name.as_str()
        )));
    }
    let group = Group {
        id: GroupId::new(),
        name: name.as_str().to_owned(),
        description: description.to_owned(),
        created_at: now_ms(),
        member_count: 0,
    };
    sqlx::query("INSERT INTO user_groups (id, name, description, created_at) VALUES ($1, $2, $3, $4)")
        .bind(group.id.to_string())
        .bind(&group.name)
        .bind(&group.description)
        .bind(group.created_at)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "group.created",
        "group",
        group.id,
        json!({ "after": { "name": group.name, "description": group.description } }),
    ));
    Ok(group)
}

/// Add a user to a group; audited as `group.member_added`. Adding a member twice is
/// a conflict, so the log never records a change that did not happen.
pub async fn add_member(tx: &mut WriteTx, ctx: &AuditContext, group: &Group, user: &User) -> Result<(), StoreError> {
    let present: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group.id.to_string())
        .bind(user.id.to_string())
        .fetch_one(tx.conn())
        .await?;
    if present > 0 {
        return Err(StoreError::Conflict(format!(
            "`{}` is already a member of `{}`",
            user.username, group.name
        )));
    }
    sqlx::query("INSERT INTO group_members (group_id, user_id, added_at) VALUES ($1, $2, $3)")
        .bind(group.id.to_string())
        .bind(user.id.to_string())
        .bind(now_ms())
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "group.member_added",
        "group",
        group.id,
        json!({ "group": group.name, "user_id": user.id.to_string(), "username": user.username }),
    ));
    Ok(())
}

/// Remove a user from a group; audited as `group.member_removed`.
pub async fn remove_member(tx: &mut WriteTx, ctx: &AuditContext, group: &Group, user: &User) -> Result<(), StoreError> {
    let removed = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
        .bind(group.id.to_string())
        .bind(user.id.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(StoreError::NotFound(format!(
            "membership of `{}` in `{}`",
            user.username, group.name
        )));
    }
    tx.audit(ctx.event(
        "group.member_removed",
        "group",
        group.id,
        json!({ "group": group.name, "user_id": user.id.to_string(), "username": user.username }),
    ));
    Ok(())
}
