//! `/tasks`: what waits for the signed-in person, grouped, each linking to where
//! the work is done.

use charter_server::governance;
use serde_json::json;

use super::{page, text_of};
use crate::harness::TestApp;
use crate::review::{ctx, decide, request_review, setup, signoff, store_user};

on_every_backend!(the_tasks_page_lists_approvals_findings_and_answers_to_confirm);

async fn the_tasks_page_lists_approvals_findings_and_answers_to_confirm(app: &TestApp) {
    let review = setup(app, true).await;
    let empty = page(app, "/tasks", &review.ann).await;
    empty.expect(200);
    assert!(text_of(&empty.text, r#"data-testid="tasks-summary""#).starts_with("Nothing waits for you."));

    // A pending approval: Ann sees it under "Approvals to give", linking to the bundle.
    request_review(app, &review, &review.owner, "Intake").await.expect(200);
    let ann = page(app, "/tasks", &review.ann).await;
    let approvals = text_of(&ann.text, r#"data-testid="tasks-approvals""#);
    assert!(approvals.contains("Approvals to give 1"), "{approvals}");
    assert!(approvals.contains("Bundle Model A"), "{approvals}");
    let approval = app
        .state
        .store
        .approvals(review.bundle_id.parse().unwrap())
        .await
        .unwrap();
    let intake = approval.iter().find(|a| a.name == "Intake review").unwrap();
    assert!(
        ann.text.contains(&format!(
            r#"href="/bundles/{}#{}">Review</a>"#,
            review.bundle_id, intake.id
        )),
        "{}",
        ann.text
    );
    assert!(text_of(&ann.text, r#"data-testid="tasks-summary""#).starts_with("1 open task."));

    // A finding assigned to Pete links to the finding.
    let finding = app
        .post(
            &format!("/bundles/{}/findings", review.bundle_id),
            &review.ann,
            &json!({ "name": "No model card", "severity": "high", "assignee": review.author.username }),
        )
        .await;
    let finding_id = finding.expect(201)["id"].as_str().unwrap().to_owned();
    let pete = page(app, "/tasks", &review.author).await;
    let findings = text_of(&pete.text, r#"data-testid="tasks-findings""#);
    assert!(findings.contains("Resolve finding: No model card (high)"), "{findings}");
    assert!(
        pete.text
            .contains(&format!(r#"href="/findings/{finding_id}">Open the finding</a>"#))
    );
    assert!(
        pete.text.contains("<code>No model card</code>"),
        "quoted names read as code"
    );

    // Carried-over answers in a copy wait for confirmation.
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
    let owner = page(app, "/tasks", &review.owner).await;
    let answers = text_of(&owner.text, r#"data-testid="tasks-answers""#);
    assert!(answers.contains("Carried-over answers to confirm 2"), "{answers}");
    assert!(answers.contains("Bundle Model A v2"), "{answers}");
    assert!(owner.text.contains(&format!(r#"href="/bundles/{}#ans_"#, copy.id)));

    // Done tasks appear with ?all=true, struck through.
    let ann_all = page(app, "/tasks?all=true", &review.ann).await;
    assert!(ann_all.text.contains(r#"<li class="task task-done">"#));
    let ann_open = page(app, "/tasks", &review.ann).await;
    assert!(!ann_open.text.contains("task-done"));
}
