//! The JSON API, end to end: every test starts a real Charter server on a random
//! port of 127.0.0.1 over a fresh database and talks HTTP to it.
//!
//! Modules mirror the URL tree (`auth/login.rs` is `/api/v1/auth/login`). Most test
//! bodies are written once and run twice, as `<module>::sqlite::<test>` (always) and
//! `<module>::postgres::<test>` (when `CHARTER_TEST_POSTGRES_URL` names a server;
//! otherwise it prints `SKIPPED (postgres): …` to stderr and does nothing).
//!
//! ```text
//! cargo test -p charter-server --test api
//! CHARTER_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo test -p charter-server --test api
//! ```

/// Generate `sqlite` and `postgres` test modules that run each named
/// `async fn(&TestApp)` of the enclosing module against a fresh server on that
/// backend. `test(configure)` first applies `fn configure(&mut Config)` to the
/// test configuration.
macro_rules! on_every_backend {
    ($($test:ident $(($configure:ident))?),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $crate::harness::run(
                        charter_store::Backend::Sqlite,
                        concat!(module_path!(), "::", stringify!($test)),
                        on_every_backend!(@configure $($configure)?),
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
                        on_every_backend!(@configure $($configure)?),
                        super::$test,
                    )
                    .await;
                }
            )+
        }
    };
    (@configure) => {
        $crate::harness::no_changes
    };
    (@configure $configure:ident) => {
        super::$configure
    };
}

mod audit;
mod audit_coverage;
mod audit_events;
mod auth;
mod bad_input;
mod governance;
mod groups;
mod harness;
mod health;
mod me;
mod mlflow;
mod openapi;
mod pages;
mod replicas;
mod review;
mod shutdown;
mod telemetry;
mod tokens;
mod ui;
mod users;
