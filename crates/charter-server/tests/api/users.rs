//! `/api/v1/users`: accounts, for admins.

use charter_domain::Role;
use serde_json::{Value, json};

use crate::harness::{Auth, TestApp};

on_every_backend!(
    admins_create_list_get_and_update_users,
    user_values_are_checked_and_name_the_field,
    a_taken_username_is_a_conflict,
    disabling_a_user_shuts_every_door,
    admins_cannot_lock_themselves_out,
    other_roles_get_403_and_the_attempt_is_audited,
    a_password_changed_by_the_cli_stops_working_at_once,
);

async fn admins_create_list_get_and_update_users(app: &TestApp) {
    let reply = app
        .post(
            "/users",
            &app.admin,
            &json!({ "username": "carol", "display_name": "Carol Danvers", "email": "carol@example.com", "role": "viewer" }),
        )
        .await;
    let carol = reply.expect(201).clone();
    let id = carol["id"].as_str().unwrap();
    assert!(id.starts_with("usr_"));
    assert_eq!(carol["username"], "carol");
    assert_eq!(carol["display_name"], "Carol Danvers");
    assert_eq!(carol["role"], "viewer");
    assert_eq!(carol["disabled"], false);

    // Defaults: the display name is the username, the role practitioner.
    let reply = app
        .post(
            "/users",
            &app.admin,
            &json!({ "username": "dave", "email": "dave@example.com" }),
        )
        .await;
    let dave = reply.expect(201);
    assert_eq!(
        (dave["display_name"].as_str(), dave["role"].as_str()),
        (Some("dave"), Some("practitioner"))
    );

    let list = app.get("/users", &app.admin).await;
    let names: Vec<&str> = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "carol", "dave"], "sorted by username");

    for key in [id, "carol"] {
        let reply = app.get(&format!("/users/{key}"), &app.admin).await;
        assert_eq!(reply.expect(200), &carol);
    }
    app.get("/users/nobody", &app.admin)
        .await
        .expect_error(404, "not_found");
    app.get(&format!("/users/usr_{}", "0".repeat(32)), &app.admin)
        .await
        .expect_error(404, "not_found");
    app.get("/users/usr_nothex", &app.admin)
        .await
        .expect_error(400, "invalid_request");

    let reply = app
        .patch(
            &format!("/users/{id}"),
            &app.admin,
            &json!({ "display_name": "Carol D.", "role": "governance_admin", "email": "cd@example.com" }),
        )
        .await;
    let updated = reply.expect(200).clone();
    assert_eq!(updated["display_name"], "Carol D.");
    assert_eq!(updated["role"], "governance_admin");
    assert_eq!(updated["email"], "cd@example.com");
    assert_eq!(updated["created_at"], carol["created_at"]);
    assert_eq!(app.get("/users/carol", &app.admin).await.expect(200), &updated);

    let event = app.last_event("user.updated").await;
    assert_eq!(event.target_id, id);
    let payload: Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(payload["before"]["role"], "viewer");
    assert_eq!(payload["after"]["role"], "governance_admin");
}

async fn user_values_are_checked_and_name_the_field(app: &TestApp) {
    let before = app.audit_count().await;
    let cases = [
        (json!({ "username": "Bad Name", "email": "x@example.com" }), "username:"),
        (json!({ "username": "", "email": "x@example.com" }), "username:"),
        (json!({ "username": "erin", "email": "not-an-address" }), "email:"),
        (
            json!({ "username": "erin", "email": "erin@example.com", "role": "superuser" }),
            "role:",
        ),
        (
            json!({ "username": "erin", "email": "erin@example.com", "password": "short" }),
            "password:",
        ),
    ];
    for (body, field) in cases {
        let reply = app.post("/users", &app.admin, &body).await;
        let message = reply.expect_error(400, "invalid_request");
        assert!(message.starts_with(field), "{body} → {message}");
    }
    let reply = app
        .patch(
            &format!("/users/{}", app.admin.id),
            &app.admin,
            &json!({ "email": "nope" }),
        )
        .await;
    assert!(reply.expect_error(400, "invalid_request").starts_with("email:"));
    assert_eq!(app.audit_count().await, before, "refused requests record nothing");
    let list = app.get("/users", &app.admin).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
}

async fn a_taken_username_is_a_conflict(app: &TestApp) {
    app.user("carol", Role::Viewer).await;
    let before = app.audit_count().await;
    let reply = app
        .post(
            "/users",
            &app.admin,
            &json!({ "username": "carol", "email": "other@example.com" }),
        )
        .await;
    let message = reply.expect_error(409, "conflict");
    assert!(message.contains("carol") && message.contains("taken"), "{message}");
    assert_eq!(app.audit_count().await, before);
}

/// Disabling ends sessions and refuses passwords (sign-in and Basic, cached or not)
/// and tokens; enabling again restores passwords and tokens but not old sessions.
async fn disabling_a_user_shuts_every_door(app: &TestApp) {
    let ann = app.user_with_password("ann", Role::Practitioner).await;
    let session = app.login("ann", ann.password()).await;
    app.get("/me", Auth::CookieOnly(&session)).await.expect(200);
    app.get("/me", ann.basic()).await.expect(200);
    app.get("/me", &ann).await.expect(200);

    let reply = app.patch("/users/ann", &app.admin, &json!({ "disabled": true })).await;
    assert_eq!(reply.expect(200)["disabled"], true);
    let event = app.last_event("user.disabled").await;
    assert_eq!(
        (event.target_id.as_str(), event.actor_name.as_str()),
        (ann.id.as_str(), "admin")
    );

    app.get("/me", Auth::CookieOnly(&session))
        .await
        .expect_error(401, "unauthenticated");
    app.get("/me", ann.basic()).await.expect_error(401, "unauthenticated");
    let message = app
        .get("/me", &ann)
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert_eq!(message, "this account is disabled");
    let reply = app
        .post(
            "/auth/login",
            Auth::Anonymous,
            &json!({ "username": "ann", "password": ann.password() }),
        )
        .await;
    assert_eq!(
        reply.expect_error(401, "unauthenticated"),
        "the username or password is wrong"
    );

    let reply = app.patch("/users/ann", &app.admin, &json!({ "disabled": false })).await;
    assert_eq!(reply.expect(200)["disabled"], false);
    app.last_event("user.enabled").await;
    app.get("/me", ann.basic()).await.expect(200);
    app.get("/me", &ann).await.expect(200);
    app.get("/me", Auth::CookieOnly(&session))
        .await
        .expect_error(401, "unauthenticated");
}

async fn admins_cannot_lock_themselves_out(app: &TestApp) {
    let path = format!("/users/{}", app.admin.id);
    for body in [json!({ "disabled": true }), json!({ "role": "viewer" })] {
        let reply = app.patch(&path, &app.admin, &body).await;
        let message = reply.expect_error(409, "conflict");
        assert!(message.contains("another admin"), "{message}");
    }
    app.get("/me", &app.admin).await.expect(200);
    // Another admin may.
    let other = app.user("second-admin", Role::Admin).await;
    let reply = app.patch(&path, &other, &json!({ "role": "viewer" })).await;
    assert_eq!(reply.expect(200)["role"], "viewer");
}

async fn other_roles_get_403_and_the_attempt_is_audited(app: &TestApp) {
    let vera = app.user("vera", Role::Viewer).await;
    let gov = app.user("gina", Role::GovernanceAdmin).await;
    let pat = app.user("pat", Role::Practitioner).await;
    let cases = [
        (&vera, reqwest::Method::GET, "/users".to_owned(), None),
        (&gov, reqwest::Method::GET, format!("/users/{}", vera.id), None),
        (
            &pat,
            reqwest::Method::POST,
            "/users".to_owned(),
            Some(json!({ "username": "x", "email": "x@example.com" })),
        ),
        (
            &pat,
            reqwest::Method::PATCH,
            format!("/users/{}", pat.id),
            Some(json!({ "role": "admin" })),
        ),
    ];
    for (who, method, path, body) in cases {
        let before = app.audit_count().await;
        let reply = app.call(method.clone(), &path, who, body.as_ref()).await;
        let message = reply.expect_error(403, "forbidden");
        let route = format!("{method} /api/v1{path}");
        assert_eq!(
            message,
            format!(
                "{route} needs the admin role; your role is {}. Ask an admin if you need access.",
                who.role.as_str()
            )
        );
        let new = app.events_after(before).await;
        assert_eq!(new.len(), 1, "exactly one event for a refusal: {new:?}");
        let event = &new[0];
        assert_eq!(event.action, "access.denied");
        assert_eq!(
            (event.target_type.as_str(), event.target_id.as_str()),
            ("route", route.as_str())
        );
        assert_eq!(
            (event.actor_name.as_str(), event.actor_id.as_str()),
            (who.username.as_str(), who.id.as_str())
        );
        let payload: Value = serde_json::from_str(&event.payload).unwrap();
        assert_eq!(payload, json!({ "needed_role": "admin", "role": who.role.as_str() }));
    }
    // The refusals changed nothing.
    let pat_now = app.get(&format!("/users/{}", pat.id), &app.admin).await;
    assert_eq!(pat_now.expect(200)["role"], "practitioner");
    let list = app.get("/users", &app.admin).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 4);
}

/// `charter user password` runs in its own process, next to the running server: the
/// old password must stop working at once, even for Basic credentials the server
/// verified (and cached) a moment ago.
async fn a_password_changed_by_the_cli_stops_working_at_once(app: &TestApp) {
    let ann = app.user_with_password("ann", Role::Practitioner).await;
    app.get("/me", ann.basic()).await.expect(200);
    app.get("/me", ann.basic()).await.expect(200);

    let cli = app.open_cli_state().await;
    let user = cli.store.user_by_username("ann").await.unwrap();
    let change = charter_server::api::user::UpdateUserRequest {
        display_name: None,
        email: None,
        role: None,
        disabled: None,
        password: Some("a-brand-new-password".into()),
    };
    charter_server::api::user::update(&cli, &charter_store::AuditContext::system("cli"), &user, change)
        .await
        .unwrap();

    let message = app
        .get("/me", ann.basic())
        .await
        .expect_error(401, "unauthenticated")
        .to_owned();
    assert_eq!(message, "the username or password is wrong");
    app.get("/me", Auth::Basic("ann", "a-brand-new-password"))
        .await
        .expect(200);
    let event = app.last_event("user.password_changed").await;
    assert_eq!(
        (event.actor_name.as_str(), event.target_id.as_str()),
        ("cli", ann.id.as_str())
    );
}
