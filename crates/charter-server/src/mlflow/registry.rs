//! The model registry: registered models, versions, tags, aliases and the legacy
//! stages. Setting a gated alias (`mlflow.gated_aliases`, default `production` and
//! `champion`) goes through the promotion gate first.

use axum::Json;
use axum::extract::State;
use charter_domain::mlflow::{Entity, Field, PageToken, SearchTarget, parse_filter, parse_order_by};
use charter_store::mlflow::registry::{self, ModelVersion, NewVersion, RegisteredModel};
use charter_store::project::Project;
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::{self, PROJECT_TAG, Who};
use super::artifact::uri_path;
use super::error::{MlResult, MlflowError};
use super::wire::{self, KvIn, Req, key_values, lenient};
use crate::auth::Caller;
use crate::governance::project::Access;
use crate::state::AppState;

type Answer = MlResult<Json<Value>>;

/// Prompts are registered models with this tag; searches treat a missing tag as
/// `false`, so `!= 'true'` keeps every ordinary model.
const PROMPT_TAG: &str = "mlflow.prompt.is_prompt";

fn required<'a>(v: &'a Option<String>, field: &str) -> MlResult<&'a str> {
    match v.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(MlflowError::missing(field)),
    }
}

fn version_number(v: &Option<String>) -> MlResult<i64> {
    let text = required(v, "version")?;
    text.trim()
        .parse()
        .map_err(|_| MlflowError::invalid(format!("Parameter 'version' must be an integer, got '{text}'.")))
}

/// A registered model the caller may `access`, with its project.
pub async fn find_model(
    state: &AppState,
    c: &Caller,
    name: &str,
    access: Access,
) -> MlResult<(RegisteredModel, Project)> {
    let m = state.store.mlflow_registered_model(name).await?;
    let project = access::project_of(state, c, m.project_id).await?;
    access::check_or_join(state, c, &project, access).await?;
    Ok((m, project))
}

/// The newest version in each stage.
async fn latest_versions(state: &AppState, m: &RegisteredModel, stages: &[String]) -> MlResult<Vec<ModelVersion>> {
    let versions = state.store.mlflow_model_versions(Some(&m.id)).await?;
    let mut latest: Vec<ModelVersion> = Vec::new();
    for v in versions {
        if !stages.is_empty() && !stages.iter().any(|s| s.eq_ignore_ascii_case(&v.current_stage)) {
            continue;
        }
        match latest.iter_mut().find(|l| l.current_stage == v.current_stage) {
            Some(l) if l.version < v.version => *l = v,
            Some(_) => {}
            None => latest.push(v),
        }
    }
    latest.sort_by_key(|v| v.version);
    Ok(latest)
}

async fn model_answer(state: &AppState, name: &str) -> Answer {
    let m = state.store.mlflow_registered_model(name).await?;
    let latest = latest_versions(state, &m, &[]).await?;
    Ok(Json(json!({ "registered_model": wire::registered_model(&m, &latest) })))
}

#[derive(Debug, Deserialize)]
pub struct ModelReq {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    new_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    description: Option<String>,
    #[serde(default)]
    tags: Vec<KvIn>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    alias: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    version: Option<String>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    stages: Vec<String>,
}

pub async fn create_registered_model(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?.to_owned();
    let tags = key_values(&r.tags, "tag")?;
    let named = tags.iter().find(|t| t.key == PROJECT_TAG).map(|t| t.value.clone());
    if state.store.mlflow_registered_model(&name).await.is_ok() {
        return Err(MlflowError::new(
            super::error::ErrorCode::ResourceAlreadyExists,
            format!("Registered Model (name={name}) already exists."),
        ));
    }
    let project = access::project_for_new(&state, &c, named.as_deref()).await?;
    let mut tx = state.store.begin().await?;
    registry::create_model(
        &mut tx,
        &c.audit(),
        &name,
        project.id,
        r.description.as_deref().unwrap_or(""),
        &tags,
        &c.user.username,
    )
    .await?;
    tx.commit().await?;
    model_answer(&state, &name).await
}

pub async fn get_registered_model(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    find_model(&state, &c, name, Access::Read).await?;
    model_answer(&state, name).await
}

pub async fn rename_registered_model(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let new_name = required(&r.new_name, "new_name")?;
    let (m, _) = find_model(&state, &c, name, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    registry::rename_model(&mut tx, &c.audit(), &m, new_name).await?;
    tx.commit().await?;
    model_answer(&state, new_name).await
}

pub async fn update_registered_model(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let (m, _) = find_model(&state, &c, name, Access::Write).await?;
    if let Some(d) = &r.description {
        let mut tx = state.store.begin().await?;
        registry::update_model(&mut tx, &c.audit(), &m, d).await?;
        tx.commit().await?;
    }
    model_answer(&state, name).await
}

pub async fn delete_registered_model(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let (m, _) = find_model(&state, &c, name, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    registry::delete_model(&mut tx, &c.audit(), &m).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn set_registered_model_tag(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let key = required(&r.key, "key")?;
    super::tracking::check_key(key, "tag")?;
    let value = r.value.as_deref().ok_or_else(|| MlflowError::missing("value"))?;
    let (m, _) = find_model(&state, &c, name, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    registry::set_model_tag(&mut tx, &c.audit(), &m, key, Some(value)).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn delete_registered_model_tag(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let key = required(&r.key, "key")?;
    let (m, _) = find_model(&state, &c, name, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    registry::set_model_tag(&mut tx, &c.audit(), &m, key, None).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn get_latest_versions(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let (m, _) = find_model(&state, &c, name, Access::Read).await?;
    let latest = latest_versions(&state, &m, &r.stages).await?;
    Ok(Json(
        json!({ "model_versions": latest.iter().map(wire::model_version).collect::<Vec<_>>() }),
    ))
}

fn check_alias(alias: &str) -> MlResult<()> {
    let ok_chars = alias.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    let version_like = alias.len() > 1
        && (alias.starts_with('v') || alias.starts_with('V'))
        && alias[1..].chars().all(|c| c.is_ascii_digit());
    if alias.is_empty() || alias.len() > 255 || !ok_chars || alias.eq_ignore_ascii_case("latest") || version_like {
        return Err(MlflowError::invalid(format!(
            "Invalid alias name: '{alias}'. Aliases may use letters, digits, `_` and `-` (at most 255), and may not be `latest` or look like a version (`v1`)."
        )));
    }
    Ok(())
}

pub async fn set_alias(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let alias = required(&r.alias, "alias")?;
    check_alias(alias)?;
    let version = version_number(&r.version)?;
    let (m, project) = find_model(&state, &c, name, Access::Write).await?;
    let v = state.store.mlflow_model_version(name, version).await?;
    crate::governance::model_link::promotion_gate(&state, &c, &project, &v, alias).await?;
    let mut tx = state.store.begin().await?;
    registry::set_alias(&mut tx, &c.audit(), &m, alias, version).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn get_by_alias(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let alias = required(&r.alias, "alias")?;
    let (m, _) = find_model(&state, &c, name, Access::Read).await?;
    let Some((_, version)) = m.aliases.iter().find(|(a, _)| a == alias) else {
        return Err(MlflowError::invalid(format!(
            "Registered model alias {alias} not found."
        )));
    };
    let v = state.store.mlflow_model_version(name, *version).await?;
    Ok(Json(json!({ "model_version": wire::model_version(&v) })))
}

pub async fn delete_alias(State(state): State<AppState>, Who(c): Who, Req(r): Req<ModelReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let alias = required(&r.alias, "alias")?;
    let (m, _) = find_model(&state, &c, name, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    registry::delete_alias(&mut tx, &c.audit(), &m, alias).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
pub struct SearchReq {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    filter: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    max_results: Option<i64>,
    #[serde(default, deserialize_with = "lenient::vec_string")]
    order_by: Vec<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    page_token: Option<String>,
}

fn tag_field<'a>(tags: &'a [charter_store::mlflow::KeyValue], key: &str) -> Field<'a> {
    let found = tags.iter().find(|t| t.key == key).map(|t| t.value.as_str());
    if key == PROMPT_TAG {
        return Field::Text(Some(found.unwrap_or("false")));
    }
    Field::Text(found)
}

fn model_field<'a>(m: &'a RegisteredModel, entity: Entity, key: &str) -> Field<'a> {
    match entity {
        Entity::Tag => tag_field(&m.tags, key),
        _ if key == "name" => Field::Text(Some(&m.name)),
        _ => Field::Text(None),
    }
}

fn version_field<'a>(v: &'a ModelVersion, entity: Entity, key: &str) -> Field<'a> {
    match entity {
        Entity::Tag => tag_field(&v.tags, key),
        _ => match key {
            "name" => Field::Text(Some(&v.name)),
            "run_id" => Field::Text(Some(&v.run_id)),
            "source" => Field::Text(Some(&v.source)),
            "version_number" => Field::Number(Some(v.version as f64)),
            _ => Field::Text(None),
        },
    }
}

fn invalid_filter(e: charter_domain::mlflow::FilterError) -> MlflowError {
    MlflowError::invalid(format!("Invalid filter: {e}"))
}

/// Registered models the caller may read.
pub async fn visible_models(state: &AppState, c: &Caller) -> MlResult<Vec<RegisteredModel>> {
    let readable = access::readable(state, c).await?;
    let default = state
        .store
        .project_by_name(&state.config.mlflow.default_project)
        .await
        .ok()
        .map(|p| p.id);
    Ok(state
        .store
        .mlflow_registered_models()
        .await?
        .into_iter()
        .filter(|m| access::visible(&readable, m.project_id, default))
        .collect())
}

fn paginate<T>(items: Vec<T>, offset: usize, limit: usize) -> (Vec<T>, Option<String>) {
    let more = offset + limit < items.len();
    let page = items.into_iter().skip(offset).take(limit).collect();
    let token = more.then(|| {
        PageToken {
            offset: (offset + limit) as u64,
        }
        .encode()
    });
    (page, token)
}

pub async fn search_registered_models(State(state): State<AppState>, Who(c): Who, Req(r): Req<SearchReq>) -> Answer {
    let limit = r.max_results.filter(|n| *n > 0).unwrap_or(100) as usize;
    let offset = PageToken::decode(r.page_token.as_deref().unwrap_or(""))
        .map_err(MlflowError::invalid)?
        .offset as usize;
    let clauses = SearchTarget::RegisteredModels
        .check(parse_filter(r.filter.as_deref().unwrap_or("")).map_err(invalid_filter)?)
        .map_err(invalid_filter)?;
    let order = parse_order_by(SearchTarget::RegisteredModels, &r.order_by).map_err(invalid_filter)?;
    let mut found: Vec<RegisteredModel> = visible_models(&state, &c)
        .await?
        .into_iter()
        .filter(|m| {
            clauses
                .iter()
                .all(|cl| cl.matches(model_field(m, cl.key.entity, &cl.key.key)))
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    for o in order.iter().rev() {
        found.sort_by(|a, b| {
            let ord = match o.key.key.as_str() {
                "creation_timestamp" => a.creation_time.cmp(&b.creation_time),
                "last_updated_timestamp" => a.last_updated_time.cmp(&b.last_updated_time),
                _ => a.name.cmp(&b.name),
            };
            if o.ascending { ord } else { ord.reverse() }
        });
    }
    let (page, token) = paginate(found, offset, limit);
    let mut models = Vec::new();
    for m in &page {
        models.push(wire::registered_model(m, &latest_versions(&state, m, &[]).await?));
    }
    let mut out = json!({ "registered_models": models });
    if let Some(t) = token {
        out["next_page_token"] = json!(t);
    }
    Ok(Json(out))
}

pub async fn search_model_versions(State(state): State<AppState>, Who(c): Who, Req(r): Req<SearchReq>) -> Answer {
    let limit = r.max_results.filter(|n| *n > 0).unwrap_or(200_000) as usize;
    let offset = PageToken::decode(r.page_token.as_deref().unwrap_or(""))
        .map_err(MlflowError::invalid)?
        .offset as usize;
    let clauses = SearchTarget::ModelVersions
        .check(parse_filter(r.filter.as_deref().unwrap_or("")).map_err(invalid_filter)?)
        .map_err(invalid_filter)?;
    let order = parse_order_by(SearchTarget::ModelVersions, &r.order_by).map_err(invalid_filter)?;
    let visible: std::collections::HashSet<String> =
        visible_models(&state, &c).await?.into_iter().map(|m| m.id).collect();
    let mut found: Vec<ModelVersion> = state
        .store
        .mlflow_model_versions(None)
        .await?
        .into_iter()
        .filter(|v| visible.contains(&v.model_id))
        .filter(|v| {
            clauses
                .iter()
                .all(|cl| cl.matches(version_field(v, cl.key.entity, &cl.key.key)))
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
    for o in order.iter().rev() {
        found.sort_by(|a, b| {
            let ord = match o.key.key.as_str() {
                "version_number" => a.version.cmp(&b.version),
                "creation_timestamp" => a.creation_time.cmp(&b.creation_time),
                "last_updated_timestamp" => a.last_updated_time.cmp(&b.last_updated_time),
                _ => a.name.cmp(&b.name),
            };
            if o.ascending { ord } else { ord.reverse() }
        });
    }
    let (page, token) = paginate(found, offset, limit);
    let mut out = json!({ "model_versions": page.iter().map(wire::model_version).collect::<Vec<_>>() });
    if let Some(t) = token {
        out["next_page_token"] = json!(t);
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
pub struct VersionReq {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    version: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    source: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    run_link: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    description: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    model_id: Option<String>,
    #[serde(default)]
    tags: Vec<KvIn>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    value: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    stage: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    archive_existing_versions: Option<bool>,
}

/// Where a version's files are, from its `source`: a logged model's artifact URI, a
/// run's artifact path, or the URI itself.
async fn storage_location(state: &AppState, c: &Caller, source: &str) -> MlResult<(String, Option<String>)> {
    if let Some(id) = source.strip_prefix("models:/").filter(|s| s.starts_with("m-")) {
        let id = id.trim_end_matches('/');
        let m = state.store.mlflow_logged_model(id).await?;
        access::experiment(state, c, m.experiment_id, Access::Read).await?;
        return Ok((m.artifact_uri, Some(m.model_id)));
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (run, path) = rest.split_once('/').unwrap_or((rest, ""));
        let info = access::run(state, c, run, Access::Read).await?;
        let loc = if path.is_empty() {
            info.artifact_uri
        } else {
            format!("{}/{}", info.artifact_uri, path.trim_matches('/'))
        };
        return Ok((loc, None));
    }
    Ok((source.to_owned(), None))
}

pub async fn create_model_version(State(state): State<AppState>, Who(c): Who, Req(r): Req<VersionReq>) -> Answer {
    let name = required(&r.name, "name")?;
    let source = required(&r.source, "source")?;
    let (m, _) = find_model(&state, &c, name, Access::Write).await?;
    if let Some(p) = uri_path(source) {
        // A raw artifact URI must be one the caller may read.
        if let Some(exp) = p.split('/').next().and_then(|e| e.parse::<i64>().ok()) {
            access::experiment(&state, &c, exp, Access::Read).await?;
        }
    }
    let (location, from_source) = storage_location(&state, &c, source).await?;
    let run_id = r.run_id.clone().filter(|s| !s.is_empty()).unwrap_or_default();
    if !run_id.is_empty() {
        access::run(&state, &c, &run_id, Access::Read).await?;
    }
    let logged_model_id = r.model_id.clone().filter(|s| !s.is_empty()).or(from_source);
    let new = NewVersion {
        source: source.to_owned(),
        storage_location: location,
        run_id,
        run_link: r.run_link.clone().unwrap_or_default(),
        logged_model_id,
        description: r.description.clone().unwrap_or_default(),
        tags: key_values(&r.tags, "tag")?,
        user: c.user.username.clone(),
    };
    let mut tx = state.store.begin().await?;
    let version = registry::create_version(&mut tx, &c.audit(), &m, &new).await?;
    tx.commit().await?;
    let v = state.store.mlflow_model_version(name, version).await?;
    Ok(Json(json!({ "model_version": wire::model_version(&v) })))
}

/// A version the caller may `access`, with its registered model and project.
async fn find_version(
    state: &AppState,
    c: &Caller,
    r: &VersionReq,
    access: Access,
) -> MlResult<(RegisteredModel, ModelVersion, Project)> {
    let name = required(&r.name, "name")?;
    let version = version_number(&r.version)?;
    let (m, p) = find_model(state, c, name, access).await?;
    let v = state.store.mlflow_model_version(name, version).await?;
    Ok((m, v, p))
}

pub async fn get_model_version(State(state): State<AppState>, Who(c): Who, Req(r): Req<VersionReq>) -> Answer {
    let (_, v, _) = find_version(&state, &c, &r, Access::Read).await?;
    Ok(Json(json!({ "model_version": wire::model_version(&v) })))
}

pub async fn get_download_uri(State(state): State<AppState>, Who(c): Who, Req(r): Req<VersionReq>) -> Answer {
    let (_, v, _) = find_version(&state, &c, &r, Access::Read).await?;
    Ok(Json(json!({ "artifact_uri": v.storage_location })))
}

pub async fn update_model_version(State(state): State<AppState>, Who(c): Who, Req(r): Req<VersionReq>) -> Answer {
    let (_, v, _) = find_version(&state, &c, &r, Access::Write).await?;
    if let Some(d) = &r.description {
        let mut tx = state.store.begin().await?;
        registry::update_version(&mut tx, &c.audit(), &v, d).await?;
        tx.commit().await?;
    }
    let v = state.store.mlflow_model_version(&v.name, v.version).await?;
    Ok(Json(json!({ "model_version": wire::model_version(&v) })))
}

pub async fn delete_model_version(State(state): State<AppState>, Who(c): Who, Req(r): Req<VersionReq>) -> Answer {
    let (_, v, _) = find_version(&state, &c, &r, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    registry::delete_version(&mut tx, &c.audit(), &v).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn set_model_version_tag(State(state): State<AppState>, Who(c): Who, Req(r): Req<VersionReq>) -> Answer {
    let key = required(&r.key, "key")?.to_owned();
    super::tracking::check_key(&key, "tag")?;
    let value = r.value.clone().ok_or_else(|| MlflowError::missing("value"))?;
    let (_, v, _) = find_version(&state, &c, &r, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    registry::set_version_tag(&mut tx, &c.audit(), &v, &key, Some(&value)).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn delete_model_version_tag(State(state): State<AppState>, Who(c): Who, Req(r): Req<VersionReq>) -> Answer {
    let key = required(&r.key, "key")?.to_owned();
    let (_, v, _) = find_version(&state, &c, &r, Access::Write).await?;
    let mut tx = state.store.begin().await?;
    registry::set_version_tag(&mut tx, &c.audit(), &v, &key, None).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

pub async fn transition_stage(State(state): State<AppState>, Who(c): Who, Req(r): Req<VersionReq>) -> Answer {
    let stage = match required(&r.stage, "stage")?.trim().to_ascii_lowercase().as_str() {
        "none" => "None",
        "staging" => "Staging",
        "production" => "Production",
        "archived" => "Archived",
        other => {
            return Err(MlflowError::invalid(format!(
                "Invalid Model Version stage: {other}. Value must be one of None, Staging, Production, Archived."
            )));
        }
    };
    let (_, v, project) = find_version(&state, &c, &r, Access::Write).await?;
    if stage == "Production" {
        // The legacy stage is a promotion too.
        crate::governance::model_link::promotion_gate(&state, &c, &project, &v, "production").await?;
    }
    let mut tx = state.store.begin().await?;
    registry::transition_stage(
        &mut tx,
        &c.audit(),
        &v,
        stage,
        r.archive_existing_versions.unwrap_or(false),
    )
    .await?;
    tx.commit().await?;
    let v = state.store.mlflow_model_version(&v.name, v.version).await?;
    Ok(Json(json!({ "model_version": wire::model_version(&v) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_mlflow() {
        assert!(check_alias("champion").is_ok());
        assert!(check_alias("prod-2").is_ok());
        for bad in ["", "latest", "v3", "a b", "x/y"] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
    }
}
