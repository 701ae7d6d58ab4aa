//! Reviews, findings, waivers and tasks: `/bundles/{id}/stages/{stage}/request-review`,
//! `/approvals/…`, `/findings/…`, `/bundles/{id}/waivers`, `/waivers/…`, `/tasks`,
//! `/policies/{id}/sod-exemptions`, and the governance jobs on a clock of the test's own.
//!
//! Bundles are set up through the governance service (policy, project, bundle,
//! answers), so these tests stand on their own; everything under test goes through HTTP.

mod approvals;
mod findings;
mod jobs;
mod request;
mod tasks;
mod waivers;

use charter_domain::Role;
use charter_server::governance;
use charter_store::AuditContext;
use charter_store::approval::Approval;
use serde_json::{Value, json};

use crate::harness::{Reply, TestApp, TestUser};

/// Two stages (Intake, Validation) in sequential order, approved by the group
/// `reviewers`; Intake's approval has a sign-off form with a required radio.
pub const POLICY_YAML: &str = include_str!("fixtures/two-stages.yaml");
pub const POLICY: &str = "Two-stage review";

/// A day in milliseconds.
pub const DAY: i64 = 86_400_000;

/// A bundle under review and the people around it.
pub struct Review {
    /// Created the project and the bundle.
    pub owner: TestUser,
    /// A project member who answers the evidence.
    pub author: TestUser,
    /// Members of `reviewers`.
    pub ann: TestUser,
    pub bob: TestUser,
    /// Signed in, in no project and no group.
    pub outsider: TestUser,
    pub bundle_id: String,
}

pub fn ctx() -> AuditContext {
    AuditContext::system("test-setup")
}

pub async fn store_user(app: &TestApp, user: &TestUser) -> charter_store::user::User {
    app.state.store.user_by_username(&user.username).await.unwrap()
}

/// Add `user` to a group through the API.
pub async fn join(app: &TestApp, group: &str, user: &TestUser) {
    app.post(
        &format!("/groups/{group}/members"),
        &app.admin,
        &json!({ "user": user.username }),
    )
    .await
    .expect(204);
}

/// The policy (published), a project `lab` owned by `olga` with `pete` as a member,
/// the group `reviewers` (`ann`, `bob`), and a bundle `Model A` whose Intake
/// evidence `pete` answered when `answer_intake`.
pub async fn setup(app: &TestApp, answer_intake: bool) -> Review {
    setup_with(app, POLICY_YAML, answer_intake).await
}

/// [`setup`] with another version of the policy's YAML (its approvers must exist).
pub async fn setup_with(app: &TestApp, yaml: &str, answer_intake: bool) -> Review {
    let owner = app.user("olga", Role::Practitioner).await;
    let author = app.user("pete", Role::Practitioner).await;
    let ann = app.user("ann", Role::Practitioner).await;
    let bob = app.user("bob", Role::Practitioner).await;
    let outsider = app.user("otto", Role::Practitioner).await;
    app.post("/groups", &app.admin, &json!({ "name": "reviewers" }))
        .await
        .expect(201);
    join(app, "reviewers", &ann).await;
    join(app, "reviewers", &bob).await;

    let state = &app.state;
    let admin = state.store.user_by_username("admin").await.unwrap();
    let (_, version) = governance::policy::create(state, &ctx(), &admin, POLICY, "for tests", yaml)
        .await
        .unwrap_or_else(|e| panic!("the test policy: {e}"));
    governance::policy::publish(state, &ctx(), &admin, &version)
        .await
        .unwrap();
    let olga = store_user(app, &owner).await;
    let project = governance::project::create(state, &ctx(), &olga, "lab", "")
        .await
        .unwrap();
    let pete = store_user(app, &author).await;
    governance::project::set_member(state, &ctx(), &olga, &project, &pete, "member")
        .await
        .unwrap();
    let bundle = governance::bundle::create(state, &ctx(), &olga, &project, "Model A", "", &[POLICY.to_owned()])
        .await
        .unwrap();
    let review = Review {
        owner,
        author,
        ann,
        bob,
        outsider,
        bundle_id: bundle.id.to_string(),
    };
    if answer_intake {
        answer(app, &review, &review.author, "purpose", json!("Route support tickets")).await;
        answer(app, &review, &review.author, "risk", json!("Low")).await;
    }
    review
}

/// Answer a question of the bundle as `who`, through the service.
pub async fn answer(app: &TestApp, review: &Review, who: &TestUser, input: &str, value: Value) {
    try_answer(app, review, who, input, value)
        .await
        .unwrap_or_else(|e| panic!("answering {input}: {e}"));
}

/// Answer a question, returning the refusal if there is one.
pub async fn try_answer(
    app: &TestApp,
    review: &Review,
    who: &TestUser,
    input: &str,
    value: Value,
) -> Result<(), charter_server::error::ApiError> {
    let user = store_user(app, who).await;
    let bundle = governance::bundle::find(&app.state, &review.bundle_id).await?;
    governance::bundle::answer(&app.state, &ctx(), &user, &bundle, POLICY, input, &value)
        .await
        .map(|_| ())
}

/// The bundle's approval with this name, as stored now.
pub async fn approval(app: &TestApp, review: &Review, name: &str) -> Approval {
    app.state
        .store
        .approvals(review.bundle_id.parse().unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no approval `{name}`"))
}

/// The policy's current stage on the bundle, as stored.
pub async fn current_stage(app: &TestApp, review: &Review) -> String {
    app.state
        .store
        .bundle_policies(review.bundle_id.parse().unwrap())
        .await
        .unwrap()
        .remove(0)
        .current_stage
}

/// `POST /bundles/{id}/stages/{stage}/request-review` as `who`.
pub async fn request_review(app: &TestApp, review: &Review, who: &TestUser, stage: &str) -> Reply {
    app.post(
        &format!("/bundles/{}/stages/{stage}/request-review", review.bundle_id),
        who,
        &json!({ "policy": POLICY }),
    )
    .await
}

/// `POST /approvals/{id}/decision` as `who` with `body` (its `version` filled in
/// from the approval as stored when absent).
pub async fn decide(app: &TestApp, review: &Review, who: &TestUser, name: &str, mut body: Value) -> Reply {
    let a = approval(app, review, name).await;
    if body.get("version").is_none() {
        body["version"] = json!(a.version);
    }
    app.post(&format!("/approvals/{}/decision", a.id), who, &body).await
}

/// The sign-off that lets `Intake review` be approved.
pub fn signoff() -> Value {
    json!({ "intake-decision": "Proceed" })
}

/// Request review of Intake and approve it as `ann`.
pub async fn approve_intake(app: &TestApp, review: &Review) -> Value {
    request_review(app, review, &review.owner, "Intake").await.expect(200);
    decide(
        app,
        review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await
    .expect(200)
    .clone()
}

/// `who`'s open tasks.
pub async fn tasks(app: &TestApp, who: &TestUser) -> Vec<Value> {
    app.get("/tasks", who).await.expect(200).as_array().unwrap().clone()
}

/// `who`'s open tasks of `kind` about `target_id`.
pub async fn tasks_about(app: &TestApp, who: &TestUser, kind: &str, target_id: &str) -> Vec<Value> {
    tasks(app, who)
        .await
        .into_iter()
        .filter(|t| t["kind"] == kind && t["target_id"] == target_id)
        .collect()
}

/// The events with `action` after `seq`.
pub async fn events_after(app: &TestApp, seq: i64, action: &str) -> Vec<charter_domain::audit::AuditEvent> {
    app.events_after(seq)
        .await
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}
