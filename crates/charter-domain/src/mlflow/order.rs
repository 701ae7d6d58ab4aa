//! `order_by` clauses: `<identifier> [ASC|DESC]`.

use super::filter::{Entity, FilterError, Key};
use super::{SearchTarget, parse_filter};

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub key: Key,
    pub ascending: bool,
}

/// The attributes each endpoint sorts by, canonical name first.
fn sort_attribute(target: SearchTarget, key: &str) -> Option<&'static str> {
    Some(match (target, key) {
        (SearchTarget::Runs, "start_time" | "created" | "Created") => "start_time",
        (SearchTarget::Runs, "end_time") => "end_time",
        (SearchTarget::Runs, "run_name" | "run name" | "Run name" | "Run Name") => "run_name",
        (SearchTarget::Runs, "status") => "status",
        (SearchTarget::Runs, "user_id") => "user_id",
        (SearchTarget::Runs, "artifact_uri") => "artifact_uri",
        (SearchTarget::Runs, "run_id") => "run_id",
        (SearchTarget::Experiments, "name") => "name",
        (SearchTarget::Experiments, "experiment_id") => "experiment_id",
        (SearchTarget::Experiments, "creation_time") => "creation_time",
        (SearchTarget::Experiments, "last_update_time") => "last_update_time",
        (SearchTarget::RegisteredModels, "name") => "name",
        (SearchTarget::RegisteredModels, "creation_timestamp" | "timestamp") => "creation_timestamp",
        (SearchTarget::RegisteredModels, "last_updated_timestamp") => "last_updated_timestamp",
        (SearchTarget::ModelVersions, "name") => "name",
        (SearchTarget::ModelVersions, "version_number") => "version_number",
        (SearchTarget::ModelVersions, "creation_timestamp") => "creation_timestamp",
        (SearchTarget::ModelVersions, "last_updated_timestamp") => "last_updated_timestamp",
        (SearchTarget::LoggedModels, "name") => "name",
        (SearchTarget::LoggedModels, "model_id") => "model_id",
        (SearchTarget::LoggedModels, "creation_time" | "creation_timestamp") => "creation_time",
        (SearchTarget::LoggedModels, "last_updated_time" | "last_updated_timestamp") => "last_updated_time",
        _ => return None,
    })
}

/// Parse `order_by` strings for `target`: each `<identifier> [ASC|DESC]`. Runs may
/// sort by `metrics.`, `params.` and `tags.` keys; the same key twice is an error.
pub fn parse_order_by(target: SearchTarget, items: &[String]) -> Result<Vec<OrderBy>, FilterError> {
    let mut out: Vec<OrderBy> = Vec::new();
    for item in items {
        let text = item.trim();
        let bad = |message: String| FilterError { at: 0, message };
        let (ident, ascending) = {
            let lower = text.to_ascii_lowercase();
            if lower.ends_with(" desc") {
                (text[..text.len() - 5].trim_end(), false)
            } else if lower.ends_with(" asc") {
                (text[..text.len() - 4].trim_end(), true)
            } else {
                (text, true)
            }
        };
        if ident.is_empty() {
            return Err(bad(format!("order_by `{item}` names no key")));
        }
        // Reuse the filter grammar's identifier rules by reading `ident IS NULL`.
        let clauses = parse_filter(&format!("{ident} IS NULL")).map_err(|e| {
            bad(format!(
                "order_by `{item}`: {} (write `<key> [ASC|DESC]`, e.g. `metrics.loss DESC`)",
                e.message
            ))
        })?;
        let [clause] = clauses.as_slice() else {
            return Err(bad(format!("order_by `{item}` is not `<key> [ASC|DESC]`")));
        };
        let mut key = clause.key.clone();
        match key.entity {
            Entity::Attribute => {
                let Some(canonical) = sort_attribute(target, &key.key) else {
                    return Err(bad(format!("order_by `{item}`: cannot sort by `{}`", key.key)));
                };
                key.key = canonical.to_owned();
            }
            Entity::Metric | Entity::Param | Entity::Tag if target == SearchTarget::Runs => {}
            Entity::Tag if target == SearchTarget::Experiments => {}
            _ => return Err(bad(format!("order_by `{item}`: cannot sort by `{key}` here"))),
        }
        if out.iter().any(|o| o.key == key) {
            return Err(bad(format!("order_by names `{key}` twice")));
        }
        out.push(OrderBy { key, ascending });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(items: &[&str]) -> Result<Vec<OrderBy>, FilterError> {
        let items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
        parse_order_by(SearchTarget::Runs, &items)
    }

    #[test]
    fn sort_keys_read_with_direction() {
        let o = parse(&["metrics.loss DESC", "params.`lr`", "created asc", "tags.`a.b` desc"]).unwrap();
        assert_eq!(o.len(), 4);
        assert!(!o[0].ascending);
        assert_eq!(o[0].key.entity, Entity::Metric);
        assert_eq!(o[1].key.key, "lr");
        assert_eq!(o[2].key.key, "start_time");
        assert_eq!(o[3].key.key, "a.b");
    }

    #[test]
    fn bad_sort_keys_are_refused() {
        assert!(
            parse(&["start_time", "created DESC"])
                .unwrap_err()
                .message
                .contains("twice")
        );
        assert!(parse(&["colour"]).is_err());
        assert!(parse(&[""]).is_err());
        assert!(parse(&["metrics.a DESC extra"]).is_err());
        let items = vec!["metrics.a".to_owned()];
        assert!(parse_order_by(SearchTarget::RegisteredModels, &items).is_err());
    }
}
