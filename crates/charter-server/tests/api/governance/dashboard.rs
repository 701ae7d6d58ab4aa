//! `/api/v1/dashboard`: counts across the bundles the caller may read.

use charter_domain::Role;
use charter_domain::time::now_ms;
use charter_store::AuditContext;
use charter_store::approval::ApprovalStatus;
use charter_store::finding::{NewFinding, Severity};
use serde_json::{Value, json};

use super::{INTAKE, answer, approver_group, bundle, decide, grant, project, published_policy, roomy};
use crate::harness::TestApp;

on_every_backend!(the_dashboard_counts_what_the_caller_may_see(roomy));

const DAY: i64 = 86_400_000;

async fn finding(app: &TestApp, bundle: &str, severity: Severity, due_at: Option<i64>) {
    let b: charter_domain::BundleId = bundle.parse().unwrap();
    let policy = app.state.store.bundle_policies(b).await.unwrap()[0].policy_id;
    let by = app.state.store.user_by_username("admin").await.unwrap();
    let mut tx = app.state.store.begin().await.unwrap();
    charter_store::finding::create(
        &mut tx,
        &AuditContext::system("test-setup"),
        NewFinding {
            bundle_id: b,
            policy_id: policy,
            stage: "Intake".into(),
            approval_id: None,
            name: format!("{} finding", severity.as_str()),
            description: String::new(),
            severity,
            assignee_id: None,
            approver_id: None,
            due_at,
        },
        &by,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Ask for review of an approval, `days_ago`.
async fn pending_since(app: &TestApp, bundle: &str, approval: &str, days_ago: i64) {
    decide(
        app,
        bundle,
        approval,
        ApprovalStatus::Pending,
        "approval.requested",
        None,
    )
    .await;
    let id = app
        .state
        .store
        .approvals(bundle.parse().unwrap())
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.name == approval)
        .unwrap()
        .id;
    app.exec(&format!(
        "UPDATE approvals SET requested_at = {} WHERE id = '{id}'",
        now_ms() - days_ago * DAY
    ))
    .await;
}

fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{}/{}", i["bundle"].as_str().unwrap(), i["name"].as_str().unwrap()))
        .collect()
}

async fn the_dashboard_counts_what_the_caller_may_see(app: &TestApp) {
    approver_group(app).await;
    published_policy(app, "Intake", INTAKE).await;
    let olga = app.user("olga", Role::Practitioner).await;
    let mel = app.user("mel", Role::Practitioner).await;
    project(app, &olga, "helpbot").await;
    project(app, &mel, "forecasting").await;
    let id = |nb: Value| nb["id"].as_str().unwrap().to_owned();
    let a = id(bundle(app, &olga, "helpbot", "A", &["Intake"]).await);
    let b = id(bundle(app, &olga, "helpbot", "B", &["Intake"]).await);
    let c = id(bundle(app, &olga, "helpbot", "C", &["Intake"]).await);
    let d = id(bundle(app, &olga, "helpbot", "D", &["Intake"]).await);
    let e = id(bundle(app, &mel, "forecasting", "E", &["Intake"]).await);

    answer(app, &olga, &a, "Intake", "impact", json!("Customer-facing advice"))
        .await
        .expect(200);
    pending_since(app, &a, "Intake sign off", 10).await;
    pending_since(app, &b, "Intake sign off", 1).await;
    pending_since(app, &e, "Intake sign off", 20).await;
    pending_since(app, &d, "Intake sign off", 30).await;
    grant(app, &c, "Intake sign off").await;
    decide(
        app,
        &c,
        "Validation sign off",
        ApprovalStatus::Approved,
        "approval.granted",
        Some(now_ms() + 10 * DAY),
    )
    .await;
    app.post(&format!("/bundles/{c}/complete"), &olga, &Value::Null)
        .await
        .expect(200);
    app.post(&format!("/bundles/{d}/archive"), &olga, &Value::Null)
        .await
        .expect(200);
    finding(app, &a, Severity::High, Some(now_ms() - DAY)).await;
    finding(app, &b, Severity::Low, None).await;
    finding(app, &e, Severity::Medium, None).await;
    finding(app, &d, Severity::Critical, None).await;

    // A governance admin sees everything.
    let reply = app.get("/dashboard", &app.admin).await;
    let all = reply.expect(200).clone();
    assert_eq!(all["scope"]["all_projects"], true);
    assert_eq!(all["scope"]["projects"], 2);
    assert_eq!(all["bundles"]["total"], 5);
    assert_eq!(
        all["bundles"]["by_state"],
        json!({ "active": 3, "complete": 1, "archived": 1 })
    );
    let stages = all["bundles"]["by_policy_stage"].as_array().unwrap();
    assert_eq!(stages.len(), 1, "{stages:?}");
    assert_eq!(
        (
            stages[0]["policy"].as_str(),
            stages[0]["stage"].as_str(),
            stages[0]["count"].as_u64()
        ),
        (Some("Intake"), Some("Intake"), Some(3))
    );
    let classes: Vec<(Option<&str>, u64)> = all["bundles"]["by_classification"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["classification"].as_str(), c["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        classes,
        [(Some("High"), 1), (Some("Low"), 3)],
        "active and complete bundles"
    );
    assert_eq!(
        all["approvals"]["pending"], 3,
        "the archived bundle's approval is left out"
    );
    assert_eq!(
        names(&all["approvals"]["overdue"]),
        ["E/Intake sign off", "A/Intake sign off"],
        "oldest first"
    );
    assert!(all["approvals"]["overdue"][0]["days_pending"].as_i64().unwrap() >= 19);
    assert_eq!(names(&all["approvals"]["expiring_soon"]), ["C/Validation sign off"]);
    assert_eq!(all["approvals"]["expiring_soon"][0]["bundle_id"], c.as_str());
    assert!(
        all["approvals"]["expiring_soon"][0]["approval_id"]
            .as_str()
            .unwrap()
            .starts_with("apr_")
    );
    assert_eq!(all["findings"]["open"], 3);
    assert_eq!(all["findings"]["overdue"], 1);
    assert_eq!(
        all["findings"]["open_by_severity"],
        json!({ "low": 1, "medium": 1, "high": 1, "critical": 0 })
    );
    let activity = all["recent_activity"].as_array().unwrap();
    assert_eq!(activity.len(), 20);
    let seqs: Vec<i64> = activity.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "newest first: {seqs:?}");
    assert_eq!(activity[0]["action"], "finding.created");
    assert_eq!(activity[0]["bundle"], "D");

    // The trend: twelve weeks, this one last, with its five bundles and four findings.
    let trend = all["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 12);
    let this_week = &trend[11];
    assert_eq!(this_week["bundles_created"], 5);
    assert_eq!(this_week["findings_opened"], 4);
    assert!(this_week["approvals_decided"].as_u64().unwrap() >= 2, "{this_week}");
    assert!(trend[..11].iter().all(|w| w["bundles_created"] == 0));

    // Others see their own projects.
    let reply = app.get("/dashboard", &olga).await;
    let mine = reply.expect(200).clone();
    assert_eq!(
        (
            mine["scope"]["all_projects"].as_bool(),
            mine["scope"]["projects"].as_u64()
        ),
        (Some(false), Some(1))
    );
    assert_eq!(mine["bundles"]["total"], 4);
    assert_eq!(mine["approvals"]["pending"], 2);
    assert_eq!(names(&mine["approvals"]["overdue"]), ["A/Intake sign off"]);
    assert_eq!(
        mine["findings"]["open_by_severity"],
        json!({ "low": 1, "medium": 0, "high": 1, "critical": 0 })
    );
    assert!(
        !mine["recent_activity"]
            .as_array()
            .unwrap()
            .iter()
            .any(|ev| ev["bundle"] == "E"),
        "nothing of another project"
    );
    let reply = app.get("/dashboard", &mel).await;
    let theirs = reply.expect(200);
    assert_eq!(theirs["bundles"]["total"], 1);
    assert_eq!(theirs["findings"]["open"], 1);

    // Filters.
    let reply = app.get("/dashboard?project=forecasting", &app.admin).await;
    let one = reply.expect(200);
    assert_eq!(
        (one["scope"]["project"].as_str(), one["bundles"]["total"].as_u64()),
        (Some("forecasting"), Some(1))
    );
    let reply = app.get("/dashboard?policy=Intake", &olga).await;
    assert_eq!(reply.expect(200)["bundles"]["total"], 4);
    app.get("/dashboard?project=forecasting", &olga)
        .await
        .expect_error(403, "forbidden");
    app.get("/dashboard?policy=Nope", &olga)
        .await
        .expect_error(404, "not_found");
    app.get("/dashboard?colour=red", &olga)
        .await
        .expect_error(400, "invalid_request");
}
