//! Administration pages (admins only): users and groups.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use charter_domain::Role;
use charter_store::group::Group;
use charter_store::user::User;
use serde::Deserialize;

use super::{FormErrors, Htmx, Layout, SignedIn, UiError, When, form_problem, page_with_status, role_label};
use crate::api::group::{self, CreateGroupRequest, find_group};
use crate::api::user::{self, CreateUserRequest, UpdateUserRequest, check_self_change, find_user};
use crate::auth::{Admin, Caller};
use crate::error::ApiError;
use crate::state::AppState;

/// A choice in a role `<select>`.
pub struct RoleOption {
    value: &'static str,
    label: &'static str,
}

const ROLES: [RoleOption; 4] = [
    RoleOption {
        value: "admin",
        label: "Admin",
    },
    RoleOption {
        value: "governance_admin",
        label: "Governance admin",
    },
    RoleOption {
        value: "practitioner",
        label: "Practitioner",
    },
    RoleOption {
        value: "viewer",
        label: "Viewer",
    },
];

/// A user as the users table shows them.
struct UserRow {
    username: String,
    display_name: String,
    email: String,
    role: &'static str,
    role_label: &'static str,
    disabled: bool,
    created: When,
    /// The admin looking at the page: they cannot disable or demote themselves.
    is_self: bool,
    /// What the last action on this row did, or why it failed.
    notice: Option<&'static str>,
    error: Option<String>,
}

impl UserRow {
    fn new(u: &User, viewer: &Caller) -> Self {
        Self {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            role: u.role.as_str(),
            role_label: role_label(u.role),
            disabled: u.disabled,
            created: When::from_ms(u.created_at),
            is_self: u.id == viewer.user.id,
            notice: None,
            error: None,
        }
    }
}

#[derive(Deserialize)]
pub struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

impl Default for NewUserForm {
    fn default() -> Self {
        Self {
            username: String::new(),
            display_name: String::new(),
            email: String::new(),
            role: Role::Practitioner.as_str().into(),
            password: String::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    roles: &'static [RoleOption],
    form: NewUserForm,
    errors: FormErrors,
    notice: Option<String>,
}

impl UsersPage {
    async fn new(state: &AppState, admin: &Caller) -> Result<Self, UiError> {
        let users = state.store.users().await.map_err(ApiError::from)?;
        Ok(Self {
            layout: Layout::new(Some(admin), "users", "Users"),
            users: users.iter().map(|u| UserRow::new(u, admin)).collect(),
            roles: &ROLES,
            form: NewUserForm::default(),
            errors: FormErrors::default(),
            notice: None,
        })
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    created: Option<String>,
    updated: Option<String>,
    added: Option<String>,
    removed: Option<String>,
}

/// `GET /admin/users`.
pub async fn page_users(
    State(state): State<AppState>,
    SignedIn(admin): SignedIn<Admin>,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, UiError> {
    let mut page = UsersPage::new(&state, admin.caller()).await?;
    page.notice = match (q.created, q.updated) {
        (Some(u), _) => Some(format!("Created the user {u}.")),
        (None, Some(u)) => Some(format!("Updated {u}.")),
        _ => None,
    };
    Ok(Html(page.render()?))
}

/// `POST /admin/users`: create a user.
pub async fn form_create_user(
    State(state): State<AppState>,
    SignedIn(admin): SignedIn<Admin>,
    Form(mut form): Form<NewUserForm>,
) -> Result<Response, UiError> {
    let req = CreateUserRequest {
        username: form.username.clone(),
        display_name: Some(form.display_name.clone()),
        email: form.email.clone(),
        role: Some(form.role.clone()),
        password: Some(form.password.clone()).filter(|p| !p.is_empty()),
    };
    match user::create(&state, &admin.caller().audit(), req).await {
        Ok(user) => Ok(Redirect::to(&format!("/admin/users?created={}", user.username)).into_response()),
        Err(e) => {
            let message = form_problem(e)?;
            let mut page = UsersPage::new(&state, admin.caller()).await?;
            page.errors =
                FormErrors::from_message(message, &["username", "display_name", "email", "role", "password"], &[]);
            form.password.clear();
            page.form = form;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

#[derive(Deserialize)]
pub struct UpdateUserForm {
    role: Option<String>,
    /// `true` to disable, `false` to enable.
    disabled: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/user_row.html")]
struct UserRowPartial {
    u: UserRow,
    roles: &'static [RoleOption],
    csrf: String,
}

/// `POST /admin/users/{username}`: change a role, or enable/disable an account.
/// htmx gets the updated row; a plain form goes back to the list.
pub async fn form_update_user(
    State(state): State<AppState>,
    SignedIn(admin): SignedIn<Admin>,
    htmx: Htmx,
    Path(username): Path<String>,
    Form(form): Form<UpdateUserForm>,
) -> Result<Response, UiError> {
    let caller = admin.caller();
    let target = find_user(&state, &username).await?;
    let req = UpdateUserRequest {
        display_name: None,
        email: None,
        role: form.role.filter(|r| !r.is_empty()),
        disabled: form.disabled.map(|d| d == "true"),
        password: None,
    };
    let outcome = match check_self_change(&caller.user, &target, &req) {
        Ok(()) => user::update(&state, &caller.audit(), &target, req).await,
        Err(e) => Err(e),
    };
    let row = match outcome {
        Ok(updated) => UserRow {
            notice: Some(if updated.disabled != target.disabled {
                if updated.disabled { "Disabled" } else { "Enabled" }
            } else if updated.role != target.role {
                "Role changed"
            } else {
                "No change"
            }),
            ..UserRow::new(&updated, caller)
        },
        Err(e) => UserRow {
            error: Some(form_problem(e)?),
            ..UserRow::new(&target, caller)
        },
    };
    if htmx.request {
        let partial = UserRowPartial {
            u: row,
            roles: &ROLES,
            csrf: caller.csrf_token().unwrap_or_default().to_owned(),
        };
        return Ok(Html(partial.render()?).into_response());
    }
    if row.error.is_none() {
        return Ok(Redirect::to(&format!("/admin/users?updated={}", row.username)).into_response());
    }
    let mut page = UsersPage::new(&state, caller).await?;
    if let Some(shown) = page.users.iter_mut().find(|u| u.username == row.username) {
        *shown = row;
    }
    Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
}

/// A group as the groups table shows it.
struct GroupRow {
    name: String,
    description: String,
    member_count: i64,
    created: When,
}

impl From<&Group> for GroupRow {
    fn from(g: &Group) -> Self {
        Self {
            name: g.name.clone(),
            description: g.description.clone(),
            member_count: g.member_count,
            created: When::from_ms(g.created_at),
        }
    }
}

#[derive(Default, Deserialize)]
pub struct NewGroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Template)]
#[template(path = "admin/groups.html")]
struct GroupsPage {
    layout: Layout,
    groups: Vec<GroupRow>,
    form: NewGroupForm,
    errors: FormErrors,
}

impl GroupsPage {
    async fn new(state: &AppState, admin: &Caller) -> Result<Self, UiError> {
        let groups = state.store.groups().await.map_err(ApiError::from)?;
        Ok(Self {
            layout: Layout::new(Some(admin), "groups", "Groups"),
            groups: groups.iter().map(GroupRow::from).collect(),
            form: NewGroupForm::default(),
            errors: FormErrors::default(),
        })
    }
}

/// `GET /admin/groups`.
pub async fn page_groups(
    State(state): State<AppState>,
    SignedIn(admin): SignedIn<Admin>,
) -> Result<Html<String>, UiError> {
    Ok(Html(GroupsPage::new(&state, admin.caller()).await?.render()?))
}

/// `POST /admin/groups`: create a group and open it.
pub async fn form_create_group(
    State(state): State<AppState>,
    SignedIn(admin): SignedIn<Admin>,
    Form(form): Form<NewGroupForm>,
) -> Result<Response, UiError> {
    let req = CreateGroupRequest {
        name: form.name.clone(),
        description: form.description.clone(),
    };
    match group::create(&state, &admin.caller().audit(), req).await {
        Ok(g) => Ok(Redirect::to(&format!("/admin/groups/{}", g.name)).into_response()),
        Err(e) => {
            let message = form_problem(e)?;
            let mut page = GroupsPage::new(&state, admin.caller()).await?;
            page.errors = FormErrors::from_message(message, &["name", "description"], &[("group", "name")]);
            page.form = form;
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// A member as the group page lists them.
struct MemberRow {
    username: String,
    display_name: String,
    role_label: &'static str,
    disabled: bool,
}

#[derive(Template)]
#[template(path = "admin/group.html")]
struct GroupPage {
    layout: Layout,
    group: GroupRow,
    members: Vec<MemberRow>,
    /// Users who could be added, for the input's suggestions.
    candidates: Vec<String>,
    username: String,
    errors: FormErrors,
    notice: Option<String>,
}

impl GroupPage {
    async fn new(state: &AppState, admin: &Caller, name: &str) -> Result<Self, UiError> {
        let group = find_group(state, name).await?;
        let members = state.store.group_members(group.id).await.map_err(ApiError::from)?;
        let candidates = state
            .store
            .users()
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .filter(|u| !members.iter().any(|m| m.id == u.id))
            .map(|u| u.username)
            .collect();
        Ok(Self {
            layout: Layout::new(Some(admin), "groups", format!("Group {}", group.name)),
            group: GroupRow::from(&group),
            members: members
                .iter()
                .map(|m| MemberRow {
                    username: m.username.clone(),
                    display_name: m.display_name.clone(),
                    role_label: role_label(m.role),
                    disabled: m.disabled,
                })
                .collect(),
            candidates,
            username: String::new(),
            errors: FormErrors::default(),
            notice: None,
        })
    }
}

/// `GET /admin/groups/{name}`: a group and its members.
pub async fn page_group(
    State(state): State<AppState>,
    SignedIn(admin): SignedIn<Admin>,
    Path(name): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, UiError> {
    let mut page = GroupPage::new(&state, admin.caller(), &name).await?;
    page.notice = match (q.added, q.removed) {
        (Some(u), _) => Some(format!("Added {u} to the group.")),
        (None, Some(u)) => Some(format!("Removed {u} from the group.")),
        _ => None,
    };
    Ok(Html(page.render()?))
}

#[derive(Deserialize)]
pub struct AddMemberForm {
    #[serde(default)]
    username: String,
}

/// `POST /admin/groups/{name}/members`: add a member by username.
pub async fn form_add_member(
    State(state): State<AppState>,
    SignedIn(admin): SignedIn<Admin>,
    Path(name): Path<String>,
    Form(form): Form<AddMemberForm>,
) -> Result<Response, UiError> {
    let g = find_group(&state, &name).await?;
    let username = form.username.trim();
    let added = if username.is_empty() {
        Err(ApiError::invalid("username: give the username of the user to add"))
    } else {
        group::add(&state, &admin.caller().audit(), &g, username).await
    };
    match added {
        Ok(()) => Ok(Redirect::to(&format!("/admin/groups/{}?added={username}", g.name)).into_response()),
        Err(e) => {
            let mut page = GroupPage::new(&state, admin.caller(), &name).await?;
            page.errors = FormErrors::for_field("username", form_problem(e)?);
            page.username = username.to_owned();
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}

/// `POST /admin/groups/{name}/members/{username}/remove`.
pub async fn form_remove_member(
    State(state): State<AppState>,
    SignedIn(admin): SignedIn<Admin>,
    Path((name, username)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let g = find_group(&state, &name).await?;
    match group::remove(&state, &admin.caller().audit(), &g, &username).await {
        Ok(()) => Ok(Redirect::to(&format!("/admin/groups/{}?removed={username}", g.name)).into_response()),
        Err(e) => {
            let mut page = GroupPage::new(&state, admin.caller(), &name).await?;
            page.errors.general = Some(form_problem(e)?);
            Ok(page_with_status(StatusCode::UNPROCESSABLE_ENTITY, page.render()?))
        }
    }
}
