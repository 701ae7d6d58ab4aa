//! Many writers at once: the chain stays linear, gap-free and verifiable.

use charter_store::{AuditContext, Store, group};

use crate::harness::{TestDb, events_of, group_name};

on_every_backend!(
    concurrent_writers_on_one_store_keep_the_chain_linear,
    two_stores_on_one_database_keep_the_chain_linear,
    two_stores_checkpointing_at_once_sign_each_head_once,
);

const TASKS: usize = 8;
const WRITES: usize = 50;

/// `writes` audited group creations, one transaction each, named after `writer`.
async fn write_groups(store: Store, writer: String, writes: usize) {
    let ctx = AuditContext::system(&writer);
    for i in 0..writes {
        let mut tx = store.begin().await.unwrap();
        group::create(&mut tx, &ctx, &group_name(&format!("{writer}-{i}")), "")
            .await
            .unwrap();
        let events = tx.commit().await.unwrap();
        assert_eq!(events.len(), 1);
    }
}

/// Run `TASKS` writers spread over `stores`, all at once.
async fn race(stores: &[Store]) {
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let store = stores[t % stores.len()].clone();
            tokio::spawn(write_groups(store, format!("w{t}"), WRITES))
        })
        .collect();
    for task in futures::future::join_all(tasks).await {
        task.expect("a writer panicked");
    }
}

async fn assert_linear(db: &TestDb, store: &Store, setup: usize) {
    let total = TASKS * WRITES + setup;
    let events = events_of(store).await;
    assert_eq!(events.len(), total);
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=total as i64).collect::<Vec<_>>(),
        "sequence numbers must run 1..={total} without gaps"
    );
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "#{} does not link to #{}",
            pair[1].seq, pair[0].seq
        );
    }
    // Every writer's events are all there, in the order that writer made them.
    for t in 0..TASKS {
        let actor = format!("w{t}");
        let mine: Vec<_> = events.iter().filter(|e| e.actor_name == actor).collect();
        assert_eq!(mine.len(), WRITES, "writer {actor}");
        assert!(mine.windows(2).all(|w| w[0].seq < w[1].seq));
    }
    let report = store.verify_audit(&db.key.verifying_key(), |_| {}).await.unwrap();
    assert_eq!(report.events, total as u64);
    assert_eq!(report.head, store.audit_head().await.unwrap());
    assert_eq!(store.groups().await.unwrap().len(), TASKS * WRITES + setup);
}

async fn concurrent_writers_on_one_store_keep_the_chain_linear(db: &TestDb) {
    db.group(&db.system, "setup").await;
    race(std::slice::from_ref(&db.store)).await;
    assert_linear(db, &db.store, 1).await;
    // And the log can be signed afterwards.
    let cp = db.store.checkpoint(&db.key).await.unwrap().unwrap();
    assert_eq!(cp.seq, (TASKS * WRITES + 1) as i64);
}

/// Two stores with their own pools are two replicas (PostgreSQL) or two processes
/// on one file (SQLite, where the database's own lock, not the store's, orders them).
async fn two_stores_on_one_database_keep_the_chain_linear(db: &TestDb) {
    db.group(&db.system, "setup").await;
    let other = db.open_another().await;
    race(&[db.store.clone(), other.clone()]).await;
    assert_linear(db, &db.store, 1).await;
    assert_eq!(other.audit_head().await.unwrap(), db.store.audit_head().await.unwrap());
    other.close().await;
}

/// Every replica may run the checkpoint job; when two sign the same head at once,
/// one checkpoint is stored and the other replica is told there was nothing to sign.
async fn two_stores_checkpointing_at_once_sign_each_head_once(db: &TestDb) {
    let other = db.open_another().await;
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        db.group(&db.system, &format!("g{round}")).await;
        let (a, b) = tokio::join!(db.store.checkpoint(&db.key), other.checkpoint(&db.key));
        let (a, b) = (a.unwrap(), b.unwrap());
        let signed: Vec<_> = [a, b].into_iter().flatten().collect();
        assert_eq!(signed.len(), 1, "round {round}: exactly one store signs the new head");
        assert_eq!(signed[0].seq, round as i64 + 1);
    }
    let checkpoints = db.store.checkpoints().await.unwrap();
    assert_eq!(
        checkpoints.iter().map(|c| c.seq).collect::<Vec<_>>(),
        (1..=ROUNDS as i64).collect::<Vec<_>>()
    );
    let report = db.store.verify_audit(&db.key.verifying_key(), |_| {}).await.unwrap();
    assert_eq!((report.checkpoints, report.unsigned_tail()), (ROUNDS as u64, 0));
    other.close().await;
}
