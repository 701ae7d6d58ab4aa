//! `/audit` for governance events: a bare id filters by its target, and single-value
//! changes (a status, an answer) read as before/after.

use charter_domain::Role;

use super::{page, text_of};
use crate::governance::{INTAKE, approver_group, published_policy, roomy};
use crate::harness::TestApp;

on_every_backend!(governance_events_filter_by_target_and_show_their_change(roomy));

async fn governance_events_filter_by_target_and_show_their_change(app: &TestApp) {
    approver_group(app).await;
    let policy = published_policy(app, "Intake", INTAKE).await;
    let id = policy["id"].as_str().unwrap();
    let gov = app.user("gina", Role::GovernanceAdmin).await;

    // The policy's own history, asked for by its id alone.
    let reply = page(app, &format!("/audit?target={id}"), &gov).await;
    reply.expect(200);
    let actions: Vec<&str> = reply
        .text
        .split(r#"<tr class="event-row" data-action=""#)
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert_eq!(actions, ["policy.created"], "{}", reply.text);
    assert!(reply.text.contains(&format!(
        "/api/v1/audit-events/export?target=policy%3A{id}&#38;format=csv"
    )));
    // Each row's target links to that target's history.
    assert!(reply.text.contains(&format!(r#"href="/audit?target=policy:{id}""#)));

    // Publishing changed one thing, the status: a diff, not a list of fields.
    let published = app.last_event("policy_version.published").await;
    let event = page(app, &format!("/audit/{}", published.id), &gov).await;
    event.expect(200);
    let changed = text_of(&event.text, r#"<tr class="changed">"#);
    assert_eq!(changed, "status changed draft published");
    assert!(event.text.contains("What changed"));
    assert!(
        event
            .text
            .contains(&format!("/audit?target=policy_version:{}", published.target_id))
    );
}
