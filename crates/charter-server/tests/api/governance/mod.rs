//! The governance API: projects, policies, bundles (the evidence notebook,
//! answers, copies, attachments), gates and the dashboard.
//!
//! Approvals are granted here with direct store calls (`grant`), so these tests do
//! not depend on the review routes.

mod assignees;
mod attachments;
mod bundles;
mod copy;
mod dashboard;
mod gates;
mod migration;
mod policies;
mod projects;

use charter_server::Config;
use charter_store::AuditContext;
use charter_store::approval::{ApprovalStatus, Transition};
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Auth, Reply, TestApp};

/// A small policy in Domino's format with Charter's extensions: a CEL
/// classification, a section shown only for high risk, a conditional question, a
/// bounded number, a disabled question, a file question, two approved stages, a
/// gate on starting the app, and policy tests.
pub const INTAKE: &str = r#"classification:
  artifacts: [impact, pii]
  rule: |
    has(inputs.impact) && inputs.impact == "Customer-facing advice" ? "High"
      : (has(inputs.pii) && inputs.pii == "Yes" ? "Medium" : "Low")
stages:
  - name: Intake
    evidenceSet:
      - id: Local.intake
        name: Use case
        description: What the model does
        definition:
          - artifactType: guidance
            details: {type: banner, text: Answer every question.}
          - artifactType: input
            aliasForClassification: impact
            required: true
            details: {type: radio, label: What kind of answers?, options: ["Internal FAQ only", "Customer-facing advice"]}
          - artifactType: input
            aliasForClassification: pii
            required: true
            details: {type: radio, label: Does it see personal data?, options: ["Yes", "No"]}
          - artifactType: input
            id: users
            details: {type: numeric, label: Expected daily users, min: 0, max: 100000}
          - artifactType: input
            id: pii-fields
            details:
              type: textarea
              label: Which PII fields?
              conditionalDisplay: {dependsOn: pii, showIfValue: "Yes"}
          - artifactType: input
            id: retired
            disabled: true
            details: {type: textinput, label: Old question}
          - artifactType: metadata
            id: model-card
            details: {type: file, label: Model card}
      - id: Local.high-risk
        name: Extra review
        visibility:
          conditions:
            - when: classification == "High"
        definition:
          - artifactType: input
            id: escalation
            required: true
            details: {type: radio, label: Escalation path?, options: [Human review, None]}
    approvals:
      - name: Intake sign off
        approvers: [risk-office]
  - name: Validation
    evidenceSet:
      - id: Local.validation
        name: Validation
        definition:
          - artifactType: input
            id: accuracy
            required: true
            details: {type: numeric, label: Accuracy, min: 0, max: 1}
    approvals:
      - name: Validation sign off
        approvers: [risk-office]
gates:
  - name: Launch
    rules: [{action: CreateApp}]
    approvals: [Intake sign off]
tests:
  - name: customer-facing advice is high risk
    answers: {impact: Customer-facing advice, pii: "No"}
    expect: {classification: High, visible: [Local.high-risk]}
  - name: internal FAQ is low risk
    answers: {impact: Internal FAQ only, pii: "No"}
    expect: {classification: Low, hidden: [Local.high-risk]}
"#;

/// The Domino example policies from `charter-domain`'s fixtures.
pub fn domino_fixture(name: &str) -> String {
    let path = format!("{}/../charter-domain/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Room for policy YAML in request bodies (the suite's default limit is 4 KiB).
pub fn roomy(config: &mut Config) {
    config.server.body_limit_bytes = 256 * 1024;
}

/// `PUT` with a JSON body.
pub async fn put<'a>(app: &TestApp, path: &str, auth: impl Into<Auth<'a>>, body: &Value) -> Reply {
    app.call(Method::PUT, path, auth, Some(body)).await
}

/// The group the test policies name as approvers.
pub async fn approver_group(app: &TestApp) {
    app.post("/groups", &app.admin, &json!({ "name": "risk-office" }))
        .await
        .expect(201);
}

/// Create and publish a policy as the admin; returns the created policy.
pub async fn published_policy(app: &TestApp, name: &str, yaml: &str) -> Value {
    let reply = app
        .post(
            "/policies",
            &app.admin,
            &json!({ "name": name, "description": "for tests", "yaml": yaml }),
        )
        .await;
    let created = reply.expect(201).clone();
    let id = created["policy"]["id"].as_str().unwrap();
    app.post(&format!("/policies/{id}/versions/1/publish"), &app.admin, &Value::Null)
        .await
        .expect(200);
    created["policy"].clone()
}

/// A project owned by `owner`; returns its id.
pub async fn project<'a>(app: &TestApp, owner: impl Into<Auth<'a>>, name: &str) -> String {
    let reply = app.post("/projects", owner, &json!({ "name": name })).await;
    reply.expect(201)["id"].as_str().unwrap().to_owned()
}

/// Add `user` to a project as the admin (admins manage every project's members).
pub async fn add_member(app: &TestApp, project: &str, user: &str, role: &str) {
    app.post(
        &format!("/projects/{project}/members"),
        &app.admin,
        &json!({ "user": user, "role": role }),
    )
    .await
    .expect(200);
}

/// Create a bundle; returns its notebook.
pub async fn bundle<'a>(
    app: &TestApp,
    who: impl Into<Auth<'a>>,
    project: &str,
    name: &str,
    policies: &[&str],
) -> Value {
    let reply = app
        .post(
            "/bundles",
            who,
            &json!({ "project": project, "name": name, "policies": policies }),
        )
        .await;
    reply.expect(201).clone()
}

/// Answer one question.
pub async fn answer<'a>(
    app: &TestApp,
    who: impl Into<Auth<'a>>,
    bundle: &str,
    policy: &str,
    input: &str,
    value: Value,
) -> Reply {
    put(
        app,
        &format!("/bundles/{bundle}/answers"),
        who,
        &json!({ "policy": policy, "input": input, "value": value }),
    )
    .await
}

/// Upload `body` as an attachment (`query` carries `name=…`).
pub async fn upload<'a>(
    app: &TestApp,
    who: impl Into<Auth<'a>>,
    bundle: &str,
    query: &str,
    body: impl Into<reqwest::Body>,
) -> Reply {
    let path = format!("/bundles/{bundle}/attachments/upload?{query}");
    let request = who.into().apply(app.request(Method::POST, &path)).body(body);
    app.send(request).await
}

/// A bundle's notebook as `who` sees it.
pub async fn notebook<'a>(app: &TestApp, who: impl Into<Auth<'a>>, bundle: &str) -> Value {
    app.get(&format!("/bundles/{bundle}"), who).await.expect(200).clone()
}

/// The question `input_id` of a notebook, wherever it is.
#[track_caller]
pub fn input<'a>(notebook: &'a Value, input_id: &str) -> &'a Value {
    sets(notebook)
        .flat_map(|s| s["inputs"].as_array().unwrap())
        .find(|i| i["id"] == input_id)
        .unwrap_or_else(|| panic!("no input {input_id} in the notebook"))
}

/// The evidence set `set_id` of a notebook.
#[track_caller]
pub fn set<'a>(notebook: &'a Value, set_id: &str) -> &'a Value {
    sets(notebook)
        .find(|s| s["id"] == set_id)
        .unwrap_or_else(|| panic!("no evidence set {set_id} in the notebook"))
}

fn sets(notebook: &Value) -> impl Iterator<Item = &Value> {
    notebook["policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["stages"].as_array().unwrap())
        .flat_map(|s| s["evidence_sets"].as_array().unwrap())
}

/// Move an approval of a bundle straight to `to` in the store, as a decision would
/// (audited as `action`).
pub async fn decide(
    app: &TestApp,
    bundle: &str,
    approval: &str,
    to: ApprovalStatus,
    action: &'static str,
    expires_at: Option<i64>,
) {
    let approvals = app.state.store.approvals(bundle.parse().unwrap()).await.unwrap();
    let seen = approvals
        .iter()
        .find(|a| a.name == approval)
        .unwrap_or_else(|| panic!("no approval {approval} on {bundle}"));
    let mut tx = app.state.store.begin().await.unwrap();
    charter_store::approval::transition(
        &mut tx,
        &AuditContext::system("test-setup"),
        seen,
        Transition {
            to,
            action,
            comment: None,
            signoff: None,
            expires_at: expires_at.map(Some),
            details: json!({}),
        },
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Grant an approval of a bundle (a direct store call).
pub async fn grant(app: &TestApp, bundle: &str, approval: &str) {
    decide(
        app,
        bundle,
        approval,
        ApprovalStatus::Approved,
        "approval.granted",
        None,
    )
    .await;
}
