//! Telemetry storage on both backends: idempotent batched span writes, filtered
//! lists and pagination, trace figures, statistics rows, annotations (upsert),
//! settings and ingest tokens (audited), retention, monitors (optimistic versions).

use charter_domain::Role;
use charter_domain::time::now_ms;
use charter_store::project::{self, Project};
use charter_store::telemetry::annotation::{self, NewAnnotation};
use charter_store::telemetry::monitor::{self as mon, MonitorChange, NewMonitor};
use charter_store::telemetry::settings;
use charter_store::telemetry::{ListMode, ResourceRecord, SpanFilter, SpanRecord, StatsQuery};
use charter_store::user::User;
use charter_store::{StoreError, telemetry};

use crate::harness::TestDb;

on_every_backend!(
    spans_are_written_once_however_often_they_arrive,
    lists_filter_and_page_newest_first,
    traces_list_roots_with_their_figures,
    statistics_group_by_time_and_latency_bucket,
    annotations_upsert_on_their_identity_and_are_audited,
    settings_and_ingest_tokens_are_audited,
    retention_deletes_by_age_and_by_count,
    monitors_change_state_once_per_version
);

const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_764_000_000 * SEC;

async fn setup(db: &TestDb) -> (User, Project) {
    let user = db.user("olga", Role::Practitioner).await;
    let mut tx = db.store.begin().await.unwrap();
    let p = project::create(&mut tx, &db.system, "helpbot", "", &user)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (user, p)
}

fn span(p: &Project, trace: u32, span: u32, parent: Option<u32>, start_s: i64) -> SpanRecord {
    SpanRecord {
        project_id: p.id,
        trace_id: format!("{trace:032x}"),
        span_id: format!("{span:016x}"),
        parent_span_id: parent.map(|x| format!("{x:016x}")),
        name: "chat_turn".into(),
        span_kind: if parent.is_none() { "CHAIN" } else { "LLM" },
        otel_kind: 1,
        start_ns: T0 + start_s * SEC,
        end_ns: T0 + start_s * SEC + 250_000_000,
        latency_ms: 250.0,
        latency_bucket: charter_domain::telemetry::stats::latency_bucket(250.0),
        status_code: 0,
        status_message: String::new(),
        model: parent.map(|_| "gpt-4o-mini".to_owned()),
        provider: None,
        prompt_tokens: parent.map(|_| 100),
        completion_tokens: parent.map(|_| 20),
        total_tokens: parent.map(|_| 120),
        cost_usd: None,
        input_value: Some(format!("question {trace}")),
        input_mime: Some("text/plain".into()),
        output_value: Some("answer".into()),
        output_mime: Some("text/plain".into()),
        session_id: Some(format!("sess-{}", trace % 2)),
        user_id: Some("user-7".into()),
        documents: None,
        attributes: format!(
            r#"{{"session.id":"sess-{}","turn":{trace},"flag":true,"topic":"Refunds and returns"}}"#,
            trace % 2
        ),
        events: None,
        links: None,
        resource_hash: "r1".into(),
        scope_name: "test".into(),
        scope_version: "1".into(),
        trace_state: String::new(),
        dropped: None,
    }
}

fn resource() -> Vec<ResourceRecord> {
    vec![ResourceRecord {
        hash: "r1".into(),
        attributes: r#"{"service.name":"helpbot"}"#.into(),
    }]
}

/// `n` traces of a root and one child each, a second apart.
async fn load(db: &TestDb, p: &Project, n: u32) {
    let mut spans = Vec::new();
    for t in 1..=n {
        spans.push(span(p, t, t * 10, None, i64::from(t)));
        spans.push(span(p, t, t * 10 + 1, Some(t * 10), i64::from(t)));
    }
    let inserted = db.store.insert_spans(resource(), spans).await.unwrap();
    assert_eq!(inserted, u64::from(n) * 2);
}

async fn spans_are_written_once_however_often_they_arrive(db: &TestDb) {
    let (_, p) = setup(db).await;
    // More than one statement's worth, to cross a chunk boundary.
    let n = telemetry::SPANS_PER_STATEMENT as u32 + 7;
    let batch: Vec<SpanRecord> = (1..=n).map(|i| span(&p, i, i, None, i64::from(i))).collect();
    let audit_before = db.store.audit_count().await.unwrap();
    assert_eq!(
        db.store.insert_spans(resource(), batch.clone()).await.unwrap(),
        u64::from(n)
    );
    // A retried export: nothing new, nothing changed.
    assert_eq!(db.store.insert_spans(resource(), batch).await.unwrap(), 0);
    assert_eq!(db.store.span_count(p.id).await.unwrap(), i64::from(n));
    // Spans are data, not governed changes: no audit events.
    assert_eq!(db.store.audit_count().await.unwrap(), audit_before);
    let stored = db
        .store
        .span(p.id, &format!("{:032x}", 3), &format!("{:016x}", 3))
        .await
        .unwrap();
    assert_eq!(stored.input_value.as_deref(), Some("question 3"));
    assert_eq!(stored.session_id.as_deref(), Some("sess-1"));
    let resources = db.store.resources(&["r1".into()]).await.unwrap();
    assert_eq!(resources["r1"], r#"{"service.name":"helpbot"}"#);
    assert_eq!(db.store.locate_span(&format!("{:016x}", 3)).await.unwrap().len(), 1);
}

async fn lists_filter_and_page_newest_first(db: &TestDb) {
    let (_, p) = setup(db).await;
    load(db, &p, 10).await;
    let all = |f: SpanFilter| async move {
        let (spans, _) = db
            .store
            .list_spans(p.id, &SpanFilter { limit: 100, ..f })
            .await
            .unwrap();
        spans
    };
    let every = all(SpanFilter::default()).await;
    assert_eq!(every.len(), 20);
    assert!(every.windows(2).all(|w| w[0].start_ns >= w[1].start_ns), "newest first");

    let llm = all(SpanFilter {
        kind: Some("LLM".into()),
        ..SpanFilter::default()
    })
    .await;
    assert_eq!(llm.len(), 10);
    assert!(llm.iter().all(|s| s.model.as_deref() == Some("gpt-4o-mini")));
    let session = all(SpanFilter {
        session: Some("sess-0".into()),
        ..SpanFilter::default()
    })
    .await;
    assert_eq!(session.len(), 10);
    let window = all(SpanFilter {
        from_ns: Some(T0 + 3 * SEC),
        to_ns: Some(T0 + 5 * SEC),
        ..SpanFilter::default()
    })
    .await;
    assert_eq!(window.len(), 4);
    let attr = all(SpanFilter {
        attr_equals: vec![("turn".into(), "7".into())],
        ..SpanFilter::default()
    })
    .await;
    assert_eq!(attr.len(), 2, "numbers compare as written");
    let flag = all(SpanFilter {
        attr_equals: vec![("flag".into(), "true".into())],
        ..SpanFilter::default()
    })
    .await;
    assert_eq!(flag.len(), 20, "booleans read true/false on both backends");
    let contains = all(SpanFilter {
        attr_contains: vec![("topic".into(), "REFUND".into())],
        ..SpanFilter::default()
    })
    .await;
    assert_eq!(contains.len(), 20, "contains ignores case");
    let none = all(SpanFilter {
        attr_contains: vec![("topic".into(), "100%_".into())],
        ..SpanFilter::default()
    })
    .await;
    assert!(none.is_empty(), "LIKE wildcards in the text are literal");
    let text = all(SpanFilter {
        text: Some("question 1".into()),
        ..SpanFilter::default()
    })
    .await;
    assert_eq!(text.len(), 4, "question 1 and question 10, root and child each");
    let slow = all(SpanFilter {
        min_latency_ms: Some(300.0),
        ..SpanFilter::default()
    })
    .await;
    assert!(slow.is_empty());

    // Pages of 7 walk every span exactly once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = db
            .store
            .list_spans(
                p.id,
                &SpanFilter {
                    limit: 7,
                    cursor: cursor.clone(),
                    ..SpanFilter::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.into_iter().map(|s| s.span_id));
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 20);
}

async fn traces_list_roots_with_their_figures(db: &TestDb) {
    let (_, p) = setup(db).await;
    load(db, &p, 5).await;
    // Trace 2's child failed.
    let mut failed = span(&p, 2, 99, Some(20), 2);
    failed.status_code = 2;
    failed.model = Some("claude".into());
    db.store.insert_spans(vec![], vec![failed]).await.unwrap();

    let (traces, next) = db
        .store
        .list_traces(
            p.id,
            &SpanFilter {
                limit: 10,
                ..SpanFilter::default()
            },
        )
        .await
        .unwrap();
    assert!(next.is_none());
    assert_eq!(traces.len(), 5);
    assert!(traces.iter().all(|t| t.root.parent_span_id.is_none()));
    let two = traces
        .iter()
        .find(|t| t.root.trace_id == format!("{:032x}", 2))
        .unwrap();
    assert_eq!((two.aggregate.span_count, two.aggregate.error_count), (3, 1));
    assert_eq!(two.aggregate.total_tokens, 240);

    // Trace filters look into every span: errors and models anywhere in the trace.
    let errors = SpanFilter {
        mode: ListMode::Traces,
        status: Some(2),
        limit: 10,
        ..SpanFilter::default()
    };
    let (t, _) = db.store.list_traces(p.id, &errors).await.unwrap();
    assert_eq!(t.len(), 1);
    let claude = SpanFilter {
        model: Some("claude".into()),
        limit: 10,
        ..SpanFilter::default()
    };
    let (t, _) = db.store.list_traces(p.id, &claude).await.unwrap();
    assert_eq!(t.len(), 1);
    let spans = db.store.trace_spans(p.id, &format!("{:032x}", 2)).await.unwrap();
    assert_eq!(spans.len(), 3);
    assert!(db.store.trace_exists(p.id, &format!("{:032x}", 2)).await.unwrap());
    assert!(!db.store.trace_exists(p.id, &format!("{:032x}", 77)).await.unwrap());

    let sessions = db.store.sessions(p.id, None, None, None, 0, 10).await.unwrap();
    assert_eq!(sessions.len(), 2);
    let s1 = sessions.iter().find(|s| s.session_id == "sess-1").unwrap();
    assert_eq!(s1.trace_count, 3, "traces 1, 3 and 5");
}

async fn statistics_group_by_time_and_latency_bucket(db: &TestDb) {
    let (_, p) = setup(db).await;
    load(db, &p, 6).await;
    let q = StatsQuery {
        project: p.id,
        from_ns: T0,
        to_ns: T0 + 10 * SEC,
        bucket_ns: 5 * SEC,
        kind: None,
    };
    let rows = db.store.span_stats(&q).await.unwrap();
    // Bucket 0 holds traces 1–4, bucket 1 traces 5 and 6; roots are requests.
    let spans_in = |b: i64| rows.iter().filter(|r| r.bucket == b).map(|r| r.spans).sum::<i64>();
    assert_eq!((spans_in(0), spans_in(1)), (8, 4));
    let requests: i64 = rows.iter().filter(|r| r.latency_bucket >= 0).map(|r| r.spans).sum();
    assert_eq!(requests, 6);
    let tokens: i64 = rows.iter().map(|r| r.total_tokens).sum();
    assert_eq!(tokens, 720);
    let usage = db.store.model_usage(&q).await.unwrap();
    let prompt: i64 = usage.iter().map(|u| u.unpriced_prompt_tokens).sum();
    assert_eq!(prompt, 600);
    let llm = db
        .store
        .span_stats(&StatsQuery {
            kind: Some("LLM".into()),
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        llm.iter()
            .filter(|r| r.latency_bucket >= 0)
            .map(|r| r.spans)
            .sum::<i64>(),
        6
    );
    assert_eq!(
        db.store.models_seen(p.id).await.unwrap(),
        vec!["gpt-4o-mini".to_owned()]
    );
}

fn feedback(p: &Project, trace: u32, span: u32, label: &str, negative: bool) -> NewAnnotation {
    NewAnnotation {
        project_id: p.id,
        trace_id: format!("{trace:032x}"),
        span_id: format!("{span:016x}"),
        name: "user_feedback".into(),
        annotator_kind: "HUMAN",
        label: Some(label.into()),
        score: Some(if negative { 0.0 } else { 1.0 }),
        explanation: None,
        metadata: "{}".into(),
        identifier: String::new(),
        negative,
        source: "API",
        created_by: None,
    }
}

async fn annotations_upsert_on_their_identity_and_are_audited(db: &TestDb) {
    let (user, p) = setup(db).await;
    load(db, &p, 2).await;
    let ctx = crate::harness::as_user(&user);
    let mut tx = db.store.begin().await.unwrap();
    let first = annotation::upsert_annotations(&mut tx, &ctx, vec![feedback(&p, 1, 10, "thumbs_up", false)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // The same (span, name, identifier) again: the same annotation, changed.
    let mut tx = db.store.begin().await.unwrap();
    let again = annotation::upsert_annotations(
        &mut tx,
        &ctx,
        vec![
            feedback(&p, 1, 10, "thumbs_down", true),
            feedback(&p, 2, 20, "thumbs_up", false),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(again[0], first[0]);
    assert_ne!(again[1], first[0]);
    let stored = db.store.trace_annotations(p.id, &format!("{:032x}", 1)).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].label.as_deref(), Some("thumbs_down"));
    assert!(stored[0].negative);
    let events = db.events().await;
    let recorded: Vec<_> = events.iter().filter(|e| e.action == "annotation.recorded").collect();
    assert_eq!(recorded.len(), 2);
    assert!(recorded[1].payload.contains("thumbs_down"), "{}", recorded[1].payload);

    let now = now_ms();
    let fb = db
        .store
        .feedback_stats(p.id, now - 60_000, now + 60_000, 120_000)
        .await
        .unwrap();
    assert_eq!(fb, vec![(0, 2, 1)]);
    let some = db
        .store
        .annotations(p.id, &[format!("{:016x}", 20)], None, 10)
        .await
        .unwrap();
    assert_eq!(some.len(), 1);

    let mut tx = db.store.begin().await.unwrap();
    annotation::delete_annotation(&mut tx, &ctx, &stored[0]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        db.store
            .trace_annotations(p.id, &format!("{:032x}", 1))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn settings_and_ingest_tokens_are_audited(db: &TestDb) {
    let (user, p) = setup(db).await;
    let ctx = crate::harness::as_user(&user);
    let before = db.store.telemetry_settings(p.id).await.unwrap();
    assert_eq!((before.retention_days, before.version), (None, 0));
    let mut tx = db.store.begin().await.unwrap();
    let after = settings::save_settings(&mut tx, &ctx, &before, Some(30), None, "[]", &user)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(after.version, 1);
    let mut tx = db.store.begin().await.unwrap();
    let again = settings::save_settings(&mut tx, &ctx, &after, Some(7), Some(1000), "[]", &user)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(again.version, 2);
    assert_eq!(
        db.store.telemetry_settings(p.id).await.unwrap().retention_max_spans,
        Some(1000)
    );
    assert_eq!(db.store.all_telemetry_settings().await.unwrap().len(), 1);

    let mut tx = db.store.begin().await.unwrap();
    let token = settings::create_ingest_token(&mut tx, &ctx, p.id, "helpbot prod", "hash-1", "chi_abcd1234", &user)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let found = db.store.ingest_token_by_hash("hash-1").await.unwrap().unwrap();
    assert_eq!(found.id, token.id);
    db.store.touch_ingest_token(&found).await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    settings::revoke_ingest_token(&mut tx, &ctx, &found).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let twice = settings::revoke_ingest_token(&mut tx, &ctx, &found).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))));
    drop(tx);
    assert!(db.store.ingest_token(token.id).await.unwrap().revoked_at.is_some());
    let actions = db.actions().await;
    for a in [
        "telemetry.settings_changed",
        "ingest_token.created",
        "ingest_token.revoked",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
}

async fn retention_deletes_by_age_and_by_count(db: &TestDb) {
    let (user, p) = setup(db).await;
    load(db, &p, 10).await;
    let ctx = crate::harness::as_user(&user);
    let mut tx = db.store.begin().await.unwrap();
    annotation::upsert_annotations(&mut tx, &ctx, vec![feedback(&p, 1, 10, "thumbs_up", false)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Older than trace 4: traces 1–3 go, three spans a chunk.
    let gone = db.store.delete_spans_before(p.id, T0 + 4 * SEC, 3).await.unwrap();
    assert_eq!(gone, 6);
    assert_eq!(db.store.span_count(p.id).await.unwrap(), 14);
    assert_eq!(db.store.delete_orphan_annotations(p.id).await.unwrap(), 1);
    // Keep the newest 4 spans: traces 9 and 10.
    let cutoff = db.store.keep_newest_cutoff(p.id, 4).await.unwrap().unwrap();
    let gone = db.store.delete_spans_before(p.id, cutoff, 1000).await.unwrap();
    assert_eq!(gone, 10);
    assert_eq!(db.store.span_count(p.id).await.unwrap(), 4);
    assert_eq!(db.store.keep_newest_cutoff(p.id, 4).await.unwrap(), None);
}

async fn monitors_change_state_once_per_version(db: &TestDb) {
    let (user, p) = setup(db).await;
    let ctx = crate::harness::as_user(&user);
    let new = NewMonitor {
        project_id: p.id,
        name: "errors".into(),
        description: String::new(),
        expression: "error_rate > 0.05".into(),
        span_kind: None,
        window_secs: 3600,
        interval_secs: 60,
        severity: "high".into(),
        bundle_id: None,
        policy_id: None,
        check_id: None,
        recipients: vec!["olga".into()],
        enabled: true,
    };
    let mut tx = db.store.begin().await.unwrap();
    let m = mon::create_monitor(&mut tx, &ctx, &new, &user).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    let dup = mon::create_monitor(&mut tx, &ctx, &new, &user).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))));
    drop(tx);
    assert_eq!(db.store.due_monitors(now_ms()).await.unwrap().len(), 1);

    let change = MonitorChange {
        to_state: "triggered",
        at: now_ms(),
        next_due_at: now_ms() + 60_000,
        stats: r#"{"error_rate":0.5}"#.into(),
        finding_id: None,
        error: None,
    };
    let mut tx = db.store.begin().await.unwrap();
    mon::change_state(&mut tx, &ctx, &m, &change).await.unwrap();
    tx.commit().await.unwrap();
    // A second replica holding the same (now stale) version is refused.
    let mut tx = db.store.begin().await.unwrap();
    let stale = mon::change_state(&mut tx, &ctx, &m, &change).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))));
    drop(tx);
    let stale = db.store.record_monitor_evaluation(&m, 0, 0, "{}", None).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))));

    let now = db.store.monitor(m.id).await.unwrap();
    assert_eq!(now.state, "triggered");
    assert!(db.store.due_monitors(now_ms()).await.unwrap().is_empty());
    let history = db.store.monitor_events(m.id, 10).await.unwrap();
    assert_eq!(
        (history[0].from_state.as_str(), history[0].to_state.as_str()),
        ("pending", "triggered")
    );

    let mut changed = now.definition();
    changed.expression = "error_rate > 0.10".into();
    let mut tx = db.store.begin().await.unwrap();
    let updated = mon::update_monitor(&mut tx, &ctx, &now, &changed).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(updated.expression, "error_rate > 0.10");
    let mut tx = db.store.begin().await.unwrap();
    mon::delete_monitor(&mut tx, &ctx, &updated).await.unwrap();
    tx.commit().await.unwrap();
    let actions = db.actions().await;
    for a in [
        "monitor.created",
        "monitor.triggered",
        "monitor.updated",
        "monitor.deleted",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} missing from {actions:?}");
    }
}
