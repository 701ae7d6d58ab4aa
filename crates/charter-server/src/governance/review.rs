//! Reviews: requesting review of a stage, deciding approvals (approve, conditional
//! approval, reject, revoke), additional approvers, and separation of duties with
//! its per-policy exemptions.
//!
//! Charter's rules:
//! - requesting review needs write access to the bundle's project, every required
//!   (visible) question of the stage answered and, with `enforceSequentialOrder`,
//!   every earlier stage approved; each approver gets a task (a group: each member);
//! - approve, conditional approval and reject belong to the approval's named
//!   approvers (users, members of named groups, additional approvers of the bundle);
//!   revoke also to governance admins; viewers decide nothing;
//! - **separation of duties**: nobody approves, conditionally approves or rejects an
//!   approval of a bundle they created, or of a stage whose evidence they answered
//!   (any revision). An admin may exempt a user per policy; the exemption is named
//!   in the decision's audit event. Every refusal is audited as `approval.refused`;
//! - granting needs the approval's sign-off form filled; a conditional approval
//!   needs at least one finding with a due date, linked to the approval;
//! - a rejection reopens the stage: other granted approvals of the same stage are
//!   revoked with it, since the evidence they approved may now change;
//! - decisions name the `version` of the approval the approver saw; a concurrent
//!   decision makes the second one fail (409) with nothing written.

use std::sync::Arc;

use axum::http::StatusCode;
use charter_domain::policy::Policy;
use charter_domain::time::{Millis, now_ms, parse_instant};
use charter_domain::{ApprovalId, FindingId, UserId};
use charter_store::approval::{Approval, ApprovalStatus, ApproverRef, Transition};
use charter_store::bundle::{Bundle, BundlePolicy, BundleState};
use charter_store::finding::{Finding, NewFinding, Severity};
use charter_store::policy::Policy as StoredPolicy;
use charter_store::sod::SodExemption;
use charter_store::task::NewTask;
use charter_store::user::User;
use charter_store::{AuditContext, StoreError, WriteTx};
use serde_json::json;

use super::project::{Access, require};
use super::{domain_answers, parsed};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// One policy on one bundle, with its parsed version.
pub struct PolicyOnBundle {
    pub placement: BundlePolicy,
    pub stored: StoredPolicy,
    pub policy: Arc<Policy>,
}

/// The bundle's policy with this id.
pub async fn policy_by_id(
    state: &AppState,
    bundle: &Bundle,
    policy_id: charter_domain::PolicyId,
) -> ApiResult<PolicyOnBundle> {
    let placement = state
        .store
        .bundle_policies(bundle.id)
        .await?
        .into_iter()
        .find(|bp| bp.policy_id == policy_id)
        .ok_or_else(|| ApiError::not_found(format!("policy {policy_id} on bundle `{}`", bundle.name)))?;
    let stored = state.store.policy(policy_id).await?;
    let version = state.store.policy_version(placement.policy_version_id).await?;
    let policy = parsed(state, &version)?;
    Ok(PolicyOnBundle {
        placement,
        stored,
        policy,
    })
}

/// The bundle's policy that `policy_ref` names (id or name); when `None`, the
/// bundle's only policy.
pub async fn policy_on_bundle(
    state: &AppState,
    bundle: &Bundle,
    policy_ref: Option<&str>,
) -> ApiResult<PolicyOnBundle> {
    let placements = state.store.bundle_policies(bundle.id).await?;
    let policy_id = match policy_ref.map(str::trim).filter(|p| !p.is_empty()) {
        Some(r) => {
            let stored = super::policy::find(state, r).await?;
            if !placements.iter().any(|bp| bp.policy_id == stored.id) {
                return Err(ApiError::not_found(format!(
                    "bundle `{}` does not follow policy `{}`",
                    bundle.name, stored.name
                )));
            }
            stored.id
        }
        None if placements.len() == 1 => placements[0].policy_id,
        None => {
            return Err(ApiError::invalid(format!(
                "policy: bundle `{}` follows {} policies; name one",
                bundle.name,
                placements.len()
            )));
        }
    };
    policy_by_id(state, bundle, policy_id).await
}

/// An approval by id (`apr_…`).
pub async fn find(state: &AppState, id: &str) -> ApiResult<Approval> {
    let id: ApprovalId = id
        .trim()
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
    Ok(state.store.approval(id).await?)
}

/// A user by id (`usr_…`) or username.
pub async fn find_user(state: &AppState, id_or_name: &str) -> ApiResult<User> {
    let id_or_name = id_or_name.trim();
    if id_or_name.starts_with(UserId::PREFIX) {
        let id: UserId = id_or_name
            .parse()
            .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
        Ok(state.store.user(id).await?)
    } else {
        Ok(state.store.user_by_username(id_or_name).await?)
    }
}

/// A user named in a request field: 400 naming the field when there is no such user.
pub async fn named_user(state: &AppState, field: &str, id_or_name: &str) -> ApiResult<User> {
    match find_user(state, id_or_name).await {
        Err(e) if e.status == StatusCode::NOT_FOUND => Err(ApiError::invalid(format!(
            "{field}: there is no user `{}`",
            id_or_name.trim()
        ))),
        other => other,
    }
}

/// Whether `user` is one of the approval's approvers: named as a user, a member of
/// a named group, or an additional approver of this bundle.
pub async fn is_named_approver(state: &AppState, user: &User, approval: &Approval) -> ApiResult<bool> {
    if approval
        .approvers
        .iter()
        .any(|a| a.kind == "user" && a.name == user.username)
    {
        return Ok(true);
    }
    if !approval.approvers.iter().any(|a| a.kind == "group") {
        return Ok(false);
    }
    let groups = state.store.groups_of(user.id).await?;
    Ok(approval
        .approvers
        .iter()
        .any(|a| a.kind == "group" && groups.contains(&a.name)))
}

/// The users an approval's approvers stand for (group members expanded; disabled
/// accounts and names that no longer exist left out), each once.
pub async fn approver_users(state: &AppState, approvers: &[ApproverRef]) -> ApiResult<Vec<User>> {
    let mut out: Vec<User> = Vec::new();
    for a in approvers {
        let users = if a.kind == "group" {
            match state.store.group_by_name(&a.name).await {
                Ok(g) => state.store.group_members(g.id).await?,
                Err(StoreError::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            }
        } else {
            match state.store.user_by_username(&a.name).await {
                Ok(u) => vec![u],
                Err(StoreError::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            }
        };
        for u in users {
            if !u.disabled && !out.iter().any(|o| o.id == u.id) {
                out.push(u);
            }
        }
    }
    Ok(out)
}

/// Whether `user` may read a bundle: project members, governance admins, and the
/// approvers of any of its approvals (who review without being members).
pub async fn can_read_bundle(state: &AppState, user: &User, bundle: &Bundle) -> ApiResult<bool> {
    if user.role.is_governance_admin() || state.store.project_role(bundle.project_id, user.id).await?.is_some() {
        return Ok(true);
    }
    for a in state.store.approvals(bundle.id).await? {
        if is_named_approver(state, user, &a).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// [`can_read_bundle`], or 404 (a bundle one may not read looks like no bundle).
pub async fn require_read(state: &AppState, user: &User, bundle: &Bundle) -> ApiResult<()> {
    if can_read_bundle(state, user, bundle).await? {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("bundle {} not found", bundle.id)))
    }
}

/// Create an `approval` task for each of `users`.
pub(crate) async fn approval_tasks(
    tx: &mut WriteTx,
    users: &[User],
    approval: &Approval,
    bundle: &Bundle,
    title: &str,
) -> ApiResult<()> {
    for u in users {
        charter_store::task::create(
            tx,
            NewTask {
                user_id: u.id,
                kind: "approval",
                bundle_id: Some(bundle.id),
                target_type: "approval",
                target_id: approval.id.to_string(),
                title: title.to_owned(),
            },
        )
        .await?;
    }
    Ok(())
}

/// Record a policy's standing on a bundle after approvals changed in `tx`: the
/// current stage from the approvals as they will be once `tx` commits (`changed`
/// replaces what the database still shows), and the classification. Callers hold
/// [`charter_store::approval::lock_standing`] so no concurrent decision is missed.
pub(crate) async fn restand(
    state: &AppState,
    tx: &mut WriteTx,
    ctx: &AuditContext,
    bundle: &Bundle,
    on: &PolicyOnBundle,
    changed: &[Approval],
) -> ApiResult<String> {
    let approvals: Vec<Approval> = state
        .store
        .approvals(bundle.id)
        .await?
        .into_iter()
        .filter(|a| a.policy_id == on.placement.policy_id)
        .map(|a| changed.iter().find(|c| c.id == a.id).cloned().unwrap_or(a))
        .collect();
    let answers = state.store.latest_answers(bundle.id, on.placement.policy_id).await?;
    let eval = on.policy.evaluate(&domain_answers(&on.policy, &answers));
    let stage = super::bundle::current_stage(&on.policy, &approvals);
    charter_store::bundle::set_standing(
        tx,
        ctx,
        bundle.id,
        on.placement.policy_id,
        &stage,
        eval.classification.as_deref(),
    )
    .await?;
    if stage != on.placement.current_stage {
        // Entering a stage runs its metrics checks against attached model versions.
        super::model_link::stage_entered(state, tx, ctx, bundle, on.placement.policy_id, &on.policy, &stage).await?;
    }
    Ok(stage)
}

/// What requesting review did.
#[derive(Debug, Clone)]
pub struct ReviewRequested {
    /// The stage's approvals now pending (and any already pending or granted).
    pub approvals: Vec<Approval>,
    /// Usernames that got a task.
    pub notified: Vec<String>,
}

/// Ask the approvers of a stage for their decision: its approvals that are not
/// requested, rejected, revoked or expired become pending, and every approver gets
/// an `approval` task.
pub async fn request_review(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    policy_ref: Option<&str>,
    stage: &str,
) -> ApiResult<ReviewRequested> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, by, &project, Access::Write).await?;
    if bundle.state != BundleState::Active {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is {}; only active bundles are reviewed",
            bundle.name,
            bundle.state.as_str()
        )));
    }
    let on = policy_on_bundle(state, bundle, policy_ref).await?;
    let policy = &on.policy;
    let stage_index = policy.stages().iter().position(|s| s.name() == stage).ok_or_else(|| {
        ApiError::not_found(format!(
            "policy `{}` has no stage `{stage}`; its stages are: {}",
            on.stored.name,
            policy.stages().iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
        ))
    })?;
    let all: Vec<Approval> = state
        .store
        .approvals(bundle.id)
        .await?
        .into_iter()
        .filter(|a| a.policy_id == on.placement.policy_id)
        .collect();
    let of_stage: Vec<&Approval> = all.iter().filter(|a| a.stage == stage).collect();
    if of_stage.is_empty() {
        return Err(ApiError::conflict(format!(
            "stage `{stage}` of policy `{}` has no approvals to request",
            on.stored.name
        )));
    }

    if policy.enforce_sequential_order() {
        let earlier: Vec<String> = policy.stages()[..stage_index]
            .iter()
            .flat_map(|s| all.iter().filter(move |a| a.stage == s.name()))
            .filter(|a| !a.status.is_granted())
            .map(|a| format!("`{}` (stage `{}`, {})", a.name, a.stage, a.status.as_str()))
            .collect();
        if !earlier.is_empty() {
            return Err(ApiError::conflict(format!(
                "policy `{}` enforces sequential order: stage `{stage}` can be reviewed once earlier stages are approved; still open: {}",
                on.stored.name,
                earlier.join(", ")
            )));
        }
    }

    let answers = state.store.latest_answers(bundle.id, on.placement.policy_id).await?;
    let eval = policy.evaluate(&domain_answers(policy, &answers));
    let missing: Vec<(String, String)> = eval
        .missing_required
        .iter()
        .filter_map(|id| {
            let input = policy.input(id)?;
            let set_stage = policy.evidence_set(input.evidence_set())?.stage();
            (set_stage == stage).then(|| (id.clone(), input.label().to_owned()))
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::conflict(format!(
            "stage `{stage}` still has {} unanswered required question(s): {}; answer them before requesting review",
            missing.len(),
            missing
                .iter()
                .map(|(id, label)| format!("`{label}` ({id})"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_details(json!({
            "missing_required": missing.iter().map(|(id, label)| json!({"input_id": id, "label": label})).collect::<Vec<_>>()
        })));
    }
    let requestable = |s: ApprovalStatus| {
        matches!(
            s,
            ApprovalStatus::NotRequested | ApprovalStatus::Rejected | ApprovalStatus::Revoked | ApprovalStatus::Expired
        )
    };
    let to_request: Vec<&Approval> = of_stage.iter().copied().filter(|a| requestable(a.status)).collect();
    if to_request.is_empty() {
        return Err(ApiError::conflict(format!(
            "every approval of stage `{stage}` is already pending or granted: {}",
            of_stage
                .iter()
                .map(|a| format!("`{}` ({})", a.name, a.status.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }

    let mut tx = state.store.begin().await?;
    let mut updated = Vec::new();
    let mut notified: Vec<String> = Vec::new();
    for a in to_request {
        let users = approver_users(state, &a.approvers).await?;
        let after = charter_store::approval::transition(
            &mut tx,
            ctx,
            a,
            Transition {
                to: ApprovalStatus::Pending,
                action: "approval.requested",
                comment: None,
                signoff: None,
                expires_at: None,
                details: json!({ "notified": users.iter().map(|u| &u.username).collect::<Vec<_>>() }),
            },
            Some(by),
        )
        .await?;
        let title = format!(
            "Review `{}` (stage `{stage}`) of bundle `{}`, requested by {}",
            a.name, bundle.name, by.username
        );
        approval_tasks(&mut tx, &users, &after, bundle, &title).await?;
        for u in users {
            if !notified.contains(&u.username) {
                notified.push(u.username);
            }
        }
        updated.push(after);
    }
    tx.commit().await?;
    let approvals = of_stage
        .into_iter()
        .map(|a| {
            updated
                .iter()
                .find(|u| u.id == a.id)
                .cloned()
                .unwrap_or_else(|| a.clone())
        })
        .collect();
    Ok(ReviewRequested { approvals, notified })
}

/// What an approver decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approve,
    Conditional,
    Reject,
    Revoke,
}

impl Outcome {
    pub fn parse(text: &str) -> ApiResult<Self> {
        match text.trim() {
            "approve" => Ok(Self::Approve),
            "conditional" => Ok(Self::Conditional),
            "reject" => Ok(Self::Reject),
            "revoke" => Ok(Self::Revoke),
            other => Err(ApiError::invalid(format!(
                "outcome: `{other}` is not an outcome; use approve, conditional, reject or revoke"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Conditional => "conditional",
            Self::Reject => "reject",
            Self::Revoke => "revoke",
        }
    }

    fn grants(self) -> bool {
        matches!(self, Self::Approve | Self::Conditional)
    }

    /// Approve, conditional and reject are judgements on the evidence, bound by
    /// separation of duties; revoking is a withdrawal anyone responsible may make.
    fn judges(self) -> bool {
        !matches!(self, Self::Revoke)
    }
}

/// A finding logged with a conditional approval.
#[derive(Debug, Clone, Default)]
pub struct NewCondition {
    pub name: String,
    pub description: String,
    pub severity: String,
    pub due_date: String,
    pub assignee: Option<String>,
}

/// A decision on an approval.
#[derive(Debug, Clone)]
pub struct Decision {
    pub outcome: Outcome,
    pub comment: String,
    /// Answers to the approval's sign-off form, by input id.
    pub signoff: serde_json::Map<String, serde_json::Value>,
    /// The approval's `version` the approver saw.
    pub version: i64,
    pub findings: Vec<NewCondition>,
    pub finding_ids: Vec<String>,
    pub expires_at: Option<String>,
}

/// What a decision did.
#[derive(Debug, Clone)]
pub struct Decided {
    pub approval: Approval,
    /// Findings now linked to the approval (its conditions), new and existing.
    pub findings: Vec<Finding>,
    /// Other approvals of the stage revoked because a rejection reopened it.
    pub also_revoked: Vec<Approval>,
    /// The policy's current stage on the bundle afterwards.
    pub current_stage: String,
}

/// Refuse a decision: 403, and an `approval.refused` audit event saying why.
async fn refuse(
    state: &AppState,
    ctx: &AuditContext,
    approval: &Approval,
    outcome: Outcome,
    code: &'static str,
    rule: &str,
    message: String,
) -> ApiError {
    let recorded = async {
        let mut tx = state.store.begin().await?;
        tx.audit(ctx.event(
            "approval.refused",
            "approval",
            approval.id,
            json!({
                "bundle_id": approval.bundle_id.to_string(), "name": approval.name, "stage": approval.stage,
                "outcome": outcome.as_str(), "rule": rule, "message": message,
            }),
        ));
        tx.commit().await
    }
    .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "could not record approval.refused");
    }
    ApiError::new(StatusCode::FORBIDDEN, code, message).with_details(json!({ "rule": rule }))
}

/// Whether separation of duties keeps `by` from judging `approval`: the rule
/// broken (`separation_of_duties.creator` or `.answered_evidence`) and the
/// sentence saying why, or `None`. Exemptions are not considered here.
async fn sod_conflict(
    state: &AppState,
    by: &User,
    bundle: &Bundle,
    approval: &Approval,
    on: &PolicyOnBundle,
) -> ApiResult<Option<(&'static str, String)>> {
    if bundle.created_by == by.id {
        return Ok(Some((
            "separation_of_duties.creator",
            format!(
                "separation of duties: you created bundle `{}`, so you cannot approve, conditionally approve or reject \
                 its approval `{}`; one of its other approvers must decide",
                bundle.name, approval.name
            ),
        )));
    }
    let answerers = state
        .store
        .stage_answerers(bundle.id, approval.policy_id, &approval.stage)
        .await?;
    Ok(answerers.into_iter().find(|a| a.user_id == by.id).map(|a| {
        let label = on
            .policy
            .input(&a.input_id)
            .map_or(a.input_id.clone(), |i| i.label().to_owned());
        (
            "separation_of_duties.answered_evidence",
            format!(
                "separation of duties: you answered evidence of stage `{}` of bundle `{}` (for example `{label}`), \
                 so you cannot approve, conditionally approve or reject its approval `{}`; \
                 someone who did not prepare the evidence must judge it",
                approval.stage, bundle.name, approval.name
            ),
        )
    }))
}

fn sod_message(message: &str, on: &PolicyOnBundle) -> String {
    format!(
        "{message} (an admin can exempt you for policy `{}` if separation is impossible)",
        on.stored.name
    )
}

/// Separation of duties for `by` judging `approval`: `Ok(None)` when there is no
/// conflict, `Ok(Some(exemption))` when there is one the policy exempts, otherwise
/// the refusal (audited).
async fn separation_of_duties(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    approval: &Approval,
    on: &PolicyOnBundle,
    outcome: Outcome,
) -> ApiResult<Option<(SodExemption, &'static str)>> {
    let Some((rule, message)) = sod_conflict(state, by, bundle, approval, on).await? else {
        return Ok(None);
    };
    if let Some(exemption) = state.store.sod_exemption(approval.policy_id, by.id).await? {
        return Ok(Some((exemption, rule)));
    }
    let message = sod_message(&message, on);
    Err(refuse(state, ctx, approval, outcome, "separation_of_duties", rule, message).await)
}

/// Why someone may not make a decision, as [`decide`] would refuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The error code `decide` answers with (`separation_of_duties`, `forbidden`, `conflict`).
    pub code: &'static str,
    /// The rule, for separation of duties (`separation_of_duties.creator`,
    /// `separation_of_duties.answered_evidence`).
    pub rule: Option<&'static str>,
    /// The same sentence `decide` answers with.
    pub message: String,
}

/// What `user` may decide on an approval now, checked by the same rules as
/// [`decide`] but without deciding or auditing anything: pages use it to offer
/// only the decisions that will be accepted, and to explain the others.
#[derive(Debug, Clone)]
pub struct DecisionRights {
    /// Named as an approver (as a user, through a group, or added on the bundle).
    pub named: bool,
    /// Approve, conditionally approve or reject: `Ok` when allowed now.
    pub judge: Result<(), Refusal>,
    /// Revoke: `Ok` when allowed now.
    pub revoke: Result<(), Refusal>,
    /// A separation-of-duties exemption lets `user` judge despite a conflict
    /// (named in the decision's audit event).
    pub exempted: bool,
}

/// What `user` may decide on `approval` (see [`DecisionRights`]).
pub async fn decision_rights(state: &AppState, user: &User, approval: &Approval) -> ApiResult<DecisionRights> {
    let bundle = state.store.bundle(approval.bundle_id).await?;
    let named = is_named_approver(state, user, approval).await?;
    let refusal = |code, message: String| Refusal {
        code,
        rule: None,
        message,
    };
    let settled = (bundle.state != BundleState::Active).then(|| {
        refusal(
            "conflict",
            format!(
                "bundle `{}` is {}; its approvals are settled",
                bundle.name,
                bundle.state.as_str()
            ),
        )
    });
    let not_approver = |outcome: Outcome| {
        let who = if outcome == Outcome::Revoke {
            "its approvers and governance admins"
        } else {
            "its named approvers"
        };
        refusal(
            "forbidden",
            if user.role.can_write() {
                format!(
                    "only {who} may {} approval `{}`; you are not one of them (approvers: {})",
                    outcome.as_str(),
                    approval.name,
                    approval
                        .approvers
                        .iter()
                        .map(|a| format!("{} {}", a.kind, a.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                format!(
                    "viewers cannot decide approvals; `{}` needs an approver with the practitioner role or above",
                    approval.name
                )
            },
        )
    };
    let status = approval.status;
    let mut exempted = false;
    let judge = if let Some(r) = settled.clone() {
        Err(r)
    } else if !(user.role.can_write() && named) {
        Err(not_approver(Outcome::Approve))
    } else if !matches!(status, ApprovalStatus::Pending | ApprovalStatus::PendingExpiration) {
        Err(refusal(
            "conflict",
            format!(
                "approval `{}` is {}; {}",
                approval.name,
                status.as_str(),
                if status.is_granted() {
                    "it is already granted; revoke it first to decide again"
                } else {
                    "request review first"
                }
            ),
        ))
    } else {
        let on = policy_by_id(state, &bundle, approval.policy_id).await?;
        match sod_conflict(state, user, &bundle, approval, &on).await? {
            None => Ok(()),
            Some(_) if state.store.sod_exemption(approval.policy_id, user.id).await?.is_some() => {
                exempted = true;
                Ok(())
            }
            Some((rule, message)) => Err(Refusal {
                code: "separation_of_duties",
                rule: Some(rule),
                message: sod_message(&message, &on),
            }),
        }
    };
    let revoke = if let Some(r) = settled {
        Err(r)
    } else if !(user.role.can_write() && (named || user.role.is_governance_admin())) {
        Err(not_approver(Outcome::Revoke))
    } else if !status.is_granted() {
        Err(refusal(
            "conflict",
            format!(
                "approval `{}` is {}, not granted; only a granted approval can be revoked",
                approval.name,
                status.as_str()
            ),
        ))
    } else {
        Ok(())
    };
    Ok(DecisionRights {
        named,
        judge,
        revoke,
        exempted,
    })
}

/// Validate the sign-off answers against the approval's form; when the outcome
/// grants, every required (visible) sign-off question must be answered.
fn check_signoff(
    on: &PolicyOnBundle,
    approval: &Approval,
    stage_answers: &charter_domain::policy::Answers,
    signoff: &serde_json::Map<String, serde_json::Value>,
    grants: bool,
) -> ApiResult<serde_json::Value> {
    let policy = &on.policy;
    let form = policy.approval(&approval.name).and_then(|a| a.evidence());
    let mut answers = stage_answers.clone();
    let mut out = serde_json::Map::new();
    for (key, value) in signoff {
        let input = form.and_then(|f| f.inputs().find(|i| i.id() == key)).ok_or_else(|| {
            let known: Vec<&str> = form.map(|f| f.inputs().map(|i| i.id()).collect()).unwrap_or_default();
            ApiError::invalid(if known.is_empty() {
                format!("signoff.{key}: approval `{}` has no sign-off form", approval.name)
            } else {
                format!(
                    "signoff.{key}: the sign-off form of `{}` has no question `{key}`; its questions are {}",
                    approval.name,
                    known.join(", ")
                )
            })
        })?;
        let value = charter_domain::policy::validate_answer(input, value).map_err(|e| {
            ApiError::invalid(format!("signoff.{key}: {e}")).with_details(json!({ "input_id": key, "code": e.code() }))
        })?;
        out.insert(key.clone(), value.to_json());
        answers.insert(key.clone(), value);
    }
    let eval = policy.evaluate(&answers);
    if let Some(hidden) = out.keys().find(|k| !eval.is_input_visible(k)) {
        return Err(ApiError::invalid(format!(
            "signoff.{hidden}: the question is hidden by the other answers, so it takes no answer; leave it out"
        )));
    }
    if grants
        && let Some(missing) = eval.missing_sign_off.get(&approval.name)
        && !missing.is_empty()
    {
        let labels: Vec<String> = missing
            .iter()
            .map(|id| {
                let label = policy.input(id).map_or("", |i| i.label());
                format!("`{label}` ({id})")
            })
            .collect();
        return Err(ApiError::invalid(format!(
            "signoff: fill the sign-off form of `{}` to approve; unanswered required question(s): {}",
            approval.name,
            labels.join(", ")
        ))
        .with_details(json!({ "missing_sign_off": missing })));
    }
    Ok(serde_json::Value::Object(out))
}

/// A new condition, checked; `index` names it in errors.
async fn check_condition(state: &AppState, index: usize, c: &NewCondition, now: Millis) -> ApiResult<ParsedCondition> {
    let field = |f: &str| format!("findings[{index}].{f}");
    let name = c.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid(format!(
            "{}: give the finding a name of 1 to 200 characters",
            field("name")
        )));
    }
    let severity = Severity::parse(c.severity.trim()).ok_or_else(|| {
        ApiError::invalid(format!(
            "{}: `{}` is not a severity; use low, medium, high or critical",
            field("severity"),
            c.severity
        ))
    })?;
    if c.due_date.trim().is_empty() {
        return Err(ApiError::invalid(format!(
            "{}: a condition needs a due date (the approval is revoked if the finding is unresolved by then)",
            field("due_date")
        )));
    }
    let due = parse_instant(&c.due_date).map_err(|e| ApiError::invalid(format!("{}: {e}", field("due_date"))))?;
    if due <= now {
        return Err(ApiError::invalid(format!(
            "{}: must be in the future",
            field("due_date")
        )));
    }
    let assignee = match c.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => Some(named_user(state, &field("assignee"), a).await?),
        None => None,
    };
    Ok(ParsedCondition {
        name: name.to_owned(),
        description: c.description.trim().to_owned(),
        severity,
        due,
        assignee,
    })
}

struct ParsedCondition {
    name: String,
    description: String,
    severity: Severity,
    due: Millis,
    assignee: Option<User>,
}

/// Decide an approval: approve, approve with conditions, reject or revoke.
pub async fn decide(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    approval: &Approval,
    d: Decision,
) -> ApiResult<Decided> {
    let now = now_ms();
    let outcome = d.outcome;
    let bundle = state.store.bundle(approval.bundle_id).await?;
    let named = is_named_approver(state, by, approval).await?;
    if !can_read_bundle(state, by, &bundle).await? {
        return Err(ApiError::not_found(format!("approval {} not found", approval.id)));
    }
    if bundle.state != BundleState::Active {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is {}; its approvals are settled",
            bundle.name,
            bundle.state.as_str()
        )));
    }
    let allowed = by.role.can_write() && (named || (outcome == Outcome::Revoke && by.role.is_governance_admin()));
    if !allowed {
        let who = if outcome == Outcome::Revoke {
            "its approvers and governance admins"
        } else {
            "its named approvers"
        };
        let message = if by.role.can_write() {
            format!(
                "only {who} may {} approval `{}`; you are not one of them (approvers: {})",
                outcome.as_str(),
                approval.name,
                approval
                    .approvers
                    .iter()
                    .map(|a| format!("{} {}", a.kind, a.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "viewers cannot decide approvals; `{}` needs an approver with the practitioner role or above",
                approval.name
            )
        };
        return Err(refuse(state, ctx, approval, outcome, "forbidden", "not_an_approver", message).await);
    }
    let status = approval.status;
    if outcome == Outcome::Revoke {
        if !status.is_granted() {
            return Err(ApiError::conflict(format!(
                "approval `{}` is {}, not granted; only a granted approval can be revoked",
                approval.name,
                status.as_str()
            )));
        }
    } else if !matches!(status, ApprovalStatus::Pending | ApprovalStatus::PendingExpiration) {
        let hint = if status.is_granted() {
            "it is already granted; revoke it first to decide again"
        } else {
            "request review first"
        };
        return Err(ApiError::conflict(format!(
            "approval `{}` is {}; {hint}",
            approval.name,
            status.as_str()
        )));
    }
    if d.version != approval.version {
        return Err(ApiError::conflict(format!(
            "approval `{}` changed since you loaded it (version {} → {}); reload it and decide again",
            approval.name, d.version, approval.version
        )));
    }
    let on = policy_by_id(state, &bundle, approval.policy_id).await?;
    let exemption = if outcome.judges() {
        separation_of_duties(state, ctx, by, &bundle, approval, &on, outcome).await?
    } else {
        None
    };

    let comment = d.comment.trim().to_owned();
    if matches!(outcome, Outcome::Reject | Outcome::Revoke) && comment.is_empty() {
        return Err(ApiError::invalid(format!(
            "comment: say why you {} `{}`; the team reads it",
            outcome.as_str(),
            approval.name
        )));
    }
    if comment.len() > 20_000 {
        return Err(ApiError::invalid("comment: at most 20,000 characters"));
    }
    let signoff = if outcome == Outcome::Revoke {
        if !d.signoff.is_empty() {
            return Err(ApiError::invalid("signoff: revoking takes no sign-off answers"));
        }
        None
    } else {
        let stored = state.store.latest_answers(bundle.id, approval.policy_id).await?;
        let stage_answers = domain_answers(&on.policy, &stored);
        Some(check_signoff(
            &on,
            approval,
            &stage_answers,
            &d.signoff,
            outcome.grants(),
        )?)
    };
    let expires_at = match d.expires_at.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        Some(_) if !outcome.grants() => {
            return Err(ApiError::invalid(
                "expires_at: only a decision that grants the approval can carry an expiry",
            ));
        }
        Some(text) => {
            let at = parse_instant(text).map_err(|e| ApiError::invalid(format!("expires_at: {e}")))?;
            if at <= now {
                return Err(ApiError::invalid("expires_at: must be in the future"));
            }
            Some(at)
        }
        None => None,
    };

    // Conditions.
    let has_findings = !d.findings.is_empty() || !d.finding_ids.is_empty();
    if outcome != Outcome::Conditional && has_findings {
        return Err(ApiError::invalid(
            "findings: only a conditional approval carries findings; log other findings with POST /bundles/{id}/findings",
        ));
    }
    if outcome == Outcome::Conditional && !has_findings {
        return Err(ApiError::invalid(
            "findings: a conditional approval needs at least one finding with a due date (new ones in `findings`, or existing ones in `finding_ids`)",
        ));
    }
    let mut new_conditions = Vec::new();
    for (i, c) in d.findings.iter().enumerate() {
        new_conditions.push(check_condition(state, i, c, now).await?);
    }
    let mut existing = Vec::new();
    for (i, id) in d.finding_ids.iter().enumerate() {
        let fid: FindingId = id
            .trim()
            .parse()
            .map_err(|e: charter_domain::id::IdError| ApiError::invalid(format!("finding_ids[{i}]: {e}")))?;
        let f = match state.store.finding(fid).await {
            Ok(f) => f,
            Err(StoreError::NotFound(_)) => {
                return Err(ApiError::invalid(format!(
                    "finding_ids[{i}]: there is no finding {fid}"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if f.bundle_id != bundle.id || f.policy_id != approval.policy_id {
            return Err(ApiError::invalid(format!(
                "finding_ids[{i}]: finding `{}` belongs to another bundle or policy",
                f.name
            )));
        }
        if !f.status.is_unresolved() {
            return Err(ApiError::invalid(format!(
                "finding_ids[{i}]: finding `{}` is {}; a condition must still be open",
                f.name,
                f.status.as_str()
            )));
        }
        if f.due_at.is_none() {
            return Err(ApiError::invalid(format!(
                "finding_ids[{i}]: finding `{}` has no due date; set one (PATCH /findings/{{id}}) before making it a condition",
                f.name
            )));
        }
        if f.approval_id.is_some_and(|a| a != approval.id) {
            return Err(ApiError::invalid(format!(
                "finding_ids[{i}]: finding `{}` is already a condition of another approval",
                f.name
            )));
        }
        if !existing.iter().any(|e: &Finding| e.id == f.id) {
            existing.push(f);
        }
    }

    let (to, action) = match outcome {
        Outcome::Approve => (ApprovalStatus::Approved, "approval.granted"),
        Outcome::Conditional => (ApprovalStatus::ConditionallyApproved, "approval.conditionally_granted"),
        Outcome::Reject => (ApprovalStatus::Rejected, "approval.rejected"),
        Outcome::Revoke => (ApprovalStatus::Revoked, "approval.revoked"),
    };

    let mut tx = state.store.begin().await?;
    charter_store::approval::lock_standing(&mut tx, bundle.id, approval.policy_id).await?;
    let mut conditions = Vec::new();
    for c in new_conditions {
        let f = charter_store::finding::create(
            &mut tx,
            ctx,
            NewFinding {
                bundle_id: bundle.id,
                policy_id: approval.policy_id,
                stage: approval.stage.clone(),
                approval_id: Some(approval.id),
                name: c.name,
                description: c.description,
                severity: c.severity,
                assignee_id: c.assignee.as_ref().map(|u| u.id),
                approver_id: Some(by.id),
                due_at: Some(c.due),
            },
            by,
        )
        .await?;
        if let Some(assignee) = &c.assignee {
            super::finding::finding_task(&mut tx, assignee.id, &f, "finding", "Resolve condition").await?;
        }
        conditions.push(f);
    }
    for f in existing {
        let linked = Finding {
            approval_id: Some(approval.id),
            ..f.clone()
        };
        conditions.push(charter_store::finding::update(&mut tx, ctx, &f, linked).await?);
    }
    let after = charter_store::approval::transition(
        &mut tx,
        ctx,
        approval,
        Transition {
            to,
            action,
            comment: Some(comment.clone()),
            signoff,
            expires_at: Some(if outcome.grants() { expires_at } else { None }),
            details: json!({
                "outcome": outcome.as_str(),
                "conditions": conditions.iter().map(|f| json!({
                    "finding_id": f.id.to_string(), "name": f.name, "due_at": f.due_at,
                })).collect::<Vec<_>>(),
                "sod_exemption": exemption.as_ref().map(|(e, rule)| json!({ "rule": rule, "reason": e.reason })),
            }),
        },
        Some(by),
    )
    .await
    .map_err(|e| match e {
        StoreError::Conflict(_) => ApiError::conflict(format!(
            "approval `{}` was decided by someone else meanwhile; reload it",
            approval.name
        )),
        other => other.into(),
    })?;
    charter_store::task::close_for(&mut tx, "approval", &approval.id.to_string()).await?;
    let mut also_revoked = Vec::new();
    if outcome == Outcome::Reject {
        let siblings: Vec<Approval> = state
            .store
            .approvals(bundle.id)
            .await?
            .into_iter()
            .filter(|a| {
                a.policy_id == approval.policy_id
                    && a.stage == approval.stage
                    && a.id != approval.id
                    && a.status.is_granted()
            })
            .collect();
        for s in siblings {
            let revoked = charter_store::approval::transition(
                &mut tx,
                ctx,
                &s,
                Transition {
                    to: ApprovalStatus::Revoked,
                    action: "approval.revoked",
                    comment: Some(format!(
                        "revoked because `{}` was rejected, which reopens stage `{}` for evidence",
                        approval.name, approval.stage
                    )),
                    signoff: None,
                    expires_at: None,
                    details: json!({ "reason": "stage_reopened", "rejected_approval_id": approval.id.to_string() }),
                },
                Some(by),
            )
            .await?;
            also_revoked.push(revoked);
        }
    }
    let mut changed = vec![after.clone()];
    changed.extend(also_revoked.iter().cloned());
    let current_stage = restand(state, &mut tx, ctx, &bundle, &on, &changed).await?;
    tx.commit().await?;
    Ok(Decided {
        approval: after,
        findings: conditions,
        also_revoked,
        current_stage,
    })
}

/// Add approvers to one approval of one bundle, where the policy allows it
/// (`allowAdditionalApprovers`). Names are users or groups. When the approval is
/// pending, the new approvers get tasks.
pub async fn add_approvers(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    approval: &Approval,
    names: &[String],
) -> ApiResult<Approval> {
    let bundle = state.store.bundle(approval.bundle_id).await?;
    let project = state.store.project(bundle.project_id).await?;
    if !by.role.is_governance_admin() {
        require(state, by, &project, Access::Write).await?;
    }
    if bundle.state != BundleState::Active {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is {}; its approvers are settled",
            bundle.name,
            bundle.state.as_str()
        )));
    }
    let on = policy_by_id(state, &bundle, approval.policy_id).await?;
    let allowed = on
        .policy
        .approval(&approval.name)
        .is_some_and(|a| a.allow_additional_approvers());
    if !allowed {
        return Err(ApiError::conflict(format!(
            "approval `{}` of policy `{}` does not allow additional approvers (the policy does not set allowAdditionalApprovers)",
            approval.name, on.stored.name
        )));
    }
    if names.is_empty() {
        return Err(ApiError::invalid("add: name at least one user or group"));
    }
    let mut approvers = approval.approvers.clone();
    let mut added = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let name = name.trim();
        let kind = match state.store.group_by_name(name).await {
            Ok(_) => "group",
            Err(StoreError::NotFound(_)) => match state.store.user_by_username(name).await {
                Ok(_) => "user",
                Err(StoreError::NotFound(_)) => {
                    return Err(ApiError::invalid(format!(
                        "add[{i}]: `{name}` is neither a user nor a group"
                    )));
                }
                Err(e) => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        };
        if approvers.iter().any(|a| a.kind == kind && a.name == name) {
            continue;
        }
        let r = ApproverRef {
            kind: kind.to_owned(),
            name: name.to_owned(),
            additional: true,
        };
        approvers.push(r.clone());
        added.push(r);
    }
    if added.is_empty() {
        return Ok(approval.clone());
    }
    let mut tx = state.store.begin().await?;
    let after = charter_store::approval::set_approvers(&mut tx, ctx, approval, approvers).await?;
    if after.status == ApprovalStatus::Pending {
        let users = approver_users(state, &added).await?;
        let title = format!(
            "Review `{}` (stage `{}`) of bundle `{}`: {} added you as an approver",
            after.name, after.stage, bundle.name, by.username
        );
        approval_tasks(&mut tx, &users, &after, &bundle, &title).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Exempt a user from separation of duties on a policy (admins; audited).
pub async fn grant_exemption(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    policy: &StoredPolicy,
    user: &str,
    reason: &str,
) -> ApiResult<SodExemption> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 2_000 {
        return Err(ApiError::invalid(
            "reason: say in 1 to 2,000 characters why this user may approve work they took part in",
        ));
    }
    let user = named_user(state, "user", user).await?;
    let mut tx = state.store.begin().await?;
    let e = charter_store::sod::grant(&mut tx, ctx, policy.id, &user, reason, by).await?;
    tx.commit().await?;
    Ok(e)
}

/// End an exemption (admins; audited).
pub async fn revoke_exemption(
    state: &AppState,
    ctx: &AuditContext,
    policy: &StoredPolicy,
    user: &str,
) -> ApiResult<()> {
    let user = find_user(state, user).await?;
    let mut tx = state.store.begin().await?;
    charter_store::sod::revoke(&mut tx, ctx, policy.id, &user).await?;
    tx.commit().await?;
    Ok(())
}

/// Every username by user id, for responses.
pub async fn usernames(state: &AppState) -> ApiResult<std::collections::HashMap<UserId, String>> {
    Ok(state
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect())
}
