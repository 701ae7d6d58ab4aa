//! `PUT /api/v1/bundles/{id}/stages/{stage}/assignee`: who works on a stage.

use charter_domain::Role;
use serde_json::{Value, json};

use super::{INTAKE, approver_group, bundle, notebook, project, published_policy, put};
use crate::harness::TestApp;

on_every_backend!(an_assignee_sees_the_stage_in_their_tasks_until_reassigned);

fn stage<'a>(nb: &'a Value, name: &str) -> &'a Value {
    nb["policies"][0]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

async fn open_stage_tasks(app: &TestApp, who: &crate::harness::TestUser) -> usize {
    let tasks = app.get("/tasks", who).await.expect(200).clone();
    tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "stage_assigned" && t["status"] == "open")
        .count()
}

async fn an_assignee_sees_the_stage_in_their_tasks_until_reassigned(app: &TestApp) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    let mel = app.user("mel", Role::Practitioner).await;
    let _otto = app.user("otto", Role::Practitioner).await;
    let p = project(app, &olga, "helpbot").await;
    super::add_member(app, &p, "mel", "member").await;
    let b = bundle(app, &olga, "helpbot", "HelpBot", &["Intake"]).await;
    let id = b["id"].as_str().unwrap().to_owned();
    let path = format!("/bundles/{id}/stages/Validation/assignee");

    let reply = put(app, &path, &olga, &json!({ "policy": "Intake", "user": "mel" })).await;
    assert_eq!(reply.expect(200)["assignee"], "mel");
    assert_eq!(stage(&notebook(app, &olga, &id).await, "Validation")["assignee"], "mel");
    assert_eq!(
        stage(&notebook(app, &olga, &id).await, "Intake")["assignee"],
        Value::Null
    );
    assert_eq!(open_stage_tasks(app, &mel).await, 1);

    // The same assignment again writes nothing.
    let before = app.audit_count().await;
    let reply = put(app, &path, &olga, &json!({ "policy": "Intake", "user": "mel" })).await;
    assert_eq!(reply.expect(200)["changed"], false);
    assert_eq!(app.audit_count().await, before);

    // Someone outside the project cannot be assigned; an unknown stage is named.
    let reply = put(app, &path, &olga, &json!({ "policy": "Intake", "user": "otto" })).await;
    let message = reply.expect_error(400, "invalid_request");
    assert!(message.contains("otto") && message.contains("member"), "{message}");
    let reply = put(
        app,
        &format!("/bundles/{id}/stages/Deployment/assignee"),
        &olga,
        &json!({ "policy": "Intake", "user": "mel" }),
    )
    .await;
    let message = reply.expect_error(404, "not_found");
    assert!(
        message.contains("Deployment") && message.contains("Validation"),
        "{message}"
    );

    // Reassigning closes the old assignee's task and opens one for the new.
    let reply = put(app, &path, &mel, &json!({ "policy": "Intake", "user": "olga" })).await;
    assert_eq!(reply.expect(200)["assignee"], "olga");
    assert_eq!(open_stage_tasks(app, &mel).await, 0);
    assert_eq!(open_stage_tasks(app, &olga).await, 1);
    let reply = put(app, &path, &olga, &json!({ "policy": "Intake", "user": null })).await;
    assert_eq!(reply.expect(200)["assignee"], Value::Null);
    assert_eq!(open_stage_tasks(app, &olga).await, 0);
    let actions: Vec<String> = app
        .events()
        .await
        .into_iter()
        .map(|e| e.action)
        .filter(|a| a.starts_with("stage."))
        .collect();
    assert_eq!(actions, ["stage.assigned", "stage.assigned", "stage.unassigned"]);
    app.verify_audit().await;
}
