//! `/api/v1/bundles/{id}/migrate`: moving a bundle to a newer published version of
//! its policy, explicitly, with a plan of what changes.

use charter_domain::Role;
use charter_store::approval::ApprovalStatus;
use serde_json::{Value, json};

use super::{INTAKE, answer, approver_group, bundle, grant, notebook, project, published_policy, put};
use crate::harness::TestApp;

on_every_backend!(a_migration_says_what_changes_and_resets_what_no_longer_stands);

async fn statuses(app: &TestApp, bundle: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = app
        .state
        .store
        .approvals(bundle.parse().unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.name, a.status.as_str().to_owned()))
        .collect();
    v.sort();
    v
}

async fn a_migration_says_what_changes_and_resets_what_no_longer_stands(app: &TestApp) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    let outsider = app.user("otto", Role::Practitioner).await;
    project(app, &olga, "helpbot").await;
    let b = bundle(app, &olga, "helpbot", "HelpBot", &["Intake"]).await;
    let id = b["id"].as_str().unwrap().to_owned();
    answer(app, &olga, &id, "Intake", "impact", json!("Internal FAQ only"))
        .await
        .expect(200);
    answer(app, &olga, &id, "Intake", "pii", json!("No")).await.expect(200);
    answer(app, &olga, &id, "Intake", "accuracy", json!(0.9))
        .await
        .expect(200);
    grant(app, &id, "Intake sign off").await;
    grant(app, &id, "Validation sign off").await;

    // Version 2 replaces the validation question and adds a model-risk approval;
    // the intake stage is untouched.
    let v2 = INTAKE
        .replace(
            "            id: accuracy\n            required: true\n            details: {type: numeric, label: Accuracy, min: 0, max: 1}",
            "            id: accuracy-golden\n            required: true\n            details: {type: numeric, label: Accuracy on the golden set, min: 0, max: 1}",
        )
        .replace(
            "      - name: Validation sign off\n        approvers: [risk-office]",
            "      - name: Validation sign off\n        approvers: [risk-office]\n      - name: Model risk sign off\n        approvers: [risk-office]",
        );
    assert_ne!(v2, INTAKE);
    put(app, "/policies/Intake/draft", &app.admin, &json!({ "yaml": v2 }))
        .await
        .expect(200);

    // A draft is not a place to move to.
    let reply = app
        .post(
            &format!("/bundles/{id}/migrate"),
            &olga,
            &json!({ "policy": "Intake", "to_version": "2" }),
        )
        .await;
    let message = reply.expect_error(400, "invalid_request");
    assert!(message.contains("published"), "{message}");

    app.post("/policies/Intake/versions/2/publish", &app.admin, &Value::Null)
        .await
        .expect(200);

    // Someone outside the project may not move it.
    let reply = app
        .post(
            &format!("/bundles/{id}/migrate"),
            &outsider,
            &json!({ "policy": "Intake" }),
        )
        .await;
    assert!(matches!(reply.status.as_u16(), 403 | 404), "{}", reply.text);

    // A dry run says what would change, and changes nothing.
    let before = app.audit_count().await;
    let reply = app
        .post(
            &format!("/bundles/{id}/migrate"),
            &olga,
            &json!({ "policy": "Intake", "dry_run": true }),
        )
        .await;
    let plan = reply.expect(200).clone();
    assert_eq!(app.audit_count().await, before);
    assert_eq!(plan["applied"], false);
    assert_eq!(
        (plan["from_version"].clone(), plan["to_version"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(plan["approvals_added"], json!(["Validation/Model risk sign off"]));
    assert_eq!(
        plan["approvals_reset"],
        json!(["Validation/Validation sign off (was approved)"])
    );
    assert_eq!(plan["approvals_kept"], json!(["Intake/Intake sign off (approved)"]));
    assert_eq!(plan["answers_orphaned"], json!(["accuracy"]));
    assert!(!plan["changes"].as_array().unwrap().is_empty());
    assert_eq!(notebook(app, &olga, &id).await["policies"][0]["version"], 1);

    // The migration itself.
    let reply = app
        .post(&format!("/bundles/{id}/migrate"), &olga, &json!({ "policy": "Intake" }))
        .await;
    let done = reply.expect(200).clone();
    assert_eq!(done["applied"], true);
    assert_eq!(done["approvals_reset"], plan["approvals_reset"]);
    let nb = notebook(app, &olga, &id).await;
    assert_eq!(nb["policies"][0]["version"], 2);
    assert_eq!(
        statuses(app, &id).await,
        [
            (
                "Intake sign off".to_owned(),
                ApprovalStatus::Approved.as_str().to_owned()
            ),
            ("Model risk sign off".to_owned(), "not_requested".to_owned()),
            ("Validation sign off".to_owned(), "not_requested".to_owned()),
        ]
    );
    let events: Vec<_> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e.action == "bundle.policy_migrated")
        .collect();
    assert_eq!(events.len(), 1);
    assert!(
        events[0].payload.contains("Model risk sign off"),
        "{}",
        events[0].payload
    );
    app.verify_audit().await;

    // Once there, it stays there.
    let reply = app
        .post(&format!("/bundles/{id}/migrate"), &olga, &json!({ "policy": "Intake" }))
        .await;
    let message = reply.expect_error(409, "conflict");
    assert!(message.contains("already follows version 2"), "{message}");
}
