//! `/api/v1/groups`: anyone signed in reads them, admins change them.

use charter_domain::Role;
use serde_json::{Value, json};

use crate::harness::{Auth, TestApp};

on_every_backend!(
    admins_create_groups_and_manage_members,
    everyone_signed_in_reads_groups_but_only_admins_change_them,
    group_mistakes_are_named,
);

async fn admins_create_groups_and_manage_members(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;
    let bob = app.user("bob", Role::Practitioner).await;
    let reply = app
        .post(
            "/groups",
            &app.admin,
            &json!({ "name": "model-risk", "description": "  Second line of defence  " }),
        )
        .await;
    let group = reply.expect(201).clone();
    let id = group["id"].as_str().unwrap();
    assert!(id.starts_with("grp_"));
    assert_eq!(group["name"], "model-risk");
    assert_eq!(group["description"], "Second line of defence");
    assert_eq!(group["member_count"], 0);
    app.post("/groups", &app.admin, &json!({ "name": "audit" }))
        .await
        .expect(201);

    let list = app.get("/groups", &app.admin).await;
    let names: Vec<&str> = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["audit", "model-risk"], "sorted by name");

    // Members by username or by id.
    app.post(&format!("/groups/{id}/members"), &app.admin, &json!({ "user": "ann" }))
        .await
        .expect(204);
    app.post("/groups/model-risk/members", &app.admin, &json!({ "user": bob.id }))
        .await
        .expect(204);
    for key in [id, "model-risk"] {
        let reply = app.get(&format!("/groups/{key}"), &app.admin).await;
        let detail = reply.expect(200);
        assert_eq!(detail["id"], id);
        assert_eq!(detail["member_count"], 2);
        let members: Vec<&str> = detail["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(members, ["ann", "bob"]);
    }
    assert_eq!(app.get("/me", &ann).await.expect(200)["groups"], json!(["model-risk"]));

    let event = app.last_event("group.member_added").await;
    let payload: Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(
        (event.target_id.as_str(), payload["username"].as_str()),
        (id, Some("bob"))
    );

    app.delete(&format!("/groups/{id}/members/ann"), &app.admin)
        .await
        .expect(204);
    app.delete(&format!("/groups/model-risk/members/{}", bob.id), &app.admin)
        .await
        .expect(204);
    let detail = app.get("/groups/model-risk", &app.admin).await;
    assert_eq!(detail.expect(200)["members"], json!([]));
    assert_eq!(app.get("/me", &ann).await.expect(200)["groups"], json!([]));
    let event = app.last_event("group.member_removed").await;
    assert_eq!(event.target_id, id);
}

async fn everyone_signed_in_reads_groups_but_only_admins_change_them(app: &TestApp) {
    let vera = app.user("vera", Role::Viewer).await;
    let gina = app.user("gina", Role::GovernanceAdmin).await;
    app.post("/groups", &app.admin, &json!({ "name": "approvers" }))
        .await
        .expect(201);
    app.post("/groups/approvers/members", &app.admin, &json!({ "user": "vera" }))
        .await
        .expect(204);

    for who in [&vera, &gina] {
        let list = app.get("/groups", who).await;
        assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
        let detail = app.get("/groups/approvers", who).await;
        assert_eq!(detail.expect(200)["member_count"], 1);
    }
    app.get("/groups", Auth::Anonymous)
        .await
        .expect_error(401, "unauthenticated");

    for who in [&vera, &gina] {
        app.post("/groups", who, &json!({ "name": "mine" }))
            .await
            .expect_error(403, "forbidden");
        app.post(
            "/groups/approvers/members",
            who,
            &json!({ "user": who.username.as_str() }),
        )
        .await
        .expect_error(403, "forbidden");
        app.delete("/groups/approvers/members/vera", who)
            .await
            .expect_error(403, "forbidden");
        let denied = app.last_event("access.denied").await;
        assert_eq!(denied.target_id, "DELETE /api/v1/groups/approvers/members/vera");
        assert_eq!(denied.actor_name, who.username);
    }
    let list = app.get("/groups", &app.admin).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
    let detail = app.get("/groups/approvers", &app.admin).await;
    assert_eq!(detail.expect(200)["member_count"], 1);
}

async fn group_mistakes_are_named(app: &TestApp) {
    app.user("ann", Role::Practitioner).await;
    app.post("/groups", &app.admin, &json!({ "name": "risk" }))
        .await
        .expect(201);
    let before = app.audit_count().await;

    let message = app
        .post("/groups", &app.admin, &json!({ "name": "risk" }))
        .await
        .expect_error(409, "conflict")
        .to_owned();
    assert!(
        message.contains("risk") && message.contains("already exists"),
        "{message}"
    );
    let message = app
        .post("/groups", &app.admin, &json!({ "name": "Risk Team" }))
        .await
        .expect_error(400, "invalid_request")
        .to_owned();
    assert!(message.starts_with("name:"), "{message}");

    app.post("/groups/risk/members", &app.admin, &json!({ "user": "ann" }))
        .await
        .expect(204);
    let after_add = app.audit_count().await;
    let message = app
        .post("/groups/risk/members", &app.admin, &json!({ "user": "ann" }))
        .await
        .expect_error(409, "conflict")
        .to_owned();
    assert!(message.contains("already a member"), "{message}");
    app.post("/groups/risk/members", &app.admin, &json!({ "user": "nobody" }))
        .await
        .expect_error(404, "not_found");
    app.post("/groups/nothing/members", &app.admin, &json!({ "user": "ann" }))
        .await
        .expect_error(404, "not_found");
    app.delete("/groups/risk/members/admin", &app.admin)
        .await
        .expect_error(404, "not_found");
    app.get("/groups/nothing", &app.admin)
        .await
        .expect_error(404, "not_found");
    app.get("/groups/grp_nothex", &app.admin)
        .await
        .expect_error(400, "invalid_request");
    assert_eq!(
        app.audit_count().await,
        after_add,
        "only the one real change was recorded"
    );
    assert_eq!(after_add, before + 1);
}
