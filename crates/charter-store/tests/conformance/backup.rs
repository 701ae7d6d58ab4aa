//! Online backups (SQLite's `VACUUM INTO`): the copy is a working database with the
//! same accounts and a verifying audit chain.

use charter_domain::Role;
use charter_store::{Backend, Store, StoreError, StoreOptions};

use crate::harness::TestDb;

on_every_backend!(a_backup_opens_with_the_same_users_and_a_verifying_chain);

async fn a_backup_opens_with_the_same_users_and_a_verifying_chain(db: &TestDb) {
    db.user("ann", Role::Admin).await;
    db.user("bob", Role::Viewer).await;
    db.store.checkpoint(&db.key).await.unwrap().unwrap();
    db.user("carol", Role::Practitioner).await;

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup.db");
    if db.backend() == Backend::Postgres {
        let err = db.store.backup_sqlite_to(&dest).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Config(ref m) if m.contains("pg_dump")),
            "{err:?}"
        );
        assert!(!dest.exists());
        return;
    }

    db.store.backup_sqlite_to(&dest).await.unwrap();
    // Writes after the backup do not reach it.
    db.user("dave", Role::Viewer).await;

    let copy = Store::open(&StoreOptions::sqlite_file(&dest)).await.unwrap();
    assert_eq!(copy.migrate().await.unwrap(), 0, "the backup is fully migrated");
    let names: Vec<_> = copy.users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, ["ann", "bob", "carol"]);
    assert_eq!(
        copy.user_by_username("ann").await.unwrap(),
        db.store.user_by_username("ann").await.unwrap()
    );
    let report = copy.verify_audit(&db.key.verifying_key(), |_| {}).await.unwrap();
    assert_eq!(
        (report.events, report.checkpoints, report.last_checkpoint_seq),
        (3, 1, 2)
    );
    assert_eq!(report.head, copy.audit_head().await.unwrap());

    // The copy keeps its append-only guard.
    let err = sqlx::raw_sql("DELETE FROM audit_events")
        .execute(copy.pool())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    copy.close().await;

    // A backup never overwrites a file.
    let err = db.store.backup_sqlite_to(&dest).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}
