//! `DELETE /api/v1/tokens/{id}` and `GET /api/v1/users/{id}/tokens`: admins and
//! everyone's tokens.

use charter_domain::Role;
use serde_json::json;

use crate::harness::{Auth, TestApp};

on_every_backend!(admins_see_and_revoke_anyones_tokens);

async fn admins_see_and_revoke_anyones_tokens(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;
    let created = app.post("/me/tokens", &ann, &json!({ "name": "leaked" })).await;
    let created = created.expect(201).clone();
    let secret = created["secret"].as_str().unwrap();
    let id = created["token"]["id"].as_str().unwrap();

    for who in [&ann.id, &ann.username] {
        let list = app.get(&format!("/users/{who}/tokens"), &app.admin).await;
        let items = list.expect(200).as_array().unwrap();
        assert_eq!(items.len(), 2, "{items:?}");
        assert!(items.iter().any(|t| t["id"] == id && t["name"] == "leaked"));
        assert!(!list.text.contains(&secret[12..]), "listings never show secrets");
    }
    // Non-admins may neither list nor revoke others' tokens.
    app.get(&format!("/users/{}/tokens", app.admin.id), &ann)
        .await
        .expect_error(403, "forbidden");
    app.delete(&format!("/tokens/{id}"), &ann)
        .await
        .expect_error(403, "forbidden");
    app.get("/me", Auth::Bearer(secret)).await.expect(200);

    let reply = app.delete(&format!("/tokens/{id}"), &app.admin).await;
    assert_eq!(reply.expect(200)["status"], "revoked");
    app.get("/me", Auth::Bearer(secret))
        .await
        .expect_error(401, "unauthenticated");
    let event = app.last_event("token.revoked").await;
    assert_eq!(event.actor_name, "admin");
    assert_eq!(event.target_id, id);
    assert_eq!(event.actor_kind, "token", "the admin acted with a token");
    assert!(!event.actor_token.is_empty());

    let missing = format!("tok_{}", "0".repeat(32));
    app.delete(&format!("/tokens/{missing}"), &app.admin)
        .await
        .expect_error(404, "not_found");
    app.get("/users/nobody/tokens", &app.admin)
        .await
        .expect_error(404, "not_found");
}
