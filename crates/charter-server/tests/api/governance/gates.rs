//! `/api/v1/gates/check`: a governed action waits for the approvals a policy's gate
//! names; every decision is audited.

use charter_domain::Role;
use serde_json::json;

use super::{INTAKE, approver_group, bundle, grant, project, published_policy, roomy};
use crate::harness::TestApp;

on_every_backend!(a_gate_is_denied_until_its_approval_is_granted(roomy));

async fn a_gate_is_denied_until_its_approval_is_granted(app: &TestApp) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    let project_id = project(app, &olga, "helpbot").await;
    let nb = bundle(app, &olga, "helpbot", "HelpBot", &["Intake"]).await;
    let id = nb["id"].as_str().unwrap();

    let check = json!({ "action": "start_app", "project": "helpbot", "target": "helpbot-web" });
    let reply = app.post("/gates/check", &olga, &check).await;
    let denied = reply.expect(200).clone();
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["action"], "start_app");
    assert_eq!(denied["gates"], json!(["HelpBot / Intake / Launch"]));
    assert_eq!(
        denied["missing"],
        json!([{ "bundle_id": id, "bundle": "HelpBot", "policy": "Intake", "gate": "Launch",
                 "approval": "Intake sign off", "status": "not_requested" }])
    );
    assert!(denied["message"].as_str().unwrap().contains("Intake sign off"));
    let event = app.last_event("gate.denied").await;
    assert_eq!(
        (event.target_type.as_str(), event.target_id.as_str()),
        ("project", project_id.as_str())
    );
    assert!(event.payload.contains("helpbot-web"), "{}", event.payload);
    assert_eq!(event.actor_name, "olga");

    // An action no gate names is allowed (and still audited).
    let reply = app
        .post(
            "/gates/check",
            &olga,
            &json!({ "action": "promote_model", "project": project_id }),
        )
        .await;
    assert_eq!(reply.expect(200)["allowed"], true);
    assert_eq!(app.last_event("gate.allowed").await.target_id, project_id);

    // Once the approval is granted, the gate opens (Domino's spelling works too).
    grant(app, id, "Intake sign off").await;
    let reply = app
        .post(
            "/gates/check",
            &olga,
            &json!({ "action": "CreateApp", "project": "helpbot" }),
        )
        .await;
    let allowed = reply.expect(200).clone();
    assert_eq!(allowed["allowed"], true, "{allowed}");
    assert_eq!(allowed["action"], "start_app");
    assert_eq!(allowed["missing"], json!([]));
    assert_eq!(allowed["gates"], json!(["HelpBot / Intake / Launch"]));
    let event = app.last_event("gate.allowed").await;
    assert!(event.payload.contains("start_app"));

    // Project viewers may ask; outsiders may not.
    let vic = app.user("vic", Role::Viewer).await;
    super::add_member(app, "helpbot", "vic", "viewer").await;
    app.post("/gates/check", &vic, &check).await.expect(200);
    let otto = app.user("otto", Role::Practitioner).await;
    app.post("/gates/check", &otto, &check)
        .await
        .expect_error(403, "forbidden");
    app.post(
        "/gates/check",
        &olga,
        &json!({ "action": "start_app", "project": "nope" }),
    )
    .await
    .expect_error(404, "not_found");
    let reply = app
        .post("/gates/check", &olga, &json!({ "action": " ", "project": "helpbot" }))
        .await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("action:"));
    app.verify_audit().await;
}
