//! Tasks: what someone has to do — give an approval, work a finding, confirm a
//! carried-over answer, answer a mention. Tasks are created and closed inside the
//! transaction of the governed change that causes them, whose audit event covers them.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{BundleId, TaskId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError, WriteTx, decode_id};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub id: TaskId,
    pub user_id: UserId,
    /// `approval`, `finding`, `confirm_answer`, `mention`.
    pub kind: String,
    pub bundle_id: Option<BundleId>,
    pub target_type: String,
    pub target_id: String,
    pub title: String,
    /// `open` or `done`.
    pub status: String,
    pub created_at: Millis,
    pub done_at: Option<Millis>,
}

const COLUMNS: &str = "id, user_id, kind, bundle_id, target_type, target_id, title, status, created_at, done_at";

fn from_row(row: &AnyRow) -> Result<Task, StoreError> {
    let bundle: Option<String> = row.try_get(3)?;
    Ok(Task {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        user_id: decode_id(row.try_get::<String, _>(1)?)?,
        kind: row.try_get(2)?,
        bundle_id: bundle.map(decode_id).transpose()?,
        target_type: row.try_get(4)?,
        target_id: row.try_get(5)?,
        title: row.try_get(6)?,
        status: row.try_get(7)?,
        created_at: row.try_get(8)?,
        done_at: row.try_get(9)?,
    })
}

impl Store {
    /// A user's tasks, open ones first, newest first.
    pub async fn tasks_of(&self, user: UserId, open_only: bool) -> Result<Vec<Task>, StoreError> {
        let filter = if open_only { " AND status = 'open'" } else { "" };
        let sql = format!(
            "SELECT {COLUMNS} FROM tasks WHERE user_id = $1{filter} ORDER BY CASE status WHEN 'open' THEN 0 ELSE 1 END, created_at DESC, id DESC"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }
}

/// A task about to be created.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub user_id: UserId,
    pub kind: &'static str,
    pub bundle_id: Option<BundleId>,
    pub target_type: &'static str,
    pub target_id: String,
    pub title: String,
}

/// Create a task unless the same open task exists already.
pub async fn create(tx: &mut WriteTx, new: NewTask) -> Result<(), StoreError> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tasks WHERE user_id = $1 AND kind = $2 AND target_type = $3 AND target_id = $4 AND status = 'open'",
    )
    .bind(new.user_id.to_string())
    .bind(new.kind)
    .bind(new.target_type)
    .bind(&new.target_id)
    .fetch_one(tx.conn())
    .await?;
    if exists > 0 {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO tasks (id, user_id, kind, bundle_id, target_type, target_id, title, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
    )
    .bind(TaskId::new().to_string())
    .bind(new.user_id.to_string())
    .bind(new.kind)
    .bind(new.bundle_id.map(|b| b.to_string()))
    .bind(new.target_type)
    .bind(&new.target_id)
    .bind(&new.title)
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Close every open task about a target (everyone's), e.g. once an approval is decided.
pub async fn close_for(tx: &mut WriteTx, target_type: &str, target_id: &str) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "UPDATE tasks SET status = 'done', done_at = $1 WHERE target_type = $2 AND target_id = $3 AND status = 'open'",
    )
    .bind(now_ms())
    .bind(target_type)
    .bind(target_id)
    .execute(tx.conn())
    .await?
    .rows_affected())
}
