//! The wire format of the MLflow REST API: requests (JSON bodies on POST, PATCH and
//! DELETE; query strings on GET) parsed leniently the way MLflow's server parses
//! them, and entities written the way its client reads them.
//!
//! Quirks handled here: GET parameters are strings (`max_results=10`, `True`) and
//! repeat for lists; int64 arrives as a number or a string; doubles may be the
//! strings `"NaN"`, `"Infinity"`, `"-Infinity"` (and are written back that way);
//! enums arrive as names or numbers; unknown fields are ignored.

use axum::extract::{FromRequest, Request};
use axum::http::Method;
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde_json::{Value, json};

use charter_store::mlflow::experiment::Experiment;
use charter_store::mlflow::logged_model::LoggedModel;
use charter_store::mlflow::registry::{ModelVersion, RegisteredModel};
use charter_store::mlflow::run::{Run, RunInfo};
use charter_store::mlflow::{KeyValue, Metric};

use super::error::MlflowError;

/// The largest JSON request accepted (MLflow's `log-batch` limit is 1 MB).
const MAX_JSON: usize = 16 * 1024 * 1024;

/// A request message, from the JSON body or (GET) the query string.
pub struct Req<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Req<T> {
    type Rejection = MlflowError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let value = if req.method() == Method::GET || req.method() == Method::HEAD {
            query_value(req.uri().query().unwrap_or(""))?
        } else {
            let query = req.uri().query().map(str::to_owned);
            let bytes = axum::body::to_bytes(req.into_body(), MAX_JSON)
                .await
                .map_err(|_| MlflowError::invalid(format!("the request body is larger than {MAX_JSON} bytes")))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                // An empty body: some calls send their fields in the query string.
                query_value(query.as_deref().unwrap_or(""))?
            } else {
                let v: Value = serde_json::from_slice(&bytes)
                    .map_err(|e| MlflowError::invalid(format!("the request body is not valid JSON: {e}")))?;
                if !v.is_object() {
                    return Err(MlflowError::invalid("the request body must be a JSON object"));
                }
                v
            }
        };
        serde_json::from_value(value)
            .map(Req)
            .map_err(|e| MlflowError::invalid(format!("the request does not fit: {e}")))
    }
}

/// A query string as a JSON object: repeated keys become lists.
fn query_value(query: &str) -> Result<Value, MlflowError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| MlflowError::invalid(format!("the query string cannot be read: {e}")))?;
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        match map.get_mut(&k) {
            Some(Value::Array(items)) => items.push(Value::String(v)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v)]);
            }
            None => {
                map.insert(k, Value::String(v));
            }
        }
    }
    Ok(Value::Object(map))
}

/// Lenient field readers.
pub mod lenient {
    use super::*;

    fn as_i64(v: &Value) -> Option<i64> {
        match v {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// An optional int64: a number or a numeric string.
    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => as_i64(&v)
                .map(Some)
                .ok_or_else(|| de::Error::custom(format!("`{v}` is not an integer"))),
        }
    }

    /// An optional boolean: `true`, `"True"`, `"false"`, `1`.
    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::Number(n)) => Ok(Some(n.as_i64() != Some(0))),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" | "" => Ok(Some(false)),
                other => Err(de::Error::custom(format!("`{other}` is not a boolean"))),
            },
            Some(v) => Err(de::Error::custom(format!("`{v}` is not a boolean"))),
        }
    }

    /// A string that may have been sent as a number (ids, enums).
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(v) => Err(de::Error::custom(format!("`{v}` is not a string"))),
        }
    }

    /// A list of strings; one string alone is a list of one (repeated GET keys).
    pub fn vec_string<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let text = |v: Value| match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(de::Error::custom(format!("`{other}` is not a string"))),
        };
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items.into_iter().map(text).collect(),
            Some(v) => Ok(vec![text(v)?]),
        }
    }

    /// A double: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`, or a numeric string.
    pub fn f64_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) => {
                let t = s.trim();
                match t.to_ascii_lowercase().as_str() {
                    "nan" => Ok(Some(f64::NAN)),
                    "infinity" | "inf" | "+infinity" => Ok(Some(f64::INFINITY)),
                    "-infinity" | "-inf" => Ok(Some(f64::NEG_INFINITY)),
                    _ => t
                        .parse()
                        .map(Some)
                        .map_err(|_| de::Error::custom(format!("`{t}` is not a number"))),
                }
            }
            Some(v) => Err(de::Error::custom(format!("`{v}` is not a number"))),
        }
    }
}

/// `{key, value}` as sent in tags and params lists.
#[derive(Debug, Clone, Deserialize)]
pub struct KvIn {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub key: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
}

/// Tags or params as store values, requiring both key and value.
pub fn key_values(items: &[KvIn], what: &str) -> Result<Vec<KeyValue>, MlflowError> {
    items
        .iter()
        .map(|kv| match (&kv.key, &kv.value) {
            (Some(k), Some(v)) => Ok(KeyValue::new(k.clone(), v.clone())),
            (None, _) => Err(MlflowError::invalid(format!("a {what} has no `key`"))),
            (Some(k), None) => Err(MlflowError::invalid(format!("{what} `{k}` has no `value`"))),
        })
        .collect()
}

/// A double as JSON: NaN and infinities as MLflow's strings.
pub fn double(v: f64) -> Value {
    if v.is_nan() {
        json!("NaN")
    } else if v == f64::INFINITY {
        json!("Infinity")
    } else if v == f64::NEG_INFINITY {
        json!("-Infinity")
    } else {
        json!(v)
    }
}

pub fn kv_list(items: &[KeyValue]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|kv| json!({ "key": kv.key, "value": kv.value }))
            .collect(),
    )
}

pub fn experiment(e: &Experiment) -> Value {
    json!({
        "experiment_id": e.id.to_string(),
        "name": e.name,
        "artifact_location": e.artifact_location,
        "lifecycle_stage": e.lifecycle.as_str(),
        "last_update_time": e.last_update_time,
        "creation_time": e.creation_time,
        "tags": kv_list(&e.tags),
    })
}

pub fn metric(m: &Metric, run_id: Option<&str>) -> Value {
    let mut v = json!({ "key": m.key, "value": double(m.value), "timestamp": m.timestamp, "step": m.step });
    let obj = v.as_object_mut().expect("an object");
    if let Some(id) = &m.model_id {
        obj.insert("model_id".into(), json!(id));
    }
    if let Some(n) = &m.dataset_name {
        obj.insert("dataset_name".into(), json!(n));
    }
    if let Some(d) = &m.dataset_digest {
        obj.insert("dataset_digest".into(), json!(d));
    }
    if let Some(r) = run_id {
        obj.insert("run_id".into(), json!(r));
    }
    v
}

pub fn run_info(i: &RunInfo) -> Value {
    let mut v = json!({
        "run_id": i.run_id,
        "run_uuid": i.run_id,
        "run_name": i.name,
        "experiment_id": i.experiment_id.to_string(),
        "user_id": i.user_id,
        "status": i.status,
        "start_time": i.start_time,
        "artifact_uri": i.artifact_uri,
        "lifecycle_stage": i.lifecycle.as_str(),
    });
    if let Some(end) = i.end_time {
        v["end_time"] = json!(end);
    }
    v
}

pub fn run(r: &Run) -> Value {
    let datasets: Vec<Value> = r
        .dataset_inputs
        .iter()
        .map(|d| {
            let mut ds =
                json!({ "name": d.name, "digest": d.digest, "source_type": d.source_type, "source": d.source });
            if let Some(s) = &d.schema {
                ds["schema"] = json!(s);
            }
            if let Some(p) = &d.profile {
                ds["profile"] = json!(p);
            }
            json!({ "tags": kv_list(&d.tags), "dataset": ds })
        })
        .collect();
    let mut v = json!({
        "info": run_info(&r.info),
        "data": {
            "metrics": r.metrics.iter().map(|m| metric(m, None)).collect::<Vec<_>>(),
            "params": kv_list(&r.params),
            "tags": kv_list(&r.tags),
        },
        "inputs": {
            "dataset_inputs": datasets,
            "model_inputs": r.model_inputs.iter().map(|m| json!({ "model_id": m })).collect::<Vec<_>>(),
        },
    });
    if !r.model_outputs.is_empty() {
        v["outputs"] = json!({
            "model_outputs": r.model_outputs.iter().map(|(m, s)| json!({ "model_id": m, "step": s })).collect::<Vec<_>>()
        });
    }
    v
}

pub fn logged_model(m: &LoggedModel, registrations: &[(String, i64)]) -> Value {
    let mut info = json!({
        "model_id": m.model_id,
        "experiment_id": m.experiment_id.to_string(),
        "name": m.name,
        "creation_timestamp_ms": m.creation_time,
        "last_updated_timestamp_ms": m.last_updated_time,
        "artifact_uri": m.artifact_uri,
        "status": m.status,
        "model_type": m.model_type,
        "tags": kv_list(&m.tags),
        "registrations": registrations.iter().map(|(n, v)| json!({ "name": n, "version": v.to_string() })).collect::<Vec<_>>(),
    });
    if let Some(r) = &m.source_run_id {
        info["source_run_id"] = json!(r);
    }
    if !m.status_message.is_empty() {
        info["status_message"] = json!(m.status_message);
    }
    json!({
        "info": info,
        "data": {
            "params": kv_list(&m.params),
            "metrics": m.metrics.iter().map(|(run, mt)| metric(mt, Some(run))).collect::<Vec<_>>(),
        }
    })
}

pub fn model_version(v: &ModelVersion) -> Value {
    let mut out = json!({
        "name": v.name,
        "version": v.version.to_string(),
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.last_updated_time,
        "user_id": v.user_id,
        "current_stage": v.current_stage,
        "description": v.description,
        "source": v.source,
        "run_id": v.run_id,
        "run_link": v.run_link,
        "status": v.status,
        "tags": kv_list(&v.tags),
        "aliases": v.aliases,
    });
    if let Some(m) = &v.logged_model_id {
        out["model_id"] = json!(m);
    }
    out
}

/// A registered model; `latest` holds the newest version per stage.
pub fn registered_model(m: &RegisteredModel, latest: &[ModelVersion]) -> Value {
    json!({
        "name": m.name,
        "creation_timestamp": m.creation_time,
        "last_updated_timestamp": m.last_updated_time,
        "user_id": m.user_id,
        "description": m.description,
        "latest_versions": latest.iter().map(model_version).collect::<Vec<_>>(),
        "tags": kv_list(&m.tags),
        "aliases": m.aliases.iter().map(|(a, v)| json!({ "alias": a, "version": v.to_string() })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "lenient::opt_i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "lenient::f64_value")]
        x: Option<f64>,
        #[serde(default, deserialize_with = "lenient::vec_string")]
        ids: Vec<String>,
        #[serde(default, deserialize_with = "lenient::opt_bool")]
        b: Option<bool>,
    }

    #[test]
    fn get_parameters_and_json_read_the_same() {
        let q: Probe = serde_json::from_value(query_value("n=10&x=NaN&ids=a&ids=b&b=True").unwrap()).unwrap();
        assert_eq!(q.n, Some(10));
        assert!(q.x.unwrap().is_nan());
        assert_eq!(q.ids, vec!["a", "b"]);
        assert_eq!(q.b, Some(true));
        let j: Probe = serde_json::from_value(json!({"n": "10", "x": "-Infinity", "ids": "a"})).unwrap();
        assert_eq!(j.n, Some(10));
        assert_eq!(j.x, Some(f64::NEG_INFINITY));
        assert_eq!(j.ids, vec!["a"]);
        assert_eq!(double(f64::NAN), json!("NaN"));
        assert_eq!(double(f64::INFINITY), json!("Infinity"));
        assert_eq!(double(0.5), json!(0.5));
    }
}
