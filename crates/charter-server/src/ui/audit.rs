//! The audit trail (governance admins): a filterable table whose filters live in
//! the URL, one event's detail with its payload as a diff, exports, and a chain check.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::diff::{DiffKind, PayloadDiff};
use super::{FormErrors, Htmx, Layout, SignedIn, UiError, When, form_problem, page_with_status};
use crate::api::audit::{AuditEventResponse, AuditQuery, VerifyResponse, page, verify};
use crate::auth::GovernanceAdmin;
use crate::error::ApiError;
use crate::state::AppState;

/// Events per page of the table.
const PAGE_SIZE: i64 = 50;

/// The table's filters, exactly as they appear in the page's URL.
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilters {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    target: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    cursor: String,
}

impl AuditFilters {
    /// The target as the API reads it: a bare id (`bdl_…`) names its type by its
    /// prefix, so it becomes `bundle:bdl_…`.
    fn target(&self) -> std::borrow::Cow<'_, str> {
        let t = self.target.trim();
        match target_type_of(t) {
            Some(ty) if !t.contains(':') => format!("{ty}:{t}").into(),
            _ => t.into(),
        }
    }

    /// The filters as query pairs (what the page's URL, its next page and its
    /// exports carry).
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("actor", self.actor.trim().into()),
            ("action", self.action.trim().into()),
            ("target", self.target()),
            ("since", self.since.trim().into()),
            ("until", self.until.trim().into()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k, v.into_owned()))
        .collect()
    }

    /// The filters as a query string, without the cursor: what a shared link or an
    /// export of this view carries.
    fn query_string(&self) -> String {
        serde_urlencoded::to_string(self.pairs()).unwrap_or_default()
    }

    fn with(&self, extra: &[(&'static str, &str)]) -> String {
        let mut pairs = self.pairs();
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    fn to_api(&self) -> AuditQuery {
        let opt = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        AuditQuery {
            since: opt(&self.since),
            until: opt(&self.until),
            actor: opt(&self.actor),
            action: opt(&self.action),
            target: opt(&self.target()),
            order: None,
            cursor: opt(&self.cursor),
            limit: Some(PAGE_SIZE),
            format: None,
        }
    }

    /// `date` for a date input when the value is empty or a plain date, else `text`
    /// (a shared link may carry an RFC 3339 time, which a date input cannot show).
    fn input_type(value: &str) -> &'static str {
        let v = value.trim();
        let is_date = v.len() == 10
            && v.char_indices()
                .all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
        if v.is_empty() || is_date { "date" } else { "text" }
    }
}

/// A row of the events table.
struct EventRow {
    seq: i64,
    id: String,
    when: When,
    actor_kind: String,
    actor_name: String,
    action: String,
    target_type: String,
    target_id: String,
    summary: String,
}

impl From<&AuditEventResponse> for EventRow {
    fn from(e: &AuditEventResponse) -> Self {
        Self {
            seq: e.seq,
            id: e.id.clone(),
            when: When::precise(&e.occurred_at),
            actor_kind: e.actor_kind.clone(),
            actor_name: e.actor_name.clone(),
            action: e.action.clone(),
            target_type: e.target_type.clone(),
            target_id: e.target_id.clone(),
            summary: PayloadDiff::of_event(&e.action, &e.payload).summary(),
        }
    }
}

/// Suggestions for the action filter: every family, then the actions people look
/// for most.
const ACTIONS: [&str; 47] = [
    "user.*",
    "user.created",
    "user.updated",
    "user.disabled",
    "user.enabled",
    "user.password_changed",
    "group.*",
    "group.created",
    "group.member_added",
    "group.member_removed",
    "token.*",
    "token.created",
    "token.revoked",
    "session.*",
    "session.created",
    "session.ended",
    "access.denied",
    "project.*",
    "policy.*",
    "policy_version.*",
    "policy_version.published",
    "policy_version.retired",
    "bundle.*",
    "bundle.created",
    "bundle.classified",
    "bundle.stage_changed",
    "bundle.completed",
    "bundle.archived",
    "bundle.policy_migrated",
    "evidence.*",
    "evidence.answered",
    "evidence.confirmed",
    "attachment.added",
    "approval.*",
    "approval.requested",
    "approval.granted",
    "approval.conditionally_granted",
    "approval.rejected",
    "approval.revoked",
    "approval.refused",
    "finding.*",
    "finding.created",
    "finding.updated",
    "waiver.*",
    "gate.*",
    "gate.denied",
    "stage.assigned",
];

/// Suggestions for the target filter (a type, or `type:id`).
const TARGETS: [&str; 12] = [
    "user",
    "group",
    "token",
    "project",
    "policy",
    "policy_version",
    "bundle",
    "approval",
    "finding",
    "waiver",
    "gate",
    "stage",
];

/// The target type whose ids start with `prefix_` (`bdl_…` is a bundle).
fn target_type_of(id: &str) -> Option<&'static str> {
    const PREFIXES: [(&str, &str); 12] = [
        ("usr_", "user"),
        ("grp_", "group"),
        ("tok_", "token"),
        ("prj_", "project"),
        ("pol_", "policy"),
        ("pov_", "policy_version"),
        ("bdl_", "bundle"),
        ("apr_", "approval"),
        ("fnd_", "finding"),
        ("wvr_", "waiver"),
        ("att_", "attachment"),
        ("ans_", "answer"),
    ];
    PREFIXES
        .iter()
        .find(|(p, _)| id.starts_with(p) && id.len() > p.len())
        .map(|(_, t)| *t)
}

#[derive(Template)]
#[template(path = "audit/list.html", blocks = ["results"])]
struct AuditPage {
    layout: Layout,
    filters: AuditFilters,
    actions: &'static [&'static str],
    targets: &'static [&'static str],
    errors: FormErrors,
    rows: Vec<EventRow>,
    /// The next page, when there is one.
    next_url: Option<String>,
    /// This view's URL without a cursor.
    view_url: String,
    export_csv: String,
    export_json: String,
    /// This is a later page (`cursor` set), not the newest events.
    continued: bool,
    filtered: bool,
    /// Rendering for htmx: the filter errors travel out of band.
    htmx: bool,
}

impl AuditPage {
    fn input_type(&self, value: &str) -> &'static str {
        AuditFilters::input_type(value)
    }
}

/// The next rows of the table, for "Load more" (also included by `audit/list.html`).
#[derive(Template)]
#[template(path = "audit/rows.html")]
struct AuditRows {
    rows: Vec<EventRow>,
    next_url: Option<String>,
}

/// `GET /audit`: the whole page; for htmx, the results (filters changed) or the
/// next rows ("Load more").
pub async fn page_audit(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
    htmx: Htmx,
    Query(filters): Query<AuditFilters>,
) -> Result<Response, UiError> {
    let (rows, next_cursor, errors) = match page(&state, &filters.to_api()).await {
        Ok(p) => (
            p.items.iter().map(EventRow::from).collect(),
            p.next_cursor,
            FormErrors::default(),
        ),
        Err(e) => {
            let fields = ["actor", "action", "target", "since", "until"];
            (
                Vec::new(),
                None,
                FormErrors::from_message(form_problem(e)?, &fields, &[]),
            )
        }
    };
    let query = filters.query_string();
    let view_url = if query.is_empty() {
        "/audit".to_owned()
    } else {
        format!("/audit?{query}")
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AuditPage {
        layout: Layout::new(Some(gov.caller()), "audit", "Audit trail"),
        next_url: next_cursor.map(|c| format!("/audit?{}", filters.with(&[("cursor", &c)]))),
        export_csv: format!("/api/v1/audit-events/export?{}", filters.with(&[("format", "csv")])),
        export_json: format!("/api/v1/audit-events/export?{}", filters.with(&[("format", "json")])),
        continued: !filters.cursor.trim().is_empty(),
        filtered: !filters.is_empty(),
        htmx: htmx.request,
        view_url,
        filters,
        actions: &ACTIONS,
        targets: &TARGETS,
        errors,
        rows,
    };
    if htmx.targets("audit-more") {
        let more = AuditRows {
            rows: page.rows,
            next_url: page.next_url,
        };
        return Ok(page_with_status(status, more.render()?));
    }
    if htmx.request {
        let mut response = page_with_status(status, page.as_results().render()?);
        // The filters belong in the address bar, so that the view can be shared.
        if let Ok(v) = HeaderValue::from_str(&page.view_url) {
            response.headers_mut().insert(HeaderName::from_static("hx-push-url"), v);
        }
        return Ok(response);
    }
    Ok(page_with_status(status, page.render()?))
}

#[derive(Template)]
#[template(path = "audit/event.html", blocks = ["detail"])]
struct EventPage {
    layout: Layout,
    e: AuditEventResponse,
    when: When,
    diff: PayloadDiff,
    /// Shown inside the table (htmx) rather than as its own page.
    inline: bool,
}

impl EventPage {
    fn kind_is(&self, kind: &str) -> bool {
        let k = match self.diff.kind {
            DiffKind::Change => "change",
            DiffKind::Created => "created",
            DiffKind::Removed => "removed",
            DiffKind::Fields => "fields",
        };
        k == kind
    }
}

/// `GET /audit/{id}`: one event, its payload as a readable diff.
pub async fn page_audit_event(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
    htmx: Htmx,
    Path(id): Path<String>,
) -> Result<Html<String>, UiError> {
    let event = state.store.audit_event(&id).await.map_err(ApiError::from)?;
    let e = AuditEventResponse::from(&event);
    let page = EventPage {
        layout: Layout::new(Some(gov.caller()), "audit", format!("Audit event #{}", e.seq)),
        when: When::precise(&e.occurred_at),
        diff: PayloadDiff::of_event(&e.action, &e.payload),
        inline: htmx.request,
        e,
    };
    let html = if htmx.request {
        page.as_detail().render()?
    } else {
        page.render()?
    };
    Ok(Html(html))
}

#[derive(Template)]
#[template(path = "audit/verify.html", blocks = ["result"])]
struct VerifyPage {
    layout: Layout,
    r: VerifyResponse,
    head_short: String,
}

/// `POST /audit/verify`: check the whole chain and its signed checkpoints.
pub async fn form_verify(
    State(state): State<AppState>,
    SignedIn(gov): SignedIn<GovernanceAdmin>,
    htmx: Htmx,
) -> Result<Response, UiError> {
    let r = verify(&state).await?;
    let page = VerifyPage {
        layout: Layout::new(Some(gov.caller()), "audit", "Audit chain check"),
        head_short: r.head_hash.chars().take(16).collect(),
        r,
    };
    let html = if htmx.request {
        page.as_result().render()?
    } else {
        page.render()?
    };
    Ok(Html(html).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_url_and_exports_carry_exactly_the_filters() {
        let f = AuditFilters {
            action: "user.*".into(),
            since: " 2026-01-01 ".into(),
            cursor: "42".into(),
            ..Default::default()
        };
        assert_eq!(f.query_string(), "action=user.*&since=2026-01-01");
        assert_eq!(
            f.with(&[("format", "csv")]),
            "action=user.*&since=2026-01-01&format=csv"
        );
        assert_eq!(AuditFilters::input_type("2026-01-01"), "date");
        assert_eq!(AuditFilters::input_type("2026-01-01T10:00:00Z"), "text");
    }

    #[test]
    fn a_bare_id_filters_by_its_target() {
        let f = AuditFilters {
            target: "bdl_0123".into(),
            ..Default::default()
        };
        assert_eq!(f.to_api().target.as_deref(), Some("bundle:bdl_0123"));
        let f = AuditFilters {
            target: "bundle".into(),
            ..Default::default()
        };
        assert_eq!(f.to_api().target.as_deref(), Some("bundle"));
        assert_eq!(target_type_of("pov_1"), Some("policy_version"));
    }
}
