//! Write transactions: a change lands together with its audit event, or neither does.

use charter_domain::Role;
use charter_domain::time::now_ms;
use charter_store::{StoreError, group, user};

use crate::harness::{TestDb, group_name, new_user};

on_every_backend!(
    a_commit_without_an_audit_event_is_refused_and_rolled_back,
    commit_unaudited_refuses_a_change_that_queued_an_event,
    a_dropped_transaction_leaves_neither_change_nor_event,
    a_transaction_that_fails_half_way_leaves_nothing,
);

async fn a_commit_without_an_audit_event_is_refused_and_rolled_back(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    sqlx::query("INSERT INTO user_groups (id, name, description, created_at) VALUES ($1, $2, $3, $4)")
        .bind("grp_0190000000007000800000000000000a")
        .bind("sneaky")
        .bind("added without an audit event")
        .bind(now_ms())
        .execute(tx.conn())
        .await
        .unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, StoreError::Unaudited(_)), "{err:?}");

    assert!(
        db.store.groups().await.unwrap().is_empty(),
        "the unaudited change was persisted"
    );
    assert!(matches!(
        db.store.group_by_name("sneaky").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(db.store.audit_count().await.unwrap(), 0);
    assert_eq!(db.store.audit_head().await.unwrap().seq, 0);

    // The store is still usable, and the chain starts at #1.
    let ann = db.user("ann", Role::Admin).await;
    let events = db.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].seq, events[0].target_id.clone()), (1, ann.id.to_string()));
}

async fn commit_unaudited_refuses_a_change_that_queued_an_event(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    user::create(&mut tx, &db.system, new_user("ann", Role::Admin))
        .await
        .unwrap();
    let err = tx.commit_unaudited("testing the guard").await.unwrap_err();
    assert!(matches!(err, StoreError::Unaudited(_)), "{err:?}");
    assert_eq!(db.store.user_count().await.unwrap(), 0);
    assert_eq!(db.store.audit_count().await.unwrap(), 0);
}

async fn a_dropped_transaction_leaves_neither_change_nor_event(db: &TestDb) {
    {
        let mut tx = db.store.begin().await.unwrap();
        user::create(&mut tx, &db.system, new_user("ann", Role::Admin))
            .await
            .unwrap();
        // Dropped without commit, as when a handler returns early with `?`.
    }
    assert_eq!(db.store.user_count().await.unwrap(), 0);
    assert!(matches!(
        db.store.user_by_username("ann").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(db.store.audit_count().await.unwrap(), 0);
    assert_eq!(db.store.audit_head().await.unwrap().seq, 0);

    // The same change goes through afterwards (nothing of the first attempt lingers:
    // no lock, no half-reserved username), and the chain has no gap.
    let ann = db.user("ann", Role::Admin).await;
    assert_eq!(db.store.user_by_username("ann").await.unwrap(), ann);
    let events = db.events().await;
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1]);
    db.store.verify_audit(&db.key.verifying_key(), |_| {}).await.unwrap();
}

async fn a_transaction_that_fails_half_way_leaves_nothing(db: &TestDb) {
    db.group(&db.system, "taken").await;
    let mut tx = db.store.begin().await.unwrap();
    user::create(&mut tx, &db.system, new_user("ann", Role::Admin))
        .await
        .unwrap();
    let err = group::create(&mut tx, &db.system, &group_name("taken"), "")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    drop(tx);

    assert_eq!(
        db.store.user_count().await.unwrap(),
        0,
        "the first half of the failed transaction stayed"
    );
    assert_eq!(db.actions().await, ["group.created"]);
    let report = db.store.verify_audit(&db.key.verifying_key(), |_| {}).await.unwrap();
    assert_eq!(report.events, 1);
}
