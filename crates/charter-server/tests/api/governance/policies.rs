//! `/api/v1/policies`: lint, create, drafts, publish, retire, diff, tests.

use charter_domain::Role;
use serde_json::{Value, json};

use super::{INTAKE, approver_group, domino_fixture, put, roomy};
use crate::harness::TestApp;

on_every_backend!(
    lint_reports_every_error_with_its_line_and_column_and_nothing_is_saved(roomy),
    a_policy_is_published_frozen_redrafted_diffed_and_retired(roomy),
    both_domino_example_policies_import(roomy),
    only_governance_admins_change_policies(roomy),
);

const BROKEN: &str = r#"classification:
  artifacts: [risk]
  rule: 'inputs["risk"] =='
stages:
  - name: Intake
    evidenceSet:
      - id: Local.a
        name: A
        definition:
          - artifactType: input
            id: q0
            details: {type: slider, label: Q0}
          - artifactType: input
            id: q1
            details: {type: textinput, label: Q1}
          - artifactType: input
            id: q1
            details: {type: textinput, label: Q1 again}
    approvals:
      - name: Sign off
        approvers: [nobody-at-all]
"#;

fn codes(diagnostics: &Value) -> Vec<&str> {
    diagnostics
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect()
}

async fn lint_reports_every_error_with_its_line_and_column_and_nothing_is_saved(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;

    // Anyone signed in may lint; every diagnostic comes at once, each with line:col.
    let reply = app.post("/policies/lint", &ann, &json!({ "yaml": BROKEN })).await;
    let report = reply.expect(200).clone();
    assert_eq!(report["ok"], false, "{report}");
    let found = codes(&report["diagnostics"]);
    for code in ["unknown_input_type", "duplicate_input_id", "unknown_approver"] {
        assert!(found.contains(&code), "no {code} in {found:?}");
    }
    assert!(
        found.iter().any(|c| c.starts_with("cel_")),
        "the broken CEL rule is reported: {found:?}"
    );
    assert!(report["errors"].as_u64().unwrap() >= 4, "{report}");
    for d in report["diagnostics"].as_array().unwrap() {
        assert!(
            d["line"].as_u64().unwrap() > 0 && d["column"].as_u64().unwrap() > 0,
            "{d}"
        );
        assert!(!d["message"].as_str().unwrap().is_empty());
    }
    let at = |code: &str| {
        let d = report["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["code"] == code)
            .unwrap();
        (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap())
    };
    assert_eq!(at("unknown_input_type").0, 12, "the `type: slider` line");
    assert_eq!(at("unknown_approver").0, 21, "the approvers line");
    assert_eq!(at("duplicate_input_id").0, 17, "the second `id: q1`");

    // A YAML syntax error is a diagnostic too, not a failed request.
    let reply = app
        .post("/policies/lint", &ann, &json!({ "yaml": "stages: [\n" }))
        .await;
    let syntax = reply.expect(200);
    assert_eq!(syntax["ok"], false);
    assert!(syntax["diagnostics"][0]["line"].as_u64().unwrap() >= 1);

    // A clean policy lints ok, with a summary.
    approver_group(app).await;
    let reply = app.post("/policies/lint", &ann, &json!({ "yaml": INTAKE })).await;
    let clean = reply.expect(200);
    assert_eq!(clean["ok"], true, "{clean}");
    assert_eq!(clean["summary"]["stages"], json!(["Intake", "Validation"]));

    // Saving refuses the broken YAML with every diagnostic in the details; nothing saved.
    let before = app.audit_count().await;
    let reply = app
        .post("/policies", &app.admin, &json!({ "name": "Broken", "yaml": BROKEN }))
        .await;
    let message = reply.expect_error(422, "policy_invalid").to_owned();
    assert!(message.contains("line"), "{message}");
    let details = &reply.json["error"]["details"];
    assert_eq!(details["errors"], report["errors"]);
    assert_eq!(codes(&details["diagnostics"]), found);
    assert_eq!(app.audit_count().await, before, "nothing written");
    let list = app.get("/policies", &app.admin).await;
    assert_eq!(list.expect(200), &json!([]));
    app.get("/policies/Broken", &app.admin)
        .await
        .expect_error(404, "not_found");
}

/// The same policy with the daily-users question reworded and bounded lower.
fn intake_v2() -> String {
    INTAKE.replace(
        "{type: numeric, label: Expected daily users, min: 0, max: 100000}",
        "{type: numeric, label: Expected users per day, min: 0, max: 50000}",
    )
}

async fn a_policy_is_published_frozen_redrafted_diffed_and_retired(app: &TestApp) {
    approver_group(app).await;
    let reply = app
        .post(
            "/policies",
            &app.admin,
            &json!({ "name": "HelpBot Intake", "description": "  Intake for chatbots ", "yaml": INTAKE }),
        )
        .await;
    let created = reply.expect(201).clone();
    let id = created["policy"]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("pol_"), "{id}");
    assert_eq!(created["policy"]["description"], "Intake for chatbots");
    assert_eq!(created["version"]["version"], 1);
    assert_eq!(created["version"]["status"], "draft");
    assert!(created["version"]["id"].as_str().unwrap().starts_with("pov_"));
    assert_eq!(created["version"]["yaml"], INTAKE);
    assert_eq!(created["warnings"], json!([]));
    assert_eq!(created["policy"]["draft_version"], 1);
    assert_eq!(created["policy"]["published_version"], Value::Null);

    // Not yet published: bundles cannot follow it.
    let owner = app.user("olga", Role::Practitioner).await;
    let project = super::project(app, &owner, "helpbot").await;
    let reply = app
        .post(
            "/bundles",
            &owner,
            &json!({ "project": project, "name": "b", "policies": ["HelpBot Intake"] }),
        )
        .await;
    assert!(reply.expect_error(409, "conflict").contains("publish"));

    // Publish; a published version is immutable.
    let reply = app
        .post(&format!("/policies/{id}/versions/1/publish"), &app.admin, &Value::Null)
        .await;
    let published = reply.expect(200);
    assert_eq!(published["status"], "published");
    assert_eq!(published["published_by"], app.admin.id.as_str());
    app.post(&format!("/policies/{id}/versions/1/publish"), &app.admin, &Value::Null)
        .await
        .expect_error(409, "conflict");
    let before = app.audit_count().await;
    let reply = put(
        app,
        &format!("/policies/{id}/draft"),
        &app.admin,
        &json!({ "yaml": intake_v2(), "version": 1 }),
    )
    .await;
    let message = reply.expect_error(409, "conflict");
    assert!(
        message.contains("immutable") && message.contains("version 2"),
        "{message}"
    );
    assert_eq!(app.audit_count().await, before, "nothing written");
    let reply = app.get(&format!("/policies/{id}/versions/1"), &app.admin).await;
    assert_eq!(reply.expect(200)["yaml"], INTAKE, "version 1 unchanged");

    // Saving without naming a version starts version 2 as a draft.
    let reply = put(
        app,
        "/policies/HelpBot Intake/draft",
        &app.admin,
        &json!({ "yaml": intake_v2() }),
    )
    .await;
    let saved = reply.expect(200).clone();
    assert_eq!(saved["created"], true);
    assert_eq!(saved["version"]["version"], 2);
    assert_eq!(saved["version"]["status"], "draft");
    let lines: Vec<&str> = saved["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("question users")),
        "the change names the question: {lines:?}"
    );
    assert!(app.last_event("policy_version.created").await.target_id == saved["version"]["id"]);

    // Saving again goes into the same draft.
    let reply = put(
        app,
        &format!("/policies/{id}/draft"),
        &app.admin,
        &json!({ "yaml": intake_v2(), "version": 2 }),
    )
    .await;
    let again = reply.expect(200);
    assert_eq!(
        (again["created"].clone(), again["version"]["version"].clone()),
        (json!(false), json!(2))
    );
    assert_eq!(
        app.last_event("policy_version.updated").await.target_id,
        saved["version"]["id"]
    );

    // Invalid YAML on a draft: 422, the draft unchanged.
    let reply = put(
        app,
        &format!("/policies/{id}/draft"),
        &app.admin,
        &json!({ "yaml": "stages: 3" }),
    )
    .await;
    reply.expect_error(422, "policy_invalid");
    let latest = app.get(&format!("/policies/{id}/versions/latest"), &app.admin).await;
    assert_eq!(latest.expect(200)["yaml"], intake_v2());

    // The diff names the changed question, as lines and structured.
    let reply = app
        .get(&format!("/policies/{id}/versions/2/diff?against=1"), &app.admin)
        .await;
    let diff = reply.expect(200).clone();
    assert_eq!(
        (diff["from"]["version"].clone(), diff["to"]["version"].clone()),
        (json!(1), json!(2))
    );
    assert!(
        diff["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("question users")),
        "{diff}"
    );
    let change = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "users")
        .expect("a change for the question");
    assert_eq!(
        (change["subject"].as_str(), change["kind"].as_str()),
        (Some("question"), Some("changed"))
    );
    let fields: Vec<&str> = change["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"label") && fields.contains(&"max"), "{fields:?}");
    // Without `against`, the version before.
    let reply = app.get(&format!("/policies/{id}/versions/2/diff"), &app.admin).await;
    assert_eq!(reply.expect(200)["lines"], diff["lines"]);
    app.get(&format!("/policies/{id}/versions/1/diff"), &app.admin)
        .await
        .expect_error(400, "invalid_request");

    // The version's own tests run.
    let reply = app
        .post(
            &format!("/policies/{id}/versions/latest/test"),
            &app.admin,
            &Value::Null,
        )
        .await;
    let tests = reply.expect(200);
    assert_eq!(
        (tests["passed"].clone(), tests["total"].clone()),
        (json!(true), json!(2)),
        "{tests}"
    );
    assert_eq!(tests["results"][0]["name"], "customer-facing advice is high risk");

    // Publish version 2, retire version 1.
    app.post(&format!("/policies/{id}/versions/2/publish"), &app.admin, &Value::Null)
        .await
        .expect(200);
    let reply = app
        .post(&format!("/policies/{id}/versions/1/retire"), &app.admin, &Value::Null)
        .await;
    let retired = reply.expect(200);
    assert_eq!(retired["status"], "retired");
    assert!(retired["retired_at"].is_string());
    app.post(&format!("/policies/{id}/versions/1/retire"), &app.admin, &Value::Null)
        .await
        .expect_error(409, "conflict");

    // The listing shows every version with its status.
    let reply = app.get("/policies", &owner).await;
    let list = reply.expect(200).clone();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let statuses: Vec<(i64, &str)> = list[0]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_i64().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses, [(1, "retired"), (2, "published")]);
    assert_eq!(list[0]["published_version"], 2);
    let reply = app.get(&format!("/policies/{id}/versions/published"), &owner).await;
    assert_eq!(reply.expect(200)["version"], 2);
    app.get(&format!("/policies/{id}/versions/nine"), &owner)
        .await
        .expect_error(400, "invalid_request");
    app.get(&format!("/policies/{id}/versions/9"), &owner)
        .await
        .expect_error(404, "not_found");

    // New bundles follow the newest published version.
    let notebook = super::bundle(app, &owner, &project, "HelpBot", &["HelpBot Intake"]).await;
    assert_eq!(notebook["policies"][0]["version"], 2);
    assert_eq!(super::input(&notebook, "users")["label"], "Expected users per day");

    for action in ["policy.created", "policy_version.published", "policy_version.retired"] {
        app.last_event(action).await;
    }
    app.verify_audit().await;
}

async fn both_domino_example_policies_import(app: &TestApp) {
    for group in [
        "model-gov-org",
        "modeling-leadership",
        "modeling-practitioners",
        "modeling-review",
    ] {
        app.post("/groups", &app.admin, &json!({ "name": group }))
            .await
            .expect(201);
    }
    let reply = app
        .post(
            "/policies",
            &app.admin,
            &json!({ "name": "Oil and Gas", "yaml": domino_fixture("oil-gas.yaml") }),
        )
        .await;
    let oil = reply.expect(201).clone();
    assert_eq!(oil["warnings"], json!([]), "{}", oil["warnings"]);
    assert_eq!(oil["version"]["summary"]["stages"].as_array().unwrap().len(), 4);

    let reply = app
        .post(
            "/policies",
            &app.admin,
            &json!({ "name": "EU AI Act", "yaml": domino_fixture("eu-ai-act.yaml") }),
        )
        .await;
    let eu = reply.expect(201).clone();
    let warnings = eu["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["code"], "named_classification_rule");
    assert_eq!(
        (warnings[0]["line"].as_u64(), warnings[0]["column"].as_u64()),
        (Some(2), Some(9))
    );

    for name in ["Oil and Gas", "EU AI Act"] {
        app.post(
            &format!("/policies/{name}/versions/1/publish"),
            &app.admin,
            &Value::Null,
        )
        .await
        .expect(200);
    }
    // A bundle follows both.
    let project = super::project(app, &app.admin, "refinery").await;
    let notebook = super::bundle(
        app,
        &app.admin,
        &project,
        "Pump failure model",
        &["Oil and Gas", "EU AI Act"],
    )
    .await;
    let names: Vec<&str> = notebook["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Oil and Gas", "EU AI Act"]);
    // Domino's ids are the input ids.
    let risk = super::input(&notebook, "f0a24185-253a-4d0b-853b-cbdf3be5bd06");
    assert_eq!(risk["type"], "radio");
    assert_eq!(risk["alias"], "model-risk");
}

async fn only_governance_admins_change_policies(app: &TestApp) {
    approver_group(app).await;
    let pat = app.user("pat", Role::Practitioner).await;
    let gina = app.user("gina", Role::GovernanceAdmin).await;

    let before = app.audit_count().await;
    let reply = app
        .post("/policies", &pat, &json!({ "name": "Mine", "yaml": INTAKE }))
        .await;
    let message = reply.expect_error(403, "forbidden");
    assert!(message.contains("governance_admin"), "{message}");
    let events = app.events_after(before).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].action, "access.denied");
    assert_eq!(events[0].actor_name, "pat");
    assert_eq!(app.get("/policies", &pat).await.expect(200), &json!([]));

    // A governance admin may; the practitioner still may not edit, publish or retire.
    let reply = app
        .post("/policies", &gina, &json!({ "name": "Intake", "yaml": INTAKE }))
        .await;
    reply.expect(201);
    put(app, "/policies/Intake/draft", &pat, &json!({ "yaml": INTAKE }))
        .await
        .expect_error(403, "forbidden");
    app.post("/policies/Intake/versions/1/publish", &pat, &Value::Null)
        .await
        .expect_error(403, "forbidden");
    app.post("/policies/Intake/versions/1/publish", &gina, &Value::Null)
        .await
        .expect(200);
    app.post("/policies/Intake/versions/1/retire", &pat, &Value::Null)
        .await
        .expect_error(403, "forbidden");
    assert_eq!(app.last_event("access.denied").await.actor_name, "pat");

    // Reading, linting and testing are for everyone signed in.
    let reply = app.get("/policies/Intake", &pat).await;
    assert_eq!(reply.expect(200)["versions"][0]["status"], "published");
    app.post("/policies/lint", &pat, &json!({ "yaml": INTAKE }))
        .await
        .expect(200);
    app.post("/policies/Intake/versions/1/test", &pat, &Value::Null)
        .await
        .expect(200);
    app.get("/policies", crate::harness::Auth::Anonymous)
        .await
        .expect_error(401, "unauthenticated");
}
