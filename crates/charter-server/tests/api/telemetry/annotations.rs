//! Feedback: Phoenix's `POST /v1/span_annotations` and `/v1/trace_annotations`
//! (and the same under `/api/v1`), upserts, who may annotate, all-or-nothing
//! batches, the trace view, statistics, listing and deleting.

use serde_json::{Value, json};

use super::*;
use crate::harness::{Auth, TestApp};

on_every_backend!(
    phoenix_clients_record_feedback_with_an_ingest_token,
    people_annotate_what_they_may_write,
    a_bad_item_fails_the_whole_batch_and_names_itself,
    trace_annotations_list_and_delete,
);

async fn post_v1(app: &TestApp, path: &str, auth: Auth<'_>, body: &Value) -> crate::harness::Reply {
    let req = auth.apply(app.client.post(app.url(path))).json(body);
    app.send(req).await
}

async fn setup(app: &TestApp) -> String {
    let (_, token) = project_with_token(app, "helpbot").await;
    let mut spans = chatbot_turn(1, now_ns() - 60_000 * MS, 400, "sess-a");
    spans.extend(chatbot_turn(2, now_ns() - 50_000 * MS, 400, "sess-a"));
    post_traces(
        app,
        Auth::Bearer(&token),
        "application/x-protobuf",
        &[],
        protobuf(&request(None, spans)),
    )
    .await
    .expect(200);
    token
}

fn thumbs(span: u64, label: &str, score: f64, identifier: &str) -> Value {
    json!({
        "span_id": hex(&span_id(span)),
        "name": "user_feedback",
        "annotator_kind": "HUMAN",
        "result": { "label": label, "score": score, "explanation": "from the chat page" },
        "metadata": { "comment": "cited the wrong article" },
        "identifier": identifier,
    })
}

async fn phoenix_clients_record_feedback_with_an_ingest_token(app: &TestApp) {
    let token = setup(app).await;
    let reply = post_v1(
        app,
        "/v1/span_annotations?sync=true",
        Auth::Bearer(&token),
        &json!({ "data": [thumbs(10, "thumbs_down", 0.0, "user-7")] }),
    )
    .await;
    let body = reply.expect(200).clone();
    let id = body["data"][0]["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("ann_"), "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 1);

    // Same span, name and identifier: the same annotation, changed.
    let again = post_v1(
        app,
        "/v1/span_annotations",
        Auth::Bearer(&token),
        &json!({ "data": [thumbs(10, "thumbs_up", 1.0, "user-7"), thumbs(20, "thumbs_down", 0.0, "user-7")] }),
    )
    .await;
    let again = again.expect(200).clone();
    assert_eq!(again["data"][0]["id"], id.as_str());
    assert_ne!(again["data"][1]["id"], id.as_str());

    // Shown on its span in the trace view.
    let t = app
        .get(&format!("/projects/helpbot/traces/{}", hex(&trace_id(1))), &app.admin)
        .await
        .expect(200)
        .clone();
    let a = &t["roots"][0]["annotations"][0];
    assert_eq!(a["name"], "user_feedback");
    assert_eq!(a["result"]["label"], "thumbs_up");
    assert_eq!(a["negative"], false);
    assert_eq!(a["metadata"]["comment"], "cited the wrong article");
    assert_eq!(a["annotator_kind"], "HUMAN");

    // Counted in statistics: one of the two is negative.
    let stats = app
        .get("/projects/helpbot/telemetry/stats", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(stats["total"]["feedback_count"], 2);
    assert_eq!(stats["total"]["negative_feedback_rate"], 0.5);

    // Audited, with the token as the actor.
    let event = app.last_event("annotation.recorded").await;
    assert_eq!(event.actor_kind, "system");
    assert!(event.actor_name.contains("ingest token"), "{}", event.actor_name);
    assert!(event.payload.contains("thumbs_down"), "{}", event.payload);
}

async fn people_annotate_what_they_may_write(app: &TestApp) {
    setup(app).await;
    let body = json!({ "data": [thumbs(10, "correct", 0.9, "")] });
    app.post("/span_annotations", &app.admin, &body).await.expect(200);
    // A person outside the project is told the span is not there.
    let stranger = app.user("stranger", charter_domain::Role::Practitioner).await;
    let msg = app
        .post("/span_annotations", &stranger, &body)
        .await
        .expect_error(404, "not_found")
        .to_owned();
    assert!(msg.contains("data[0].span_id"), "{msg}");
    app.post("/span_annotations", Auth::Anonymous, &body)
        .await
        .expect_error(401, "unauthenticated");
    // Another project's ingest token cannot reach these spans either.
    let (_, other) = project_with_token(app, "elsewhere").await;
    post_v1(app, "/v1/span_annotations", Auth::Bearer(&other), &body)
        .await
        .expect_error(404, "not_found");
}

async fn a_bad_item_fails_the_whole_batch_and_names_itself(app: &TestApp) {
    let token = setup(app).await;
    let mut bad_kind = thumbs(20, "x", 1.0, "");
    bad_kind["annotator_kind"] = json!("ROBOT");
    for (item, field) in [
        (bad_kind, "data[1].annotator_kind"),
        (
            json!({ "span_id": "nothex", "name": "n", "annotator_kind": "HUMAN" }),
            "data[1].span_id",
        ),
        (
            json!({ "span_id": hex(&span_id(77)), "name": "n", "annotator_kind": "HUMAN" }),
            "data[1].span_id",
        ),
        (
            json!({ "span_id": hex(&span_id(20)), "name": "", "annotator_kind": "HUMAN" }),
            "data[1].name",
        ),
        (
            json!({ "span_id": hex(&span_id(20)), "name": "n", "annotator_kind": "HUMAN", "metadata": [1] }),
            "data[1].metadata",
        ),
    ] {
        let reply = post_v1(
            app,
            "/v1/span_annotations",
            Auth::Bearer(&token),
            &json!({ "data": [thumbs(10, "thumbs_up", 1.0, ""), item] }),
        )
        .await;
        assert!(matches!(reply.status.as_u16(), 400 | 404), "{}", reply.text);
        assert!(reply.text.contains(field), "{field}: {}", reply.text);
    }
    let reply = post_v1(
        app,
        "/v1/span_annotations",
        Auth::Bearer(&token),
        &json!({ "data": [] }),
    )
    .await;
    reply.expect(400);
    let list = app
        .get("/projects/helpbot/annotations", &app.admin)
        .await
        .expect(200)
        .clone();
    assert!(
        list["data"].as_array().unwrap().is_empty(),
        "nothing was stored: {list}"
    );
}

async fn trace_annotations_list_and_delete(app: &TestApp) {
    let token = setup(app).await;
    let body = json!({ "data": [{
        "trace_id": hex(&trace_id(2)), "name": "resolution", "annotator_kind": "LLM",
        "result": { "label": "resolved", "score": 0.8 },
    }] });
    let id = post_v1(app, "/v1/trace_annotations", Auth::Bearer(&token), &body)
        .await
        .expect(200)["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = app
        .get(&format!("/projects/helpbot/traces/{}", hex(&trace_id(2))), &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(t["annotations"][0]["target"], "trace");
    assert_eq!(t["annotations"][0]["result"]["label"], "resolved");
    let unknown = json!({ "data": [{ "trace_id": hex(&trace_id(9)), "name": "n", "annotator_kind": "CODE" }] });
    post_v1(app, "/v1/trace_annotations", Auth::Bearer(&token), &unknown)
        .await
        .expect(404);

    post_v1(
        app,
        "/v1/span_annotations",
        Auth::Bearer(&token),
        &json!({ "data": [thumbs(10, "thumbs_up", 1.0, "u1"), thumbs(20, "thumbs_up", 1.0, "u1")] }),
    )
    .await
    .expect(200);
    let list = app
        .get(
            &format!("/projects/helpbot/annotations?span_ids={}", hex(&span_id(20))),
            &app.admin,
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    let all = app
        .get("/projects/helpbot/annotations", &app.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(all["data"].as_array().unwrap().len(), 3);

    let deleted = app.delete(&format!("/annotations/{id}"), &app.admin).await;
    assert_eq!(deleted.expect(200)["name"], "resolution");
    app.last_event("annotation.deleted").await;
    app.delete(&format!("/annotations/{id}"), &app.admin)
        .await
        .expect_error(404, "not_found");
}
