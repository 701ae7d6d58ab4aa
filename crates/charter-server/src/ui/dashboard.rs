//! The dashboard, Charter's home page (`/`; `/dashboard` redirects there): where
//! bundles stand, which approvals wait or lapse, which findings are open, the last
//! twelve weeks and recent activity — across every project for governance admins,
//! across their own projects for everyone else.
//!
//! The numbers are [`governance::bundle::dashboard`]'s (the same as
//! `GET /api/v1/dashboard`), drawn with [`super::chart`]. Every count links to the
//! list it counts (`/bundles?state=active&policy=…`, `/findings?severity=high…`),
//! carrying the page's own filters; the filters (`project`, `policy`) live in the
//! URL, so a view can be shared.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chart::{BarChart, ChartHtml, Datum, DonutChart, HBarChart, LineChart, Series, Tone, XAxis};
use super::{Htmx, Layout, SignedIn, UiError, When, form_problem, page_with_status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::governance::bundle::dashboard::{
    self, ApprovalItem, Dashboard, EXPIRING_WITHIN_DAYS, OVERDUE_AFTER_DAYS, TREND_WEEKS,
};
use crate::governance::{parsed, project};
use crate::state::AppState;

/// The page's filters, exactly as they appear in its URL.
#[derive(Debug, Default, Deserialize)]
pub struct DashboardFilters {
    #[serde(default)]
    project: String,
    #[serde(default)]
    policy: String,
}

impl DashboardFilters {
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        [("project", self.project.trim()), ("policy", self.policy.trim())]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect()
    }

    /// `path?<extra>&<these filters>`: a list filtered like this view.
    fn link(&self, path: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = extra.to_vec();
        for (k, v) in self.pairs() {
            // A chart's own policy wins over the page's policy filter (they agree when both are set).
            if !pairs.iter().any(|(key, _)| *key == k) {
                pairs.push((k, v));
            }
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        }
    }

    fn view_url(&self) -> String {
        self.link("/", &[])
    }
}

/// A choice of a filter `<select>`.
pub struct Opt {
    value: String,
    label: String,
}

/// A headline number.
struct Stat {
    label: &'static str,
    value: usize,
    href: Option<String>,
    /// `warn` or `danger` when the number wants attention; empty otherwise.
    tone: &'static str,
    note: String,
}

/// An approval row (overdue, expiring).
struct ApprovalRow {
    bundle_id: String,
    bundle: String,
    name: String,
    policy: String,
    stage: String,
    days: i64,
}

impl From<&ApprovalItem> for ApprovalRow {
    fn from(a: &ApprovalItem) -> Self {
        Self {
            bundle_id: a.bundle_id.clone(),
            bundle: a.bundle.clone(),
            name: a.name.clone(),
            policy: a.policy.clone(),
            stage: a.stage.clone(),
            days: a.days_pending.or(a.days_left).unwrap_or_default(),
        }
    }
}

struct ActivityRow {
    id: String,
    when: When,
    actor: String,
    action: String,
    bundle_id: String,
    bundle: String,
}

#[derive(Template)]
#[template(path = "dashboard.html", blocks = ["body"])]
struct DashboardPage {
    layout: Layout,
    filters: DashboardFilters,
    projects: Vec<Opt>,
    policies: Vec<Opt>,
    /// A filter the API refused, in its words.
    error: Option<String>,
    /// "Every project", "Your 2 projects", "Project helpbot".
    scope: String,
    stats: Vec<Stat>,
    by_state: ChartHtml,
    by_severity: ChartHtml,
    by_stage: ChartHtml,
    by_classification: ChartHtml,
    trend: ChartHtml,
    overdue: Vec<ApprovalRow>,
    expiring: Vec<ApprovalRow>,
    activity: Vec<ActivityRow>,
    /// Governance admins may open audit events.
    audit_links: bool,
    overdue_days: i64,
    expiring_days: i64,
    /// Rendered for htmx: the filter error travels out of band.
    htmx: bool,
}

/// `GET /dashboard`: the dashboard is the home page; keep old links working.
pub async fn redirect_dashboard(RawQuery(query): RawQuery) -> Redirect {
    match query.filter(|q| !q.is_empty()) {
        Some(q) => Redirect::permanent(&format!("/?{q}")),
        None => Redirect::permanent("/"),
    }
}

/// `GET /`: the dashboard, for the filters in the URL; for htmx (the filters
/// changed) only its body, with the new URL pushed.
pub async fn page_dashboard(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    htmx: Htmx,
    Query(filters): Query<DashboardFilters>,
) -> Result<Response, UiError> {
    let projects = project::list_for(&state, &caller.user)
        .await?
        .into_iter()
        .map(|p| Opt {
            value: p.name.clone(),
            label: p.name,
        })
        .collect();
    let policies = state
        .store
        .policies()
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|p| Opt {
            value: p.name.clone(),
            label: p.name,
        })
        .collect();
    let project = Some(filters.project.as_str()).filter(|p| !p.trim().is_empty());
    let policy = Some(filters.policy.as_str()).filter(|p| !p.trim().is_empty());
    let (data, error) = match dashboard::dashboard(&state, &caller.user, project, policy).await {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(form_problem(e)?)),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = build(&state, &caller, filters, projects, policies, data, error, htmx.request).await?;
    if htmx.request {
        let mut response = page_with_status(status, page.as_body().render()?);
        if let Ok(v) = HeaderValue::from_str(&page.filters.view_url()) {
            response.headers_mut().insert(HeaderName::from_static("hx-push-url"), v);
        }
        return Ok(response);
    }
    Ok(page_with_status(status, page.render()?).into_response())
}

/// The order of each policy's stages, from its newest published version (so the
/// stage chart reads Intake → Validation, not alphabetically).
async fn stage_orders(state: &AppState, d: &Dashboard) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for row in &d.bundles.by_policy_stage {
        if out.contains_key(&row.policy_id) {
            continue;
        }
        let Ok(id) = row.policy_id.parse() else { continue };
        let order = match state.store.latest_published(id).await {
            Ok(Some(v)) => parsed(state, &v)
                .map(|p| p.stages().iter().map(|s| s.name().to_owned()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        out.insert(row.policy_id.clone(), order);
    }
    out
}

#[expect(clippy::too_many_arguments, reason = "the page's parts, assembled once")]
async fn build(
    state: &AppState,
    caller: &Caller,
    filters: DashboardFilters,
    projects: Vec<Opt>,
    policies: Vec<Opt>,
    data: Option<Dashboard>,
    error: Option<String>,
    htmx: bool,
) -> Result<DashboardPage, UiError> {
    let layout = Layout::new(Some(caller), "dashboard", "Dashboard");
    let mut page = DashboardPage {
        layout,
        projects,
        policies,
        error,
        scope: String::new(),
        stats: Vec::new(),
        by_state: DonutChart::new("Bundles by state", "bundles").render(),
        by_severity: BarChart::new("Open findings by severity", "findings").render(),
        by_stage: HBarChart::new("Active bundles by stage", "bundles").render(),
        by_classification: BarChart::new("Bundles by classification", "bundles").render(),
        trend: LineChart::new("The last 12 weeks", "").render(),
        overdue: Vec::new(),
        expiring: Vec::new(),
        activity: Vec::new(),
        audit_links: caller.user.role.is_governance_admin(),
        overdue_days: OVERDUE_AFTER_DAYS,
        expiring_days: EXPIRING_WITHIN_DAYS,
        htmx,
        filters,
    };
    let Some(d) = data else {
        page.scope = "Nothing to show for these filters".into();
        return Ok(page);
    };
    let f = &page.filters;
    page.scope = match (&d.scope.project, d.scope.all_projects) {
        (Some(p), _) => format!("Project {p}"),
        (None, true) => format!("Every project ({})", plural(d.scope.projects, "project", "projects")),
        (None, false) => format!("Your {}", plural(d.scope.projects, "project", "projects")),
    };
    if let Some(p) = &d.scope.policy {
        page.scope.push_str(&format!(", bundles following {p}"));
    }
    let findings_overdue = d.findings.overdue;
    page.stats = vec![
        Stat {
            label: "Bundles",
            value: d.bundles.total,
            href: Some(f.link("/bundles", &[])),
            tone: "",
            note: format!("{} active", d.bundles.by_state.active),
        },
        Stat {
            label: "Approvals pending",
            value: d.approvals.pending,
            href: None,
            tone: "",
            note: "review requested, not yet decided".into(),
        },
        Stat {
            label: "Approvals overdue",
            value: d.approvals.overdue.len(),
            href: (!d.approvals.overdue.is_empty()).then(|| "#overdue-heading".to_owned()),
            tone: if d.approvals.overdue.is_empty() { "" } else { "warn" },
            note: format!("pending more than {OVERDUE_AFTER_DAYS} days"),
        },
        Stat {
            label: "Open findings",
            value: d.findings.open,
            href: Some(f.link("/findings", &[("status", "open")])),
            tone: "",
            note: "open or in progress".into(),
        },
        Stat {
            label: "Findings overdue",
            value: findings_overdue,
            href: Some(f.link("/findings", &[("overdue", "true")])),
            tone: if findings_overdue == 0 { "" } else { "danger" },
            note: "past their due date".into(),
        },
    ];

    let s = &d.bundles.by_state;
    page.by_state = DonutChart::new("Bundles by state", "bundles")
        .describe("Every bundle in scope by its state.")
        .empty("No bundles yet.")
        .no_caption()
        .part(
            Datum::new("Active", s.active as f64)
                .tone(Tone::Accent)
                .href(f.link("/bundles", &[("state", "active")])),
        )
        .part(
            Datum::new("Complete", s.complete as f64)
                .tone(Tone::Ok)
                .href(f.link("/bundles", &[("state", "complete")])),
        )
        .part(
            Datum::new("Archived", s.archived as f64)
                .tone(Tone::Muted)
                .href(f.link("/bundles", &[("state", "archived")])),
        )
        .render();

    let sev = &d.findings.open_by_severity;
    let severity = |label: &str, value: usize, tone: Tone, key: &str| {
        Datum::new(label, value as f64)
            .tone(tone)
            .href(f.link("/findings", &[("severity", key), ("status", "open")]))
    };
    page.by_severity = BarChart::new("Open findings by severity", "findings")
        .describe("Findings open or in progress, of bundles that are not archived.")
        .empty("No open findings.")
        .no_caption()
        .bar(severity("Critical", sev.critical, Tone::Critical, "critical"))
        .bar(severity("High", sev.high, Tone::High, "high"))
        .bar(severity("Medium", sev.medium, Tone::Medium, "medium"))
        .bar(severity("Low", sev.low, Tone::Low, "low"))
        .render();

    // Active bundles per policy, stages in the policy's order.
    let orders = stage_orders(state, &d).await;
    // (policy id, policy name, its stages with their counts)
    type StagesOfPolicy = (String, String, Vec<(String, usize)>);
    let mut by_policy: Vec<StagesOfPolicy> = Vec::new();
    for row in &d.bundles.by_policy_stage {
        match by_policy.iter_mut().find(|(id, _, _)| *id == row.policy_id) {
            Some((_, _, stages)) => stages.push((row.stage.clone(), row.count)),
            None => by_policy.push((
                row.policy_id.clone(),
                row.policy.clone(),
                vec![(row.stage.clone(), row.count)],
            )),
        }
    }
    let mut stage_chart = HBarChart::new("Active bundles by stage", "bundles")
        .describe("Where active bundles stand: the current stage of each policy they follow.")
        .empty("No active bundles.")
        .no_caption();
    for (i, (policy_id, policy, mut stages)) in by_policy.into_iter().enumerate() {
        let order = orders.get(&policy_id).cloned().unwrap_or_default();
        stages.sort_by_key(|(stage, _)| order.iter().position(|s| s == stage).unwrap_or(usize::MAX));
        let rows = stages
            .into_iter()
            .map(|(stage, count)| {
                Datum::new(stage.clone(), count as f64)
                    .tone(Tone::Series(i))
                    .href(f.link(
                        "/bundles",
                        &[("state", "active"), ("policy", &policy_id), ("stage", &stage)],
                    ))
            })
            .collect();
        stage_chart = stage_chart.group(policy, rows);
    }
    page.by_stage = stage_chart.render();

    let mut class_chart = BarChart::new("Bundles by classification", "bundles")
        .describe("Active and complete bundles per policy, by the classification the policy gave them.")
        .empty("No classified bundles yet.")
        .no_caption();
    let mut classes: Vec<(String, String, Vec<Datum>)> = Vec::new();
    for row in &d.bundles.by_classification {
        let label = row.classification.clone().unwrap_or_else(|| "Unclassified".into());
        let value = row.classification.clone().unwrap_or_else(|| "none".into());
        let datum = Datum::new(label.clone(), row.count as f64)
            .href(f.link("/bundles", &[("policy", &row.policy_id), ("classification", &value)]))
            .tone(classification_tone(&label));
        match classes.iter_mut().find(|(id, _, _)| *id == row.policy_id) {
            Some((_, _, segments)) => segments.push(datum),
            None => classes.push((row.policy_id.clone(), row.policy.clone(), vec![datum])),
        }
    }
    for (_, policy, mut segments) in classes {
        segments.sort_by_key(|d| classification_rank(&d.label));
        class_chart = class_chart.stack(policy, segments);
    }
    page.by_classification = class_chart.render();

    let week = |w: &dashboard::TrendWeek| charter_domain::time::parse_instant(&w.week_start).unwrap_or_default() as f64;
    let series = |name: &str, tone: Tone, pick: fn(&dashboard::TrendWeek) -> usize| {
        Series::new(name, d.trend.iter().map(|w| (week(w), pick(w) as f64)).collect()).tone(tone)
    };
    let active_weeks = d
        .trend
        .iter()
        .any(|w| w.bundles_created + w.approvals_decided + w.findings_opened > 0);
    page.trend = if active_weeks {
        LineChart::new(format!("The last {TREND_WEEKS} weeks"), "")
            .describe("Per week: bundles created, approvals decided and findings opened.")
            .no_caption()
            .size(1100.0, 260.0)
            .x_axis(XAxis::Time)
            .x_label("week starting (UTC)")
            .y_label("per week")
            .y_from_zero()
            .series(series("Bundles created", Tone::Accent, |w| w.bundles_created))
            .series(series("Approvals decided", Tone::Ok, |w| w.approvals_decided))
            .series(series("Findings opened", Tone::High, |w| w.findings_opened))
            .render()
    } else {
        LineChart::new(format!("The last {TREND_WEEKS} weeks"), "")
            .empty("Nothing happened in these twelve weeks.")
            .no_caption()
            .render()
    };

    page.overdue = d.approvals.overdue.iter().map(ApprovalRow::from).collect();
    page.expiring = d.approvals.expiring_soon.iter().map(ApprovalRow::from).collect();
    page.activity = d
        .recent_activity
        .iter()
        .map(|a| ActivityRow {
            id: a.id.clone(),
            when: When::precise(&a.occurred_at),
            actor: a.actor_name.clone(),
            action: a.action.clone(),
            bundle_id: a.bundle_id.clone(),
            bundle: a.bundle.clone(),
        })
        .collect();
    Ok(page)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Classifications people recognise get colours that mean something; others share
/// the palette.
fn classification_tone(label: &str) -> Tone {
    match label.to_ascii_lowercase().as_str() {
        "prohibited" | "critical" | "tier 1" => Tone::Critical,
        "high" => Tone::High,
        "medium" | "limited" | "tier 2" => Tone::Medium,
        "low" | "minimal" | "tier 3" => Tone::Low,
        "unclassified" | "not a model" => Tone::Muted,
        other => Tone::Series(other.bytes().map(usize::from).sum::<usize>()),
    }
}

/// Stacks read from the most to the least severe.
fn classification_rank(label: &str) -> usize {
    match label.to_ascii_lowercase().as_str() {
        "prohibited" | "critical" | "tier 1" => 0,
        "high" => 1,
        "medium" | "limited" | "tier 2" => 2,
        "low" | "minimal" | "tier 3" => 3,
        "unclassified" | "not a model" => 5,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_page_filters_and_their_own() {
        let f = DashboardFilters {
            project: "helpbot".into(),
            policy: "Model risk".into(),
        };
        assert_eq!(
            f.link("/bundles", &[("state", "active")]),
            "/bundles?state=active&project=helpbot&policy=Model+risk"
        );
        // A chart row's own policy replaces the page's.
        assert_eq!(
            f.link("/bundles", &[("policy", "pol_1"), ("stage", "Intake & review")]),
            "/bundles?policy=pol_1&stage=Intake+%26+review&project=helpbot"
        );
        assert_eq!(DashboardFilters::default().view_url(), "/");
        assert_eq!(f.view_url(), "/?project=helpbot&policy=Model+risk");
    }
}
