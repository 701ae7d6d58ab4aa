//! Retention: deleting a project's oldest spans, in chunks so ingest (which needs
//! the same write lock on SQLite) never waits long, and the annotations left
//! without their span. The job that calls this records one audited event per
//! project and run with what was deleted.

use charter_domain::ProjectId;
use serde_json::json;

use crate::{AuditContext, Store, StoreError, WriteTx};

/// What a retention run deleted in one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionOutcome {
    pub spans_by_age: u64,
    pub spans_by_count: u64,
    pub annotations: u64,
}

impl RetentionOutcome {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Store {
    /// Delete a project's spans that started before `cutoff_ns`, `chunk` at a time
    /// (each chunk its own short transaction). Returns how many were deleted.
    pub async fn delete_spans_before(&self, project: ProjectId, cutoff_ns: i64, chunk: i64) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            // The start time `chunk` spans in: everything before it goes this round.
            let boundary: Option<i64> = sqlx::query_scalar(
                "SELECT start_ns FROM telemetry_spans WHERE project_id = $1 AND start_ns < $2 \
                 ORDER BY start_ns LIMIT 1 OFFSET $3",
            )
            .bind(project.to_string())
            .bind(cutoff_ns)
            .bind(chunk.max(1))
            .fetch_optional(&self.pool)
            .await?;
            let upto = boundary.unwrap_or(cutoff_ns);
            let mut tx = self.begin().await?;
            let mut n = sqlx::query("DELETE FROM telemetry_spans WHERE project_id = $1 AND start_ns < $2")
                .bind(project.to_string())
                .bind(upto)
                .execute(tx.conn())
                .await?
                .rows_affected();
            if n == 0 && boundary.is_some() {
                // The whole chunk shares one start time: take that time too.
                n = sqlx::query(
                    "DELETE FROM telemetry_spans WHERE project_id = $1 AND start_ns <= $2 AND start_ns < $3",
                )
                .bind(project.to_string())
                .bind(upto)
                .bind(cutoff_ns)
                .execute(tx.conn())
                .await?
                .rows_affected();
            }
            tx.commit_unaudited("retention deletes in chunks; the run records one audited telemetry.retention_applied")
                .await?;
            deleted += n;
            if boundary.is_none() || n == 0 {
                return Ok(deleted);
            }
        }
    }

    /// The start time before which a project's spans go so that at most `keep`
    /// remain: `None` when it holds no more than that.
    pub async fn keep_newest_cutoff(&self, project: ProjectId, keep: i64) -> Result<Option<i64>, StoreError> {
        let beyond: Option<i64> = sqlx::query_scalar(
            "SELECT start_ns FROM telemetry_spans WHERE project_id = $1 ORDER BY start_ns DESC LIMIT 1 OFFSET $2",
        )
        .bind(project.to_string())
        .bind(keep.max(0))
        .fetch_optional(&self.pool)
        .await?;
        // Spans starting at or before the first one beyond the limit go.
        Ok(beyond.map(|b| b.saturating_add(1)))
    }

    /// Delete a project's annotations whose span (or trace) no longer exists.
    pub async fn delete_orphan_annotations(&self, project: ProjectId) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let n = sqlx::query(
            "DELETE FROM telemetry_annotations WHERE project_id = $1 AND NOT EXISTS (\
             SELECT 1 FROM telemetry_spans s WHERE s.project_id = telemetry_annotations.project_id \
             AND s.trace_id = telemetry_annotations.trace_id \
             AND (telemetry_annotations.span_id = '' OR s.span_id = telemetry_annotations.span_id))",
        )
        .bind(project.to_string())
        .execute(tx.conn())
        .await?
        .rows_affected();
        tx.commit_unaudited("retention of annotations is recorded in telemetry.retention_applied")
            .await?;
        Ok(n)
    }
}

/// Record what a retention run deleted in a project: `telemetry.retention_applied`.
pub async fn record_retention(
    tx: &mut WriteTx,
    ctx: &AuditContext,
    project: ProjectId,
    outcome: &RetentionOutcome,
    retention_days: Option<i64>,
    retention_max_spans: Option<i64>,
) {
    tx.audit(ctx.event(
        "telemetry.retention_applied",
        "project",
        project,
        json!({
            "retention_days": retention_days,
            "retention_max_spans": retention_max_spans,
            "spans_deleted_by_age": outcome.spans_by_age,
            "spans_deleted_by_count": outcome.spans_by_count,
            "annotations_deleted": outcome.annotations,
        }),
    ));
}
