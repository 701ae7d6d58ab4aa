//! MLflow tracking and registry storage: the same behaviour on both backends —
//! group-committed run data, NaN and infinities, the latest-metric rule, search with
//! case-sensitive LIKE, version numbering, aliases, and the audit events of governed
//! changes.

use charter_domain::Role;
use charter_domain::mlflow::{SearchTarget, parse_filter, parse_order_by};
use charter_store::mlflow::experiment::{self, Experiment};
use charter_store::mlflow::registry::{self, NewVersion};
use charter_store::mlflow::run::{self, NewRun};
use charter_store::mlflow::{KeyValue, Metric, RunSearch, RunWrite, RunWriter, ViewType, WriterOptions};
use charter_store::{Store, StoreError};

use crate::harness::{TestDb, as_user};

on_every_backend!(
    run_data_is_group_committed_and_read_back,
    searches_filter_and_order_the_same_way,
    the_registry_numbers_versions_and_moves_aliases
);

async fn experiment_with_project(db: &TestDb, name: &str) -> (Experiment, charter_store::user::User) {
    let user = db.user("ann", Role::Practitioner).await;
    let ctx = as_user(&user);
    let mut tx = db.store.begin().await.unwrap();
    let project = charter_store::project::create(&mut tx, &ctx, "ml", "", &user)
        .await
        .unwrap();
    let e = experiment::create(&mut tx, &ctx, name, project.id, &[KeyValue::new("team", "risk")])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (e, user)
}

async fn new_run(store: &Store, e: &Experiment, user: &charter_store::user::User, name: &str, start: i64) -> String {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let mut tx = store.begin().await.unwrap();
    run::create(
        &mut tx,
        &as_user(user),
        &NewRun {
            run_id: id.clone(),
            experiment_id: e.id,
            name: name.into(),
            user_id: user.username.clone(),
            start_time: start,
            tags: vec![KeyValue::new("mlflow.runName", name)],
            artifact_uri: format!("{}/{id}/artifacts", e.artifact_location),
            created_by: user.id.to_string(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

fn point(key: &str, value: f64, timestamp: i64, step: i64) -> Metric {
    Metric {
        key: key.into(),
        value,
        timestamp,
        step,
        model_id: None,
        dataset_name: None,
        dataset_digest: None,
    }
}

async fn run_data_is_group_committed_and_read_back(db: &TestDb) {
    let (e, user) = experiment_with_project(db, "exp").await;
    assert_eq!(e.id, 1, "experiment 0 is the pre-made Default");
    assert_eq!(db.store.mlflow_experiment(0).await.unwrap().name, "Default");
    let id = new_run(&db.store, &e, &user, "r", 1).await;
    let writer = RunWriter::start(db.store.clone(), WriterOptions::default());
    // Many writers at once: every acknowledged write is there afterwards.
    let mut tasks = Vec::new();
    for i in 0..32 {
        let w = writer.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            w.write(RunWrite {
                run_id: id,
                metrics: vec![point("loss", 1.0 / f64::from(i + 1), 100 + i64::from(i), i64::from(i))],
                ..RunWrite::default()
            })
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    writer
        .write(RunWrite {
            run_id: id.clone(),
            metrics: vec![
                point("nan", f64::NAN, 1, 0),
                point("inf", f64::INFINITY, 1, 0),
                point("ninf", f64::NEG_INFINITY, 1, 0),
                // Identical points collapse.
                point("dup", 2.0, 5, 1),
                point("dup", 2.0, 5, 1),
            ],
            params: vec![KeyValue::new("lr", "0.1")],
            tags: vec![KeyValue::new("mlflow.runName", "renamed")],
            ..RunWrite::default()
        })
        .await
        .unwrap();
    // A changed param fails alone; the same value again is fine.
    let err = writer
        .write(RunWrite {
            run_id: id.clone(),
            params: vec![KeyValue::new("lr", "0.2")],
            ..RunWrite::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Invalid(ref m) if m.contains("Changing param values")),
        "{err}"
    );
    writer
        .write(RunWrite {
            run_id: id.clone(),
            params: vec![KeyValue::new("lr", "0.1")],
            ..RunWrite::default()
        })
        .await
        .unwrap();
    let got = db.store.mlflow_run(&id).await.unwrap();
    assert_eq!(got.info.name, "renamed");
    assert_eq!(got.params, vec![KeyValue::new("lr", "0.1")]);
    let latest = |k: &str| got.metrics.iter().find(|m| m.key == k).unwrap().value;
    assert_eq!(latest("loss"), 1.0 / 32.0, "the latest is the highest step");
    assert!(latest("nan").is_nan());
    assert_eq!(latest("inf"), f64::INFINITY);
    assert_eq!(latest("ninf"), f64::NEG_INFINITY);
    let history = db.store.mlflow_metric_history(&id, "loss", 0, 1000).await.unwrap();
    assert_eq!(history.len(), 32);
    assert!(history.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
    assert_eq!(
        db.store.mlflow_metric_history(&id, "dup", 0, 10).await.unwrap().len(),
        1
    );
    // Run data is not audited point by point; the run's creation is.
    let actions = db.actions().await;
    assert_eq!(actions.iter().filter(|a| a.as_str() == "run.created").count(), 1);
    assert!(!actions.iter().any(|a| a.starts_with("metric")));
}

async fn searches_filter_and_order_the_same_way(db: &TestDb) {
    let (e, user) = experiment_with_project(db, "search").await;
    let writer = RunWriter::start(db.store.clone(), WriterOptions::default());
    let mut ids = Vec::new();
    for i in 0..6i64 {
        let id = new_run(&db.store, &e, &user, &format!("run{i}"), 1000 + i).await;
        writer
            .write(RunWrite {
                run_id: id.clone(),
                metrics: vec![point("loss", i as f64, 1, 0)],
                params: vec![KeyValue::new("kind", if i % 2 == 0 { "even" } else { "odd" })],
                tags: vec![KeyValue::new("team", if i < 2 { "Gov" } else { "gov" })],
                ..RunWrite::default()
            })
            .await
            .unwrap();
        ids.push(id);
    }
    let search = |filter: &str, order: &[&str]| {
        let clauses = SearchTarget::Runs.check(parse_filter(filter).unwrap()).unwrap();
        let order: Vec<String> = order.iter().map(|s| (*s).to_owned()).collect();
        RunSearch {
            experiment_ids: vec![e.id],
            clauses,
            order_by: parse_order_by(SearchTarget::Runs, &order).unwrap(),
            view: ViewType::ActiveOnly,
            offset: 0,
            limit: 100,
        }
    };
    let names = |found: Vec<String>| {
        found
            .iter()
            .map(|id| ids.iter().position(|x| x == id).unwrap())
            .collect::<Vec<_>>()
    };
    let found = db.store.mlflow_search_runs(&search("", &[])).await.unwrap();
    assert_eq!(names(found), vec![5, 4, 3, 2, 1, 0], "newest first by default");
    let found = db
        .store
        .mlflow_search_runs(&search(
            "metrics.loss >= 2 AND params.kind = 'even'",
            &["metrics.loss ASC"],
        ))
        .await
        .unwrap();
    assert_eq!(names(found), vec![2, 4]);
    let found = db
        .store
        .mlflow_search_runs(&search("tags.team LIKE 'Go%'", &[]))
        .await
        .unwrap();
    assert_eq!(names(found).len(), 2, "LIKE is case-sensitive on every backend");
    let found = db
        .store
        .mlflow_search_runs(&search("tags.team ILIKE 'GO%'", &[]))
        .await
        .unwrap();
    assert_eq!(names(found).len(), 6);
    let found = db
        .store
        .mlflow_search_runs(&search(
            "tags.absent IS NULL AND run_name != 'run0'",
            &["params.kind DESC", "start_time"],
        ))
        .await
        .unwrap();
    assert_eq!(names(found), vec![1, 3, 5, 2, 4]);
    let mut page = search("", &["metrics.loss DESC"]);
    page.limit = 2;
    page.offset = 2;
    assert_eq!(names(db.store.mlflow_search_runs(&page).await.unwrap()), vec![3, 2]);
    // Deleting the experiment deletes its runs with it, in one audited change.
    let mut tx = db.store.begin().await.unwrap();
    experiment::set_lifecycle(&mut tx, &as_user(&user), &e, charter_store::mlflow::Lifecycle::Deleted)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(db.store.mlflow_search_runs(&search("", &[])).await.unwrap().is_empty());
    let mut deleted = search("", &[]);
    deleted.view = ViewType::DeletedOnly;
    assert_eq!(db.store.mlflow_search_runs(&deleted).await.unwrap().len(), 6);
}

async fn the_registry_numbers_versions_and_moves_aliases(db: &TestDb) {
    let (e, user) = experiment_with_project(db, "reg").await;
    let ctx = as_user(&user);
    let project = e.project_id.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let m = registry::create_model(&mut tx, &ctx, "credit", project, "", &[], "ann")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let again = registry::create_model(&mut tx, &ctx, "credit", project, "", &[], "ann").await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));
    drop(tx);
    let new = NewVersion {
        source: "models:/m-1".into(),
        storage_location: "mlflow-artifacts:/1/models/m-1/artifacts".into(),
        run_id: String::new(),
        run_link: String::new(),
        logged_model_id: Some("m-1".into()),
        description: String::new(),
        tags: vec![],
        user: "ann".into(),
    };
    for expected in 1..=3 {
        let mut tx = db.store.begin().await.unwrap();
        assert_eq!(
            registry::create_version(&mut tx, &ctx, &m, &new).await.unwrap(),
            expected
        );
        tx.commit().await.unwrap();
    }
    let v3 = db.store.mlflow_model_version("credit", 3).await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    registry::delete_version(&mut tx, &ctx, &v3).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(
        registry::create_version(&mut tx, &ctx, &m, &new).await.unwrap(),
        4,
        "never reused"
    );
    tx.commit().await.unwrap();
    for v in [1, 2] {
        let m = db.store.mlflow_registered_model("credit").await.unwrap();
        let mut tx = db.store.begin().await.unwrap();
        registry::set_alias(&mut tx, &ctx, &m, "champion", v).await.unwrap();
        tx.commit().await.unwrap();
    }
    let m = db.store.mlflow_registered_model("credit").await.unwrap();
    assert_eq!(m.aliases, vec![("champion".to_owned(), 2)]);
    let v2 = db.store.mlflow_model_version("credit", 2).await.unwrap();
    assert_eq!(v2.aliases, vec!["champion".to_owned()]);
    let actions = db.actions().await;
    assert_eq!(actions.iter().filter(|a| a.as_str() == "model_alias.set").count(), 2);
    assert_eq!(
        actions.iter().filter(|a| a.as_str() == "model_version.created").count(),
        4
    );
    db.store.verify_audit(&db.key.verifying_key(), |_| {}).await.unwrap();
}
