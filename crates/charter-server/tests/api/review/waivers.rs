//! `/bundles/{id}/waivers` and `/waivers/{id}/revoke`; expiry on the test's clock.

use charter_domain::Role;
use charter_domain::time::{now_ms, rfc3339};
use charter_server::governance::jobs::run_due;
use serde_json::{Value, json};

use super::{DAY, Review, events_after, setup, tasks_about};
use crate::harness::TestApp;

on_every_backend!(
    an_expired_waiver_reopens_its_finding,
    a_revoked_waiver_reopens_its_finding,
    waivers_need_an_eligible_approver,
);

/// A high finding on `Intake review`, assigned to pete; its id.
async fn finding(app: &TestApp, review: &Review) -> String {
    let reply = app
        .post(
            &format!("/bundles/{}/findings", review.bundle_id),
            &review.owner,
            &json!({ "name": "No bias review", "severity": "high", "assignee": "pete", "approval": "Intake review" }),
        )
        .await;
    reply.expect(201)["id"].as_str().unwrap().to_owned()
}

async fn status(app: &TestApp, review: &Review, id: &str) -> Value {
    app.get(&format!("/findings/{id}"), &review.owner).await.expect(200)["status"].clone()
}

async fn an_expired_waiver_reopens_its_finding(app: &TestApp) {
    let review = setup(app, true).await;
    let id = finding(app, &review).await;
    let expires = now_ms() + 2 * DAY;
    let path = format!("/bundles/{}/waivers", review.bundle_id);
    let reply = app
        .post(
            &path,
            &review.ann,
            &json!({ "finding": id, "justification": "Bias review is booked for next quarter", "expires_at": rfc3339(expires) }),
        )
        .await;
    let w = reply.expect(201).clone();
    assert!(w["id"].as_str().unwrap().starts_with("wvr_"));
    assert_eq!(w["status"], "active");
    assert_eq!(w["approver"], "ann");
    assert_eq!(w["finding_id"], id.as_str());
    let granted = app.last_event("waiver.granted").await;
    assert_eq!(granted.actor_name, "ann");
    // The finding is set aside while the waiver holds.
    assert_eq!(status(app, &review, &id).await, "wont_do");
    assert!(tasks_about(app, &review.author, "finding", &id).await.is_empty());
    let list = app.get(&path, &review.author).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
    // One active waiver per finding.
    app.post(
        &path,
        &review.ann,
        &json!({ "finding": id, "justification": "again", "expires_at": rfc3339(expires) }),
    )
    .await
    .expect_error(409, "conflict");

    assert_eq!(run_due(&app.state, expires - 1).await.waivers_expired, 0);
    let before = app.audit_count().await;
    let report = run_due(&app.state, expires).await;
    assert_eq!(report.waivers_expired, 1, "{report:?}");
    assert_eq!(status(app, &review, &id).await, "open", "expiry re-opens the finding");
    let expired = events_after(app, before, "waiver.expired").await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].actor_name, "scheduler");
    let reopened = events_after(app, before, "finding.open").await;
    assert_eq!(reopened.len(), 1);
    assert_eq!(reopened[0].target_id, id);
    let list = app.get(&path, &review.author).await;
    assert_eq!(list.expect(200)[0]["status"], "expired");
    assert_eq!(tasks_about(app, &review.author, "finding", &id).await.len(), 1);
    // Idempotent.
    assert_eq!(run_due(&app.state, expires + DAY).await.waivers_expired, 0);
    app.verify_audit().await;
}

async fn a_revoked_waiver_reopens_its_finding(app: &TestApp) {
    let review = setup(app, true).await;
    let id = finding(app, &review).await;
    let reply = app
        .post(
            &format!("/bundles/{}/waivers", review.bundle_id),
            &review.bob,
            &json!({ "finding": id, "justification": "accepted for the pilot", "expires_at": "2999-01-01" }),
        )
        .await;
    let wid = reply.expect(201)["id"].as_str().unwrap().to_owned();
    // Only its approver (or a governance admin) revokes it.
    app.post(&format!("/waivers/{wid}/revoke"), &review.ann, &json!({}))
        .await
        .expect_error(403, "forbidden");
    let reply = app
        .post(&format!("/waivers/{wid}/revoke"), &review.bob, &json!({}))
        .await;
    assert_eq!(reply.expect(200)["status"], "revoked");
    assert_eq!(app.last_event("waiver.revoked").await.actor_name, "bob");
    assert_eq!(status(app, &review, &id).await, "open");
    app.post(&format!("/waivers/{wid}/revoke"), &review.bob, &json!({}))
        .await
        .expect_error(409, "conflict");
}

async fn waivers_need_an_eligible_approver(app: &TestApp) {
    let review = setup(app, true).await;
    let id = finding(app, &review).await;
    let path = format!("/bundles/{}/waivers", review.bundle_id);
    let body = |approver: Option<&str>| json!({ "finding": id, "justification": "accepted", "expires_at": "2999-01-01", "approver": approver });
    // The team may not waive its own finding.
    let reply = app.post(&path, &review.owner, &body(None)).await;
    assert!(
        reply
            .expect_error(403, "forbidden")
            .starts_with("approver: `olga` cannot approve")
    );
    // Nor name someone else as the approver.
    app.post(&path, &review.owner, &body(Some("ann")))
        .await
        .expect_error(403, "forbidden");
    // A waiver of the whole bundle needs a governance admin.
    let reply = app
        .post(
            &path,
            &review.ann,
            &json!({ "justification": "all of it", "expires_at": "2999-01-01" }),
        )
        .await;
    assert!(reply.expect_error(403, "forbidden").contains("governance admin"));
    let gina = app.user("gina", Role::GovernanceAdmin).await;
    let reply = app
        .post(
            &path,
            &gina,
            &json!({ "justification": "all of it", "expires_at": "2999-01-01" }),
        )
        .await;
    assert_eq!(reply.expect(201)["finding_id"], Value::Null);
    // Fields are named.
    for (b, field) in [
        (
            json!({ "finding": id, "justification": " ", "expires_at": "2999-01-01" }),
            "justification:",
        ),
        (
            json!({ "finding": id, "justification": "x", "expires_at": "2001-01-01" }),
            "expires_at:",
        ),
        (
            json!({ "finding": "fnd_nope", "justification": "x", "expires_at": "2999-01-01" }),
            "finding:",
        ),
    ] {
        let reply = app.post(&path, &gina, &b).await;
        assert!(
            reply.expect_error(400, "invalid_request").starts_with(field),
            "{b}: {}",
            reply.text
        );
    }
    // A governance admin may record a reviewer's waiver for them.
    let reply = app.post(&path, &gina, &body(Some("bob"))).await;
    let w = reply.expect(201);
    assert_eq!(
        (w["approver"].as_str(), w["created_by"].as_str()),
        (Some("bob"), Some("gina"))
    );
}
