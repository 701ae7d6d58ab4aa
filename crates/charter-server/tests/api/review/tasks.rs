//! `GET /tasks`: stored tasks and carried-over answers to confirm.

use charter_server::governance;
use serde_json::{Value, json};

use super::{POLICY, ctx, decide, request_review, setup, signoff, store_user, tasks};
use crate::harness::TestApp;

on_every_backend!(the_task_list_gathers_what_is_waiting_for_you);

async fn the_task_list_gathers_what_is_waiting_for_you(app: &TestApp) {
    let review = setup(app, true).await;
    assert!(tasks(app, &review.author).await.is_empty());

    // An approval to give.
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let ann = tasks(app, &review.ann).await;
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0]["kind"], "approval");
    assert_eq!(ann[0]["target_type"], "approval");
    assert_eq!(ann[0]["computed"], false);
    assert!(ann[0]["id"].as_str().unwrap().starts_with("tsk_"));

    // Carried-over answers in a copy, for everyone who writes in the project.
    decide(
        app,
        &review,
        &review.ann,
        "Intake review",
        json!({ "outcome": "approve", "signoff": signoff() }),
    )
    .await
    .expect(200);
    let olga = store_user(app, &review.owner).await;
    let source = governance::bundle::find(&app.state, &review.bundle_id).await.unwrap();
    let (copy, _) = governance::bundle::copy(&app.state, &ctx(), &olga, &source, "Model A v2", "")
        .await
        .unwrap();
    let confirm =
        |list: &[Value]| -> Vec<Value> { list.iter().filter(|t| t["kind"] == "confirm_answer").cloned().collect() };
    for who in [&review.owner, &review.author] {
        let mine = confirm(&tasks(app, who).await);
        assert_eq!(mine.len(), 2, "{}: {mine:?}", who.username);
        for t in &mine {
            assert_eq!(t["computed"], true);
            assert_eq!(t["id"], Value::Null);
            assert_eq!(t["bundle_id"], copy.id.to_string().as_str());
            assert_eq!(t["target_type"], "answer");
            assert!(t["target_id"].as_str().unwrap().starts_with("ans_"));
        }
        assert!(
            mine.iter()
                .any(|t| t["title"].as_str().unwrap().contains("`Purpose` (purpose)"))
        );
    }
    // Reviewers do not write in the project: nothing to confirm.
    assert!(confirm(&tasks(app, &review.ann).await).is_empty());

    // Confirming (saving the same value) or editing takes the task away.
    let pete = store_user(app, &review.author).await;
    governance::bundle::answer(
        &app.state,
        &ctx(),
        &pete,
        &copy,
        POLICY,
        "purpose",
        &json!("Route support tickets"),
    )
    .await
    .unwrap();
    let left = confirm(&tasks(app, &review.author).await);
    assert_eq!(left.len(), 1);
    assert!(left[0]["title"].as_str().unwrap().contains("`Risk`"));

    // Done tasks show with all=true.
    assert!(tasks(app, &review.ann).await.iter().all(|t| t["kind"] != "approval"));
    let all = app.get("/tasks?all=true", &review.ann).await;
    let all = all.expect(200).as_array().unwrap().clone();
    assert!(all.iter().any(|t| t["kind"] == "approval" && t["status"] == "done"));
    app.get("/tasks?everything=1", &review.ann)
        .await
        .expect_error(400, "invalid_request");
}
