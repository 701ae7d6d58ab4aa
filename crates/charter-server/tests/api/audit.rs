//! `/api/v1/audit/…`: verifying the chain and its signed checkpoints.

use serde_json::Value;

use crate::harness::TestApp;

on_every_backend!(
    verify_reports_the_whole_chain,
    checkpoints_are_listed_once_signed,
    an_edited_event_is_reported_with_its_position,
);

async fn verify_reports_the_whole_chain(app: &TestApp) {
    for name in ["one", "two", "three"] {
        app.post("/groups", &app.admin, &serde_json::json!({ "name": name }))
            .await
            .expect(201);
    }
    let count = app.audit_count().await;
    let head = app.events().await.pop().unwrap();
    let report = app.verify_audit().await;
    assert_eq!(report["events"], count);
    assert_eq!(report["head_seq"], count);
    assert_eq!(report["head_hash"], head.hash.as_str());
    let last_checkpoint = report["last_checkpoint_seq"].as_i64().unwrap();
    assert_eq!(report["unsigned_tail"], count - last_checkpoint);
    assert!(
        report.get("error").is_none() && report.get("broken_seq").is_none(),
        "{report}"
    );
    // Verifying changes nothing, so it records nothing.
    assert_eq!(app.audit_count().await, count);
}

async fn checkpoints_are_listed_once_signed(app: &TestApp) {
    app.post("/groups", &app.admin, &serde_json::json!({ "name": "signed" }))
        .await
        .expect(201);
    let head = app.events().await.pop().unwrap();
    // The background job may have signed an earlier head already; sign this one.
    app.state.store.checkpoint(&app.state.audit_key).await.unwrap();

    let reply = app.get("/audit/checkpoints", &app.admin).await;
    let checkpoints = reply.expect(200).as_array().unwrap().clone();
    let newest = checkpoints.last().expect("a checkpoint");
    assert_eq!(newest["seq"], head.seq);
    assert_eq!(newest["head_hash"], head.hash.as_str());
    assert_eq!(newest["public_key"], app.state.audit_key.public_hex());
    assert_eq!(
        newest["signature"].as_str().unwrap().len(),
        128,
        "an Ed25519 signature in hex"
    );
    let seqs: Vec<i64> = checkpoints.iter().map(|c| c["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first, one per head: {seqs:?}"
    );

    let report = app.verify_audit().await;
    assert_eq!(report["checkpoints"], checkpoints.len());
    assert_eq!(report["last_checkpoint_seq"], head.seq);
    assert_eq!(report["unsigned_tail"], 0);
}

/// Someone with database access edits an event: verifying names where the chain
/// breaks.
async fn an_edited_event_is_reported_with_its_position(app: &TestApp) {
    for name in ["one", "two"] {
        app.post("/groups", &app.admin, &serde_json::json!({ "name": name }))
            .await
            .expect(201);
    }
    let victim = app
        .events()
        .await
        .into_iter()
        .find(|e| e.action == "group.created")
        .unwrap();
    match app.backend() {
        charter_store::Backend::Sqlite => {
            app.exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete")
                .await;
        }
        charter_store::Backend::Postgres => {
            app.exec("DROP TRIGGER audit_events_no_update ON audit_events").await;
        }
    }
    app.exec(&format!(
        "UPDATE audit_events SET payload = '{{\"after\":{{\"name\":\"innocent\"}}}}' WHERE seq = {}",
        victim.seq
    ))
    .await;

    let reply = app.post("/audit/verify", &app.admin, &Value::Null).await;
    let report = reply.expect(200);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["broken_seq"], victim.seq);
    assert_eq!(report["broken_event_id"], victim.id.as_str());
    assert!(report["error"].as_str().is_some_and(|e| !e.is_empty()), "{report}");
}
