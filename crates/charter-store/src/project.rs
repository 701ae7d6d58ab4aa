//! Projects: namespaces with members, where bundles (and later experiments and
//! registered models) live.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{ProjectId, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// A member's standing in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectRole {
    /// Manages members; everything a member can do.
    Owner,
    /// Creates bundles and answers evidence.
    Member,
    /// Reads.
    Viewer,
}

impl ProjectRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectRole::Owner => "owner",
            ProjectRole::Member => "member",
            ProjectRole::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(ProjectRole::Owner),
            "member" => Some(ProjectRole::Member),
            "viewer" => Some(ProjectRole::Viewer),
            _ => None,
        }
    }

    pub fn can_write(self) -> bool {
        !matches!(self, ProjectRole::Viewer)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub description: String,
    pub created_by: UserId,
    pub created_at: Millis,
}

const COLUMNS: &str = "id, name, description, created_by, created_at";

fn from_row(row: &AnyRow) -> Result<Project, StoreError> {
    Ok(Project {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        name: row.try_get(1)?,
        description: row.try_get(2)?,
        created_by: decode_id(row.try_get::<String, _>(3)?)?,
        created_at: row.try_get(4)?,
    })
}

impl Store {
    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM projects ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(from_row).collect()
    }

    /// The projects a user belongs to.
    pub async fn projects_of(&self, user: UserId) -> Result<Vec<Project>, StoreError> {
        let sql = format!(
            "SELECT {} FROM projects p JOIN project_members m ON m.project_id = p.id WHERE m.user_id = $1 ORDER BY p.name",
            COLUMNS
                .split(", ")
                .map(|c| format!("p.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn project(&self, id: ProjectId) -> Result<Project, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM projects WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("project {id}")))?;
        from_row(&row)
    }

    pub async fn project_by_name(&self, name: &str) -> Result<Project, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM projects WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("project `{name}`")))?;
        from_row(&row)
    }

    /// A user's role in a project, if they are a member.
    pub async fn project_role(&self, project: ProjectId, user: UserId) -> Result<Option<ProjectRole>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2")
                .bind(project.to_string())
                .bind(user.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(role.as_deref().and_then(ProjectRole::parse))
    }

    /// Members and their roles, by username.
    pub async fn project_members(&self, project: ProjectId) -> Result<Vec<(User, ProjectRole)>, StoreError> {
        let sql = format!(
            "SELECT {}, m.role FROM users u JOIN project_members m ON m.user_id = u.id WHERE m.project_id = $1 ORDER BY u.username",
            crate::user::columns_prefixed("u")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get(8)?;
                Ok((
                    crate::user::from_row(r, 0)?,
                    ProjectRole::parse(&role).unwrap_or(ProjectRole::Viewer),
                ))
            })
            .collect()
    }
}

/// Create a project; its creator becomes its owner. Audited as `project.created`.
pub async fn create(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    name: &str,
    description: &str,
    creator: &User,
) -> Result<Project, StoreError> {
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE name = $1")
        .bind(name)
        .fetch_one(tx.conn())
        .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!("project `{name}` already exists")));
    }
    let project = Project {
        id: ProjectId::new(),
        name: name.to_owned(),
        description: description.to_owned(),
        created_by: creator.id,
        created_at: now_ms(),
    };
    sqlx::query("INSERT INTO projects (id, name, description, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(project.id.to_string())
        .bind(&project.name)
        .bind(&project.description)
        .bind(creator.id.to_string())
        .bind(project.created_at)
        .execute(tx.conn())
        .await?;
    sqlx::query("INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, $3, $4)")
        .bind(project.id.to_string())
        .bind(creator.id.to_string())
        .bind(ProjectRole::Owner.as_str())
        .bind(project.created_at)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "project.created",
        "project",
        project.id,
        json!({ "after": { "name": project.name, "description": project.description, "owner": creator.username } }),
    ));
    Ok(project)
}

/// Add a member or change their role; audited as `project.member_added` or
/// `project.member_changed`.
pub async fn set_member(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    project: &Project,
    user: &User,
    role: ProjectRole,
) -> Result<(), StoreError> {
    let before: Option<String> =
        sqlx::query_scalar("SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2")
            .bind(project.id.to_string())
            .bind(user.id.to_string())
            .fetch_optional(tx.conn())
            .await?;
    if before.as_deref() == Some(role.as_str()) {
        return Err(StoreError::Conflict(format!(
            "`{}` is already a {} of `{}`",
            user.username,
            role.as_str(),
            project.name
        )));
    }
    sqlx::query(
        "INSERT INTO project_members (project_id, user_id, role, added_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (project_id, user_id) DO UPDATE SET role = $3",
    )
    .bind(project.id.to_string())
    .bind(user.id.to_string())
    .bind(role.as_str())
    .bind(now_ms())
    .execute(tx.conn())
    .await?;
    let action = if before.is_some() {
        "project.member_changed"
    } else {
        "project.member_added"
    };
    tx.audit(ctx.event(
        action,
        "project",
        project.id,
        json!({ "username": user.username, "before": before, "after": role.as_str() }),
    ));
    Ok(())
}
