//! Bundles: the list (`/bundles`, its filters in the URL so the dashboard can link
//! to a slice of it), and making a bundle (`/bundles/new`): fresh, following
//! chosen policies, or copied from a previous bundle after a preview of what will
//! be carried over.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use charter_store::policy::VersionStatus;
use serde::Deserialize;

use super::present::{self, when};
use super::{FormErrors, Layout, SignedIn, UiError, When, form_problem, page_with_status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::governance::bundle::{self, BundleFilter, CopyPlan};
use crate::governance::project::{self, Access};
use crate::state::AppState;

/// The list's filters, exactly as they appear in the page's URL.
#[derive(Debug, Default, Deserialize)]
pub struct BundleFilters {
    #[serde(default)]
    project: String,
    #[serde(default)]
    policy: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    classification: String,
    /// 1-based page of the list.
    #[serde(default)]
    page: String,
}

/// Bundles per page of the list.
const PAGE_SIZE: usize = 50;

impl BundleFilters {
    fn page(&self) -> usize {
        self.page.trim().parse::<usize>().unwrap_or(1).max(1)
    }

    /// This view's URL at another page.
    fn page_url(&self, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = [
            ("project", &self.project),
            ("policy", &self.policy),
            ("state", &self.state),
            ("stage", &self.stage),
            ("classification", &self.classification),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_owned()))
        .collect();
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
        if query.is_empty() {
            "/bundles".to_owned()
        } else {
            format!("/bundles?{query}")
        }
    }

    fn to_filter(&self) -> BundleFilter {
        let opt = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        BundleFilter {
            project: opt(&self.project),
            state: opt(&self.state),
            policy: opt(&self.policy),
            stage: opt(&self.stage),
            classification: opt(&self.classification),
        }
    }

    fn is_empty(&self) -> bool {
        [
            &self.project,
            &self.policy,
            &self.state,
            &self.stage,
            &self.classification,
        ]
        .iter()
        .all(|v| v.trim().is_empty())
    }

    /// The filters as a query string (to go from the list to a new bundle in
    /// the same project, for instance).
    fn project_query(&self) -> String {
        if self.project.trim().is_empty() {
            String::new()
        } else {
            format!(
                "?{}",
                serde_urlencoded::to_string([("project", self.project.trim())]).unwrap_or_default()
            )
        }
    }
}

/// A policy's standing on a listed bundle.
pub struct StandingCell {
    pub(super) policy: String,
    pub(super) version: i64,
    pub(super) stage: String,
    pub(super) classification: String,
    pub(super) class: &'static str,
    pub(super) compliant: bool,
}

/// A row of the bundles table.
pub struct BundleRow {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) project: String,
    pub(super) state: String,
    pub(super) state_label: &'static str,
    pub(super) compliant: bool,
    pub(super) copied: bool,
    pub(super) standings: Vec<StandingCell>,
    pub(super) updated: When,
}

/// One choice of a filter's `<select>`.
pub struct Opt {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "bundle/list.html")]
struct BundlesPage {
    layout: Layout,
    filters: BundleFilters,
    errors: FormErrors,
    rows: Vec<BundleRow>,
    projects: Vec<Opt>,
    policies: Vec<Opt>,
    filtered: bool,
    new_href: String,
    can_write: bool,
    /// The URL's project or policy is one of the choices (else it is added as typed).
    project_known: bool,
    policy_known: bool,
    /// Rows shown: from `first` (1-based).
    first: usize,
    prev_url: Option<String>,
    next_url: Option<String>,
}

/// Which projects the caller may read, as choices.
async fn project_options(state: &AppState, caller: &Caller) -> Result<Vec<Opt>, UiError> {
    Ok(project::list_for(state, &caller.user)
        .await?
        .into_iter()
        .map(|p| Opt {
            value: p.name.clone(),
            label: p.name,
        })
        .collect())
}

/// Every policy by name, with its newest published version if any.
async fn policy_options(state: &AppState) -> Result<Vec<(Opt, Option<i64>, String)>, UiError> {
    Ok(crate::governance::policy::list(state)
        .await?
        .into_iter()
        .map(|(p, versions)| {
            let published = versions
                .iter()
                .filter(|v| v.status == VersionStatus::Published)
                .map(|v| v.version)
                .max();
            (
                Opt {
                    value: p.name.clone(),
                    label: p.name,
                },
                published,
                p.description,
            )
        })
        .collect())
}

/// Rows for the table.
pub fn rows(summaries: &[crate::governance::bundle::notebook::BundleSummary]) -> Vec<BundleRow> {
    summaries
        .iter()
        .map(|s| BundleRow {
            id: s.id.clone(),
            name: s.name.clone(),
            project: s.project.clone(),
            state_label: present::bundle_state(&s.state),
            state: s.state.clone(),
            compliant: s.compliant,
            copied: s.copied_from.is_some(),
            standings: s
                .policies
                .iter()
                .map(|p| StandingCell {
                    policy: p.policy.clone(),
                    version: p.version,
                    stage: p.current_stage.clone(),
                    classification: p.classification.clone().unwrap_or_else(|| "Unclassified".into()),
                    class: present::classification_class(p.classification.as_deref()),
                    compliant: p.compliant,
                })
                .collect(),
            updated: when(&s.updated_at),
        })
        .collect()
}

/// `GET /bundles`: the bundles the caller may read, filtered by the URL's
/// `project`, `policy`, `state`, `stage` and `classification`.
pub async fn page_bundles(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Query(filters): Query<BundleFilters>,
) -> Result<Response, UiError> {
    let page_number = filters.page();
    let offset = (page_number - 1) * PAGE_SIZE;
    let (found, more, errors) =
        match bundle::list_page(&state, &caller.user, &filters.to_filter(), offset, PAGE_SIZE).await {
            Ok((found, more)) => (found, more, FormErrors::default()),
            Err(e) => {
                let fields = ["project", "policy", "state", "stage", "classification"];
                (
                    Vec::new(),
                    false,
                    FormErrors::from_message(form_problem(e)?, &fields, &[]),
                )
            }
        };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let projects = project_options(&state, &caller).await?;
    let policies: Vec<Opt> = policy_options(&state).await?.into_iter().map(|(o, _, _)| o).collect();
    let page = BundlesPage {
        layout: Layout::new(Some(&caller), "bundles", "Bundles"),
        rows: rows(&found),
        project_known: projects.iter().any(|p| p.value == filters.project.trim()),
        policy_known: policies.iter().any(|p| p.value == filters.policy.trim()),
        projects,
        policies,
        filtered: !filters.is_empty(),
        new_href: format!("/bundles/new{}", filters.project_query()),
        first: offset + 1,
        prev_url: (page_number > 1).then(|| filters.page_url(page_number - 1)),
        next_url: more.then(|| filters.page_url(page_number + 1)),
        can_write: caller.user.role.can_write(),
        filters,
        errors,
    };
    Ok(page_with_status(status, page.render()?))
}

/// What `/bundles/new` starts from.
#[derive(Debug, Default, Deserialize)]
pub struct NewQuery {
    #[serde(default)]
    project: String,
    /// Copy this bundle (`bdl_…`): the page previews what carries over.
    #[serde(default)]
    copy_from: String,
}

/// The new-bundle form, as typed.
#[derive(Debug, Default)]
pub struct NewBundleForm {
    project: String,
    name: String,
    description: String,
    /// Policy names, one per checked box.
    policy: Vec<String>,
}

impl NewBundleForm {
    /// From the posted fields (`policy` repeats, which serde_urlencoded cannot
    /// gather into a list).
    fn from_fields(fields: Vec<(String, String)>) -> Self {
        let mut form = Self::default();
        for (k, v) in fields {
            match k.as_str() {
                "project" => form.project = v,
                "name" => form.name = v,
                "description" => form.description = v,
                "policy" => form.policy.push(v),
                _ => {}
            }
        }
        form
    }
}

/// A published policy to choose.
pub struct PolicyChoice {
    name: String,
    version: i64,
    description: String,
    checked: bool,
}

/// An answer a copy carries over, as the preview shows it.
pub struct CarriedRow {
    policy: String,
    label: String,
    input_id: String,
    stage: String,
    value: String,
    by: String,
    at: When,
    provenance: String,
}

/// The preview of a copy.
pub struct CopyPreview {
    source_id: String,
    source_name: String,
    project: String,
    policies: Vec<String>,
    answers: Vec<CarriedRow>,
    attachments: Vec<(String, String, Option<String>, String)>,
    skipped: Vec<String>,
}

#[derive(Template)]
#[template(path = "bundle/new.html")]
struct NewBundlePage {
    layout: Layout,
    form: NewBundleForm,
    errors: FormErrors,
    projects: Vec<Opt>,
    policies: Vec<PolicyChoice>,
    /// Bundles the caller may copy from.
    sources: Vec<Opt>,
    copy_from: String,
    preview: Option<CopyPreview>,
    copy_name: String,
    copy_description: String,
    copy_errors: FormErrors,
}

impl NewBundlePage {
    async fn build(state: &AppState, caller: &Caller, q: &NewQuery) -> Result<Self, UiError> {
        let mut projects = Vec::new();
        for p in project::list_for(state, &caller.user).await? {
            if project::require(state, &caller.user, &p, Access::Write).await.is_ok() {
                projects.push(Opt {
                    value: p.name.clone(),
                    label: p.name,
                });
            }
        }
        let policies = policy_options(state)
            .await?
            .into_iter()
            .filter_map(|(o, v, description)| {
                Some(PolicyChoice {
                    name: o.value,
                    version: v?,
                    description,
                    checked: false,
                })
            })
            .collect();
        let sources = bundle::list_for(state, &caller.user, None, None)
            .await?
            .into_iter()
            .map(|s| Opt {
                label: format!("{} ({})", s.name, s.project),
                value: s.id,
            })
            .collect();
        let preview = match q.copy_from.trim() {
            "" => None,
            id => Some(preview(state, caller, id).await?),
        };
        Ok(Self {
            layout: Layout::new(Some(caller), "bundles", "New bundle"),
            form: NewBundleForm {
                project: q.project.clone(),
                ..NewBundleForm::default()
            },
            errors: FormErrors::default(),
            projects,
            policies,
            sources,
            copy_from: q.copy_from.trim().to_owned(),
            copy_name: String::new(),
            copy_description: String::new(),
            copy_errors: FormErrors::default(),
            preview,
        })
    }
}

async fn preview(state: &AppState, caller: &Caller, id: &str) -> Result<CopyPreview, UiError> {
    let source = bundle::find(state, id).await?;
    let plan: CopyPlan = bundle::preview_copy(state, &caller.user, &source).await?;
    let nb = bundle::notebook(state, &caller.user, &source).await?;
    let answers = plan
        .carried
        .iter()
        .map(|c| {
            let input = nb
                .policies
                .iter()
                .filter(|p| p.name == c.policy)
                .flat_map(|p| p.stages.iter())
                .flat_map(|s| s.evidence_sets.iter())
                .flat_map(|s| s.inputs.iter())
                .find(|i| i.id == c.input_id);
            CarriedRow {
                policy: c.policy.clone(),
                label: c.label.clone(),
                input_id: c.input_id.clone(),
                stage: c.stage.clone(),
                value: match input {
                    Some(i) => present::answer_text(i, &c.value, &nb.attachments),
                    None => present::json_text(&c.value),
                },
                by: c.answered_by.clone(),
                at: when(&c.answered_at),
                provenance: c.provenance.clone(),
            }
        })
        .collect();
    Ok(CopyPreview {
        source_id: nb.id.clone(),
        source_name: nb.name.clone(),
        project: nb.project.clone(),
        policies: plan.policies.clone(),
        answers,
        attachments: plan
            .carried_attachments
            .iter()
            .map(|a| {
                (
                    a.name.clone(),
                    present::attachment_kind(&a.kind),
                    a.sha256.clone(),
                    a.provenance.clone(),
                )
            })
            .collect(),
        skipped: plan.skipped,
    })
}

/// `GET /bundles/new`: start a bundle, or (`?copy_from=`) preview a copy.
pub async fn page_new_bundle(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Query(q): Query<NewQuery>,
) -> Result<Html<String>, UiError> {
    let mut page = NewBundlePage::build(&state, &caller, &q).await?;
    if let Some(p) = &page.preview {
        page.copy_name = format!("{} (copy)", p.source_name);
    }
    Ok(Html(page.render()?))
}

/// `POST /bundles`: create a bundle in a project, following the checked
/// policies, and open its notebook.
pub async fn form_create_bundle(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, UiError> {
    let form = NewBundleForm::from_fields(fields);
    let created = async {
        let p = match project::find(&state, form.project.trim()).await {
            Err(e) if e.status == StatusCode::NOT_FOUND || form.project.trim().is_empty() => {
                return Err(ApiError::invalid("project: choose the project the bundle belongs to"));
            }
            other => other?,
        };
        bundle::create(
            &state,
            &caller.audit(),
            &caller.user,
            &p,
            &form.name,
            &form.description,
            &form.policy,
        )
        .await
    }
    .await;
    match created {
        Ok(b) => Ok(Redirect::to(&format!("/bundles/{}?done=created", b.id)).into_response()),
        Err(e) => {
            let message = if e.status == StatusCode::FORBIDDEN {
                e.message
            } else {
                form_problem(e)?
            };
            let q = NewQuery {
                project: form.project.clone(),
                copy_from: String::new(),
            };
            let mut page = NewBundlePage::build(&state, &caller, &q).await?;
            let fields = ["project", "name", "description", "policies"];
            page.errors = FormErrors::from_message(message, &fields, &[("bundle", "name"), ("policy", "policies")]);
            for choice in &mut page.policies {
                choice.checked = form.policy.contains(&choice.name);
            }
            page.form = form;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// The confirm-copy form.
#[derive(Debug, Default, Deserialize)]
pub struct CopyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// `POST /bundles/{id}/copy`: copy the bundle after its preview, and open the
/// copy's notebook with the carried-over answers highlighted.
pub async fn form_copy_bundle(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<CopyForm>,
) -> Result<Response, UiError> {
    let source = bundle::find(&state, &id).await?;
    match bundle::copy(
        &state,
        &caller.audit(),
        &caller.user,
        &source,
        &form.name,
        &form.description,
    )
    .await
    {
        Ok((b, _)) => Ok(Redirect::to(&format!("/bundles/{}?done=copied", b.id)).into_response()),
        Err(e) => {
            let message = if e.status == StatusCode::FORBIDDEN {
                e.message
            } else {
                form_problem(e)?
            };
            let q = NewQuery {
                project: String::new(),
                copy_from: id,
            };
            let mut page = NewBundlePage::build(&state, &caller, &q).await?;
            page.copy_errors = FormErrors::from_message(message, &["name", "description"], &[("bundle", "name")]);
            page.copy_name = form.name;
            page.copy_description = form.description;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}
