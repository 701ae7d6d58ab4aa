//! A fresh, isolated database per test, on either backend, and the fixtures the
//! tests share.
//!
//! SQLite: a new file in a temporary directory. PostgreSQL: a new schema
//! (`t_<uuid>`) in the database `CHARTER_TEST_POSTGRES_URL` names, selected for every
//! pooled connection with the URL's `options=-c search_path=…`, and dropped when the
//! test ends (pass or fail).

use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use charter_domain::Role;
use charter_domain::audit::{ActorKind, AuditEvent, AuditKey};
use charter_domain::user::{Email, GroupName, Username};
use charter_store::audit::AuditFilter;
use charter_store::group::{self, Group};
use charter_store::user::{self, NewUser, User};
use charter_store::{Actor, AuditContext, Backend, Store, StoreOptions};
use futures::FutureExt as _;
use sqlx::Connection as _;
use tempfile::TempDir;

/// The variable that turns the PostgreSQL half of the suite on.
pub const POSTGRES_ENV: &str = "CHARTER_TEST_POSTGRES_URL";

/// The PostgreSQL server to test against, or `None` after saying loudly that the
/// PostgreSQL variant of `test` did not run.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            // Straight to the process's stderr: libtest captures `eprintln!` of passing
            // tests, and a skip must never look like a pass.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED (postgres): {POSTGRES_ENV} not set; `{test}` did not run against PostgreSQL"
            );
            None
        }
    }
}

/// Run `test` against a fresh database of `backend`, then tear it down.
pub async fn run(backend: Backend, name: &str, test: impl AsyncFnOnce(&TestDb)) {
    let Some(db) = TestDb::create(backend, name).await else {
        return;
    };
    let outcome = AssertUnwindSafe(test(&db)).catch_unwind().await;
    db.teardown().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Run `test` against a fresh SQLite and a fresh PostgreSQL database (skipped,
/// loudly, without PostgreSQL).
pub async fn run_on_both(name: &str, test: impl AsyncFnOnce(&TestDb, &TestDb)) {
    let Some(pg) = TestDb::create(Backend::Postgres, name).await else {
        return;
    };
    let sqlite = TestDb::create(Backend::Sqlite, name).await.expect("SQLite always runs");
    let outcome = AssertUnwindSafe(test(&sqlite, &pg)).catch_unwind().await;
    sqlite.teardown().await;
    pg.teardown().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

enum Place {
    Sqlite { _dir: TempDir, path: PathBuf },
    Postgres { server_url: String, schema: String },
}

/// One test's database, migrated, with a store open on it.
pub struct TestDb {
    pub store: Store,
    /// How many migrations opening the fresh database applied.
    pub migrations_applied: usize,
    /// The key checkpoints are signed with.
    pub key: AuditKey,
    /// The context setup work is done in.
    pub system: AuditContext,
    place: Place,
}

impl TestDb {
    async fn create(backend: Backend, name: &str) -> Option<Self> {
        let place = match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("charter-store-test-")
                    .tempdir()
                    .expect("a temporary directory");
                let path = dir.path().join("charter.db");
                Place::Sqlite { _dir: dir, path }
            }
            Backend::Postgres => {
                let server_url = postgres_url(name)?;
                let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
                let mut admin = sqlx::postgres::PgConnection::connect(&server_url)
                    .await
                    .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but the server does not answer: {e}"));
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await
                    .expect("create the test's schema");
                admin.close().await.ok();
                Place::Postgres { server_url, schema }
            }
        };
        let options = options_for(&place);
        let store = Store::connect(&options).await.expect("connect to the fresh database");
        let migrations_applied = store.migrate().await.expect("migrate the fresh database");
        Some(Self {
            store,
            migrations_applied,
            key: AuditKey::from_seed([7; 32]),
            system: AuditContext::system("test"),
            place,
        })
    }

    async fn teardown(self) {
        self.store.close().await;
        if let Place::Postgres { server_url, schema } = &self.place {
            // Best effort: a leftover schema is clutter, not a wrong result.
            let dropped = async {
                let mut admin = sqlx::postgres::PgConnection::connect(server_url).await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            }
            .await;
            if let Err(e) = dropped {
                let _ = writeln!(std::io::stderr(), "warning: could not drop test schema {schema}: {e}");
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// The SQLite file, on SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.place {
            Place::Sqlite { path, .. } => Some(path),
            Place::Postgres { .. } => None,
        }
    }

    /// The PostgreSQL schema this test owns, on PostgreSQL.
    pub fn pg_schema(&self) -> Option<&str> {
        match &self.place {
            Place::Sqlite { .. } => None,
            Place::Postgres { schema, .. } => Some(schema),
        }
    }

    /// Options that open this same database.
    pub fn options(&self) -> StoreOptions {
        options_for(&self.place)
    }

    /// A second, independent store (its own pool) on this database: another
    /// process or replica.
    pub async fn open_another(&self) -> Store {
        Store::open(&self.options()).await.expect("open a second store")
    }

    /// Run SQL directly on the database, as someone with database access could.
    pub async fn try_exec(&self, sql: &str) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.store.pool())
            .await
            .map(drop)
    }

    pub async fn exec(&self, sql: &str) {
        self.try_exec(sql)
            .await
            .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
    }

    /// Remove the append-only triggers, as an attacker with database access would
    /// before editing the log.
    pub async fn drop_append_only_triggers(&self) {
        match self.backend() {
            Backend::Sqlite => {
                self.exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete")
                    .await;
            }
            Backend::Postgres => {
                self.exec(
                    "DROP TRIGGER audit_events_no_update ON audit_events; DROP FUNCTION audit_events_append_only()",
                )
                .await;
            }
        }
    }

    /// Create a user in its own audited transaction.
    pub async fn user(&self, username: &str, role: Role) -> User {
        let mut tx = self.store.begin().await.unwrap();
        let u = user::create(&mut tx, &self.system, new_user(username, role))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        u
    }

    /// Create a group in its own audited transaction.
    pub async fn group(&self, ctx: &AuditContext, name: &str) -> Group {
        let mut tx = self.store.begin().await.unwrap();
        let g = group::create(&mut tx, ctx, &group_name(name), &format!("the {name} group"))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        g
    }

    /// Every event, oldest first.
    pub async fn events(&self) -> Vec<AuditEvent> {
        events_of(&self.store).await
    }

    /// Every event's action, oldest first.
    pub async fn actions(&self) -> Vec<String> {
        self.events().await.into_iter().map(|e| e.action).collect()
    }

    /// Write an event row directly, bypassing the store (a forgery).
    pub async fn insert_event_row(&self, e: &AuditEvent) {
        sqlx::query(
            "INSERT INTO audit_events (seq, id, occurred_at, actor_kind, actor_id, actor_name, actor_token, action, \
             target_type, target_id, payload, request_id, client_addr, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(e.seq)
        .bind(&e.id)
        .bind(e.occurred_at)
        .bind(&e.actor_kind)
        .bind(&e.actor_id)
        .bind(&e.actor_name)
        .bind(&e.actor_token)
        .bind(&e.action)
        .bind(&e.target_type)
        .bind(&e.target_id)
        .bind(&e.payload)
        .bind(&e.request_id)
        .bind(&e.client_addr)
        .bind(&e.prev_hash)
        .bind(&e.hash)
        .execute(self.store.pool())
        .await
        .expect("insert a forged event row");
    }
}

fn options_for(place: &Place) -> StoreOptions {
    let mut options = match place {
        Place::Sqlite { path, .. } => StoreOptions::sqlite_file(path),
        Place::Postgres { server_url, schema } => {
            let sep = if server_url.contains('?') { '&' } else { '?' };
            StoreOptions::new(format!("{server_url}{sep}options=-c%20search_path%3D{schema}"))
        }
    };
    // Tests run side by side against one PostgreSQL server: keep each pool small.
    options.max_connections = 4;
    options
}

/// Every event in `store`, oldest first.
pub async fn events_of(store: &Store) -> Vec<AuditEvent> {
    store
        .audit_events(&AuditFilter {
            ascending: true,
            ..AuditFilter::default()
        })
        .await
        .unwrap()
}

pub fn new_user(username: &str, role: Role) -> NewUser {
    NewUser {
        username: Username::parse(username).unwrap(),
        display_name: format!("{username} (display)"),
        email: Email::parse(&format!("{username}@example.com")).unwrap(),
        role,
        password_hash: None,
    }
}

pub fn group_name(name: &str) -> GroupName {
    GroupName::parse(name).unwrap()
}

/// The context of `user` acting through the browser.
pub fn as_user(user: &User) -> AuditContext {
    AuditContext {
        actor: Actor {
            kind: ActorKind::User,
            id: user.id.to_string(),
            name: user.username.clone(),
            token: None,
        },
        request_id: format!("req-{}", user.username),
        client_addr: "192.0.2.1".into(),
    }
}
