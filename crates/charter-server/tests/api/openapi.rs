//! `GET /api/v1/openapi.json`: the document, and that it stays in step with the routes.

use std::collections::BTreeSet;

use charter_store::Backend;
use reqwest::Method;

use crate::harness::{self, Auth, TestApp, api_routes, no_changes};

/// The document does not depend on the database: one run on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_matches_its_snapshot() {
    harness::run(
        Backend::Sqlite,
        "openapi::the_document_matches_its_snapshot",
        no_changes,
        snapshot,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented_and_every_documented_route_exists() {
    harness::run(
        Backend::Sqlite,
        "openapi::every_route_is_documented_and_every_documented_route_exists",
        no_changes,
        in_step,
    )
    .await;
}

async fn document(app: &TestApp) -> serde_json::Value {
    let reply = app.get("/openapi.json", Auth::Anonymous).await;
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.expect(200).clone()
}

async fn snapshot(app: &TestApp) {
    let mut doc = document(app).await;
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    // The release number changes every release; the shape of the API should not.
    doc["info"]["version"] = "[version]".into();
    insta::assert_json_snapshot!("openapi", doc);
}

/// The operations the document describes, as (METHOD, path).
fn documented(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete", "head", "options"].contains(&method.as_str()) {
                ops.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

async fn in_step(app: &TestApp) {
    let doc = document(app).await;
    let documented = documented(&doc);
    let registered: BTreeSet<(String, String)> = api_routes()
        .into_iter()
        .filter(|r| r.path != "/openapi.json")
        .map(|r| (r.method, r.path))
        .collect();
    let undocumented: Vec<_> = registered.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routes in api::routes() missing from the OpenAPI document (add them to ApiDoc's paths): {undocumented:?}"
    );
    let phantom: Vec<_> = documented.difference(&registered).collect();
    assert!(
        phantom.is_empty(),
        "the OpenAPI document describes routes that do not exist: {phantom:?}"
    );

    // And at run time: every documented operation reaches a handler (no 404 for the
    // route, no 405), whatever it then says to an anonymous caller.
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", "x")
            .replace("{user_id}", "y")
            .replace("{stage}", "s")
            .replace("{v}", "1")
            .replace("{policy}", "p")
            .replace("{input}", "i")
            .replace("{att}", "a")
            .replace("{token_id}", "t")
            .replace("{trace_id}", "t")
            .replace("{session_id}", "s");
        assert!(
            !concrete.contains('{'),
            "a path parameter this test does not know: {path}"
        );
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = app.call(method.clone(), &concrete, Auth::Anonymous, None).await;
        assert_ne!(reply.status.as_u16(), 405, "{method} {path}: {}", reply.text);
        assert!(
            !reply.text.contains("there is no API route"),
            "{method} {path} is documented but not routed: {}",
            reply.text
        );
    }
}
