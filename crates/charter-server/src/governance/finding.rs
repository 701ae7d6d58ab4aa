//! Findings (issues in the way of compliance), their comments with @mentions, and
//! waivers (accepted deviations with an expiry).
//!
//! Charter's rules:
//! - project writers, the bundle's approvers and governance admins log findings;
//!   the finding's approver defaults to whoever logs it;
//! - the same people, and the finding's assignee and approver, change a finding;
//!   resolving or setting `wont_do` needs a note (`resolution`); only the finding's
//!   approver closes it, and changes it once closed;
//! - a comment's `@username` gives that user a `mention` task;
//! - a waiver is granted by a governance admin or by an approver of the finding's
//!   approval (of its stage when it names none) — by themselves, or recorded by a
//!   governance admin on their behalf. It sets the finding to `wont_do` until it
//!   expires or is revoked, which re-opens the finding.

use std::collections::HashMap;

use charter_domain::time::{Millis, now_ms, parse_instant, rfc3339};
use charter_domain::{BundleId, FindingId, UserId, WaiverId};
use charter_store::bundle::{Bundle, BundleState};
use charter_store::finding::{Comment, Finding, FindingStatus, NewFinding, Severity, Waiver};
use charter_store::task::NewTask;
use charter_store::user::User;
use charter_store::{AuditContext, StoreError, WriteTx};

use super::project::{Access, require};
use super::review::{can_read_bundle, is_named_approver, named_user, policy_on_bundle, require_read};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Most characters a description, resolution or comment may hold.
const MAX_TEXT: usize = 50_000;

/// Give `user` a task about a finding.
pub(crate) async fn finding_task(
    tx: &mut WriteTx,
    user: UserId,
    finding: &Finding,
    kind: &'static str,
    what: &str,
) -> ApiResult<()> {
    charter_store::task::create(
        tx,
        NewTask {
            user_id: user,
            kind,
            bundle_id: Some(finding.bundle_id),
            target_type: "finding",
            target_id: finding.id.to_string(),
            title: format!("{what}: `{}` ({})", finding.name, finding.severity.as_str()),
        },
    )
    .await?;
    Ok(())
}

fn parse_severity(field: &str, text: &str) -> ApiResult<Severity> {
    Severity::parse(text.trim()).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field}: `{text}` is not a severity; use low, medium, high or critical"
        ))
    })
}

fn parse_status(field: &str, text: &str) -> ApiResult<FindingStatus> {
    FindingStatus::parse(text.trim()).ok_or_else(|| {
        ApiError::invalid(format!(
            "{field}: `{text}` is not a status; use open, in_progress, resolved, wont_do or closed"
        ))
    })
}

fn parse_due(field: &str, text: &str) -> ApiResult<Option<Millis>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    parse_instant(text)
        .map(Some)
        .map_err(|e| ApiError::invalid(format!("{field}: {e}")))
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn check_text(field: &str, text: &str) -> ApiResult<()> {
    if text.len() > MAX_TEXT {
        return Err(ApiError::invalid(format!("{field}: at most {MAX_TEXT} characters")));
    }
    Ok(())
}

/// Check that `user` may log and work findings on a bundle: governance admins, the
/// bundle's approvers, and writers of its project.
async fn require_work(state: &AppState, user: &User, bundle: &Bundle) -> ApiResult<()> {
    if user.role.is_governance_admin() {
        return Ok(());
    }
    for a in state.store.approvals(bundle.id).await? {
        if is_named_approver(state, user, &a).await? {
            return Ok(());
        }
    }
    let project = state.store.project(bundle.project_id).await?;
    require(state, user, &project, Access::Write).await?;
    Ok(())
}

/// The finding `id` of `bundle`, checked for `by` attaching a file to it: whoever
/// may work the bundle's findings, while the bundle is not archived.
pub async fn attachable(state: &AppState, by: &User, bundle: &Bundle, id: &str) -> ApiResult<Finding> {
    let fid: FindingId = id
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(format!("finding: {e}")))?;
    let f = match state.store.finding(fid).await {
        Ok(f) if f.bundle_id == bundle.id => f,
        Ok(_) | Err(StoreError::NotFound(_)) => {
            return Err(ApiError::invalid(format!(
                "finding: bundle `{}` has no finding {fid}",
                bundle.name
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let is_party = f.approver_id == Some(by.id) || f.assignee_id == Some(by.id);
    if !is_party {
        require_work(state, by, bundle).await?;
    }
    if !by.role.can_write() {
        return Err(ApiError::forbidden("viewers cannot attach files"));
    }
    if bundle.state == BundleState::Archived {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is archived; nothing can be attached to its findings",
            bundle.name
        )));
    }
    Ok(f)
}

/// The files uploaded to a finding, oldest first (the caller has read it with [`find_for`]).
pub async fn attachments(state: &AppState, finding: &Finding) -> ApiResult<Vec<charter_store::bundle::Attachment>> {
    let id = finding.id.to_string();
    Ok(state
        .store
        .attachments(finding.bundle_id)
        .await?
        .into_iter()
        .filter(|a| super::bundle::attachment::finding_of(a).as_deref() == Some(id.as_str()))
        .collect())
}

/// A finding by id (`fnd_…`), checked for the caller's read access (404 otherwise).
pub async fn find_for(state: &AppState, by: &User, id: &str) -> ApiResult<(Finding, Bundle)> {
    let id: FindingId = id
        .trim()
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
    let finding = state.store.finding(id).await?;
    let bundle = state.store.bundle(finding.bundle_id).await?;
    if !can_read_bundle(state, by, &bundle).await? {
        return Err(ApiError::not_found(format!("finding {id} not found")));
    }
    Ok((finding, bundle))
}

/// Which findings to list.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub bundle: Option<BundleId>,
    pub severity: Option<Severity>,
    pub status: Option<FindingStatus>,
    pub assignee: Option<UserId>,
    /// Only those unresolved past their due date.
    pub overdue: bool,
}

impl FindingFilter {
    /// A filter from query-string text; each problem names its parameter.
    pub async fn parse(
        state: &AppState,
        by: &User,
        bundle: Option<&str>,
        severity: Option<&str>,
        status: Option<&str>,
        assignee: Option<&str>,
        overdue: Option<bool>,
    ) -> ApiResult<Self> {
        Ok(Self {
            bundle: nonempty(bundle)
                .map(|b| {
                    b.parse()
                        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(format!("bundle: {e}")))
                })
                .transpose()?,
            severity: nonempty(severity).map(|s| parse_severity("severity", s)).transpose()?,
            status: nonempty(status).map(|s| parse_status("status", s)).transpose()?,
            assignee: match nonempty(assignee) {
                Some("me") => Some(by.id),
                Some(a) => Some(named_user(state, "assignee", a).await?.id),
                None => None,
            },
            overdue: overdue.unwrap_or(false),
        })
    }
}

/// Findings the caller may read, newest first.
pub async fn list(state: &AppState, by: &User, filter: &FindingFilter, now: Millis) -> ApiResult<Vec<Finding>> {
    let findings = state.store.findings(filter.bundle).await?;
    let mut readable: HashMap<BundleId, bool> = HashMap::new();
    let mut out = Vec::new();
    for f in findings {
        if filter.severity.is_some_and(|s| s != f.severity)
            || filter.status.is_some_and(|s| s != f.status)
            || filter.assignee.is_some_and(|a| Some(a) != f.assignee_id)
            || (filter.overdue && !f.is_overdue(now))
        {
            continue;
        }
        let ok = match readable.get(&f.bundle_id) {
            Some(ok) => *ok,
            None => {
                let bundle = state.store.bundle(f.bundle_id).await?;
                let ok = can_read_bundle(state, by, &bundle).await?;
                readable.insert(f.bundle_id, ok);
                ok
            }
        };
        if ok {
            out.push(f);
        }
    }
    Ok(out)
}

/// A finding to log.
#[derive(Debug, Clone, Default)]
pub struct FindingInput {
    pub policy: Option<String>,
    pub stage: Option<String>,
    pub name: String,
    pub description: String,
    pub severity: String,
    pub assignee: Option<String>,
    pub approver: Option<String>,
    pub due_date: Option<String>,
    /// An approval of the bundle (`apr_…` or its name) the finding is about.
    pub approval: Option<String>,
}

/// Log a finding on a bundle.
pub async fn create(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    input: FindingInput,
) -> ApiResult<Finding> {
    require_work(state, by, bundle).await?;
    let approvals = state.store.approvals(bundle.id).await?;
    if !by.role.can_write() {
        return Err(ApiError::forbidden("viewers cannot log findings"));
    }
    if bundle.state == BundleState::Archived {
        return Err(ApiError::conflict(format!(
            "bundle `{}` is archived; it takes no new findings",
            bundle.name
        )));
    }
    let on = policy_on_bundle(state, bundle, input.policy.as_deref()).await?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid(
            "name: give the finding a name of 1 to 200 characters",
        ));
    }
    check_text("description", &input.description)?;
    let severity = parse_severity("severity", &input.severity)?;
    let approval = match input.approval.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(r) => Some(
            approvals
                .iter()
                .find(|a| a.policy_id == on.placement.policy_id && (a.id.to_string() == r || a.name == r))
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "approval: policy `{}` on this bundle has no approval `{r}`",
                        on.stored.name
                    ))
                })?,
        ),
        None => None,
    };
    let stage = match (
        input.stage.as_deref().map(str::trim).filter(|s| !s.is_empty()),
        approval,
    ) {
        (Some(s), Some(a)) if s != a.stage => {
            return Err(ApiError::invalid(format!(
                "stage: approval `{}` belongs to stage `{}`, not `{s}`",
                a.name, a.stage
            )));
        }
        (Some(s), _) => s.to_owned(),
        (None, Some(a)) => a.stage.clone(),
        (None, None) => on.placement.current_stage.clone(),
    };
    if on.policy.stage(&stage).is_none() {
        return Err(ApiError::invalid(format!(
            "stage: policy `{}` has no stage `{stage}`; its stages are {}",
            on.stored.name,
            on.policy
                .stages()
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let assignee = match input.assignee.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => Some(named_user(state, "assignee", a).await?),
        None => None,
    };
    let approver = match input.approver.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => named_user(state, "approver", a).await?,
        None => by.clone(),
    };
    let due_at = parse_due("due_date", input.due_date.as_deref().unwrap_or(""))?;
    let mut tx = state.store.begin().await?;
    let f = charter_store::finding::create(
        &mut tx,
        ctx,
        NewFinding {
            bundle_id: bundle.id,
            policy_id: on.placement.policy_id,
            stage,
            approval_id: approval.map(|a| a.id),
            name: name.to_owned(),
            description: input.description.trim().to_owned(),
            severity,
            assignee_id: assignee.as_ref().map(|u| u.id),
            approver_id: Some(approver.id),
            due_at,
        },
        by,
    )
    .await?;
    if let Some(a) = &assignee {
        finding_task(&mut tx, a.id, &f, "finding", "Resolve finding").await?;
    }
    tx.commit().await?;
    Ok(f)
}

/// Changes to a finding; `None` leaves a field as it is. An empty `assignee` or
/// `due_date` clears it.
#[derive(Debug, Clone, Default)]
pub struct FindingChanges {
    pub status: Option<String>,
    pub resolution: Option<String>,
    pub assignee: Option<String>,
    pub due_date: Option<String>,
    pub severity: Option<String>,
}

/// Change a finding's status, resolution, assignee, due date or severity.
pub async fn update(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    finding: &Finding,
    bundle: &Bundle,
    changes: FindingChanges,
) -> ApiResult<Finding> {
    if changes.status.is_none()
        && changes.resolution.is_none()
        && changes.assignee.is_none()
        && changes.due_date.is_none()
        && changes.severity.is_none()
    {
        return Err(ApiError::invalid(
            "the request changes nothing; send status, resolution, assignee, due_date or severity",
        ));
    }
    let is_approver =
        finding.approver_id == Some(by.id) || (finding.approver_id.is_none() && by.role.is_governance_admin());
    if !(is_approver || finding.assignee_id == Some(by.id)) {
        require_work(state, by, bundle).await?;
    }
    if !by.role.can_write() {
        return Err(ApiError::forbidden("viewers cannot change findings"));
    }
    if finding.status == FindingStatus::Closed && !is_approver {
        return Err(ApiError::forbidden(format!(
            "finding `{}` is closed; only its approver may change it",
            finding.name
        )));
    }
    let mut after = finding.clone();
    if let Some(s) = &changes.severity {
        after.severity = parse_severity("severity", s)?;
    }
    if let Some(d) = &changes.due_date {
        after.due_at = parse_due("due_date", d)?;
    }
    let mut new_assignee = None;
    if let Some(a) = &changes.assignee {
        let a = a.trim();
        if a.is_empty() {
            after.assignee_id = None;
        } else {
            let user = named_user(state, "assignee", a).await?;
            after.assignee_id = Some(user.id);
            new_assignee = Some(user);
        }
    }
    if let Some(r) = &changes.resolution {
        check_text("resolution", r)?;
        after.resolution = r.trim().to_owned();
    }
    if let Some(s) = &changes.status {
        after.status = parse_status("status", s)?;
        if after.status == FindingStatus::Closed && !is_approver {
            let approver = match finding.approver_id {
                Some(id) => state.store.user(id).await.map(|u| u.username).unwrap_or_default(),
                None => "a governance admin".into(),
            };
            return Err(ApiError::forbidden(format!(
                "only the finding's approver ({approver}) may close finding `{}`",
                finding.name
            )));
        }
        if after.status.is_unresolved() && !finding.status.is_unresolved() && changes.resolution.is_none() {
            // Re-opened: the old note no longer describes it.
            after.resolution = String::new();
        }
    }
    if matches!(after.status, FindingStatus::Resolved | FindingStatus::WontDo)
        && after.status != finding.status
        && after.resolution.is_empty()
    {
        return Err(ApiError::invalid(format!(
            "resolution: say how finding `{}` was {} (a resolution note is required)",
            finding.name,
            if after.status == FindingStatus::Resolved {
                "resolved"
            } else {
                "settled without a fix"
            }
        )));
    }
    if after == *finding {
        return Ok(after);
    }
    let mut tx = state.store.begin().await?;
    let saved = charter_store::finding::update(&mut tx, ctx, finding, after).await?;
    let target = saved.id.to_string();
    if saved.status != finding.status {
        match saved.status {
            FindingStatus::Resolved => {
                charter_store::task::close_for(&mut tx, "finding", &target).await?;
                if let Some(approver) = saved.approver_id {
                    finding_task(&mut tx, approver, &saved, "finding", "Check the resolution and close").await?;
                }
            }
            FindingStatus::WontDo | FindingStatus::Closed => {
                charter_store::task::close_for(&mut tx, "finding", &target).await?;
            }
            FindingStatus::Open | FindingStatus::InProgress => {
                if !finding.status.is_unresolved()
                    && let Some(a) = saved.assignee_id
                {
                    finding_task(&mut tx, a, &saved, "finding", "Finding re-opened").await?;
                }
            }
        }
    }
    if let Some(user) = new_assignee
        && finding.assignee_id != Some(user.id)
        && saved.status.is_unresolved()
    {
        finding_task(&mut tx, user.id, &saved, "finding", "Resolve finding").await?;
    }
    tx.commit().await?;
    Ok(saved)
}

/// The usernames `@mentioned` in Markdown text, each once, in order. An `@` inside
/// a word (an e-mail address) is not a mention; a trailing `.`, `-` or `_` ends the
/// sentence, not the name.
pub fn mentions(text: &str) -> Vec<String> {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_');
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '`') {
            let rest = &text[i + 1..];
            let end = rest.find(|ch: char| !ok(ch)).unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches(['.', '-', '_']);
            if name.starts_with(|ch: char| ch.is_ascii_alphanumeric()) && !out.iter().any(|o| o == name) {
                out.push(name.to_owned());
            }
        }
        prev = Some(c);
    }
    out
}

/// Comment on a finding (Markdown). Each `@username` of an existing user other
/// than the author gets a `mention` task. Returns the comment and who was notified.
pub async fn comment(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    finding: &Finding,
    body: &str,
) -> ApiResult<(Comment, Vec<String>)> {
    if !by.role.can_write() {
        return Err(ApiError::forbidden("viewers cannot comment"));
    }
    let body = body.trim();
    if body.is_empty() {
        return Err(ApiError::invalid("body: write something"));
    }
    check_text("body", body)?;
    let mut mentioned = Vec::new();
    for name in mentions(body) {
        match state.store.user_by_username(&name).await {
            Ok(u) if u.id != by.id && !u.disabled => mentioned.push(u),
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut tx = state.store.begin().await?;
    let c = charter_store::finding::comment(&mut tx, ctx, finding, body, by).await?;
    for u in &mentioned {
        finding_task(
            &mut tx,
            u.id,
            finding,
            "mention",
            &format!("{} mentioned you on finding", by.username),
        )
        .await?;
    }
    tx.commit().await?;
    Ok((c, mentioned.into_iter().map(|u| u.username).collect()))
}

/// A waiver to grant.
#[derive(Debug, Clone, Default)]
pub struct WaiverInput {
    pub finding: Option<String>,
    pub justification: String,
    /// Username or id; the caller when absent.
    pub approver: Option<String>,
    pub expires_at: String,
}

/// Who may approve a waiver of `finding` (or of the bundle as a whole).
async fn may_approve_waiver(
    state: &AppState,
    user: &User,
    bundle: &Bundle,
    finding: Option<&Finding>,
) -> ApiResult<bool> {
    if user.role.is_governance_admin() {
        return Ok(true);
    }
    let Some(f) = finding else { return Ok(false) };
    for a in state.store.approvals(bundle.id).await? {
        let relevant = match f.approval_id {
            Some(id) => a.id == id,
            None => a.policy_id == f.policy_id && a.stage == f.stage,
        };
        if relevant && is_named_approver(state, user, &a).await? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Grant a waiver on a bundle, of one finding or of the bundle as a whole.
pub async fn grant_waiver(
    state: &AppState,
    ctx: &AuditContext,
    by: &User,
    bundle: &Bundle,
    input: WaiverInput,
) -> ApiResult<Waiver> {
    require_read(state, by, bundle).await?;
    if !by.role.can_write() {
        return Err(ApiError::forbidden("viewers cannot grant waivers"));
    }
    let finding = match input.finding.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(id) => {
            let id: FindingId = id
                .parse()
                .map_err(|e: charter_domain::id::IdError| ApiError::invalid(format!("finding: {e}")))?;
            let f = match state.store.finding(id).await {
                Ok(f) => f,
                Err(StoreError::NotFound(_)) => {
                    return Err(ApiError::invalid(format!("finding: there is no finding {id}")));
                }
                Err(e) => return Err(e.into()),
            };
            if f.bundle_id != bundle.id {
                return Err(ApiError::invalid(format!(
                    "finding: `{}` belongs to another bundle",
                    f.name
                )));
            }
            if !f.status.is_unresolved() {
                return Err(ApiError::conflict(format!(
                    "finding `{}` is {}; only an open finding can be waived",
                    f.name,
                    f.status.as_str()
                )));
            }
            Some(f)
        }
        None => None,
    };
    let justification = input.justification.trim();
    if justification.is_empty() {
        return Err(ApiError::invalid(
            "justification: say why the deviation is acceptable until the waiver expires",
        ));
    }
    check_text("justification", justification)?;
    let now = now_ms();
    if input.expires_at.trim().is_empty() {
        return Err(ApiError::invalid("expires_at: a waiver needs an expiry"));
    }
    let expires_at = parse_instant(&input.expires_at).map_err(|e| ApiError::invalid(format!("expires_at: {e}")))?;
    if expires_at <= now {
        return Err(ApiError::invalid("expires_at: must be in the future"));
    }
    let approver = match input.approver.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        Some(a) => named_user(state, "approver", a).await?,
        None => by.clone(),
    };
    if approver.id != by.id && !by.role.is_governance_admin() {
        return Err(ApiError::forbidden(format!(
            "only `{}` can grant a waiver as its approver (or a governance admin, recording it for them)",
            approver.username
        )));
    }
    if !may_approve_waiver(state, &approver, bundle, finding.as_ref()).await? {
        let scope = match &finding {
            Some(f) => format!("an approver of the approval finding `{}` belongs to", f.name),
            None => "a governance admin (a waiver of the whole bundle)".into(),
        };
        return Err(ApiError::forbidden(format!(
            "approver: `{}` cannot approve this waiver; it needs a governance admin or {scope}",
            approver.username
        )));
    }
    if let Some(f) = &finding {
        let active = state
            .store
            .waivers(Some(bundle.id))
            .await?
            .into_iter()
            .any(|w| w.status == "active" && w.finding_id == Some(f.id));
        if active {
            return Err(ApiError::conflict(format!(
                "finding `{}` already has an active waiver; revoke it first",
                f.name
            )));
        }
    }
    let mut tx = state.store.begin().await?;
    let w = charter_store::finding::grant_waiver(
        &mut tx,
        ctx,
        bundle.id,
        finding.as_ref().map(|f| f.id),
        justification,
        &approver,
        expires_at,
        by,
    )
    .await?;
    if let Some(f) = &finding {
        let waived = Finding {
            status: FindingStatus::WontDo,
            resolution: format!(
                "Waived until {} (waiver {}, approved by {}): {justification}",
                rfc3339(expires_at),
                w.id,
                approver.username
            ),
            ..f.clone()
        };
        charter_store::finding::update(&mut tx, ctx, f, waived).await?;
        charter_store::task::close_for(&mut tx, "finding", &f.id.to_string()).await?;
    }
    tx.commit().await?;
    Ok(w)
}

/// End a waiver in `tx` (`expired` or `revoked`) and re-open its finding if the
/// waiver had set it aside.
pub(crate) async fn end_waiver(
    state: &AppState,
    tx: &mut WriteTx,
    ctx: &AuditContext,
    waiver: &Waiver,
    status: &'static str,
) -> ApiResult<Option<Finding>> {
    charter_store::finding::end_waiver(tx, ctx, waiver, status).await?;
    let Some(fid) = waiver.finding_id else {
        return Ok(None);
    };
    let f = state.store.finding(fid).await?;
    if f.status != FindingStatus::WontDo {
        return Ok(None);
    }
    let reopened = Finding {
        status: FindingStatus::Open,
        resolution: String::new(),
        ..f.clone()
    };
    let saved = charter_store::finding::update(tx, ctx, &f, reopened).await?;
    let what = if status == "expired" {
        "Waiver expired, finding open again"
    } else {
        "Waiver revoked, finding open again"
    };
    for user in [saved.assignee_id, saved.approver_id].into_iter().flatten() {
        finding_task(tx, user, &saved, "finding", what).await?;
    }
    Ok(Some(saved))
}

/// A waiver by id (`wvr_…`).
pub async fn find_waiver(state: &AppState, id: &str) -> ApiResult<Waiver> {
    let id: WaiverId = id
        .trim()
        .parse()
        .map_err(|e: charter_domain::id::IdError| ApiError::invalid(e.to_string()))?;
    Ok(state.store.waiver(id).await?)
}

/// Revoke a waiver (its approver, or a governance admin); its finding re-opens.
pub async fn revoke_waiver(state: &AppState, ctx: &AuditContext, by: &User, waiver: &Waiver) -> ApiResult<Waiver> {
    let bundle = state.store.bundle(waiver.bundle_id).await?;
    if !can_read_bundle(state, by, &bundle).await? {
        return Err(ApiError::not_found(format!("waiver {} not found", waiver.id)));
    }
    if waiver.approver_id != by.id && !by.role.is_governance_admin() {
        return Err(ApiError::forbidden(
            "only the waiver's approver or a governance admin may revoke it",
        ));
    }
    if waiver.status != "active" {
        return Err(ApiError::conflict(format!(
            "waiver {} is {}; only an active waiver can be revoked",
            waiver.id, waiver.status
        )));
    }
    let mut tx = state.store.begin().await?;
    end_waiver(state, &mut tx, ctx, waiver, "revoked").await?;
    tx.commit().await?;
    Ok(Waiver {
        status: "revoked".into(),
        ..waiver.clone()
    })
}

/// A bundle's waivers, for those who may read it.
pub async fn waivers(state: &AppState, by: &User, bundle: &Bundle) -> ApiResult<Vec<Waiver>> {
    require_read(state, by, bundle).await?;
    Ok(state.store.waivers(Some(bundle.id)).await?)
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn mentions_are_usernames_after_an_at_sign() {
        assert_eq!(
            mentions("@ann please look; cc @bob.smith. Not mail@example.com, nor `@code`"),
            ["ann", "bob.smith"]
        );
        assert_eq!(mentions("@ann and @ann again, (@carl-1)"), ["ann", "carl-1"]);
        assert!(mentions("@ @- @.x").is_empty());
    }
}
