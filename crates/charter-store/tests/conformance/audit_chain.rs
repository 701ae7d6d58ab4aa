//! An honest chain verifies; checkpoints sign its head.

use charter_domain::Role;
use charter_domain::audit::{ChainVerifier, GENESIS_HASH};

use crate::harness::TestDb;

on_every_backend!(
    an_empty_log_verifies_and_has_nothing_to_sign,
    an_honest_chain_verifies_and_reports_its_head,
    checkpoints_sign_the_head_once,
);

async fn an_empty_log_verifies_and_has_nothing_to_sign(db: &TestDb) {
    let report = db.store.verify_audit(&db.key.verifying_key(), |_| {}).await.unwrap();
    assert_eq!(report.events, 0);
    assert_eq!((report.head.seq, report.head.hash.as_str()), (0, GENESIS_HASH));
    assert_eq!(report.checkpoints, 0);
    assert!(db.store.checkpoint(&db.key).await.unwrap().is_none());
    assert!(db.store.checkpoints().await.unwrap().is_empty());
}

async fn an_honest_chain_verifies_and_reports_its_head(db: &TestDb) {
    for name in ["ann", "bob", "carol", "dave", "erin"] {
        db.user(name, Role::Viewer).await;
    }
    db.group(&db.system, "everyone").await;
    let events = db.events().await;
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(events[0].prev_hash, GENESIS_HASH);
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "each event links to the one before");
    }
    // The chain is checkable by the domain's verifier alone, without the store.
    let mut verifier = ChainVerifier::new();
    for e in &events {
        verifier.push(e).unwrap();
    }

    let mut progress = Vec::new();
    let report = db
        .store
        .verify_audit(&db.key.verifying_key(), |n| progress.push(n))
        .await
        .unwrap();
    assert_eq!(report.events, 6);
    assert_eq!(report.head.seq, 6);
    assert_eq!(report.head.hash, events[5].hash);
    assert_eq!(
        report.head,
        db.store.audit_head().await.unwrap(),
        "the head row agrees with the chain"
    );
    assert_eq!(
        (report.checkpoints, report.last_checkpoint_seq, report.unsigned_tail()),
        (0, 0, 6)
    );
    assert_eq!(
        progress.last(),
        Some(&6),
        "progress ends at the number of events checked"
    );
}

async fn checkpoints_sign_the_head_once(db: &TestDb) {
    let vk = db.key.verifying_key();
    db.user("ann", Role::Admin).await;
    db.user("bob", Role::Admin).await;

    let first = db.store.checkpoint(&db.key).await.unwrap().expect("a first checkpoint");
    let head = db.store.audit_head().await.unwrap();
    assert_eq!((first.seq, &first.head_hash), (2, &head.hash));
    assert_eq!(first.public_key, db.key.public_hex());
    first.verify_signature(&vk).unwrap();
    assert!(
        db.store.checkpoint(&db.key).await.unwrap().is_none(),
        "nothing new to sign"
    );
    assert_eq!(db.store.checkpoints().await.unwrap(), std::slice::from_ref(&first));
    // A checkpoint is not itself an audited change.
    assert_eq!(db.store.audit_count().await.unwrap(), 2);

    let report = db.store.verify_audit(&vk, |_| {}).await.unwrap();
    assert_eq!(
        (report.checkpoints, report.last_checkpoint_seq, report.unsigned_tail()),
        (1, 2, 0)
    );

    db.user("carol", Role::Viewer).await;
    let report = db.store.verify_audit(&vk, |_| {}).await.unwrap();
    assert_eq!(
        report.unsigned_tail(),
        1,
        "the newest event is vouched for by the chain alone"
    );

    db.user("dave", Role::Viewer).await;
    let second = db
        .store
        .checkpoint(&db.key)
        .await
        .unwrap()
        .expect("a second checkpoint");
    assert_eq!(second.seq, 4);
    second.verify_signature(&vk).unwrap();
    assert!(db.store.checkpoint(&db.key).await.unwrap().is_none());
    assert_eq!(db.store.checkpoints().await.unwrap(), [first, second]);

    let report = db.store.verify_audit(&vk, |_| {}).await.unwrap();
    assert_eq!(report.events, 4);
    assert_eq!(
        (report.checkpoints, report.last_checkpoint_seq, report.unsigned_tail()),
        (2, 4, 0)
    );
}
