//! Feedback annotations on spans and traces: one row per (project, trace, span,
//! name, identifier), so posting the same annotation again updates it.

use charter_domain::time::{Millis, now_ms};
use charter_domain::{AnnotationId, ProjectId, UserId};
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{AuditContext, Store, StoreError, WriteTx, decode_id};

/// What an annotation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationTarget {
    Span,
    Trace,
}

/// An annotation to record (or update).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnnotation {
    pub project_id: ProjectId,
    pub trace_id: String,
    /// Empty for an annotation of the whole trace.
    pub span_id: String,
    pub name: String,
    pub annotator_kind: &'static str,
    pub label: Option<String>,
    pub score: Option<f64>,
    pub explanation: Option<String>,
    /// JSON object text.
    pub metadata: String,
    pub identifier: String,
    /// Counts as negative feedback (decided by the domain's rule).
    pub negative: bool,
    /// `API` or `APP` (the web UI).
    pub source: &'static str,
    pub created_by: Option<UserId>,
}

/// A recorded annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    pub id: AnnotationId,
    pub project_id: ProjectId,
    pub trace_id: String,
    pub span_id: String,
    pub name: String,
    pub annotator_kind: String,
    pub label: Option<String>,
    pub score: Option<f64>,
    pub explanation: Option<String>,
    pub metadata: String,
    pub identifier: String,
    pub negative: bool,
    pub source: String,
    pub created_by: Option<UserId>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Annotation {
    pub fn target(&self) -> AnnotationTarget {
        if self.span_id.is_empty() {
            AnnotationTarget::Trace
        } else {
            AnnotationTarget::Span
        }
    }
}

const COLUMNS: &str = "id, project_id, trace_id, span_id, name, annotator_kind, label, score, explanation, metadata, \
                       identifier, negative, source, created_by, created_at, updated_at";

fn from_row(r: &AnyRow) -> Result<Annotation, StoreError> {
    let created_by: Option<String> = r.try_get(13)?;
    Ok(Annotation {
        id: decode_id(r.try_get::<String, _>(0)?)?,
        project_id: decode_id(r.try_get::<String, _>(1)?)?,
        trace_id: r.try_get(2)?,
        span_id: r.try_get(3)?,
        name: r.try_get(4)?,
        annotator_kind: r.try_get(5)?,
        label: r.try_get(6)?,
        score: r.try_get(7)?,
        explanation: r.try_get(8)?,
        metadata: r.try_get(9)?,
        identifier: r.try_get(10)?,
        negative: r.try_get::<i64, _>(11)? != 0,
        source: r.try_get(12)?,
        created_by: created_by.map(decode_id).transpose()?,
        created_at: r.try_get(14)?,
        updated_at: r.try_get(15)?,
    })
}

impl Store {
    /// A trace's annotations (of its spans and of itself), oldest first.
    pub async fn trace_annotations(&self, project: ProjectId, trace_id: &str) -> Result<Vec<Annotation>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM telemetry_annotations WHERE project_id = $1 AND trace_id = $2 ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project.to_string())
            .bind(trace_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Annotations of a project, newest first, optionally only of some spans or
    /// with an identifier.
    pub async fn annotations(
        &self,
        project: ProjectId,
        span_ids: &[String],
        identifier: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Annotation>, StoreError> {
        let mut sql = format!("SELECT {COLUMNS} FROM telemetry_annotations WHERE project_id = $1");
        let mut n = 1;
        if !span_ids.is_empty() {
            let ps: Vec<String> = (0..span_ids.len()).map(|i| format!("${}", n + 1 + i)).collect();
            n += span_ids.len();
            sql.push_str(&format!(" AND span_id IN ({})", ps.join(", ")));
        }
        if identifier.is_some() {
            n += 1;
            sql.push_str(&format!(" AND identifier = ${n}"));
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ${}", n + 1));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project.to_string());
        for s in span_ids {
            q = q.bind(s.clone());
        }
        if let Some(i) = identifier {
            q = q.bind(i.to_owned());
        }
        let rows = q.bind(limit.clamp(1, 10_000)).fetch_all(&self.pool).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn annotation(&self, id: AnnotationId) -> Result<Annotation, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM telemetry_annotations WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("annotation {id}")))?;
        from_row(&row)
    }
}

/// Record annotations, updating those that exist (same project, trace, span, name
/// and identifier); one `annotation.recorded` event covers them all. Returns their
/// ids in order.
pub async fn upsert_annotations(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    annotations: Vec<NewAnnotation>,
) -> Result<Vec<AnnotationId>, StoreError> {
    let now = now_ms();
    let mut ids = Vec::with_capacity(annotations.len());
    let mut summary = Vec::new();
    let project = annotations.first().map(|a| a.project_id);
    for a in &annotations {
        let row = sqlx::query(
            "INSERT INTO telemetry_annotations (id, project_id, trace_id, span_id, name, annotator_kind, label, score, \
             explanation, metadata, identifier, negative, source, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
             ON CONFLICT (project_id, trace_id, span_id, name, identifier) DO UPDATE SET \
             annotator_kind = excluded.annotator_kind, label = excluded.label, score = excluded.score, \
             explanation = excluded.explanation, metadata = excluded.metadata, negative = excluded.negative, \
             source = excluded.source, created_by = excluded.created_by, updated_at = excluded.updated_at \
             RETURNING id, created_at",
        )
        .bind(AnnotationId::new().to_string())
        .bind(a.project_id.to_string())
        .bind(&a.trace_id)
        .bind(&a.span_id)
        .bind(&a.name)
        .bind(a.annotator_kind)
        .bind(&a.label)
        .bind(a.score)
        .bind(&a.explanation)
        .bind(&a.metadata)
        .bind(&a.identifier)
        .bind(i64::from(a.negative))
        .bind(a.source)
        .bind(a.created_by.map(|u| u.to_string()))
        .bind(now)
        .fetch_one(tx.conn())
        .await?;
        let id: AnnotationId = decode_id(row.try_get::<String, _>(0)?)?;
        let created_at: i64 = row.try_get(1)?;
        if summary.len() < 50 {
            summary.push(json!({
                "id": id.to_string(), "trace_id": a.trace_id, "span_id": a.span_id, "name": a.name,
                "annotator_kind": a.annotator_kind, "label": a.label, "score": a.score,
                "identifier": a.identifier, "updated": created_at != now,
            }));
        }
        ids.push(id);
    }
    if let Some(project) = project {
        tx.audit(ctx.event(
            "annotation.recorded",
            "project",
            project,
            json!({ "count": ids.len(), "annotations": summary }),
        ));
    }
    Ok(ids)
}

/// Delete an annotation; audited as `annotation.deleted`.
pub async fn delete_annotation(tx: &mut WriteTx, ctx: &AuditContext, a: &Annotation) -> Result<(), StoreError> {
    let n = sqlx::query("DELETE FROM telemetry_annotations WHERE id = $1")
        .bind(a.id.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound(format!("annotation {}", a.id)));
    }
    tx.audit(ctx.event(
        "annotation.deleted",
        "project",
        a.project_id,
        json!({ "id": a.id.to_string(), "trace_id": a.trace_id, "span_id": a.span_id, "name": a.name,
                "label": a.label, "score": a.score, "identifier": a.identifier }),
    ));
    Ok(())
}
