//! Feedback annotations on spans and traces: HelpBot's thumbs up/down, a
//! reviewer's label, an LLM judge's score. Recorded through Phoenix's REST shape
//! (`POST /v1/span_annotations`, `/v1/trace_annotations`, the same under
//! `/api/v1`) or the trace page; upserted on (span or trace, name, identifier);
//! one audited `annotation.recorded` event per project and request.
//!
//! Who may annotate: a project ingest token for its own project's spans, or a
//! person who may write in the span's project.

use std::collections::HashMap;

use charter_domain::telemetry::feedback::{AnnotatorKind, is_negative};
use charter_domain::telemetry::{SpanId, TraceId};
use charter_domain::{AnnotationId, ProjectId};
use charter_store::AuditContext;
use charter_store::project::Project;
use charter_store::telemetry::Annotation;
use charter_store::telemetry::annotation::{self, NewAnnotation};
use charter_store::user::User;

use super::Sender;
use crate::error::{ApiError, ApiResult};
use crate::governance::project::{Access, require};
use crate::state::AppState;

const ANONYMOUS: &str =
    "send a project ingest token (`Authorization: Bearer chi_…`) or a personal token to record feedback";

/// Most annotations one request may carry.
pub const MAX_PER_REQUEST: usize = 1000;

/// An annotation as sent (Phoenix's fields).
#[derive(Debug, Clone, Default)]
pub struct AnnotationInput {
    /// Hex span id (span annotations) …
    pub span_id: Option<String>,
    /// … or hex trace id (trace annotations).
    pub trace_id: Option<String>,
    pub name: String,
    pub annotator_kind: String,
    pub label: Option<String>,
    pub score: Option<f64>,
    pub explanation: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub identifier: Option<String>,
}

struct Checked {
    project: ProjectId,
    trace_id: String,
    span_id: String,
    name: String,
    kind: AnnotatorKind,
    label: Option<String>,
    score: Option<f64>,
    explanation: Option<String>,
    metadata: String,
    identifier: String,
}

fn check_text(field: &str, text: Option<&str>, max: usize) -> ApiResult<Option<String>> {
    match text {
        Some(t) if t.chars().count() > max => Err(ApiError::invalid(format!("{field}: at most {max} characters"))),
        Some(t) => Ok(Some(t.to_owned())),
        None => Ok(None),
    }
}

/// Who may annotate in `project`: its own ingest token, or a writer of it.
async fn may_annotate(state: &AppState, sender: &Sender, project: &Project) -> ApiResult<()> {
    match sender {
        Sender::Token(t) if t.project_id == project.id => Ok(()),
        Sender::Token(_) => Err(ApiError::not_found("span not found")),
        Sender::User(caller) => require(state, &caller.user, project, Access::Write).await.map(|_| ()),
        Sender::Anonymous => Err(ApiError::unauthenticated(ANONYMOUS)),
    }
}

/// Record annotations; returns their ids in the order sent. Every item is checked
/// first — a bad one fails the request naming its index, and nothing is stored.
pub async fn record(
    state: &AppState,
    sender: &Sender,
    ctx: &AuditContext,
    items: Vec<AnnotationInput>,
    source: &'static str,
) -> ApiResult<Vec<AnnotationId>> {
    if let Sender::Anonymous = sender {
        return Err(ApiError::unauthenticated(ANONYMOUS));
    }
    if items.is_empty() {
        return Err(ApiError::invalid("data: send at least one annotation"));
    }
    if items.len() > MAX_PER_REQUEST {
        return Err(ApiError::invalid(format!(
            "data: at most {MAX_PER_REQUEST} annotations per request, not {}",
            items.len()
        )));
    }
    let mut allowed: HashMap<ProjectId, bool> = HashMap::new();
    let mut checked = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let at = |field: &str| format!("data[{i}].{field}");
        let name = item.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ApiError::invalid(format!(
                "{}: give the annotation a name of 1 to 200 characters, e.g. `user_feedback`",
                at("name")
            )));
        }
        let kind = AnnotatorKind::parse(&item.annotator_kind).ok_or_else(|| {
            ApiError::invalid(format!(
                "{}: `{}` must be HUMAN, LLM or CODE",
                at("annotator_kind"),
                item.annotator_kind
            ))
        })?;
        if item.score.is_some_and(|s| !s.is_finite()) {
            return Err(ApiError::invalid(format!(
                "{}: must be a finite number",
                at("result.score")
            )));
        }
        let metadata = match item.metadata {
            None | Some(serde_json::Value::Null) => "{}".to_owned(),
            Some(v @ serde_json::Value::Object(_)) => v.to_string(),
            Some(_) => return Err(ApiError::invalid(format!("{}: must be a JSON object", at("metadata")))),
        };
        if metadata.len() > 16 * 1024 {
            return Err(ApiError::invalid(format!("{}: at most 16 KiB of JSON", at("metadata"))));
        }
        let identifier = item.identifier.unwrap_or_default();
        let (project, trace_id, span_id) = match (&item.span_id, &item.trace_id) {
            (Some(span), _) => {
                let id: SpanId = span.parse().map_err(|e: charter_domain::telemetry::BadId| {
                    ApiError::invalid(format!("{}: {e}", at("span_id")))
                })?;
                let (project, trace) =
                    locate(state, sender, &id.to_string(), &mut allowed)
                        .await?
                        .ok_or_else(|| {
                            ApiError::not_found(format!(
                                "{}: span {id} was not found (or you may not annotate it); spans are annotated once \
                             they are ingested — flush the exporter first",
                                at("span_id")
                            ))
                        })?;
                (project, trace, id.to_string())
            }
            (None, Some(trace)) => {
                let id: TraceId = trace.parse().map_err(|e: charter_domain::telemetry::BadId| {
                    ApiError::invalid(format!("{}: {e}", at("trace_id")))
                })?;
                let project = locate_trace(state, sender, &id.to_string(), &mut allowed)
                    .await?
                    .ok_or_else(|| {
                        ApiError::not_found(format!(
                            "{}: trace {id} was not found (or you may not annotate it)",
                            at("trace_id")
                        ))
                    })?;
                (project, id.to_string(), String::new())
            }
            (None, None) => {
                return Err(ApiError::invalid(format!(
                    "data[{i}]: name the `span_id` (or, for trace annotations, the `trace_id`)"
                )));
            }
        };
        checked.push(Checked {
            project,
            trace_id,
            span_id,
            name: name.to_owned(),
            kind,
            label: check_text(&at("result.label"), item.label.as_deref(), 200)?,
            score: item.score,
            explanation: check_text(&at("result.explanation"), item.explanation.as_deref(), 10_000)?,
            metadata,
            identifier: check_text(&at("identifier"), Some(&identifier), 200)?.unwrap_or_default(),
        });
    }
    let by = match sender {
        Sender::User(c) => Some(c.user.id),
        _ => None,
    };
    // One event per project, ids back in the order sent.
    let mut groups: Vec<(ProjectId, Vec<usize>)> = Vec::new();
    for (i, c) in checked.iter().enumerate() {
        match groups.iter_mut().find(|(p, _)| *p == c.project) {
            Some((_, list)) => list.push(i),
            None => groups.push((c.project, vec![i])),
        }
    }
    let mut ids = vec![None; checked.len()];
    let mut tx = state.store.begin().await?;
    for (_, indices) in &groups {
        let news = indices
            .iter()
            .map(|&i| {
                let c = &checked[i];
                NewAnnotation {
                    project_id: c.project,
                    trace_id: c.trace_id.clone(),
                    span_id: c.span_id.clone(),
                    name: c.name.clone(),
                    annotator_kind: c.kind.as_str(),
                    label: c.label.clone(),
                    score: c.score,
                    explanation: c.explanation.clone(),
                    metadata: c.metadata.clone(),
                    identifier: c.identifier.clone(),
                    negative: is_negative(c.label.as_deref(), c.score),
                    source,
                    created_by: by,
                }
            })
            .collect();
        let got = annotation::upsert_annotations(&mut tx, ctx, news).await?;
        for (&i, id) in indices.iter().zip(got) {
            ids[i] = Some(id);
        }
    }
    tx.commit().await?;
    Ok(ids.into_iter().flatten().collect())
}

/// The project and trace of a span the sender may annotate.
async fn locate(
    state: &AppState,
    sender: &Sender,
    span_id: &str,
    allowed: &mut HashMap<ProjectId, bool>,
) -> ApiResult<Option<(ProjectId, String)>> {
    for (project, trace) in state.store.locate_span(span_id).await? {
        if may(state, sender, project, allowed).await? {
            return Ok(Some((project, trace)));
        }
    }
    Ok(None)
}

/// The project of a trace the sender may annotate.
async fn locate_trace(
    state: &AppState,
    sender: &Sender,
    trace_id: &str,
    allowed: &mut HashMap<ProjectId, bool>,
) -> ApiResult<Option<ProjectId>> {
    let candidates: Vec<ProjectId> = match sender {
        Sender::Token(t) => vec![t.project_id],
        Sender::User(c) => crate::governance::project::list_for(state, &c.user)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect(),
        Sender::Anonymous => Vec::new(),
    };
    for project in candidates {
        if state.store.trace_exists(project, trace_id).await? && may(state, sender, project, allowed).await? {
            return Ok(Some(project));
        }
    }
    Ok(None)
}

async fn may(
    state: &AppState,
    sender: &Sender,
    project: ProjectId,
    allowed: &mut HashMap<ProjectId, bool>,
) -> ApiResult<bool> {
    if let Some(ok) = allowed.get(&project) {
        return Ok(*ok);
    }
    let p = state.store.project(project).await?;
    let ok = match may_annotate(state, sender, &p).await {
        Ok(()) => true,
        Err(e) if e.status.is_client_error() => false,
        Err(e) => return Err(e),
    };
    allowed.insert(project, ok);
    Ok(ok)
}

/// A project's annotations for someone who may read it, optionally of some spans
/// or with an identifier, newest first.
pub async fn list(
    state: &AppState,
    by: &User,
    project: &Project,
    span_ids: &[String],
    identifier: Option<&str>,
    limit: i64,
) -> ApiResult<Vec<Annotation>> {
    require(state, by, project, Access::Read).await?;
    for s in span_ids {
        s.parse::<SpanId>()
            .map_err(|e| ApiError::invalid(format!("span_ids: {e}")))?;
    }
    Ok(state.store.annotations(project.id, span_ids, identifier, limit).await?)
}

/// Delete an annotation (writers of its project); audited as `annotation.deleted`.
pub async fn delete(state: &AppState, ctx: &AuditContext, by: &User, id: &str) -> ApiResult<Annotation> {
    let id: AnnotationId = id
        .trim()
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
    let a = state.store.annotation(id).await?;
    let p = state.store.project(a.project_id).await?;
    if require(state, by, &p, Access::Read).await.is_err() {
        return Err(ApiError::not_found(format!("annotation {id} not found")));
    }
    require(state, by, &p, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    annotation::delete_annotation(&mut tx, ctx, &a).await?;
    tx.commit().await?;
    Ok(a)
}
