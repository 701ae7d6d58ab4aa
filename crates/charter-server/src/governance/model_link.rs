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

// ---------------------------------------------------------------- metrics checks

use std::collections::BTreeMap;

use charter_domain::policy::{Artifact, MetricCheck, Policy};
use charter_store::AuditContext;
use charter_store::WriteTx;
use charter_store::finding::{NewFinding, Severity};
use charter_store::metric_check::MetricCheckResult;
use charter_store::user::User;

use crate::error::{ApiError, ApiResult};

/// A registered version's metrics: the latest value per key of its run, and of its
/// logged model (which win when both have a key).
pub async fn version_metrics(state: &AppState, v: &ModelVersion) -> ApiResult<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    if !v.run_id.is_empty()
        && let Ok(run) = state.store.mlflow_run(&v.run_id).await
    {
        for m in run.metrics {
            out.insert(m.key, m.value);
        }
    }
    if let Some(id) = &v.logged_model_id
        && let Ok(model) = state.store.mlflow_logged_model(id).await
    {
        let mut latest: BTreeMap<String, (i64, i64, f64)> = BTreeMap::new();
        for (_, m) in model.metrics {
            let e = latest.entry(m.key).or_insert((m.step, m.timestamp, m.value));
            if (m.step, m.timestamp) > (e.0, e.1) {
                *e = (m.step, m.timestamp, m.value);
            }
        }
        out.extend(latest.into_iter().map(|(k, (_, _, v))| (k, v)));
    }
    Ok(out)
}

/// The metric checks that apply at `stage`: those of its evidence sets'
/// `modelmetric` artifacts, and (with `top_level`) the policy's own `metrics`.
fn checks_at<'a>(policy: &'a Policy, stage: &str, top_level: bool) -> Vec<(String, &'a MetricCheck)> {
    let mut out = Vec::new();
    if let Some(s) = policy.stage(stage) {
        for set in s.evidence_sets() {
            for a in set.artifacts() {
                if let Artifact::ModelMetrics(m) = a {
                    let id = a.id().map_or_else(|| format!("{}.metrics", set.id()), str::to_owned);
                    out.extend(m.metrics().iter().map(|c| (id.clone(), c)));
                }
            }
        }
    }
    if top_level {
        out.extend(policy.metrics().iter().map(|c| ("metrics".to_owned(), c)));
    }
    out
}

/// Evaluate one check against a version's metrics: the value under the metric's
/// name or, failing that, its aliases.
pub fn evaluate(check: &MetricCheck, metrics: &BTreeMap<String, f64>) -> (Option<String>, Option<f64>, &'static str) {
    let found = std::iter::once(check.name())
        .chain(check.aliases().iter().map(String::as_str))
        .find_map(|k| metrics.get(k).map(|v| (k.to_owned(), *v)));
    match (found, check.threshold()) {
        (None, _) => (None, None, "missing"),
        (Some((k, v)), None) => (Some(k), Some(v), "info"),
        (Some((k, v)), Some(t)) => (
            Some(k),
            Some(v),
            if !v.is_nan() && t.passes(v) { "pass" } else { "fail" },
        ),
    }
}

/// The registered versions attached to a bundle.
pub async fn attached_versions(state: &AppState, bundle: &Bundle) -> ApiResult<Vec<ModelVersion>> {
    let mut out: Vec<ModelVersion> = Vec::new();
    for att in state.store.attachments(bundle.id).await? {
        if att.kind != "model_version" {
            continue;
        }
        let reference: serde_json::Value = serde_json::from_str(&att.reference).unwrap_or_default();
        let Some(model) = reference["model"].as_str() else {
            continue;
        };
        let version = reference["version"]
            .as_i64()
            .or_else(|| reference["version"].as_str().and_then(|s| s.trim().parse().ok()));
        let Some(version) = version else { continue };
        if let Ok(v) = state.store.mlflow_model_version(model, version).await
            && !out.iter().any(|o| o.model_id == v.model_id && o.version == v.version)
        {
            out.push(v);
        }
    }
    Ok(out)
}

/// Evaluate the checks of one policy's `stage` against `versions`, in `tx`: record
/// every result, raise a finding for each failure (once per open finding) and give
/// the stage's approvers a task about it.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per trigger; a struct would only rename them"
)]
async fn check_stage(
    state: &AppState,
    tx: &mut WriteTx,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    policy_id: charter_domain::PolicyId,
    policy: &Policy,
    stage: &str,
    top_level: bool,
    versions: &[ModelVersion],
) -> ApiResult<Vec<MetricCheckResult>> {
    let checks = checks_at(policy, stage, top_level);
    let mut results = Vec::new();
    if checks.is_empty() {
        return Ok(results);
    }
    let open_findings = state.store.findings(Some(bundle.id)).await?;
    for v in versions {
        let metrics = version_metrics(state, v).await?;
        for (check_id, check) in &checks {
            let (matched, value, outcome) = evaluate(check, &metrics);
            let mut finding_id = None;
            if outcome == "fail" {
                let t = check.threshold().expect("a failed check has a threshold");
                let name = format!(
                    "{} v{}: metric `{}` fails its threshold {} {}",
                    v.name,
                    v.version,
                    check.name(),
                    t.operator.as_str(),
                    t.value
                );
                let existing = open_findings
                    .iter()
                    .find(|f| f.name == name && f.status.is_unresolved())
                    .map(|f| f.id);
                finding_id = match existing {
                    Some(id) => Some(id),
                    None => {
                        let f = charter_store::finding::create(
                            tx,
                            ctx,
                            NewFinding {
                                bundle_id: bundle.id,
                                policy_id,
                                stage: stage.to_owned(),
                                approval_id: None,
                                name,
                                description: format!(
                                    "The policy requires `{}` {} {}; registered model `{}` version {} has {} = {}.",
                                    check.name(),
                                    t.operator.as_str(),
                                    t.value,
                                    v.name,
                                    v.version,
                                    matched.as_deref().unwrap_or(check.name()),
                                    value.map_or("NaN".to_owned(), |x| x.to_string())
                                ),
                                severity: Severity::High,
                                assignee_id: None,
                                approver_id: None,
                                due_at: None,
                            },
                            by,
                        )
                        .await?;
                        let approvers: Vec<_> = state
                            .store
                            .approvals(bundle.id)
                            .await?
                            .into_iter()
                            .filter(|a| a.policy_id == policy_id && a.stage == stage)
                            .flat_map(|a| a.approvers)
                            .collect();
                        for u in super::review::approver_users(state, &approvers).await? {
                            super::finding::finding_task(tx, u.id, &f, "finding", "Metric check failed").await?;
                        }
                        Some(f.id)
                    }
                };
            }
            results.push(MetricCheckResult {
                bundle_id: bundle.id,
                policy_id,
                stage: stage.to_owned(),
                check_id: check_id.clone(),
                metric: check.name().to_owned(),
                matched_key: matched,
                model: v.name.clone(),
                version: v.version,
                value,
                operator: check.threshold().map(|t| t.operator.as_str().to_owned()),
                threshold: check.threshold().map(|t| t.value),
                outcome: outcome.to_owned(),
                finding_id,
                checked_at: charter_domain::time::now_ms(),
            });
        }
    }
    Ok(results)
}

/// Run every policy's checks at its current stage (and its top-level metrics)
/// against the bundle's attached versions; used when a version is attached.
pub async fn check_bundle(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
) -> ApiResult<Vec<MetricCheckResult>> {
    let versions = attached_versions(state, bundle).await?;
    if versions.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = state.store.begin().await?;
    let mut all = Vec::new();
    for bp in state.store.bundle_policies(bundle.id).await? {
        let version = state.store.policy_version(bp.policy_version_id).await?;
        let policy = super::parsed(state, &version)?;
        let results = check_stage(
            state,
            &mut tx,
            ctx,
            by,
            bundle,
            bp.policy_id,
            &policy,
            &bp.current_stage,
            true,
            &versions,
        )
        .await?;
        all.extend(results);
    }
    charter_store::metric_check::record(&mut tx, ctx, bundle.id, "model_version_attached", &all).await?;
    if all.is_empty() {
        return Ok(all);
    }
    tx.commit().await?;
    Ok(all)
}

/// A bundle entered `stage` of a policy (in the caller's transaction): run that
/// stage's checks against the attached versions.
pub async fn stage_entered(
    state: &AppState,
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: &Bundle,
    policy_id: charter_domain::PolicyId,
    policy: &Policy,
    stage: &str,
) -> ApiResult<()> {
    if checks_at(policy, stage, false).is_empty() {
        return Ok(());
    }
    let versions = attached_versions(state, bundle).await?;
    if versions.is_empty() {
        return Ok(());
    }
    // Findings are raised by whoever moved the bundle on, or its creator when Charter did.
    let by = match ctx.actor.id.parse::<charter_domain::UserId>() {
        Ok(id) => state.store.user(id).await?,
        Err(_) => state.store.user(bundle.created_by).await?,
    };
    let results = check_stage(state, tx, ctx, &by, bundle, policy_id, policy, stage, false, &versions).await?;
    charter_store::metric_check::record(tx, ctx, bundle.id, "stage_entered", &results).await?;
    Ok(())
}

/// Check a `model_version` reference before it is attached: when it names a model of
/// Charter's registry, the version must exist and the caller must be able to read it;
/// the reference then also records the version's run and logged model. Names that
/// are not in the registry stay plain references (another registry's models).
pub async fn resolve_reference(state: &AppState, by: &User, reference: &mut serde_json::Value) -> ApiResult<()> {
    let Some(model) = reference["model"].as_str().map(str::to_owned) else {
        return Ok(());
    };
    let Ok(registered) = state.store.mlflow_registered_model(&model).await else {
        return Ok(());
    };
    let version = reference["version"]
        .as_i64()
        .or_else(|| reference["version"].as_str().and_then(|s| s.trim().parse().ok()))
        .ok_or_else(|| ApiError::invalid("reference: `version` must be a version number"))?;
    let project = match registered.project_id {
        Some(p) => state.store.project(p).await?,
        None => {
            state
                .store
                .project_by_name(&state.config.mlflow.default_project)
                .await?
        }
    };
    if super::project::require(state, by, &project, super::project::Access::Read)
        .await
        .is_err()
        && project.name != state.config.mlflow.default_project
    {
        return Err(ApiError::forbidden(format!(
            "you cannot read registered model `{model}` (project `{}`)",
            project.name
        )));
    }
    let v = state
        .store
        .mlflow_model_version(&model, version)
        .await
        .map_err(|_| ApiError::not_found(format!("registered model `{model}` has no version {version}")))?;
    reference["version"] = serde_json::json!(version);
    reference["run_id"] = serde_json::json!(v.run_id);
    if let Some(m) = &v.logged_model_id {
        reference["model_id"] = serde_json::json!(m);
    }
    reference["registry"] = serde_json::json!("charter");
    Ok(())
}
