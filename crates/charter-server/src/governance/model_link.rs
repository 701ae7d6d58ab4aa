//! Links between the model registry and governance: registered model versions
//! attached to bundles, and the promotion gate on registry aliases.
//!
//! **Promotion gate.** Setting an alias listed in `mlflow.gated_aliases` (default
//! `production`, `champion`; also the legacy stage `Production`) is a
//! `promote_model` action. The gates that apply are those of the bundles the
//! version is attached to; a version attached to no bundle meets the gates of its
//! registered model's project. A missing approval refuses the alias with
//! `PERMISSION_DENIED` naming it; every decision is audited (`gate.allowed` /
//! `gate.denied`) by the gate service.

use charter_store::bundle::Bundle;
use charter_store::mlflow::registry::ModelVersion;
use charter_store::project::Project;

use super::gate;
use crate::auth::Caller;
use crate::mlflow::error::{MlResult, MlflowError};
use crate::state::AppState;

/// Whether an attachment reference names this model version.
pub fn names_version(reference: &serde_json::Value, model: &str, version: i64) -> bool {
    let v = &reference["version"];
    let same_version = v.as_i64() == Some(version) || v.as_str().and_then(|s| s.trim().parse().ok()) == Some(version);
    reference["model"].as_str() == Some(model) && same_version
}

/// The bundles a model version is attached to.
pub async fn bundles_of_version(state: &AppState, model: &str, version: i64) -> MlResult<Vec<Bundle>> {
    let mut out = Vec::new();
    for (bundle_id, reference) in state.store.model_version_attachments().await? {
        let reference: serde_json::Value = serde_json::from_str(&reference).unwrap_or_default();
        if names_version(&reference, model, version) && !out.iter().any(|b: &Bundle| b.id == bundle_id) {
            out.push(state.store.bundle(bundle_id).await?);
        }
    }
    Ok(out)
}

/// Refuse setting a gated `alias` on `v` while approvals are missing.
pub async fn promotion_gate(
    state: &AppState,
    caller: &Caller,
    project: &Project,
    v: &ModelVersion,
    alias: &str,
) -> MlResult<()> {
    let gated = state
        .config
        .mlflow
        .gated_aliases
        .iter()
        .any(|g| g.eq_ignore_ascii_case(alias));
    if !gated {
        return Ok(());
    }
    let bundles = bundles_of_version(state, &v.name, v.version).await?;
    let target = format!("{}/{} @{alias}", v.name, v.version);
    let decision = if bundles.is_empty() {
        gate::check(state, &caller.audit(), project, "promote_model", Some(&target)).await?
    } else {
        gate::check_bundles(state, &caller.audit(), project, bundles, "promote_model", Some(&target)).await?
    };
    if decision.allowed {
        return Ok(());
    }
    let missing = decision
        .missing
        .iter()
        .map(|m| format!("{} ({} on bundle {}, {})", m.approval, m.policy, m.bundle, m.status))
        .collect::<Vec<_>>()
        .join("; ");
    Err(MlflowError::denied(format!(
        "Setting alias '{alias}' on {} version {} is a promotion, and the promotion gate is closed: missing approvals: {missing}",
        v.name, v.version
    )))
}
