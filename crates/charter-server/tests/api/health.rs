//! `/health`, `/ready`, `/api/v1/version`, and what the API answers for routes and
//! methods it does not have.

use charter_domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::harness::{Auth, TestApp};

on_every_backend!(
    health_and_ready_answer_without_credentials,
    version_names_the_release_and_the_database,
    unknown_api_routes_answer_json_404,
    a_wrong_method_answers_json_405,
    requests_without_usable_credentials_answer_401,
    every_response_carries_a_request_id,
    the_first_admin_comes_from_the_bootstrap_password(bootstrap_admin),
);

async fn health_and_ready_answer_without_credentials(app: &TestApp) {
    let health = app.send(app.client.get(app.url("/health"))).await;
    assert_eq!(health.expect(200), &json!({ "status": "ok" }));
    let ready = app.send(app.client.get(app.url("/ready"))).await;
    assert_eq!(
        ready.expect(200),
        &json!({ "status": "ready", "database": app.backend().as_str() })
    );
}

async fn version_names_the_release_and_the_database(app: &TestApp) {
    let reply = app.get("/version", Auth::Anonymous).await;
    let body = reply.expect(200);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["database"], app.backend().as_str());
    let schema_version = body["schema_version"].as_u64().unwrap();
    assert!(schema_version >= 1);
    assert_eq!(schema_version as usize, app.state.store.known_migrations());
}

async fn unknown_api_routes_answer_json_404(app: &TestApp) {
    for path in [
        "/api/v1/nothing-here",
        "/api/v1/users/admin/nothing/here",
        "/api/v2/users",
    ] {
        let reply = app
            .send(app.client.get(app.url(path)).bearer_auth(&app.admin.token))
            .await;
        let message = reply.expect_error(404, "not_found");
        assert!(
            message.contains("there is no API route GET") && message.contains(path),
            "the 404 for {path} should name the route that was asked for: {message}"
        );
    }
    // Unknown routes answer 404 whoever asks: they do not need credentials first.
    let reply = app.send(app.client.post(app.url("/api/v1/nothing-here"))).await;
    reply.expect_error(404, "not_found");
}

async fn a_wrong_method_answers_json_405(app: &TestApp) {
    let reply = app.call(Method::DELETE, "/version", &app.admin, None).await;
    let message = reply.expect_error(405, "method_not_allowed");
    assert!(message.contains("method"), "{message}");
    let allow = reply.header("allow").expect("a 405 says which methods are allowed");
    assert!(allow.contains("GET"), "{allow}");

    let reply = app.call(Method::PUT, "/users", &app.admin, Some(&json!({}))).await;
    reply.expect_error(405, "method_not_allowed");
    let allow = reply.header("allow").unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
}

async fn requests_without_usable_credentials_answer_401(app: &TestApp) {
    let message = app
        .get("/me", Auth::Anonymous)
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert!(
        message.contains("Bearer"),
        "the 401 should say how to authenticate: {message}"
    );

    let reply = app
        .send(app.request(Method::GET, "/me").header("authorization", "Token abc"))
        .await;
    let message = reply.expect_error(401, "unauthenticated");
    assert!(message.contains("Bearer") && message.contains("Basic"), "{message}");

    let message = app
        .get("/me", Auth::Bearer("chr_not-a-token"))
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert!(message.contains("not valid"), "{message}");
    let unknown = format!("chr_{}", "0".repeat(64));
    let message = app
        .get("/me", Auth::Bearer(&unknown))
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert!(message.contains("not valid"), "{message}");

    let reply = app
        .send(app.request(Method::GET, "/me").header("authorization", "Basic %%%"))
        .await;
    let message = reply.expect_error(401, "unauthenticated");
    assert!(message.contains("base64"), "{message}");

    // Routes that need no caller ignore credentials; the others refuse bad ones.
    app.get("/version", Auth::Bearer(&unknown)).await.expect(200);
    app.get("/groups", Auth::Bearer(&unknown))
        .await
        .expect_error(401, "unauthenticated");
}

async fn every_response_carries_a_request_id(app: &TestApp) {
    let reply = app.get("/me", &app.admin).await;
    reply.expect(200);
    let generated = reply.header("x-request-id").expect("a generated request id");
    assert_eq!(generated.len(), 36, "a UUID: {generated}");

    let reply = app
        .send(
            app.request(Method::GET, "/nothing")
                .header("x-request-id", "trace-me-42"),
        )
        .await;
    reply.expect_error(404, "not_found");
    assert_eq!(reply.header("x-request-id"), Some("trace-me-42"));

    // …and the id lands in the audit events of the request, with the client address.
    let viewer = app.user("vera", Role::Viewer).await;
    let reply = app
        .send(
            Auth::from(&viewer)
                .apply(app.request(Method::GET, "/users"))
                .header("x-request-id", "trace-me-43"),
        )
        .await;
    reply.expect_error(403, "forbidden");
    let event = app.last_event("access.denied").await;
    assert_eq!(event.request_id, "trace-me-43");
    assert_eq!(event.client_addr, "127.0.0.1");
}

fn bootstrap_admin(config: &mut charter_server::Config) {
    config.auth.bootstrap_admin_password = Some(charter_server::config::Secret::new("first-admin-password"));
}

/// `CHARTER_BOOTSTRAP_ADMIN_PASSWORD` on an empty database makes `admin`, who can
/// sign in with it.
async fn the_first_admin_comes_from_the_bootstrap_password(app: &TestApp) {
    let session = app.login("admin", "first-admin-password").await;
    assert_eq!(session.body["user"]["role"], "admin");
    let created = app.events().await.into_iter().next().expect("an event");
    assert_eq!(created.action, "user.created");
    assert_eq!(created.actor_name, "bootstrap");
    // Bootstrapping again (every start) changes nothing.
    let before = app.audit_count().await;
    charter_server::bootstrap(&app.state).await.unwrap();
    assert_eq!(app.audit_count().await, before);
}
