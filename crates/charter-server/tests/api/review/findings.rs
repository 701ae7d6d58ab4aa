//! `/findings`, `/bundles/{id}/findings`, `/findings/{id}`, `/findings/{id}/comments`.

use charter_domain::time::{now_ms, rfc3339};
use serde_json::{Value, json};

use super::{DAY, Review, approval, request_review, setup, tasks_about};
use crate::governance::upload;
use crate::harness::TestApp;

on_every_backend!(
    resolving_needs_a_note_and_only_the_approver_closes,
    mentions_give_tasks,
    findings_list_filters_and_flags_overdue,
    findings_name_what_is_wrong,
    files_attach_to_a_finding_and_stay_with_it,
);

async fn log(app: &TestApp, review: &Review, body: Value) -> Value {
    app.post(&format!("/bundles/{}/findings", review.bundle_id), &review.owner, &body)
        .await
        .expect(201)
        .clone()
}

async fn resolving_needs_a_note_and_only_the_approver_closes(app: &TestApp) {
    let review = setup(app, true).await;
    let f = log(
        app,
        &review,
        json!({ "name": "No drift monitoring", "description": "# Gap\nNothing watches *drift*.", "severity": "high",
                "assignee": "pete", "approver": "ann", "due_date": "2999-06-01", "approval": "Intake review" }),
    )
    .await;
    assert!(f["id"].as_str().unwrap().starts_with("fnd_"));
    assert_eq!(f["status"], "open");
    assert_eq!(f["stage"], "Intake", "the approval's stage");
    assert_eq!(
        f["approval_id"],
        approval(app, &review, "Intake review").await.id.to_string().as_str()
    );
    assert_eq!(
        (f["assignee"].as_str(), f["approver"].as_str()),
        (Some("pete"), Some("ann"))
    );
    assert_eq!(f["due_date"], "2999-06-01T00:00:00Z");
    assert_eq!(f["created_by"], "olga");
    let id = f["id"].as_str().unwrap();
    let path = format!("/findings/{id}");
    assert_eq!(app.last_event("finding.created").await.target_id, id);
    assert_eq!(tasks_about(app, &review.author, "finding", id).await.len(), 1);

    app.patch(&path, &review.author, &json!({ "status": "in_progress" }))
        .await
        .expect(200);
    let reply = app.patch(&path, &review.author, &json!({ "status": "resolved" })).await;
    let message = reply.expect_error(400, "invalid_request");
    assert!(message.starts_with("resolution:"), "{message}");
    let reply = app
        .patch(
            &path,
            &review.author,
            &json!({ "status": "resolved", "resolution": "   " }),
        )
        .await;
    reply.expect_error(400, "invalid_request");
    let reply = app
        .patch(
            &path,
            &review.author,
            &json!({ "status": "resolved", "resolution": "Added a PSI check, alerting at 0.2" }),
        )
        .await;
    assert_eq!(reply.expect(200)["status"], "resolved");
    assert_eq!(app.last_event("finding.resolved").await.actor_name, "pete");
    // The assignee's task is done; the approver has one to check and close.
    assert!(tasks_about(app, &review.author, "finding", id).await.is_empty());
    assert_eq!(tasks_about(app, &review.ann, "finding", id).await.len(), 1);

    // Only the approver closes.
    for who in [&review.author, &review.owner, &review.bob] {
        let reply = app.patch(&path, who, &json!({ "status": "closed" })).await;
        let message = reply.expect_error(403, "forbidden");
        assert!(
            message.contains("only the finding's approver (ann)"),
            "{}: {message}",
            who.username
        );
    }
    let reply = app.patch(&path, &review.ann, &json!({ "status": "closed" })).await;
    let body = reply.expect(200);
    assert_eq!(body["status"], "closed");
    assert_eq!(body["resolution"], "Added a PSI check, alerting at 0.2");
    assert_eq!(app.last_event("finding.closed").await.actor_name, "ann");
    assert!(tasks_about(app, &review.ann, "finding", id).await.is_empty());
    // Closed, it changes only by its approver.
    app.patch(&path, &review.author, &json!({ "severity": "low" }))
        .await
        .expect_error(403, "forbidden");
    // An empty change is refused.
    app.patch(&path, &review.ann, &json!({}))
        .await
        .expect_error(400, "invalid_request");
    app.verify_audit().await;
}

async fn mentions_give_tasks(app: &TestApp) {
    let review = setup(app, true).await;
    let f = log(app, &review, json!({ "name": "Unclear owner", "severity": "low" })).await;
    let id = f["id"].as_str().unwrap();
    let reply = app
        .post(
            &format!("/findings/{id}/comments"),
            &review.author,
            &json!({ "body": "@ann can you confirm? cc @bob. (not @nobody, and not pete@example.com)" }),
        )
        .await;
    let body = reply.expect(201);
    assert_eq!(body["notified"], json!(["ann", "bob"]));
    assert_eq!(body["comment"]["author"], "pete");
    assert!(body["comment"]["id"].as_str().unwrap().starts_with("cmt_"));
    for who in [&review.ann, &review.bob] {
        let mine = tasks_about(app, who, "mention", id).await;
        assert_eq!(mine.len(), 1, "{}", who.username);
        assert!(mine[0]["title"].as_str().unwrap().contains("pete mentioned you"));
    }
    assert!(tasks_about(app, &review.author, "mention", id).await.is_empty());
    assert_eq!(app.last_event("finding.commented").await.actor_name, "pete");

    let detail = app.get(&format!("/findings/{id}"), &review.ann).await;
    let detail = detail.expect(200);
    assert_eq!(detail["name"], "Unclear owner");
    assert_eq!(detail["comments"].as_array().unwrap().len(), 1);
    assert!(
        detail["comments"][0]["body"]
            .as_str()
            .unwrap()
            .starts_with("@ann can you confirm?")
    );

    app.post(
        &format!("/findings/{id}/comments"),
        &review.author,
        &json!({ "body": " " }),
    )
    .await
    .expect_error(400, "invalid_request");
    // Someone who cannot read the bundle cannot see or comment.
    app.get(&format!("/findings/{id}"), &review.outsider)
        .await
        .expect_error(404, "not_found");
    app.post(
        &format!("/findings/{id}/comments"),
        &review.outsider,
        &json!({ "body": "hi" }),
    )
    .await
    .expect_error(404, "not_found");
}

async fn findings_list_filters_and_flags_overdue(app: &TestApp) {
    let review = setup(app, true).await;
    let now = now_ms();
    let late = log(
        app,
        &review,
        json!({ "name": "Late", "severity": "critical", "due_date": rfc3339(now - DAY), "assignee": "pete" }),
    )
    .await;
    assert_eq!(late["overdue"], true);
    let soon = log(
        app,
        &review,
        json!({ "name": "Soon", "severity": "low", "due_date": rfc3339(now + DAY) }),
    )
    .await;
    assert_eq!(soon["overdue"], false);

    let names = |reply: &crate::harness::Reply| -> Vec<String> {
        reply
            .expect(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = app.get("/findings", &review.owner).await;
    assert_eq!(names(&all), ["Soon", "Late"], "newest first");
    let q = format!("/findings?bundle={}&overdue=true", review.bundle_id);
    assert_eq!(names(&app.get(&q, &review.owner).await), ["Late"]);
    assert_eq!(names(&app.get("/findings?severity=low", &review.owner).await), ["Soon"]);
    assert_eq!(names(&app.get("/findings?assignee=me", &review.author).await), ["Late"]);
    assert_eq!(
        names(&app.get("/findings?assignee=pete&status=open", &review.ann).await),
        ["Late"]
    );
    assert!(names(&app.get("/findings?status=closed", &review.owner).await).is_empty());
    // Readable bundles only: an outsider sees nothing, a reviewer (approver) sees them.
    assert!(names(&app.get("/findings", &review.outsider).await).is_empty());
    assert_eq!(names(&app.get("/findings", &review.bob).await).len(), 2);

    let reply = app.get("/findings?severity=urgent", &review.owner).await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("severity:"));
    let reply = app.get("/findings?status=done", &review.owner).await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("status:"));
    let reply = app.get("/findings?bundle=nope", &review.owner).await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("bundle:"));
}

async fn findings_name_what_is_wrong(app: &TestApp) {
    let review = setup(app, true).await;
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let path = format!("/bundles/{}/findings", review.bundle_id);
    for (body, field) in [
        (json!({ "name": "", "severity": "low" }), "name:"),
        (json!({ "name": "x", "severity": "urgent" }), "severity:"),
        (
            json!({ "name": "x", "severity": "low", "assignee": "nobody" }),
            "assignee:",
        ),
        (
            json!({ "name": "x", "severity": "low", "due_date": "soon" }),
            "due_date:",
        ),
        (json!({ "name": "x", "severity": "low", "stage": "Deploy" }), "stage:"),
        (
            json!({ "name": "x", "severity": "low", "approval": "Nope" }),
            "approval:",
        ),
        (
            json!({ "name": "x", "severity": "low", "approval": "Intake review", "stage": "Validation" }),
            "stage:",
        ),
    ] {
        let reply = app.post(&path, &review.owner, &body).await;
        let message = reply.expect_error(400, "invalid_request");
        assert!(message.starts_with(field), "{body}: {message}");
    }
    // Reviewers log findings without being project members; outsiders cannot.
    app.post(
        &path,
        &review.bob,
        &json!({ "name": "From review", "severity": "medium" }),
    )
    .await
    .expect(201);
    app.post(&path, &review.outsider, &json!({ "name": "x", "severity": "low" }))
        .await
        .expect_error(404, "not_found");
}

async fn files_attach_to_a_finding_and_stay_with_it(app: &TestApp) {
    let review = setup(app, true).await;
    let f = log(
        app,
        &review,
        json!({ "name": "No drift monitoring", "severity": "medium", "assignee": "pete", "approver": "ann",
                "approval": "Intake review" }),
    )
    .await;
    let id = f["id"].as_str().unwrap().to_owned();
    let bundle = review.bundle_id.clone();

    // Ann approves, and is no project member: she cannot add evidence to the
    // bundle, but she can attach to the finding she works on, as can its assignee.
    upload(app, &review.ann, &bundle, "name=psi.txt", "psi 0.31")
        .await
        .expect_error(403, "forbidden");
    let reply = upload(
        app,
        &review.ann,
        &bundle,
        &format!("name=psi.txt&finding={id}"),
        "psi 0.31",
    )
    .await;
    let att = reply.expect(201).clone();
    assert_eq!(att["finding_id"], id.as_str());
    assert_eq!(att["reference"]["finding_id"], id.as_str());
    assert_eq!(att["sha256"].as_str().unwrap().len(), 64);
    upload(
        app,
        &review.author,
        &bundle,
        &format!("name=fix.txt&finding={id}"),
        "alerting at 0.2",
    )
    .await
    .expect(201);
    assert_eq!(app.last_event("attachment.added").await.actor_name, "pete");

    // The finding lists its files, oldest first.
    let detail = app.get(&format!("/findings/{id}"), &review.owner).await;
    let names: Vec<&str> = detail.expect(200)["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["psi.txt", "fix.txt"]);

    // Outsiders and other bundles' findings are refused.
    upload(app, &review.outsider, &bundle, &format!("name=x.txt&finding={id}"), "x")
        .await
        .expect_error(403, "forbidden");
    let message = upload(
        app,
        &review.author,
        &bundle,
        "name=x.txt&finding=fnd_00000000000000000000000000000000",
        "x",
    )
    .await
    .expect_error(400, "invalid_request")
    .to_owned();
    assert!(message.starts_with("finding:"), "{message}");

    // A copy of the bundle leaves the finding's files with the finding.
    let plan = app.get(&format!("/bundles/{bundle}/copy-preview"), &review.owner).await;
    assert_eq!(plan.expect(200)["attachments"], json!([]));
    app.verify_audit().await;
}
