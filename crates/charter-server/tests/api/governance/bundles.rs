//! `/api/v1/bundles`: the listing, the evidence notebook, answers and their
//! history, and the states that freeze evidence.

use charter_domain::Role;
use serde_json::{Value, json};

use super::{INTAKE, answer, approver_group, bundle, grant, input, notebook, project, published_policy, roomy, set};
use crate::harness::TestApp;

on_every_backend!(
    a_bundle_follows_published_policies_and_shows_its_notebook(roomy),
    answers_are_checked_against_their_question(roomy),
    answering_reclassifies_and_reveals_sections_and_keeps_every_revision(roomy),
    approved_stages_and_closed_bundles_take_no_evidence(roomy),
    sequential_policies_open_one_stage_at_a_time(roomy),
    the_list_filters_by_policy_stage_and_classification(roomy),
    the_notebook_lays_out_each_set_in_the_policys_order(roomy),
);

/// A published INTAKE policy and a project owned by `olga` with `mel` as a member.
async fn setup(app: &TestApp) -> (crate::harness::TestUser, crate::harness::TestUser, String) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    let mel = app.user("mel", Role::Practitioner).await;
    let project = project(app, &olga, "helpbot").await;
    super::add_member(app, &project, "mel", "member").await;
    (olga, mel, project)
}

async fn a_bundle_follows_published_policies_and_shows_its_notebook(app: &TestApp) {
    let (olga, _mel, project) = setup(app).await;
    let outsider = app.user("otto", Role::Practitioner).await;

    let nb = bundle(app, &olga, "helpbot", "HelpBot v1", &["Intake"]).await;
    let id = nb["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("bdl_"));
    assert_eq!(
        (nb["project_id"].as_str(), nb["project"].as_str()),
        (Some(project.as_str()), Some("helpbot"))
    );
    assert_eq!(nb["state"], "active");
    assert_eq!(nb["compliant"], false);
    assert_eq!(nb["created_by_name"], "olga");
    assert_eq!(nb["copied_from"], Value::Null);
    assert_eq!(app.last_event("bundle.created").await.target_id, id);

    let policy = &nb["policies"][0];
    assert!(policy["policy_id"].as_str().unwrap().starts_with("pol_"));
    assert!(policy["version_id"].as_str().unwrap().starts_with("pov_"));
    assert_eq!(
        (policy["name"].as_str(), policy["version"].as_i64()),
        (Some("Intake"), Some(1))
    );
    assert_eq!(
        policy["classification"], "Low",
        "unanswered inputs are absent: the rule says Low"
    );
    assert_eq!(policy["current_stage"], "Intake");
    assert_eq!(policy["compliant"], false);
    let aliases: Vec<&str> = policy["classification_inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["alias"].as_str().unwrap())
        .collect();
    assert_eq!(aliases, ["impact", "pii"]);
    let missing: Vec<&str> = policy["missing_required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(missing.len(), 3, "impact, pii and accuracy: {missing:?}");
    assert!(missing.contains(&"accuracy"));

    let stages = policy["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2);
    assert_eq!(
        (stages[0]["name"].as_str(), stages[0]["current"].as_bool()),
        (Some("Intake"), Some(true))
    );
    assert_eq!(stages[0]["open"], true);
    let intake = set(&nb, "Local.intake");
    assert_eq!(
        (
            intake["name"].as_str(),
            intake["description"].as_str(),
            intake["visible"].as_bool()
        ),
        (Some("Use case"), Some("What the model does"), Some(true))
    );
    assert_eq!(intake["guidance"], json!(["Answer every question."]));
    assert_eq!(set(&nb, "Local.high-risk")["visible"], false);
    let impact = input(&nb, "impact");
    assert_eq!(impact["type"], "radio");
    assert_eq!(impact["label"], "What kind of answers?");
    assert_eq!(
        impact["options"][1],
        json!({ "label": "Customer-facing advice", "value": "Customer-facing advice" })
    );
    assert_eq!(
        (
            impact["required"].as_bool(),
            impact["visible"].as_bool(),
            impact["missing"].as_bool()
        ),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(impact["value"], Value::Null);
    assert_eq!(impact["carried_over"], false);
    let users = input(&nb, "users");
    assert_eq!(
        (users["min"].as_f64(), users["max"].as_f64()),
        (Some(0.0), Some(100000.0))
    );
    assert_eq!(input(&nb, "retired")["disabled"], true);
    assert_eq!(input(&nb, "pii-fields")["visible"], false);
    assert_eq!(input(&nb, "model-card")["type"], "file");
    let approval = &stages[0]["approvals"][0];
    assert!(approval["id"].as_str().unwrap().starts_with("apr_"));
    assert_eq!(
        (approval["name"].as_str(), approval["status"].as_str()),
        (Some("Intake sign off"), Some("not_requested"))
    );
    assert_eq!(
        approval["approvers"],
        json!([{ "kind": "group", "name": "risk-office", "additional": false }])
    );

    // The notebook reads the same by id; outsiders are refused; governance admins read.
    assert_eq!(notebook(app, &olga, &id).await, nb);
    app.get(&format!("/bundles/{id}"), &outsider)
        .await
        .expect_error(403, "forbidden");
    let gina = app.user("gina", Role::GovernanceAdmin).await;
    notebook(app, &gina, &id).await;

    // The listing: what the caller may read, filtered by project and state.
    bundle(app, &olga, &project, "HelpBot v2", &["Intake"]).await;
    let list = app.get("/bundles", &olga).await;
    let names: Vec<&str> = list
        .expect(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["HelpBot v2", "HelpBot v1"], "newest first");
    assert_eq!(list.json[0]["policies"][0]["current_stage"], "Intake");
    assert_eq!(app.get("/bundles", &outsider).await.expect(200), &json!([]));
    app.get("/bundles?project=helpbot", &outsider)
        .await
        .expect_error(403, "forbidden");
    let reply = app.get("/bundles?project=helpbot&state=complete", &olga).await;
    assert_eq!(reply.expect(200), &json!([]));
    app.get("/bundles?state=done", &olga)
        .await
        .expect_error(400, "invalid_request");
    let reply = app.get("/bundles?state=active", &gina).await;
    assert_eq!(reply.expect(200).as_array().unwrap().len(), 2);

    // Mistakes at creation.
    app.post(
        "/bundles",
        &olga,
        &json!({ "project": "helpbot", "name": "HelpBot v1", "policies": ["Intake"] }),
    )
    .await
    .expect_error(409, "conflict");
    app.post(
        "/bundles",
        &olga,
        &json!({ "project": "helpbot", "name": "x", "policies": [] }),
    )
    .await
    .expect_error(400, "invalid_request");
    app.post(
        "/bundles",
        &olga,
        &json!({ "project": "helpbot", "name": "x", "policies": ["Nope"] }),
    )
    .await
    .expect_error(404, "not_found");
    app.post(
        "/bundles",
        &outsider,
        &json!({ "project": "helpbot", "name": "x", "policies": ["Intake"] }),
    )
    .await
    .expect_error(403, "forbidden");
    app.get("/bundles/bdl_nope", &olga)
        .await
        .expect_error(400, "invalid_request");
}

async fn answers_are_checked_against_their_question(app: &TestApp) {
    let (olga, mel, _project) = setup(app).await;
    let nb = bundle(app, &olga, "helpbot", "HelpBot", &["Intake"]).await;
    let id = nb["id"].as_str().unwrap();
    let before = app.audit_count().await;

    // Wrong type: 400 naming the question (label and id), with its id in the details.
    let reply = answer(app, &mel, id, "Intake", "users", json!("many")).await;
    let message = reply.expect_error(400, "invalid_request").to_owned();
    assert!(
        message.contains("Expected daily users") && message.contains("users"),
        "{message}"
    );
    assert_eq!(reply.json["error"]["details"]["input_id"], "users");
    // Out of range.
    let reply = answer(app, &mel, id, "Intake", "users", json!(100001)).await;
    assert!(
        reply.expect_error(400, "invalid_request").contains("100000"),
        "{}",
        reply.text
    );
    // Not an option.
    let reply = answer(app, &mel, id, "Intake", "pii", json!("Maybe")).await;
    assert_eq!(reply.expect(400)["error"]["details"]["input_id"], "pii");
    // Disabled.
    let reply = answer(app, &mel, id, "Intake", "retired", json!("x")).await;
    assert!(reply.expect_error(400, "invalid_request").contains("disabled"));
    // Hidden (the PII question shows only when personal data is used).
    let reply = answer(app, &mel, id, "Intake", "pii-fields", json!("email")).await;
    assert!(reply.expect_error(409, "conflict").contains("hidden"), "{}", reply.text);
    // A section hidden by the classification.
    answer(app, &mel, id, "Intake", "escalation", json!("None"))
        .await
        .expect_error(409, "conflict");
    // A file question takes an attachment of this bundle.
    let reply = answer(
        app,
        &mel,
        id,
        "Intake",
        "model-card",
        json!("att_0190a1b2c3d4e5f60718293a4b5c6d7e"),
    )
    .await;
    assert_eq!(reply.expect(400)["error"]["details"]["code"], "unknown_attachment");
    // Unknown question, unknown policy.
    answer(app, &mel, id, "Intake", "nope", json!("x"))
        .await
        .expect_error(404, "not_found");
    answer(app, &mel, id, "Other", "users", json!(1))
        .await
        .expect_error(404, "not_found");
    // Non-members and project viewers may not answer.
    let otto = app.user("otto", Role::Practitioner).await;
    answer(app, &otto, id, "Intake", "users", json!(10))
        .await
        .expect_error(403, "forbidden");
    let vic = app.user("vic", Role::Practitioner).await;
    super::add_member(app, "helpbot", "vic", "viewer").await;
    let before_viewer = app.audit_count().await;
    answer(app, &vic, id, "Intake", "users", json!(10))
        .await
        .expect_error(403, "forbidden");
    assert_eq!(app.audit_count().await, before_viewer);
    // None of that wrote any evidence.
    let events = app.events_after(before).await;
    let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    assert!(
        !actions
            .iter()
            .any(|a| a.starts_with("evidence.") || a.starts_with("bundle.")),
        "{actions:?}"
    );
    let nb = notebook(app, &olga, id).await;
    assert_eq!(input(&nb, "users")["value"], Value::Null);

    // A good answer; numeric strings are numbers.
    let reply = answer(app, &mel, id, "Intake", "users", json!("250")).await;
    let outcome = reply.expect(200).clone();
    assert_eq!(outcome["value"], 250.0);
    assert_eq!(
        (outcome["input_id"].as_str(), outcome["revision"].as_i64()),
        (Some("users"), Some(1))
    );
    assert!(outcome["answer_id"].as_str().unwrap().starts_with("ans_"));
    assert_eq!(outcome["bundle_id"], id);
    assert_eq!(outcome["policy_id"], nb["policies"][0]["policy_id"]);
    assert_eq!(outcome["stage"], "Intake");
    let event = app.last_event("evidence.answered").await;
    assert_eq!(event.target_id, id);
    assert_eq!(event.actor_name, "mel");
}

async fn answering_reclassifies_and_reveals_sections_and_keeps_every_revision(app: &TestApp) {
    let (olga, mel, _project) = setup(app).await;
    let nb = bundle(app, &olga, "helpbot", "HelpBot", &["Intake"]).await;
    let id = nb["id"].as_str().unwrap();
    let policy_id = nb["policies"][0]["policy_id"].as_str().unwrap();

    // Personal data: Medium, and the PII question appears.
    let reply = answer(app, &mel, id, "Intake", "pii", json!("Yes")).await;
    let outcome = reply.expect(200).clone();
    assert_eq!(outcome["classification"], "Medium");
    assert!(
        !outcome["hidden_inputs"]
            .as_array()
            .unwrap()
            .contains(&json!("pii-fields"))
    );
    let nb = notebook(app, &olga, id).await;
    assert_eq!(input(&nb, "pii-fields")["visible"], true);
    assert_eq!(app.last_event("bundle.classified").await.target_id, id);

    // Customer-facing advice: High, and the extra-review section appears.
    let reply = answer(app, &olga, id, "Intake", "impact", json!("Customer-facing advice")).await;
    let outcome = reply.expect(200).clone();
    assert_eq!(outcome["classification"], "High");
    assert!(
        outcome["visible_sets"]
            .as_array()
            .unwrap()
            .contains(&json!("Local.high-risk"))
    );
    assert!(
        outcome["missing_required"]
            .as_array()
            .unwrap()
            .contains(&json!("escalation"))
    );
    let nb = notebook(app, &olga, id).await;
    assert_eq!(nb["policies"][0]["classification"], "High");
    let inputs = nb["policies"][0]["classification_inputs"].as_array().unwrap();
    assert_eq!(
        inputs[0],
        json!({ "alias": "impact", "input_id": "impact", "label": "What kind of answers?", "value": "Customer-facing advice" })
    );
    assert_eq!(set(&nb, "Local.high-risk")["visible"], true);
    assert_eq!(input(&nb, "escalation")["missing"], true);
    answer(app, &mel, id, "Intake", "escalation", json!("Human review"))
        .await
        .expect(200);

    // Every save is a revision; the latest counts; history keeps them all.
    for value in [json!(10), json!(20), json!(30)] {
        answer(app, &mel, id, "Intake", "users", value).await.expect(200);
    }
    let nb = notebook(app, &olga, id).await;
    let users = input(&nb, "users");
    assert_eq!(
        (users["value"].as_f64(), users["revision"].as_i64()),
        (Some(30.0), Some(3))
    );
    assert_eq!(
        (users["answered_by"].as_str(), users["answered_by_name"].as_str()),
        (Some(mel.id.as_str()), Some("mel"))
    );
    assert!(users["answered_at"].is_string());
    let reply = app
        .get(&format!("/bundles/{id}/answers/Intake/users/history"), &olga)
        .await;
    let history = reply.expect(200).clone();
    assert_eq!(
        (history["bundle_id"].as_str(), history["policy_id"].as_str()),
        (Some(id), Some(policy_id))
    );
    assert_eq!(history["label"], "Expected daily users");
    let revisions = history["revisions"].as_array().unwrap();
    let values: Vec<(i64, f64)> = revisions
        .iter()
        .map(|r| (r["revision"].as_i64().unwrap(), r["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(values, [(1, 10.0), (2, 20.0), (3, 30.0)]);
    assert_eq!(revisions[2]["answer_id"], users["answer_id"]);
    assert!(revisions.iter().all(|r| r["answered_by_name"] == "mel"));
    // By policy id and alias too.
    let reply = app
        .get(&format!("/bundles/{id}/answers/{policy_id}/impact/history"), &olga)
        .await;
    assert_eq!(reply.expect(200)["revisions"].as_array().unwrap().len(), 1);
    let otto = app.user("otto", Role::Practitioner).await;
    app.get(&format!("/bundles/{id}/answers/Intake/users/history"), &otto)
        .await
        .expect_error(403, "forbidden");

    // Back to an internal FAQ without personal data: Low, and the sections hide again
    // (their answers stay, but no longer count).
    answer(app, &mel, id, "Intake", "impact", json!("Internal FAQ only"))
        .await
        .expect(200);
    let reply = answer(app, &mel, id, "Intake", "pii", json!("No")).await;
    let outcome = reply.expect(200);
    assert_eq!(outcome["classification"], "Low");
    assert!(
        outcome["hidden_sets"]
            .as_array()
            .unwrap()
            .contains(&json!("Local.high-risk"))
    );
    let nb = notebook(app, &olga, id).await;
    let escalation = input(&nb, "escalation");
    assert_eq!(
        (escalation["visible"].as_bool(), escalation["value"].as_str()),
        (Some(false), Some("Human review"))
    );
    let list = app.get("/bundles", &olga).await;
    assert_eq!(list.expect(200)[0]["policies"][0]["classification"], "Low");
    app.verify_audit().await;
}

async fn approved_stages_and_closed_bundles_take_no_evidence(app: &TestApp) {
    let (olga, mel, _project) = setup(app).await;
    let nb = bundle(app, &olga, "helpbot", "HelpBot", &["Intake"]).await;
    let id = nb["id"].as_str().unwrap();
    answer(app, &mel, id, "Intake", "users", json!(5)).await.expect(200);

    // An approved stage is frozen; the next stage becomes current.
    grant(app, id, "Intake sign off").await;
    let before = app.audit_count().await;
    let reply = answer(app, &mel, id, "Intake", "users", json!(6)).await;
    assert!(reply.expect_error(409, "conflict").contains("frozen"), "{}", reply.text);
    assert_eq!(app.audit_count().await, before);
    let nb = notebook(app, &olga, id).await;
    let stages = &nb["policies"][0]["stages"];
    assert_eq!(
        (stages[0]["open"].as_bool(), stages[0]["current"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(stages[0]["closed_reason"].as_str().unwrap().contains("frozen"));
    assert_eq!(stages[1]["current"], true);
    assert_eq!(nb["policies"][0]["current_stage"], "Validation");
    assert_eq!(stages[0]["approvals"][0]["granted"], true);
    answer(app, &mel, id, "Intake", "accuracy", json!(0.93))
        .await
        .expect(200);

    // Not compliant yet: completing is refused, naming what is missing.
    let reply = app.post(&format!("/bundles/{id}/complete"), &olga, &Value::Null).await;
    assert!(reply.expect_error(409, "conflict").contains("Validation sign off"));
    grant(app, id, "Validation sign off").await;
    let reply = app.post(&format!("/bundles/{id}/complete"), &olga, &Value::Null).await;
    let done = reply.expect(200);
    assert_eq!(
        (done["state"].as_str(), done["compliant"].as_bool()),
        (Some("complete"), Some(true))
    );
    assert_eq!(app.last_event("bundle.completed").await.target_id, id);

    // A complete bundle takes nothing: no answer, no attachment, nothing written.
    let before = app.audit_count().await;
    let reply = answer(app, &mel, id, "Intake", "users", json!(7)).await;
    assert!(
        reply.expect_error(409, "conflict").contains("complete"),
        "{}",
        reply.text
    );
    app.post(
        &format!("/bundles/{id}/attachments"),
        &mel,
        &json!({ "kind": "app", "name": "HelpBot", "reference": { "name": "helpbot" } }),
    )
    .await
    .expect_error(409, "conflict");
    app.post(&format!("/bundles/{id}/complete"), &olga, &Value::Null)
        .await
        .expect_error(409, "conflict");
    assert_eq!(app.audit_count().await, before);
    let reply = app
        .get(&format!("/bundles/{id}/answers/Intake/users/history"), &olga)
        .await;
    assert_eq!(reply.expect(200)["revisions"].as_array().unwrap().len(), 1);

    // Archived, the same; reopened, evidence opens again (where stages allow).
    app.post(&format!("/bundles/{id}/archive"), &olga, &Value::Null)
        .await
        .expect(200);
    let reply = answer(app, &mel, id, "Intake", "accuracy", json!(0.5)).await;
    assert!(reply.expect_error(409, "conflict").contains("archived"));
    let reply = app.post(&format!("/bundles/{id}/reopen"), &olga, &Value::Null).await;
    assert_eq!(reply.expect(200)["state"], "active");
    assert_eq!(app.last_event("bundle.reopened").await.target_id, id);
    // Both stages are approved, so both stay frozen.
    answer(app, &mel, id, "Intake", "accuracy", json!(0.5))
        .await
        .expect_error(409, "conflict");
    let list = app.get("/bundles?state=active", &olga).await;
    assert_eq!(list.expect(200).as_array().unwrap().len(), 1);
    // A project viewer cannot move a bundle.
    let vic = app.user("vic", Role::Practitioner).await;
    super::add_member(app, "helpbot", "vic", "viewer").await;
    app.post(&format!("/bundles/{id}/archive"), &vic, &Value::Null)
        .await
        .expect_error(403, "forbidden");
}

async fn sequential_policies_open_one_stage_at_a_time(app: &TestApp) {
    let (olga, mel, _project) = setup(app).await;
    let yaml = format!("enforceSequentialOrder: true\n{INTAKE}");
    published_policy(app, "Sequential", &yaml).await;
    let nb = bundle(app, &olga, "helpbot", "HelpBot", &["Sequential"]).await;
    let id = nb["id"].as_str().unwrap();
    assert_eq!(nb["policies"][0]["stages"][1]["open"], false);
    let reply = answer(app, &mel, id, "Sequential", "accuracy", json!(0.9)).await;
    assert!(
        reply.expect_error(409, "conflict").contains("sequential"),
        "{}",
        reply.text
    );
    grant(app, id, "Intake sign off").await;
    answer(app, &mel, id, "Sequential", "accuracy", json!(0.9))
        .await
        .expect(200);
}

async fn the_list_filters_by_policy_stage_and_classification(app: &TestApp) {
    let (olga, _mel, project) = setup(app).await;
    let high = bundle(app, &olga, &project, "High one", &["Intake"]).await;
    let high_id = high["id"].as_str().unwrap().to_owned();
    answer(
        app,
        &olga,
        &high_id,
        "Intake",
        "impact",
        json!("Customer-facing advice"),
    )
    .await
    .expect(200);
    let low = bundle(app, &olga, &project, "Low one", &["Intake"]).await;
    let low_id = low["id"].as_str().unwrap().to_owned();
    answer(app, &olga, &low_id, "Intake", "impact", json!("Internal FAQ only"))
        .await
        .expect(200);
    answer(app, &olga, &low_id, "Intake", "pii", json!("No"))
        .await
        .expect(200);
    grant(app, &low_id, "Intake sign off").await;
    // Listings match the standing recorded with each change: an answer records it.
    answer(app, &olga, &low_id, "Intake", "accuracy", json!(0.9))
        .await
        .expect(200);
    bundle(app, &olga, &project, "Unanswered", &["Intake"]).await;

    let names = |reply: &crate::harness::Reply| -> Vec<String> {
        reply
            .expect(200)
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let reply = app.get("/bundles?classification=High", &olga).await;
    assert_eq!(names(&reply), ["High one"]);
    let reply = app.get("/bundles?classification=low&policy=Intake", &olga).await;
    assert_eq!(
        names(&reply),
        ["Unanswered", "Low one"],
        "the rule's default is Low; the case of the filter does not matter"
    );
    let reply = app.get("/bundles?classification=none", &olga).await;
    assert_eq!(
        names(&reply),
        Vec::<String>::new(),
        "every bundle here has a classification"
    );
    let reply = app.get("/bundles?stage=Validation", &olga).await;
    assert_eq!(names(&reply), ["Low one"], "its Intake stage is approved");
    let reply = app
        .get("/bundles?policy=Intake&stage=Intake&project=helpbot", &olga)
        .await;
    assert_eq!(names(&reply), ["Unanswered", "High one"]);

    // Filters that name nothing say which parameter is wrong.
    let message = app
        .get("/bundles?policy=Nope", &olga)
        .await
        .expect_error(400, "invalid_request")
        .to_owned();
    assert!(message.starts_with("policy:"), "{message}");
    let message = app
        .get("/bundles?project=nope", &olga)
        .await
        .expect_error(400, "invalid_request")
        .to_owned();
    assert!(message.starts_with("project:"), "{message}");
}

async fn the_notebook_lays_out_each_set_in_the_policys_order(app: &TestApp) {
    let (olga, _mel, project) = setup(app).await;
    let nb = bundle(app, &olga, &project, "Layout", &["Intake"]).await;
    let intake = set(&nb, "Local.intake");
    let items = intake["items"].as_array().unwrap();
    assert_eq!(
        items[0],
        json!({ "kind": "guidance", "style": "banner", "text": "Answer every question." }),
        "guidance keeps its place and its style"
    );
    let ids: Vec<&str> = items[1..]
        .iter()
        .map(|i| {
            assert_eq!(i["kind"], "input");
            i["id"].as_str().unwrap()
        })
        .collect();
    let inputs: Vec<&str> = intake["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, inputs, "every question, in the policy's order");
    assert_eq!(input(&nb, "pii-fields")["type"], "textarea");
}
