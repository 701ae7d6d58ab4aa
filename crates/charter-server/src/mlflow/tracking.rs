//! Experiments, runs, metrics, params, tags, inputs and outputs.

use axum::Json;
use axum::extract::State;
use charter_domain::mlflow::{Entity, Field, PageToken, SearchTarget, parse_filter, parse_order_by};
use charter_domain::time::now_ms;
use charter_store::mlflow::experiment::{self, Experiment};
use charter_store::mlflow::run::{self, DatasetInput, NewRun};
use charter_store::mlflow::{KeyValue, Lifecycle, Metric, RunSearch, RunWrite, ViewType};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{self, PROJECT_TAG, Who};
use super::error::{MlResult, MlflowError};
use super::wire::{self, KvIn, Req, key_values, lenient};
use crate::governance::project::Access;
use crate::state::AppState;

type Answer = MlResult<Json<Value>>;

fn ok() -> Answer {
    Ok(Json(json!({})))
}

fn required<'a>(v: &'a Option<String>, field: &str) -> MlResult<&'a str> {
    match v.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(MlflowError::missing(field)),
    }
}

/// MLflow's key rule: alphanumerics, `_ - . space / :`, a normalized relative path.
pub fn check_key(key: &str, what: &str) -> MlResult<()> {
    let bad = |why: &str| MlflowError::invalid(format!("Invalid {what} name: '{key}'. {why}"));
    if key.is_empty() || key.len() > 250 {
        return Err(bad("Names must be 1 to 250 characters long."));
    }
    if !key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/' | ':'))
    {
        return Err(bad(
            "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons(:) and slashes (/).",
        ));
    }
    if key.starts_with('/') || key.split('/').any(|s| s == ".." || s == ".") || key.contains("//") {
        return Err(bad(
            "Names may be treated as files in certain cases, and must not resolve to other names when treated as such.",
        ));
    }
    Ok(())
}

fn check_value_len(value: &str, limit: usize, what: &str, key: &str) -> MlResult<()> {
    if value.chars().count() > limit {
        return Err(MlflowError::invalid(format!(
            "{what} '{key}' had length {}, which exceeded length limit of {limit}",
            value.chars().count()
        )));
    }
    Ok(())
}

fn max_results(requested: Option<i64>, default: i64, limit: i64) -> MlResult<i64> {
    let n = requested.unwrap_or(default);
    if n <= 0 {
        return Ok(default);
    }
    if n > limit {
        return Err(MlflowError::invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied. It must be at most {limit}"
        )));
    }
    Ok(n)
}

fn page_token(text: &Option<String>) -> MlResult<u64> {
    PageToken::decode(text.as_deref().unwrap_or(""))
        .map(|t| t.offset)
        .map_err(MlflowError::invalid)
}

fn filter_error(e: charter_domain::mlflow::FilterError) -> MlflowError {
    MlflowError::invalid(format!("Invalid filter: {e}"))
}

// ---------------------------------------------------------------- experiments

#[derive(Debug, Deserialize)]
pub struct ExperimentRef {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    new_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
}

pub async fn get_experiment_by_name(State(state): State<AppState>, Who(c): Who, Req(r): Req<ExperimentRef>) -> Answer {
    let name = required(&r.experiment_name, "experiment_name")?;
    let Some(e) = state.store.mlflow_experiment_by_name(name).await? else {
        return Err(MlflowError::not_found(format!(
            "Could not find experiment with name '{name}'"
        )));
    };
    access::experiment(&state, &c, e.id, Access::Read).await?;
    Ok(Json(json!({ "experiment": wire::experiment(&e) })))
}

pub async fn get_experiment(State(state): State<AppState>, Who(c): Who, Req(r): Req<ExperimentRef>) -> Answer {
    let id = access::experiment_id(required(&r.experiment_id, "experiment_id")?)?;
    let (e, _) = access::experiment(&state, &c, id, Access::Read).await?;
    Ok(Json(json!({ "experiment": wire::experiment(&e) })))
}

#[derive(Debug, Deserialize)]
pub struct CreateExperiment {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default)]
    tags: Vec<KvIn>,
}

pub async fn create_experiment(State(state): State<AppState>, Who(c): Who, Req(r): Req<CreateExperiment>) -> Answer {
    let name = required(&r.name, "name")?.to_owned();
    if name.chars().count() > 500 {
        return Err(MlflowError::invalid(
            "Experiment name exceeds the maximum length of 500 characters",
        ));
    }
    let tags = key_values(&r.tags, "tag")?;
    let named = tags.iter().find(|t| t.key == PROJECT_TAG).map(|t| t.value.clone());
    let project = access::project_for_new(&state, &c, named.as_deref()).await?;
    let mut tx = state.store.begin().await?;
    let e = experiment::create(&mut tx, &c.audit(), &name, project.id, &tags).await?;
    tx.commit().await?;
    Ok(Json(json!({ "experiment_id": e.id.to_string() })))
}

pub async fn update_experiment(State(state): State<AppState>, Who(c): Who, Req(r): Req<ExperimentRef>) -> Answer {
    let id = access::experiment_id(required(&r.experiment_id, "experiment_id")?)?;
    let (e, _) = access::experiment(&state, &c, id, Access::Write).await?;
    if let Some(new_name) = r.new_name.as_deref().filter(|n| !n.is_empty()) {
        if e.lifecycle != Lifecycle::Active {
            return Err(MlflowError::invalid("Cannot rename a non-active experiment."));
        }
        let mut tx = state.store.begin().await?;
        experiment::rename(&mut tx, &c.audit(), &e, new_name).await?;
        tx.commit().await?;
    }
    ok()
}

async fn set_experiment_lifecycle(
    state: &AppState,
    c: &crate::auth::Caller,
    r: &ExperimentRef,
    to: Lifecycle,
) -> Answer {
    let id = access::experiment_id(required(&r.experiment_id, "experiment_id")?)?;
    if id == 0 && to == Lifecycle::Deleted {
        return Err(MlflowError::invalid(
            "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
        ));
    }
    let (e, _) = access::experiment(state, c, id, Access::Write).await?;
    if e.lifecycle == to {
        return ok();
    }
    let mut tx = state.store.begin().await?;
    experiment::set_lifecycle(&mut tx, &c.audit(), &e, to).await?;
    tx.commit().await?;
    ok()
}

pub async fn delete_experiment(State(state): State<AppState>, Who(c): Who, Req(r): Req<ExperimentRef>) -> Answer {
    set_experiment_lifecycle(&state, &c, &r, Lifecycle::Deleted).await
}

pub async fn restore_experiment(State(state): State<AppState>, Who(c): Who, Req(r): Req<ExperimentRef>) -> Answer {
    set_experiment_lifecycle(&state, &c, &r, Lifecycle::Active).await
}

pub async fn set_experiment_tag(State(state): State<AppState>, Who(c): Who, Req(r): Req<ExperimentRef>) -> Answer {
    let id = access::experiment_id(required(&r.experiment_id, "experiment_id")?)?;
    let key = required(&r.key, "key")?;
    check_key(key, "tag")?;
    let value = r.value.as_deref().ok_or_else(|| MlflowError::missing("value"))?;
    check_value_len(value, 20_000, "Tag", key)?;
    let (e, _) = access::experiment(&state, &c, id, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    experiment::set_tag(&mut tx, &c.audit(), &e, key, Some(value)).await?;
    tx.commit().await?;
    ok()
}

pub async fn delete_experiment_tag(State(state): State<AppState>, Who(c): Who, Req(r): Req<ExperimentRef>) -> Answer {
    let id = access::experiment_id(required(&r.experiment_id, "experiment_id")?)?;
    let key = required(&r.key, "key")?;
    let (e, _) = access::experiment(&state, &c, id, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    experiment::set_tag(&mut tx, &c.audit(), &e, key, None).await?;
    tx.commit().await?;
    ok()
}

#[derive(Debug, Deserialize)]
pub struct SearchExperiments {
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    view_type: Option<String>,
}

fn experiment_field<'a>(e: &'a Experiment, entity: Entity, key: &str) -> Field<'a> {
    match entity {
        Entity::Tag => Field::Text(e.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())),
        _ => match key {
            "name" => Field::Text(Some(&e.name)),
            "creation_time" => Field::Number(Some(e.creation_time as f64)),
            "last_update_time" => Field::Number(Some(e.last_update_time as f64)),
            _ => Field::Text(None),
        },
    }
}

/// The experiments a user may read, by the view type (shared with the UI).
pub async fn visible_experiments(
    state: &AppState,
    c: &crate::auth::Caller,
    view: ViewType,
) -> MlResult<Vec<Experiment>> {
    let readable = access::readable(state, c).await?;
    let default = state
        .store
        .project_by_name(&state.config.mlflow.default_project)
        .await
        .ok()
        .map(|p| p.id);
    Ok(state
        .store
        .mlflow_experiments()
        .await?
        .into_iter()
        .filter(|e| view.includes(e.lifecycle) && access::visible(&readable, e.project_id, default))
        .collect())
}

pub async fn search_experiments(State(state): State<AppState>, Who(c): Who, Req(r): Req<SearchExperiments>) -> Answer {
    let limit = max_results(r.max_results, 1000, 50_000)? as usize;
    let offset = page_token(&r.page_token)? as usize;
    let view = ViewType::parse(r.view_type.as_deref().unwrap_or(""))
        .ok_or_else(|| MlflowError::invalid("view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL"))?;
    let clauses = SearchTarget::Experiments
        .check(parse_filter(r.filter.as_deref().unwrap_or("")).map_err(filter_error)?)
        .map_err(filter_error)?;
    let order = parse_order_by(SearchTarget::Experiments, &r.order_by).map_err(filter_error)?;
    let mut found: Vec<Experiment> = visible_experiments(&state, &c, view)
        .await?
        .into_iter()
        .filter(|e| {
            clauses.iter().all(|cl| {
                if cl.key.entity == Entity::Attribute && cl.key.key == "experiment_id" {
                    cl.matches(Field::Text(Some(&e.id.to_string())))
                } else {
                    cl.matches(experiment_field(e, cl.key.entity, &cl.key.key))
                }
            })
        })
        .collect();
    // Default order: newest first, then id.
    found.sort_by(|a, b| b.creation_time.cmp(&a.creation_time).then(b.id.cmp(&a.id)));
    for o in order.iter().rev() {
        found.sort_by(|a, b| {
            let ord = match o.key.key.as_str() {
                "name" => a.name.cmp(&b.name),
                "experiment_id" => a.id.cmp(&b.id),
                "creation_time" => a.creation_time.cmp(&b.creation_time),
                "last_update_time" => a.last_update_time.cmp(&b.last_update_time),
                _ => std::cmp::Ordering::Equal,
            };
            if o.ascending { ord } else { ord.reverse() }
        });
    }
    let page: Vec<Value> = found.iter().skip(offset).take(limit).map(wire::experiment).collect();
    let mut out = json!({ "experiments": page });
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

// ---------------------------------------------------------------- runs

#[derive(Debug, Deserialize)]
pub struct CreateRun {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    experiment_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    user_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    start_time: Option<i64>,
    #[serde(default)]
    tags: Vec<KvIn>,
}

/// A name like MLflow's generated ones (`bright-owl-417`), from random bytes.
fn generated_name() -> String {
    const ADJ: [&str; 16] = [
        "bright", "calm", "clever", "bold", "gentle", "merry", "quiet", "rare", "silver", "swift", "tidy", "vast",
        "wise", "brave", "crisp", "eager",
    ];
    const NOUN: [&str; 16] = [
        "owl", "fox", "hare", "lynx", "wren", "finch", "otter", "heron", "bee", "crane", "moth", "vole", "stoat",
        "ibis", "newt", "seal",
    ];
    let b = crate::state::random_bytes::<4>();
    let n = u16::from_le_bytes([b[2], b[3]]) % 1000;
    format!("{}-{}-{n}", ADJ[(b[0] % 16) as usize], NOUN[(b[1] % 16) as usize])
}

pub async fn create_run(State(state): State<AppState>, Who(c): Who, Req(r): Req<CreateRun>) -> Answer {
    let exp_id = access::experiment_id(r.experiment_id.as_deref().unwrap_or("0"))?;
    let (e, _) = access::experiment(&state, &c, exp_id, Access::Write).await?;
    if e.lifecycle != Lifecycle::Active {
        return Err(MlflowError::invalid(format!(
            "The experiment {exp_id} must be in the 'active' state. Current state is deleted."
        )));
    }
    let mut tags = key_values(&r.tags, "tag")?;
    for t in &tags {
        check_key(&t.key, "tag")?;
        check_value_len(&t.value, 8000, "Tag", &t.key)?;
    }
    let from_tag = tags.iter().find(|t| t.key == "mlflow.runName").map(|t| t.value.clone());
    let name = r
        .run_name
        .clone()
        .filter(|n| !n.is_empty())
        .or(from_tag)
        .unwrap_or_else(generated_name);
    tags.retain(|t| t.key != "mlflow.runName");
    tags.push(KeyValue::new("mlflow.runName", name.clone()));
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let new = NewRun {
        artifact_uri: format!("{}/{run_id}/artifacts", e.artifact_location),
        run_id,
        experiment_id: exp_id,
        name,
        user_id: r
            .user_id
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| c.user.username.clone()),
        start_time: r.start_time.unwrap_or_else(now_ms),
        tags,
        created_by: c.user.id.to_string(),
    };
    let mut tx = state.store.begin().await?;
    run::create(&mut tx, &c.audit(), &new).await?;
    tx.commit().await?;
    let created = state.store.mlflow_run(&new.run_id).await?;
    Ok(Json(json!({ "run": wire::run(&created) })))
}

#[derive(Debug, Deserialize)]
pub struct RunRef {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_uuid: Option<String>,
}

impl RunRef {
    fn id(&self) -> MlResult<&str> {
        self.run_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self.run_uuid.as_deref().filter(|s| !s.is_empty()))
            .ok_or_else(|| MlflowError::missing("run_id"))
    }
}

pub async fn get_run(State(state): State<AppState>, Who(c): Who, Req(r): Req<RunRef>) -> Answer {
    let id = r.id()?;
    access::run(&state, &c, id, Access::Read).await?;
    let run = state.store.mlflow_run(id).await?;
    Ok(Json(json!({ "run": wire::run(&run) })))
}

#[derive(Debug, Deserialize)]
pub struct UpdateRun {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    status: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    end_time: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_name: Option<String>,
}

fn run_status(text: &str) -> MlResult<&'static str> {
    Ok(match text.trim().to_ascii_uppercase().as_str() {
        "RUNNING" | "1" => "RUNNING",
        "SCHEDULED" | "2" => "SCHEDULED",
        "FINISHED" | "3" => "FINISHED",
        "FAILED" | "4" => "FAILED",
        "KILLED" | "5" => "KILLED",
        other => {
            return Err(MlflowError::invalid(format!(
                "status `{other}` must be one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED"
            )));
        }
    })
}

pub async fn update_run(State(state): State<AppState>, Who(c): Who, Req(r): Req<UpdateRun>) -> Answer {
    let id = r.run.id()?;
    let info = access::active_run(&state, &c, id).await?;
    let status = r
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(run_status)
        .transpose()?;
    let name = r.run_name.as_deref().filter(|n| !n.is_empty());
    let mut tx = state.store.begin().await?;
    let after = run::update(&mut tx, &c.audit(), &info, status, r.end_time, name).await?;
    tx.commit().await?;
    Ok(Json(json!({ "run_info": wire::run_info(&after) })))
}

async fn set_run_lifecycle(state: &AppState, c: &crate::auth::Caller, r: &RunRef, to: Lifecycle) -> Answer {
    let id = r.id()?;
    let info = access::run(state, c, id, Access::Write).await?;
    if info.lifecycle == to {
        return ok();
    }
    let mut tx = state.store.begin().await?;
    run::set_lifecycle(&mut tx, &c.audit(), &info, to).await?;
    tx.commit().await?;
    ok()
}

pub async fn delete_run(State(state): State<AppState>, Who(c): Who, Req(r): Req<RunRef>) -> Answer {
    set_run_lifecycle(&state, &c, &r, Lifecycle::Deleted).await
}

pub async fn restore_run(State(state): State<AppState>, Who(c): Who, Req(r): Req<RunRef>) -> Answer {
    set_run_lifecycle(&state, &c, &r, Lifecycle::Active).await
}

#[derive(Debug, Deserialize)]
pub struct MetricIn {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::f64_value")]
    value: Option<f64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    step: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    dataset_digest: Option<String>,
}

impl MetricIn {
    fn metric(&self) -> MlResult<Metric> {
        let key = required(&self.key, "key")?;
        check_key(key, "metric")?;
        let value = self.value.ok_or_else(|| MlflowError::missing("value"))?;
        let timestamp = self.timestamp.ok_or_else(|| MlflowError::missing("timestamp"))?;
        Ok(Metric {
            key: key.to_owned(),
            value,
            timestamp,
            step: self.step.unwrap_or(0),
            model_id: self.model_id.clone().filter(|m| !m.is_empty()),
            dataset_name: self.dataset_name.clone().filter(|m| !m.is_empty()),
            dataset_digest: self.dataset_digest.clone().filter(|m| !m.is_empty()),
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct LogMetric {
    #[serde(flatten)]
    run: RunRef,
    #[serde(flatten)]
    metric: MetricIn,
}

async fn write(state: &AppState, w: RunWrite) -> Answer {
    state.mlflow.writer(state).write(w).await?;
    ok()
}

pub async fn log_metric(State(state): State<AppState>, Who(c): Who, Req(r): Req<LogMetric>) -> Answer {
    let id = r.run.id()?;
    let metric = r.metric.metric()?;
    access::active_run(&state, &c, id).await?;
    write(
        &state,
        RunWrite {
            run_id: id.to_owned(),
            metrics: vec![metric],
            ..RunWrite::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct KeyValueReq {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
}

pub async fn log_param(State(state): State<AppState>, Who(c): Who, Req(r): Req<KeyValueReq>) -> Answer {
    let id = r.run.id()?;
    let key = required(&r.key, "key")?;
    check_key(key, "param")?;
    let value = r.value.as_deref().ok_or_else(|| MlflowError::missing("value"))?;
    check_value_len(value, 6000, "Param value", key)?;
    access::active_run(&state, &c, id).await?;
    write(
        &state,
        RunWrite {
            run_id: id.to_owned(),
            params: vec![KeyValue::new(key, value)],
            ..RunWrite::default()
        },
    )
    .await
}

pub async fn set_tag(State(state): State<AppState>, Who(c): Who, Req(r): Req<KeyValueReq>) -> Answer {
    let id = r.run.id()?;
    let key = required(&r.key, "key")?;
    check_key(key, "tag")?;
    let value = r.value.as_deref().ok_or_else(|| MlflowError::missing("value"))?;
    check_value_len(value, 8000, "Tag value", key)?;
    access::active_run(&state, &c, id).await?;
    write(
        &state,
        RunWrite {
            run_id: id.to_owned(),
            tags: vec![KeyValue::new(key, value)],
            ..RunWrite::default()
        },
    )
    .await
}

pub async fn delete_tag(State(state): State<AppState>, Who(c): Who, Req(r): Req<KeyValueReq>) -> Answer {
    let id = r.run.id()?;
    let key = required(&r.key, "key")?;
    access::active_run(&state, &c, id).await?;
    let run = state.store.mlflow_run(id).await?;
    if !run.tags.iter().any(|t| t.key == key) {
        return Err(MlflowError::not_found(format!(
            "No tag with name: {key} in run with id {id}"
        )));
    }
    write(
        &state,
        RunWrite {
            run_id: id.to_owned(),
            delete_tags: vec![key.to_owned()],
            ..RunWrite::default()
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct LogBatch {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    metrics: Vec<MetricIn>,
    #[serde(default)]
    params: Vec<KvIn>,
    #[serde(default)]
    tags: Vec<KvIn>,
}

pub async fn log_batch(State(state): State<AppState>, Who(c): Who, Req(r): Req<LogBatch>) -> Answer {
    let id = r.run.id()?;
    if r.metrics.len() > 1000 {
        return Err(MlflowError::invalid(format!(
            "A batch logging request can contain at most 1000 metrics. Got {} metrics.",
            r.metrics.len()
        )));
    }
    if r.params.len() > 100 {
        return Err(MlflowError::invalid(format!(
            "A batch logging request can contain at most 100 params. Got {} params.",
            r.params.len()
        )));
    }
    if r.tags.len() > 100 {
        return Err(MlflowError::invalid(format!(
            "A batch logging request can contain at most 100 tags. Got {} tags.",
            r.tags.len()
        )));
    }
    let total = r.metrics.len() + r.params.len() + r.tags.len();
    if total > 1000 {
        return Err(MlflowError::invalid(format!(
            "A batch logging request can contain at most 1000 metrics, params and tags in total. Got {total}."
        )));
    }
    let metrics = r.metrics.iter().map(MetricIn::metric).collect::<MlResult<Vec<_>>>()?;
    let params = key_values(&r.params, "param")?;
    for p in &params {
        check_key(&p.key, "param")?;
        check_value_len(&p.value, 6000, "Param value", &p.key)?;
    }
    let tags = key_values(&r.tags, "tag")?;
    for t in &tags {
        check_key(&t.key, "tag")?;
        check_value_len(&t.value, 8000, "Tag value", &t.key)?;
    }
    access::active_run(&state, &c, id).await?;
    write(
        &state,
        RunWrite {
            run_id: id.to_owned(),
            metrics,
            params,
            tags,
            delete_tags: Vec::new(),
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct DatasetIn {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    digest: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    source_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    source: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    schema: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    profile: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DatasetInputIn {
    #[serde(default)]
    tags: Vec<KvIn>,
    dataset: Option<DatasetIn>,
}

#[derive(Debug, Deserialize)]
pub struct ModelRefIn {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    step: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct LogInputs {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    datasets: Vec<DatasetInputIn>,
    #[serde(default)]
    models: Vec<ModelRefIn>,
}

pub async fn log_inputs(State(state): State<AppState>, Who(c): Who, Req(r): Req<LogInputs>) -> Answer {
    let id = r.run.id()?;
    let info = access::active_run(&state, &c, id).await?;
    let mut datasets = Vec::new();
    for d in &r.datasets {
        let ds = d.dataset.as_ref().ok_or_else(|| MlflowError::missing("dataset"))?;
        let name = required(&ds.name, "dataset.name")?;
        if name.chars().count() > 500 {
            return Err(MlflowError::invalid("Dataset name exceeds the maximum length of 500"));
        }
        let digest = required(&ds.digest, "dataset.digest")?;
        if digest.chars().count() > 36 {
            return Err(MlflowError::invalid("Dataset digest exceeds the maximum length of 36"));
        }
        datasets.push(DatasetInput {
            name: name.to_owned(),
            digest: digest.to_owned(),
            source_type: required(&ds.source_type, "dataset.source_type")?.to_owned(),
            source: required(&ds.source, "dataset.source")?.to_owned(),
            schema: ds.schema.clone(),
            profile: ds.profile.clone(),
            tags: key_values(&d.tags, "tag")?,
        });
    }
    let models: Vec<String> = r.models.iter().filter_map(|m| m.model_id.clone()).collect();
    run::log_inputs(&state.store, &info, &datasets, &models).await?;
    ok()
}

#[derive(Debug, Deserialize)]
pub struct LogOutputs {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default)]
    models: Vec<ModelRefIn>,
}

pub async fn log_outputs(State(state): State<AppState>, Who(c): Who, Req(r): Req<LogOutputs>) -> Answer {
    let id = r.run.id()?;
    let info = access::active_run(&state, &c, id).await?;
    let mut models = Vec::new();
    for m in &r.models {
        let model_id = required(&m.model_id, "models.model_id")?;
        models.push((model_id.to_owned(), m.step.unwrap_or(0)));
    }
    run::log_outputs(&state.store, &info, &models).await?;
    ok()
}

#[derive(Debug, Deserialize)]
pub struct MetricHistory {
    #[serde(flatten)]
    run: RunRef,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    metric_key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
}

pub async fn get_metric_history(State(state): State<AppState>, Who(c): Who, Req(r): Req<MetricHistory>) -> Answer {
    let id = r.run.id()?;
    let key = required(&r.metric_key, "metric_key")?;
    access::run(&state, &c, id, Access::Read).await?;
    let limit = max_results(r.max_results, 25_000, 100_000)?;
    let offset = page_token(&r.page_token)? as i64;
    let mut points = state.store.mlflow_metric_history(id, key, offset, limit + 1).await?;
    let more = points.len() as i64 > limit;
    points.truncate(limit as usize);
    let mut out = json!({ "metrics": points.iter().map(|m| wire::metric(m, None)).collect::<Vec<_>>() });
    if more {
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
pub struct SearchRuns {
    #[serde(default, deserialize_with = "lenient::vec_string")]
    experiment_ids: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_view_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
}

/// A run search as people write it (the API and the UI's runs table).
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub order_by: Vec<String>,
    pub view: ViewType,
    pub offset: u64,
    pub limit: i64,
}

/// Parse and run a run search for a caller (shared with the UI's runs table);
/// returns the page and whether more follow.
pub async fn find_runs(
    state: &AppState,
    c: &crate::auth::Caller,
    q: &RunQuery,
) -> MlResult<(Vec<charter_store::mlflow::run::Run>, bool)> {
    let (experiment_ids, filter, order_by, view, offset, limit) = (
        &q.experiment_ids,
        q.filter.as_str(),
        &q.order_by,
        q.view,
        q.offset,
        q.limit,
    );
    let clauses = SearchTarget::Runs
        .check(parse_filter(filter).map_err(filter_error)?)
        .map_err(filter_error)?;
    let order = parse_order_by(SearchTarget::Runs, order_by).map_err(filter_error)?;
    let mut ids = Vec::new();
    for e in experiment_ids {
        let id = access::experiment_id(e)?;
        access::experiment(state, c, id, Access::Read).await?;
        ids.push(id);
    }
    let search = RunSearch {
        experiment_ids: ids,
        clauses,
        order_by: order,
        view,
        offset: offset as i64,
        limit: limit + 1,
    };
    let mut found = state.store.mlflow_search_runs(&search).await?;
    let more = found.len() as i64 > limit;
    found.truncate(limit as usize);
    Ok((state.store.mlflow_runs(&found).await?, more))
}

pub async fn search_runs(State(state): State<AppState>, Who(c): Who, Req(r): Req<SearchRuns>) -> Answer {
    let limit = max_results(r.max_results, 1000, 50_000)?;
    let offset = page_token(&r.page_token)?;
    let view = ViewType::parse(r.run_view_type.as_deref().unwrap_or(""))
        .ok_or_else(|| MlflowError::invalid("run_view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL"))?;
    let query = RunQuery {
        experiment_ids: r.experiment_ids.clone(),
        filter: r.filter.clone().unwrap_or_default(),
        order_by: r.order_by.clone(),
        view,
        offset,
        limit,
    };
    let (runs, more) = find_runs(&state, &c, &query).await?;
    let mut out = json!({ "runs": runs.iter().map(wire::run).collect::<Vec<_>>() });
    if more {
        out["next_page_token"] = json!(
            PageToken {
                offset: offset + limit as u64
            }
            .encode()
        );
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for good in ["loss", "val loss", "a/b", "m:1", "x-y.z"] {
            assert!(check_key(good, "metric").is_ok(), "{good}");
        }
        for bad in ["", "../x", "/abs", "a//b", "semi;colon", "a/./b"] {
            assert!(check_key(bad, "metric").is_err(), "{bad}");
        }
    }
}
