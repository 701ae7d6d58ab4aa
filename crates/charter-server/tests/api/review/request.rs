//! `POST /bundles/{id}/stages/{stage}/request-review`.

use charter_domain::Role;
use serde_json::json;

use super::{answer, approval, join, request_review, setup, tasks, tasks_about};
use crate::harness::TestApp;

on_every_backend!(
    requesting_review_gives_every_group_member_a_task,
    review_waits_for_the_required_answers_of_the_stage,
    a_later_stage_waits_for_the_earlier_ones,
    only_project_writers_request_review,
);

async fn requesting_review_gives_every_group_member_a_task(app: &TestApp) {
    let review = setup(app, true).await;
    let before = app.audit_count().await;
    let reply = request_review(app, &review, &review.owner, "Intake").await;
    let body = reply.expect(200);
    assert_eq!(body["notified"], json!(["ann", "bob"]));
    let approvals = body["approvals"].as_array().unwrap();
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0]["name"], "Intake review");
    assert_eq!(approvals[0]["status"], "pending");
    assert_eq!(approvals[0]["requested_by"], "olga");
    assert_eq!(
        approvals[0]["approvers"],
        json!([{ "kind": "group", "name": "reviewers", "additional": false }])
    );
    let id = approvals[0]["id"].as_str().unwrap();
    assert!(id.starts_with("apr_"));

    for member in [&review.ann, &review.bob] {
        let mine = tasks_about(app, member, "approval", id).await;
        assert_eq!(mine.len(), 1, "{} has one task: {mine:?}", member.username);
        assert_eq!(mine[0]["status"], "open");
        assert_eq!(mine[0]["bundle_id"], review.bundle_id.as_str());
        assert!(mine[0]["title"].as_str().unwrap().contains("Intake review"));
    }
    // Nobody else does.
    assert!(tasks(app, &review.author).await.is_empty());
    assert!(tasks(app, &review.owner).await.is_empty());

    // A group member added later is found through the group.
    let carl = app.user("carl", Role::Practitioner).await;
    join(app, "reviewers", &carl).await;
    assert!(
        tasks(app, &carl).await.is_empty(),
        "tasks are made when review is requested"
    );

    let requested: Vec<_> = app
        .events_after(before)
        .await
        .into_iter()
        .filter(|e| e.action == "approval.requested")
        .collect();
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0].target_id, id);
    assert_eq!(requested[0].actor_name, "olga");

    // Asking again while pending is a conflict that names the state.
    let again = request_review(app, &review, &review.owner, "Intake").await;
    assert!(
        again
            .expect_error(409, "conflict")
            .contains("already pending or granted")
    );
    // A stage that does not exist is named.
    let nowhere = request_review(app, &review, &review.owner, "Deployment").await;
    assert!(nowhere.expect_error(404, "not_found").contains("Intake, Validation"));
    app.verify_audit().await;
}

async fn review_waits_for_the_required_answers_of_the_stage(app: &TestApp) {
    let review = setup(app, false).await;
    answer(app, &review, &review.author, "purpose", json!("Route tickets")).await;
    let before = app.audit_count().await;
    let reply = request_review(app, &review, &review.owner, "Intake").await;
    let message = reply.expect_error(409, "conflict");
    assert!(message.contains("`Risk` (risk)"), "{message}");
    assert!(!message.contains("purpose"), "{message}");
    assert_eq!(
        reply.json["error"]["details"]["missing_required"],
        json!([{ "input_id": "risk", "label": "Risk" }])
    );
    assert_eq!(app.audit_count().await, before, "nothing written");
    assert_eq!(
        approval(app, &review, "Intake review").await.status.as_str(),
        "not_requested"
    );

    answer(app, &review, &review.author, "risk", json!("High")).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
}

async fn a_later_stage_waits_for_the_earlier_ones(app: &TestApp) {
    let review = setup(app, true).await;
    let reply = request_review(app, &review, &review.owner, "Validation").await;
    let message = reply.expect_error(409, "conflict");
    assert!(message.contains("sequential order"), "{message}");
    assert!(
        message.contains("`Intake review` (stage `Intake`, not_requested)"),
        "{message}"
    );
}

async fn only_project_writers_request_review(app: &TestApp) {
    let review = setup(app, true).await;
    // A reviewer is not a project member: they decide, they do not ask.
    let reply = request_review(app, &review, &review.ann, "Intake").await;
    assert!(reply.expect_error(403, "forbidden").contains("project `lab`"));
    let viewer = app.user("vic", Role::Practitioner).await;
    let state = &app.state;
    let olga = super::store_user(app, &review.owner).await;
    let vic = super::store_user(app, &viewer).await;
    let project = charter_server::governance::project::find(state, "lab").await.unwrap();
    charter_server::governance::project::set_member(state, &super::ctx(), &olga, &project, &vic, "viewer")
        .await
        .unwrap();
    request_review(app, &review, &viewer, "Intake")
        .await
        .expect_error(403, "forbidden");
    // A project member who is not the creator may.
    request_review(app, &review, &review.author, "Intake").await.expect(200);
}
