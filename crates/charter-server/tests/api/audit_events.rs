//! `/api/v1/audit-events`: listing with filters and cursors, one event, and export.

use std::collections::BTreeSet;

use charter_domain::Role;
use charter_domain::audit::AuditEvent;
use charter_domain::time::rfc3339;
use charter_server::api::audit::CSV_COLUMNS;
use serde_json::{Value, json};

use crate::harness::{TestApp, TestUser, query};

on_every_backend!(
    filters_narrow_the_list_to_exactly_the_matching_events,
    cursors_visit_every_event_once,
    one_event_by_id,
    events_record_who_acted_how_from_where,
    exports_hold_every_matching_event,
    the_audit_trail_is_for_governance_admins,
);

/// Every page of `/audit-events?<params>`, followed through `next_cursor`.
async fn list_all(app: &TestApp, who: &TestUser, params: &[(&str, &str)]) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut params = params.to_vec();
        if let Some(c) = &cursor {
            params.push(("cursor", c));
        }
        let reply = app.get(&format!("/audit-events?{}", query(&params)), who).await;
        let page = reply.expect(200);
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page.get("next_cursor") {
            Some(Value::String(next)) => {
                assert!(items.len() < 100_000, "the cursor never ends");
                cursor = Some(next.clone());
            }
            None => return items,
            Some(other) => panic!("next_cursor is {other}"),
        }
    }
}

fn seqs(items: &[Value]) -> Vec<i64> {
    items.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

/// The seqs of `events` that satisfy `keep`, newest first (the API's default order).
fn expected(events: &[AuditEvent], keep: impl Fn(&AuditEvent) -> bool) -> Vec<i64> {
    events.iter().rev().filter(|e| keep(e)).map(|e| e.seq).collect()
}

/// A mixed history: users and tokens by the harness, groups and changes by admin,
/// a token by ann.
async fn make_history(app: &TestApp) -> (TestUser, String) {
    let ann = app.user("ann", Role::Practitioner).await;
    app.user("bob", Role::Practitioner).await;
    app.post("/me/tokens", &ann, &json!({ "name": "notebook" }))
        .await
        .expect(201);
    let reply = app.post("/groups", &app.admin, &json!({ "name": "model-risk" })).await;
    let group = reply.expect(201)["id"].as_str().unwrap().to_owned();
    app.post("/groups", &app.admin, &json!({ "name": "audit" }))
        .await
        .expect(201);
    app.post("/groups/model-risk/members", &app.admin, &json!({ "user": "ann" }))
        .await
        .expect(204);
    app.patch("/users/bob", &app.admin, &json!({ "display_name": "Bob B." }))
        .await
        .expect(200);
    (ann, group)
}

async fn filters_narrow_the_list_to_exactly_the_matching_events(app: &TestApp) {
    let (ann, group) = make_history(app).await;
    let all = app.events().await;
    let admin = &app.admin;

    let list = |params: Vec<(&'static str, String)>| async move {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        seqs(&list_all(app, admin, &params).await)
    };
    let p = |k: &'static str, v: &str| (k, v.to_owned());

    assert_eq!(list(vec![]).await, expected(&all, |_| true));
    let by_ann = expected(&all, |e| e.actor_name == "ann");
    assert_eq!(by_ann.len(), 1);
    assert_eq!(list(vec![p("actor", "ann")]).await, by_ann);
    assert_eq!(
        list(vec![p("actor", &ann.id)]).await,
        by_ann,
        "the actor's id works as well as the name"
    );

    assert_eq!(
        list(vec![p("action", "user.created")]).await,
        expected(&all, |e| e.action == "user.created")
    );
    let users = expected(&all, |e| e.action.starts_with("user."));
    assert_eq!(list(vec![p("action", "user.*")]).await, users);
    assert!(
        all.iter().any(|e| e.action == "user.updated"),
        "the prefix must cover more than one action"
    );
    assert_eq!(
        list(vec![p("action", "user")]).await,
        Vec::<i64>::new(),
        "without `*`, the action is exact"
    );

    assert_eq!(
        list(vec![p("target", "group")]).await,
        expected(&all, |e| e.target_type == "group")
    );
    let one_group = expected(&all, |e| e.target_type == "group" && e.target_id == group);
    assert_eq!(one_group.len(), 2, "created, then a member added");
    assert_eq!(list(vec![p("target", &format!("group:{group}"))]).await, one_group);

    // Time: `since` is inclusive, `until` exclusive; RFC 3339, dates and epoch ms.
    let pivot = all.iter().find(|e| e.actor_name == "ann").unwrap().occurred_at;
    let since = expected(&all, |e| e.occurred_at >= pivot);
    let until = expected(&all, |e| e.occurred_at < pivot);
    assert!(!since.is_empty() && !until.is_empty());
    assert_eq!(list(vec![p("since", &rfc3339(pivot))]).await, since);
    assert_eq!(list(vec![p("since", &pivot.to_string())]).await, since);
    assert_eq!(list(vec![p("until", &rfc3339(pivot))]).await, until);
    assert_eq!(list(vec![p("since", "2000-01-01")]).await, expected(&all, |_| true));
    assert_eq!(list(vec![p("until", "2000-01-01")]).await, Vec::<i64>::new());

    // Filters combine, and `order=asc` reverses.
    let combined = expected(&all, |e| {
        e.actor_name == "admin" && e.action.starts_with("group.") && e.target_id == group
    });
    let mut ascending = combined.clone();
    ascending.reverse();
    let params = vec![
        p("actor", "admin"),
        p("action", "group.*"),
        p("target", &format!("group:{group}")),
    ];
    assert_eq!(list(params.clone()).await, combined);
    let mut params = params;
    params.push(p("order", "asc"));
    assert_eq!(list(params).await, ascending);
}

async fn cursors_visit_every_event_once(app: &TestApp) {
    for i in 0..23 {
        app.post("/groups", &app.admin, &json!({ "name": format!("g{i:02}") }))
            .await
            .expect(201);
    }
    let total = app.audit_count().await as usize;
    let newest_first: Vec<i64> = (1..=total as i64).rev().collect();
    let oldest_first: Vec<i64> = (1..=total as i64).collect();

    for limit in ["1", "7", "25", "1000"] {
        let items = list_all(app, &app.admin, &[("limit", limit)]).await;
        assert_eq!(seqs(&items), newest_first, "limit={limit}");
        let items = list_all(app, &app.admin, &[("limit", limit), ("order", "asc")]).await;
        assert_eq!(seqs(&items), oldest_first, "limit={limit}, ascending");
    }
    // Pages are `limit` long, and the last full page does not promise another.
    let page = app.get(&format!("/audit-events?limit={total}"), &app.admin).await;
    let page = page.expect(200);
    assert_eq!(page["items"].as_array().unwrap().len(), total);
    assert!(page.get("next_cursor").is_none(), "{page}");
    let page = app.get("/audit-events?limit=7", &app.admin).await;
    let page = page.expect(200);
    assert_eq!(page["items"].as_array().unwrap().len(), 7);
    assert_eq!(page["next_cursor"], (total - 6).to_string());
    // The default page size is 100.
    let page = app.get("/audit-events", &app.admin).await;
    assert_eq!(page.expect(200)["items"].as_array().unwrap().len(), total.min(100));

    // Filtered pages too.
    let items = list_all(app, &app.admin, &[("action", "group.created"), ("limit", "5")]).await;
    assert_eq!(items.len(), 23);
    let distinct: BTreeSet<i64> = seqs(&items).into_iter().collect();
    assert_eq!(distinct.len(), 23);
    assert!(items.iter().all(|e| e["action"] == "group.created"));
}

async fn one_event_by_id(app: &TestApp) {
    app.post("/groups", &app.admin, &json!({ "name": "risk" }))
        .await
        .expect(201);
    let listed = app.get("/audit-events?limit=1", &app.admin).await;
    let newest = listed.expect(200)["items"][0].clone();
    let id = newest["id"].as_str().unwrap();
    assert!(id.starts_with("evt_"), "{id}");
    let reply = app.get(&format!("/audit-events/{id}"), &app.admin).await;
    assert_eq!(reply.expect(200), &newest);
    app.get("/audit-events/evt_nothing", &app.admin)
        .await
        .expect_error(404, "not_found");
}

async fn events_record_who_acted_how_from_where(app: &TestApp) {
    let reply = app
        .send(
            app.request(reqwest::Method::POST, "/groups")
                .bearer_auth(&app.admin.token)
                .header("x-request-id", "change-ticket-1234")
                .json(&json!({ "name": "traced", "description": "has, \"quotes\"" })),
        )
        .await;
    let group = reply.expect(201)["id"].as_str().unwrap().to_owned();
    let listed = app.get("/audit-events?limit=1", &app.admin).await;
    let event = &listed.expect(200)["items"][0];
    let token_id = app
        .get(&format!("/users/{}/tokens", app.admin.id), &app.admin)
        .await
        .expect(200)[0]["id"]
        .clone();
    assert_eq!(event["action"], "group.created");
    assert_eq!(event["actor_kind"], "token");
    assert_eq!(event["actor_id"], app.admin.id.as_str());
    assert_eq!(event["actor_name"], "admin");
    assert_eq!(event["actor_token"], token_id);
    assert_eq!(event["target_type"], "group");
    assert_eq!(event["target_id"], group.as_str());
    assert_eq!(event["request_id"], "change-ticket-1234");
    assert_eq!(event["client_addr"], "127.0.0.1");
    assert_eq!(
        event["payload"],
        json!({ "after": { "name": "traced", "description": "has, \"quotes\"" } })
    );
    assert_eq!(event["hash"].as_str().unwrap().len(), 64);
    let previous = app
        .get(&format!("/audit-events?limit=1&cursor={}", event["seq"]), &app.admin)
        .await;
    assert_eq!(event["prev_hash"], previous.expect(200)["items"][0]["hash"]);
}

/// Split one CSV record (RFC 4180; no line breaks inside fields here).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

async fn exports_hold_every_matching_event(app: &TestApp) {
    make_history(app).await;
    app.post(
        "/groups",
        &app.admin,
        &json!({ "name": "commas", "description": "a, b and \"c\"" }),
    )
    .await
    .expect(201);
    let all = app.events().await;
    let groups: Vec<&AuditEvent> = all.iter().filter(|e| e.action.starts_with("group.")).collect();

    let reply = app
        .get("/audit-events/export?format=csv&action=group.*", &app.admin)
        .await;
    reply.expect(200);
    assert_eq!(reply.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        reply.header("content-disposition"),
        Some("attachment; filename=\"charter-audit.csv\"")
    );
    let lines: Vec<&str> = reply.text.lines().collect();
    assert_eq!(lines[0], CSV_COLUMNS.join(","));
    assert_eq!(
        lines.len(),
        1 + groups.len(),
        "a header and one line per event:\n{}",
        reply.text
    );
    for (line, event) in lines[1..].iter().zip(&groups) {
        let fields = csv_fields(line);
        assert_eq!(fields.len(), CSV_COLUMNS.len(), "{line}");
        assert_eq!(fields[0], event.seq.to_string(), "oldest first");
        assert_eq!(fields[1], event.id);
        assert_eq!(fields[7], event.action);
        assert_eq!(fields[10], event.payload, "the payload survives quoting");
        assert_eq!(fields[14], event.hash);
    }

    let reply = app.get("/audit-events/export", &app.admin).await;
    let exported = reply.expect(200).as_array().expect("a JSON array").clone();
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.header("content-disposition"),
        Some("attachment; filename=\"charter-audit.json\"")
    );
    assert_eq!(seqs(&exported), all.iter().map(|e| e.seq).collect::<Vec<_>>());
    // The same events the listing shows, field for field.
    assert_eq!(exported, list_all(app, &app.admin, &[("order", "asc")]).await);

    let reply = app
        .get("/audit-events/export?format=json&actor=nobody", &app.admin)
        .await;
    assert_eq!(reply.expect(200), &json!([]));
}

async fn the_audit_trail_is_for_governance_admins(app: &TestApp) {
    let gina = app.user("gina", Role::GovernanceAdmin).await;
    let pat = app.user("pat", Role::Practitioner).await;
    for path in ["/audit-events", "/audit-events/export?format=csv", "/audit/checkpoints"] {
        app.get(path, &gina).await.expect(200);
        let message = app.get(path, &pat).await.expect_error(403, "forbidden").to_owned();
        assert!(
            message.contains("needs the governance_admin role; your role is practitioner"),
            "{message}"
        );
        let denied = app.last_event("access.denied").await;
        assert_eq!(
            denied.target_id,
            format!("GET /api/v1{}", path.split('?').next().unwrap())
        );
    }
    app.post("/audit/verify", &gina, &Value::Null).await.expect(200);
    app.post("/audit/verify", &pat, &Value::Null)
        .await
        .expect_error(403, "forbidden");
}
