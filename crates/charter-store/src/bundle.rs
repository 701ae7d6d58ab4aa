//! Governed bundles: the policies they follow, their evidence answers (every save
//! a new revision), their attachments, and copying all of it from a previous bundle.

use std::collections::BTreeMap;

use charter_domain::time::{Millis, now_ms};
use charter_domain::{AnswerId, AttachmentId, BundleId, PolicyId, PolicyVersionId, ProjectId, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::user::User;
use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// A bundle's life: active, then complete or archived (both freeze the evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleState {
    Active,
    Complete,
    Archived,
}

impl BundleState {
    pub fn as_str(self) -> &'static str {
        match self {
            BundleState::Active => "active",
            BundleState::Complete => "complete",
            BundleState::Archived => "archived",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(BundleState::Active),
            "complete" => Some(BundleState::Complete),
            "archived" => Some(BundleState::Archived),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub id: BundleId,
    pub project_id: ProjectId,
    pub name: String,
    pub description: String,
    pub state: BundleState,
    pub copied_from: Option<BundleId>,
    pub created_by: UserId,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// One policy on one bundle: the version it follows, where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundlePolicy {
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    pub policy_version_id: PolicyVersionId,
    pub current_stage: String,
    pub classification: Option<String>,
    pub added_at: Millis,
}

/// One revision of one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub id: AnswerId,
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    pub input_id: String,
    pub stage: String,
    pub revision: i64,
    /// The answer as JSON.
    pub value: serde_json::Value,
    pub answered_by: UserId,
    pub answered_at: Millis,
    /// `bundle:<id>/answer:<id>` when copied from another bundle.
    pub carried_from: Option<String>,
    /// Copied and not yet confirmed or edited.
    pub carried_over: bool,
}

/// A carried-over answer waiting to be confirmed, where it is ([`Store::carried_over_for`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CarriedOver {
    pub answer: Answer,
    pub bundle_name: String,
    pub policy_version_id: PolicyVersionId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: AttachmentId,
    pub bundle_id: BundleId,
    /// `model_version`, `file`, `app`, `check_result`, `report`, `telemetry`.
    pub kind: String,
    pub name: String,
    /// What it points at, as JSON text (`{"model":"helpbot","version":3}`).
    pub reference: String,
    pub blob_key: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<i64>,
    pub copied_from: Option<String>,
    pub created_by: UserId,
    pub created_at: Millis,
}

const BUNDLE_COLUMNS: &str =
    "id, project_id, name, description, state, copied_from, created_by, created_at, updated_at";
const ANSWER_COLUMNS: &str = "id, bundle_id, policy_id, input_id, stage, revision, value, answered_by, answered_at, \
                              carried_from, carried_over";
const ATTACHMENT_COLUMNS: &str =
    "id, bundle_id, kind, name, reference, blob_key, sha256, size, copied_from, created_by, created_at";

fn bundle_from_row(row: &AnyRow) -> Result<Bundle, StoreError> {
    let state: String = row.try_get(4)?;
    let copied: Option<String> = row.try_get(5)?;
    Ok(Bundle {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        project_id: decode_id(row.try_get::<String, _>(1)?)?,
        name: row.try_get(2)?,
        description: row.try_get(3)?,
        state: BundleState::parse(&state).unwrap_or(BundleState::Active),
        copied_from: copied.map(decode_id).transpose()?,
        created_by: decode_id(row.try_get::<String, _>(6)?)?,
        created_at: row.try_get(7)?,
        updated_at: row.try_get(8)?,
    })
}

fn answer_from_row(row: &AnyRow) -> Result<Answer, StoreError> {
    let value: String = row.try_get(6)?;
    let carried: i64 = row.try_get(10)?;
    Ok(Answer {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        bundle_id: decode_id(row.try_get::<String, _>(1)?)?,
        policy_id: decode_id(row.try_get::<String, _>(2)?)?,
        input_id: row.try_get(3)?,
        stage: row.try_get(4)?,
        revision: row.try_get(5)?,
        value: serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value)),
        answered_by: decode_id(row.try_get::<String, _>(7)?)?,
        answered_at: row.try_get(8)?,
        carried_from: row.try_get(9)?,
        carried_over: carried != 0,
    })
}

fn attachment_from_row(row: &AnyRow) -> Result<Attachment, StoreError> {
    Ok(Attachment {
        id: decode_id(row.try_get::<String, _>(0)?)?,
        bundle_id: decode_id(row.try_get::<String, _>(1)?)?,
        kind: row.try_get(2)?,
        name: row.try_get(3)?,
        reference: row.try_get(4)?,
        blob_key: row.try_get(5)?,
        sha256: row.try_get(6)?,
        size: row.try_get(7)?,
        copied_from: row.try_get(8)?,
        created_by: decode_id(row.try_get::<String, _>(9)?)?,
        created_at: row.try_get(10)?,
    })
}

fn bundle_policy_from_row(row: &AnyRow) -> Result<BundlePolicy, StoreError> {
    Ok(BundlePolicy {
        bundle_id: decode_id(row.try_get::<String, _>(0)?)?,
        policy_id: decode_id(row.try_get::<String, _>(1)?)?,
        policy_version_id: decode_id(row.try_get::<String, _>(2)?)?,
        current_stage: row.try_get(3)?,
        classification: row.try_get(4)?,
        added_at: row.try_get(5)?,
    })
}

const BUNDLE_POLICY_COLUMNS: &str = "bundle_id, policy_id, policy_version_id, current_stage, classification, added_at";

impl Store {
    /// Bundles, newest first; in one project when `project` is given.
    pub async fn bundles(&self, project: Option<ProjectId>) -> Result<Vec<Bundle>, StoreError> {
        let rows = match project {
            Some(p) => {
                let sql = format!(
                    "SELECT {BUNDLE_COLUMNS} FROM bundles WHERE project_id = $1 ORDER BY created_at DESC, id DESC"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(p.to_string())
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {BUNDLE_COLUMNS} FROM bundles ORDER BY created_at DESC, id DESC");
                sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(bundle_from_row).collect()
    }

    pub async fn bundle(&self, id: BundleId) -> Result<Bundle, StoreError> {
        let sql = format!("SELECT {BUNDLE_COLUMNS} FROM bundles WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("bundle {id}")))?;
        bundle_from_row(&row)
    }

    pub async fn bundle_policies(&self, bundle: BundleId) -> Result<Vec<BundlePolicy>, StoreError> {
        let sql = format!(
            "SELECT {BUNDLE_POLICY_COLUMNS} FROM bundle_policies WHERE bundle_id = $1 ORDER BY added_at, policy_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bundle.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(bundle_policy_from_row).collect()
    }

    /// Where every policy stands on every bundle (one query), for listings that
    /// filter many bundles by policy, stage or classification.
    pub async fn all_bundle_policies(&self) -> Result<Vec<BundlePolicy>, StoreError> {
        let sql = format!("SELECT {BUNDLE_POLICY_COLUMNS} FROM bundle_policies ORDER BY added_at, policy_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(bundle_policy_from_row).collect()
    }

    /// The latest revision of every answer of one policy on a bundle, by input id.
    pub async fn latest_answers(
        &self,
        bundle: BundleId,
        policy: PolicyId,
    ) -> Result<BTreeMap<String, Answer>, StoreError> {
        let sql = format!(
            "SELECT {ANSWER_COLUMNS} FROM answers a WHERE bundle_id = $1 AND policy_id = $2 AND revision = \
             (SELECT MAX(revision) FROM answers b WHERE b.bundle_id = a.bundle_id AND b.policy_id = a.policy_id AND b.input_id = a.input_id)"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bundle.to_string())
            .bind(policy.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| answer_from_row(r).map(|a| (a.input_id.clone(), a)))
            .collect()
    }

    /// Carried-over answers still waiting to be confirmed (the latest revision is
    /// the copy) in active bundles of projects where `user` is an owner or member,
    /// with each bundle's name and the policy version it follows; by project name,
    /// newest bundle first, then input id. One query, whatever the number of bundles.
    pub async fn carried_over_for(&self, user: UserId) -> Result<Vec<CarriedOver>, StoreError> {
        let columns = ANSWER_COLUMNS
            .split(',')
            .map(|c| format!("a.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns}, b.name, bp.policy_version_id FROM answers a \
             JOIN bundles b ON b.id = a.bundle_id \
             JOIN bundle_policies bp ON bp.bundle_id = a.bundle_id AND bp.policy_id = a.policy_id \
             JOIN project_members m ON m.project_id = b.project_id \
             JOIN projects p ON p.id = b.project_id \
             WHERE a.carried_over = 1 AND b.state = 'active' AND m.user_id = $1 AND m.role IN ('owner', 'member') \
             AND a.revision = (SELECT MAX(x.revision) FROM answers x \
                 WHERE x.bundle_id = a.bundle_id AND x.policy_id = a.policy_id AND x.input_id = a.input_id) \
             ORDER BY p.name, b.created_at DESC, b.id DESC, a.policy_id, a.input_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(user.to_string())
            .fetch_all(&self.pool)
            .await?;
        let n = ANSWER_COLUMNS.split(',').count();
        rows.iter()
            .map(|r| {
                Ok(CarriedOver {
                    answer: answer_from_row(r)?,
                    bundle_name: r.try_get(n)?,
                    policy_version_id: decode_id(r.try_get::<String, _>(n + 1)?)?,
                })
            })
            .collect()
    }

    /// Every revision of one answer, oldest first.
    pub async fn answer_history(
        &self,
        bundle: BundleId,
        policy: PolicyId,
        input_id: &str,
    ) -> Result<Vec<Answer>, StoreError> {
        let sql = format!(
            "SELECT {ANSWER_COLUMNS} FROM answers WHERE bundle_id = $1 AND policy_id = $2 AND input_id = $3 ORDER BY revision"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bundle.to_string())
            .bind(policy.to_string())
            .bind(input_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(answer_from_row).collect()
    }

    /// One attachment by id.
    pub async fn attachment(&self, id: AttachmentId) -> Result<Attachment, StoreError> {
        let sql = format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("attachment {id}")))?;
        attachment_from_row(&row)
    }

    pub async fn attachments(&self, bundle: BundleId) -> Result<Vec<Attachment>, StoreError> {
        let sql = format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments WHERE bundle_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(bundle.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(attachment_from_row).collect()
    }
}

/// A policy version to put on a new bundle, with the stage it starts in.
#[derive(Debug, Clone)]
pub struct PolicyPlacement {
    pub policy_id: PolicyId,
    pub policy_version_id: PolicyVersionId,
    pub first_stage: String,
}

/// Create a bundle following the given policy versions; audited as `bundle.created`.
#[expect(clippy::too_many_arguments, reason = "a bundle has that many facts at creation")]
pub async fn create(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    project: ProjectId,
    name: &str,
    description: &str,
    policies: &[PolicyPlacement],
    copied_from: Option<BundleId>,
    by: &User,
) -> Result<Bundle, StoreError> {
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bundles WHERE project_id = $1 AND name = $2")
        .bind(project.to_string())
        .bind(name)
        .fetch_one(tx.conn())
        .await?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!(
            "this project already has a bundle named `{name}`"
        )));
    }
    let now = now_ms();
    let bundle = Bundle {
        id: BundleId::new(),
        project_id: project,
        name: name.to_owned(),
        description: description.to_owned(),
        state: BundleState::Active,
        copied_from,
        created_by: by.id,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO bundles (id, project_id, name, description, state, copied_from, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(bundle.id.to_string())
    .bind(project.to_string())
    .bind(name)
    .bind(description)
    .bind(bundle.state.as_str())
    .bind(copied_from.map(|b| b.to_string()))
    .bind(by.id.to_string())
    .bind(now)
    .execute(tx.conn())
    .await?;
    for p in policies {
        sqlx::query(
            "INSERT INTO bundle_policies (bundle_id, policy_id, policy_version_id, current_stage, classification, added_at) \
             VALUES ($1, $2, $3, $4, NULL, $5)",
        )
        .bind(bundle.id.to_string())
        .bind(p.policy_id.to_string())
        .bind(p.policy_version_id.to_string())
        .bind(&p.first_stage)
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    tx.audit(ctx.event(
        "bundle.created",
        "bundle",
        bundle.id,
        json!({
            "project_id": project.to_string(), "name": name, "description": description,
            "policies": policies.iter().map(|p| json!({"policy_id": p.policy_id.to_string(), "version_id": p.policy_version_id.to_string()})).collect::<Vec<_>>(),
            "copied_from": copied_from.map(|b| b.to_string()),
        }),
    ));
    Ok(bundle)
}

/// Move a bundle to a new state; audited as `bundle.completed`/`bundle.archived`/`bundle.reopened`.
pub async fn set_state(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: &Bundle,
    to: BundleState,
) -> Result<Bundle, StoreError> {
    let changed = sqlx::query("UPDATE bundles SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4")
        .bind(to.as_str())
        .bind(now_ms())
        .bind(bundle.id.to_string())
        .bind(bundle.state.as_str())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(StoreError::Conflict(format!(
            "bundle `{}` changed state meanwhile; reload it",
            bundle.name
        )));
    }
    let action = match to {
        BundleState::Complete => "bundle.completed",
        BundleState::Archived => "bundle.archived",
        BundleState::Active => "bundle.reopened",
    };
    tx.audit(ctx.event(
        action,
        "bundle",
        bundle.id,
        json!({ "before": bundle.state.as_str(), "after": to.as_str() }),
    ));
    Ok(Bundle {
        state: to,
        ..bundle.clone()
    })
}

/// Record a policy's computed standing on a bundle (classification, current
/// stage); audited as `bundle.classified` / `bundle.stage_changed` when they change.
pub async fn set_standing(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: BundleId,
    policy: PolicyId,
    current_stage: &str,
    classification: Option<&str>,
) -> Result<(), StoreError> {
    let sql = format!("SELECT {BUNDLE_POLICY_COLUMNS} FROM bundle_policies WHERE bundle_id = $1 AND policy_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(bundle.to_string())
        .bind(policy.to_string())
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("policy {policy} on bundle {bundle}")))?;
    let before = bundle_policy_from_row(&row)?;
    if before.current_stage == current_stage && before.classification.as_deref() == classification {
        return Ok(());
    }
    sqlx::query(
        "UPDATE bundle_policies SET current_stage = $1, classification = $2 WHERE bundle_id = $3 AND policy_id = $4",
    )
    .bind(current_stage)
    .bind(classification)
    .bind(bundle.to_string())
    .bind(policy.to_string())
    .execute(tx.conn())
    .await?;
    if before.classification.as_deref() != classification {
        tx.audit(ctx.event(
            "bundle.classified",
            "bundle",
            bundle,
            json!({ "policy_id": policy.to_string(), "before": before.classification, "after": classification }),
        ));
    }
    if before.current_stage != current_stage {
        tx.audit(ctx.event(
            "bundle.stage_changed",
            "bundle",
            bundle,
            json!({ "policy_id": policy.to_string(), "before": before.current_stage, "after": current_stage }),
        ));
    }
    Ok(())
}

/// A new answer revision.
#[derive(Debug, Clone)]
pub struct NewAnswer {
    pub bundle_id: BundleId,
    pub policy_id: PolicyId,
    pub input_id: String,
    pub stage: String,
    pub value: serde_json::Value,
    pub carried_from: Option<String>,
    pub carried_over: bool,
}

/// Save an answer as a new revision (the latest counts; history is kept); audited
/// as `evidence.answered` with before/after — or `evidence.carried_over` when copied
/// from another bundle, or `evidence.confirmed` when a carried-over answer is saved
/// unchanged.
pub async fn save_answer(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    new: NewAnswer,
    by: &User,
) -> Result<Answer, StoreError> {
    let sql = format!(
        "SELECT {ANSWER_COLUMNS} FROM answers WHERE bundle_id = $1 AND policy_id = $2 AND input_id = $3 ORDER BY revision DESC LIMIT 1"
    );
    let previous = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(new.bundle_id.to_string())
        .bind(new.policy_id.to_string())
        .bind(&new.input_id)
        .fetch_optional(tx.conn())
        .await?
        .as_ref()
        .map(answer_from_row)
        .transpose()?;
    let answer = Answer {
        id: AnswerId::new(),
        bundle_id: new.bundle_id,
        policy_id: new.policy_id,
        input_id: new.input_id,
        stage: new.stage,
        revision: previous.as_ref().map_or(1, |p| p.revision + 1),
        value: new.value,
        answered_by: by.id,
        answered_at: now_ms(),
        carried_from: new.carried_from,
        carried_over: new.carried_over,
    };
    sqlx::query(
        "INSERT INTO answers (id, bundle_id, policy_id, input_id, stage, revision, value, answered_by, answered_at, carried_from, carried_over) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(answer.id.to_string())
    .bind(answer.bundle_id.to_string())
    .bind(answer.policy_id.to_string())
    .bind(&answer.input_id)
    .bind(&answer.stage)
    .bind(answer.revision)
    .bind(answer.value.to_string())
    .bind(by.id.to_string())
    .bind(answer.answered_at)
    .bind(&answer.carried_from)
    .bind(i64::from(answer.carried_over))
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE bundles SET updated_at = $1 WHERE id = $2")
        .bind(answer.answered_at)
        .bind(answer.bundle_id.to_string())
        .execute(tx.conn())
        .await?;
    // Saving a carried-over answer unchanged confirms it.
    let confirms = previous
        .as_ref()
        .is_some_and(|p| p.carried_over && p.value == answer.value);
    let action = if answer.carried_over {
        "evidence.carried_over"
    } else if confirms {
        "evidence.confirmed"
    } else {
        "evidence.answered"
    };
    tx.audit(ctx.event(
        action,
        "bundle",
        answer.bundle_id,
        json!({
            "policy_id": answer.policy_id.to_string(), "input_id": answer.input_id, "answer_id": answer.id.to_string(),
            "revision": answer.revision, "before": previous.as_ref().map(|p| &p.value), "after": answer.value,
            "carried_from": answer.carried_from,
        }),
    ));
    Ok(answer)
}

/// Attach something to a bundle; audited as `attachment.added`.
#[expect(
    clippy::too_many_arguments,
    reason = "an attachment has that many facts; a struct would only rename them"
)]
pub async fn add_attachment(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: BundleId,
    kind: &str,
    name: &str,
    reference: serde_json::Value,
    blob: Option<(&str, &str, i64)>,
    copied_from: Option<String>,
    by: &User,
) -> Result<Attachment, StoreError> {
    add_attachment_with_id(
        tx,
        ctx,
        AttachmentId::new(),
        bundle,
        kind,
        name,
        reference,
        blob,
        copied_from,
        by,
    )
    .await
}

/// [`add_attachment`] under an id chosen beforehand: an upload's blob key names its
/// attachment, so the id exists before the row does.
#[expect(
    clippy::too_many_arguments,
    reason = "an attachment has that many facts; a struct would only rename them"
)]
pub async fn add_attachment_with_id(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    id: AttachmentId,
    bundle: BundleId,
    kind: &str,
    name: &str,
    reference: serde_json::Value,
    blob: Option<(&str, &str, i64)>,
    copied_from: Option<String>,
    by: &User,
) -> Result<Attachment, StoreError> {
    let att = Attachment {
        id,
        bundle_id: bundle,
        kind: kind.to_owned(),
        name: name.to_owned(),
        reference: reference.to_string(),
        blob_key: blob.map(|b| b.0.to_owned()),
        sha256: blob.map(|b| b.1.to_owned()),
        size: blob.map(|b| b.2),
        copied_from,
        created_by: by.id,
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO attachments (id, bundle_id, kind, name, reference, blob_key, sha256, size, copied_from, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(att.id.to_string())
    .bind(bundle.to_string())
    .bind(&att.kind)
    .bind(&att.name)
    .bind(&att.reference)
    .bind(&att.blob_key)
    .bind(&att.sha256)
    .bind(att.size)
    .bind(&att.copied_from)
    .bind(by.id.to_string())
    .bind(att.created_at)
    .execute(tx.conn())
    .await?;
    tx.audit(ctx.event(
        "attachment.added",
        "bundle",
        bundle,
        json!({ "attachment_id": att.id.to_string(), "kind": att.kind, "name": att.name, "reference": reference,
                "sha256": att.sha256, "size": att.size, "copied_from": att.copied_from }),
    ));
    Ok(att)
}
