//! Users, groups, tokens and sessions through the public API: each change is
//! visible afterwards and left exactly its audit events behind.

use charter_domain::Role;
use charter_domain::time::now_ms;
use charter_domain::token::TokenSecret;
use charter_store::session::{self, NewSession};
use charter_store::user::{self, UserChanges};
use charter_store::{StoreError, group, token};

use crate::harness::{TestDb, as_user, group_name, new_user};

on_every_backend!(
    users_are_created_listed_and_found,
    a_taken_username_is_a_conflict_and_leaves_no_event,
    groups_gain_and_lose_members,
    tokens_are_found_by_secret_and_revoked_once,
    sessions_start_end_and_die_with_a_disabled_user,
    one_transaction_records_each_of_its_changes,
    users_and_groups_are_listed_in_byte_order,
    a_new_password_ends_every_session,
);

async fn users_are_created_listed_and_found(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    let ann = user::create(&mut tx, &db.system, new_user("ann", Role::Admin))
        .await
        .unwrap();
    let events = tx.commit().await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].seq, events[0].action.as_str(), events[0].target_type.as_str()),
        (1, "user.created", "user")
    );
    assert_eq!(events[0].target_id, ann.id.to_string());
    assert_eq!(events[0].actor_name, "test");
    assert_eq!(events[0].actor_kind, "system");
    let payload: serde_json::Value = serde_json::from_str(&events[0].payload).unwrap();
    assert_eq!(payload["after"]["username"], "ann");
    assert_eq!(payload["after"]["role"], "admin");

    let bob = db.user("bob", Role::Viewer).await;

    let users = db.store.users().await.unwrap();
    assert_eq!(
        users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(),
        ["ann", "bob"]
    );
    assert_eq!(db.store.user(ann.id).await.unwrap(), ann);
    let found = db.store.user_by_username("bob").await.unwrap();
    assert_eq!(found, bob);
    assert_eq!(found.role, Role::Viewer);
    assert_eq!(found.email, "bob@example.com");
    assert!(!found.disabled);
    assert!(matches!(
        db.store.user_by_username("carol").await,
        Err(StoreError::NotFound(_))
    ));

    let mut tx = db.store.begin().await.unwrap();
    let changed = user::update(
        &mut tx,
        &as_user(&ann),
        bob.id,
        UserChanges {
            role: Some(Role::Practitioner),
            ..UserChanges::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(changed.role, Role::Practitioner);
    assert_eq!(db.store.user(bob.id).await.unwrap().role, Role::Practitioner);

    let events = db.events().await;
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["user.created", "user.created", "user.updated"]
    );
    let update = &events[2];
    assert_eq!(
        (update.actor_name.as_str(), update.actor_id.clone()),
        ("ann", ann.id.to_string())
    );
    assert_eq!(update.request_id, "req-ann");
    let payload: serde_json::Value = serde_json::from_str(&update.payload).unwrap();
    assert_eq!(payload["before"]["role"], "viewer");
    assert_eq!(payload["after"]["role"], "practitioner");
}

async fn a_taken_username_is_a_conflict_and_leaves_no_event(db: &TestDb) {
    db.user("ann", Role::Admin).await;
    let mut tx = db.store.begin().await.unwrap();
    let err = user::create(&mut tx, &db.system, new_user("ann", Role::Viewer))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("ann")),
        "{err:?}"
    );
    drop(tx);
    assert_eq!(db.store.user_count().await.unwrap(), 1);
    assert_eq!(db.store.user_by_username("ann").await.unwrap().role, Role::Admin);
    assert_eq!(db.actions().await, ["user.created"]);
}

async fn groups_gain_and_lose_members(db: &TestDb) {
    let ann = db.user("ann", Role::Admin).await;
    let bob = db.user("bob", Role::Practitioner).await;
    let ctx = as_user(&ann);
    let reviewers = db.group(&ctx, "reviewers").await;
    let auditors = db.group(&ctx, "auditors").await;

    let mut tx = db.store.begin().await.unwrap();
    let err = group::create(&mut tx, &ctx, &group_name("reviewers"), "again")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    drop(tx);

    for (g, u) in [(&reviewers, &ann), (&reviewers, &bob), (&auditors, &bob)] {
        let mut tx = db.store.begin().await.unwrap();
        group::add_member(&mut tx, &ctx, g, u).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = db.store.begin().await.unwrap();
    let err = group::add_member(&mut tx, &ctx, &reviewers, &bob).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    drop(tx);

    let groups = db.store.groups().await.unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.name.as_str(), g.member_count))
            .collect::<Vec<_>>(),
        [("auditors", 1), ("reviewers", 2)]
    );
    let members = db.store.group_members(reviewers.id).await.unwrap();
    assert_eq!(
        members.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(),
        ["ann", "bob"]
    );
    assert_eq!(db.store.groups_of(bob.id).await.unwrap(), ["auditors", "reviewers"]);

    let mut tx = db.store.begin().await.unwrap();
    group::remove_member(&mut tx, &ctx, &reviewers, &bob).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(db.store.groups_of(bob.id).await.unwrap(), ["auditors"]);
    assert_eq!(db.store.group(reviewers.id).await.unwrap().member_count, 1);

    let mut tx = db.store.begin().await.unwrap();
    let err = group::remove_member(&mut tx, &ctx, &reviewers, &bob).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    drop(tx);

    let events = db.events().await;
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        [
            "user.created",
            "user.created",
            "group.created",
            "group.created",
            "group.member_added",
            "group.member_added",
            "group.member_added",
            "group.member_removed",
        ]
    );
    let removed = events.last().unwrap();
    assert_eq!(removed.target_type, "group");
    assert_eq!(removed.target_id, reviewers.id.to_string());
    assert_eq!(removed.actor_name, "ann");
    let payload: serde_json::Value = serde_json::from_str(&removed.payload).unwrap();
    assert_eq!(payload["username"], "bob");
}

async fn tokens_are_found_by_secret_and_revoked_once(db: &TestDb) {
    let ann = db.user("ann", Role::Practitioner).await;
    let ctx = as_user(&ann);
    let secret = TokenSecret::from_random([1; 32]);
    let expires = now_ms() + 86_400_000;

    let mut tx = db.store.begin().await.unwrap();
    let tok = token::create(&mut tx, &ctx, &ann, "laptop", &secret, Some(expires))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(tok.is_active(now_ms()));

    let listed = db.store.tokens_of(ann.id).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&tok));
    let (found, owner) = db
        .store
        .token_by_secret(&secret)
        .await
        .unwrap()
        .expect("the token is found");
    assert_eq!(found, tok);
    assert_eq!(owner, ann);
    assert_eq!(found.prefix, secret.display_prefix());
    assert_eq!(found.expires_at, Some(expires));
    assert!(
        db.store
            .token_by_secret(&TokenSecret::from_random([2; 32]))
            .await
            .unwrap()
            .is_none()
    );

    // Recording use is bookkeeping: it leaves no audit event.
    db.store.touch_token(&tok).await.unwrap();
    let touched = db.store.token(tok.id).await.unwrap();
    assert!(touched.last_used_at.is_some_and(|t| t >= tok.created_at));
    assert_eq!(db.store.audit_count().await.unwrap(), 2);

    let mut tx = db.store.begin().await.unwrap();
    let revoked = token::revoke(&mut tx, &ctx, &tok).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!revoked.is_active(now_ms()));
    let (stored, _) = db.store.token_by_secret(&secret).await.unwrap().unwrap();
    assert!(
        stored.revoked_at.is_some(),
        "a revoked token is still found, marked revoked"
    );
    assert!(!stored.is_active(now_ms()));

    let mut tx = db.store.begin().await.unwrap();
    let err = token::revoke(&mut tx, &ctx, &tok).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    drop(tx);

    let events = db.events().await;
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["user.created", "token.created", "token.revoked"]
    );
    // The secret never reaches the log.
    for e in &events {
        assert!(!e.payload.contains(secret.expose()), "{}", e.payload);
        assert!(!e.payload.contains(&secret.hash()), "{}", e.payload);
    }
    assert_eq!(
        (events[1].target_type.as_str(), events[1].target_id.clone()),
        ("token", tok.id.to_string())
    );
}

fn new_session(id_hash: &str, user: &charter_store::user::User) -> NewSession {
    NewSession {
        id_hash: id_hash.to_owned(),
        user_id: user.id,
        csrf_token: format!("csrf-{id_hash}"),
        expires_at: now_ms() + 3_600_000,
        client_addr: "192.0.2.1".into(),
        user_agent: "conformance".into(),
    }
}

async fn sessions_start_end_and_die_with_a_disabled_user(db: &TestDb) {
    let admin = db.user("admin", Role::Admin).await;
    let bob = db.user("bob", Role::Practitioner).await;
    let first = "a".repeat(64);
    let second = "b".repeat(64);

    let mut tx = db.store.begin().await.unwrap();
    session::create(&mut tx, &as_user(&bob), new_session(&first, &bob))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let live = db.store.session(&first).await.unwrap().expect("the session is live");
    assert_eq!(live.user, bob);
    assert_eq!(live.csrf_token, format!("csrf-{first}"));

    let mut tx = db.store.begin().await.unwrap();
    session::end(&mut tx, &as_user(&bob), &live).await.unwrap();
    tx.commit().await.unwrap();
    assert!(db.store.session(&first).await.unwrap().is_none(), "signed out");

    let mut tx = db.store.begin().await.unwrap();
    session::create(&mut tx, &as_user(&bob), new_session(&second, &bob))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(db.store.session(&second).await.unwrap().is_some());

    let disable = UserChanges {
        disabled: Some(true),
        ..UserChanges::default()
    };
    let mut tx = db.store.begin().await.unwrap();
    let disabled = user::update(&mut tx, &as_user(&admin), bob.id, disable).await.unwrap();
    tx.commit().await.unwrap();
    assert!(disabled.disabled);
    assert!(
        db.store.session(&second).await.unwrap().is_none(),
        "a disabled user has no session"
    );

    // Enabling the account again does not bring the old session back: it ended.
    let enable = UserChanges {
        disabled: Some(false),
        ..UserChanges::default()
    };
    let mut tx = db.store.begin().await.unwrap();
    user::update(&mut tx, &as_user(&admin), bob.id, enable).await.unwrap();
    tx.commit().await.unwrap();
    assert!(!db.store.user(bob.id).await.unwrap().disabled);
    assert!(
        db.store.session(&second).await.unwrap().is_none(),
        "the session ended with the disable"
    );

    let events = db.events().await;
    assert_eq!(
        events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        [
            "user.created",
            "user.created",
            "session.created",
            "session.ended",
            "session.created",
            "user.disabled",
            "user.enabled",
        ]
    );
    // The session id is a secret: the log keeps only a short prefix of its hash.
    for e in &events {
        assert!(
            !e.payload.contains(&first) && !e.payload.contains(&second),
            "{}",
            e.payload
        );
    }
    assert_eq!(events[5].target_id, bob.id.to_string());
    assert_eq!(events[5].actor_name, "admin");

    // An expired session is gone for the user at once, and purged without an event.
    let stale = NewSession {
        expires_at: now_ms() - 1,
        ..new_session(&"c".repeat(64), &bob)
    };
    let mut tx = db.store.begin().await.unwrap();
    session::create(&mut tx, &as_user(&bob), stale).await.unwrap();
    tx.commit().await.unwrap();
    assert!(db.store.session(&"c".repeat(64)).await.unwrap().is_none());
    assert_eq!(db.store.purge_expired_sessions().await.unwrap(), 1);
    assert_eq!(db.store.purge_expired_sessions().await.unwrap(), 0);
    assert_eq!(db.store.audit_count().await.unwrap(), 8);
}

async fn a_new_password_ends_every_session(db: &TestDb) {
    let bob = db.user("bob", Role::Practitioner).await;
    for id in ["d", "e"] {
        let mut tx = db.store.begin().await.unwrap();
        session::create(&mut tx, &as_user(&bob), new_session(&id.repeat(64), &bob))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    let mut tx = db.store.begin().await.unwrap();
    user::set_password(&mut tx, &as_user(&bob), bob.id, hash).await.unwrap();
    tx.commit().await.unwrap();

    let (found, stored) = db.store.user_with_password("bob").await.unwrap();
    assert_eq!(found.id, bob.id);
    assert_eq!(stored.as_deref(), Some(hash));
    for id in ["d", "e"] {
        assert!(db.store.session(&id.repeat(64)).await.unwrap().is_none());
    }
    let events = db.events().await;
    let changed = events.last().unwrap();
    assert_eq!(changed.action, "user.password_changed");
    assert!(
        !changed.payload.contains("argon2"),
        "the hash is not recorded: {}",
        changed.payload
    );
}

/// Lists come out in the same order on every backend: byte order, as SQLite sorts.
/// (A PostgreSQL database with a linguistic collation, such as `en_US.UTF-8`, sorts
/// `a-c` after `ab` and fails here.)
async fn users_and_groups_are_listed_in_byte_order(db: &TestDb) {
    let names = ["ab", "a_z", "a1", "a.b", "a-c", "b"];
    for name in names {
        db.user(name, Role::Viewer).await;
        db.group(&db.system, name).await;
    }
    let mut sorted = names;
    sorted.sort_unstable();
    assert_eq!(sorted, ["a-c", "a.b", "a1", "a_z", "ab", "b"]);
    let users = db.store.users().await.unwrap();
    assert_eq!(users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), sorted);
    let groups = db.store.groups().await.unwrap();
    assert_eq!(groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), sorted);
}

async fn one_transaction_records_each_of_its_changes(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    let ann = user::create(&mut tx, &db.system, new_user("ann", Role::Admin))
        .await
        .unwrap();
    let bob = user::create(&mut tx, &db.system, new_user("bob", Role::Viewer))
        .await
        .unwrap();
    let g = group::create(&mut tx, &db.system, &group_name("owners"), "")
        .await
        .unwrap();
    group::add_member(&mut tx, &db.system, &g, &ann).await.unwrap();
    let events = tx.commit().await.unwrap();
    assert_eq!(
        events.iter().map(|e| (e.seq, e.action.as_str())).collect::<Vec<_>>(),
        [
            (1, "user.created"),
            (2, "user.created"),
            (3, "group.created"),
            (4, "group.member_added")
        ]
    );
    // What commit returned is exactly what was stored.
    assert_eq!(db.events().await, events);
    assert_eq!(events[1].target_id, bob.id.to_string());
    assert_eq!(db.store.groups_of(ann.id).await.unwrap(), ["owners"]);
    let head = db.store.audit_head().await.unwrap();
    assert_eq!((head.seq, head.hash.as_str()), (4, events[3].hash.as_str()));
}
