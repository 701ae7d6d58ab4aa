//! `/api/v1/bundles/{id}/copy`: a new bundle from a previous one (the "model
//! update" flow), with every answer carried over until someone confirms or edits it.

use charter_domain::Role;
use serde_json::{Value, json};

use super::{INTAKE, answer, approver_group, bundle, input, notebook, project, published_policy, put, roomy, upload};
use crate::harness::TestApp;

on_every_backend!(a_copy_carries_answers_over_until_they_are_confirmed(roomy));

async fn a_copy_carries_answers_over_until_they_are_confirmed(app: &TestApp) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    let mel = app.user("mel", Role::Practitioner).await;
    let project = project(app, &olga, "helpbot").await;
    super::add_member(app, &project, "mel", "member").await;

    let source = bundle(app, &olga, "helpbot", "HelpBot", &["Intake"]).await;
    let src = source["id"].as_str().unwrap().to_owned();
    answer(app, &mel, &src, "Intake", "impact", json!("Customer-facing advice"))
        .await
        .expect(200);
    answer(app, &mel, &src, "Intake", "pii", json!("No")).await.expect(200);
    answer(app, &mel, &src, "Intake", "users", json!(100)).await.expect(200);
    answer(app, &mel, &src, "Intake", "users", json!(250)).await.expect(200);
    let card = upload(app, &olga, &src, "name=card.txt", "model card, version 1").await;
    let card_id = card.expect(201)["id"].as_str().unwrap().to_owned();
    answer(app, &mel, &src, "Intake", "model-card", json!(card_id))
        .await
        .expect(200);
    let source = notebook(app, &olga, &src).await;
    let users_answer = input(&source, "users")["answer_id"].as_str().unwrap().to_owned();

    // Version 2 bounds the daily users lower: the source's 250 no longer fits.
    let v2 = INTAKE.replace("min: 0, max: 100000", "min: 0, max: 200");
    put(app, "/policies/Intake/draft", &app.admin, &json!({ "yaml": v2 }))
        .await
        .expect(200);
    app.post("/policies/Intake/versions/2/publish", &app.admin, &Value::Null)
        .await
        .expect(200);

    // The preview says what would carry over, and writes nothing.
    let before = app.audit_count().await;
    let reply = app.get(&format!("/bundles/{src}/copy-preview"), &mel).await;
    let plan = reply.expect(200).clone();
    assert_eq!(app.audit_count().await, before);
    assert_eq!(plan["policies"], json!(["Intake v2"]));
    let mut carried: Vec<&str> = plan["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    carried.sort_unstable();
    assert_eq!(carried, ["Intake/impact", "Intake/model-card", "Intake/pii"]);
    let skipped = plan["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].as_str().unwrap().starts_with("Intake/users:"), "{skipped:?}");
    assert_eq!(plan["attachments"], json!(["card.txt"]));
    // …each answer with its value, who gave it and where it comes from, and each
    // attachment with its hash and origin: what the preview page shows.
    let carried_impact = plan["carried"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["input_id"] == "impact")
        .expect("impact carries over");
    assert_eq!(carried_impact["label"], "What kind of answers?");
    assert_eq!(carried_impact["value"], "Customer-facing advice");
    assert_eq!(carried_impact["answered_by"], "mel");
    assert_eq!(carried_impact["stage"], "Intake");
    assert_eq!(
        carried_impact["provenance"],
        format!(
            "bundle:{src}/answer:{}/revision:1",
            input(&source, "impact")["answer_id"].as_str().unwrap()
        )
        .as_str()
    );
    assert_eq!(plan["carried"].as_array().unwrap().len(), 3);
    let carried_card = &plan["carried_attachments"][0];
    assert_eq!(carried_card["name"], "card.txt");
    assert_eq!(carried_card["sha256"], card.json["sha256"]);
    assert_eq!(
        carried_card["provenance"],
        format!("bundle:{src}/attachment:{card_id}").as_str()
    );

    // Copy.
    let reply = app
        .post(
            &format!("/bundles/{src}/copy"),
            &mel,
            &json!({ "name": "HelpBot Model Update", "description": "v2 of the model" }),
        )
        .await;
    let copied = reply.expect(201).clone();
    assert_eq!(copied["plan"], plan);
    let nb = copied["bundle"].clone();
    let id = nb["id"].as_str().unwrap().to_owned();
    assert_ne!(id, src);
    assert_eq!(nb["copied_from"], json!({ "id": src, "name": "HelpBot" }));
    assert_eq!(nb["policies"][0]["version"], 2);
    assert_eq!(nb["carried_over"], 3);
    assert_eq!(
        nb["policies"][0]["classification"], "High",
        "recomputed from the carried answers"
    );
    let impact = input(&nb, "impact");
    assert_eq!(impact["carried_over"], true);
    assert_eq!(impact["value"], "Customer-facing advice");
    let source_impact = input(&source, "impact");
    assert_eq!(
        impact["carried_from"],
        format!(
            "bundle:{src}/answer:{}/revision:1",
            source_impact["answer_id"].as_str().unwrap()
        )
        .as_str()
    );
    assert_ne!(
        impact["answer_id"], source_impact["answer_id"],
        "a new answer of the new bundle"
    );
    assert_eq!(input(&nb, "users")["value"], Value::Null, "left behind");
    assert!(!users_answer.is_empty());

    // The attachment came along (with provenance and the same content), and the file
    // answer follows it to its copy.
    let attachments = nb["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    let copy_card = &attachments[0];
    assert_ne!(copy_card["id"], card_id.as_str());
    assert_eq!(
        copy_card["copied_from"],
        format!("bundle:{src}/attachment:{card_id}").as_str()
    );
    assert_eq!(input(&nb, "model-card")["value"], copy_card["id"]);
    let content = app.get(copy_card["content_url"].as_str().unwrap(), &mel).await;
    content.expect(200);
    assert_eq!(content.text, "model card, version 1");

    let created = app.last_event("bundle.created").await;
    assert_eq!(created.target_id, id);
    assert!(created.payload.contains(&src), "{}", created.payload);
    assert_eq!(app.last_event("evidence.carried_over").await.target_id, id);

    // Saving a carried-over answer unchanged confirms it.
    let reply = answer(app, &olga, &id, "Intake", "impact", json!("Customer-facing advice")).await;
    let outcome = reply.expect(200).clone();
    assert_eq!(outcome["confirmed"], true);
    assert_eq!(outcome["revision"], 2);
    let confirmed = app.last_event("evidence.confirmed").await;
    assert_eq!(
        (confirmed.target_id.as_str(), confirmed.actor_name.as_str()),
        (id.as_str(), "olga")
    );
    // Editing one clears it too, as an ordinary answer.
    let reply = answer(app, &olga, &id, "Intake", "pii", json!("Yes")).await;
    assert_eq!(reply.expect(200)["confirmed"], false);
    assert_eq!(app.last_event("evidence.answered").await.target_id, id);

    let nb = notebook(app, &mel, &id).await;
    assert_eq!(nb["carried_over"], 1);
    for (question, carried) in [("impact", false), ("pii", false), ("model-card", true)] {
        assert_eq!(input(&nb, question)["carried_over"], carried, "{question}");
    }
    assert_eq!(input(&nb, "impact")["carried_from"], Value::Null);
    // The history shows where it came from.
    let reply = app
        .get(&format!("/bundles/{id}/answers/Intake/impact/history"), &mel)
        .await;
    let revisions = reply.expect(200)["revisions"].clone();
    assert_eq!(revisions[0]["carried_over"], true);
    assert!(
        revisions[0]["carried_from"]
            .as_str()
            .unwrap()
            .starts_with(&format!("bundle:{src}/"))
    );
    assert_eq!(revisions[1]["carried_over"], false);

    // The source is untouched.
    let again = notebook(app, &olga, &src).await;
    assert_eq!(again["carried_over"], 0);
    assert_eq!(input(&again, "users")["value"], 250.0);

    // Mistakes: a taken name, an outsider.
    app.post(
        &format!("/bundles/{src}/copy"),
        &mel,
        &json!({ "name": "HelpBot Model Update" }),
    )
    .await
    .expect_error(409, "conflict");
    let otto = app.user("otto", Role::Practitioner).await;
    app.post(&format!("/bundles/{src}/copy"), &otto, &json!({ "name": "Mine" }))
        .await
        .expect_error(403, "forbidden");
    app.get(&format!("/bundles/{src}/copy-preview"), &otto)
        .await
        .expect_error(403, "forbidden");
    app.verify_audit().await;
}
