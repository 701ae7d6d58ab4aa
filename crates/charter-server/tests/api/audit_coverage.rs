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
const EXEMPT: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/audit/verify",
        "reads the chain and reports on it; nothing changes",
    ),
    ("POST", "/policies/lint", "lints the YAML sent; nothing is saved"),
    (
        "POST",
        "/policies/{id}/versions/{v}/test",
        "runs the version's own tests; nothing changes",
    ),
];

pub struct Walk<'a> {
    pub app: &'a TestApp,
    covered: BTreeSet<(String, String)>,
}

impl Walk<'_> {
    /// Perform `request` (the route `method path`), expecting `status` and, in the
    /// log, one or more new events including `action`.
    pub async fn step(
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

    pub async fn exempt(
        &mut self,
        method: &str,
        path: &str,
        status: u16,
        request: impl Future<Output = Reply>,
    ) -> Value {
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

    walk_reviews(&mut walk).await;

    governance_steps(&mut walk).await;

    crate::telemetry::audit_steps(&mut walk).await;

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

/// Projects, policies, bundles, attachments and gates (one small policy, so that
/// bodies stay under the suite's 4 KiB limit).
async fn governance_steps(walk: &mut Walk<'_>) {
    let app = walk.app;
    let admin = &app.admin;
    let null = Value::Null;
    let yaml = "stages:\n  - name: Only\n    evidenceSet:\n      - id: Local.only\n        name: Only\n        \
                definition:\n          - artifactType: input\n            id: q\n            \
                details: {type: textinput, label: Q}\n";

    let body = json!({ "name": "walk-project" });
    let project = walk
        .step(
            "POST",
            "/projects",
            201,
            "project.created",
            app.post("/projects", admin, &body),
        )
        .await
        .json;
    let project_id = project["id"].as_str().unwrap().to_owned();
    let wally = app.user("wally", Role::Practitioner).await;
    let path = format!("/projects/{project_id}/members");
    let body = json!({ "user": "wally", "role": "member" });
    walk.step(
        "POST",
        "/projects/{id}/members",
        200,
        "project.member_added",
        app.post(&path, admin, &body),
    )
    .await;

    let body = json!({ "yaml": yaml });
    walk.exempt("POST", "/policies/lint", 200, app.post("/policies/lint", &wally, &body))
        .await;
    let body = json!({ "name": "Walk", "yaml": yaml });
    let policy = walk
        .step(
            "POST",
            "/policies",
            201,
            "policy.created",
            app.post("/policies", admin, &body),
        )
        .await
        .json;
    let policy_id = policy["policy"]["id"].as_str().unwrap().to_owned();
    let path = format!("/policies/{policy_id}/draft");
    let body = json!({ "yaml": yaml.replace("label: Q", "label: Question") });
    walk.step(
        "PUT",
        "/policies/{id}/draft",
        200,
        "policy_version.updated",
        app.call(reqwest::Method::PUT, &path, admin, Some(&body)),
    )
    .await;
    let path = format!("/policies/{policy_id}/versions/1/publish");
    walk.step(
        "POST",
        "/policies/{id}/versions/{v}/publish",
        200,
        "policy_version.published",
        app.post(&path, admin, &null),
    )
    .await;
    let path = format!("/policies/{policy_id}/versions/1/test");
    walk.exempt(
        "POST",
        "/policies/{id}/versions/{v}/test",
        200,
        app.post(&path, &wally, &null),
    )
    .await;

    let body = json!({ "project": project_id, "name": "walk-bundle", "policies": ["Walk"] });
    let bundle = walk
        .step(
            "POST",
            "/bundles",
            201,
            "bundle.created",
            app.post("/bundles", &wally, &body),
        )
        .await
        .json;
    let bundle_id = bundle["id"].as_str().unwrap().to_owned();
    let path = format!("/bundles/{bundle_id}/answers");
    let body = json!({ "policy": "Walk", "input": "q", "value": "an answer" });
    walk.step(
        "PUT",
        "/bundles/{id}/answers",
        200,
        "evidence.answered",
        app.call(reqwest::Method::PUT, &path, &wally, Some(&body)),
    )
    .await;
    let path = format!("/bundles/{bundle_id}/attachments");
    let body = json!({ "kind": "app", "name": "HelpBot", "reference": { "name": "helpbot" } });
    walk.step(
        "POST",
        "/bundles/{id}/attachments",
        201,
        "attachment.added",
        app.post(&path, &wally, &body),
    )
    .await;
    let path = format!("/bundles/{bundle_id}/attachments/upload?name=notes.txt");
    let upload = Auth::from(&wally)
        .apply(app.request(reqwest::Method::POST, &path))
        .body("some notes");
    walk.step(
        "POST",
        "/bundles/{id}/attachments/upload",
        201,
        "attachment.added",
        app.send(upload),
    )
    .await;
    let path = format!("/bundles/{bundle_id}/copy");
    let body = json!({ "name": "walk-copy" });
    walk.step(
        "POST",
        "/bundles/{id}/copy",
        201,
        "evidence.carried_over",
        app.post(&path, &wally, &body),
    )
    .await;
    let path = format!("/bundles/{bundle_id}/stages/Only/assignee");
    walk.step(
        "PUT",
        "/bundles/{id}/stages/{stage}/assignee",
        200,
        "stage.assigned",
        app.call(
            reqwest::Method::PUT,
            &path,
            &wally,
            Some(&json!({ "policy": "Walk", "user": "wally" })),
        ),
    )
    .await;
    // A second published version, and the bundle moved onto it.
    let v2 = json!({ "yaml": yaml.replace("label: Q", "label: The question") });
    app.call(
        reqwest::Method::PUT,
        &format!("/policies/{policy_id}/draft"),
        admin,
        Some(&v2),
    )
    .await
    .expect(200);
    app.post(&format!("/policies/{policy_id}/versions/2/publish"), admin, &null)
        .await
        .expect(200);
    let path = format!("/bundles/{bundle_id}/migrate");
    walk.step(
        "POST",
        "/bundles/{id}/migrate",
        200,
        "bundle.policy_migrated",
        app.post(&path, &wally, &json!({ "policy": "Walk" })),
    )
    .await;
    for (route, action) in [
        ("complete", "bundle.completed"),
        ("reopen", "bundle.reopened"),
        ("archive", "bundle.archived"),
    ] {
        let path = format!("/bundles/{bundle_id}/{route}");
        walk.step(
            "POST",
            &format!("/bundles/{{id}}/{route}"),
            200,
            action,
            app.post(&path, &wally, &null),
        )
        .await;
    }

    let body = json!({ "action": "start_app", "project": project_id });
    walk.step(
        "POST",
        "/gates/check",
        200,
        "gate.allowed",
        app.post("/gates/check", &wally, &body),
    )
    .await;
    let path = format!("/policies/{policy_id}/versions/1/retire");
    walk.step(
        "POST",
        "/policies/{id}/versions/{v}/retire",
        200,
        "policy_version.retired",
        app.post(&path, admin, &null),
    )
    .await;
}

/// The review routes (`review/`): request review, add approvers, decide, separation
/// of duties exemptions, findings, comments, waivers. The bundle under review is set
/// up through the governance service.
async fn walk_reviews(walk: &mut Walk<'_>) {
    use charter_server::governance;

    let app = walk.app;
    let ctx = charter_store::AuditContext::system("test-setup");
    let owner = app.user("rw-owner", Role::Practitioner).await;
    let author = app.user("rw-author", Role::Practitioner).await;
    let reviewer = app.user("rw-reviewer", Role::Practitioner).await;
    app.user("rw-extra", Role::Practitioner).await;
    app.post("/groups", &app.admin, &json!({ "name": "rw-reviewers" }))
        .await
        .expect(201);
    app.post(
        "/groups/rw-reviewers/members",
        &app.admin,
        &json!({ "user": "rw-reviewer" }),
    )
    .await
    .expect(204);
    let state = &app.state;
    let user = |name: &'static str| async move { state.store.user_by_username(name).await.unwrap() };
    let yaml = crate::review::POLICY_YAML.replace("[reviewers]", "[rw-reviewers]");
    let (policy, version) = governance::policy::create(state, &ctx, &user("admin").await, "Walk review", "", &yaml)
        .await
        .unwrap();
    governance::policy::publish(state, &ctx, &user("admin").await, &version)
        .await
        .unwrap();
    let project = governance::project::create(state, &ctx, &user("rw-owner").await, "walk-review", "")
        .await
        .unwrap();
    governance::project::set_member(
        state,
        &ctx,
        &user("rw-owner").await,
        &project,
        &user("rw-author").await,
        "member",
    )
    .await
    .unwrap();
    let bundle = governance::bundle::create(
        state,
        &ctx,
        &user("rw-owner").await,
        &project,
        "Walked",
        "",
        &["Walk review".to_owned()],
    )
    .await
    .unwrap();
    for (input, value) in [("purpose", json!("walk")), ("risk", json!("Low"))] {
        governance::bundle::answer(
            state,
            &ctx,
            &user("rw-author").await,
            &bundle,
            "Walk review",
            input,
            &value,
        )
        .await
        .unwrap();
    }

    let path = format!("/bundles/{}/stages/Intake/request-review", bundle.id);
    let reply = walk
        .step(
            "POST",
            "/bundles/{id}/stages/{stage}/request-review",
            200,
            "approval.requested",
            app.post(&path, &owner, &json!({})),
        )
        .await;
    let approval_id = reply.json["approvals"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/approvals/{approval_id}/approvers");
    walk.step(
        "POST",
        "/approvals/{id}/approvers",
        200,
        "approval.approvers_changed",
        app.post(&path, &owner, &json!({ "add": ["rw-extra"] })),
    )
    .await;
    let version = app
        .get(&format!("/approvals/{approval_id}"), &reviewer)
        .await
        .expect(200)["version"]
        .clone();
    let path = format!("/approvals/{approval_id}/decision");
    let body = json!({ "outcome": "approve", "signoff": { "intake-decision": "Proceed" }, "version": version });
    walk.step(
        "POST",
        "/approvals/{id}/decision",
        200,
        "approval.granted",
        app.post(&path, &reviewer, &body),
    )
    .await;

    let path = format!("/policies/{}/sod-exemptions", policy.id);
    let body = json!({ "user": "rw-author", "reason": "a team of two" });
    walk.step(
        "POST",
        "/policies/{id}/sod-exemptions",
        201,
        "sod_exemption.granted",
        app.post(&path, &app.admin, &body),
    )
    .await;
    walk.step(
        "DELETE",
        "/policies/{id}/sod-exemptions/{user_id}",
        204,
        "sod_exemption.revoked",
        app.delete(&format!("{path}/rw-author"), &app.admin),
    )
    .await;

    let path = format!("/bundles/{}/findings", bundle.id);
    let body =
        json!({ "name": "Walk finding", "severity": "high", "assignee": "rw-author", "approval": "Intake review" });
    let finding = walk
        .step(
            "POST",
            "/bundles/{id}/findings",
            201,
            "finding.created",
            app.post(&path, &owner, &body),
        )
        .await;
    let finding_id = finding.json["id"].as_str().unwrap().to_owned();
    walk.step(
        "PATCH",
        "/findings/{id}",
        200,
        "finding.in_progress",
        app.patch(
            &format!("/findings/{finding_id}"),
            &author,
            &json!({ "status": "in_progress" }),
        ),
    )
    .await;
    walk.step(
        "POST",
        "/findings/{id}/comments",
        201,
        "finding.commented",
        app.post(
            &format!("/findings/{finding_id}/comments"),
            &author,
            &json!({ "body": "@rw-reviewer on it" }),
        ),
    )
    .await;
    let path = format!("/bundles/{}/waivers", bundle.id);
    let body = json!({ "finding": finding_id, "justification": "accepted for the walk", "expires_at": "2999-01-01" });
    let waiver = walk
        .step(
            "POST",
            "/bundles/{id}/waivers",
            201,
            "waiver.granted",
            app.post(&path, &reviewer, &body),
        )
        .await;
    let path = format!("/waivers/{}/revoke", waiver.json["id"].as_str().unwrap());
    walk.step(
        "POST",
        "/waivers/{id}/revoke",
        200,
        "waiver.revoked",
        app.post(&path, &reviewer, &json!({})),
    )
    .await;
}
