//! The governance jobs (`governance::jobs::run_due`), on the test's clock: lapsed
//! conditions revoke conditional approvals; approvals near and past their expiry.

use charter_domain::time::{now_ms, rfc3339};
use charter_server::governance::jobs::{JobReport, run_due};
use serde_json::{Value, json};

use super::{DAY, approval, current_stage, decide, events_after, request_review, setup, signoff, tasks_about};
use crate::harness::TestApp;

on_every_backend!(
    a_conditional_approval_is_revoked_when_its_finding_lapses,
    resolved_conditions_keep_the_approval,
    approvals_expire_on_schedule,
);

async fn a_conditional_approval_is_revoked_when_its_finding_lapses(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let a = approval(app, &review, "Intake review").await;
    let now = now_ms();

    // Conditions are findings with due dates.
    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "conditional", "signoff": signoff() }),
    )
    .await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("findings:"));
    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "conditional", "signoff": signoff(),
                "findings": [{ "name": "Add a fallback", "severity": "high" }] }),
    )
    .await;
    assert!(
        reply
            .expect_error(400, "invalid_request")
            .contains("missing field `due_date`")
    );
    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "conditional", "signoff": signoff(),
                "findings": [{ "name": "Add a fallback", "severity": "high", "due_date": rfc3339(now - DAY) }] }),
    )
    .await;
    assert!(
        reply
            .expect_error(400, "invalid_request")
            .starts_with("findings[0].due_date: must be in the future")
    );

    let due = now + 2 * DAY;
    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "conditional", "signoff": signoff(), "comment": "fine once the fallback exists",
                "findings": [{ "name": "Add a fallback", "description": "When the model is down, route to *humans*.",
                               "severity": "high", "due_date": rfc3339(due), "assignee": "pete" }] }),
    )
    .await;
    let body = reply.expect(200).clone();
    assert_eq!(body["approval"]["status"], "conditionally_approved");
    assert_eq!(body["approval"]["granted"], true);
    assert_eq!(body["current_stage"], "Validation");
    let finding = &body["findings"][0];
    assert_eq!(finding["approval_id"], a.id.to_string().as_str());
    assert_eq!(finding["status"], "open");
    assert_eq!(finding["approver"], "ann");
    assert_eq!(finding["overdue"], false);
    let finding_id = finding["id"].as_str().unwrap().to_owned();
    assert_eq!(tasks_about(app, &review.author, "finding", &finding_id).await.len(), 1);
    let granted = app.last_event("approval.conditionally_granted").await;
    let payload: Value = serde_json::from_str(&granted.payload).unwrap();
    assert_eq!(payload["after"], "conditionally_approved");
    assert_eq!(payload["details"]["conditions"][0]["finding_id"], finding_id.as_str());

    // Before the due date nothing happens.
    assert_eq!(run_due(&app.state, now + DAY).await, JobReport::default());

    // After it, the approval is revoked by the scheduler, audited with its reason.
    let before = app.audit_count().await;
    let report = run_due(&app.state, due + 1).await;
    assert_eq!(report.conditional_revoked, 1, "{report:?}");
    assert_eq!(report.failed, 0);
    let after = approval(app, &review, "Intake review").await;
    assert_eq!(after.status.as_str(), "revoked");
    assert_eq!(current_stage(app, &review).await, "Intake", "the stage is open again");
    let revoked = events_after(app, before, "approval.revoked").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        (revoked[0].actor_kind.as_str(), revoked[0].actor_name.as_str()),
        ("system", "scheduler")
    );
    let payload: Value = serde_json::from_str(&revoked[0].payload).unwrap();
    assert_eq!(payload["details"]["reason"], "conditions_lapsed");
    assert_eq!(payload["details"]["findings"][0]["finding_id"], finding_id.as_str());
    assert!(payload["comment"].as_str().unwrap().contains("`Add a fallback`"));
    assert_eq!(events_after(app, before, "bundle.stage_changed").await.len(), 1);
    // The approvers are told.
    for member in [&review.ann, &review.bob] {
        let mine = tasks_about(app, member, "approval", &a.id.to_string()).await;
        assert_eq!(mine.len(), 1, "{}", member.username);
        assert!(mine[0]["title"].as_str().unwrap().contains("was revoked"));
    }

    // Idempotent.
    let seq = app.audit_count().await;
    assert_eq!(run_due(&app.state, due + 2 * DAY).await, JobReport::default());
    assert_eq!(app.audit_count().await, seq);
    app.verify_audit().await;
}

async fn resolved_conditions_keep_the_approval(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let now = now_ms();
    let due = now + DAY;
    // An existing finding becomes the condition.
    let created = app
        .post(
            &format!("/bundles/{}/findings", review.bundle_id),
            &review.owner,
            &json!({ "name": "Label the data", "severity": "low", "due_date": rfc3339(due), "assignee": "pete" }),
        )
        .await;
    let finding_id = created.expect(201)["id"].as_str().unwrap().to_owned();
    decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "conditional", "signoff": signoff(), "finding_ids": [finding_id] }),
    )
    .await
    .expect(200);
    let linked = app.get(&format!("/findings/{finding_id}"), &review.author).await;
    assert_eq!(
        linked.expect(200)["approval_id"],
        approval(app, &review, "Intake review").await.id.to_string().as_str()
    );
    app.patch(
        &format!("/findings/{finding_id}"),
        &review.author,
        &json!({ "status": "resolved", "resolution": "labelled by two annotators" }),
    )
    .await
    .expect(200);
    assert_eq!(run_due(&app.state, due + DAY).await, JobReport::default());
    assert_eq!(
        approval(app, &review, "Intake review").await.status.as_str(),
        "conditionally_approved"
    );
}

async fn approvals_expire_on_schedule(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let now = now_ms();
    let expires = now + 90 * DAY;
    decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff(), "expires_at": rfc3339(expires) }),
    )
    .await
    .expect(200);
    let id = approval(app, &review, "Intake review").await.id.to_string();

    assert_eq!(run_due(&app.state, expires - 31 * DAY).await, JobReport::default());
    let report = run_due(&app.state, expires - 29 * DAY).await;
    assert_eq!(report.pending_expiration, 1, "{report:?}");
    let a = approval(app, &review, "Intake review").await;
    assert_eq!(a.status.as_str(), "pending_expiration");
    assert!(
        a.status.is_granted(),
        "still compliant while the renewal window is open"
    );
    assert_eq!(current_stage(app, &review).await, "Validation");
    let renew = tasks_about(app, &review.bob, "approval", &id).await;
    assert_eq!(renew.len(), 1);
    assert!(renew[0]["title"].as_str().unwrap().starts_with("Renew"));
    assert_eq!(
        app.last_event("approval.expiration_pending").await.actor_name,
        "scheduler"
    );
    assert_eq!(run_due(&app.state, expires - 28 * DAY).await, JobReport::default());

    let report = run_due(&app.state, expires + 1).await;
    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!(approval(app, &review, "Intake review").await.status.as_str(), "expired");
    assert_eq!(current_stage(app, &review).await, "Intake");
    assert_eq!(app.last_event("approval.expired").await.actor_name, "scheduler");
    assert_eq!(run_due(&app.state, expires + DAY).await, JobReport::default());

    // An expired approval is reviewed again.
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    app.verify_audit().await;
}
