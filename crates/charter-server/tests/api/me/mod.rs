//! `GET /api/v1/me`: who am I, and how did I sign in.

mod tokens;

use charter_domain::Role;
use serde_json::json;

use crate::harness::{Auth, TestApp};

on_every_backend!(me_names_the_caller_their_groups_and_how_they_signed_in);

async fn me_names_the_caller_their_groups_and_how_they_signed_in(app: &TestApp) {
    let ann = app.user_with_password("ann", Role::GovernanceAdmin).await;
    for group in ["model-risk", "audit-committee"] {
        app.post("/groups", &app.admin, &json!({ "name": group }))
            .await
            .expect(201);
        app.post(
            &format!("/groups/{group}/members"),
            &app.admin,
            &json!({ "user": "ann" }),
        )
        .await
        .expect(204);
    }
    let session = app.login("ann", ann.password()).await;
    for (auth, method) in [
        (Auth::from(&ann), "token"),
        (ann.basic(), "password"),
        (Auth::CookieOnly(&session), "session"),
    ] {
        let reply = app.get("/me", auth).await;
        let me = reply.expect(200);
        assert_eq!(me["auth_method"], method);
        assert_eq!(me["user"]["id"], ann.id.as_str());
        assert_eq!(me["user"]["username"], "ann");
        assert_eq!(me["user"]["role"], "governance_admin");
        assert_eq!(me["user"]["email"], "ann@example.com");
        assert_eq!(me["user"]["disabled"], false);
        assert_eq!(me["groups"], json!(["audit-committee", "model-risk"]));
        assert!(me["user"].get("password_hash").is_none() && !reply.text.contains("argon2"));
    }
}
