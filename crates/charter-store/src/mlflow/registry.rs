//! The model registry: registered models (in Charter projects), their versions, tags
//! and aliases. Every change is audited.

use charter_domain::ProjectId;
use charter_domain::time::now_ms;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::KeyValue;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// A registered model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredModel {
    pub id: String,
    pub name: String,
    /// `None`: the configured default project.
    pub project_id: Option<ProjectId>,
    pub description: String,
    pub user_id: String,
    pub creation_time: i64,
    pub last_updated_time: i64,
    pub tags: Vec<KeyValue>,
    /// `(alias, version)`.
    pub aliases: Vec<(String, i64)>,
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelVersion {
    pub model_id: String,
    pub name: String,
    pub version: i64,
    pub description: String,
    pub user_id: String,
    /// `None`, `Staging`, `Production`, `Archived`.
    pub current_stage: String,
    pub source: String,
    /// Where the files are (`mlflow-artifacts:/…`), resolved from `source`.
    pub storage_location: String,
    pub run_id: String,
    pub run_link: String,
    pub logged_model_id: Option<String>,
    pub status: String,
    pub creation_time: i64,
    pub last_updated_time: i64,
    pub tags: Vec<KeyValue>,
    pub aliases: Vec<String>,
}

const MODEL_COLUMNS: &str = "id, name, project_id, description, user_id, creation_time, last_updated_time";
const VERSION_COLUMNS: &str = "v.model_id, m.name, v.version, v.description, v.user_id, v.current_stage, v.source, \
                               v.storage_location, v.run_id, v.run_link, v.logged_model_id, v.status, v.creation_time, v.last_updated_time";

fn model_from_row(r: &AnyRow) -> Result<RegisteredModel, StoreError> {
    let project: Option<String> = r.try_get(2)?;
    Ok(RegisteredModel {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        project_id: project.map(decode_id).transpose()?,
        description: r.try_get(3)?,
        user_id: r.try_get(4)?,
        creation_time: r.try_get(5)?,
        last_updated_time: r.try_get(6)?,
        tags: Vec::new(),
        aliases: Vec::new(),
    })
}

fn version_from_row(r: &AnyRow) -> Result<ModelVersion, StoreError> {
    Ok(ModelVersion {
        model_id: r.try_get(0)?,
        name: r.try_get(1)?,
        version: r.try_get(2)?,
        description: r.try_get(3)?,
        user_id: r.try_get(4)?,
        current_stage: r.try_get(5)?,
        source: r.try_get(6)?,
        storage_location: r.try_get(7)?,
        run_id: r.try_get(8)?,
        run_link: r.try_get(9)?,
        logged_model_id: r.try_get(10)?,
        status: r.try_get(11)?,
        creation_time: r.try_get(12)?,
        last_updated_time: r.try_get(13)?,
        tags: Vec::new(),
        aliases: Vec::new(),
    })
}

impl Store {
    /// Every registered model with tags and aliases, by name.
    pub async fn mlflow_registered_models(&self) -> Result<Vec<RegisteredModel>, StoreError> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM mlflow_registered_models ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        let mut models: Vec<RegisteredModel> = rows.iter().map(model_from_row).collect::<Result<_, _>>()?;
        let tags = sqlx::query("SELECT model_id, key, value FROM mlflow_registered_model_tags ORDER BY key")
            .fetch_all(&self.pool)
            .await?;
        for t in &tags {
            let id: String = t.try_get(0)?;
            if let Some(m) = models.iter_mut().find(|m| m.id == id) {
                m.tags
                    .push(KeyValue::new(t.try_get::<String, _>(1)?, t.try_get::<String, _>(2)?));
            }
        }
        let aliases = sqlx::query("SELECT model_id, alias, version FROM mlflow_model_aliases ORDER BY alias")
            .fetch_all(&self.pool)
            .await?;
        for a in &aliases {
            let id: String = a.try_get(0)?;
            if let Some(m) = models.iter_mut().find(|m| m.id == id) {
                m.aliases.push((a.try_get(1)?, a.try_get(2)?));
            }
        }
        Ok(models)
    }

    /// One registered model by name.
    pub async fn mlflow_registered_model(&self, name: &str) -> Result<RegisteredModel, StoreError> {
        let sql = format!("SELECT {MODEL_COLUMNS} FROM mlflow_registered_models WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("Registered Model with name={name}")))?;
        let mut m = model_from_row(&row)?;
        let tags = sqlx::query("SELECT key, value FROM mlflow_registered_model_tags WHERE model_id = $1 ORDER BY key")
            .bind(&m.id)
            .fetch_all(&self.pool)
            .await?;
        for t in tags {
            m.tags
                .push(KeyValue::new(t.try_get::<String, _>(0)?, t.try_get::<String, _>(1)?));
        }
        let aliases = sqlx::query("SELECT alias, version FROM mlflow_model_aliases WHERE model_id = $1 ORDER BY alias")
            .bind(&m.id)
            .fetch_all(&self.pool)
            .await?;
        for a in aliases {
            m.aliases.push((a.try_get(0)?, a.try_get(1)?));
        }
        Ok(m)
    }

    /// Versions, optionally of one registered model (by its id), with tags and aliases.
    pub async fn mlflow_model_versions(&self, model_id: Option<&str>) -> Result<Vec<ModelVersion>, StoreError> {
        let (sql, bind) = match model_id {
            Some(id) => (
                format!(
                    "SELECT {VERSION_COLUMNS} FROM mlflow_model_versions v JOIN mlflow_registered_models m ON m.id = v.model_id \
                     WHERE v.model_id = $1 ORDER BY v.version"
                ),
                Some(id),
            ),
            None => (
                format!(
                    "SELECT {VERSION_COLUMNS} FROM mlflow_model_versions v JOIN mlflow_registered_models m ON m.id = v.model_id \
                     ORDER BY m.name, v.version"
                ),
                None,
            ),
        };
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(id) = bind {
            q = q.bind(id.to_owned());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut versions: Vec<ModelVersion> = rows.iter().map(version_from_row).collect::<Result<_, _>>()?;
        let tags = sqlx::query("SELECT model_id, version, key, value FROM mlflow_model_version_tags ORDER BY key")
            .fetch_all(&self.pool)
            .await?;
        for t in &tags {
            let (id, v): (String, i64) = (t.try_get(0)?, t.try_get(1)?);
            if let Some(mv) = versions.iter_mut().find(|mv| mv.model_id == id && mv.version == v) {
                mv.tags
                    .push(KeyValue::new(t.try_get::<String, _>(2)?, t.try_get::<String, _>(3)?));
            }
        }
        let aliases = sqlx::query("SELECT model_id, alias, version FROM mlflow_model_aliases ORDER BY alias")
            .fetch_all(&self.pool)
            .await?;
        for a in &aliases {
            let (id, v): (String, i64) = (a.try_get(0)?, a.try_get(2)?);
            if let Some(mv) = versions.iter_mut().find(|mv| mv.model_id == id && mv.version == v) {
                mv.aliases.push(a.try_get(1)?);
            }
        }
        Ok(versions)
    }

    /// One version.
    pub async fn mlflow_model_version(&self, name: &str, version: i64) -> Result<ModelVersion, StoreError> {
        let model = self.mlflow_registered_model(name).await?;
        self.mlflow_model_versions(Some(&model.id))
            .await?
            .into_iter()
            .find(|v| v.version == version)
            .ok_or_else(|| StoreError::NotFound(format!("Model Version (name={name}, version={version})")))
    }

    /// The versions registered from a run.
    pub async fn mlflow_versions_of_run(&self, run_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.name, v.version FROM mlflow_model_versions v JOIN mlflow_registered_models m ON m.id = v.model_id \
             WHERE v.run_id = $1 ORDER BY m.name, v.version",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }
}

async fn touch(tx: &mut WriteTx, model_id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE mlflow_registered_models SET last_updated_time = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(model_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Create a registered model; audited as `registered_model.created`.
pub async fn create_model(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    name: &str,
    project: ProjectId,
    description: &str,
    tags: &[KeyValue],
    user: &str,
) -> Result<RegisteredModel, StoreError> {
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mlflow_registered_models WHERE name = $1")
        .bind(name)
        .fetch_one(tx.conn())
        .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!(
            "Registered Model (name={name}) already exists."
        )));
    }
    let id = uuid::Uuid::now_v7().simple().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO mlflow_registered_models (id, name, project_id, description, user_id, next_version, creation_time, last_updated_time) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
    )
    .bind(&id)
    .bind(name)
    .bind(project.to_string())
    .bind(description)
    .bind(user)
    .bind(now)
    .execute(tx.conn())
    .await?;
    for t in tags {
        upsert_model_tag(tx, &id, &t.key, &t.value).await?;
    }
    tx.audit(ctx.event(
        "registered_model.created",
        "registered_model",
        name,
        json!({ "project": project.to_string(), "description": description }),
    ));
    Ok(RegisteredModel {
        id,
        name: name.to_owned(),
        project_id: Some(project),
        description: description.to_owned(),
        user_id: user.to_owned(),
        creation_time: now,
        last_updated_time: now,
        tags: tags.to_vec(),
        aliases: Vec::new(),
    })
}

async fn upsert_model_tag(tx: &mut WriteTx, id: &str, key: &str, value: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mlflow_registered_model_tags (model_id, key, value) VALUES ($1, $2, $3) ON CONFLICT (model_id, key) DO UPDATE SET value = $3",
    )
    .bind(id)
    .bind(key)
    .bind(value)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Rename; audited as `registered_model.renamed`.
pub async fn rename_model(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &RegisteredModel,
    new_name: &str,
) -> Result<(), StoreError> {
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mlflow_registered_models WHERE name = $1")
        .bind(new_name)
        .fetch_one(tx.conn())
        .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!(
            "Registered Model (name={new_name}) already exists."
        )));
    }
    sqlx::query("UPDATE mlflow_registered_models SET name = $1, last_updated_time = $2 WHERE id = $3")
        .bind(new_name)
        .bind(now_ms())
        .bind(&model.id)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "registered_model.renamed",
        "registered_model",
        new_name,
        json!({ "before": model.name, "after": new_name }),
    ));
    Ok(())
}

/// Change the description; audited as `registered_model.updated`.
pub async fn update_model(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &RegisteredModel,
    description: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE mlflow_registered_models SET description = $1, last_updated_time = $2 WHERE id = $3")
        .bind(description)
        .bind(now_ms())
        .bind(&model.id)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "registered_model.updated",
        "registered_model",
        &model.name,
        json!({ "before": { "description": model.description }, "after": { "description": description } }),
    ));
    Ok(())
}

/// Delete a registered model with its versions, tags and aliases; audited as
/// `registered_model.deleted`.
pub async fn delete_model(tx: &mut WriteTx, ctx: &AuditContext, model: &RegisteredModel) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM mlflow_model_version_tags WHERE model_id = $1")
        .bind(&model.id)
        .execute(tx.conn())
        .await?;
    for table in [
        "mlflow_model_aliases",
        "mlflow_model_versions",
        "mlflow_registered_model_tags",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE model_id = $1")))
            .bind(&model.id)
            .execute(tx.conn())
            .await?;
    }
    sqlx::query("DELETE FROM mlflow_registered_models WHERE id = $1")
        .bind(&model.id)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "registered_model.deleted",
        "registered_model",
        &model.name,
        json!({ "aliases": model.aliases }),
    ));
    Ok(())
}

/// Set or delete (`value: None`) a registered model's tag; audited as
/// `registered_model.tagged` / `registered_model.untagged`.
pub async fn set_model_tag(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &RegisteredModel,
    key: &str,
    value: Option<&str>,
) -> Result<(), StoreError> {
    match value {
        Some(v) => upsert_model_tag(tx, &model.id, key, v).await?,
        None => {
            sqlx::query("DELETE FROM mlflow_registered_model_tags WHERE model_id = $1 AND key = $2")
                .bind(&model.id)
                .bind(key)
                .execute(tx.conn())
                .await?;
        }
    }
    touch(tx, &model.id).await?;
    let action = if value.is_some() {
        "registered_model.tagged"
    } else {
        "registered_model.untagged"
    };
    tx.audit(ctx.event(
        action,
        "registered_model",
        &model.name,
        json!({ "key": key, "value": value }),
    ));
    Ok(())
}

/// What a new version records.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub source: String,
    pub storage_location: String,
    pub run_id: String,
    pub run_link: String,
    pub logged_model_id: Option<String>,
    pub description: String,
    pub tags: Vec<KeyValue>,
    pub user: String,
}

/// Register a new version (numbers are never reused); audited as
/// `model_version.created`.
pub async fn create_version(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &RegisteredModel,
    new: &NewVersion,
) -> Result<i64, StoreError> {
    let version: i64 = sqlx::query_scalar(
        "UPDATE mlflow_registered_models SET next_version = next_version + 1, last_updated_time = $1 WHERE id = $2 RETURNING next_version - 1",
    )
    .bind(now_ms())
    .bind(&model.id)
    .fetch_one(tx.conn())
    .await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO mlflow_model_versions (model_id, version, description, user_id, current_stage, source, storage_location, run_id, \
         run_link, logged_model_id, status, creation_time, last_updated_time) \
         VALUES ($1, $2, $3, $4, 'None', $5, $6, $7, $8, $9, 'READY', $10, $10)",
    )
    .bind(&model.id)
    .bind(version)
    .bind(&new.description)
    .bind(&new.user)
    .bind(&new.source)
    .bind(&new.storage_location)
    .bind(&new.run_id)
    .bind(&new.run_link)
    .bind(new.logged_model_id.clone())
    .bind(now)
    .execute(tx.conn())
    .await?;
    for t in &new.tags {
        upsert_version_tag(tx, &model.id, version, &t.key, &t.value).await?;
    }
    tx.audit(ctx.event(
        "model_version.created",
        "model_version",
        format!("{}/{version}", model.name),
        json!({ "source": new.source, "run_id": new.run_id, "model_id": new.logged_model_id }),
    ));
    Ok(version)
}

async fn upsert_version_tag(
    tx: &mut WriteTx,
    id: &str,
    version: i64,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mlflow_model_version_tags (model_id, version, key, value) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (model_id, version, key) DO UPDATE SET value = $4",
    )
    .bind(id)
    .bind(version)
    .bind(key)
    .bind(value)
    .execute(tx.conn())
    .await?;
    Ok(())
}

fn version_target(v: &ModelVersion) -> String {
    format!("{}/{}", v.name, v.version)
}

/// Change a version's description; audited as `model_version.updated`.
pub async fn update_version(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    v: &ModelVersion,
    description: &str,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE mlflow_model_versions SET description = $1, last_updated_time = $2 WHERE model_id = $3 AND version = $4")
        .bind(description)
        .bind(now_ms())
        .bind(&v.model_id)
        .bind(v.version)
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "model_version.updated",
        "model_version",
        version_target(v),
        json!({ "before": { "description": v.description }, "after": { "description": description } }),
    ));
    Ok(())
}

/// Delete a version with its tags and aliases; audited as `model_version.deleted`.
pub async fn delete_version(tx: &mut WriteTx, ctx: &AuditContext, v: &ModelVersion) -> Result<(), StoreError> {
    for table in [
        "mlflow_model_version_tags",
        "mlflow_model_aliases",
        "mlflow_model_versions",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE model_id = $1 AND version = $2"
        )))
        .bind(&v.model_id)
        .bind(v.version)
        .execute(tx.conn())
        .await?;
    }
    touch(tx, &v.model_id).await?;
    tx.audit(ctx.event(
        "model_version.deleted",
        "model_version",
        version_target(v),
        json!({ "aliases": v.aliases }),
    ));
    Ok(())
}

/// Set or delete (`value: None`) a version's tag; audited as `model_version.tagged` /
/// `model_version.untagged`.
pub async fn set_version_tag(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    v: &ModelVersion,
    key: &str,
    value: Option<&str>,
) -> Result<(), StoreError> {
    match value {
        Some(val) => upsert_version_tag(tx, &v.model_id, v.version, key, val).await?,
        None => {
            sqlx::query("DELETE FROM mlflow_model_version_tags WHERE model_id = $1 AND version = $2 AND key = $3")
                .bind(&v.model_id)
                .bind(v.version)
                .bind(key)
                .execute(tx.conn())
                .await?;
        }
    }
    let action = if value.is_some() {
        "model_version.tagged"
    } else {
        "model_version.untagged"
    };
    tx.audit(ctx.event(
        action,
        "model_version",
        version_target(v),
        json!({ "key": key, "value": value }),
    ));
    Ok(())
}

/// Move a version to a (legacy) stage, optionally archiving the versions in that
/// stage; audited as `model_version.stage_changed`.
pub async fn transition_stage(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    v: &ModelVersion,
    stage: &str,
    archive_existing: bool,
) -> Result<(), StoreError> {
    let now = now_ms();
    let mut archived = Vec::new();
    if archive_existing && matches!(stage, "Staging" | "Production") {
        let rows = sqlx::query(
            "UPDATE mlflow_model_versions SET current_stage = 'Archived', last_updated_time = $1 \
             WHERE model_id = $2 AND current_stage = $3 AND version <> $4 RETURNING version",
        )
        .bind(now)
        .bind(&v.model_id)
        .bind(stage)
        .bind(v.version)
        .fetch_all(tx.conn())
        .await?;
        for r in rows {
            archived.push(r.try_get::<i64, _>(0)?);
        }
    }
    sqlx::query("UPDATE mlflow_model_versions SET current_stage = $1, last_updated_time = $2 WHERE model_id = $3 AND version = $4")
        .bind(stage)
        .bind(now)
        .bind(&v.model_id)
        .bind(v.version)
        .execute(tx.conn())
        .await?;
    touch(tx, &v.model_id).await?;
    tx.audit(ctx.event(
        "model_version.stage_changed",
        "model_version",
        version_target(v),
        json!({ "before": v.current_stage, "after": stage, "archived_versions": archived }),
    ));
    Ok(())
}

/// Point an alias at a version (moving it from another); audited as `model_alias.set`.
pub async fn set_alias(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &RegisteredModel,
    alias: &str,
    version: i64,
) -> Result<(), StoreError> {
    let before = model.aliases.iter().find(|(a, _)| a == alias).map(|(_, v)| *v);
    sqlx::query(
        "INSERT INTO mlflow_model_aliases (model_id, alias, version) VALUES ($1, $2, $3) \
         ON CONFLICT (model_id, alias) DO UPDATE SET version = $3",
    )
    .bind(&model.id)
    .bind(alias)
    .bind(version)
    .execute(tx.conn())
    .await?;
    touch(tx, &model.id).await?;
    tx.audit(ctx.event(
        "model_alias.set",
        "registered_model",
        &model.name,
        json!({ "alias": alias, "before": before, "after": version }),
    ));
    Ok(())
}

/// Remove an alias; audited as `model_alias.deleted`.
pub async fn delete_alias(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    model: &RegisteredModel,
    alias: &str,
) -> Result<(), StoreError> {
    let n = sqlx::query("DELETE FROM mlflow_model_aliases WHERE model_id = $1 AND alias = $2")
        .bind(&model.id)
        .bind(alias)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound(format!(
            "alias `{alias}` of registered model `{}`",
            model.name
        )));
    }
    touch(tx, &model.id).await?;
    tx.audit(ctx.event(
        "model_alias.deleted",
        "registered_model",
        &model.name,
        json!({ "alias": alias }),
    ));
    Ok(())
}

impl Store {
    /// Every `model_version` attachment: the bundle and the reference's JSON text.
    pub async fn model_version_attachments(&self) -> Result<Vec<(charter_domain::BundleId, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT bundle_id, reference FROM attachments WHERE kind = 'model_version' ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((decode_id(r.try_get::<String, _>(0)?)?, r.try_get(1)?)))
            .collect()
    }
}
