//! The proxied artifact store: `PUT`, `GET`, list and `DELETE` under
//! `/api/2.0/mlflow-artifacts/artifacts/<experiment>/<…>`, streamed to and from
//! Charter's blob storage (local directory or S3-compatible) without holding a file
//! in memory.
//!
//! Paths are checked by [`BlobStore::key`](charter_store::BlobStore::key): relative,
//! no `.`/`..`/empty segments, no backslashes or control characters — so no path can
//! reach outside `mlflow-artifacts/`. The first segment is the experiment id, whose
//! project decides who may read (GET, list) and write (PUT, DELETE).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use charter_store::BlobStore;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{self, Who};
use super::error::{ErrorCode, MlResult, MlflowError};
use super::wire::{Req, lenient};
use crate::auth::Caller;
use crate::governance::project::Access;
use crate::state::AppState;

/// Where MLflow artifacts live inside blob storage.
pub const PREFIX: &str = "mlflow-artifacts";

/// The blob key of an artifact path, after checking the caller may `access` its
/// experiment.
async fn key_for(state: &AppState, c: &Caller, path: &str, access: Access) -> MlResult<String> {
    let path = path.trim_matches('/');
    let invalid = |why: &str| MlflowError::invalid(format!("Invalid path `{path}`: {why}"));
    let key = format!("{PREFIX}/{path}");
    BlobStore::key(&key).map_err(|_| invalid("use a relative path without `.` or `..` segments"))?;
    let first = path.split('/').next().unwrap_or_default();
    let experiment: i64 = first
        .parse()
        .map_err(|_| invalid("artifact paths start with the experiment id"))?;
    access::experiment(state, c, experiment, access).await?;
    Ok(key)
}

/// The artifact path inside `mlflow-artifacts:/…` URIs.
pub fn uri_path(uri: &str) -> Option<&str> {
    uri.strip_prefix("mlflow-artifacts:/")
        .map(|p| p.trim_start_matches('/'))
}

pub async fn upload_artifact(
    State(state): State<AppState>,
    Who(c): Who,
    Path(path): Path<String>,
    request: Request,
) -> MlResult<Json<Value>> {
    let key = key_for(&state, &c, &path, Access::Write).await?;
    let body = request.into_body().into_data_stream();
    match state.blobs.put_stream(&key, body).await {
        Ok(_) => Ok(Json(json!({}))),
        Err(charter_store::StoreError::Blob(msg)) if msg.contains("was interrupted") => {
            Err(MlflowError::invalid(format!("the upload did not arrive whole: {msg}")))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn download_artifact(
    State(state): State<AppState>,
    Who(c): Who,
    Path(path): Path<String>,
) -> MlResult<Response> {
    let key = key_for(&state, &c, &path, Access::Read).await?;
    let (size, stream) = match state.blobs.get(&key).await {
        Ok(found) => found,
        Err(charter_store::StoreError::NotFound(_)) => {
            return Err(MlflowError::not_found(format!("artifact `{path}` does not exist")));
        }
        Err(e) => return Err(e.into()),
    };
    let name = path.rsplit('/').next().unwrap_or("artifact").replace(['"', '\\'], "_");
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    // Served as bytes, never as a page of this site.
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
        headers.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

pub async fn delete_artifact(
    State(state): State<AppState>,
    Who(c): Who,
    Path(path): Path<String>,
) -> MlResult<Json<Value>> {
    let key = key_for(&state, &c, &path, Access::Write).await?;
    if state.blobs.size(&key).await?.is_some() {
        state.blobs.delete(&key).await?;
    } else {
        for (k, _) in state.blobs.list(&key).await? {
            state.blobs.delete(&k).await?;
        }
    }
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    path: Option<String>,
}

/// One directory level: `(name, is_dir, size)`, directories first, by name.
pub async fn entries(state: &AppState, key: &str) -> MlResult<Vec<(String, bool, u64)>> {
    if state.blobs.size(key).await?.is_some() {
        // A file is not a directory.
        return Ok(Vec::new());
    }
    let (dirs, files) = state.blobs.list_dir(key).await?;
    let mut out: Vec<(String, bool, u64)> = Vec::new();
    for d in dirs {
        // A local directory emptied by deletes lingers on disk; it holds no artifact.
        if !state.blobs.list(&format!("{key}/{d}")).await?.is_empty() {
            out.push((d, true, 0));
        }
    }
    out.extend(files.into_iter().map(|(f, s)| (f, false, s)));
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// `GET …/mlflow-artifacts/artifacts?path=<dir>`: basenames; `{}` for a file or a
/// directory that does not exist.
pub async fn list_artifacts(
    State(state): State<AppState>,
    Who(c): Who,
    Req(q): Req<ListQuery>,
) -> MlResult<Json<Value>> {
    let path = q.path.unwrap_or_default();
    let path = path.trim_matches('/');
    if path.is_empty() {
        return Ok(Json(json!({})));
    }
    let key = key_for(&state, &c, path, Access::Read).await?;
    let found = entries(&state, &key).await?;
    if found.is_empty() {
        return Ok(Json(json!({})));
    }
    let files: Vec<Value> = found
        .iter()
        .map(|(name, is_dir, size)| {
            if *is_dir {
                json!({ "path": name, "is_dir": true })
            } else {
                json!({ "path": name, "is_dir": false, "file_size": size })
            }
        })
        .collect();
    Ok(Json(json!({ "files": files })))
}

#[derive(Debug, Deserialize)]
pub struct RunListQuery {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_uuid: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    path: Option<String>,
}

/// `GET /api/2.0/mlflow/artifacts/list`: a run's artifacts, paths relative to the run's root.
pub async fn list_run_artifacts(
    State(state): State<AppState>,
    Who(c): Who,
    Req(q): Req<RunListQuery>,
) -> MlResult<Json<Value>> {
    let id = q
        .run_id
        .or(q.run_uuid)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| MlflowError::missing("run_id"))?;
    let run = access::run(&state, &c, &id, Access::Read).await?;
    let root = uri_path(&run.artifact_uri).unwrap_or_default().to_owned();
    let rel = q.path.unwrap_or_default().trim_matches('/').to_owned();
    let dir = if rel.is_empty() {
        root.clone()
    } else {
        format!("{root}/{rel}")
    };
    let key = key_for(&state, &c, &dir, Access::Read).await?;
    let files: Vec<Value> = entries(&state, &key)
        .await?
        .into_iter()
        .map(|(name, is_dir, size)| {
            let p = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            if is_dir {
                json!({ "path": p, "is_dir": true })
            } else {
                json!({ "path": p, "is_dir": false, "file_size": size })
            }
        })
        .collect();
    Ok(Json(json!({ "root_uri": run.artifact_uri, "files": files })))
}

/// Multipart uploads and presigned URLs: not offered (so every byte flows through
/// Charter); the client falls back to a plain PUT on exactly this message.
pub async fn multipart_not_supported() -> MlflowError {
    MlflowError::new(
        ErrorCode::NotImplemented,
        "Multipart upload is not supported for the current artifact repository",
    )
}
