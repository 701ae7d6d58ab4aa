//! Bundles: creating them (fresh or copied from a previous bundle), answering the
//! evidence notebook, where each policy stands, and completing or archiving.
//!
//! Charter's rules, where Domino leaves room:
//! - a policy's **current stage** is the first stage with an approval not yet
//!   granted (the last stage once all are granted); it is recomputed on every change;
//! - a policy is **compliant** when every approval of every stage is granted; a
//!   bundle when all its policies are;
//! - evidence of a stage whose approvals are granted is frozen until an approval is
//!   revoked or rejected;
//! - with `enforceSequentialOrder`, a stage's evidence opens only when every stage
//!   before it is approved;
//! - a hidden question takes no answer and is not required;
//! - completing a bundle needs compliance and no unresolved high or critical finding
//!   without an active waiver.
//!
//! Submodules: [`notebook`] (the evidence notebook view and the bundle listing),
//! [`attachment`] (typed links and uploads), [`dashboard`] (counts across bundles).

pub mod assignee;
pub mod attachment;
pub mod dashboard;
pub mod migration;
pub mod notebook;

pub use notebook::{BundleFilter, history, list_filtered, list_for, list_page, notebook, summary};

use std::collections::BTreeMap;
use std::sync::Arc;

use charter_domain::BundleId;
use charter_domain::policy::{Evaluation, Policy};
use charter_domain::time::now_ms;
use charter_store::approval::{Approval, ApprovalStatus, ApproverRef};
use charter_store::bundle::{Answer, Bundle, BundlePolicy, BundleState, NewAnswer, PolicyPlacement};
use charter_store::finding::Severity;
use charter_store::policy::PolicyVersion;
use charter_store::project::Project;
use charter_store::user::User;
use charter_store::{AuditContext, WriteTx};
use serde::Serialize;

use super::project::{Access, require};
use super::{domain_answers, parsed};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A bundle by id (`bdl_…`).
pub async fn find(state: &AppState, id: &str) -> ApiResult<Bundle> {
    let id: BundleId = id
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
    Ok(state.store.bundle(id).await?)
}

/// A bundle, checked for the caller's access to its project.
pub async fn find_for(state: &AppState, user: &User, id: &str, access: Access) -> ApiResult<(Bundle, Project)> {
    let bundle = find(state, id).await?;
    let project = state.store.project(bundle.project_id).await?;
    require(state, user, &project, access).await?;
    Ok((bundle, project))
}

/// Who may decide an approval, resolved against this server: a name that is a
/// group is a group, otherwise a user.
async fn approver_refs(
    state: &AppState,
    policy: &Policy,
    approval: &charter_domain::policy::Approval,
) -> ApiResult<Vec<ApproverRef>> {
    let groups: std::collections::HashSet<String> = state.store.groups().await?.into_iter().map(|g| g.name).collect();
    Ok(policy
        .approvers_for(approval)
        .iter()
        .map(|a| ApproverRef {
            kind: if groups.contains(a.name()) {
                "group".into()
            } else {
                "user".into()
            },
            name: a.name().to_owned(),
            additional: false,
        })
        .collect())
}

/// Put a policy version on a new bundle: its placement and approval rows.
async fn place(
    state: &AppState,
    version: &PolicyVersion,
) -> ApiResult<(PolicyPlacement, Vec<(String, String, Vec<ApproverRef>)>)> {
    let policy = parsed(state, version)?;
    let first = policy.stages().first().map(|s| s.name().to_owned()).unwrap_or_default();
    let mut approvals = Vec::new();
    for stage in policy.stages() {
        for a in stage.approvals() {
            approvals.push((
                stage.name().to_owned(),
                a.name().to_owned(),
                approver_refs(state, &policy, a).await?,
            ));
        }
    }
    Ok((
        PolicyPlacement {
            policy_id: version.policy_id,
            policy_version_id: version.id,
            first_stage: first,
        },
        approvals,
    ))
}

#[expect(clippy::too_many_arguments, reason = "one private helper shared by create and copy")]
async fn insert_bundle(
    state: &AppState,
    tx: &mut WriteTx,
    ctx: &AuditContext,
    by: &User,
    project: &Project,
    name: &str,
    description: &str,
    versions: &[PolicyVersion],
    copied_from: Option<BundleId>,
) -> ApiResult<Bundle> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid("name: give the bundle a name of 1 to 200 characters"));
    }
    if versions.is_empty() {
        return Err(ApiError::invalid(
            "policies: a bundle follows at least one published policy",
        ));
    }
    let mut placements = Vec::new();
    let mut rows = Vec::new();
    for v in versions {
        let (p, a) = place(state, v).await?;
        placements.push(p);
        rows.push((v.policy_id, a));
    }
    let bundle = charter_store::bundle::create(
        tx,
        ctx,
        project.id,
        name,
        description.trim(),
        &placements,
        copied_from,
        by,
    )
    .await?;
    for (policy_id, approvals) in rows {
        charter_store::approval::create_for_bundle(tx, bundle.id, policy_id, &approvals).await?;
    }
    Ok(bundle)
}

/// The published versions named by `policies` (ids or names; the newest published
/// version of each).
async fn published_versions(state: &AppState, policies: &[String]) -> ApiResult<Vec<PolicyVersion>> {
    let mut out: Vec<PolicyVersion> = Vec::new();
    for p in policies {
        let policy = super::policy::find(state, p.trim()).await?;
        let v = super::policy::find_version(state, &policy, "published").await?;
        if out.iter().any(|o| o.policy_id == v.policy_id) {
            return Err(ApiError::invalid(format!("policies: `{}` is named twice", policy.name)));
        }
        out.push(v);
    }
    Ok(out)
}

/// Create a bundle in a project, following the newest published version of each
/// named policy.
pub async fn create(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    project: &Project,
    name: &str,
    description: &str,
    policies: &[String],
) -> ApiResult<Bundle> {
    require(state, by, project, Access::Write).await?;
    let versions = published_versions(state, policies).await?;
    let mut tx = state.store.begin().await?;
    let bundle = insert_bundle(state, &mut tx, ctx, by, project, name, description, &versions, None).await?;
    tx.commit().await?;
    recompute_all(state, ctx, &bundle).await?;
    Ok(bundle)
}

/// What copying a bundle carries over.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct CopyPlan {
    /// Answers that carry over, as `policy/input_id`.
    pub answers: Vec<String>,
    /// Answers left behind, with why (`policy/input_id: reason`).
    pub skipped: Vec<String>,
    /// Attachments that carry over, by name.
    pub attachments: Vec<String>,
    /// Per policy, the version the new bundle follows (`name vN`).
    pub policies: Vec<String>,
    /// The answers that carry over, with their values and where each comes from.
    pub carried: Vec<CarriedAnswer>,
    /// The attachments that carry over, with where each comes from. Files uploaded
    /// to the source's findings stay with those findings.
    pub carried_attachments: Vec<CarriedAttachment>,
}

/// An answer a copy carries over.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CarriedAnswer {
    /// The policy's name.
    pub policy: String,
    pub input_id: String,
    /// The question as the new version asks it.
    pub label: String,
    pub stage: String,
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// What the copy records as its origin: `bundle:<id>/answer:<id>/revision:<n>`.
    pub provenance: String,
    /// Username of who gave the answer in the source bundle.
    pub answered_by: String,
    pub answered_at: String,
}

/// An attachment a copy carries over.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CarriedAttachment {
    pub name: String,
    pub kind: String,
    /// Hex SHA-256 of uploaded content (the copy shares the same bytes).
    pub sha256: Option<String>,
    /// What the copy records as its origin: `bundle:<id>/attachment:<id>`.
    pub provenance: String,
}

struct PlannedAnswer {
    policy_id: charter_domain::PolicyId,
    input_id: String,
    stage: String,
    from: Answer,
    /// A `file` question: its answer names an attachment, which the copy renames.
    file: bool,
}

async fn plan_copy(state: &AppState, source: &Bundle) -> ApiResult<(Vec<PolicyVersion>, Vec<PlannedAnswer>, CopyPlan)> {
    let names: std::collections::HashMap<_, _> = state
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect();
    let mut versions = Vec::new();
    let mut planned = Vec::new();
    let mut plan = CopyPlan::default();
    for bp in state.store.bundle_policies(source.id).await? {
        let stored = state.store.policy(bp.policy_id).await?;
        let version = super::policy::find_version(state, &stored, "published").await?;
        let policy = parsed(state, &version)?;
        plan.policies.push(format!("{} v{}", stored.name, version.version));
        for (input_id, answer) in state.store.latest_answers(source.id, bp.policy_id).await? {
            let label = format!("{}/{input_id}", stored.name);
            match policy.input(&input_id) {
                None => plan
                    .skipped
                    .push(format!("{label}: the question is not in version {}", version.version)),
                Some(input) => match charter_domain::policy::validate_answer(input, &answer.value) {
                    Err(e) => plan.skipped.push(format!("{label}: {e}")),
                    Ok(_) => {
                        let stage = policy
                            .evidence_set(input.evidence_set())
                            .map(|s| s.stage().to_owned())
                            .unwrap_or_else(|| answer.stage.clone());
                        plan.answers.push(label);
                        plan.carried.push(CarriedAnswer {
                            policy: stored.name.clone(),
                            input_id: input_id.clone(),
                            label: input.label().to_owned(),
                            stage: stage.clone(),
                            value: answer.value.clone(),
                            provenance: answer_provenance(source, &answer),
                            answered_by: names.get(&answer.answered_by).cloned().unwrap_or_default(),
                            answered_at: charter_domain::time::rfc3339(answer.answered_at),
                        });
                        planned.push(PlannedAnswer {
                            policy_id: bp.policy_id,
                            input_id,
                            stage,
                            from: answer,
                            file: input.input_type() == charter_domain::policy::InputType::File,
                        });
                    }
                },
            }
        }
        versions.push(version);
    }
    for a in carried_attachments(state, source).await? {
        plan.carried_attachments.push(CarriedAttachment {
            name: a.name.clone(),
            kind: a.kind.clone(),
            sha256: a.sha256.clone(),
            provenance: attachment_provenance(source, &a),
        });
        plan.attachments.push(a.name);
    }
    Ok((versions, planned, plan))
}

/// The source's attachments a copy takes: all but files uploaded to its findings.
async fn carried_attachments(state: &AppState, source: &Bundle) -> ApiResult<Vec<charter_store::bundle::Attachment>> {
    Ok(state
        .store
        .attachments(source.id)
        .await?
        .into_iter()
        .filter(|a| attachment::finding_of(a).is_none())
        .collect())
}

fn answer_provenance(source: &Bundle, answer: &Answer) -> String {
    format!("bundle:{}/answer:{}/revision:{}", source.id, answer.id, answer.revision)
}

fn attachment_provenance(source: &Bundle, a: &charter_store::bundle::Attachment) -> String {
    format!("bundle:{}/attachment:{}", source.id, a.id)
}

/// Preview what copying `source` would carry over, without writing anything.
pub async fn preview_copy(state: &AppState, by: &User, source: &Bundle) -> ApiResult<CopyPlan> {
    let project = state.store.project(source.project_id).await?;
    require(state, by, &project, Access::Read).await?;
    Ok(plan_copy(state, source).await?.2)
}

/// Create a bundle from a previous one (the "model update" flow): the newest
/// published version of each of its policies, its answers marked carried over with
/// their provenance until someone confirms or edits them, and its attachments.
pub async fn copy(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    source: &Bundle,
    name: &str,
    description: &str,
) -> ApiResult<(Bundle, CopyPlan)> {
    let project = state.store.project(source.project_id).await?;
    require(state, by, &project, Access::Write).await?;
    let (versions, planned, plan) = plan_copy(state, source).await?;
    let mut tx = state.store.begin().await?;
    let bundle = insert_bundle(
        state,
        &mut tx,
        ctx,
        by,
        &project,
        name,
        description,
        &versions,
        Some(source.id),
    )
    .await?;
    // Attachments first: answers to `file` questions name them, and follow them to
    // their copies. (A copied attachment shares the original's blob.)
    let mut renamed = std::collections::HashMap::new();
    for a in carried_attachments(state, source).await? {
        let blob = match (&a.blob_key, &a.sha256, a.size) {
            (Some(k), Some(h), Some(s)) => Some((k.as_str(), h.as_str(), s)),
            _ => None,
        };
        let reference: serde_json::Value = serde_json::from_str(&a.reference).unwrap_or_default();
        let copied = charter_store::bundle::add_attachment(
            &mut tx,
            ctx,
            bundle.id,
            &a.kind,
            &a.name,
            reference,
            blob,
            Some(attachment_provenance(source, &a)),
            by,
        )
        .await?;
        renamed.insert(a.id.to_string(), copied.id.to_string());
    }
    for p in planned {
        let value = match (&p.from.value, p.file) {
            (serde_json::Value::String(old), true) => renamed
                .get(old)
                .map_or_else(|| p.from.value.clone(), |new| serde_json::Value::String(new.clone())),
            _ => p.from.value.clone(),
        };
        charter_store::bundle::save_answer(
            &mut tx,
            ctx,
            NewAnswer {
                bundle_id: bundle.id,
                policy_id: p.policy_id,
                input_id: p.input_id,
                stage: p.stage,
                value,
                carried_from: Some(answer_provenance(source, &p.from)),
                carried_over: true,
            },
            by,
        )
        .await?;
    }
    tx.commit().await?;
    recompute_all(state, ctx, &bundle).await?;
    Ok((bundle, plan))
}

/// The bundle's policy that `policy_ref` names (id or name).
async fn bundle_policy(
    state: &AppState,
    bundle: &Bundle,
    policy_ref: &str,
) -> ApiResult<(BundlePolicy, PolicyVersion, Arc<Policy>)> {
    let stored = super::policy::find(state, policy_ref).await?;
    let bp = state
        .store
        .bundle_policies(bundle.id)
        .await?
        .into_iter()
        .find(|bp| bp.policy_id == stored.id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "bundle `{}` does not follow policy `{}`",
                bundle.name, stored.name
            ))
        })?;
    let version = state.store.policy_version(bp.policy_version_id).await?;
    let policy = parsed(state, &version)?;
    Ok((bp, version, policy))
}

/// Where a policy stands on a bundle, derived from its approvals.
pub fn current_stage(policy: &Policy, approvals: &[Approval]) -> String {
    for stage in policy.stages() {
        let open = approvals
            .iter()
            .any(|a| a.stage == stage.name() && !a.status.is_granted());
        if open {
            return stage.name().to_owned();
        }
    }
    policy.stages().last().map(|s| s.name().to_owned()).unwrap_or_default()
}

/// Whether every approval of the policy is granted.
pub fn is_compliant(approvals: &[Approval]) -> bool {
    approvals.iter().all(|a| a.status.is_granted())
}

/// Why the evidence of `stage` takes no answers now, or `None` when it does: a
/// stage with a granted approval is frozen; with `enforceSequentialOrder`, a stage
/// after the current one waits. `approvals` are the policy's on the bundle.
pub fn stage_closed(policy: &Policy, approvals: &[Approval], stage: &str) -> Option<String> {
    if approvals.iter().any(|a| a.stage == stage && a.status.is_granted()) {
        return Some(format!(
            "stage `{stage}` is approved, so its evidence is frozen; an approver must revoke the approval to reopen it"
        ));
    }
    if policy.enforce_sequential_order() {
        let current = current_stage(policy, approvals);
        let idx = |name: &str| policy.stages().iter().position(|s| s.name() == name);
        if let (Some(i), Some(c)) = (idx(stage), idx(&current))
            && i > c
        {
            return Some(format!(
                "stage `{stage}` opens when stage `{current}` is approved (this policy enforces sequential order)"
            ));
        }
    }
    None
}

/// Recompute classification and current stage of one policy on a bundle, recording
/// changes (in the caller's transaction).
pub async fn recompute(
    state: &AppState,
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: &Bundle,
    bp: &BundlePolicy,
    policy: &Policy,
    answers: &BTreeMap<String, Answer>,
) -> ApiResult<Evaluation> {
    let eval = policy.evaluate(&domain_answers(policy, answers));
    let approvals: Vec<Approval> = state
        .store
        .approvals(bundle.id)
        .await?
        .into_iter()
        .filter(|a| a.policy_id == bp.policy_id)
        .collect();
    let stage = current_stage(policy, &approvals);
    charter_store::bundle::set_standing(tx, ctx, bundle.id, bp.policy_id, &stage, eval.classification.as_deref())
        .await?;
    Ok(eval)
}

async fn recompute_all(state: &AppState, ctx: &AuditContext, bundle: &Bundle) -> ApiResult<()> {
    let mut tx = state.store.begin().await?;
    for bp in state.store.bundle_policies(bundle.id).await? {
        let version = state.store.policy_version(bp.policy_version_id).await?;
        let policy = parsed(state, &version)?;
        let answers = state.store.latest_answers(bundle.id, bp.policy_id).await?;
        recompute(state, &mut tx, ctx, bundle, &bp, &policy, &answers).await?;
    }
    // Nothing may have changed; only commit events when something did.
    match tx.commit().await {
        Ok(_) | Err(charter_store::StoreError::Unaudited(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// What saving an answer did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnswerOutcome {
    /// The bundle, `bdl_…`.
    pub bundle_id: String,
    /// The policy answered, `pol_…`.
    pub policy_id: String,
    /// The stage the question belongs to.
    pub stage: String,
    /// Stable id of this revision, `ans_…`.
    pub answer_id: String,
    pub input_id: String,
    /// This save confirmed a carried-over answer unchanged (audited as
    /// `evidence.confirmed`); it no longer counts as carried over.
    pub confirmed: bool,
    pub revision: i64,
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// The policy's classification after this answer.
    pub classification: Option<String>,
    /// Required questions still unanswered (visible ones only).
    pub missing_required: Vec<String>,
    /// Evidence sets now shown / hidden.
    pub visible_sets: Vec<String>,
    pub hidden_sets: Vec<String>,
    /// Questions now hidden (their answers no longer count).
    pub hidden_inputs: Vec<String>,
}

/// Answer one question of a bundle's evidence notebook.
pub async fn answer(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    policy_ref: &str,
    input_ref: &str,
    value: &serde_json::Value,
) -> ApiResult<AnswerOutcome> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, by, &project, Access::Write).await?;
    if bundle.state != BundleState::Active {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is {}; its evidence is frozen",
            bundle.name,
            bundle.state.as_str()
        )));
    }
    let (bp, _version, policy) = bundle_policy(state, bundle, policy_ref).await?;
    let input = policy
        .input(input_ref)
        .or_else(|| policy.input_by_alias(input_ref))
        .ok_or_else(|| ApiError::not_found(format!("the policy has no question `{input_ref}`")))?;
    let input_id = input.id().to_owned();
    let stage = policy
        .evidence_set(input.evidence_set())
        .map(|s| s.stage().to_owned())
        .unwrap_or_default();
    let approvals: Vec<Approval> = state
        .store
        .approvals(bundle.id)
        .await?
        .into_iter()
        .filter(|a| a.policy_id == bp.policy_id)
        .collect();
    if let Some(why) = stage_closed(&policy, &approvals, &stage) {
        return Err(ApiError::conflict(why));
    }
    let mut stored = state.store.latest_answers(bundle.id, bp.policy_id).await?;
    let before = policy.evaluate(&domain_answers(&policy, &stored));
    if !before.is_input_visible(&input_id) {
        return Err(ApiError::conflict(format!(
            "question `{}` ({input_id}) is hidden by the answers so far, so it takes no answer",
            input.label()
        )));
    }
    let validated = charter_domain::policy::validate_answer(input, value).map_err(|e| {
        ApiError::invalid(e.to_string()).with_details(serde_json::json!({ "input_id": input_id, "code": e.code() }))
    })?;
    if let charter_domain::policy::AnswerValue::Attachment(att) = &validated
        && !state
            .store
            .attachments(bundle.id)
            .await?
            .iter()
            .any(|a| a.id.to_string() == *att)
    {
        return Err(ApiError::invalid(format!(
            "`{}` ({input_id}): `{att}` is not an attachment of bundle `{}`; attach the file first and answer with its id",
            input.label(),
            bundle.name
        ))
        .with_details(serde_json::json!({ "input_id": input_id, "code": "unknown_attachment" })));
    }
    let value = validated.to_json();
    let confirmed = stored
        .get(&input_id)
        .is_some_and(|prev| prev.carried_over && prev.value == value);
    let mut tx = state.store.begin().await?;
    let saved = charter_store::bundle::save_answer(
        &mut tx,
        ctx,
        NewAnswer {
            bundle_id: bundle.id,
            policy_id: bp.policy_id,
            input_id: input_id.clone(),
            stage: stage.clone(),
            value,
            carried_from: None,
            carried_over: false,
        },
        by,
    )
    .await?;
    stored.insert(input_id.clone(), saved.clone());
    let eval = recompute(state, &mut tx, ctx, bundle, &bp, &policy, &stored).await?;
    tx.commit().await?;
    Ok(AnswerOutcome {
        bundle_id: bundle.id.to_string(),
        policy_id: bp.policy_id.to_string(),
        stage,
        confirmed,
        answer_id: saved.id.to_string(),
        input_id,
        revision: saved.revision,
        value: saved.value,
        classification: eval.classification,
        missing_required: eval.missing_required,
        visible_sets: eval.visible_sets,
        hidden_sets: eval.hidden_sets,
        hidden_inputs: eval.hidden_inputs,
    })
}

/// Complete, archive or reopen a bundle.
pub async fn set_state(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    to: BundleState,
) -> ApiResult<Bundle> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, by, &project, Access::Write).await?;
    if bundle.state == to {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is already {}",
            bundle.name,
            to.as_str()
        )));
    }
    if to == BundleState::Complete {
        let approvals = state.store.approvals(bundle.id).await?;
        let missing: Vec<String> = approvals
            .iter()
            .filter(|a| !a.status.is_granted())
            .map(|a| format!("{} ({}, {})", a.name, a.stage, a.status.as_str()))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::conflict(format!(
                "bundle `{}` is not compliant: these approvals are not granted: {}",
                bundle.name,
                missing.join("; ")
            )));
        }
        let now = now_ms();
        let waived: Vec<_> = state
            .store
            .waivers(Some(bundle.id))
            .await?
            .into_iter()
            .filter(|w| w.status == "active" && w.expires_at > now)
            .filter_map(|w| w.finding_id)
            .collect();
        let blocking: Vec<String> = state
            .store
            .findings(Some(bundle.id))
            .await?
            .into_iter()
            .filter(|f| f.status.is_unresolved() && f.severity >= Severity::High && !waived.contains(&f.id))
            .map(|f| format!("{} ({})", f.name, f.severity.as_str()))
            .collect();
        if !blocking.is_empty() {
            return Err(ApiError::conflict(format!(
                "bundle `{}` has unresolved high or critical findings without a waiver: {}",
                bundle.name,
                blocking.join("; ")
            )));
        }
    }
    let mut tx = state.store.begin().await?;
    let b = charter_store::bundle::set_state(&mut tx, ctx, bundle, to).await?;
    tx.commit().await?;
    Ok(b)
}

/// Whether the approval is granted now.
pub fn granted(a: &Approval) -> bool {
    a.status.is_granted()
}

/// Approvals of a bundle that are in a state.
pub fn in_state(approvals: &[Approval], status: ApprovalStatus) -> impl Iterator<Item = &Approval> {
    approvals.iter().filter(move |a| a.status == status)
}
