//! Several replicas on one database (PostgreSQL), or one server with many clients
//! (SQLite): concurrent writes all succeed and the audit chain stays one linear,
//! gap-free, verifiable sequence.

use charter_domain::Role;
use charter_server::AppState;
use charter_store::Backend;
use serde_json::{Value, json};

use crate::harness::{Auth, Reply, TestApp};

on_every_backend!(
    concurrent_writers_on_every_replica_keep_one_chain,
    a_change_on_one_replica_holds_on_the_other,
);

const TASKS: usize = 8;
const WRITES: usize = 25;

/// Two replicas on PostgreSQL; on SQLite, the one server (SQLite is one process's).
async fn replicas(app: &TestApp) -> Vec<(String, AppState)> {
    let mut replicas = vec![(app.base(), app.state.clone())];
    if app.backend() == Backend::Postgres {
        replicas.push(app.spawn_replica().await);
    }
    replicas
}

async fn call(
    app: &TestApp,
    base: &str,
    method: reqwest::Method,
    path: &str,
    auth: Auth<'_>,
    body: Option<&Value>,
) -> Reply {
    let mut request = auth.apply(app.client.request(method, format!("{base}/api/v1{path}")));
    if let Some(body) = body {
        request = request.json(body);
    }
    app.send(request).await
}

async fn concurrent_writers_on_every_replica_keep_one_chain(app: &TestApp) {
    let replicas = replicas(app).await;
    let before = app.audit_count().await;

    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let base = replicas[t % replicas.len()].0.clone();
            let client = app.client.clone();
            let token = app.admin.token.clone();
            tokio::spawn(async move {
                for i in 0..WRITES {
                    let response = client
                        .post(format!("{base}/api/v1/groups"))
                        .bearer_auth(&token)
                        .json(&json!({ "name": format!("w{t}-{i:02}") }))
                        .send()
                        .await
                        .expect("the replica answers");
                    let status = response.status();
                    let text = response.text().await.unwrap();
                    assert_eq!(status.as_u16(), 201, "writer {t}, group {i} via {base}: {text}");
                }
            })
        })
        .collect();
    for task in futures::future::join_all(tasks).await {
        task.expect("a writer failed");
    }

    // Exactly one event per write, numbered 1..=n without gaps, each linked to the last.
    let events = app.events().await;
    let total = before as usize + TASKS * WRITES;
    assert_eq!(events.len(), total);
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=total as i64).collect::<Vec<_>>()
    );
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "#{} does not link to #{}",
            pair[1].seq, pair[0].seq
        );
    }
    // Each writer's groups were recorded in the order it made them.
    for t in 0..TASKS {
        let mine: Vec<String> = events
            .iter()
            .filter(|e| e.action == "group.created")
            .map(|e| {
                serde_json::from_str::<Value>(&e.payload).unwrap()["after"]["name"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .filter(|name| name.starts_with(&format!("w{t}-")))
            .collect();
        let made: Vec<String> = (0..WRITES).map(|i| format!("w{t}-{i:02}")).collect();
        assert_eq!(mine, made);
    }

    // Every replica sees every group, and signs and verifies the same chain.
    let signing: Vec<_> = replicas
        .iter()
        .map(|(_, state)| {
            let state = state.clone();
            tokio::spawn(async move { state.store.checkpoint(&state.audit_key).await.unwrap() })
        })
        .collect();
    let signed: Vec<_> = futures::future::join_all(signing)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        signed.iter().flatten().count(),
        1,
        "the head is signed once: {signed:?}"
    );
    for (base, state) in &replicas {
        let groups = call(app, base, reqwest::Method::GET, "/groups", Auth::from(&app.admin), None).await;
        assert_eq!(
            groups.expect(200).as_array().unwrap().len(),
            TASKS * WRITES,
            "via {base}"
        );
        let report = state
            .store
            .verify_audit(&state.audit_key.verifying_key(), |_| {})
            .await
            .expect("the chain verifies");
        assert_eq!(report.events, total as u64);
        assert_eq!(report.head.seq, total as i64);
        assert_eq!(report.last_checkpoint_seq, total as i64);
        let verified = call(
            app,
            base,
            reqwest::Method::POST,
            "/audit/verify",
            Auth::from(&app.admin),
            None,
        )
        .await;
        let verified = verified.expect(200);
        assert_eq!(
            (verified["ok"].as_bool(), verified["events"].as_u64()),
            (Some(true), Some(total as u64))
        );
    }
}

/// What one replica does, the other honours at once: a disabled account and a changed
/// password, even for Basic credentials the other replica verified a moment ago.
async fn a_change_on_one_replica_holds_on_the_other(app: &TestApp) {
    use reqwest::Method;
    let replicas = replicas(app).await;
    let (here, there) = (&replicas[0].0, &replicas[replicas.len() - 1].0);
    let ann = app.user_with_password("ann", Role::Practitioner).await;
    let admin = Auth::from(&app.admin);

    call(app, there, Method::GET, "/me", ann.basic(), None)
        .await
        .expect(200);
    let disable = json!({ "disabled": true });
    call(app, here, Method::PATCH, "/users/ann", admin, Some(&disable))
        .await
        .expect(200);
    call(app, there, Method::GET, "/me", ann.basic(), None)
        .await
        .expect_error(401, "unauthenticated");
    let enable = json!({ "disabled": false });
    call(app, here, Method::PATCH, "/users/ann", admin, Some(&enable))
        .await
        .expect(200);
    call(app, there, Method::GET, "/me", ann.basic(), None)
        .await
        .expect(200);

    let change = json!({ "password": "a-brand-new-password" });
    call(app, here, Method::PATCH, "/users/ann", admin, Some(&change))
        .await
        .expect(200);
    call(app, there, Method::GET, "/me", ann.basic(), None)
        .await
        .expect_error(401, "unauthenticated");
    let new = Auth::Basic("ann", "a-brand-new-password");
    call(app, there, Method::GET, "/me", new, None).await.expect(200);
    app.last_event("user.password_changed").await;
}
