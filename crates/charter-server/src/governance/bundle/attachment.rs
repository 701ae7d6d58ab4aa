//! Attachments: typed links to what a bundle governs (a registered model version,
//! an app, a report, a check result, telemetry), and files uploaded into blob
//! storage with their SHA-256.
//!
//! Uploads stream: the request body goes to [`BlobStore::put_stream`] chunk by
//! chunk, hashed on the way, and is never held whole. The server's request body
//! limit (`server.body_limit_bytes`) applies to uploads too; raise it to accept
//! larger files. Blob keys are `bundles/<bundle-id>/<attachment-id>/<sanitized name>`.
//!
//! [`BlobStore::put_stream`]: charter_store::BlobStore::put_stream

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Bytes;
use charter_domain::AttachmentId;
use charter_store::AuditContext;
use charter_store::bundle::{Attachment, Bundle, BundleState};
use charter_store::user::User;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use serde_json::json;

use super::super::project::{Access, require};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Kinds of attachment added by reference (JSON).
pub const LINK_KINDS: [&str; 5] = ["model_version", "app", "report", "check_result", "telemetry"];

/// Kinds an upload may have (`file` unless told otherwise).
pub const UPLOAD_KINDS: [&str; 4] = ["file", "report", "check_result", "telemetry"];

/// The key of an upload's reference that names the finding it supports.
pub const FINDING_KEY: &str = "finding_id";

/// The largest reference accepted, as JSON text.
const MAX_REFERENCE_BYTES: usize = 16 * 1024;

/// Content types served back as themselves; anything else is served as
/// `application/octet-stream`, so an upload can never become a page of this site.
const SAFE_CONTENT_TYPES: [&str; 8] = [
    "application/pdf",
    "application/json",
    "text/plain",
    "text/csv",
    "image/png",
    "image/jpeg",
    "application/zip",
    "application/gzip",
];

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name: give the attachment a name of 1 to 200 characters, without control characters",
        ));
    }
    Ok(name.to_owned())
}

/// The bundle, checked for write access and for taking evidence (not complete or
/// archived).
async fn writable(state: &AppState, by: &User, bundle: &Bundle) -> ApiResult<()> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, by, &project, Access::Write).await?;
    if bundle.state != BundleState::Active {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is {}; its evidence is frozen, so nothing can be attached",
            bundle.name,
            bundle.state.as_str()
        )));
    }
    Ok(())
}

/// Check a reference for its kind: a JSON object; a model version names `model`
/// and `version`, an app its `name` or `url`.
fn check_reference(kind: &str, reference: &serde_json::Value) -> ApiResult<()> {
    let Some(obj) = reference.as_object().filter(|o| !o.is_empty()) else {
        return Err(ApiError::invalid(
            "reference: give a JSON object saying what the attachment points at, e.g. {\"model\": \"helpbot\", \"version\": 3}",
        ));
    };
    if reference.to_string().len() > MAX_REFERENCE_BYTES {
        return Err(ApiError::invalid(format!(
            "reference: at most {MAX_REFERENCE_BYTES} bytes of JSON; upload large content as a file instead"
        )));
    }
    let text = |k: &str| {
        obj.get(k)
            .is_some_and(|v| v.as_str().is_some_and(|s| !s.trim().is_empty()))
    };
    let scalar = |k: &str| text(k) || obj.get(k).is_some_and(serde_json::Value::is_number);
    match kind {
        "model_version" if !(text("model") && scalar("version")) => Err(ApiError::invalid(
            "reference: a model_version names its registered `model` and `version`, e.g. {\"model\": \"helpbot\", \"version\": 3}",
        )),
        "app" if !(text("name") || text("url")) => Err(ApiError::invalid(
            "reference: an app names its `name` or `url`, e.g. {\"name\": \"helpbot\"}",
        )),
        _ => Ok(()),
    }
}

/// Attach something by reference; audited as `attachment.added`.
pub async fn add(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    kind: &str,
    name: &str,
    mut reference: serde_json::Value,
) -> ApiResult<Attachment> {
    writable(state, by, bundle).await?;
    let kind = kind.trim();
    if !LINK_KINDS.contains(&kind) {
        return Err(ApiError::invalid(format!(
            "kind: `{kind}` must be one of {}; upload files with POST /bundles/{{id}}/attachments/upload",
            LINK_KINDS.join(", ")
        )));
    }
    let name = check_name(name)?;
    check_reference(kind, &reference)?;
    if kind == "model_version" {
        // A version of Charter's own registry is checked, linked and its metrics checked.
        super::super::model_link::resolve_reference(state, by, &mut reference).await?;
    }
    let linked = reference["registry"] == "charter";
    let mut tx = state.store.begin().await?;
    let att =
        charter_store::bundle::add_attachment(&mut tx, ctx, bundle.id, kind, &name, reference, None, None, by).await?;
    tx.commit().await?;
    if linked && let Err(e) = super::super::model_link::check_bundle(state, ctx, by, bundle).await {
        tracing::warn!(bundle = %bundle.id, error = %e, "the metrics checks of an attached model version failed to run");
    }
    Ok(att)
}

/// A file name as one safe storage-key segment: ASCII letters, digits, `.`, `-`,
/// `_` (anything else becomes `_`), no leading dots, at most 100 characters.
pub fn sanitize_file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed: String = cleaned.trim_start_matches('.').chars().take(100).collect();
    if trimmed.is_empty() { "file".to_owned() } else { trimmed }
}

/// What an upload says about itself.
#[derive(Debug, Clone, Default)]
pub struct UploadMeta {
    /// The file name (required).
    pub name: String,
    /// `file` (default), `report`, `check_result` or `telemetry`.
    pub kind: Option<String>,
    /// The request's `Content-Type`, recorded in the reference.
    pub content_type: Option<String>,
    /// The request's `Content-Length`, when sent: checked against the limit before
    /// anything is read.
    pub content_length: Option<u64>,
    /// The finding (`fnd_…`) of this bundle the file supports. Whoever may work the
    /// finding may attach to it (approvers too), while the bundle is not archived.
    pub finding: Option<String>,
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "the upload is larger than this server accepts ({limit} bytes); an operator can raise `server.body_limit_bytes`"
        ),
    )
}

/// Stream an uploaded file into blob storage and attach it; audited as
/// `attachment.added` with its SHA-256 and size. On any failure nothing is
/// attached and the partial blob is removed.
pub async fn upload<S, E>(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    meta: UploadMeta,
    body: S,
) -> ApiResult<Attachment>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::fmt::Display,
{
    let finding = match meta.finding.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => Some(super::super::finding::attachable(state, by, bundle, f).await?),
        None => {
            writable(state, by, bundle).await?;
            None
        }
    };
    let name = check_name(&meta.name)?;
    let kind = meta
        .kind
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .unwrap_or("file");
    if !UPLOAD_KINDS.contains(&kind) {
        return Err(ApiError::invalid(format!(
            "kind: `{kind}` must be one of {} for an upload",
            UPLOAD_KINDS.join(", ")
        )));
    }
    let limit = state.config.server.body_limit_bytes;
    if meta.content_length.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let id = AttachmentId::new();
    let key = format!("bundles/{}/{id}/{}", bundle.id, sanitize_file_name(&name));
    // Count as we go: a body without Content-Length (chunked) meets the same limit.
    let over = Arc::new(AtomicBool::new(false));
    let flag = over.clone();
    let mut seen = 0usize;
    let limited = body.map(move |chunk| match chunk {
        Ok(c) => {
            seen += c.len();
            if seen > limit {
                flag.store(true, Ordering::Relaxed);
                Err(format!("more than {limit} bytes"))
            } else {
                Ok(c)
            }
        }
        Err(e) => Err(e.to_string()),
    });
    let stored = match state.blobs.put_stream(&key, limited).await {
        Ok(s) => s,
        Err(_) if over.load(Ordering::Relaxed) => return Err(too_large(limit)),
        Err(charter_store::StoreError::Blob(msg)) if msg.contains("was interrupted") => {
            return Err(ApiError::invalid(format!("the upload did not arrive whole: {msg}")));
        }
        Err(e) => return Err(e.into()),
    };
    let mut reference = json!({ "file_name": name, "content_type": meta.content_type });
    if let Some(f) = &finding {
        reference[FINDING_KEY] = json!(f.id.to_string());
    }
    let size = i64::try_from(stored.size).unwrap_or(i64::MAX);
    let saved = async {
        let mut tx = state.store.begin().await?;
        let att = charter_store::bundle::add_attachment_with_id(
            &mut tx,
            ctx,
            id,
            bundle.id,
            kind,
            &name,
            reference,
            Some((&stored.key, &stored.sha256, size)),
            None,
            by,
        )
        .await?;
        tx.commit().await?;
        Ok::<_, charter_store::StoreError>(att)
    }
    .await;
    match saved {
        Ok(att) => Ok(att),
        Err(e) => {
            if let Err(del) = state.blobs.delete(&stored.key).await {
                tracing::warn!(key = %stored.key, error = %del, "could not remove the blob of a failed upload");
            }
            Err(e.into())
        }
    }
}

/// Whether an attachment was uploaded to a finding (rather than to the bundle's evidence).
pub fn finding_of(attachment: &Attachment) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(&attachment.reference)
        .ok()?
        .get(FINDING_KEY)?
        .as_str()
        .map(str::to_owned)
}

/// A bundle's attachments, for someone who may read its project.
pub async fn list(state: &AppState, user: &User, bundle: &Bundle) -> ApiResult<Vec<Attachment>> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, user, &project, Access::Read).await?;
    Ok(state.store.attachments(bundle.id).await?)
}

/// Uploaded content to send back.
pub struct Content {
    pub attachment: Attachment,
    pub size: u64,
    /// The content type to serve: the uploaded one when it is harmless, else
    /// `application/octet-stream`.
    pub content_type: String,
    /// A safe file name for `Content-Disposition`.
    pub file_name: String,
    pub stream: BoxStream<'static, Result<Bytes, charter_store::StoreError>>,
}

/// Stream an attachment's uploaded content, for someone who may read the bundle.
pub async fn content(state: &AppState, user: &User, bundle: &Bundle, attachment: &str) -> ApiResult<Content> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, user, &project, Access::Read).await?;
    let id: AttachmentId = attachment
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
    let att = state.store.attachment(id).await?;
    if att.bundle_id != bundle.id {
        return Err(ApiError::not_found(format!(
            "bundle `{}` has no attachment {attachment}",
            bundle.name
        )));
    }
    let Some(key) = att.blob_key.clone() else {
        return Err(ApiError::not_found(format!(
            "attachment `{}` is a {} reference and has no uploaded content",
            att.name, att.kind
        )));
    };
    let (size, stream) = state.blobs.get(&key).await?;
    let reference: serde_json::Value = serde_json::from_str(&att.reference).unwrap_or_default();
    let declared = reference["content_type"]
        .as_str()
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let content_type = if SAFE_CONTENT_TYPES.contains(&declared.as_str()) {
        declared
    } else {
        "application/octet-stream".to_owned()
    };
    Ok(Content {
        file_name: sanitize_file_name(&att.name),
        attachment: att,
        size,
        content_type,
        stream,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_become_one_safe_key_segment() {
        assert_eq!(sanitize_file_name("model card v2.pdf"), "model_card_v2.pdf");
        assert_eq!(sanitize_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(sanitize_file_name(".."), "file");
        assert_eq!(sanitize_file_name("résumé.txt"), "r_sum_.txt");
        assert_eq!(sanitize_file_name(&"a".repeat(300)).len(), 100);
        for name in ["../../etc/passwd", "..", "a/b", "", "x\u{0}y"] {
            let key = format!("bundles/b/a/{}", sanitize_file_name(name));
            assert!(charter_store::BlobStore::key(&key).is_ok(), "{name} → {key}");
        }
    }

    #[test]
    fn references_say_what_they_point_at() {
        assert!(check_reference("model_version", &json!({"model": "helpbot", "version": 3})).is_ok());
        assert!(check_reference("model_version", &json!({"model": "helpbot"})).is_err());
        assert!(check_reference("app", &json!({"url": "https://helpbot.example"})).is_ok());
        assert!(check_reference("report", &json!("text")).is_err());
        assert!(check_reference("report", &json!({})).is_err());
        assert!(check_reference("telemetry", &json!({"trace": "abc"})).is_ok());
    }
}
