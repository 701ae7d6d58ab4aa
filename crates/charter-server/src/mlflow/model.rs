//! Logged models (MLflow 3.x): `log_model` creates one, uploads its files to
//! `mlflow-artifacts:/<experiment>/models/<model_id>/artifacts`, then finalizes it;
//! `register_model` finds it by name and source run.

use axum::Json;
use axum::extract::{Path, State};
use charter_domain::mlflow::{Entity, Field, PageToken, SearchTarget, parse_filter};
use charter_store::mlflow::Lifecycle;
use charter_store::mlflow::logged_model::{self, LoggedModel, NewLoggedModel};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{self, Who};
use super::error::{MlResult, MlflowError};
use super::wire::{self, KvIn, Req, key_values, lenient};
use crate::auth::Caller;
use crate::governance::project::Access;
use crate::state::AppState;

type Answer = MlResult<Json<Value>>;

async fn registrations(state: &AppState, model_id: &str) -> MlResult<Vec<(String, i64)>> {
    Ok(state
        .store
        .mlflow_model_versions(None)
        .await?
        .into_iter()
        .filter(|v| v.logged_model_id.as_deref() == Some(model_id))
        .map(|v| (v.name, v.version))
        .collect())
}

async fn answer(state: &AppState, m: &LoggedModel) -> Answer {
    let regs = registrations(state, &m.model_id).await?;
    Ok(Json(json!({ "model": wire::logged_model(m, &regs) })))
}

/// A logged model the caller may `access`.
async fn find(
    state: &AppState,
    c: &Caller,
    model_id: &str,
    access: Access,
    allow_deleted: bool,
) -> MlResult<LoggedModel> {
    let m = state.store.mlflow_logged_model(model_id).await?;
    access::experiment(state, c, m.experiment_id, access).await?;
    if m.lifecycle == Lifecycle::Deleted && !allow_deleted {
        return Err(MlflowError::not_found(format!(
            "Logged model with ID '{model_id}' not found"
        )));
    }
    Ok(m)
}

#[derive(Debug, Deserialize)]
pub struct CreateLoggedModel {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    source_run_id: Option<String>,
    #[serde(default)]
    params: Vec<KvIn>,
    #[serde(default)]
    tags: Vec<KvIn>,
}

pub async fn create_logged_model(State(state): State<AppState>, Who(c): Who, Req(r): Req<CreateLoggedModel>) -> Answer {
    let exp = r
        .experiment_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| MlflowError::missing("experiment_id"))?;
    let exp = access::experiment_id(exp)?;
    access::experiment(&state, &c, exp, Access::Write).await?;
    if let Some(run) = r.source_run_id.as_deref().filter(|s| !s.is_empty()) {
        let info = access::run(&state, &c, run, Access::Read).await?;
        if info.experiment_id != exp {
            return Err(MlflowError::invalid(format!(
                "source run {run} belongs to experiment {}, not {exp}",
                info.experiment_id
            )));
        }
    }
    let name = r
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "model".to_owned());
    let new = NewLoggedModel {
        experiment_id: exp,
        name,
        model_type: r.model_type.clone().unwrap_or_default(),
        source_run_id: r.source_run_id.clone().filter(|s| !s.is_empty()),
        params: key_values(&r.params, "param")?,
        tags: key_values(&r.tags, "tag")?,
        created_by: c.user.id.to_string(),
    };
    let mut tx = state.store.begin().await?;
    let id = logged_model::create(&mut tx, &c.audit(), &new).await?;
    tx.commit().await?;
    let m = state.store.mlflow_logged_model(&id).await?;
    answer(&state, &m).await
}

#[derive(Debug, Deserialize)]
pub struct ModelQuery {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    allow_deleted: Option<bool>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    status: Option<String>,
    #[serde(default)]
    tags: Vec<KvIn>,
    #[serde(default)]
    params: Vec<KvIn>,
}

pub async fn get_logged_model(
    State(state): State<AppState>,
    Who(c): Who,
    Path(id): Path<String>,
    Req(q): Req<ModelQuery>,
) -> Answer {
    let m = find(&state, &c, &id, Access::Read, q.allow_deleted.unwrap_or(false)).await?;
    answer(&state, &m).await
}

pub async fn finalize_logged_model(
    State(state): State<AppState>,
    Who(c): Who,
    Path(id): Path<String>,
    Req(r): Req<ModelQuery>,
) -> Answer {
    let status = match r.status.as_deref().map(str::trim).unwrap_or("") {
        "LOGGED_MODEL_READY" | "2" => "LOGGED_MODEL_READY",
        "LOGGED_MODEL_UPLOAD_FAILED" | "3" => "LOGGED_MODEL_UPLOAD_FAILED",
        "" => return Err(MlflowError::missing("status")),
        other => {
            return Err(MlflowError::invalid(format!(
                "status `{other}` must be LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED"
            )));
        }
    };
    let m = find(&state, &c, &id, Access::Write, false).await?;
    let mut tx = state.store.begin().await?;
    logged_model::finalize(&mut tx, &c.audit(), &m, status).await?;
    tx.commit().await?;
    let m = state.store.mlflow_logged_model(&id).await?;
    answer(&state, &m).await
}

pub async fn delete_logged_model(State(state): State<AppState>, Who(c): Who, Path(id): Path<String>) -> Answer {
    let m = find(&state, &c, &id, Access::Write, false).await?;
    let mut tx = state.store.begin().await?;
    logged_model::delete(&mut tx, &c.audit(), &m).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn set_logged_model_tags(
    State(state): State<AppState>,
    Who(c): Who,
    Path(id): Path<String>,
    Req(r): Req<ModelQuery>,
) -> Answer {
    let tags = key_values(&r.tags, "tag")?;
    let m = find(&state, &c, &id, Access::Write, false).await?;
    let mut tx = state.store.begin().await?;
    logged_model::set_tags(&mut tx, &c.audit(), &m, &tags, None).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn delete_logged_model_tag(
    State(state): State<AppState>,
    Who(c): Who,
    Path((id, key)): Path<(String, String)>,
) -> Answer {
    let m = find(&state, &c, &id, Access::Write, false).await?;
    let mut tx = state.store.begin().await?;
    logged_model::set_tags(&mut tx, &c.audit(), &m, &[], Some(&key)).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn log_logged_model_params(
    State(state): State<AppState>,
    Who(c): Who,
    Path(id): Path<String>,
    Req(r): Req<ModelQuery>,
) -> Answer {
    let params = key_values(&r.params, "param")?;
    let m = find(&state, &c, &id, Access::Write, false).await?;
    let mut tx = state.store.begin().await?;
    logged_model::log_params(&mut tx, &c.audit(), &m, &params).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
pub struct OrderIn {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    field_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    ascending: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct DatasetFilter {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_digest: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct SearchLoggedModels {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    experiment_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default)]
    datasets: Vec<DatasetFilter>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default)]
    order_by: Vec<OrderIn>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
}

fn model_field<'a>(m: &'a LoggedModel, entity: Entity, key: &str) -> Field<'a> {
    match entity {
        Entity::Tag => Field::Text(m.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())),
        Entity::Param => Field::Text(m.params.iter().find(|t| t.key == key).map(|t| t.value.as_str())),
        Entity::Metric => Field::Number(
            m.metrics
                .iter()
                .filter(|(_, mt)| mt.key == key)
                .max_by(|a, b| (a.1.step, a.1.timestamp).cmp(&(b.1.step, b.1.timestamp)))
                .map(|(_, mt)| mt.value),
        ),
        _ => match key {
            "name" => Field::Text(Some(&m.name)),
            "model_id" => Field::Text(Some(&m.model_id)),
            "model_type" => Field::Text(Some(&m.model_type)),
            "status" => Field::Text(Some(&m.status)),
            "source_run_id" => Field::Text(m.source_run_id.as_deref()),
            "creation_time" => Field::Number(Some(m.creation_time as f64)),
            "last_updated_time" => Field::Number(Some(m.last_updated_time as f64)),
            _ => Field::Text(None),
        },
    }
}

pub async fn search_logged_models(
    State(state): State<AppState>,
    Who(c): Who,
    Req(r): Req<SearchLoggedModels>,
) -> Answer {
    let limit = r.max_results.filter(|n| *n > 0).unwrap_or(50) as usize;
    let offset = PageToken::decode(r.page_token.as_deref().unwrap_or(""))
        .map_err(MlflowError::invalid)?
        .offset as usize;
    let clauses = SearchTarget::LoggedModels
        .check(
            parse_filter(r.filter.as_deref().unwrap_or(""))
                .map_err(|e| MlflowError::invalid(format!("Invalid filter: {e}")))?,
        )
        .map_err(|e| MlflowError::invalid(format!("Invalid filter: {e}")))?;
    let mut ids = Vec::new();
    for e in &r.experiment_ids {
        let id = access::experiment_id(e)?;
        access::experiment(&state, &c, id, Access::Read).await?;
        ids.push(id);
    }
    let mut found: Vec<LoggedModel> = state
        .store
        .mlflow_logged_models(&ids)
        .await?
        .into_iter()
        .filter(|m| {
            clauses
                .iter()
                .all(|cl| cl.matches(model_field(m, cl.key.entity, &cl.key.key)))
        })
        .filter(|m| {
            r.datasets.iter().all(|d| {
                m.metrics.iter().any(|(_, mt)| {
                    mt.dataset_name == d.dataset_name
                        && (d.dataset_digest.is_none() || mt.dataset_digest == d.dataset_digest)
                })
            })
        })
        .collect();
    for o in r.order_by.iter().rev() {
        let field = o.field_name.clone().unwrap_or_default();
        let asc = o.ascending.unwrap_or(true);
        found.sort_by(|a, b| {
            let ord = match field.as_str() {
                "name" => a.name.cmp(&b.name),
                "model_id" => a.model_id.cmp(&b.model_id),
                "last_updated_timestamp" | "last_updated_time" => a.last_updated_time.cmp(&b.last_updated_time),
                _ => a.creation_time.cmp(&b.creation_time),
            };
            if asc { ord } else { ord.reverse() }
        });
    }
    let mut page = Vec::new();
    for m in found.iter().skip(offset).take(limit) {
        page.push(wire::logged_model(m, &registrations(&state, &m.model_id).await?));
    }
    let mut out = json!({ "models": page });
    if offset + limit < found.len() {
        out["next_page_token"] = json!(
            PageToken {
                offset: (offset + limit) as u64
            }
            .encode()
        );
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
pub struct LegacyLogModel {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_id: Option<String>,
}

/// `runs/log-model` (MLflow 2.x clients): the model's metadata is already in the
/// run's artifacts, so nothing more is stored; the run must be writable.
pub async fn log_model_legacy(State(state): State<AppState>, Who(c): Who, Req(r): Req<LegacyLogModel>) -> Answer {
    let run = r
        .run_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| MlflowError::missing("run_id"))?;
    access::active_run(&state, &c, &run).await?;
    Ok(Json(json!({})))
}
