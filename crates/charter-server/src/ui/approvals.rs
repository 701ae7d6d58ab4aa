//! The approval view, `/approvals/{id}`: what the approver must check (the
//! stage's evidence, the bundle's attachments, the stage's findings), the
//! sign-off form, and the decision — approve, approve with conditions (existing
//! findings picked, or new ones with due dates written inline), reject, revoke.
//!
//! The page offers only the decisions [`review::decision_rights`] says will be
//! accepted, and explains the others in words: separation of duties in a
//! sentence ("You created this bundle, so you cannot approve its stages"), with
//! the API's own message beneath. A refusal that happens anyway (the page was
//! stale) is explained the same way, from the API's error.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use charter_domain::time::now_ms;
use charter_store::approval::Approval;
use serde::Deserialize;

use super::notebook::AttachmentRow;
use super::present;
use super::{FormErrors, Layout, SignedIn, UiError, When, form_problem, page_with_status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::governance::bundle::notebook::{NotebookInput, NotebookSet};
use crate::governance::finding::{self, FindingFilter};
use crate::governance::review::{self, Decision, DecisionRights, NewCondition, Outcome};
use crate::governance::{bundle, project};
use crate::state::AppState;

/// How many new findings the form offers at once (more can follow in another
/// decision or on the bundle page).
const CONDITION_ROWS: usize = 3;

/// A separation-of-duties refusal in a sentence a person reads first; the API's
/// own message follows it on the page.
pub fn sod_sentence(rule: Option<&str>) -> &'static str {
    match rule {
        Some("separation_of_duties.creator") => {
            "You created this bundle, so you cannot approve its stages. Separation of duties asks someone who did not \
             start the work to judge it."
        }
        Some("separation_of_duties.answered_evidence") => {
            "You answered evidence in this stage, so you cannot approve it. Separation of duties asks someone who did \
             not prepare the evidence to judge it."
        }
        _ => "Separation of duties keeps you from deciding this approval.",
    }
}

/// A refusal as the page explains it.
pub struct RefusalView {
    /// The sentence to read first (separation of duties), if any.
    sentence: Option<&'static str>,
    /// The API's words.
    message: String,
}

/// A question of the stage's evidence with its answer.
pub struct EvidenceRow {
    label: String,
    answer: Option<String>,
    by: Option<String>,
    carried: bool,
}

/// An evidence set of the stage, as the approver reads it.
pub struct EvidenceSetView {
    name: String,
    rows: Vec<EvidenceRow>,
}

/// A question of the sign-off form.
pub struct SignoffField {
    dom: String,
    id: String,
    label: String,
    widget: &'static str,
    required: bool,
    /// Shown by the answers so far; the others apply only to some answers.
    conditional: bool,
    help: Option<String>,
    text: String,
    choices: Vec<(String, String, bool)>,
    error: Option<String>,
}

/// A finding that can become a condition, or cannot and says why.
pub struct ExistingFinding {
    id: String,
    name: String,
    severity: String,
    due: Option<When>,
    /// Why it cannot be a condition; `None` when it can.
    unavailable: Option<&'static str>,
    checked: bool,
}

/// One new finding of a conditional approval, as typed.
#[derive(Default, Clone)]
pub struct ConditionRow {
    index: usize,
    name: String,
    severity: String,
    due: String,
    assignee: String,
    description: String,
    errors: HashMap<&'static str, String>,
}

impl ConditionRow {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }

    fn is_empty(&self) -> bool {
        self.name.trim().is_empty() && self.due.trim().is_empty() && self.description.trim().is_empty()
    }
}

/// A finding of the stage, listed for the approver.
pub struct StageFinding {
    id: String,
    name: String,
    severity: String,
    severity_label: &'static str,
    status: String,
    status_label: &'static str,
    due: Option<When>,
    overdue: bool,
    condition: bool,
}

#[derive(Template)]
#[template(path = "approval/page.html")]
pub struct ApprovalPage {
    layout: Layout,
    id: String,
    name: String,
    status: String,
    status_label: &'static str,
    version: i64,
    bundle_id: String,
    bundle_name: String,
    project: String,
    policy: String,
    stage: String,
    stage_href: String,
    approvers: String,
    requested: Option<(String, When)>,
    decided: Option<(String, When)>,
    comment: String,
    expires: Option<When>,
    signoff_given: Vec<(String, String)>,
    evidence: Vec<EvidenceSetView>,
    attachments: Vec<AttachmentRow>,
    findings: Vec<StageFinding>,
    named: bool,
    exempted: bool,
    may_judge: bool,
    judge_refusal: Option<RefusalView>,
    may_revoke: bool,
    signoff: Vec<SignoffField>,
    existing: Vec<ExistingFinding>,
    conditions: Vec<ConditionRow>,
    assignees: Vec<String>,
    severities: [&'static str; 4],
    // The decision form as typed (after an error).
    outcome: String,
    comment_typed: String,
    expires_typed: String,
    errors: FormErrors,
    /// A refusal of the decision just tried.
    refused: Option<RefusalView>,
    revoke_error: Option<String>,
    notice: Option<&'static str>,
}

fn widget(input_type: &str) -> &'static str {
    match input_type {
        "textarea" => "textarea",
        "radio" => "radio",
        "select" => "select",
        "multiselect" | "checkbox" => "checkbox",
        "date" => "date",
        "numeric" => "number",
        _ => "text",
    }
}

fn signoff_fields(form: Option<&NotebookSet>, typed: &HashMap<String, Vec<String>>) -> Vec<SignoffField> {
    let Some(form) = form else { return Vec::new() };
    form.inputs
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let values = typed.get(&i.id).cloned().unwrap_or_default();
            SignoffField {
                dom: format!("so{n}"),
                id: i.id.clone(),
                label: i.label.clone(),
                widget: widget(&i.input_type),
                required: i.required,
                conditional: !i.visible,
                help: i.help.clone(),
                text: values.first().cloned().unwrap_or_default(),
                choices: i
                    .options
                    .iter()
                    .map(|o| (o.value.clone(), o.label.clone(), values.contains(&o.value)))
                    .collect(),
                error: None,
            }
        })
        .collect()
}

fn evidence_rows(set: &NotebookSet, nb: &crate::governance::bundle::notebook::Notebook) -> EvidenceSetView {
    EvidenceSetView {
        name: set.name.clone(),
        rows: set
            .inputs
            .iter()
            .filter(|i| i.visible)
            .map(|i: &NotebookInput| EvidenceRow {
                label: i.label.clone(),
                answer: i
                    .value
                    .as_ref()
                    .map(|v| present::answer_text(i, v, &nb.attachments))
                    .filter(|t| !t.trim().is_empty()),
                by: i.answered_by_name.clone(),
                carried: i.carried_over,
            })
            .collect(),
    }
}

/// The approval `id`, for someone who may read its bundle (404 otherwise).
async fn readable(state: &AppState, caller: &Caller, id: &str) -> Result<Approval, UiError> {
    let approval = review::find(state, id).await?;
    let b = state.store.bundle(approval.bundle_id).await.map_err(ApiError::from)?;
    if !review::can_read_bundle(state, &caller.user, &b).await? {
        return Err(UiError::not_found(format!("approval {id} not found")));
    }
    Ok(approval)
}

fn refusal_view(r: &review::Refusal) -> RefusalView {
    RefusalView {
        sentence: (r.code == "separation_of_duties").then(|| sod_sentence(r.rule)),
        message: r.message.clone(),
    }
}

impl ApprovalPage {
    async fn build(state: &AppState, caller: &Caller, approval: &Approval) -> Result<Self, UiError> {
        let b = state.store.bundle(approval.bundle_id).await.map_err(ApiError::from)?;
        let nb = bundle::notebook(state, &caller.user, &b).await?;
        let rights: DecisionRights = review::decision_rights(state, &caller.user, approval).await?;
        let names = review::usernames(state).await?;
        let name_of = |id: Option<charter_domain::UserId>| id.map(|u| names.get(&u).cloned().unwrap_or_default());
        let policy = nb
            .policies
            .iter()
            .find(|p| p.policy_id == approval.policy_id.to_string());
        let stage = policy.and_then(|p| p.stages.iter().find(|s| s.name == approval.stage));
        let signoff_form = stage
            .and_then(|s| s.approvals.iter().find(|a| a.id == approval.id.to_string()))
            .and_then(|a| a.sign_off.as_ref());
        let evidence = stage
            .map(|s| {
                s.evidence_sets
                    .iter()
                    .filter(|set| set.visible)
                    .map(|set| evidence_rows(set, &nb))
                    .collect()
            })
            .unwrap_or_default();
        let id_names: HashMap<String, String> = names.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let now = now_ms();
        let filter = FindingFilter {
            bundle: Some(b.id),
            ..FindingFilter::default()
        };
        let all_findings = finding::list(state, &caller.user, &filter, now).await?;
        let findings = all_findings
            .iter()
            .filter(|f| f.policy_id == approval.policy_id && f.stage == approval.stage)
            .map(|f| StageFinding {
                id: f.id.to_string(),
                name: f.name.clone(),
                severity: f.severity.as_str().to_owned(),
                severity_label: present::severity(f.severity.as_str()),
                status: f.status.as_str().to_owned(),
                status_label: present::finding_status(f.status.as_str()),
                due: f.due_at.map(When::from_ms),
                overdue: f.is_overdue(now),
                condition: f.approval_id == Some(approval.id),
            })
            .collect();
        let existing = all_findings
            .iter()
            .filter(|f| f.policy_id == approval.policy_id && f.status.is_unresolved())
            .map(|f| ExistingFinding {
                id: f.id.to_string(),
                name: f.name.clone(),
                severity: f.severity.as_str().to_owned(),
                due: f.due_at.map(When::from_ms),
                unavailable: if f.due_at.is_none() {
                    Some("it has no due date; give it one on its page first")
                } else if f.approval_id.is_some_and(|a| a != approval.id) {
                    Some("it is already a condition of another approval")
                } else {
                    None
                },
                checked: false,
            })
            .collect();
        let project = state.store.project(b.project_id).await.map_err(ApiError::from)?;
        let assignees = project::detail(state, &caller.user, &project)
            .await
            .map(|members| {
                members
                    .into_iter()
                    .filter(|(u, role)| role.can_write() && !u.disabled)
                    .map(|(u, _)| u.username)
                    .collect()
            })
            .unwrap_or_default();
        let stage_href = format!(
            "/bundles/{}?{}",
            b.id,
            serde_urlencoded::to_string([
                ("policy", approval.policy_id.to_string().as_str()),
                ("stage", approval.stage.as_str())
            ])
            .unwrap_or_default()
        );
        let signoff_given = match &approval.signoff {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| {
                    let input = signoff_form.and_then(|f| f.inputs.iter().find(|i| i.id == *k));
                    (
                        input.map_or_else(|| k.clone(), |i| i.label.clone()),
                        match input {
                            Some(i) => present::answer_text(i, v, &nb.attachments),
                            None => present::json_text(v),
                        },
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            layout: Layout::new(Some(caller), "bundles", format!("Approval: {}", approval.name)),
            id: approval.id.to_string(),
            name: approval.name.clone(),
            status: approval.status.as_str().to_owned(),
            status_label: present::approval_status(approval.status.as_str()),
            version: approval.version,
            bundle_id: b.id.to_string(),
            bundle_name: b.name.clone(),
            project: project.name.clone(),
            policy: policy.map(|p| format!("{} v{}", p.name, p.version)).unwrap_or_default(),
            stage: approval.stage.clone(),
            stage_href,
            approvers: present::approvers_text(
                approval
                    .approvers
                    .iter()
                    .map(|r| (r.kind.as_str(), r.name.as_str(), r.additional)),
            ),
            requested: name_of(approval.requested_by).zip(approval.requested_at.map(When::from_ms)),
            decided: name_of(approval.decided_by).zip(approval.decided_at.map(When::from_ms)),
            comment: approval.comment.clone(),
            expires: approval.expires_at.map(When::from_ms),
            signoff_given,
            evidence,
            attachments: nb
                .attachments
                .iter()
                .filter(|a| a.finding_id.is_none())
                .map(|a| AttachmentRow::new(a, &id_names))
                .collect(),
            findings,
            named: rights.named,
            exempted: rights.exempted,
            may_judge: rights.judge.is_ok(),
            judge_refusal: rights.judge.as_ref().err().map(refusal_view),
            may_revoke: rights.revoke.is_ok(),
            signoff: signoff_fields(signoff_form, &HashMap::new()),
            existing,
            conditions: (0..CONDITION_ROWS)
                .map(|index| ConditionRow {
                    index,
                    severity: "medium".into(),
                    ..ConditionRow::default()
                })
                .collect(),
            assignees,
            severities: ["low", "medium", "high", "critical"],
            outcome: String::new(),
            comment_typed: String::new(),
            expires_typed: String::new(),
            errors: FormErrors::default(),
            refused: None,
            revoke_error: None,
            notice: None,
        })
    }
}

/// What the last decision did.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

fn notice_for(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "approve" => "Approved. The stage moves on when all its approvals are granted.",
        "conditional" => {
            "Approved with conditions. The findings are assigned; if one is still open when it is due, the approval \
             is revoked."
        }
        "reject" => "Rejected. The stage is open for evidence again.",
        "revoke" => "Revoked. The stage is open for evidence again.",
        _ => return None,
    })
}

/// `GET /approvals/{id}`.
pub async fn page_approval(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Html<String>, UiError> {
    let approval = readable(&state, &caller, &id).await?;
    let mut page = ApprovalPage::build(&state, &caller, &approval).await?;
    page.notice = notice_for(q.done.as_deref());
    Ok(Html(page.render()?))
}

/// The decision form's fields, gathered (sign-off answers and picked findings
/// repeat, which serde_urlencoded cannot gather into lists).
#[derive(Default)]
struct DecisionFields {
    outcome: String,
    comment: String,
    version: String,
    expires_at: String,
    signoff: HashMap<String, Vec<String>>,
    finding_ids: Vec<String>,
    conditions: Vec<ConditionRow>,
}

impl DecisionFields {
    fn parse(fields: Vec<(String, String)>) -> Self {
        let mut out = Self {
            conditions: (0..CONDITION_ROWS)
                .map(|index| ConditionRow {
                    index,
                    ..ConditionRow::default()
                })
                .collect(),
            ..Self::default()
        };
        for (k, v) in fields {
            if let Some(id) = k.strip_prefix("s:") {
                out.signoff.entry(id.to_owned()).or_default().push(v);
                continue;
            }
            if let Some((row, field)) = k.strip_prefix('c').and_then(|rest| rest.split_once('_'))
                && let Ok(i) = row.parse::<usize>()
                && let Some(c) = out.conditions.get_mut(i)
            {
                match field {
                    "name" => c.name = v,
                    "severity" => c.severity = v,
                    "due" => c.due = v,
                    "assignee" => c.assignee = v,
                    "description" => c.description = v,
                    _ => {}
                }
                continue;
            }
            match k.as_str() {
                "outcome" => out.outcome = v,
                "comment" => out.comment = v,
                "version" => out.version = v,
                "expires_at" => out.expires_at = v,
                "finding_id" => out.finding_ids.push(v),
                _ => {}
            }
        }
        out
    }
}

/// Where an error of the decision form belongs: the API names its field first
/// (`comment:`, `signoff.<id>:`, `findings[1].due_date:`, `finding_ids[0]:`…).
enum Place {
    Comment,
    Expires,
    Signoff(String),
    Condition(usize, &'static str),
    Conditions,
    General,
}

fn place_of(message: &str) -> Place {
    let head = message.split(':').next().unwrap_or_default();
    if head == "comment" {
        return Place::Comment;
    }
    if head == "expires_at" {
        return Place::Expires;
    }
    if let Some(id) = head.strip_prefix("signoff.") {
        return Place::Signoff(id.to_owned());
    }
    if head == "signoff" {
        return Place::Signoff(String::new());
    }
    if let Some(rest) = head.strip_prefix("findings[")
        && let Some((i, field)) = rest.split_once("].")
        && let Ok(i) = i.parse::<usize>()
    {
        let field = match field {
            "name" => "name",
            "severity" => "severity",
            "due_date" => "due",
            "assignee" => "assignee",
            _ => "name",
        };
        return Place::Condition(i, field);
    }
    if head == "findings" || head.starts_with("finding_ids") {
        return Place::Conditions;
    }
    Place::General
}

/// `POST /approvals/{id}/decision`: approve, approve with conditions, reject or
/// revoke, as the API's `POST /approvals/{id}/decision` does.
pub async fn form_decide(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let approval = readable(&state, &caller, &id).await?;
    let f = DecisionFields::parse(fields);
    let result = decide(&state, &caller, &approval, &f).await;
    let error = match result {
        Ok(outcome) => {
            return Ok(Redirect::to(&format!("/approvals/{id}?done={}", outcome.as_str())).into_response());
        }
        Err(e) => e,
    };
    let mut page = ApprovalPage::build(&state, &caller, &approval).await?;
    // What was typed stays.
    page.outcome = f.outcome.clone();
    page.comment_typed = f.comment.clone();
    page.expires_typed = f.expires_at.clone();
    for field in &mut page.signoff {
        if let Some(values) = f.signoff.get(&field.id) {
            field.text = values.first().cloned().unwrap_or_default();
            for c in &mut field.choices {
                c.2 = values.contains(&c.0);
            }
        }
    }
    for e in &mut page.existing {
        e.checked = f.finding_ids.contains(&e.id);
    }
    page.conditions = f.conditions.clone();
    let is_revoke = f.outcome == "revoke";
    if error.code == "separation_of_duties" {
        let rule = error
            .details
            .as_ref()
            .and_then(|d| d.get("rule"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        page.refused = Some(RefusalView {
            sentence: Some(sod_sentence(rule.as_deref())),
            message: error.message,
        });
    } else if error.status == StatusCode::FORBIDDEN {
        page.refused = Some(RefusalView {
            sentence: None,
            message: error.message,
        });
    } else if is_revoke {
        page.revoke_error = Some(form_problem(error)?);
    } else {
        let message = form_problem(error)?;
        match place_of(&message) {
            Place::Comment => page.errors = FormErrors::for_field("comment", message),
            Place::Expires => page.errors = FormErrors::for_field("expires_at", message),
            Place::Signoff(id) => match page.signoff.iter_mut().find(|s| s.id == id) {
                Some(field) => field.error = Some(message),
                None => page.errors = FormErrors::for_field("signoff", message),
            },
            Place::Condition(i, field) => match page.conditions.get_mut(i) {
                Some(row) => {
                    row.errors.insert(field, message);
                }
                None => page.errors = FormErrors::for_field("conditions", message),
            },
            Place::Conditions => page.errors = FormErrors::for_field("conditions", message),
            Place::General => {
                page.errors = FormErrors {
                    general: Some(message),
                    ..FormErrors::default()
                }
            }
        }
    }
    Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
}

async fn decide(
    state: &AppState,
    caller: &Caller,
    approval: &Approval,
    f: &DecisionFields,
) -> Result<Outcome, ApiError> {
    let outcome = if f.outcome.trim().is_empty() {
        return Err(ApiError::invalid(
            "outcome: choose approve, approve with conditions or reject",
        ));
    } else {
        Outcome::parse(&f.outcome)?
    };
    let version = f.version.trim().parse().unwrap_or(approval.version);
    // Sign-off answers: lists for multiple-choice questions, else the text;
    // empty answers are left out (a conditional question that does not apply).
    let b = state.store.bundle(approval.bundle_id).await?;
    let on = review::policy_by_id(state, &b, approval.policy_id).await?;
    let form = on.policy.approval(&approval.name).and_then(|a| a.evidence());
    let mut signoff = serde_json::Map::new();
    if outcome != Outcome::Revoke {
        for (id, values) in &f.signoff {
            let multiple = form
                .and_then(|s| s.inputs().find(|i| i.id() == id))
                .is_some_and(|i| i.input_type().is_multiple());
            let values: Vec<&String> = values.iter().filter(|v| !v.trim().is_empty()).collect();
            if values.is_empty() {
                continue;
            }
            let value = if multiple {
                values.into_iter().cloned().map(serde_json::Value::String).collect()
            } else {
                serde_json::Value::String(values[0].clone())
            };
            signoff.insert(id.clone(), value);
        }
    }
    let conditional = outcome == Outcome::Conditional;
    let decision = Decision {
        outcome,
        comment: f.comment.clone(),
        signoff,
        version,
        findings: if conditional {
            f.conditions
                .iter()
                .filter(|c| !c.is_empty())
                .map(|c| NewCondition {
                    name: c.name.clone(),
                    description: c.description.clone(),
                    severity: c.severity.clone(),
                    due_date: c.due.clone(),
                    assignee: Some(c.assignee.trim().to_owned()).filter(|a| !a.is_empty()),
                })
                .collect()
        } else {
            Vec::new()
        },
        finding_ids: if conditional { f.finding_ids.clone() } else { Vec::new() },
        expires_at: Some(f.expires_at.trim().to_owned()).filter(|e| !e.is_empty() && outcome != Outcome::Revoke),
    };
    review::decide(state, &caller.audit(), &caller.user, approval, decision).await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_find_their_field() {
        assert!(matches!(place_of("comment: say why"), Place::Comment));
        assert!(matches!(place_of("signoff.intake-decision: expected"), Place::Signoff(id) if id == "intake-decision"));
        assert!(matches!(place_of("signoff: fill the sign-off form"), Place::Signoff(id) if id.is_empty()));
        assert!(matches!(
            place_of("findings[1].due_date: must be in the future"),
            Place::Condition(1, "due")
        ));
        assert!(matches!(
            place_of("findings: a conditional approval needs"),
            Place::Conditions
        ));
        assert!(matches!(
            place_of("finding_ids[0]: finding `x` is resolved"),
            Place::Conditions
        ));
        assert!(matches!(place_of("approval `x` is pending"), Place::General));
    }

    #[test]
    fn the_decision_form_gathers_repeated_fields() {
        let f = DecisionFields::parse(vec![
            ("outcome".into(), "conditional".into()),
            ("s:checks".into(), "a".into()),
            ("s:checks".into(), "b".into()),
            ("finding_id".into(), "fnd_1".into()),
            ("c1_name".into(), "Drift".into()),
            ("c1_due".into(), "2999-01-01".into()),
            ("c9_name".into(), "ignored: no such row".into()),
        ]);
        assert_eq!(f.signoff["checks"], ["a", "b"]);
        assert_eq!(f.finding_ids, ["fnd_1"]);
        assert_eq!(f.conditions[1].name, "Drift");
        assert!(f.conditions[0].is_empty() && !f.conditions[1].is_empty());
    }

    #[test]
    fn separation_of_duties_reads_as_a_sentence() {
        assert!(
            sod_sentence(Some("separation_of_duties.creator"))
                .starts_with("You created this bundle, so you cannot approve its stages")
        );
        assert!(sod_sentence(Some("separation_of_duties.answered_evidence")).starts_with("You answered evidence"));
    }
}
