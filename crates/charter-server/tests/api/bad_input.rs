//! Requests the API cannot use: every refusal is JSON with a stable code and names
//! what was wrong.

use charter_domain::Role;
use reqwest::Method;
use serde_json::json;

use crate::harness::{BODY_LIMIT, TestApp};

on_every_backend!(
    body_fields_that_do_not_fit_are_named,
    bodies_that_are_not_json_answer_415,
    bodies_over_the_limit_answer_413,
    audit_query_parameters_are_checked_and_named,
    malformed_ids_in_paths_are_named,
);

async fn body_fields_that_do_not_fit_are_named(app: &TestApp) {
    let ann = app.user("ann", Role::Viewer).await;
    let before = app.audit_count().await;
    let user_path = format!("/users/{}", ann.id);
    let cases = [
        (
            Method::POST,
            "/groups",
            json!({ "name": "risk", "colour": "red" }),
            "colour",
        ),
        (Method::POST, "/groups", json!({ "name": 5 }), "name"),
        (Method::POST, "/groups", json!({ "description": "no name" }), "name"),
        (
            Method::POST,
            "/groups",
            json!("risk"),
            "expected struct CreateGroupRequest",
        ),
        (
            Method::PATCH,
            user_path.as_str(),
            json!({ "disabled": "yes" }),
            "disabled",
        ),
        (
            Method::POST,
            "/users",
            json!({ "username": "x", "email": "x@example.com", "admin": true }),
            "admin",
        ),
        (
            Method::POST,
            "/me/tokens",
            json!({ "name": "t", "expires_in_days": -1 }),
            "expires_in_days",
        ),
        (Method::POST, "/auth/login", json!({ "username": "ann" }), "password"),
    ];
    for (method, path, body, field) in cases {
        let reply = app.call(method.clone(), path, &app.admin, Some(&body)).await;
        let message = reply.expect_error(400, "invalid_request");
        assert!(
            message.starts_with("the request body does not fit") && message.contains(field),
            "{method} {path} {body}: the message should name `{field}`: {message}"
        );
    }

    let reply = app
        .send(
            app.request(Method::POST, "/groups")
                .bearer_auth(&app.admin.token)
                .header("content-type", "application/json")
                .body("{\"name\": \"risk\""),
        )
        .await;
    let message = reply.expect_error(400, "invalid_request");
    assert!(
        message.contains("not valid JSON") && message.contains("line 1"),
        "{message}"
    );
    assert_eq!(app.audit_count().await, before, "nothing was changed or recorded");
}

async fn bodies_that_are_not_json_answer_415(app: &TestApp) {
    let plain = app
        .send(
            app.request(Method::POST, "/groups")
                .bearer_auth(&app.admin.token)
                .header("content-type", "text/plain")
                .body("name=risk"),
        )
        .await;
    let message = plain.expect_error(415, "unsupported_media_type").to_owned();
    assert!(message.contains("Content-Type: application/json"), "{message}");
    let missing = app
        .send(
            app.request(Method::POST, "/groups")
                .bearer_auth(&app.admin.token)
                .body("{\"name\":\"risk\"}"),
        )
        .await;
    missing.expect_error(415, "unsupported_media_type");
    let form = app
        .send(
            app.request(Method::POST, "/auth/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("username=admin&password=whatever"),
        )
        .await;
    form.expect_error(415, "unsupported_media_type");
    let groups = app.get("/groups", &app.admin).await;
    assert_eq!(groups.expect(200).as_array().unwrap().len(), 0);
}

async fn bodies_over_the_limit_answer_413(app: &TestApp) {
    assert_eq!(app.state.config.server.body_limit_bytes, BODY_LIMIT);
    let description = "x".repeat(BODY_LIMIT);
    let reply = app
        .post(
            "/groups",
            &app.admin,
            &json!({ "name": "big", "description": description }),
        )
        .await;
    let message = reply.expect_error(413, "payload_too_large");
    assert!(message.contains("larger than this server accepts"), "{message}");

    // Just under the limit is fine.
    let description = "x".repeat(BODY_LIMIT - 100);
    app.post(
        "/groups",
        &app.admin,
        &json!({ "name": "almost", "description": description }),
    )
    .await
    .expect(201);
    // Sign-in is no exception.
    let password = "x".repeat(BODY_LIMIT);
    let reply = app
        .post(
            "/auth/login",
            crate::harness::Auth::Anonymous,
            &json!({ "username": "admin", "password": password }),
        )
        .await;
    reply.expect_error(413, "payload_too_large");
}

async fn audit_query_parameters_are_checked_and_named(app: &TestApp) {
    let cases = [
        ("since=yesterday", "since:"),
        ("until=soon", "until:"),
        ("limit=0", "limit:"),
        ("limit=1001", "limit:"),
        ("limit=lots", "limit"),
        ("cursor=abc", "cursor:"),
        ("order=sideways", "order:"),
        ("colour=red", "colour"),
    ];
    for (params, named) in cases {
        let reply = app.get(&format!("/audit-events?{params}"), &app.admin).await;
        let message = reply.expect_error(400, "invalid_request");
        assert!(
            message.contains(named),
            "?{params}: the message should name `{named}`: {message}"
        );
    }
    for (params, named) in [("format=xml", "format:"), ("since=yesterday", "since:")] {
        let reply = app.get(&format!("/audit-events/export?{params}"), &app.admin).await;
        let message = reply.expect_error(400, "invalid_request");
        assert!(message.contains(named), "export ?{params}: {message}");
    }
    // Empty values mean "no filter".
    app.get("/audit-events?since=&actor=&cursor=", &app.admin)
        .await
        .expect(200);
}

async fn malformed_ids_in_paths_are_named(app: &TestApp) {
    for (method, path, kind) in [
        (Method::GET, "/users/usr_123", "usr_"),
        (Method::DELETE, "/tokens/123", "tok_"),
        (Method::DELETE, "/me/tokens/tok_xyz", "tok_"),
        (Method::GET, "/groups/grp_!", "grp_"),
    ] {
        let reply = app.call(method.clone(), path, &app.admin, None).await;
        let message = reply.expect_error(400, "invalid_request");
        assert!(
            message.contains("is not a valid") && message.contains(kind),
            "{method} {path}: {message}"
        );
    }
}
