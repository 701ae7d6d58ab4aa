//! `/api/v1/me/tokens`: personal API tokens, and every way of presenting one.

use charter_domain::Role;
use charter_domain::time::{now_ms, rfc3339};
use serde_json::json;

use crate::harness::{Auth, TestApp};

on_every_backend!(
    a_new_token_is_shown_once_and_works_as_bearer,
    basic_auth_takes_a_password_or_a_token,
    a_revoked_token_stops_working,
    an_expired_token_is_refused,
    token_expiry_is_checked_when_created,
    nobody_else_can_revoke_your_token,
);

async fn a_new_token_is_shown_once_and_works_as_bearer(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;
    let reply = app
        .post(
            "/me/tokens",
            &ann,
            &json!({ "name": "laptop mlflow", "expires_in_days": 30 }),
        )
        .await;
    let created = reply.expect(201).clone();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("chr_") && secret.len() == 68, "{secret}");
    let token = &created["token"];
    assert!(token["id"].as_str().unwrap().starts_with("tok_"));
    assert_eq!(token["name"], "laptop mlflow");
    assert_eq!(token["user_id"], ann.id.as_str());
    assert_eq!(token["status"], "active");
    assert_eq!(token["prefix"].as_str().unwrap(), &secret[..12]);
    let expires = charter_domain::time::parse_instant(token["expires_at"].as_str().unwrap()).unwrap();
    let thirty_days = now_ms() + 30 * 86_400_000;
    assert!((thirty_days - 60_000..=thirty_days).contains(&expires), "{token}");

    // Listing shows the token but never its secret again.
    let list = app.get("/me/tokens", &ann).await;
    let items = list.expect(200).as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().any(|t| t["id"] == token["id"]));
    assert!(items.iter().all(|t| t.get("secret").is_none()));
    assert!(!list.text.contains(&secret[12..]));
    // Nor does the audit log hold it.
    let event = app.last_event("token.created").await;
    assert_eq!(event.target_id, token["id"].as_str().unwrap());
    assert!(app.events().await.iter().all(|e| !e.payload.contains(&secret[12..])));

    let me = app.get("/me", Auth::Bearer(&secret)).await;
    let me = me.expect(200);
    assert_eq!(me["user"]["username"], "ann");
    assert_eq!(me["auth_method"], "token");
    // Using a token is noted on it.
    let list = app.get("/me/tokens", &ann).await;
    let used = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token["id"])
        .unwrap()
        .clone();
    assert!(used["last_used_at"].is_string(), "{used}");
}

async fn basic_auth_takes_a_password_or_a_token(app: &TestApp) {
    let ann = app.user_with_password("ann", Role::Practitioner).await;
    let bob = app.user("bob", Role::Practitioner).await;

    let reply = app.get("/me", ann.basic()).await;
    assert_eq!(reply.expect(200)["auth_method"], "password");
    // Basic credentials are checked on every request, from the cache or not.
    let reply = app.get("/me", ann.basic()).await;
    assert_eq!(reply.expect(200)["user"]["username"], "ann");

    // MLflow-style clients put a token where the password goes.
    let reply = app.get("/me", Auth::Basic("ann", &ann.token)).await;
    assert_eq!(reply.expect(200)["auth_method"], "token");
    let reply = app.get("/me", Auth::Basic("", &ann.token)).await;
    assert_eq!(reply.expect(200)["user"]["username"], "ann");
    // …but the username, when given, must be the token's owner.
    let message = app
        .get("/me", Auth::Basic("bob", &ann.token))
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert!(message.contains("does not belong"), "{message}");
    app.get("/me", Auth::Basic("bob", &bob.token)).await.expect(200);

    let message = app
        .get("/me", Auth::Basic("ann", "wrong-password"))
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert_eq!(message, "the username or password is wrong");
    // Basic works for unsafe requests without CSRF: no cookie, no cross-site risk.
    app.post("/me/tokens", ann.basic(), &json!({ "name": "via basic" }))
        .await
        .expect(201);
}

async fn a_revoked_token_stops_working(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;
    let created = app.post("/me/tokens", &ann, &json!({ "name": "ci runner" })).await;
    let created = created.expect(201).clone();
    let secret = created["secret"].as_str().unwrap();
    let id = created["token"]["id"].as_str().unwrap();
    app.get("/me", Auth::Bearer(secret)).await.expect(200);

    let reply = app.delete(&format!("/me/tokens/{id}"), &ann).await;
    let revoked = reply.expect(200);
    assert_eq!(revoked["status"], "revoked");
    assert!(revoked["revoked_at"].is_string());

    let message = app
        .get("/me", Auth::Bearer(secret))
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert_eq!(message, "the API token `ci runner` was revoked");
    app.get("/me", Auth::Basic("ann", secret))
        .await
        .expect_error(401, "unauthenticated");
    // The listing says so; revoking twice is a conflict, not a second event.
    let list = app.get("/me/tokens", &ann).await;
    let listed = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(listed["status"], "revoked");
    let before = app.audit_count().await;
    app.delete(&format!("/me/tokens/{id}"), &ann)
        .await
        .expect_error(409, "conflict");
    assert_eq!(app.audit_count().await, before);
    let event = app.last_event("token.revoked").await;
    assert_eq!((event.target_id.as_str(), event.actor_name.as_str()), (id, "ann"));
    // Other tokens are unaffected.
    app.get("/me", &ann).await.expect(200);
}

async fn an_expired_token_is_refused(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;
    let created = app
        .post(
            "/me/tokens",
            &ann,
            &json!({ "name": "short-lived", "expires_in_days": 1 }),
        )
        .await;
    let created = created.expect(201).clone();
    let secret = created["secret"].as_str().unwrap();
    let id = created["token"]["id"].as_str().unwrap();
    app.get("/me", Auth::Bearer(secret)).await.expect(200);

    // A day passes: move the expiry into the past rather than wait.
    sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2")
        .bind(now_ms() - 1_000)
        .bind(id)
        .execute(app.state.store.pool())
        .await
        .unwrap();

    let message = app
        .get("/me", Auth::Bearer(secret))
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert_eq!(message, "the API token `short-lived` has expired");
    app.get("/me", Auth::Basic("ann", secret))
        .await
        .expect_error(401, "unauthenticated");
    let list = app.get("/me/tokens", &ann).await;
    let listed = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(listed["status"], "expired");
}

async fn token_expiry_is_checked_when_created(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;
    let before = app.audit_count().await;
    let cases = [
        (
            json!({ "name": "x", "expires_at": "2001-01-01" }),
            "expires_at: must be in the future",
        ),
        (
            json!({ "name": "x", "expires_at": "next tuesday" }),
            "expires_at: `next tuesday` is not a time",
        ),
        (
            json!({ "name": "x", "expires_in_days": 0 }),
            "expires_in_days: must be at least 1",
        ),
        (
            json!({ "name": "x", "expires_in_days": 1, "expires_at": rfc3339(now_ms() + 3_600_000) }),
            "either expires_in_days or expires_at",
        ),
        (json!({ "name": "  " }), "name:"),
    ];
    for (body, expected) in cases {
        let reply = app.post("/me/tokens", &ann, &body).await;
        let message = reply.expect_error(400, "invalid_request");
        assert!(message.contains(expected), "{body} → {message}");
    }
    assert_eq!(app.audit_count().await, before, "refused requests record nothing");

    let at = rfc3339(now_ms() + 3_600_000);
    let reply = app
        .post("/me/tokens", &ann, &json!({ "name": "an hour", "expires_at": at }))
        .await;
    assert_eq!(reply.expect(201)["token"]["expires_at"], at.as_str());
}

async fn nobody_else_can_revoke_your_token(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;
    let mallory = app.user("mallory", Role::Practitioner).await;
    let created = app.post("/me/tokens", &ann, &json!({ "name": "mine" })).await;
    let created = created.expect(201).clone();
    let secret = created["secret"].as_str().unwrap();
    let id = created["token"]["id"].as_str().unwrap();

    let message = app
        .delete(&format!("/me/tokens/{id}"), &mallory)
        .await
        .expect_error(404, "not_found")
        .to_owned();
    assert!(message.contains(id), "{message}");
    // Exactly what a token that does not exist looks like.
    let missing = format!("tok_{}", "0".repeat(32));
    let message = app
        .delete(&format!("/me/tokens/{missing}"), &mallory)
        .await
        .expect_error(404, "not_found")
        .to_owned();
    assert!(message.contains(&missing), "{message}");
    // And ann's token still works.
    app.get("/me", Auth::Bearer(secret)).await.expect(200);
    assert!(app.events().await.iter().all(|e| e.action != "token.revoked"));

    let message = app
        .delete("/me/tokens/not-an-id", &mallory)
        .await
        .expect_error(400, "invalid_request")
        .to_owned();
    assert!(message.contains("not-an-id") && message.contains("tok_"), "{message}");
}
