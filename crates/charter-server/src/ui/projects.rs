//! Projects: the caller's projects (`/projects`), creating one (anyone but
//! viewers, as the API allows; the creator owns it), and a project's page with its
//! bundles and members (owners and admins manage members).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use charter_store::project::{Project, ProjectRole};
use serde::Deserialize;

use super::bundles::{BundleRow, rows};
use super::{FormErrors, Layout, SignedIn, UiError, When, form_problem, page_with_status};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::governance::bundle::{self, BundleFilter};
use crate::governance::{project, review};
use crate::state::AppState;

/// A project in the list.
pub struct ProjectRow {
    name: String,
    description: String,
    role: Option<&'static str>,
    bundles: usize,
    created: When,
}

/// The new-project form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct ProjectForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Template)]
#[template(path = "project/list.html")]
struct ProjectsPage {
    layout: Layout,
    rows: Vec<ProjectRow>,
    can_create: bool,
    all: bool,
    form: ProjectForm,
    errors: FormErrors,
}

fn role_label(role: ProjectRole) -> &'static str {
    match role {
        ProjectRole::Owner => "Owner",
        ProjectRole::Member => "Member",
        ProjectRole::Viewer => "Viewer",
    }
}

impl ProjectsPage {
    async fn build(state: &AppState, caller: &Caller) -> Result<Self, UiError> {
        let mut rows = Vec::new();
        for p in project::list_for(state, &caller.user).await? {
            let role = state
                .store
                .project_role(p.id, caller.user.id)
                .await
                .map_err(ApiError::from)?;
            let bundles = state.store.bundles(Some(p.id)).await.map_err(ApiError::from)?.len();
            rows.push(ProjectRow {
                name: p.name,
                description: p.description,
                role: role.map(role_label),
                bundles,
                created: When::from_ms(p.created_at),
            });
        }
        Ok(Self {
            layout: Layout::new(Some(caller), "projects", "Projects"),
            rows,
            can_create: caller.user.role.can_write(),
            all: caller.user.role.is_governance_admin(),
            form: ProjectForm::default(),
            errors: FormErrors::default(),
        })
    }
}

/// `GET /projects`.
pub async fn page_projects(State(state): State<AppState>, SignedIn(caller): SignedIn) -> Result<Html<String>, UiError> {
    Ok(Html(ProjectsPage::build(&state, &caller).await?.render()?))
}

/// `POST /projects`: create a project; its creator owns it.
pub async fn form_create_project(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Form(form): Form<ProjectForm>,
) -> Result<Response, UiError> {
    match project::create(&state, &caller.audit(), &caller.user, &form.name, &form.description).await {
        Ok(p) => Ok(Redirect::to(&format!("/projects/{}?done=created", p.name)).into_response()),
        Err(e) => {
            let message = if e.status == StatusCode::FORBIDDEN {
                e.message
            } else {
                form_problem(e)?
            };
            let mut page = ProjectsPage::build(&state, &caller).await?;
            page.errors = FormErrors::from_message(message, &["name", "description"], &[("project", "name")]);
            page.form = form;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// A member of the project.
pub struct MemberRow {
    username: String,
    display_name: String,
    role: &'static str,
    role_value: &'static str,
}

/// The add-member form, as typed.
#[derive(Debug, Default, Deserialize)]
pub struct MemberForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "project/page.html")]
struct ProjectPage {
    layout: Layout,
    name: String,
    description: String,
    created: When,
    members: Vec<MemberRow>,
    bundles: Vec<BundleRow>,
    can_write: bool,
    manages: bool,
    form: MemberForm,
    errors: FormErrors,
    notice: Option<&'static str>,
}

impl ProjectPage {
    async fn build(state: &AppState, caller: &Caller, p: &Project) -> Result<Self, UiError> {
        let members = project::detail(state, &caller.user, p).await?;
        let mine = members.iter().find(|(u, _)| u.id == caller.user.id).map(|(_, r)| *r);
        let filter = BundleFilter {
            project: Some(p.id.to_string()),
            ..BundleFilter::default()
        };
        let summaries = bundle::list_filtered(state, &caller.user, &filter).await?;
        Ok(Self {
            layout: Layout::new(Some(caller), "projects", p.name.clone()),
            name: p.name.clone(),
            description: p.description.clone(),
            created: When::from_ms(p.created_at),
            members: members
                .iter()
                .map(|(u, r)| MemberRow {
                    username: u.username.clone(),
                    display_name: u.display_name.clone(),
                    role: role_label(*r),
                    role_value: r.as_str(),
                })
                .collect(),
            bundles: rows(&summaries),
            can_write: mine.is_some_and(ProjectRole::can_write) && caller.user.role.can_write(),
            manages: mine == Some(ProjectRole::Owner) || caller.user.role.is_admin(),
            form: MemberForm {
                user: String::new(),
                role: "member".into(),
            },
            errors: FormErrors::default(),
            notice: None,
        })
    }
}

/// What the last form did.
#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    #[serde(default)]
    done: Option<String>,
}

/// `GET /projects/{name}`: its bundles and members.
pub async fn page_project(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(name): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Html<String>, UiError> {
    let p = project::find(&state, &name).await?;
    let mut page = ProjectPage::build(&state, &caller, &p).await?;
    page.notice = match q.done.as_deref() {
        Some("created") => Some("Project created. You own it: add members, then start a bundle."),
        Some("member") => Some("Members updated."),
        _ => None,
    };
    Ok(Html(page.render()?))
}

/// `POST /projects/{name}/members`: add a member or change their role.
pub async fn form_set_member(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Path(name): Path<String>,
    Form(form): Form<MemberForm>,
) -> Result<Response, UiError> {
    let p = project::find(&state, &name).await?;
    let done = async {
        let user = review::named_user(&state, "user", form.user.trim()).await?;
        project::set_member(&state, &caller.audit(), &caller.user, &p, &user, form.role.trim()).await
    }
    .await;
    match done {
        Ok(()) => Ok(Redirect::to(&format!("/projects/{}?done=member", p.name)).into_response()),
        Err(e) => {
            let message = if e.status == StatusCode::FORBIDDEN {
                e.message
            } else {
                form_problem(e)?
            };
            let mut page = ProjectPage::build(&state, &caller, &p).await?;
            page.errors = FormErrors::from_message(message, &["user", "role"], &[]);
            page.form = form;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}
