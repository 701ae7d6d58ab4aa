//! Policies and their versions. A version goes `draft → published → retired`; a
//! published version never changes. The YAML text is stored as written; its
//! meaning is `charter-domain`'s business.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{PolicyId, PolicyVersionId, UserId};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// Where a version is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionStatus {
    Draft,
    Published,
    Retired,
}

impl VersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionStatus::Draft => "draft",
            VersionStatus::Published => "published",
            VersionStatus::Retired => "retired",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "draft" => Ok(VersionStatus::Draft),
            "published" => Ok(VersionStatus::Published),
            "retired" => Ok(VersionStatus::Retired),
            other => Err(StoreError::Database(sqlx::Error::Decode(
                format!("unknown version status {other}").into(),
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub id: PolicyId,
    pub name: String,
    pub description: String,
    pub created_by: UserId,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    pub id: PolicyVersionId,
    pub policy_id: PolicyId,
    pub version: i64,
    pub status: VersionStatus,
    pub yaml: String,
    pub yaml_sha256: String,
    pub created_by: UserId,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub published_by: Option<UserId>,
    pub published_at: Option<Millis>,
    pub retired_at: Option<Millis>,
}

const POLICY_COLUMNS: &str = "id, name, description, created_by, created_at";
const VERSION_COLUMNS: &str = "id, policy_id, version, status, yaml, yaml_sha256, created_by, created_at, updated_at, \
                               published_by, published_at, retired_at";

fn policy_from_row(row: &AnyRow) -> Result<Policy, StoreError> {
    Ok(Policy {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        name: row.try_get(1)?,
        description: row.try_get(2)?,
        created_by: decode_id(row.try_get::<String, _>(3)?)?,
        created_at: row.try_get(4)?,
    })
}

fn version_from_row(row: &AnyRow) -> Result<PolicyVersion, StoreError> {
    let status: String = row.try_get(3)?;
    let published_by: Option<String> = row.try_get(9)?;
    Ok(PolicyVersion {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        policy_id: decode_id(row.try_get::<String, _>(1)?)?,
        version: row.try_get(2)?,
        status: VersionStatus::parse(&status)?,
        yaml: row.try_get(4)?,
        yaml_sha256: row.try_get(5)?,
        created_by: decode_id(row.try_get::<String, _>(6)?)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
        published_by: published_by.map(decode_id).transpose()?,
        published_at: row.try_get(10)?,
        retired_at: row.try_get(11)?,
    })
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Store {
    pub async fn policies(&self) -> Result<Vec<Policy>, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY name");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(policy_from_row).collect()
    }

    pub async fn policy(&self, id: PolicyId) -> Result<Policy, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM policies WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("policy {id}")))?;
        policy_from_row(&row)
    }

    pub async fn policy_by_name(&self, name: &str) -> Result<Policy, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM policies WHERE name = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("policy `{name}`")))?;
        policy_from_row(&row)
    }

    /// Every version of a policy, oldest first.
    pub async fn policy_versions(&self, policy: PolicyId) -> Result<Vec<PolicyVersion>, StoreError> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM policy_versions WHERE policy_id = $1 ORDER BY version");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(policy.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(version_from_row).collect()
    }

    pub async fn policy_version(&self, id: PolicyVersionId) -> Result<PolicyVersion, StoreError> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM policy_versions WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("policy version {id}")))?;
        version_from_row(&row)
    }

    /// Version `n` of a policy.
    pub async fn policy_version_number(&self, policy: PolicyId, n: i64) -> Result<PolicyVersion, StoreError> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM policy_versions WHERE policy_id = $1 AND version = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(policy.to_string())
            .bind(n)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("version {n} of policy {policy}")))?;
        version_from_row(&row)
    }

    /// The newest published version of a policy, if any.
    pub async fn latest_published(&self, policy: PolicyId) -> Result<Option<PolicyVersion>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM policy_versions WHERE policy_id = $1 AND status = 'published' \
             ORDER BY version DESC LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(policy.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(version_from_row).transpose()
    }
}

async fn insert_version(
    tx: &mut WriteTx,
    policy: PolicyId,
    version: i64,
    yaml: &str,
    by: &User,
) -> Result<PolicyVersion, StoreError> {
    let now = now_ms();
    let v = PolicyVersion {
        id: PolicyVersionId::new(),
        policy_id: policy,
        version,
        status: VersionStatus::Draft,
        yaml: yaml.to_owned(),
        yaml_sha256: sha256_hex(yaml),
        created_by: by.id,
        created_at: now,
        updated_at: now,
        published_by: None,
        published_at: None,
        retired_at: None,
    };
    sqlx::query(
        "INSERT INTO policy_versions (id, policy_id, version, status, yaml, yaml_sha256, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(v.id.to_string())
    .bind(policy.to_string())
    .bind(version)
    .bind(v.status.as_str())
    .bind(&v.yaml)
    .bind(&v.yaml_sha256)
    .bind(by.id.to_string())
    .bind(now)
    .execute(tx.conn())
    .await?;
    Ok(v)
}

/// Create a policy with its first (draft) version; audited as `policy.created`.
pub async fn create(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    name: &str,
    description: &str,
    yaml: &str,
    by: &User,
) -> Result<(Policy, PolicyVersion), StoreError> {
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM policies WHERE name = $1")
        .bind(name)
        .fetch_one(tx.conn())
        .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!(
            "a policy named `{name}` already exists; add a new version to it instead"
        )));
    }
    let policy = Policy {
        id: PolicyId::new(),
        name: name.to_owned(),
        description: description.to_owned(),
        created_by: by.id,
        created_at: now_ms(),
    };
    sqlx::query("INSERT INTO policies (id, name, description, created_by, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(policy.id.to_string())
        .bind(&policy.name)
        .bind(&policy.description)
        .bind(by.id.to_string())
        .bind(policy.created_at)
        .execute(tx.conn())
        .await?;
    let version = insert_version(tx, policy.id, 1, yaml, by).await?;
    tx.audit(ctx.event(
        "policy.created",
        "policy",
        policy.id,
        json!({ "name": policy.name, "description": policy.description, "version": 1,
                "version_id": version.id.to_string(), "yaml_sha256": version.yaml_sha256 }),
    ));
    Ok((policy, version))
}

/// Start a new draft version; refused while another draft exists. Audited as
/// `policy_version.created`.
pub async fn new_version(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    policy: &Policy,
    yaml: &str,
    by: &User,
) -> Result<PolicyVersion, StoreError> {
    let drafts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM policy_versions WHERE policy_id = $1 AND status = 'draft'")
            .bind(policy.id.to_string())
            .fetch_one(tx.conn())
            .await?;
    if drafts > 0 {
        return Err(StoreError::Conflict(format!(
            "policy `{}` already has a draft version; edit or publish it first",
            policy.name
        )));
    }
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM policy_versions WHERE policy_id = $1")
        .bind(policy.id.to_string())
        .fetch_one(tx.conn())
        .await?;
    let version = insert_version(tx, policy.id, last.unwrap_or(0) + 1, yaml, by).await?;
    tx.audit(ctx.event(
        "policy_version.created",
        "policy_version",
        version.id,
        json!({ "policy": policy.name, "version": version.version, "yaml_sha256": version.yaml_sha256 }),
    ));
    Ok(version)
}

async fn load_version(tx: &mut WriteTx, id: PolicyVersionId) -> Result<PolicyVersion, StoreError> {
    let sql = format!("SELECT {VERSION_COLUMNS} FROM policy_versions WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("policy version {id}")))?;
    version_from_row(&row)
}

/// Replace a draft's YAML; published and retired versions are immutable. Audited as
/// `policy_version.updated` with `changes` (the caller's diff summary).
pub async fn update_draft(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    id: PolicyVersionId,
    yaml: &str,
    changes: serde_json::Value,
) -> Result<PolicyVersion, StoreError> {
    let before = load_version(tx, id).await?;
    if before.status != VersionStatus::Draft {
        return Err(StoreError::Conflict(format!(
            "version {} is {}; published versions are immutable, so start a new version to change the policy",
            before.version,
            before.status.as_str()
        )));
    }
    let now = now_ms();
    let sha = sha256_hex(yaml);
    sqlx::query("UPDATE policy_versions SET yaml = $1, yaml_sha256 = $2, updated_at = $3 WHERE id = $4")
        .bind(yaml)
        .bind(&sha)
        .bind(now)
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    tx.audit(ctx.event(
        "policy_version.updated",
        "policy_version",
        id,
        json!({ "version": before.version, "before_sha256": before.yaml_sha256, "after_sha256": sha, "changes": changes }),
    ));
    Ok(PolicyVersion {
        yaml: yaml.to_owned(),
        yaml_sha256: sha,
        updated_at: now,
        ..before
    })
}

/// Move a version from `from` to `to`, or refuse with a sentence saying why.
async fn transition(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    id: PolicyVersionId,
    from: VersionStatus,
    to: VersionStatus,
    by: &User,
) -> Result<PolicyVersion, StoreError> {
    let before = load_version(tx, id).await?;
    if before.status != from {
        return Err(StoreError::Conflict(format!(
            "version {} is {}, so it cannot become {} (only a {} version can)",
            before.version,
            before.status.as_str(),
            to.as_str(),
            from.as_str()
        )));
    }
    let now = now_ms();
    let mut after = PolicyVersion {
        status: to,
        updated_at: now,
        ..before.clone()
    };
    match to {
        VersionStatus::Published => {
            after.published_at = Some(now);
            after.published_by = Some(by.id);
        }
        VersionStatus::Retired => after.retired_at = Some(now),
        VersionStatus::Draft => {}
    }
    sqlx::query(
        "UPDATE policy_versions SET status = $1, updated_at = $2, published_by = $3, published_at = $4, retired_at = $5 \
         WHERE id = $6 AND status = $7",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(after.published_by.map(|u| u.to_string()))
    .bind(after.published_at)
    .bind(after.retired_at)
    .bind(id.to_string())
    .bind(from.as_str())
    .execute(tx.conn())
    .await?;
    let action = match to {
        VersionStatus::Published => "policy_version.published",
        VersionStatus::Retired => "policy_version.retired",
        VersionStatus::Draft => "policy_version.reopened",
    };
    tx.audit(ctx.event(
        action,
        "policy_version",
        id,
        json!({ "policy_id": before.policy_id.to_string(), "version": before.version,
                "before": before.status.as_str(), "after": to.as_str(), "yaml_sha256": before.yaml_sha256 }),
    ));
    Ok(after)
}

/// Publish a draft: from now on it never changes. Audited as `policy_version.published`.
pub async fn publish(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    id: PolicyVersionId,
    by: &User,
) -> Result<PolicyVersion, StoreError> {
    transition(tx, ctx, id, VersionStatus::Draft, VersionStatus::Published, by).await
}

/// Retire a published version: no new bundles use it; bundles on it stay. Audited
/// as `policy_version.retired`.
pub async fn retire(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    id: PolicyVersionId,
    by: &User,
) -> Result<PolicyVersion, StoreError> {
    transition(tx, ctx, id, VersionStatus::Published, VersionStatus::Retired, by).await
}
