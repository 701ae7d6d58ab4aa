//! Storage conformance: one suite that every backend must pass.
//!
//! Each test body is written once and run twice, as `<module>::sqlite::<test>` (always)
//! and `<module>::postgres::<test>` (when `CHARTER_TEST_POSTGRES_URL` names a server;
//! otherwise it prints `SKIPPED (postgres): …` to stderr and does nothing). Every run
//! gets a fresh database: a temporary SQLite file, or a new PostgreSQL schema.
//!
//! ```text
//! cargo test -p charter-store --test conformance
//! CHARTER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p charter-store --test conformance
//! ```

/// Generate `sqlite` and `postgres` test modules that run each named
/// `async fn(&TestDb)` of the enclosing module on that backend.
macro_rules! on_every_backend {
    ($($test:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::harness::run(
                        charter_store::Backend::Sqlite,
                        concat!(module_path!(), "::", stringify!($test)),
                        super::$test,
                    )
                    .await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::harness::run(
                        charter_store::Backend::Postgres,
                        concat!(module_path!(), "::", stringify!($test)),
                        super::$test,
                    )
                    .await;
                }
            )+
        }
    };
}

mod audit_chain;
mod audit_filter;
mod backup;
mod concurrency;
mod harness;
mod mlflow;
mod schema;
mod tamper;
mod telemetry;
mod transaction;
mod users;
