//! `/approvals/{id}`, `/approvals/{id}/decision`, `/approvals/{id}/approvers` and
//! `/policies/{id}/sod-exemptions`.

use charter_domain::Role;
use serde_json::{Value, json};

use super::{
    DAY, POLICY, POLICY_YAML, answer, approval, approve_intake, current_stage, decide, events_after, join,
    request_review, setup, setup_with, signoff, tasks_about, try_answer,
};
use crate::harness::TestApp;

on_every_backend!(
    separation_of_duties_refuses_the_creator_and_the_evidence_author,
    an_admin_exemption_lets_an_author_approve,
    approving_needs_the_sign_off_form,
    approval_moves_the_current_stage_and_closes_the_tasks,
    rejection_reopens_the_stage_for_evidence,
    a_rejection_withdraws_the_other_approvals_of_its_stage,
    revoking_reopens_an_approved_stage,
    only_named_approvers_decide,
    a_decision_names_the_version_it_saw,
    two_approvers_deciding_at_once_one_wins,
    additional_approvers_where_the_policy_allows,
    the_approval_shows_its_form_and_conditions,
);

async fn separation_of_duties_refuses_the_creator_and_the_evidence_author(app: &TestApp) {
    let review = setup(app, true).await;
    // The creator and the author are reviewers too: the group alone would let them.
    join(app, "reviewers", &review.owner).await;
    join(app, "reviewers", &review.author).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let id = approval(app, &review, "Intake review").await.id.to_string();

    for outcome in ["approve", "reject", "conditional"] {
        let before = app.audit_count().await;
        let body = json!({ "outcome": outcome, "signoff": signoff(), "comment": "looks fine",
                           "findings": if outcome == "conditional" { json!([{"name": "x", "severity": "low", "due_date": "2999-01-01"}]) } else { json!([]) } });
        let reply = decide(app, &review, &review.owner, "Intake review", body).await;
        let message = reply.expect_error(403, "separation_of_duties");
        assert!(
            message.contains("separation of duties: you created bundle `Model A`"),
            "{message}"
        );
        assert!(message.contains("`Intake review`"), "{message}");
        assert_eq!(reply.json["error"]["details"]["rule"], "separation_of_duties.creator");
        let refused = events_after(app, before, "approval.refused").await;
        assert_eq!(refused.len(), 1, "{outcome}: the refusal is audited");
        assert_eq!(refused[0].actor_name, "olga");
        assert_eq!(refused[0].target_id, id);
        let payload: Value = serde_json::from_str(&refused[0].payload).unwrap();
        assert_eq!(payload["rule"], "separation_of_duties.creator");
        assert_eq!(payload["outcome"], outcome);
    }

    let reply = decide(
        app,
        &review,
        &review.author,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await;
    let message = reply.expect_error(403, "separation_of_duties");
    assert!(
        message.contains("you answered evidence of stage `Intake` of bundle `Model A`"),
        "{message}"
    );
    assert!(message.contains("`Purpose`") || message.contains("`Risk`"), "{message}");
    assert_eq!(
        reply.json["error"]["details"]["rule"],
        "separation_of_duties.answered_evidence"
    );
    let last = app.last_event("approval.refused").await;
    assert_eq!(last.actor_name, "pete");

    // Nothing moved; someone independent still can.
    let a = approval(app, &review, "Intake review").await;
    assert_eq!(a.status.as_str(), "pending");
    decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await
    .expect(200);

    // The rule is about the stage one answered: pete, who answered Intake, may
    // decide Validation (whose evidence olga wrote).
    answer(app, &review, &review.owner, "validation-summary", json!("holds up")).await;
    request_review(app, &review, &review.owner, "Validation")
        .await
        .expect(200);
    let reply = decide(
        app,
        &review,
        &review.author,
        "Validation sign-off",
        json!({ "outcome": "approve" }),
    )
    .await;
    reply.expect(200);
    app.verify_audit().await;
}

async fn an_admin_exemption_lets_an_author_approve(app: &TestApp) {
    let review = setup(app, true).await;
    join(app, "reviewers", &review.author).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let path = format!("/policies/{POLICY}/sod-exemptions");

    // Admins only, and a reason is required.
    app.post(
        &path,
        &review.ann,
        &json!({ "user": "pete", "reason": "two-person team" }),
    )
    .await
    .expect_error(403, "forbidden");
    let reply = app
        .post(&path, &app.admin, &json!({ "user": "pete", "reason": "  " }))
        .await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("reason:"));
    let reply = app
        .post(&path, &app.admin, &json!({ "user": "nobody", "reason": "x" }))
        .await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("user:"));

    let reply = app
        .post(
            &path,
            &app.admin,
            &json!({ "user": "pete", "reason": "two-person team" }),
        )
        .await;
    let body = reply.expect(201);
    assert_eq!(body["username"], "pete");
    assert_eq!(body["reason"], "two-person team");
    let granted = app.last_event("sod_exemption.granted").await;
    assert_eq!(granted.actor_name, "admin");
    app.post(&path, &app.admin, &json!({ "user": "pete", "reason": "again" }))
        .await
        .expect_error(409, "conflict");
    let list = app.get(&path, &app.admin).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);

    let reply = decide(
        app,
        &review,
        &review.author,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await;
    reply.expect(200);
    let granted = app.last_event("approval.granted").await;
    let payload: Value = serde_json::from_str(&granted.payload).unwrap();
    assert_eq!(
        payload["details"]["sod_exemption"],
        json!({ "rule": "separation_of_duties.answered_evidence", "reason": "two-person team" }),
        "the decision names the exemption it relied on"
    );

    // Withdrawn, the rule applies again.
    let reply = app.delete(&format!("{path}/pete"), &app.admin).await;
    reply.expect(204);
    app.last_event("sod_exemption.revoked").await;
    app.delete(&format!("{path}/pete"), &app.admin)
        .await
        .expect_error(404, "not_found");
    assert!(
        app.get(&path, &app.admin)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.verify_audit().await;
}

async fn approving_needs_the_sign_off_form(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let before = app.audit_count().await;

    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve" }),
    )
    .await;
    let message = reply.expect_error(400, "invalid_request");
    assert!(
        message.starts_with("signoff: fill the sign-off form of `Intake review`"),
        "{message}"
    );
    assert!(message.contains("`Decision` (intake-decision)"), "{message}");
    assert!(
        !message.contains("intake-notes"),
        "optional questions are not required: {message}"
    );
    assert_eq!(
        reply.json["error"]["details"]["missing_sign_off"],
        json!(["intake-decision"])
    );

    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": { "intake-decision": "Maybe" } }),
    )
    .await;
    let message = reply.expect_error(400, "invalid_request");
    assert!(message.starts_with("signoff.intake-decision:"), "{message}");
    assert_eq!(reply.json["error"]["details"]["code"], "not_an_option");

    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": { "intake-decision": "Proceed", "mood": "good" } }),
    )
    .await;
    let message = reply.expect_error(400, "invalid_request");
    assert!(message.starts_with("signoff.mood:"), "{message}");
    assert!(message.contains("intake-decision, intake-notes"), "{message}");

    let reply = decide(app, &review, &review.ann, "Intake review", json!({ "outcome": "ok" })).await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("outcome:"));
    let reply = app
        .post(
            &format!(
                "/approvals/{}/decision",
                approval(app, &review, "Intake review").await.id
            ),
            &review.ann,
            &json!({ "outcome": "approve" }),
        )
        .await;
    assert!(reply.expect_error(400, "invalid_request").contains("version"));

    assert_eq!(app.audit_count().await, before, "refused decisions write nothing");
    assert_eq!(approval(app, &review, "Intake review").await.status.as_str(), "pending");

    // Rejecting needs no sign-off, but a reason.
    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "reject" }),
    )
    .await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("comment:"));

    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": { "intake-decision": "Proceed", "intake-notes": "Well argued" } }),
    )
    .await;
    let body = reply.expect(200);
    assert_eq!(
        body["approval"]["signoff"],
        json!({ "intake-decision": "Proceed", "intake-notes": "Well argued" })
    );
}

async fn approval_moves_the_current_stage_and_closes_the_tasks(app: &TestApp) {
    let review = setup(app, true).await;
    assert_eq!(current_stage(app, &review).await, "Intake");
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let a = approval(app, &review, "Intake review").await;
    let before = app.audit_count().await;
    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff(), "comment": "clear and complete", "expires_at": "2999-01-01" }),
    )
    .await;
    let body = reply.expect(200);
    assert_eq!(body["approval"]["status"], "approved");
    assert_eq!(body["approval"]["granted"], true);
    assert_eq!(body["approval"]["decided_by"], "ann");
    assert_eq!(body["approval"]["comment"], "clear and complete");
    assert_eq!(body["approval"]["expires_at"], "2999-01-01T00:00:00Z");
    assert_eq!(body["approval"]["version"], a.version + 1);
    assert_eq!(body["current_stage"], "Validation");
    assert_eq!(current_stage(app, &review).await, "Validation");

    let granted = events_after(app, before, "approval.granted").await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0].actor_name, "ann");
    let moved = events_after(app, before, "bundle.stage_changed").await;
    assert_eq!(moved.len(), 1, "the stage change is recorded with the decision");
    let payload: Value = serde_json::from_str(&moved[0].payload).unwrap();
    assert_eq!(
        (payload["before"].as_str(), payload["after"].as_str()),
        (Some("Intake"), Some("Validation"))
    );

    // Both reviewers' tasks are done.
    for member in [&review.ann, &review.bob] {
        assert!(tasks_about(app, member, "approval", &a.id.to_string()).await.is_empty());
    }
    let all = app.get("/tasks?all=true", &review.bob).await;
    let done: Vec<&Value> = all
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["target_id"] == a.id.to_string().as_str())
        .collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0]["status"], "done");
    assert!(done[0]["done_at"].is_string());

    // The approved stage's evidence is frozen; the next stage's is open.
    let frozen = try_answer(app, &review, &review.author, "risk", json!("High")).await;
    assert_eq!(frozen.unwrap_err().status.as_u16(), 409);
    answer(app, &review, &review.author, "validation-summary", json!("ok")).await;

    // Deciding again is a conflict.
    let again = decide(
        app,
        &review,
        &review.bob,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await;
    assert!(again.expect_error(409, "conflict").contains("already granted"));
}

async fn rejection_reopens_the_stage_for_evidence(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let reply = decide(
        app,
        &review,
        &review.bob,
        "Intake review",
        json!({ "outcome": "reject", "comment": "the purpose is vague" }),
    )
    .await;
    let body = reply.expect(200);
    assert_eq!(body["approval"]["status"], "rejected");
    assert_eq!(body["approval"]["granted"], false);
    assert_eq!(body["current_stage"], "Intake");
    let rejected = app.last_event("approval.rejected").await;
    assert_eq!(rejected.actor_name, "bob");
    let payload: Value = serde_json::from_str(&rejected.payload).unwrap();
    assert_eq!(payload["comment"], "the purpose is vague");

    // The team reworks the evidence and asks again.
    answer(
        app,
        &review,
        &review.author,
        "purpose",
        json!("Route support tickets to teams"),
    )
    .await;
    let reply = request_review(app, &review, &review.owner, "Intake").await;
    assert_eq!(reply.expect(200)["approvals"][0]["status"], "pending");
    assert_eq!(
        tasks_about(app, &review.bob, "approval", body["approval"]["id"].as_str().unwrap())
            .await
            .len(),
        1
    );
    decide(
        app,
        &review,
        &review.bob,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await
    .expect(200);
    assert_eq!(current_stage(app, &review).await, "Validation");
}

async fn a_rejection_withdraws_the_other_approvals_of_its_stage(app: &TestApp) {
    let lena = app.user("lena", Role::Practitioner).await;
    app.post("/groups", &app.admin, &json!({ "name": "legal" }))
        .await
        .expect(201);
    join(app, "legal", &lena).await;
    let yaml = POLICY_YAML.replace(
        "  - name: Validation\n",
        "      - name: Legal review\n        approvers: [legal]\n  - name: Validation\n",
    );
    let review = setup_with(app, &yaml, true).await;
    let reply = request_review(app, &review, &review.owner, "Intake").await;
    assert_eq!(reply.expect(200)["notified"], json!(["ann", "bob", "lena"]));
    decide(app, &review, &lena, "Legal review", json!({ "outcome": "approve" }))
        .await
        .expect(200);
    assert_eq!(
        current_stage(app, &review).await,
        "Intake",
        "every approval of a stage is needed"
    );
    // Part-approved, the stage's evidence is frozen.
    assert!(
        try_answer(app, &review, &review.author, "risk", json!("High"))
            .await
            .is_err()
    );

    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "reject", "comment": "the risk answer is wrong" }),
    )
    .await;
    let body = reply.expect(200);
    assert_eq!(body["also_revoked"][0]["name"], "Legal review");
    assert_eq!(body["also_revoked"][0]["status"], "revoked");
    assert_eq!(approval(app, &review, "Legal review").await.status.as_str(), "revoked");
    let revoked = app.last_event("approval.revoked").await;
    let payload: Value = serde_json::from_str(&revoked.payload).unwrap();
    assert_eq!(payload["details"]["reason"], "stage_reopened");
    // The stage is open for evidence again, and both approvals can be asked for again.
    answer(app, &review, &review.author, "risk", json!("High")).await;
    let reply = request_review(app, &review, &review.owner, "Intake").await;
    let approvals = reply.expect(200)["approvals"].as_array().unwrap().clone();
    assert!(approvals.iter().all(|a| a["status"] == "pending"), "{approvals:?}");
}

async fn revoking_reopens_an_approved_stage(app: &TestApp) {
    let review = setup(app, true).await;
    approve_intake(app, &review).await;
    // Revoking needs a reason; an admin may revoke without being named.
    let reply = decide(
        app,
        &review,
        &app.admin,
        "Intake review",
        json!({ "outcome": "revoke" }),
    )
    .await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("comment:"));
    let reply = decide(
        app,
        &review,
        &app.admin,
        "Intake review",
        json!({ "outcome": "revoke", "comment": "the data source changed" }),
    )
    .await;
    let body = reply.expect(200);
    assert_eq!(body["approval"]["status"], "revoked");
    assert_eq!(body["current_stage"], "Intake");
    assert_eq!(app.last_event("approval.revoked").await.actor_name, "admin");
    // Open for evidence again.
    answer(app, &review, &review.author, "risk", json!("High")).await;
    // Revoking what is not granted is a conflict.
    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "revoke", "comment": "again" }),
    )
    .await;
    assert!(reply.expect_error(409, "conflict").contains("not granted"));
}

async fn only_named_approvers_decide(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    // A project member who is not an approver: refused and audited.
    let before = app.audit_count().await;
    let reply = decide(
        app,
        &review,
        &review.author,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await;
    let message = reply.expect_error(403, "forbidden");
    assert!(message.contains("only its named approvers may approve"), "{message}");
    assert!(message.contains("group reviewers"), "{message}");
    let refused = events_after(app, before, "approval.refused").await;
    assert_eq!(refused.len(), 1);
    // An admin is not an approver either (they may only revoke).
    decide(
        app,
        &review,
        &app.admin,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await
    .expect_error(403, "forbidden");
    // Someone who cannot even read the bundle does not learn it exists.
    decide(
        app,
        &review,
        &review.outsider,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await
    .expect_error(404, "not_found");
    // A viewer in the group decides nothing.
    let vera = app.user("vera", Role::Viewer).await;
    join(app, "reviewers", &vera).await;
    let reply = decide(
        app,
        &review,
        &vera,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await;
    assert!(reply.expect_error(403, "forbidden").contains("viewers cannot decide"));
}

async fn a_decision_names_the_version_it_saw(app: &TestApp) {
    let review = setup(app, true).await;
    let old = approval(app, &review, "Intake review").await.version;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let reply = decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff(), "version": old }),
    )
    .await;
    assert!(reply.expect_error(409, "conflict").contains("reload it"));
}

async fn two_approvers_deciding_at_once_one_wins(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let seen = approval(app, &review, "Intake review").await;
    let before = app.audit_count().await;
    let path = format!("/approvals/{}/decision", seen.id);
    let approve = json!({ "outcome": "approve", "signoff": signoff(), "version": seen.version });
    let reject = json!({ "outcome": "reject", "comment": "not yet", "version": seen.version });
    let (a, b) = tokio::join!(
        app.post(&path, &review.ann, &approve),
        app.post(&path, &review.bob, &reject)
    );
    let statuses = [a.status.as_u16(), b.status.as_u16()];
    assert!(
        statuses == [200, 409] || statuses == [409, 200],
        "exactly one decision wins: {statuses:?} ({} / {})",
        a.text,
        b.text
    );
    let loser = if a.status.as_u16() == 409 { &a } else { &b };
    loser.expect_error(409, "conflict");

    let after = approval(app, &review, "Intake review").await;
    assert_eq!(after.version, seen.version + 1, "one transition, not two");
    let decisions: Vec<_> = app
        .events_after(before)
        .await
        .into_iter()
        .filter(|e| e.action == "approval.granted" || e.action == "approval.rejected")
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let winner = if a.status.as_u16() == 200 {
        ("ann", "approved")
    } else {
        ("bob", "rejected")
    };
    assert_eq!(decisions[0].actor_name, winner.0);
    assert_eq!(after.status.as_str(), winner.1);
    app.verify_audit().await;
}

async fn additional_approvers_where_the_policy_allows(app: &TestApp) {
    let review = setup(app, true).await;
    let carl = app.user("carl", Role::Practitioner).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let a = approval(app, &review, "Intake review").await;
    let path = format!("/approvals/{}/approvers", a.id);

    // Not a project writer (a reviewer) → refused; unknown names are named.
    app.post(&path, &review.ann, &json!({ "add": ["carl"] }))
        .await
        .expect_error(403, "forbidden");
    let reply = app
        .post(&path, &review.owner, &json!({ "add": ["carl", "nobody"] }))
        .await;
    assert!(
        reply
            .expect_error(400, "invalid_request")
            .starts_with("add[1]: `nobody`")
    );

    let reply = app.post(&path, &review.owner, &json!({ "add": ["carl"] })).await;
    let body = reply.expect(200);
    assert_eq!(
        body["approvers"],
        json!([
            { "kind": "group", "name": "reviewers", "additional": false },
            { "kind": "user", "name": "carl", "additional": true },
        ])
    );
    assert_eq!(app.last_event("approval.approvers_changed").await.actor_name, "olga");
    assert_eq!(tasks_about(app, &carl, "approval", &a.id.to_string()).await.len(), 1);
    decide(
        app,
        &review,
        &carl,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await
    .expect(200);

    // Validation sign-off does not allow additional approvers.
    let v = approval(app, &review, "Validation sign-off").await;
    let reply = app
        .post(
            &format!("/approvals/{}/approvers", v.id),
            &review.owner,
            &json!({ "add": ["carl"] }),
        )
        .await;
    assert!(reply.expect_error(409, "conflict").contains("allowAdditionalApprovers"));
}

async fn the_approval_shows_its_form_and_conditions(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let a = approval(app, &review, "Intake review").await;
    let due = charter_domain::time::rfc3339(charter_domain::time::now_ms() + 7 * DAY);
    decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "conditional", "signoff": { "intake-decision": "Proceed with conditions" },
                "findings": [{ "name": "Document the fallback", "severity": "medium", "due_date": due, "assignee": "pete" }] }),
    )
    .await
    .expect(200);
    let reply = app.get(&format!("/approvals/{}", a.id), &review.author).await;
    let body = reply.expect(200);
    assert_eq!(body["status"], "conditionally_approved");
    assert_eq!(body["allow_additional_approvers"], true);
    assert_eq!(body["signoff_form"][0]["input_id"], "intake-decision");
    assert_eq!(body["signoff_form"][0]["type"], "radio");
    assert_eq!(body["signoff_form"][0]["required"], true);
    assert_eq!(
        body["signoff_form"][0]["options"],
        json!(["Proceed", "Proceed with conditions", "Stop"])
    );
    assert_eq!(body["findings"][0]["name"], "Document the fallback");
    assert_eq!(body["findings"][0]["assignee"], "pete");
    assert_eq!(body["findings"][0]["approver"], "ann");
    // An outsider sees nothing.
    app.get(&format!("/approvals/{}", a.id), &review.outsider)
        .await
        .expect_error(404, "not_found");
}
