//! `POST /api/v1/auth/logout`.

use charter_domain::Role;
use serde_json::Value;

use crate::harness::{Auth, TestApp};

on_every_backend!(signing_out_clears_the_cookie_and_ends_the_session);

async fn signing_out_clears_the_cookie_and_ends_the_session(app: &TestApp) {
    let ann = app.user_with_password("ann", Role::Practitioner).await;
    let session = app.login("ann", ann.password()).await;
    let other = app.login("ann", ann.password()).await;

    // Signing out is unsafe: without the CSRF token it is refused.
    app.post("/auth/logout", Auth::CookieOnly(&session), &Value::Null)
        .await
        .expect_error(403, "csrf_failed");
    app.get("/me", Auth::CookieOnly(&session)).await.expect(200);

    let reply = app.post("/auth/logout", &session, &Value::Null).await;
    reply.expect(204);
    let cleared = reply.header("set-cookie").expect("signing out clears the cookie");
    let attributes: Vec<&str> = cleared.split(';').map(str::trim).collect();
    assert_eq!(attributes[0], "charter_session=", "{cleared}");
    assert!(attributes.contains(&"Max-Age=0"), "{cleared}");
    assert!(
        attributes.contains(&"HttpOnly") && attributes.contains(&"Secure"),
        "{cleared}"
    );

    // The old cookie no longer works, even if the browser kept it…
    app.get("/me", Auth::CookieOnly(&session))
        .await
        .expect_error(401, "unauthenticated");
    app.post("/auth/logout", &session, &Value::Null)
        .await
        .expect_error(401, "unauthenticated");
    // …while the user's other session does.
    app.get("/me", Auth::CookieOnly(&other)).await.expect(200);

    let event = app.last_event("session.ended").await;
    assert_eq!(
        (event.actor_name.as_str(), event.target_id.as_str()),
        ("ann", ann.id.as_str())
    );
}
