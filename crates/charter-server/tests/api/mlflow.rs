//! The MLflow REST API (`/api/2.0/mlflow/…`) at the wire level: MLflow's error shape
//! and statuses, GET parameters, DELETE with a body, NaN as strings, projects, and
//! the audit events of governed changes (and none for metric points).

use charter_domain::Role;
use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Auth, Reply, TestApp};

on_every_backend!(
    tracking_round_trip_speaks_mlflow,
    errors_have_mlflow_codes_and_statuses,
    registry_changes_are_audited_and_metric_points_are_not,
    projects_decide_who_sees_an_experiment,
    attached_versions_are_checked_and_gate_promotion(roomy)
);

async fn ml(app: &TestApp, method: Method, path: &str, auth: Auth<'_>, body: Option<&Value>) -> Reply {
    let url = app.url(&format!("/api/2.0/mlflow/{path}"));
    let mut req = auth.apply(app.client.request(method, url));
    if let Some(b) = body {
        req = req.json(b);
    }
    app.send(req).await
}

#[track_caller]
fn mlflow_error(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}: {}", reply.what, reply.text);
    assert_eq!(reply.json["error_code"], code, "{}: {}", reply.what, reply.text);
    assert!(reply.json["message"].as_str().is_some_and(|m| !m.is_empty()));
}

async fn tracking_round_trip_speaks_mlflow(app: &TestApp) {
    let admin = Auth::from(&app.admin);
    let created = ml(
        app,
        Method::POST,
        "experiments/create",
        admin,
        Some(&json!({"name": "wire"})),
    )
    .await;
    let exp = created.expect(200)["experiment_id"].as_str().unwrap().to_owned();
    // GET parameters are strings; the response carries MLflow's fields.
    let got = ml(
        app,
        Method::GET,
        &format!("experiments/get?experiment_id={exp}"),
        admin,
        None,
    )
    .await;
    assert_eq!(
        got.expect(200)["experiment"]["artifact_location"],
        format!("mlflow-artifacts:/{exp}")
    );
    let run = ml(
        app,
        Method::POST,
        "runs/create",
        admin,
        Some(&json!({"experiment_id": exp, "start_time": 5, "run_name": "r"})),
    )
    .await;
    let info = run.expect(200)["run"]["info"].clone();
    let id = info["run_id"].as_str().unwrap().to_owned();
    assert_eq!(info["run_uuid"], id);
    assert_eq!(info["status"], "RUNNING");
    // NaN and infinities arrive and leave as strings; int64 may be a string.
    for (key, value) in [("a", json!("NaN")), ("b", json!("Infinity")), ("c", json!(0.25))] {
        let r = ml(
            app,
            Method::POST,
            "runs/log-metric",
            admin,
            Some(&json!({"run_id": id, "run_uuid": id, "key": key, "value": value, "timestamp": "7", "step": 2})),
        )
        .await;
        r.expect(200);
    }
    let got = ml(
        app,
        Method::GET,
        &format!("runs/get?run_id={id}&run_uuid={id}"),
        admin,
        None,
    )
    .await;
    let metrics = got.expect(200)["run"]["data"]["metrics"].clone();
    assert_eq!(
        metrics[0],
        json!({"key": "a", "value": "NaN", "timestamp": 7, "step": 2})
    );
    assert_eq!(metrics[1]["value"], "Infinity");
    assert_eq!(metrics[2]["value"], 0.25);
    // Repeated GET keys are lists.
    let searched = ml(
        app,
        Method::GET,
        &format!("runs/search?experiment_ids={exp}&experiment_ids=0&filter=metrics.c%20%3E%200.2"),
        admin,
        None,
    )
    .await;
    assert_eq!(searched.expect(200)["runs"].as_array().unwrap().len(), 1);
    let done = ml(
        app,
        Method::POST,
        "runs/update",
        admin,
        Some(&json!({"run_id": id, "status": "FINISHED", "end_time": 9})),
    )
    .await;
    assert_eq!(done.expect(200)["run_info"]["status"], "FINISHED");
    assert_eq!(app.last_event("run.status_changed").await.target_id, id);
}

async fn errors_have_mlflow_codes_and_statuses(app: &TestApp) {
    let admin = Auth::from(&app.admin);
    let missing = ml(
        app,
        Method::GET,
        "experiments/get-by-name?experiment_name=nope",
        admin,
        None,
    )
    .await;
    mlflow_error(&missing, 404, "RESOURCE_DOES_NOT_EXIST");
    ml(
        app,
        Method::POST,
        "experiments/create",
        admin,
        Some(&json!({"name": "dup"})),
    )
    .await
    .expect(200);
    let dup = ml(
        app,
        Method::POST,
        "experiments/create",
        admin,
        Some(&json!({"name": "dup"})),
    )
    .await;
    mlflow_error(&dup, 400, "RESOURCE_ALREADY_EXISTS");
    let no_name = ml(app, Method::POST, "experiments/create", admin, Some(&json!({}))).await;
    mlflow_error(&no_name, 400, "INVALID_PARAMETER_VALUE");
    assert!(no_name.json["message"].as_str().unwrap().contains("'name'"));
    let anonymous = ml(
        app,
        Method::GET,
        "experiments/get?experiment_id=0",
        Auth::Anonymous,
        None,
    )
    .await;
    mlflow_error(&anonymous, 401, "UNAUTHENTICATED");
    assert!(anonymous.header("www-authenticate").is_some());
    let unknown = ml(app, Method::POST, "nothing/here", admin, Some(&json!({}))).await;
    mlflow_error(&unknown, 404, "ENDPOINT_NOT_FOUND");
    let bad_filter = ml(
        app,
        Method::POST,
        "runs/search",
        admin,
        Some(&json!({"experiment_ids": ["0"], "filter": "params.x > 'a'"})),
    )
    .await;
    mlflow_error(&bad_filter, 400, "INVALID_PARAMETER_VALUE");
    let alias = ml(
        app,
        Method::GET,
        "registered-models/alias?name=none&alias=x",
        admin,
        None,
    )
    .await;
    mlflow_error(&alias, 404, "RESOURCE_DOES_NOT_EXIST");
    let mpu = app
        .send(
            admin.apply(
                app.client
                    .post(app.url("/api/2.0/mlflow-artifacts/mpu/create/0/x"))
                    .json(&json!({})),
            ),
        )
        .await;
    mlflow_error(&mpu, 501, "NOT_IMPLEMENTED");
    assert!(
        mpu.json["message"]
            .as_str()
            .unwrap()
            .starts_with("Multipart upload is not supported")
    );
}

async fn registry_changes_are_audited_and_metric_points_are_not(app: &TestApp) {
    let admin = Auth::from(&app.admin);
    let run = ml(
        app,
        Method::POST,
        "runs/create",
        admin,
        Some(&json!({"experiment_id": "0"})),
    )
    .await;
    let id = run.expect(200)["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let before = app.audit_count().await;
    for step in 0..20 {
        ml(
            app,
            Method::POST,
            "runs/log-metric",
            admin,
            Some(&json!({"run_id": id, "key": "m", "value": step, "timestamp": 1, "step": step})),
        )
        .await
        .expect(200);
    }
    assert_eq!(
        app.audit_count().await,
        before,
        "metric points are not audited one by one"
    );
    ml(
        app,
        Method::POST,
        "registered-models/create",
        admin,
        Some(&json!({"name": "m1"})),
    )
    .await
    .expect(200);
    let v = ml(
        app,
        Method::POST,
        "model-versions/create",
        admin,
        Some(&json!({"name": "m1", "source": format!("runs:/{id}/model"), "run_id": id})),
    )
    .await;
    let v = v.expect(200)["model_version"].clone();
    assert_eq!(v["version"], "1");
    assert_eq!(v["status"], "READY");
    let uri = ml(
        app,
        Method::GET,
        "model-versions/get-download-uri?name=m1&version=1",
        admin,
        None,
    )
    .await;
    assert_eq!(
        uri.expect(200)["artifact_uri"],
        format!("mlflow-artifacts:/0/{id}/artifacts/model")
    );
    ml(
        app,
        Method::POST,
        "registered-models/alias",
        admin,
        Some(&json!({"name": "m1", "alias": "staging", "version": "1"})),
    )
    .await
    .expect(200);
    // DELETE carries its fields in a JSON body.
    ml(
        app,
        Method::DELETE,
        "registered-models/alias",
        admin,
        Some(&json!({"name": "m1", "alias": "staging"})),
    )
    .await
    .expect(200);
    let actions: Vec<String> = app.events_after(before).await.into_iter().map(|e| e.action).collect();
    for a in [
        "registered_model.created",
        "model_version.created",
        "model_alias.set",
        "model_alias.deleted",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
    app.verify_audit().await;
}

async fn projects_decide_who_sees_an_experiment(app: &TestApp) {
    let ann = app.user("ann", Role::Practitioner).await;
    let bob = app.user("bob", Role::Practitioner).await;
    let viewer = app.user("vic", Role::Viewer).await;
    app.post("/projects", &ann, &json!({"name": "private"}))
        .await
        .expect(201);
    let made = ml(
        app,
        Method::POST,
        "experiments/create",
        Auth::from(&ann),
        Some(&json!({"name": "p", "tags": [{"key": "charter.project", "value": "private"}]})),
    )
    .await;
    let exp = made.expect(200)["experiment_id"].as_str().unwrap().to_owned();
    let denied = ml(
        app,
        Method::GET,
        &format!("experiments/get?experiment_id={exp}"),
        Auth::from(&bob),
        None,
    )
    .await;
    mlflow_error(&denied, 403, "PERMISSION_DENIED");
    // Without a project named, things land in the default project, open to everyone.
    let default = ml(
        app,
        Method::POST,
        "experiments/create",
        Auth::from(&bob),
        Some(&json!({"name": "open"})),
    )
    .await;
    let open = default.expect(200)["experiment_id"].as_str().unwrap().to_owned();
    ml(
        app,
        Method::GET,
        &format!("experiments/get?experiment_id={open}"),
        Auth::from(&ann),
        None,
    )
    .await
    .expect(200);
    // Viewers read but do not write.
    ml(
        app,
        Method::GET,
        &format!("experiments/get?experiment_id={open}"),
        Auth::from(&viewer),
        None,
    )
    .await
    .expect(200);
    let refused = ml(
        app,
        Method::POST,
        "runs/create",
        Auth::from(&viewer),
        Some(&json!({"experiment_id": open})),
    )
    .await;
    mlflow_error(&refused, 403, "PERMISSION_DENIED");
    let joined = app.last_event("project.member_added").await;
    assert_eq!(joined.target_type, "project");
}

/// A policy whose first stage checks model metrics and whose gate guards promotion.
const MODEL_POLICY: &str = r#"stages:
  - name: Validation
    evidenceSet:
      - id: Local.validation
        name: Validation
        definition:
          - artifactType: metadata
            id: quality
            details:
              type: modelmetric
              metrics:
                - {name: auc, threshold: {operator: ">=", value: 0.8}}
                - {name: latency_ms, aliases: [p95_latency], threshold: {operator: "<=", value: 200}}
                - {name: loss}
                - {name: fairness, threshold: {operator: ">=", value: 0.9}}
    approvals:
      - name: Validation sign off
        approvers: [risk-office]
gates:
  - name: Production
    rules: [{action: CreateEndpoint}]
    approvals: [Validation sign off]
"#;

fn roomy(config: &mut charter_server::Config) {
    crate::governance::roomy(config);
}

async fn attached_versions_are_checked_and_gate_promotion(app: &TestApp) {
    use crate::governance::{approver_group, bundle, grant, project, published_policy};
    approver_group(app).await;
    let rita = app.user("rita", Role::Practitioner).await;
    app.post("/groups/risk-office/members", &app.admin, &json!({ "user": "rita" }))
        .await
        .expect(204);
    published_policy(app, "Model quality", MODEL_POLICY).await;
    let olga = app.user("olga", Role::Practitioner).await;
    project(app, &olga, "credit").await;
    let nb = bundle(app, &olga, "credit", "Credit model", &["Model quality"]).await;
    let bundle_id = nb["id"].as_str().unwrap().to_owned();

    // Olga tracks a run and registers it, in the project.
    let as_olga = Auth::from(&olga);
    let tag = json!([{ "key": "charter.project", "value": "credit" }]);
    let exp = ml(
        app,
        Method::POST,
        "experiments/create",
        as_olga,
        Some(&json!({"name": "credit", "tags": tag})),
    )
    .await;
    let exp = exp.expect(200)["experiment_id"].as_str().unwrap().to_owned();
    let run = ml(
        app,
        Method::POST,
        "runs/create",
        as_olga,
        Some(&json!({"experiment_id": exp})),
    )
    .await;
    let run_id = run.expect(200)["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    let metrics = json!([
        {"key": "auc", "value": 0.75, "timestamp": 1, "step": 0},
        {"key": "p95_latency", "value": 150, "timestamp": 1, "step": 0},
        {"key": "loss", "value": 0.3, "timestamp": 1, "step": 0},
    ]);
    ml(
        app,
        Method::POST,
        "runs/log-batch",
        as_olga,
        Some(&json!({"run_id": run_id, "metrics": metrics})),
    )
    .await
    .expect(200);
    ml(
        app,
        Method::POST,
        "registered-models/create",
        as_olga,
        Some(&json!({"name": "scorer", "tags": tag})),
    )
    .await
    .expect(200);
    ml(
        app,
        Method::POST,
        "model-versions/create",
        as_olga,
        Some(&json!({"name": "scorer", "source": format!("runs:/{run_id}/model"), "run_id": run_id})),
    )
    .await
    .expect(200);

    // A version that does not exist cannot be attached.
    let missing = app
        .post(
            &format!("/bundles/{bundle_id}/attachments"),
            &olga,
            &json!({"kind": "model_version", "name": "x", "reference": {"model": "scorer", "version": 9}}),
        )
        .await;
    missing.expect_error(404, "not_found");
    // Attaching version 1 links it and checks its metrics against the stage's thresholds.
    let att = app
        .post(
            &format!("/bundles/{bundle_id}/attachments"),
            &olga,
            &json!({"kind": "model_version", "name": "scorer v1", "reference": {"model": "scorer", "version": 1}}),
        )
        .await;
    let att = att.expect(201).clone();
    assert_eq!(att["reference"]["run_id"], run_id.as_str());
    let checks = app.get(&format!("/bundles/{bundle_id}/metric-checks"), &olga).await;
    let checks = checks.expect(200).as_array().unwrap().clone();
    let outcome = |metric: &str| {
        checks
            .iter()
            .find(|c| c["metric"] == metric)
            .unwrap_or_else(|| panic!("no check of {metric}: {checks:?}"))
            .clone()
    };
    assert_eq!(outcome("auc")["outcome"], "fail");
    assert_eq!(outcome("auc")["value"], 0.75);
    assert_eq!(outcome("latency_ms")["outcome"], "pass");
    assert_eq!(outcome("latency_ms")["matched_key"], "p95_latency");
    assert_eq!(outcome("loss")["outcome"], "info");
    assert_eq!(outcome("fairness")["outcome"], "missing");
    // The failure is a finding, and the stage's approvers are told.
    let finding_id = outcome("auc")["finding_id"].as_str().unwrap().to_owned();
    let finding = app.get(&format!("/findings/{finding_id}"), &olga).await;
    assert!(finding.expect(200)["name"].as_str().unwrap().contains("auc"));
    let tasks = app.get("/tasks", &rita).await;
    let tasks = tasks.expect(200).clone();
    assert!(tasks.to_string().contains(&finding_id), "rita's tasks: {tasks}");
    assert!(app.last_event("metric_check.evaluated").await.payload.contains("fail"));

    // The promotion gate: a gated alias waits for the approval the gate names.
    let refused = ml(
        app,
        Method::POST,
        "registered-models/alias",
        as_olga,
        Some(&json!({"name": "scorer", "alias": "champion", "version": "1"})),
    )
    .await;
    mlflow_error(&refused, 403, "PERMISSION_DENIED");
    assert!(
        refused.json["message"]
            .as_str()
            .unwrap()
            .contains("Validation sign off"),
        "{}",
        refused.text
    );
    assert!(app.last_event("gate.denied").await.payload.contains("scorer/1"));
    // Other aliases are not promotions.
    ml(
        app,
        Method::POST,
        "registered-models/alias",
        as_olga,
        Some(&json!({"name": "scorer", "alias": "candidate", "version": "1"})),
    )
    .await
    .expect(200);
    grant(app, &bundle_id, "Validation sign off").await;
    ml(
        app,
        Method::POST,
        "registered-models/alias",
        as_olga,
        Some(&json!({"name": "scorer", "alias": "champion", "version": "1"})),
    )
    .await
    .expect(200);
    assert!(app.last_event("gate.allowed").await.payload.contains("champion"));
    app.verify_audit().await;
}
