//! Listing the audit log: every filter narrows, both directions, and paging walks
//! every event exactly once.

use charter_domain::Role;
use charter_domain::audit::{ActorKind, AuditEvent};
use charter_domain::token::TokenSecret;
use charter_store::audit::AuditFilter;
use charter_store::user::{self, UserChanges};
use charter_store::{Actor, AuditContext, Store, group, token};
use serde_json::json;

use crate::harness::{TestDb, as_user};

on_every_backend!(
    filters_by_actor_action_and_target,
    filters_by_time_window,
    lists_newest_first_unless_ascending,
    paging_walks_every_event_exactly_once,
);

struct Log {
    ann_id: String,
    bob_id: String,
    group_id: String,
    all: Vec<AuditEvent>,
}

/// Ten events by three actors about users, a group and a token:
///
/// | seq | actor        | action                 | target      |
/// |-----|--------------|------------------------|-------------|
/// | 1   | test         | user.created           | user:ann    |
/// | 2   | test         | user.created           | user:bob    |
/// | 3   | ann          | group.created          | group:rev   |
/// | 4   | ann          | group.member_added     | group:rev   |
/// | 5   | bob (token)  | token.created          | token:…     |
/// | 6   | ann          | user.disabled          | user:bob    |
/// | 7   | ann          | user.enabled           | user:bob    |
/// | 8   | ann          | user_settings.changed  | user:ann    |
/// | 9   | test         | usersync.ran           | system:sync |
/// | 10  | bob (token)  | group.member_added     | group:rev   |
async fn seed(db: &TestDb) -> Log {
    let ann = db.user("ann", Role::Admin).await;
    let bob = db.user("bob", Role::Practitioner).await;
    let as_ann = as_user(&ann);
    let rev = db.group(&as_ann, "reviewers").await;
    let mut tx = db.store.begin().await.unwrap();
    group::add_member(&mut tx, &as_ann, &rev, &ann).await.unwrap();
    tx.commit().await.unwrap();

    let bob_by_token = AuditContext {
        actor: Actor {
            kind: ActorKind::Token,
            id: bob.id.to_string(),
            name: "bob".into(),
            token: Some("tok_x".into()),
        },
        request_id: "req-bob".into(),
        client_addr: "198.51.100.7".into(),
    };
    let mut tx = db.store.begin().await.unwrap();
    token::create(
        &mut tx,
        &bob_by_token,
        &bob,
        "ci",
        &TokenSecret::from_random([9; 32]),
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    for disabled in [true, false] {
        let mut tx = db.store.begin().await.unwrap();
        let changes = UserChanges {
            disabled: Some(disabled),
            ..UserChanges::default()
        };
        user::update(&mut tx, &as_ann, bob.id, changes).await.unwrap();
        tx.commit().await.unwrap();
    }

    // Actions whose names test the prefix match: `_` must not act as a wildcard.
    let mut tx = db.store.begin().await.unwrap();
    tx.audit(as_ann.event("user_settings.changed", "user", ann.id, json!({})));
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    tx.audit(db.system.event("usersync.ran", "system", "sync", json!({})));
    tx.commit().await.unwrap();

    let mut tx = db.store.begin().await.unwrap();
    group::add_member(&mut tx, &bob_by_token, &rev, &bob).await.unwrap();
    tx.commit().await.unwrap();

    let all = db.events().await;
    assert_eq!(all.len(), 10);
    Log {
        ann_id: ann.id.to_string(),
        bob_id: bob.id.to_string(),
        group_id: rev.id.to_string(),
        all,
    }
}

async fn seqs(store: &Store, filter: AuditFilter) -> Vec<i64> {
    store
        .audit_events(&filter)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

/// `filter`, oldest first.
fn asc(filter: AuditFilter) -> AuditFilter {
    AuditFilter {
        ascending: true,
        ..filter
    }
}

fn actor(a: &str) -> AuditFilter {
    AuditFilter {
        actor: Some(a.into()),
        ..AuditFilter::default()
    }
}

fn action(a: &str) -> AuditFilter {
    AuditFilter {
        action: Some(a.into()),
        ..AuditFilter::default()
    }
}

fn target(t: &str) -> AuditFilter {
    AuditFilter {
        target: Some(t.into()),
        ..AuditFilter::default()
    }
}

async fn filters_by_actor_action_and_target(db: &TestDb) {
    let log = seed(db).await;
    let s = &db.store;

    assert_eq!(seqs(s, asc(actor("ann"))).await, [3, 4, 6, 7, 8]);
    assert_eq!(seqs(s, asc(actor(&log.ann_id))).await, [3, 4, 6, 7, 8], "by user id");
    assert_eq!(
        seqs(s, asc(actor("bob"))).await,
        [5, 10],
        "a token's events are its owner's"
    );
    assert_eq!(seqs(s, asc(actor("test"))).await, [1, 2, 9]);
    assert!(seqs(s, actor("nobody")).await.is_empty());

    assert_eq!(seqs(s, asc(action("user.created"))).await, [1, 2]);
    assert_eq!(seqs(s, asc(action("group.member_added"))).await, [4, 10]);
    assert!(
        seqs(s, action("user")).await.is_empty(),
        "an exact action is not a prefix"
    );
    assert_eq!(seqs(s, asc(action("user.*"))).await, [1, 2, 6, 7]);
    assert_eq!(seqs(s, asc(action("user_*"))).await, [8], "`_` is literal");
    assert_eq!(seqs(s, asc(action("user*"))).await, [1, 2, 6, 7, 8, 9]);
    assert_eq!(seqs(s, asc(action("*"))).await, (1..=10).collect::<Vec<_>>());

    assert_eq!(seqs(s, asc(target("group"))).await, [3, 4, 10]);
    assert_eq!(seqs(s, asc(target("user"))).await, [1, 2, 6, 7, 8]);
    assert_eq!(seqs(s, asc(target(&format!("user:{}", log.bob_id)))).await, [2, 6, 7]);
    assert_eq!(seqs(s, asc(target(&format!("user:{}", log.ann_id)))).await, [1, 8]);
    assert_eq!(
        seqs(s, asc(target(&format!("group:{}", log.group_id)))).await,
        [3, 4, 10]
    );
    assert_eq!(seqs(s, asc(target("system:sync"))).await, [9]);
    assert!(seqs(s, target("user:usr_nobody")).await.is_empty());
    assert!(
        seqs(s, target(&format!("group:{}", log.bob_id))).await.is_empty(),
        "type and id must both match"
    );

    let ann_on_users = AuditFilter {
        actor: Some("ann".into()),
        action: Some("user.*".into()),
        target: Some(format!("user:{}", log.bob_id)),
        ascending: true,
        ..AuditFilter::default()
    };
    assert_eq!(seqs(s, ann_on_users).await, [6, 7], "filters combine with AND");

    // Empty strings mean "any", as a blank form field would.
    let blank = AuditFilter {
        actor: Some(String::new()),
        action: Some(String::new()),
        target: Some(String::new()),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(s, blank).await.len(), 10);

    // What comes back is the stored event, whole.
    let found = s.audit_events(&action("token.created")).await.unwrap();
    assert_eq!(found, [log.all[4].clone()]);
    assert_eq!(found[0].actor_kind, "token");
    assert_eq!(found[0].actor_token, "tok_x");
    assert_eq!(s.audit_event(&found[0].id).await.unwrap(), found[0]);
}

async fn filters_by_time_window(db: &TestDb) {
    let log = seed(db).await;
    let s = &db.store;
    let times: Vec<i64> = log.all.iter().map(|e| e.occurred_at).collect();
    let (first, last) = (times[0], times[times.len() - 1]);
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "time goes forward along the chain"
    );

    // The expected answer, from the events themselves: no assumption about how many
    // milliseconds the seeding took.
    let expect = |since: Option<i64>, until: Option<i64>| -> Vec<i64> {
        log.all
            .iter()
            .filter(|e| since.is_none_or(|t| e.occurred_at >= t) && until.is_none_or(|t| e.occurred_at < t))
            .map(|e| e.seq)
            .collect()
    };
    let window = |since: Option<i64>, until: Option<i64>| {
        asc(AuditFilter {
            since,
            until,
            ..AuditFilter::default()
        })
    };
    let middle = times[5];
    for (since, until) in [
        (Some(first), None),
        (None, Some(last + 1)),
        (Some(middle), None),
        (None, Some(middle)),
        (Some(middle), Some(middle + 1)),
        (Some(first), Some(last + 1)),
    ] {
        assert_eq!(
            seqs(s, window(since, until)).await,
            expect(since, until),
            "since {since:?} until {until:?}"
        );
    }
    assert_eq!(seqs(s, window(Some(first), Some(last + 1))).await.len(), 10);
    assert!(
        seqs(s, window(Some(last + 1), None)).await.is_empty(),
        "nothing after the last event"
    );
    assert!(
        seqs(s, window(None, Some(first))).await.is_empty(),
        "until is exclusive"
    );
    let at_middle = seqs(s, window(Some(middle), Some(middle + 1))).await;
    assert!(
        at_middle.contains(&6),
        "the event at {middle} is inside [{middle}, {})",
        middle + 1
    );
}

async fn lists_newest_first_unless_ascending(db: &TestDb) {
    seed(db).await;
    let newest_first = seqs(&db.store, AuditFilter::default()).await;
    assert_eq!(newest_first, (1..=10).rev().collect::<Vec<_>>());
    let oldest_first = seqs(&db.store, asc(AuditFilter::default())).await;
    assert_eq!(oldest_first, (1..=10).collect::<Vec<_>>());
    let latest_two = AuditFilter {
        limit: Some(2),
        ..AuditFilter::default()
    };
    assert_eq!(seqs(&db.store, latest_two).await, [10, 9]);
    let filtered = seqs(&db.store, action("user.*")).await;
    assert_eq!(filtered, [7, 6, 2, 1]);
}

async fn paging_walks_every_event_exactly_once(db: &TestDb) {
    seed(db).await;
    // Ten events in pages of three, both ways, with and without a filter.
    for ascending in [true, false] {
        for (filter, expected) in [
            (AuditFilter::default(), (1..=10).collect::<Vec<i64>>()),
            (action("user.*"), vec![1, 2, 6, 7]),
        ] {
            let mut walked = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                let page = AuditFilter {
                    ascending,
                    after_seq: after,
                    limit: Some(3),
                    ..filter.clone()
                };
                let got = seqs(&db.store, page).await;
                assert!(got.len() <= 3);
                pages += 1;
                assert!(pages <= 10, "paging does not end");
                let Some(&last) = got.last() else { break };
                walked.extend(got);
                after = Some(last);
            }
            let mut want = expected.clone();
            if !ascending {
                want.reverse();
            }
            assert_eq!(walked, want, "ascending={ascending}, filter={filter:?}");
            // Full pages, then one empty page that says the walk is over.
            assert_eq!(pages, expected.len().div_ceil(3) + 1);
        }
    }
}
