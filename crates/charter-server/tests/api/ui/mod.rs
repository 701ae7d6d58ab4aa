//! The governance pages (HTML): policies, the dashboard, tasks. Each test drives a
//! page as a browser would without JavaScript — GET pages, POST url-encoded forms
//! (redirects followed) — and checks what a person would see in the markup.
//! Browser behaviour (the live editor, charts' links) is in `tests/browser/`.

mod policies;

use reqwest::Method;

use crate::harness::{Reply, TestApp, TestUser};

/// `GET` a page as `who` (API tokens work on pages too; no CSRF for them).
pub async fn page(app: &TestApp, path: &str, who: &TestUser) -> Reply {
    let request = app.client.get(app.url(path)).bearer_auth(&who.token);
    app.send(request).await
}

/// `POST` a url-encoded form as `who`, following the redirect it answers with.
pub async fn form(app: &TestApp, path: &str, who: &TestUser, fields: &[(&str, &str)]) -> Reply {
    let request = app
        .client
        .request(Method::POST, app.url(path))
        .bearer_auth(&who.token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).expect("form fields encode"));
    app.send(request).await
}

/// The text of the first element whose opening tag contains `marker`, tags removed
/// and white space collapsed.
#[track_caller]
pub fn text_of(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}` in the page:\n{html}"));
    let open = html[..start].rfind('<').unwrap();
    let name: String = html[open + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let close = format!("</{name}>");
    let end = html[start..].find(&close).map_or(html.len(), |e| start + e);
    let mut out = String::new();
    let mut in_tag = false;
    for c in html[open..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
