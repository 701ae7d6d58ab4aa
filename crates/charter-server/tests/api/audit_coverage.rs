//! House rule: every state change writes its audit event. This walks every mutating
//! route of `api::routes()` (read from the source, so a new route cannot be missed),
//! performs it successfully, and checks that the chain grew by the expected event
//! and still verifies.

use std::collections::BTreeSet;
use std::future::Future;

use charter_domain::Role;
use serde_json::{Value, json};

use crate::harness::{Auth, Reply, Session, TestApp, api_routes};

on_every_backend!(every_mutating_route_grows_the_audit_chain);

/// Mutating routes that change nothing governed, and why. Each is still walked, and
/// must leave the log as it was (so the exemption stays true).
const EXEMPT: &[(&str, &str, &str)] = &[(
    "POST",
    "/audit/verify",
    "reads the chain and reports on it; nothing changes",
)];

struct Walk<'a> {
    app: &'a TestApp,
    covered: BTreeSet<(String, String)>,
}

impl Walk<'_> {
    /// Perform `request` (the route `method path`), expecting `status` and, in the
    /// log, one or more new events including `action`.
    async fn step(
        &mut self,
        method: &str,
        path: &str,
        status: u16,
        action: &str,
        request: impl Future<Output = Reply>,
    ) -> Reply {
        let before = self.app.audit_count().await;
        let reply = request.await;
        reply.expect(status);
        let new = self.app.events_after(before).await;
        assert!(
            !new.is_empty(),
            "{method} {path} succeeded but wrote no audit event (house rule 4)"
        );
        let actions: Vec<&str> = new.iter().map(|e| e.action.as_str()).collect();
        assert!(
            actions.contains(&action),
            "{method} {path} should record `{action}`; it recorded {actions:?}"
        );
        self.covered.insert((method.to_owned(), path.to_owned()));
        reply
    }

    async fn exempt(&mut self, method: &str, path: &str, status: u16, request: impl Future<Output = Reply>) -> Value {
        let before = self.app.audit_count().await;
        let body = request.await.expect(status).clone();
        assert_eq!(
            self.app.audit_count().await,
            before,
            "{method} {path} is exempt as read-only, but it wrote to the audit log"
        );
        self.covered.insert((method.to_owned(), path.to_owned()));
        body
    }
}

async fn every_mutating_route_grows_the_audit_chain(app: &TestApp) {
    let mut walk = Walk {
        app,
        covered: BTreeSet::new(),
    };
    let admin = &app.admin;
    let null = Value::Null;

    let body = json!({ "username": "ann", "email": "ann@example.com", "password": "ann-correct-horse" });
    let ann = walk
        .step("POST", "/users", 201, "user.created", app.post("/users", admin, &body))
        .await
        .json;
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    let body = json!({ "display_name": "Ann A." });
    let path = format!("/users/{ann_id}");
    walk.step(
        "PATCH",
        "/users/{id}",
        200,
        "user.updated",
        app.patch(&path, admin, &body),
    )
    .await;

    let body = json!({ "username": "ann", "password": "ann-correct-horse" });
    let login = app.post("/auth/login", Auth::Anonymous, &body);
    let session = Session::from_reply(&walk.step("POST", "/auth/login", 200, "session.created", login).await);

    let body = json!({ "name": "walk" });
    let created = walk
        .step(
            "POST",
            "/me/tokens",
            201,
            "token.created",
            app.post("/me/tokens", &session, &body),
        )
        .await
        .json;
    let path = format!("/me/tokens/{}", created["token"]["id"].as_str().unwrap());
    walk.step(
        "DELETE",
        "/me/tokens/{id}",
        200,
        "token.revoked",
        app.delete(&path, &session),
    )
    .await;
    let other = app
        .post("/me/tokens", &session, &json!({ "name": "for the admin" }))
        .await;
    let path = format!("/tokens/{}", other.expect(201)["token"]["id"].as_str().unwrap());
    walk.step("DELETE", "/tokens/{id}", 200, "token.revoked", app.delete(&path, admin))
        .await;

    let body = json!({ "name": "walkers" });
    let group = walk
        .step(
            "POST",
            "/groups",
            201,
            "group.created",
            app.post("/groups", admin, &body),
        )
        .await
        .json;
    let group_id = group["id"].as_str().unwrap().to_owned();
    let path = format!("/groups/{group_id}/members");
    let body = json!({ "user": "ann" });
    walk.step(
        "POST",
        "/groups/{id}/members",
        204,
        "group.member_added",
        app.post(&path, admin, &body),
    )
    .await;
    let path = format!("/groups/{group_id}/members/{ann_id}");
    walk.step(
        "DELETE",
        "/groups/{id}/members/{user_id}",
        204,
        "group.member_removed",
        app.delete(&path, admin),
    )
    .await;

    walk.step(
        "POST",
        "/auth/logout",
        204,
        "session.ended",
        app.post("/auth/logout", &session, &null),
    )
    .await;

    walk.exempt("POST", "/audit/verify", 200, app.post("/audit/verify", admin, &null))
        .await;

    // A refusal is recorded too (not a route of its own, but a change of nobody's data
    // that governance still wants to see).
    let viewer = app.user("vera", Role::Viewer).await;
    let before = app.audit_count().await;
    app.post("/groups", &viewer, &json!({ "name": "nope" }))
        .await
        .expect_error(403, "forbidden");
    assert_eq!(app.events_after(before).await[0].action, "access.denied");

    // Every mutating route was walked: a new one must be added above.
    let mutating: BTreeSet<(String, String)> = api_routes()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path))
        .collect();
    let missed: Vec<_> = mutating.difference(&walk.covered).collect();
    assert!(
        missed.is_empty(),
        "mutating routes this walk does not cover: {missed:?}"
    );
    for (method, path, why) in EXEMPT {
        assert!(
            mutating.contains(&(method.to_string(), path.to_string())),
            "{method} {path} ({why}) is not a route"
        );
    }

    let report = app.verify_audit().await;
    assert_eq!(report["events"], app.audit_count().await);
    let seqs: Vec<i64> = app.events().await.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "no gaps in the chain"
    );
}
