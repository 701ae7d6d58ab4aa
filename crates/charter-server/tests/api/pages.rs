//! The governance web pages over HTTP, as a browser without JavaScript uses them
//! (the browser tests in `tests/browser/` drive them with JavaScript): what they
//! say and refuse, in the API's words. Forms post `application/x-www-form-urlencoded`
//! with an API token, so no CSRF field is needed.

use charter_domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::governance::{INTAKE, approver_group, bundle, input, notebook, project, published_policy, roomy};
use crate::harness::{Reply, TestApp, TestUser};
use crate::review::{self, join, request_review, setup};

on_every_backend!(
    the_creator_reads_why_they_cannot_approve,
    answers_save_without_javascript_and_errors_stay_by_their_question(roomy),
    finding_pages_render_markdown_and_never_raw_html,
    the_bundle_list_names_a_bad_filter,
    the_bundle_list_pages_keeping_its_filters,
);

async fn page(app: &TestApp, path: &str, who: &TestUser) -> Reply {
    let request = reqwest::Client::new()
        .request(Method::GET, app.url(path))
        .bearer_auth(&who.token);
    app.send(request).await
}

/// Post a form; redirects are followed, as a browser does.
async fn form(app: &TestApp, path: &str, who: &TestUser, fields: &[(&str, &str)]) -> Reply {
    let request = reqwest::Client::new()
        .request(Method::POST, app.url(path))
        .bearer_auth(&who.token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).expect("form fields encode"));
    app.send(request).await
}

#[track_caller]
fn html(reply: &Reply, status: u16) -> &str {
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{} answered {}: {}",
        reply.what,
        reply.status,
        reply.text
    );
    &reply.text
}

async fn the_creator_reads_why_they_cannot_approve(app: &TestApp) {
    let r = setup(app, true).await;
    // The creator is also one of the approvers: only separation of duties stops them.
    join(app, "reviewers", &r.owner).await;
    request_review(app, &r, &r.owner, "Intake").await.expect(200);
    let approval = review::approval(app, &r, "Intake review").await;
    let path = format!("/approvals/{}", approval.id);

    let text = page(app, &path, &r.owner).await;
    let text = html(&text, 200);
    assert!(
        text.contains("You created this bundle, so you cannot approve its stages."),
        "the page explains before anything is tried"
    );
    assert!(text.contains("separation of duties: you created bundle `Model A`"));
    assert!(!text.contains("Record decision"), "no decision is offered");

    // The author of the evidence reads the other rule; an approver may decide.
    join(app, "reviewers", &r.author).await;
    let text = page(app, &path, &r.author).await;
    assert!(html(&text, 200).contains("You answered evidence in this stage, so you cannot approve it."));
    let text = page(app, &path, &r.ann).await;
    assert!(html(&text, 200).contains("Record decision"));

    // A decision posted anyway is refused with the same sentence, and audited.
    let before = app.audit_count().await;
    let version = approval.version.to_string();
    let reply = form(
        app,
        &format!("{path}/decision"),
        &r.owner,
        &[
            ("outcome", "approve"),
            ("version", &version),
            ("s:intake-decision", "Proceed"),
        ],
    )
    .await;
    let text = html(&reply, 422);
    assert!(text.contains("data-testid=\"refusal\""));
    assert!(text.contains("You created this bundle, so you cannot approve its stages."));
    assert!(
        text.contains("one of its other approvers must decide"),
        "the API's words follow"
    );
    assert_eq!(
        review::approval(app, &r, "Intake review").await.status.as_str(),
        "pending"
    );
    let refused = review::events_after(app, before, "approval.refused").await;
    assert_eq!(refused.len(), 1);

    // Other mistakes land next to their field, in the API's words; what was typed stays.
    let reply = form(
        app,
        &format!("{path}/decision"),
        &r.ann,
        &[("outcome", "reject"), ("version", &version), ("comment", "")],
    )
    .await;
    let text = html(&reply, 422);
    assert!(text.contains("id=\"d-comment-error\">comment: say why you reject `Intake review`"));
    let reply = form(
        app,
        &format!("{path}/decision"),
        &r.ann,
        &[
            ("outcome", "conditional"),
            ("version", &version),
            ("s:intake-decision", "Proceed"),
            ("c0_name", "Drift"),
            ("c0_severity", "high"),
            ("c0_due", "2001-01-01"),
        ],
    )
    .await;
    let text = html(&reply, 422);
    assert!(text.contains("findings[0].due_date: must be in the future"), "{text}");
    assert!(text.contains("value=\"Drift\""), "the typed finding is kept");

    // And a good decision goes through.
    let reply = form(
        app,
        &format!("{path}/decision"),
        &r.ann,
        &[
            ("outcome", "conditional"),
            ("version", &version),
            ("s:intake-decision", "Proceed"),
            ("c0_name", "Drift"),
            ("c0_severity", "high"),
            ("c0_due", "2999-01-01"),
            ("c0_assignee", "pete"),
        ],
    )
    .await;
    let text = html(&reply, 200);
    assert!(
        text.contains("Approved with conditions."),
        "the notice after the redirect"
    );
    assert_eq!(
        review::approval(app, &r, "Intake review").await.status.as_str(),
        "conditionally_approved"
    );
    app.verify_audit().await;
}

async fn answers_save_without_javascript_and_errors_stay_by_their_question(app: &TestApp) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    let pid = project(app, &olga, "helpbot").await;
    let nb = bundle(app, &olga, &pid, "HelpBot", &["Intake"]).await;
    let id = nb["id"].as_str().unwrap().to_owned();
    let policy_id = nb["policies"][0]["policy_id"].as_str().unwrap().to_owned();
    let path = format!("/bundles/{id}/answers");
    let fields = |users: &'static str| {
        vec![
            ("policy", policy_id.clone()),
            ("stage", "Intake".to_owned()),
            ("set", "Local.intake".to_owned()),
            ("present", "impact".to_owned()),
            ("a:impact", "Customer-facing advice".to_owned()),
            ("present", "users".to_owned()),
            ("a:users", users.to_owned()),
            ("present", "pii-fields".to_owned()),
        ]
    };
    let as_refs = |v: &[(&'static str, String)]| v.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();

    let posted = as_refs(&fields("-5"));
    let pairs: Vec<(&str, &str)> = posted.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = form(app, &path, &olga, &pairs).await;
    let text = html(&reply, 422);
    assert!(
        text.contains("`Expected daily users` (users): expected a number from 0 to 100000, got -5"),
        "the API's message, by the question"
    );
    assert!(text.contains("value=\"-5\""), "what was typed is kept");
    // The good answer in the same form was saved, and reclassified the bundle.
    let saved = notebook(app, &olga, &id).await;
    assert_eq!(input(&saved, "impact")["value"], "Customer-facing advice");
    assert_eq!(input(&saved, "users")["value"], serde_json::Value::Null);
    assert_eq!(saved["policies"][0]["classification"], "High");

    let posted = as_refs(&fields("250"));
    let pairs: Vec<(&str, &str)> = posted.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let reply = form(app, &path, &olga, &pairs).await;
    assert!(html(&reply, 200).contains("Answers saved."));
    let saved = notebook(app, &olga, &id).await;
    assert_eq!(input(&saved, "users")["value"], 250.0);
    assert_eq!(
        input(&saved, "impact")["revision"],
        1,
        "unchanged answers are not saved again"
    );

    // The same page for a viewer of the project shows the answers, not inputs to change them.
    let vera = app.user("vera", Role::Viewer).await;
    crate::governance::add_member(app, &pid, "vera", "viewer").await;
    let text = page(app, &format!("/bundles/{id}"), &vera).await;
    let text = html(&text, 200);
    assert!(!text.contains("data-autosave"), "nothing is editable for a viewer");
    assert!(text.contains("value=\"250\""));
}

async fn finding_pages_render_markdown_and_never_raw_html(app: &TestApp) {
    let r = setup(app, true).await;
    let created = app
        .post(
            &format!("/bundles/{}/findings", r.bundle_id),
            &r.owner,
            &json!({
                "name": "Unsafe text",
                "severity": "low",
                "description": "**Bold** <script>alert(1)</script> [click](javascript:alert(1)) <img src=x onerror=alert(1)> @pete",
            }),
        )
        .await;
    let id = created.expect(201)["id"].as_str().unwrap().to_owned();
    let text = page(app, &format!("/findings/{id}"), &r.owner).await;
    let text = html(&text, 200);
    let description = text
        .split("data-testid=\"finding-description\">")
        .nth(1)
        .and_then(|rest| rest.split("</div>").next())
        .expect("the description is on the page");
    assert!(description.contains("<strong>Bold</strong>"), "{description}");
    assert!(
        description.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{description}"
    );
    assert!(!description.contains("<script"), "{description}");
    assert!(!description.contains("<img"), "{description}");
    assert!(!description.contains("javascript:"), "{description}");
    assert!(
        description.contains("<span class=\"mention\">@pete</span>"),
        "{description}"
    );

    // Comments too; a resolution without a note is refused next to the note.
    let reply = form(
        app,
        &format!("/findings/{id}/comments"),
        &r.author,
        &[(
            "body",
            "Fixed in <b onmouseover=alert(1)>v2</b>, see [the PR](https://example.com/pr/1)",
        )],
    )
    .await;
    let text = html(&reply, 200);
    assert!(text.contains("&lt;b onmouseover=alert(1)&gt;"));
    assert!(text.contains("<a href=\"https://example.com/pr/1\" rel=\"nofollow noopener noreferrer\">the PR</a>"));
    let reply = form(
        app,
        &format!("/findings/{id}"),
        &r.owner,
        &[("status", "resolved"), ("resolution", "")],
    )
    .await;
    assert!(
        html(&reply, 422).contains("id=\"s-resolution-error\">resolution: say how finding `Unsafe text` was resolved")
    );
}

async fn the_bundle_list_names_a_bad_filter(app: &TestApp) {
    let olga = app.user("olga", Role::Practitioner).await;
    let text = page(app, "/bundles?policy=Nope&stage=Intake", &olga).await;
    let text = html(&text, 422);
    assert!(text.contains("id=\"bf-policy-error\">policy: there is no policy `Nope`"));
    assert!(text.contains("value=\"Intake\""), "the other filters stay as given");
}

async fn the_bundle_list_pages_keeping_its_filters(app: &TestApp) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    let pid = project(app, &olga, "helpbot").await;
    for i in 0..51 {
        bundle(app, &olga, &pid, &format!("Model {i:02}"), &["Intake"]).await;
    }
    let text = page(app, "/bundles?project=helpbot&state=active", &olga).await;
    let text = html(&text, 200);
    assert!(text.contains("Bundles 1–50"), "a page of fifty");
    assert!(
        text.contains("Model 50") && !text.contains(">Model 00<"),
        "newest first"
    );
    assert!(
        text.contains("href=\"/bundles?project=helpbot&#38;state=active&#38;page=2\" rel=\"next\""),
        "{}",
        text.split("class=\"pager\"").nth(1).unwrap_or("")
    );
    let text = page(app, "/bundles?project=helpbot&state=active&page=2", &olga).await;
    let text = html(&text, 200);
    assert!(text.contains("Bundles 51–51"));
    assert!(text.contains(">Model 00<"));
    assert!(text.contains("href=\"/bundles?project=helpbot&#38;state=active\" rel=\"prev\""));
}
