//! Migrations: a fresh database migrates, migrating again changes nothing, and both
//! backends end up with the same tables and columns.

use std::collections::BTreeMap;

use charter_domain::audit::GENESIS_HASH;
use charter_store::Backend;
use sqlx::Row as _;

use crate::harness::{self, TestDb};

on_every_backend!(
    a_fresh_database_migrates_once,
    a_second_store_on_a_migrated_database_applies_nothing
);

async fn a_fresh_database_migrates_once(db: &TestDb) {
    let known = db.store.known_migrations();
    assert!(known > 0, "the build embeds no migrations");
    assert_eq!(db.migrations_applied, known, "a fresh database gets every migration");
    assert_eq!(db.store.migrate().await.unwrap(), 0, "migrating twice applies nothing");
    assert_eq!(db.store.migrate().await.unwrap(), 0);
    db.store.ping().await.unwrap();

    // The chain starts empty, at the genesis hash.
    let head = db.store.audit_head().await.unwrap();
    assert_eq!((head.seq, head.hash.as_str()), (0, GENESIS_HASH));
    assert_eq!(db.store.audit_count().await.unwrap(), 0);
    assert_eq!(db.store.user_count().await.unwrap(), 0);

    if let Some(path) = db.sqlite_path() {
        assert!(path.is_file(), "the database lives in {}", path.display());
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal", "SQLite runs in WAL mode");
    }
    if let Some(schema) = db.pg_schema() {
        // The isolation works: the tables live in this test's schema and nowhere else.
        let current: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(current, schema);
        let elsewhere: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'audit_events' AND table_schema = $1",
        )
        .bind(schema)
        .fetch_one(db.store.pool())
        .await
        .unwrap();
        assert_eq!(elsewhere, 1);
    }
}

async fn a_second_store_on_a_migrated_database_applies_nothing(db: &TestDb) {
    db.user("ann", charter_domain::Role::Admin).await;
    let other = charter_store::Store::open(&db.options()).await.unwrap();
    assert_eq!(other.migrate().await.unwrap(), 0);
    // …and sees what the first store wrote.
    assert_eq!(other.user_by_username("ann").await.unwrap().username, "ann");
    assert_eq!(other.audit_count().await.unwrap(), 1);
    other.close().await;
}

/// A column as both backends can describe it.
#[derive(Debug, PartialEq, Eq)]
struct Column {
    name: String,
    not_null: bool,
}

type Schema = BTreeMap<String, Vec<Column>>;

async fn sqlite_schema(db: &TestDb) -> (Schema, Vec<String>) {
    let pool = db.store.pool();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let rows = sqlx::query("SELECT name, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid")
            .bind(&table)
            .fetch_all(pool)
            .await
            .unwrap();
        let columns = rows
            .iter()
            .map(|r| Column {
                name: r.get(0),
                // PostgreSQL makes primary-key columns NOT NULL implicitly; compare like with like.
                not_null: r.get::<i64, _>(1) != 0 || r.get::<i64, _>(2) != 0,
            })
            .collect();
        schema.insert(table, columns);
    }
    let mut indexes: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            .fetch_all(pool)
            .await
            .unwrap();
    indexes.sort();
    (schema, indexes)
}

async fn postgres_schema(db: &TestDb) -> (Schema, Vec<String>) {
    let pool = db.store.pool();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for table in tables {
        let rows = sqlx::query(
            "SELECT column_name::text, CASE WHEN is_nullable = 'NO' THEN 1 ELSE 0 END::bigint \
             FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 \
             ORDER BY ordinal_position",
        )
        .bind(&table)
        .fetch_all(pool)
        .await
        .unwrap();
        let columns = rows
            .iter()
            .map(|r| Column {
                name: r.get(0),
                not_null: r.get::<i64, _>(1) != 0,
            })
            .collect();
        schema.insert(table, columns);
    }
    // Indexes created by name, not the ones behind PRIMARY KEY and UNIQUE constraints.
    let mut indexes: Vec<String> = sqlx::query_scalar(
        "SELECT i.indexname::text FROM pg_indexes i WHERE i.schemaname = current_schema() \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                         WHERE c.conname = i.indexname AND c.connamespace = current_schema()::regnamespace)",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    indexes.sort();
    (schema, indexes)
}

#[tokio::test]
async fn sqlite_and_postgres_have_the_same_tables_and_columns() {
    harness::run_on_both(
        concat!(module_path!(), "::sqlite_and_postgres_have_the_same_tables_and_columns"),
        async |sqlite, pg| {
            assert_eq!(sqlite.backend(), Backend::Sqlite);
            assert_eq!(pg.backend(), Backend::Postgres);
            let (lite_tables, lite_indexes) = sqlite_schema(sqlite).await;
            let (pg_tables, pg_indexes) = postgres_schema(pg).await;
            assert!(lite_tables.contains_key("audit_events"), "{lite_tables:?}");
            assert_eq!(
                lite_tables.keys().collect::<Vec<_>>(),
                pg_tables.keys().collect::<Vec<_>>(),
                "the backends have different tables"
            );
            for (table, lite_columns) in &lite_tables {
                assert_eq!(
                    lite_columns, &pg_tables[table],
                    "table `{table}` differs (left SQLite, right PostgreSQL)"
                );
            }
            assert_eq!(lite_indexes, pg_indexes, "the backends have different indexes");
        },
    )
    .await;
}
