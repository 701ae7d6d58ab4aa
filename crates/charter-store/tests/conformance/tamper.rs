//! Someone with write access to the database edits the log behind Charter's back.
//! Verification must fail and name the first broken event (or checkpoint).
//!
//! The append-only triggers stop mistakes, not attackers, so each test first drops
//! them, as an attacker could.

use charter_domain::Role;
use charter_domain::audit::{AuditEvent, AuditKey, ChainBreak};
use charter_domain::id::AuditEventId;
use charter_store::StoreError;
use charter_store::audit::VerifyReport;
use sqlx::Row as _;

use crate::harness::TestDb;

on_every_backend!(
    append_only_triggers_refuse_updates_and_deletes,
    an_edited_payload_is_found_at_its_event,
    a_deleted_event_shows_as_a_gap,
    swapped_events_break_the_link,
    a_forged_event_in_the_middle_breaks_the_next_link,
    a_rehashed_chain_contradicts_its_checkpoint,
    truncation_below_the_last_checkpoint_is_found,
    a_truncated_unsigned_tail_is_caught_by_the_head_row_unless_it_is_rewound_too,
    an_altered_checkpoint_signature_is_found,
    a_different_key_does_not_vouch_for_the_checkpoints,
);

/// `n` events, one user each.
async fn seed(db: &TestDb, n: usize) -> Vec<AuditEvent> {
    for i in 0..n {
        db.user(&format!("user{i}"), Role::Viewer).await;
    }
    let events = db.events().await;
    assert_eq!(events.len(), n);
    events
}

async fn verify(db: &TestDb) -> Result<VerifyReport, StoreError> {
    db.store.verify_audit(&db.key.verifying_key(), |_| {}).await
}

async fn break_of(db: &TestDb) -> ChainBreak {
    match verify(db).await {
        Err(StoreError::Chain(b)) => b,
        other => panic!("expected a chain break, got {other:?}"),
    }
}

async fn append_only_triggers_refuse_updates_and_deletes(db: &TestDb) {
    let events = seed(db, 3).await;
    let update = db
        .try_exec("UPDATE audit_events SET payload = '{}' WHERE seq = 2")
        .await
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = db.try_exec("DELETE FROM audit_events WHERE seq = 3").await.unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
    let delete_all = db.try_exec("DELETE FROM audit_events").await.unwrap_err();
    assert!(delete_all.to_string().contains("append-only"), "{delete_all}");

    assert_eq!(db.events().await, events, "the log is unchanged");
    assert_eq!(verify(db).await.unwrap().events, 3);
}

async fn an_edited_payload_is_found_at_its_event(db: &TestDb) {
    let events = seed(db, 6).await;
    db.drop_append_only_triggers().await;
    sqlx::query("UPDATE audit_events SET payload = $1 WHERE seq = $2")
        .bind(r#"{"after":{"username":"mallory","role":"admin"}}"#)
        .bind(4_i64)
        .execute(db.store.pool())
        .await
        .unwrap();
    assert_eq!(
        break_of(db).await,
        ChainBreak::HashMismatch {
            seq: 4,
            id: events[3].id.clone()
        }
    );
}

async fn a_deleted_event_shows_as_a_gap(db: &TestDb) {
    let events = seed(db, 6).await;
    db.drop_append_only_triggers().await;
    db.exec("DELETE FROM audit_events WHERE seq = 3").await;
    let b = break_of(db).await;
    assert_eq!(
        b,
        ChainBreak::Gap {
            seq: 4,
            id: events[3].id.clone(),
            prev_seq: 2,
            missing: "3".into()
        }
    );
    assert!(b.to_string().contains("deleted"), "{b}");
}

async fn swapped_events_break_the_link(db: &TestDb) {
    let events = seed(db, 6).await;
    db.drop_append_only_triggers().await;
    // Rows 3 and 4 trade places: each keeps its contents under the other's seq.
    db.exec("UPDATE audit_events SET seq = -1 WHERE seq = 3").await;
    db.exec("UPDATE audit_events SET seq = 3 WHERE seq = 4").await;
    db.exec("UPDATE audit_events SET seq = 4 WHERE seq = -1").await;
    let moved: String = sqlx::query("SELECT id FROM audit_events WHERE seq = 3")
        .fetch_one(db.store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(moved, events[3].id);
    assert_eq!(
        break_of(db).await,
        ChainBreak::BrokenLink {
            seq: 3,
            id: events[3].id.clone(),
            prev_seq: 2
        }
    );
}

async fn a_forged_event_in_the_middle_breaks_the_next_link(db: &TestDb) {
    let events = seed(db, 6).await;
    db.drop_append_only_triggers().await;
    // Make room after #3: move #4…#6 up by one (via negatives, so that no statement
    // collides with a row not yet moved), then slip in a perfectly hashed forgery.
    db.exec("UPDATE audit_events SET seq = -seq WHERE seq > 3").await;
    db.exec("UPDATE audit_events SET seq = 1 - seq WHERE seq < 0").await;
    let mut forged = AuditEvent {
        seq: 4,
        id: AuditEventId::new().to_string(),
        occurred_at: events[2].occurred_at,
        action: "user.updated".into(),
        payload: r#"{"after":{"role":"admin"}}"#.into(),
        ..events[2].clone()
    };
    forged.seal(&events[2].hash);
    db.insert_event_row(&forged).await;

    // The forgery itself links and hashes correctly; the original #4, now at #5, no
    // longer links to what precedes it.
    assert_eq!(
        break_of(db).await,
        ChainBreak::BrokenLink {
            seq: 5,
            id: events[3].id.clone(),
            prev_seq: 4
        }
    );
}

async fn a_rehashed_chain_contradicts_its_checkpoint(db: &TestDb) {
    let events = seed(db, 5).await;
    db.store.checkpoint(&db.key).await.unwrap().expect("a checkpoint at #5");
    db.drop_append_only_triggers().await;
    // The attacker edits #2 and recomputes every hash after it: the chain is
    // internally consistent again, but it is not the chain that was signed.
    let mut prev = events[0].hash.clone();
    for original in &events[1..] {
        let mut e = original.clone();
        if e.seq == 2 {
            e.payload = r#"{"after":{"username":"user1","role":"admin"}}"#.into();
        }
        e.seal(&prev);
        prev.clone_from(&e.hash);
        sqlx::query("UPDATE audit_events SET payload = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
            .bind(&e.payload)
            .bind(&e.prev_hash)
            .bind(&e.hash)
            .bind(e.seq)
            .execute(db.store.pool())
            .await
            .unwrap();
    }
    assert_eq!(
        break_of(db).await,
        ChainBreak::CheckpointMismatch {
            seq: 5,
            signed: events[4].hash.clone(),
            found: prev
        }
    );
}

async fn truncation_below_the_last_checkpoint_is_found(db: &TestDb) {
    seed(db, 10).await;
    let cp = db
        .store
        .checkpoint(&db.key)
        .await
        .unwrap()
        .expect("a checkpoint at #10");
    assert_eq!(cp.seq, 10);
    db.user("late1", Role::Viewer).await;
    db.user("late2", Role::Viewer).await;
    assert_eq!(verify(db).await.unwrap().events, 12);

    db.drop_append_only_triggers().await;
    // Cut off the newest events, reaching below the signed head.
    db.exec("DELETE FROM audit_events WHERE seq >= 9").await;
    let b = break_of(db).await;
    assert_eq!(b, ChainBreak::Truncated { seq: 10, last: 8 });
    assert!(b.to_string().contains("truncated"), "{b}");
}

async fn a_truncated_unsigned_tail_is_caught_by_the_head_row_unless_it_is_rewound_too(db: &TestDb) {
    seed(db, 5).await;
    db.store.checkpoint(&db.key).await.unwrap().expect("a checkpoint at #5");
    db.user("late1", Role::Viewer).await;
    db.user("late2", Role::Viewer).await;
    db.drop_append_only_triggers().await;
    db.exec("DELETE FROM audit_events WHERE seq > 5").await;

    // The head row still counts #7, so verify reports the cut at once…
    assert_eq!(break_of(db).await, ChainBreak::HeadAhead { head: 7, last: 5 });
    // …but an attacker who also rewinds the head row leaves a chain that verifies:
    // events after the newest checkpoint are vouched for by the chain alone (what
    // `unsigned_tail` warns about, and exported checkpoints close).
    db.exec("UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_events WHERE seq = 5) WHERE id = 1")
        .await;
    let report = verify(db).await.unwrap();
    assert_eq!((report.events, report.unsigned_tail()), (5, 0));
}

async fn an_altered_checkpoint_signature_is_found(db: &TestDb) {
    seed(db, 3).await;
    let first = db.store.checkpoint(&db.key).await.unwrap().unwrap();
    db.user("late", Role::Viewer).await;
    let second = db.store.checkpoint(&db.key).await.unwrap().unwrap();
    assert_eq!((first.seq, second.seq), (3, 4));

    // Flip one hex digit of the first checkpoint's signature.
    let flipped = match &first.signature[..1] {
        "0" => "1",
        _ => "0",
    };
    let altered = format!("{flipped}{}", &first.signature[1..]);
    sqlx::query("UPDATE audit_checkpoints SET signature = $1 WHERE seq = $2")
        .bind(&altered)
        .bind(first.seq)
        .execute(db.store.pool())
        .await
        .unwrap();
    assert_eq!(break_of(db).await, ChainBreak::BadSignature { seq: 3 });

    // A signature that is not even hex is just as bad.
    sqlx::query("UPDATE audit_checkpoints SET signature = 'not-a-signature' WHERE seq = $1")
        .bind(first.seq)
        .execute(db.store.pool())
        .await
        .unwrap();
    assert_eq!(break_of(db).await, ChainBreak::BadSignature { seq: 3 });
}

async fn a_different_key_does_not_vouch_for_the_checkpoints(db: &TestDb) {
    seed(db, 3).await;
    db.store.checkpoint(&db.key).await.unwrap().unwrap();
    let other = AuditKey::from_seed([42; 32]);
    let err = db.store.verify_audit(&other.verifying_key(), |_| {}).await.unwrap_err();
    match err {
        StoreError::Chain(b) => assert_eq!(
            b,
            ChainBreak::UnknownKey {
                seq: 3,
                found: db.key.public_hex(),
                expected: other.public_hex()
            }
        ),
        other => panic!("expected a chain break, got {other:?}"),
    }
    // The right key still verifies.
    assert_eq!(verify(db).await.unwrap().checkpoints, 1);
}
