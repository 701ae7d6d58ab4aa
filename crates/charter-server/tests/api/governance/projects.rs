//! `/api/v1/projects`: members see their projects, governance admins see all.

use charter_domain::Role;
use serde_json::json;

use crate::harness::TestApp;

on_every_backend!(projects_have_owners_and_members, project_mistakes_are_named);

async fn projects_have_owners_and_members(app: &TestApp) {
    let olga = app.user("olga", Role::Practitioner).await;
    let mel = app.user("mel", Role::Practitioner).await;
    let gina = app.user("gina", Role::GovernanceAdmin).await;

    let reply = app
        .post(
            "/projects",
            &olga,
            &json!({ "name": "helpbot", "description": " The support chatbot " }),
        )
        .await;
    let created = reply.expect(201).clone();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("prj_"), "{id}");
    assert_eq!(created["description"], "The support chatbot");
    assert_eq!(created["created_by"], olga.id.as_str());
    assert_eq!(
        created["members"],
        json!([{ "user_id": olga.id, "username": "olga", "display_name": "olga", "role": "owner" }])
    );
    assert_eq!(app.last_event("project.created").await.target_id, id);
    app.post("/projects", &mel, &json!({ "name": "forecasting" }))
        .await
        .expect(201);

    // Each sees their own; governance admins see every project.
    let names = |reply: &crate::harness::Reply| -> Vec<String> {
        reply
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let reply = app.get("/projects", &olga).await;
    reply.expect(200);
    assert_eq!(names(&reply), ["helpbot"]);
    let reply = app.get("/projects", &gina).await;
    reply.expect(200);
    assert_eq!(names(&reply), ["forecasting", "helpbot"]);

    // Outsiders cannot read a project; governance admins can.
    app.get("/projects/helpbot", &mel).await.expect_error(403, "forbidden");
    app.get(&format!("/projects/{id}"), &gina).await.expect(200);

    // The owner adds members (by username or id) and changes their roles.
    let reply = app
        .post(
            "/projects/helpbot/members",
            &olga,
            &json!({ "user": "mel", "role": "member" }),
        )
        .await;
    let members: Vec<(String, String)> = reply.expect(200)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["username"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [("mel".into(), "member".into()), ("olga".into(), "owner".into())]
    );
    assert_eq!(app.last_event("project.member_added").await.target_id, id);
    app.post(
        &format!("/projects/{id}/members"),
        &olga,
        &json!({ "user": mel.id, "role": "viewer" }),
    )
    .await
    .expect(200);
    assert_eq!(app.last_event("project.member_changed").await.target_id, id);
    let reply = app.get("/projects/helpbot", &mel).await;
    let detail = reply.expect(200);
    assert_eq!(detail["id"], id.as_str());
    assert_eq!(detail["members"][0]["role"], "viewer");
    let reply = app.get("/projects", &mel).await;
    reply.expect(200);
    assert_eq!(names(&reply), ["forecasting", "helpbot"]);

    // Only owners (and admins) manage members.
    let reply = app
        .post(
            "/projects/helpbot/members",
            &mel,
            &json!({ "user": "mel", "role": "owner" }),
        )
        .await;
    assert!(reply.expect_error(403, "forbidden").contains("owners"));
    app.verify_audit().await;
}

async fn project_mistakes_are_named(app: &TestApp) {
    let olga = app.user("olga", Role::Practitioner).await;
    let vera = app.user("vera", Role::Viewer).await;

    // Viewers change nothing: refused at the door, and recorded.
    app.post("/projects", &vera, &json!({ "name": "mine" }))
        .await
        .expect_error(403, "forbidden");
    assert_eq!(app.last_event("access.denied").await.actor_name, "vera");

    let reply = app.post("/projects", &olga, &json!({ "name": "has spaces" })).await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("name:"));
    app.post("/projects", &olga, &json!({ "name": "helpbot" }))
        .await
        .expect(201);
    app.post("/projects", &olga, &json!({ "name": "helpbot" }))
        .await
        .expect_error(409, "conflict");
    app.post("/projects", &olga, &json!({ "name": "x", "owner": "me" }))
        .await
        .expect_error(400, "invalid_request");
    let reply = app
        .post(
            "/projects/helpbot/members",
            &olga,
            &json!({ "user": "vera", "role": "boss" }),
        )
        .await;
    assert!(
        reply
            .expect_error(400, "invalid_request")
            .contains("owner, member or viewer")
    );
    app.post(
        "/projects/helpbot/members",
        &olga,
        &json!({ "user": "nobody", "role": "member" }),
    )
    .await
    .expect_error(404, "not_found");
    app.get("/projects/nothing-here", &olga)
        .await
        .expect_error(404, "not_found");
    app.get("/projects/prj_bad", &olga)
        .await
        .expect_error(400, "invalid_request");
}
