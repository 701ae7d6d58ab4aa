//! What a bundle looks like to the people working on it: the listing
//! ([`list_for`], [`summary`]), the evidence notebook ([`notebook`]) and one answer's
//! history ([`history`]). Read-only; every flag shown here (visible, frozen, open,
//! missing, compliant) comes from the same rules that answering enforces.

use std::collections::{BTreeMap, HashMap};

use charter_domain::policy::{EvidenceSet, Input, Policy};
use charter_domain::time::rfc3339;
use charter_domain::{PolicyId, UserId};
use charter_store::approval::Approval;
use charter_store::bundle::{Answer, Attachment, Bundle, BundleState};
use charter_store::project::Project;
use charter_store::user::User;
use serde::Serialize;

use super::super::project::{Access, readable, require};
use super::super::{domain_answers, parsed};
use super::{current_stage, is_compliant, stage_closed};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Where one policy stands on a bundle.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyStanding {
    /// `pol_…`.
    pub policy_id: String,
    pub policy: String,
    pub version: i64,
    /// `pov_…`.
    pub version_id: String,
    pub current_stage: String,
    pub classification: Option<String>,
    /// Every approval of the policy is granted.
    pub compliant: bool,
}

/// A bundle in a listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BundleSummary {
    /// `bdl_…`.
    pub id: String,
    /// `prj_…`.
    pub project_id: String,
    pub project: String,
    pub name: String,
    pub description: String,
    /// `active`, `complete` or `archived`.
    pub state: String,
    /// The bundle this one was copied from, `bdl_…`.
    pub copied_from: Option<String>,
    /// `usr_…`.
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// All its policies are compliant.
    pub compliant: bool,
    pub policies: Vec<PolicyStanding>,
}

/// A bundle by reference.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BundleRef {
    /// `bdl_…`.
    pub id: String,
    pub name: String,
}

/// The evidence notebook of a bundle: per policy, per stage, every question with
/// its latest answer, and the approvals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notebook {
    /// `bdl_…`.
    pub id: String,
    /// `prj_…`.
    pub project_id: String,
    pub project: String,
    pub name: String,
    pub description: String,
    /// `active`, `complete` or `archived` (the last two freeze the evidence).
    pub state: String,
    pub copied_from: Option<BundleRef>,
    /// `usr_…`.
    pub created_by: String,
    pub created_by_name: String,
    pub created_at: String,
    pub updated_at: String,
    /// All its policies are compliant.
    pub compliant: bool,
    /// Answers still carried over from the bundle this one was copied from
    /// (confirm or edit each).
    pub carried_over: usize,
    pub policies: Vec<NotebookPolicy>,
    pub attachments: Vec<AttachmentView>,
}

/// One policy of a notebook.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotebookPolicy {
    /// `pol_…`.
    pub policy_id: String,
    pub name: String,
    pub version: i64,
    /// `pov_…`.
    pub version_id: String,
    /// The classification computed from the answers now (none when the policy has
    /// no CEL rule, or the rule produced nothing).
    pub classification: Option<String>,
    /// The answers the classification rule reads.
    pub classification_inputs: Vec<ClassificationInputView>,
    pub current_stage: String,
    /// Every approval of the policy is granted.
    pub compliant: bool,
    /// Input ids of shown, enabled, required questions without an answer.
    pub missing_required: Vec<String>,
    pub stages: Vec<NotebookStage>,
}

/// One answer the classification rule reads.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClassificationInputView {
    /// `aliasForClassification`.
    pub alias: String,
    pub input_id: String,
    pub label: String,
    /// The answer, if given.
    #[schema(value_type = Option<Object>)]
    pub value: Option<serde_json::Value>,
}

/// One stage of a policy in a notebook.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotebookStage {
    pub name: String,
    /// The policy's current stage.
    pub current: bool,
    /// Takes answers now.
    pub open: bool,
    /// Why not, when it does not (frozen by an approval, or sequential order).
    pub closed_reason: Option<String>,
    pub evidence_sets: Vec<NotebookSet>,
    pub approvals: Vec<NotebookApproval>,
    /// Username of the person assigned to work on the stage, if any.
    pub assignee: Option<String>,
}

/// An evidence set (or an approval's sign-off form).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotebookSet {
    /// The evidence-set id from the policy (`Local.intake`).
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Shown by its visibility conditions.
    pub visible: bool,
    /// Guidance text shown with the set.
    pub guidance: Vec<String>,
    pub inputs: Vec<NotebookInput>,
    /// Everything the set shows, in the policy's order: questions (by id, see
    /// `inputs`), guidance (text block or banner), model-metric checks and scripted
    /// or monitoring checks. Forms are laid out from this.
    pub items: Vec<SetItem>,
}

/// One element of an evidence set, in order.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SetItem {
    /// A question; its details are in the set's `inputs`.
    Input {
        /// The input id.
        id: String,
    },
    /// Text for the person answering (Markdown).
    Guidance {
        /// `textblock` (in the flow of questions) or `banner` (a high-visibility notice).
        style: String,
        text: String,
    },
    /// Model metrics compared with thresholds; the values come from the model
    /// version attached to the bundle.
    ModelMetrics {
        id: Option<String>,
        label: Option<String>,
        metrics: Vec<MetricView>,
    },
    /// A scripted check (run as a job) or a monitoring check (alerts).
    Check {
        /// `scripted` or `monitoring`.
        check: String,
        id: Option<String>,
        label: Option<String>,
    },
}

/// One metric of a model-metrics check.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MetricView {
    pub name: String,
    pub label: Option<String>,
    /// The threshold a value must pass, e.g. `>= 0.8`; none when the value is only shown.
    pub threshold: Option<String>,
}

/// One option of a choice question.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OptionView {
    pub label: String,
    /// What is stored as the answer.
    pub value: String,
}

/// One question with its latest answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotebookInput {
    /// The stable input id answers are stored under.
    pub id: String,
    pub label: String,
    /// `textinput`, `textarea`, `radio`, `select`, `multiselect`, `checkbox`, `date`,
    /// `numeric` or `file` (answered with an attachment id).
    #[serde(rename = "type")]
    pub input_type: String,
    /// `aliasForClassification`, if any.
    pub alias: Option<String>,
    pub options: Vec<OptionView>,
    pub required: bool,
    pub disabled: bool,
    /// Shown by the answers so far (a hidden question takes no answer and is not required).
    pub visible: bool,
    /// Required, shown, enabled and unanswered.
    pub missing: bool,
    /// Help text (or the description, or the tooltip).
    pub help: Option<String>,
    pub placeholder: Option<String>,
    /// Rows of a text area, when the policy says (`height`).
    pub height: Option<u32>,
    /// For numeric questions.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The latest answer.
    #[schema(value_type = Option<Object>)]
    pub value: Option<serde_json::Value>,
    /// `ans_…` of the latest revision.
    pub answer_id: Option<String>,
    pub revision: Option<i64>,
    /// `usr_…`.
    pub answered_by: Option<String>,
    pub answered_by_name: Option<String>,
    pub answered_at: Option<String>,
    /// Copied from another bundle and not yet confirmed or edited.
    pub carried_over: bool,
    /// Where a copied answer came from: `bundle:<id>/answer:<id>/revision:<n>`.
    pub carried_from: Option<String>,
}

/// Someone who may decide an approval.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApproverView {
    /// `user` or `group`.
    pub kind: String,
    pub name: String,
    /// Added for this bundle only.
    pub additional: bool,
}

/// One approval of a stage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NotebookApproval {
    /// `apr_…`.
    pub id: String,
    pub name: String,
    /// `not_requested`, `pending`, `approved`, `conditionally_approved`, `rejected`,
    /// `revoked`, `pending_expiration` or `expired`.
    pub status: String,
    pub granted: bool,
    pub approvers: Vec<ApproverView>,
    pub requested_at: Option<String>,
    pub decided_at: Option<String>,
    /// `usr_…`.
    pub decided_by: Option<String>,
    pub expires_at: Option<String>,
    /// The sign-off form approvers fill, if the policy has one.
    pub sign_off: Option<NotebookSet>,
}

/// An attachment of a bundle.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttachmentView {
    /// `att_…`.
    pub id: String,
    /// `bdl_…`.
    pub bundle_id: String,
    /// `model_version`, `app`, `report`, `check_result`, `telemetry` or `file`.
    pub kind: String,
    pub name: String,
    /// What it points at (`{"model": "helpbot", "version": 3}`); for uploads, the
    /// file name and content type.
    #[schema(value_type = Object)]
    pub reference: serde_json::Value,
    /// Hex SHA-256 of uploaded content.
    pub sha256: Option<String>,
    /// Bytes of uploaded content.
    pub size: Option<i64>,
    /// Where to download uploaded content (relative to the API root).
    pub content_url: Option<String>,
    /// `bundle:<id>/attachment:<id>` when copied from another bundle.
    pub copied_from: Option<String>,
    /// The finding this file supports (`fnd_…`), when it was uploaded to a finding.
    pub finding_id: Option<String>,
    /// `usr_…`.
    pub created_by: String,
    pub created_at: String,
}

impl From<&Attachment> for AttachmentView {
    fn from(a: &Attachment) -> Self {
        let reference: serde_json::Value = serde_json::from_str(&a.reference).unwrap_or(serde_json::Value::Null);
        Self {
            finding_id: reference
                .get(super::attachment::FINDING_KEY)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            id: a.id.to_string(),
            bundle_id: a.bundle_id.to_string(),
            kind: a.kind.clone(),
            name: a.name.clone(),
            reference,
            sha256: a.sha256.clone(),
            size: a.size,
            content_url: a
                .blob_key
                .as_ref()
                .map(|_| format!("/bundles/{}/attachments/{}/content", a.bundle_id, a.id)),
            copied_from: a.copied_from.clone(),
            created_by: a.created_by.to_string(),
            created_at: rfc3339(a.created_at),
        }
    }
}

/// One revision of an answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnswerRevision {
    /// `ans_…`.
    pub answer_id: String,
    pub revision: i64,
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    pub stage: String,
    /// `usr_…`.
    pub answered_by: String,
    pub answered_by_name: String,
    pub answered_at: String,
    pub carried_over: bool,
    pub carried_from: Option<String>,
}

/// Every revision of one answer, oldest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AnswerHistory {
    /// `bdl_…`.
    pub bundle_id: String,
    /// `pol_…`.
    pub policy_id: String,
    pub input_id: String,
    pub label: String,
    pub revisions: Vec<AnswerRevision>,
}

/// Usernames by user id, for showing who answered.
async fn usernames(state: &AppState) -> ApiResult<HashMap<UserId, String>> {
    Ok(state
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| (u.id, u.username))
        .collect())
}

/// A bundle's standing, for listings: each policy's version, current stage (from
/// its approvals now), classification (as of the last save) and compliance.
pub async fn summary(state: &AppState, bundle: &Bundle, project: &Project) -> ApiResult<BundleSummary> {
    let approvals = state.store.approvals(bundle.id).await?;
    let mut policies = Vec::new();
    for bp in state.store.bundle_policies(bundle.id).await? {
        let stored = state.store.policy(bp.policy_id).await?;
        let version = state.store.policy_version(bp.policy_version_id).await?;
        let mine: Vec<Approval> = approvals
            .iter()
            .filter(|a| a.policy_id == bp.policy_id)
            .cloned()
            .collect();
        let policy = parsed(state, &version)?;
        policies.push(PolicyStanding {
            policy_id: bp.policy_id.to_string(),
            policy: stored.name,
            version: version.version,
            version_id: version.id.to_string(),
            current_stage: current_stage(&policy, &mine),
            classification: bp.classification,
            compliant: is_compliant(&mine),
        });
    }
    Ok(BundleSummary {
        id: bundle.id.to_string(),
        project_id: project.id.to_string(),
        project: project.name.clone(),
        name: bundle.name.clone(),
        description: bundle.description.clone(),
        state: bundle.state.as_str().to_owned(),
        copied_from: bundle.copied_from.map(|b| b.to_string()),
        created_by: bundle.created_by.to_string(),
        created_at: rfc3339(bundle.created_at),
        updated_at: rfc3339(bundle.updated_at),
        compliant: policies.iter().all(|p| p.compliant),
        policies,
    })
}

/// Which bundles to list. Text as it arrives in a query string; empty means "any".
#[derive(Debug, Clone, Default)]
pub struct BundleFilter {
    /// A project, by id or name.
    pub project: Option<String>,
    /// `active`, `complete` or `archived`.
    pub state: Option<String>,
    /// A policy the bundle follows, by id or name.
    pub policy: Option<String>,
    /// A current stage (of the named policy, or of any of the bundle's policies).
    pub stage: Option<String>,
    /// A classification (of the named policy, or of any); `none` for unclassified.
    pub classification: Option<String>,
}

fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|s| !s.is_empty())
}

/// The bundles `user` may read (all for governance admins, otherwise those of their
/// projects), newest first; optionally in one project (id or name) and one state.
pub async fn list_for(
    state: &AppState,
    user: &User,
    project: Option<&str>,
    in_state: Option<&str>,
) -> ApiResult<Vec<BundleSummary>> {
    let filter = BundleFilter {
        project: project.map(str::to_owned),
        state: in_state.map(str::to_owned),
        ..BundleFilter::default()
    };
    list_filtered(state, user, &filter).await
}

/// The bundles `user` may read that match `filter`, newest first. Each problem with
/// the filter names its parameter.
pub async fn list_filtered(state: &AppState, user: &User, filter: &BundleFilter) -> ApiResult<Vec<BundleSummary>> {
    Ok(list_page(state, user, filter, 0, usize::MAX).await?.0)
}

/// One page of [`list_filtered`]: `limit` bundles after skipping `offset`, and
/// whether more follow. Bundles are matched on the standing recorded with every
/// change (`bundle_policies`, read in one query, as the dashboard counts them),
/// so only the bundles of the page are summarized.
pub async fn list_page(
    state: &AppState,
    user: &User,
    filter: &BundleFilter,
    offset: usize,
    limit: usize,
) -> ApiResult<(Vec<BundleSummary>, bool)> {
    let wanted_state = match given(filter.state.as_deref()) {
        None => None,
        Some(s) => Some(
            BundleState::parse(s)
                .ok_or_else(|| ApiError::invalid(format!("state: `{s}` must be active, complete or archived")))?,
        ),
    };
    let only = match given(filter.project.as_deref()) {
        None => None,
        Some(p) => {
            let p = match super::super::project::find(state, p).await {
                Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
                    return Err(ApiError::invalid(format!("project: there is no project `{p}`")));
                }
                other => other?,
            };
            require(state, user, &p, Access::Read).await?;
            Some(p)
        }
    };
    let policy = match given(filter.policy.as_deref()) {
        None => None,
        Some(p) => Some(match super::super::policy::find(state, p).await {
            Err(e) if e.status == axum::http::StatusCode::NOT_FOUND => {
                return Err(ApiError::invalid(format!("policy: there is no policy `{p}`")));
            }
            other => other?.id,
        }),
    };
    let stage = given(filter.stage.as_deref());
    let classification = given(filter.classification.as_deref());
    let by_standing = policy.is_some() || stage.is_some() || classification.is_some();
    let mut standings: HashMap<charter_domain::BundleId, Vec<charter_store::bundle::BundlePolicy>> = HashMap::new();
    if by_standing {
        for bp in state.store.all_bundle_policies().await? {
            standings.entry(bp.bundle_id).or_default().push(bp);
        }
    }
    let standing_matches = |bp: &charter_store::bundle::BundlePolicy| {
        policy.is_none_or(|id| id == bp.policy_id)
            && stage.is_none_or(|st| st == bp.current_stage)
            && classification.is_none_or(|c| match &bp.classification {
                Some(have) => have.eq_ignore_ascii_case(c),
                None => c.eq_ignore_ascii_case("none"),
            })
    };
    let allowed = readable(state, user).await?;
    let projects: HashMap<_, _> = state.store.projects().await?.into_iter().map(|p| (p.id, p)).collect();
    let mut matched = 0usize;
    let mut out = Vec::new();
    let mut more = false;
    for bundle in state.store.bundles(only.as_ref().map(|p| p.id)).await? {
        if allowed.as_ref().is_some_and(|ids| !ids.contains(&bundle.project_id))
            || wanted_state.is_some_and(|s| s != bundle.state)
            || (by_standing
                && !standings
                    .get(&bundle.id)
                    .is_some_and(|bps| bps.iter().any(standing_matches)))
        {
            continue;
        }
        let Some(project) = projects.get(&bundle.project_id) else {
            continue;
        };
        matched += 1;
        if matched <= offset {
            continue;
        }
        if out.len() == limit {
            more = true;
            break;
        }
        out.push(summary(state, &bundle, project).await?);
    }
    Ok((out, more))
}

fn input_view(
    input: &Input,
    eval: &charter_domain::policy::Evaluation,
    answer: Option<&Answer>,
    names: &HashMap<UserId, String>,
) -> NotebookInput {
    let help = input
        .help_text()
        .or(input.description())
        .or(input.tooltip())
        .map(str::to_owned);
    NotebookInput {
        id: input.id().to_owned(),
        label: input.label().to_owned(),
        input_type: input.input_type().as_str().to_owned(),
        alias: input.alias().map(str::to_owned),
        options: input
            .options()
            .iter()
            .map(|o| OptionView {
                label: o.label.clone(),
                value: o.value.clone(),
            })
            .collect(),
        required: input.required(),
        disabled: input.disabled(),
        visible: eval.is_input_visible(input.id()),
        missing: eval.missing_required.iter().any(|m| m == input.id())
            || eval.missing_sign_off.values().flatten().any(|m| m == input.id()),
        help,
        placeholder: input.placeholder().map(str::to_owned),
        height: input.height(),
        min: input.min(),
        max: input.max(),
        value: answer.map(|a| a.value.clone()),
        answer_id: answer.map(|a| a.id.to_string()),
        revision: answer.map(|a| a.revision),
        answered_by: answer.map(|a| a.answered_by.to_string()),
        answered_by_name: answer.and_then(|a| names.get(&a.answered_by).cloned()),
        answered_at: answer.map(|a| rfc3339(a.answered_at)),
        carried_over: answer.is_some_and(|a| a.carried_over),
        carried_from: answer.and_then(|a| a.carried_from.clone()),
    }
}

fn set_view(
    set: &EvidenceSet,
    eval: &charter_domain::policy::Evaluation,
    answers: &BTreeMap<String, Answer>,
    names: &HashMap<UserId, String>,
) -> NotebookSet {
    NotebookSet {
        id: set.id().to_owned(),
        name: set.name().to_owned(),
        description: set.description().map(str::to_owned),
        visible: eval.is_set_visible(set.id()),
        guidance: set
            .artifacts()
            .iter()
            .filter_map(|a| match a {
                charter_domain::policy::Artifact::Guidance(g) => Some(g.text().to_owned()),
                _ => None,
            })
            .collect(),
        inputs: set
            .inputs()
            .map(|i| input_view(i, eval, answers.get(i.id()), names))
            .collect(),
        items: set.artifacts().iter().map(set_item).collect(),
    }
}

fn set_item(artifact: &charter_domain::policy::Artifact) -> SetItem {
    use charter_domain::policy::{Artifact, GuidanceStyle};
    match artifact {
        Artifact::Input(i) => SetItem::Input { id: i.id().to_owned() },
        Artifact::Guidance(g) => SetItem::Guidance {
            style: match g.style() {
                GuidanceStyle::TextBlock => "textblock",
                GuidanceStyle::Banner => "banner",
            }
            .to_owned(),
            text: g.text().to_owned(),
        },
        Artifact::ModelMetrics(m) => SetItem::ModelMetrics {
            id: artifact.id().map(str::to_owned),
            label: m.label().map(str::to_owned),
            metrics: m
                .metrics()
                .iter()
                .map(|c| MetricView {
                    name: c.name().to_owned(),
                    label: c.label().map(str::to_owned),
                    threshold: c.threshold().map(|t| format!("{} {}", t.operator.as_str(), t.value)),
                })
                .collect(),
        },
        Artifact::ScriptedCheck(c) => SetItem::Check {
            check: "scripted".into(),
            id: artifact.id().map(str::to_owned),
            label: c.label().or(c.name()).map(str::to_owned),
        },
        Artifact::MonitoringCheck(c) => SetItem::Check {
            check: "monitoring".into(),
            id: artifact.id().map(str::to_owned),
            label: c.label().or(c.name()).map(str::to_owned),
        },
    }
}

fn policy_view(
    stored_name: &str,
    version: &charter_store::policy::PolicyVersion,
    policy_id: PolicyId,
    policy: &Policy,
    approvals: &[Approval],
    answers: &BTreeMap<String, Answer>,
    names: &HashMap<UserId, String>,
) -> NotebookPolicy {
    let eval = policy.evaluate(&domain_answers(policy, answers));
    let current = current_stage(policy, approvals);
    let stages = policy
        .stages()
        .iter()
        .map(|stage| {
            let closed = stage_closed(policy, approvals, stage.name());
            NotebookStage {
                name: stage.name().to_owned(),
                current: stage.name() == current,
                open: closed.is_none(),
                closed_reason: closed,
                assignee: None,
                evidence_sets: stage
                    .evidence_sets()
                    .iter()
                    .map(|set| set_view(set, &eval, answers, names))
                    .collect(),
                approvals: stage
                    .approvals()
                    .iter()
                    .filter_map(|a| {
                        let row = approvals
                            .iter()
                            .find(|r| r.stage == stage.name() && r.name == a.name())?;
                        Some(NotebookApproval {
                            id: row.id.to_string(),
                            name: row.name.clone(),
                            status: row.status.as_str().to_owned(),
                            granted: row.status.is_granted(),
                            approvers: row
                                .approvers
                                .iter()
                                .map(|r| ApproverView {
                                    kind: r.kind.clone(),
                                    name: r.name.clone(),
                                    additional: r.additional,
                                })
                                .collect(),
                            requested_at: row.requested_at.map(rfc3339),
                            decided_at: row.decided_at.map(rfc3339),
                            decided_by: row.decided_by.map(|u| u.to_string()),
                            expires_at: row.expires_at.map(rfc3339),
                            sign_off: a.evidence().map(|set| set_view(set, &eval, answers, names)),
                        })
                    })
                    .collect(),
            }
        })
        .collect();
    NotebookPolicy {
        policy_id: policy_id.to_string(),
        name: stored_name.to_owned(),
        version: version.version,
        version_id: version.id.to_string(),
        classification: eval.classification.clone(),
        classification_inputs: eval
            .classification_inputs
            .iter()
            .map(|ci| ClassificationInputView {
                alias: ci.alias.clone(),
                input_id: ci.input_id.clone(),
                label: policy
                    .input(&ci.input_id)
                    .map(|i| i.label().to_owned())
                    .unwrap_or_default(),
                value: ci.value.as_ref().map(|v| v.to_json()),
            })
            .collect(),
        current_stage: current,
        compliant: is_compliant(approvals),
        missing_required: eval.missing_required.clone(),
        stages,
    }
}

/// The evidence notebook of a bundle, for someone who may read its project.
pub async fn notebook(state: &AppState, user: &User, bundle: &Bundle) -> ApiResult<Notebook> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, user, &project, Access::Read).await?;
    let names = usernames(state).await?;
    let approvals = state.store.approvals(bundle.id).await?;
    let assignees = state.store.stage_assignees(bundle.id).await?;
    let mut policies = Vec::new();
    let mut carried_over = 0;
    for bp in state.store.bundle_policies(bundle.id).await? {
        let stored = state.store.policy(bp.policy_id).await?;
        let version = state.store.policy_version(bp.policy_version_id).await?;
        let policy = parsed(state, &version)?;
        let answers = state.store.latest_answers(bundle.id, bp.policy_id).await?;
        carried_over += answers.values().filter(|a| a.carried_over).count();
        let mine: Vec<Approval> = approvals
            .iter()
            .filter(|a| a.policy_id == bp.policy_id)
            .cloned()
            .collect();
        let mut view = policy_view(&stored.name, &version, bp.policy_id, &policy, &mine, &answers, &names);
        for stage in &mut view.stages {
            stage.assignee = assignees
                .iter()
                .find(|a| a.policy_id == bp.policy_id && a.stage == stage.name)
                .and_then(|a| names.get(&a.user_id).cloned());
        }
        policies.push(view);
    }
    let copied_from = match bundle.copied_from {
        Some(id) => Some(BundleRef {
            id: id.to_string(),
            name: match state.store.bundle(id).await {
                Ok(b) => b.name,
                Err(charter_store::StoreError::NotFound(_)) => String::new(),
                Err(e) => return Err(e.into()),
            },
        }),
        None => None,
    };
    Ok(Notebook {
        id: bundle.id.to_string(),
        project_id: project.id.to_string(),
        project: project.name,
        name: bundle.name.clone(),
        description: bundle.description.clone(),
        state: bundle.state.as_str().to_owned(),
        copied_from,
        created_by: bundle.created_by.to_string(),
        created_by_name: names.get(&bundle.created_by).cloned().unwrap_or_default(),
        created_at: rfc3339(bundle.created_at),
        updated_at: rfc3339(bundle.updated_at),
        compliant: policies.iter().all(|p| p.compliant),
        carried_over,
        policies,
        attachments: state
            .store
            .attachments(bundle.id)
            .await?
            .iter()
            .map(AttachmentView::from)
            .collect(),
    })
}

/// Every revision of one answer (`input_ref` is an input id or alias), oldest
/// first, for someone who may read the bundle's project.
pub async fn history(
    state: &AppState,
    user: &User,
    bundle: &Bundle,
    policy_ref: &str,
    input_ref: &str,
) -> ApiResult<AnswerHistory> {
    let project = state.store.project(bundle.project_id).await?;
    require(state, user, &project, Access::Read).await?;
    let (bp, _version, policy) = super::bundle_policy(state, bundle, policy_ref).await?;
    let input = policy
        .input(input_ref)
        .or_else(|| policy.input_by_alias(input_ref))
        .ok_or_else(|| ApiError::not_found(format!("the policy has no question `{input_ref}`")))?;
    let names = usernames(state).await?;
    let revisions = state
        .store
        .answer_history(bundle.id, bp.policy_id, input.id())
        .await?
        .into_iter()
        .map(|a| AnswerRevision {
            answer_id: a.id.to_string(),
            revision: a.revision,
            value: a.value,
            stage: a.stage,
            answered_by: a.answered_by.to_string(),
            answered_by_name: names.get(&a.answered_by).cloned().unwrap_or_default(),
            answered_at: rfc3339(a.answered_at),
            carried_over: a.carried_over,
            carried_from: a.carried_from,
        })
        .collect();
    Ok(AnswerHistory {
        bundle_id: bundle.id.to_string(),
        policy_id: bp.policy_id.to_string(),
        input_id: input.id().to_owned(),
        label: input.label().to_owned(),
        revisions,
    })
}
