//! `POST /api/v1/auth/login`: sessions, their cookie, CSRF, and brute-force limits.

use std::net::IpAddr;

use charter_domain::Role;
use serde_json::json;

use crate::harness::{Auth, Reply, Session, TestApp};

on_every_backend!(
    signing_in_sets_a_secure_http_only_cookie_that_works,
    unsafe_requests_with_the_cookie_need_the_csrf_token,
    a_wrong_password_reads_the_same_for_every_username,
    repeated_failures_lock_the_account_and_the_address(three_failures_allowed),
);

async fn signing_in_sets_a_secure_http_only_cookie_that_works(app: &TestApp) {
    let ann = app.user_with_password("ann", Role::Practitioner).await;
    let session = app.login("ann", ann.password()).await;
    assert_eq!(session.body["user"]["username"], "ann");
    assert_eq!(session.body["user"]["role"], "practitioner");
    assert!(session.body["expires_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert!(session.csrf.len() >= 32, "{}", session.csrf);

    let attributes: Vec<&str> = session.set_cookie.split(';').map(str::trim).collect();
    assert!(session.cookie.starts_with("charter_session=") && session.cookie.len() > 40);
    for expected in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=43200"] {
        assert!(
            attributes.contains(&expected),
            "the session cookie should carry {expected}: {}",
            session.set_cookie
        );
    }
    // The session id never appears in the body, where scripts could read it.
    let id = session.cookie.trim_start_matches("charter_session=");
    assert!(!session.body.to_string().contains(id));

    let me = app.get("/me", Auth::CookieOnly(&session)).await;
    let me = me.expect(200);
    assert_eq!(me["user"]["username"], "ann");
    assert_eq!(me["auth_method"], "session");

    let event = app.last_event("session.created").await;
    assert_eq!(event.actor_name, "ann");
    assert_eq!(event.target_id, ann.id);
    assert_eq!(event.client_addr, "127.0.0.1");
}

async fn unsafe_requests_with_the_cookie_need_the_csrf_token(app: &TestApp) {
    let ann = app.user_with_password("ann", Role::Practitioner).await;
    let session = app.login("ann", ann.password()).await;
    let body = json!({ "name": "from the browser" });

    let reply = app.post("/me/tokens", Auth::CookieOnly(&session), &body).await;
    let message = reply.expect_error(403, "csrf_failed");
    assert!(message.contains("CSRF"), "{message}");

    let forged = app
        .send(
            Auth::CookieOnly(&session)
                .apply(app.request(reqwest::Method::POST, "/me/tokens"))
                .header("x-csrf-token", "0".repeat(32))
                .json(&body),
        )
        .await;
    forged.expect_error(403, "csrf_failed");

    // Neither refused request changed anything.
    let tokens = app.get("/me/tokens", Auth::CookieOnly(&session)).await;
    assert_eq!(
        tokens.expect(200).as_array().unwrap().len(),
        1,
        "only the harness's token"
    );

    let created = app.post("/me/tokens", &session, &body).await;
    let token_id = created.expect(201)["token"]["id"].as_str().unwrap().to_owned();
    let tokens = app.get("/me/tokens", Auth::CookieOnly(&session)).await;
    assert_eq!(tokens.expect(200).as_array().unwrap().len(), 2);

    // DELETE is unsafe too.
    let path = format!("/me/tokens/{token_id}");
    app.delete(&path, Auth::CookieOnly(&session))
        .await
        .expect_error(403, "csrf_failed");
    app.delete(&path, &session).await.expect(200);

    // Signing in does not use the session, so a cookie left over from another tab
    // does not stand in its way.
    let credentials = json!({ "username": "ann", "password": ann.password() });
    let again = app.post("/auth/login", Auth::CookieOnly(&session), &credentials).await;
    let fresh = Session::from_reply(&again);
    assert_ne!(fresh.cookie, session.cookie);
}

async fn a_wrong_password_reads_the_same_for_every_username(app: &TestApp) {
    app.user_with_password("ann", Role::Practitioner).await;
    app.user("tokens-only", Role::Practitioner).await;
    let mut answers = Vec::new();
    for username in ["ann", "nobody-by-this-name", "tokens-only"] {
        let reply = app
            .post(
                "/auth/login",
                Auth::Anonymous,
                &json!({ "username": username, "password": "not the password" }),
            )
            .await;
        let message = reply.expect_error(401, "unauthenticated").to_owned();
        assert!(reply.header("set-cookie").is_none(), "a failed sign-in sets no cookie");
        answers.push((reply.status, message, reply.header("retry-after").map(str::to_owned)));
    }
    assert_eq!(answers[0].1, "the username or password is wrong");
    assert!(
        answers.iter().all(|a| a == &answers[0]),
        "the answers must not tell which usernames exist: {answers:?}"
    );
    // Nothing was recorded as a sign-in.
    assert!(app.events().await.iter().all(|e| e.action != "session.created"));
}

fn three_failures_allowed(config: &mut charter_server::Config) {
    config.auth.login_max_failures = 3;
}

async fn attempt(app: &TestApp, from: &reqwest::Client, username: &str, password: &str) -> Reply {
    let request = from
        .post(app.api_url("/auth/login"))
        .json(&json!({ "username": username, "password": password }))
        .build()
        .unwrap();
    let what = format!("POST /auth/login as {username}");
    Reply::read(what, from.execute(request).await.expect("the server answers")).await
}

#[track_caller]
fn assert_rate_limited(reply: &Reply, window_secs: u64) {
    let message = reply.expect_error(429, "rate_limited");
    assert!(message.contains("try again in"), "{message}");
    let retry_after: u64 = reply
        .header("retry-after")
        .expect("a 429 says when to retry")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=window_secs).contains(&retry_after), "Retry-After: {retry_after}");
}

/// After `login_max_failures` failures, the account is locked whatever address the
/// next attempt comes from (even with the right password), and the address is
/// locked for every account. Each "machine" is its own loopback address.
async fn repeated_failures_lock_the_account_and_the_address(app: &TestApp) {
    let window = app.state.config.auth.login_window_secs;
    let ann = app.user_with_password("ann", Role::Practitioner).await;
    let bob = app.user_with_password("bob", Role::Practitioner).await;
    let guesser = app.client_from(IpAddr::from([127, 0, 0, 2]));
    let elsewhere = app.client_from(IpAddr::from([127, 0, 0, 3]));

    for guess in ["password1", "letmein", "hunter2"] {
        attempt(app, &guesser, "ann", guess)
            .await
            .expect_error(401, "unauthenticated");
    }
    // The account: locked from the guesser's address and from anywhere else, even
    // with the right password, by Basic as well as by sign-in.
    assert_rate_limited(&attempt(app, &guesser, "ann", ann.password()).await, window);
    assert_rate_limited(&attempt(app, &elsewhere, "ann", ann.password()).await, window);
    let basic = elsewhere
        .get(app.api_url("/me"))
        .basic_auth("ann", Some(ann.password()))
        .send()
        .await
        .unwrap();
    assert_rate_limited(&Reply::read("GET /me as ann (Basic)".into(), basic).await, window);
    // The address: locked for other accounts too.
    assert_rate_limited(&attempt(app, &guesser, "bob", bob.password()).await, window);
    // Another account from another address is unaffected, and its sign-in records
    // where it came from.
    attempt(app, &elsewhere, "bob", bob.password()).await.expect(200);
    let event = app.last_event("session.created").await;
    assert_eq!(
        (event.actor_name.as_str(), event.client_addr.as_str()),
        ("bob", "127.0.0.3")
    );
    // ann's API token still works: the lock is on password guessing, not on her.
    app.get("/me", &ann).await.expect(200);
}
