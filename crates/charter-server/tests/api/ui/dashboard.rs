//! `/` (the dashboard): charts whose counts link to filtered lists, filters in the
//! URL, governance admins seeing every project and others their own.

use charter_domain::Role;
use reqwest::Method;
use serde_json::{Value, json};

use super::{page, text_of};
use crate::governance::{INTAKE, answer, approver_group, bundle, project, published_policy, roomy};
use crate::harness::TestApp;

on_every_backend!(
    the_dashboard_draws_counts_that_link_to_filtered_lists(roomy),
    filters_live_in_the_url_and_bad_ones_are_explained(roomy),
);

async fn the_dashboard_draws_counts_that_link_to_filtered_lists(app: &TestApp) {
    approver_group(app).await;
    let policy = published_policy(app, "Intake", INTAKE).await;
    let policy_id = policy["id"].as_str().unwrap();
    let olga = app.user("olga", Role::Practitioner).await;
    project(app, &olga, "helpbot").await;
    let id = |nb: Value| nb["id"].as_str().unwrap().to_owned();
    let a = id(bundle(app, &olga, "helpbot", "A", &["Intake"]).await);
    let _b = id(bundle(app, &olga, "helpbot", "B", &["Intake"]).await);
    let c = id(bundle(app, &olga, "helpbot", "C", &["Intake"]).await);
    answer(app, &olga, &a, "Intake", "impact", json!("Customer-facing advice"))
        .await
        .expect(200);
    app.post(&format!("/bundles/{c}/archive"), &olga, &Value::Null)
        .await
        .expect(200);
    app.post(
        &format!("/bundles/{a}/findings"),
        &app.admin,
        &json!({ "name": "No model card", "severity": "high", "due_date": "2020-01-01" }),
    )
    .await
    .expect(201);

    let gov = app.user("gina", Role::GovernanceAdmin).await;
    let reply = page(app, "/", &gov).await;
    reply.expect(200);
    let html = &reply.text;
    assert!(text_of(html, r#"data-testid="dashboard-scope""#).starts_with("Every project (1 project)"));
    // Bundles by state: the legend's counts link to the bundle list, filtered.
    assert!(
        html.contains(r#"<a href="/bundles?state=active" aria-label="Active: 2 bundles">"#),
        "{html}"
    );
    assert!(html.contains(r#"<a href="/bundles?state=archived" aria-label="Archived: 1 bundles">"#));
    // Findings by severity: one bar per severity, the High one linking to its list.
    assert!(html.contains(
        r#"<a class="chart-link" href="/findings?severity=high&amp;status=open" aria-label="High: 1 findings">"#
    ));
    assert_eq!(html.matches(r#"href="/findings?severity="#).count(), 4);
    // Active bundles by stage, per policy.
    assert!(html.contains(&format!(
        r#"href="/bundles?state=active&amp;policy={policy_id}&amp;stage=Intake" aria-label="Intake, Intake: 2 bundles""#
    )));
    // Classification: A is High; B is Low (no impact answer, no pii answer).
    assert!(html.contains(&format!(
        r#"href="/bundles?policy={policy_id}&amp;classification=High" aria-label="Intake, High: 1 bundles""#
    )));
    let stat = text_of(html, r#"data-stat="Findings overdue""#);
    assert!(stat.starts_with("1 Findings overdue"), "{stat}");
    assert!(html.contains(r#"href="/findings?overdue=true""#));
    // Recent activity names the bundles and, for governance admins, the audit event.
    let activity = text_of(html, r#"data-testid="recent-activity""#);
    assert!(activity.contains("finding.created on A"), "{activity}");
    assert!(html.contains(r#"class="activity-audit small" href="/audit/evt_"#));
    // The trend: this week's three bundles.
    assert!(html.contains(r#"data-series="Bundles created""#));

    // Olga sees her project and no audit links; a stranger sees empty charts.
    let mine = page(app, "/", &olga).await;
    assert!(text_of(&mine.text, r#"data-testid="dashboard-scope""#).starts_with("Your 1 project"));
    assert!(!mine.text.contains("/audit/evt_"));
    let stranger = app.user("stan", Role::Practitioner).await;
    let empty = page(app, "/", &stranger).await;
    empty.expect(200);
    assert!(empty.text.contains("No bundles yet.") && empty.text.contains("No open findings."));
    assert!(!empty.text.contains("<svg class=\"chart-svg\""));
}

async fn filters_live_in_the_url_and_bad_ones_are_explained(app: &TestApp) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    project(app, &olga, "helpbot").await;
    project(app, &olga, "forecasting").await;
    bundle(app, &olga, "helpbot", "A", &["Intake"]).await;
    bundle(app, &olga, "forecasting", "F", &["Intake"]).await;

    let reply = page(app, "/?project=helpbot&policy=Intake", &olga).await;
    reply.expect(200);
    assert!(
        text_of(&reply.text, r#"data-testid="dashboard-scope""#)
            .starts_with("Project helpbot, bundles following Intake")
    );
    assert!(
        reply
            .text
            .contains(r#"<option value="helpbot" selected>helpbot</option>"#)
    );
    // Every link keeps the view's filters.
    assert!(reply.text.contains(
        r#"href="/bundles?state=active&amp;project=helpbot&amp;policy=Intake" aria-label="Active: 1 bundles""#
    ));

    // The old address redirects, keeping the filters.
    let old = app
        .send(
            app.client
                .get(app.url("/dashboard?project=forecasting"))
                .bearer_auth(&olga.token),
        )
        .await;
    assert!(text_of(&old.text, r#"data-testid="dashboard-scope""#).starts_with("Project forecasting"));

    // htmx asks for the body only and gets the new address to push.
    let fragment = app
        .send(
            app.client
                .request(Method::GET, app.url("/?project=helpbot"))
                .bearer_auth(&olga.token)
                .header("hx-request", "true"),
        )
        .await;
    fragment.expect(200);
    assert!(fragment.text.trim_start().starts_with(r#"<div id="dashboard-body""#));
    assert_eq!(fragment.header("hx-push-url"), Some("/?project=helpbot"));

    // An unknown project: the API's words next to the filters, nothing drawn.
    let bad = page(app, "/?project=nope", &olga).await;
    bad.expect(422);
    assert!(
        text_of(&bad.text, r#"id="dashboard-error""#).contains("project `nope` not found"),
        "{}",
        bad.text
    );
    // Someone else's project is not readable: the 403 page.
    let mel = app.user("mel", Role::Practitioner).await;
    page(app, "/?project=helpbot", &mel).await.expect(403);
}
