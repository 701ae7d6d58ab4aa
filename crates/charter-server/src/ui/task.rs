//! My tasks: approvals to give, findings to work, carried-over answers to confirm,
//! stages assigned, mentions — each linking to where the work is done (bundle and
//! finding pages). The list is [`governance::task::tasks_of`]'s, the same as
//! `GET /api/v1/tasks`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use charter_store::dashboard::Scope;
use serde::Deserialize;

use super::{Layout, SignedIn, UiError, When};
use crate::error::ApiError;
use crate::governance::task::{TaskItem, tasks_of};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct TaskQuery {
    /// `true` (a checkbox sends `on`): include done tasks.
    #[serde(default)]
    all: String,
}

impl TaskQuery {
    fn all(&self) -> bool {
        matches!(self.all.as_str(), "true" | "on" | "1")
    }
}

/// A piece of a task's title: plain text, or a name the title quotes in backticks.
pub struct Part {
    code: bool,
    text: String,
}

/// `Resolve finding: `x` (high)` → text, code `x`, text.
fn parts(title: &str) -> Vec<Part> {
    title
        .split('`')
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, t)| Part {
            code: i % 2 == 1,
            text: t.to_owned(),
        })
        .collect()
}

struct TaskRow {
    title: Vec<Part>,
    href: String,
    /// The link's words: what the person will do there.
    action: &'static str,
    bundle: Option<(String, String)>,
    created: When,
    done: Option<When>,
}

struct TaskGroup {
    key: &'static str,
    heading: &'static str,
    hint: &'static str,
    rows: Vec<TaskRow>,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    layout: Layout,
    groups: Vec<TaskGroup>,
    open: usize,
    all: bool,
}

/// Which group a task belongs to, and where its work is done.
fn place(t: &TaskItem) -> (usize, String, &'static str) {
    let bundle = t
        .bundle_id
        .map(|b| format!("/bundles/{b}"))
        .unwrap_or_else(|| "/".into());
    let finding = format!("/findings/{}", t.target_id);
    match t.kind.as_str() {
        "approval" => (0, format!("{bundle}#{}", t.target_id), "Review"),
        "confirm_answer" => (2, format!("{bundle}#{}", t.target_id), "Confirm or edit"),
        "stage_assigned" => (3, bundle, "Open the bundle"),
        "mention" if t.target_type == "finding" => (4, finding, "Open the finding"),
        "mention" => (4, bundle, "Open the bundle"),
        _ if t.target_type == "finding" => (1, finding, "Open the finding"),
        _ => (4, bundle, "Open the bundle"),
    }
}

/// `GET /tasks`: the caller's open tasks (all of them with `?all=true`).
pub async fn page_tasks(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Query(q): Query<TaskQuery>,
) -> Result<Html<String>, UiError> {
    let tasks = tasks_of(&state, &caller.user, q.all()).await?;
    let ids: Vec<String> = tasks
        .iter()
        .filter_map(|t| t.bundle_id.map(|b| b.to_string()))
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    // Bundle names in one query per 200 (the tasks are the caller's own: no scope).
    let names: HashMap<String, String> = state
        .store
        .dashboard_labels(&Scope::default(), &ids)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|(id, label)| (id, label.name))
        .collect();
    let mut groups = vec![
        TaskGroup {
            key: "approvals",
            heading: "Approvals to give",
            hint: "Reviews requested from you or a group you belong to.",
            rows: Vec::new(),
        },
        TaskGroup {
            key: "findings",
            heading: "Findings",
            hint: "Findings assigned to you, and resolutions waiting for your check.",
            rows: Vec::new(),
        },
        TaskGroup {
            key: "answers",
            heading: "Carried-over answers to confirm",
            hint: "Answers copied from an earlier bundle: confirm each, or change it.",
            rows: Vec::new(),
        },
        TaskGroup {
            key: "stages",
            heading: "Stages assigned to you",
            hint: "Evidence to gather in a bundle's stage.",
            rows: Vec::new(),
        },
        TaskGroup {
            key: "mentions",
            heading: "Mentions",
            hint: "Comments that name you.",
            rows: Vec::new(),
        },
    ];
    let mut open = 0;
    for t in &tasks {
        let (group, href, action) = place(t);
        if t.status == "open" {
            open += 1;
        }
        groups[group].rows.push(TaskRow {
            title: parts(&t.title),
            href,
            action,
            bundle: t.bundle_id.map(|b| {
                let id = b.to_string();
                let name = names.get(&id).cloned().unwrap_or_else(|| id.clone());
                (id, name)
            }),
            created: When::from_ms(t.created_at),
            done: t.done_at.map(When::from_ms),
        });
    }
    let page = TasksPage {
        layout: Layout::new(Some(&caller), "tasks", "My tasks"),
        groups,
        open,
        all: q.all(),
    };
    Ok(Html(page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_names_in_titles_become_code() {
        let p = parts("Resolve finding: `No model card` (high)");
        let shown: Vec<(bool, &str)> = p.iter().map(|p| (p.code, p.text.as_str())).collect();
        assert_eq!(
            shown,
            [
                (false, "Resolve finding: "),
                (true, "No model card"),
                (false, " (high)")
            ]
        );
    }
}
