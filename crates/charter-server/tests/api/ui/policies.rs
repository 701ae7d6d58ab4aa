//! `/policies`: the list, a policy's versions, the editor (create, save, check,
//! publish, retire) and the diff, as governance admins and as readers see them.

use charter_domain::Role;
use serde_json::Value;

use super::{form, page, text_of};
use crate::governance::{INTAKE, approver_group, published_policy, roomy};
use crate::harness::TestApp;

on_every_backend!(
    an_admin_writes_a_policy_in_the_editor_and_publishes_it(roomy),
    the_live_check_returns_problems_preview_and_graph(roomy),
    readers_see_policies_but_not_the_editor(roomy),
    a_stale_editor_is_told_the_version_was_published(roomy),
);

async fn an_admin_writes_a_policy_in_the_editor_and_publishes_it(app: &TestApp) {
    approver_group(app).await;
    let gov = app.user("gina", Role::GovernanceAdmin).await;
    let editor = page(app, "/policies/new", &gov).await;
    editor.expect(200);
    assert!(editor.text.contains(r#"<textarea id="policy-yaml" name="yaml""#));
    assert!(
        editor.text.contains("/static/codemirror.js"),
        "the editor script is loaded"
    );

    // A typo: the page comes back with the API's refusal next to the YAML and every
    // finding with its line and column; nothing is saved.
    let broken = INTAKE.replace("type: numeric, label: Accuracy", "type: numerc, label: Accuracy");
    let (line, column) = broken
        .lines()
        .enumerate()
        .find_map(|(i, l)| l.find("numerc").map(|c| (i + 1, c + 1)))
        .unwrap();
    let reply = form(
        app,
        "/policies",
        &gov,
        &[("name", "intake"), ("description", "Use cases"), ("yaml", &broken)],
    )
    .await;
    reply.expect(422);
    let problem = text_of(&reply.text, r#"id="policy-yaml-error""#);
    assert!(problem.starts_with("the policy has 1 error(s)"), "{problem}");
    assert!(problem.contains(&format!("line {line}")), "{problem}");
    assert!(
        reply.text.contains(&format!(
            r#"data-line="{line}" data-col="{column}" data-severity="error""#
        )),
        "the finding carries its position: {}",
        text_of(&reply.text, "data-testid=\"diagnostics\"")
    );
    assert!(text_of(&reply.text, "data-testid=\"diagnostics\"").contains("unknown_input_type"));
    assert!(reply.text.contains(r#"value="intake""#), "the name typed is kept");
    assert!(reply.text.contains("type: numerc"), "the YAML typed is kept");
    assert_eq!(
        app.get("/policies", &app.admin)
            .await
            .expect(200)
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Fixed: version 1 is saved as a draft and the editor offers to publish it.
    let saved = form(
        app,
        "/policies",
        &gov,
        &[("name", "intake"), ("description", "Use cases"), ("yaml", INTAKE)],
    )
    .await;
    saved.expect(200);
    assert!(saved.text.contains("Saved draft version 1."), "{}", saved.text);
    let policy = app.get("/policies/intake", &app.admin).await.expect(200).clone();
    let id = policy["id"].as_str().unwrap().to_owned();
    assert_eq!(policy["draft_version"], 1);
    assert!(
        saved
            .text
            .contains(&format!(r#"action="/policies/{id}/versions/1/publish""#))
    );
    assert!(saved.text.contains(r#"<input type="hidden" name="version" value="1">"#));

    // Saving again writes into the same draft.
    let edited = INTAKE.replace("name: Use case", "name: The use case");
    form(
        app,
        &format!("/policies/{id}/edit"),
        &gov,
        &[("yaml", &edited), ("version", "1")],
    )
    .await
    .expect(200);
    let v1 = app
        .get(&format!("/policies/{id}/versions/1"), &app.admin)
        .await
        .expect(200)
        .clone();
    assert!(v1["yaml"].as_str().unwrap().contains("name: The use case"));

    let published = form(app, &format!("/policies/{id}/versions/1/publish"), &gov, &[]).await;
    published.expect(200);
    assert!(published.text.contains("Published version 1"), "{}", published.text);
    assert!(text_of(&published.text, r#"id="version-1""#).contains("published"));
    assert_eq!(app.last_event("policy_version.published").await.actor_name, "gina");

    // The editor now starts a new draft from version 1; saving makes version 2.
    let next = page(app, &format!("/policies/{id}/edit"), &gov).await;
    assert!(text_of(&next.text, "data-testid=\"editing\"").contains("A new draft, starting from version 1"));
    let v2 = edited.replace("label: Accuracy", "label: Accuracy on the hold-out set");
    form(app, &format!("/policies/{id}/edit"), &gov, &[("yaml", &v2)])
        .await
        .expect(200);
    let diff = page(app, &format!("/policies/{id}/diff?from=1&to=2"), &gov).await;
    diff.expect(200);
    let changes = text_of(&diff.text, "data-testid=\"changes\"");
    assert!(
        changes.contains("changed Question Accuracy on the hold-out set"),
        "{changes}"
    );
    assert!(changes.contains("Accuracy"), "{changes}");

    // Retire version 1 after publishing 2.
    form(app, &format!("/policies/{id}/versions/2/publish"), &gov, &[])
        .await
        .expect(200);
    let retired = form(app, &format!("/policies/{id}/versions/1/retire"), &gov, &[]).await;
    assert!(retired.text.contains("Retired version 1"));
    let list = page(app, "/policies", &gov).await;
    let row = text_of(&list.text, r#"data-policy="intake""#);
    assert!(row.contains("v1 retired") && row.contains("v2 published"), "{row}");
}

async fn the_live_check_returns_problems_preview_and_graph(app: &TestApp) {
    approver_group(app).await;
    let reader = app.user("rita", Role::Viewer).await;
    let ok = form(
        app,
        "/policies/check",
        &reader,
        &[("yaml", INTAKE), ("title", "Intake")],
    )
    .await;
    ok.expect(200);
    assert!(text_of(&ok.text, "data-testid=\"lint-summary\"").contains("No problems"));
    // The preview: each question as its widget, disabled.
    assert!(
        ok.text
            .contains(r#"<fieldset class="preview-set" disabled data-set="Local.intake">"#)
    );
    assert_eq!(
        ok.text.matches(r#"<input type="radio""#).count(),
        2 + 2 + 2,
        "three radio questions"
    );
    assert!(ok.text.contains(r#"type="number" min="0" max="100000""#));
    assert!(ok.text.contains(r#"data-type="file""#));
    assert!(ok.text.contains("Shown when pii is “Yes”"));
    assert!(
        ok.text.contains(r#"preview-set preview-conditional"#),
        "the High-only set"
    );
    // The graph: stages → sets → approvals → gates.
    assert!(ok.text.contains(r#"data-testid="policy-graph""#));
    assert!(ok.text.contains("2 stages, 3 evidence sets, 2 approvals and 1 gate."));

    let bad = form(app, "/policies/check", &reader, &[("yaml", "stages:\n  - name: [\n")]).await;
    bad.expect(200);
    assert!(bad.text.contains(r#"data-severity="error""#));
    assert!(bad.text.contains("data-preview-missing") && bad.text.contains("data-graph-missing"));
}

async fn readers_see_policies_but_not_the_editor(app: &TestApp) {
    approver_group(app).await;
    let policy = published_policy(app, "Intake", INTAKE).await;
    let id = policy["id"].as_str().unwrap();
    let reader = app.user("pat", Role::Practitioner).await;
    let list = page(app, "/policies", &reader).await;
    list.expect(200);
    assert!(list.text.contains(&format!(r#"href="/policies/{id}""#)));
    assert!(!list.text.contains("/policies/new"), "no New policy button");
    assert!(!list.text.contains("/edit\""), "no edit links");
    let show = page(app, &format!("/policies/{id}"), &reader).await;
    show.expect(200);
    assert!(!show.text.contains("/publish\""), "no publish buttons");
    let version = page(app, &format!("/policies/{id}/versions/1"), &reader).await;
    version.expect(200);
    assert!(version.text.contains(r#"id="L1""#), "the YAML with line anchors");
    assert!(version.text.contains(r#"data-testid="form-preview""#));
    for path in ["/policies/new".to_owned(), format!("/policies/{id}/edit")] {
        let refused = page(app, &path, &reader).await;
        refused.expect(403);
        assert!(refused.text.contains("You do not have access to this page"), "{path}");
    }
    let refused = form(app, &format!("/policies/{id}/edit"), &reader, &[("yaml", INTAKE)]).await;
    refused.expect(403);
    assert_eq!(
        app.get(&format!("/policies/{id}"), &app.admin).await.expect(200)["versions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn a_stale_editor_is_told_the_version_was_published(app: &TestApp) {
    approver_group(app).await;
    let gov = app.user("gina", Role::GovernanceAdmin).await;
    let policy = published_policy(app, "Intake", INTAKE).await;
    let id = policy["id"].as_str().unwrap();
    // An editor opened on draft 1 before someone else published it saves: refused
    // in the API's words, next to the YAML, and the text is kept.
    let reply = form(
        app,
        &format!("/policies/{id}/edit"),
        &gov,
        &[("yaml", INTAKE), ("version", "1")],
    )
    .await;
    reply.expect(422);
    let message = text_of(&reply.text, r#"data-testid="save-error""#);
    assert!(
        message.contains("version 1 of policy `Intake` is published, and published versions are immutable; save without `version` to start version 2 as a new draft"),
        "{message}"
    );
    // Publishing twice: refused next to the version.
    let again = form(app, &format!("/policies/{id}/versions/1/publish"), &gov, &[]).await;
    again.expect(422);
    assert!(text_of(&again.text, r#"data-testid="version-error""#).contains("version 1 is published"));
    let versions: Vec<Value> = app.get(&format!("/policies/{id}"), &app.admin).await.expect(200)["versions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(versions.len(), 1);
}
