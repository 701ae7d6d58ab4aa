//! A running Charter per test, and the helpers the tests share.
//!
//! [`TestApp::spawn`] opens a fresh database — a temporary SQLite file, or a new
//! PostgreSQL schema (`t_<uuid>`) selected for every pooled connection with the
//! URL's `options=-c search_path=…` — and serves it with [`charter_server::serve_on`]
//! on `127.0.0.1:<random port>`, so requests cross a real socket (client address,
//! cookies, keep-alive). Each test gets an `admin` with an API token; [`TestApp::user`]
//! makes users of any role. Schemas are dropped when the test ends, pass or fail.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;

use charter_domain::Role;
use charter_domain::audit::AuditEvent;
use charter_server::api::token::CreateTokenRequest;
use charter_server::api::user::CreateUserRequest;
use charter_server::{AppState, Config};
use charter_store::audit::AuditFilter;
use charter_store::{AuditContext, Backend};
use futures::FutureExt as _;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Connection as _;
use tempfile::TempDir;
use tokio::task::JoinHandle;

/// The variable that turns the PostgreSQL half of the suite on.
pub const POSTGRES_ENV: &str = "CHARTER_TEST_POSTGRES_URL";

/// The password of every user made by [`TestApp::user_with_password`].
pub const PASSWORD: &str = "correct-horse-battery-staple";

/// The request body limit every test server runs with, so that 413 is cheap to reach.
pub const BODY_LIMIT: usize = 4096;

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

/// A change to the test configuration (most tests use [`no_changes`]).
pub type Configure = fn(&mut Config);

/// The default test configuration, unchanged.
pub fn no_changes(_: &mut Config) {}

/// Run `test` against a fresh server on `backend`, then tear it down (also on panic).
pub async fn run(backend: Backend, name: &str, configure: Configure, test: impl AsyncFnOnce(&TestApp)) {
    let Some(app) = TestApp::spawn(backend, name, configure).await else {
        return;
    };
    let outcome = AssertUnwindSafe(test(&app)).catch_unwind().await;
    app.teardown().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Where the test's data lives.
struct Place {
    dir: TempDir,
    /// The PostgreSQL server URL and the schema this test owns.
    postgres: Option<(String, String)>,
}

/// One server process (replica) of the test.
struct Server {
    state: AppState,
    task: JoinHandle<anyhow::Result<()>>,
}

/// A running Charter with an admin, for one test.
pub struct TestApp {
    /// The first replica's state: its store, config and audit key.
    pub state: AppState,
    /// Where the first replica listens.
    pub addr: SocketAddr,
    /// `admin`, with an API token (no password unless the config bootstraps one).
    pub admin: TestUser,
    /// A client without a cookie store: tests send cookies explicitly.
    pub client: reqwest::Client,
    place: Place,
    servers: Mutex<Vec<Server>>,
}

/// A user the test made, with an API token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub username: String,
    pub role: Role,
    /// An active API token (`chr_…`).
    pub token: String,
    pub password: Option<String>,
}

impl TestUser {
    /// The password; panics for token-only users.
    pub fn password(&self) -> &str {
        self.password
            .as_deref()
            .expect("this test user was made without a password")
    }

    /// `Authorization: Basic username:password`.
    pub fn basic(&self) -> Auth<'_> {
        Auth::Basic(&self.username, self.password())
    }
}

/// A signed-in browser session.
#[derive(Debug, Clone)]
pub struct Session {
    /// `charter_session=<id>`, as the browser sends it back.
    pub cookie: String,
    /// The `Set-Cookie` header the sign-in answered with.
    pub set_cookie: String,
    /// The CSRF token unsafe requests must echo in `X-CSRF-Token`.
    pub csrf: String,
    /// The sign-in response.
    pub body: Value,
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    Anonymous,
    Bearer(&'a str),
    Basic(&'a str, &'a str),
    /// The session cookie and its CSRF header, as the web UI sends them.
    Session(&'a Session),
    /// The session cookie alone (a forged cross-site request).
    CookieOnly(&'a Session),
}

impl Session {
    /// The session a successful sign-in reply started.
    #[track_caller]
    pub fn from_reply(reply: &Reply) -> Self {
        let body = reply.expect(200).clone();
        let set_cookie = reply.header("set-cookie").expect("sign-in sets a cookie").to_owned();
        let cookie = set_cookie.split(';').next().unwrap().trim().to_owned();
        let csrf = body["csrf_token"].as_str().expect("a CSRF token").to_owned();
        Session {
            cookie,
            set_cookie,
            csrf,
            body,
        }
    }
}

impl<'a> From<&'a TestUser> for Auth<'a> {
    fn from(user: &'a TestUser) -> Self {
        Auth::Bearer(&user.token)
    }
}

impl<'a> From<&'a Session> for Auth<'a> {
    fn from(session: &'a Session) -> Self {
        Auth::Session(session)
    }
}

impl Auth<'_> {
    /// Add these credentials to a request.
    pub fn apply(self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::Anonymous => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
            Auth::Session(s) => request.header("cookie", &s.cookie).header("x-csrf-token", &s.csrf),
            Auth::CookieOnly(s) => request.header("cookie", &s.cookie),
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    /// `METHOD /path`, for failure messages.
    pub what: String,
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    pub async fn read(what: String, response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("read the response body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            what,
            status,
            headers,
            text,
            json,
        }
    }

    /// The body, after checking the status.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{} answered {} instead of {status}: {}",
            self.what,
            self.status,
            self.text
        );
        &self.json
    }

    /// The error message, after checking the status, that the body is the API's JSON
    /// error shape and that its code is `code`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> &str {
        self.expect(status);
        assert!(
            self.header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json")),
            "{} answered {status} without a JSON content type: {:?}",
            self.what,
            self.header("content-type")
        );
        assert_eq!(
            self.json["error"]["code"], code,
            "{} answered {status} with another code: {}",
            self.what, self.text
        );
        self.json["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: the error has no message: {}", self.what, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// A fresh database and a server on it, or `None` when the backend is not available.
    pub async fn spawn(backend: Backend, name: &str, configure: Configure) -> Option<Self> {
        let dir = tempfile::Builder::new()
            .prefix("charter-api-test-")
            .tempdir()
            .expect("a temporary directory");
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(create_schema(&postgres_url(name)?).await),
        };
        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.server.body_limit_bytes = BODY_LIMIT;
        // Tests run side by side against one PostgreSQL server: keep each pool small.
        config.database.max_connections = 4;
        config.log.level = "warn".into();
        if let Some((server, schema)) = &postgres {
            let sep = if server.contains('?') { '&' } else { '?' };
            config.database.url = Some(charter_server::config::Secret::new(format!(
                "{server}{sep}options=-c%20search_path%3D{schema}"
            )));
        }
        configure(&mut config);
        config.validate().expect("the test configuration is valid");
        let state = charter_server::open(config).await.expect("open Charter");
        // What `serve_on` would do first; done here so the admin exists before any request.
        charter_server::bootstrap(&state).await.expect("bootstrap");
        let admin = match state.store.user_by_username("admin").await {
            Ok(user) => {
                let token = make_token(&state, &user, "test admin token").await;
                let password = state
                    .config
                    .auth
                    .bootstrap_admin_password
                    .as_ref()
                    .map(|p| p.expose().to_owned());
                TestUser {
                    id: user.id.to_string(),
                    username: user.username,
                    role: user.role,
                    token,
                    password,
                }
            }
            Err(_) => create_user(&state, "admin", Role::Admin).await,
        };
        let (addr, task) = serve(state.clone()).await;
        let app = Self {
            state: state.clone(),
            addr,
            admin,
            client: client(None),
            place: Place { dir, postgres },
            servers: Mutex::new(vec![Server { state, task }]),
        };
        Some(app)
    }

    /// Another replica on the same database (a second `charter serve`), listening on
    /// its own port: returns its base URL and state.
    pub async fn spawn_replica(&self) -> (String, AppState) {
        let state = charter_server::open(self.state.config.clone())
            .await
            .expect("open a second replica");
        let (addr, task) = serve(state.clone()).await;
        self.servers.lock().unwrap().push(Server {
            state: state.clone(),
            task,
        });
        (format!("http://{addr}"), state)
    }

    /// Another `AppState` on the same database without a server: what the `charter`
    /// CLI opens when an operator runs a command next to the running server.
    pub async fn open_cli_state(&self) -> AppState {
        let state = charter_server::open(self.state.config.clone())
            .await
            .expect("open the database as the CLI does");
        // Closed at teardown with the others; the task never ends on its own.
        let idle = tokio::spawn(std::future::pending());
        self.servers.lock().unwrap().push(Server {
            state: state.clone(),
            task: idle,
        });
        state
    }

    async fn teardown(self) {
        let servers = std::mem::take(&mut *self.servers.lock().unwrap());
        for server in servers {
            server.task.abort();
            let _ = server.task.await;
            server.state.store.close().await;
        }
        if let Some((server_url, schema)) = &self.place.postgres {
            drop_schema(server_url, schema).await;
        }
        drop(self.place.dir);
    }

    pub fn backend(&self) -> Backend {
        self.state.store.backend()
    }

    /// The PostgreSQL schema this test owns, on PostgreSQL.
    pub fn pg_schema(&self) -> Option<&str> {
        self.place.postgres.as_ref().map(|(_, schema)| schema.as_str())
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An absolute URL for a path on the server (`/health`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// An absolute URL for an API path (`/users` → `…/api/v1/users`).
    pub fn api_url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base())
    }

    /// A request to an API path, for cases the helpers below do not cover.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.api_url(path))
    }

    /// Send `request` and read the reply.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let request = request.build().expect("a well-formed request");
        let what = format!("{} {}", request.method(), request.url().path());
        let response = self.client.execute(request).await.expect("the server answers");
        Reply::read(what, response).await
    }

    /// Call an API path with optional JSON body.
    pub async fn call<'a>(&self, method: Method, path: &str, auth: impl Into<Auth<'a>>, body: Option<&Value>) -> Reply {
        let mut request = auth.into().apply(self.request(method, path));
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await
    }

    pub async fn get<'a>(&self, path: &str, auth: impl Into<Auth<'a>>) -> Reply {
        self.call(Method::GET, path, auth, None).await
    }

    pub async fn post<'a>(&self, path: &str, auth: impl Into<Auth<'a>>, body: &Value) -> Reply {
        self.call(Method::POST, path, auth, Some(body)).await
    }

    pub async fn patch<'a>(&self, path: &str, auth: impl Into<Auth<'a>>, body: &Value) -> Reply {
        self.call(Method::PATCH, path, auth, Some(body)).await
    }

    pub async fn delete<'a>(&self, path: &str, auth: impl Into<Auth<'a>>) -> Reply {
        self.call(Method::DELETE, path, auth, None).await
    }

    /// A user of `role` that authenticates with an API token only (no password, so
    /// no argon2 cost).
    pub async fn user(&self, username: &str, role: Role) -> TestUser {
        create_user(&self.state, username, role).await
    }

    /// A user of `role` with the password [`PASSWORD`] and a token.
    ///
    /// The user is stored directly with a hash made once per test process: argon2 in
    /// a debug build costs about half a second, and sign-in tests pay it again for
    /// every verification anyway.
    pub async fn user_with_password(&self, username: &str, role: Role) -> TestUser {
        static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let hash = HASH.get_or_init(|| charter_server::auth::password::hash_password(PASSWORD));
        let new = charter_store::user::NewUser {
            username: charter_domain::user::Username::parse(username).unwrap(),
            display_name: username.to_owned(),
            email: charter_domain::user::Email::parse(&format!("{username}@example.com")).unwrap(),
            role,
            password_hash: Some(hash.clone()),
        };
        let mut tx = self.state.store.begin().await.unwrap();
        let user = charter_store::user::create(&mut tx, &AuditContext::system("test-setup"), new)
            .await
            .unwrap_or_else(|e| panic!("create the test user {username}: {e}"));
        tx.commit().await.unwrap();
        let token = make_token(&self.state, &user, "test token").await;
        TestUser {
            id: user.id.to_string(),
            username: user.username,
            role,
            token,
            password: Some(PASSWORD.to_owned()),
        }
    }

    /// Sign in through the API; panics unless it succeeds.
    pub async fn login(&self, username: &str, password: &str) -> Session {
        let reply = self
            .post(
                "/auth/login",
                Auth::Anonymous,
                &serde_json::json!({ "username": username, "password": password }),
            )
            .await;
        Session::from_reply(&reply)
    }

    /// A client whose connections come from `ip` (any 127.x.y.z on Linux), to act as
    /// another machine.
    pub fn client_from(&self, ip: IpAddr) -> reqwest::Client {
        client(Some(ip))
    }

    /// How many events the audit log holds.
    pub async fn audit_count(&self) -> i64 {
        self.state.store.audit_count().await.unwrap()
    }

    /// Every audit event, oldest first.
    pub async fn events(&self) -> Vec<AuditEvent> {
        self.state
            .store
            .audit_events(&AuditFilter {
                ascending: true,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
    }

    /// The events after `seq`, oldest first.
    pub async fn events_after(&self, seq: i64) -> Vec<AuditEvent> {
        self.state
            .store
            .audit_events(&AuditFilter {
                ascending: true,
                after_seq: Some(seq),
                ..AuditFilter::default()
            })
            .await
            .unwrap()
    }

    /// The newest event with `action`; panics when there is none.
    pub async fn last_event(&self, action: &str) -> AuditEvent {
        let events = self
            .state
            .store
            .audit_events(&AuditFilter {
                action: Some(action.to_owned()),
                limit: Some(1),
                ..AuditFilter::default()
            })
            .await
            .unwrap();
        events
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no `{action}` event in the audit log"))
    }

    /// `POST /audit/verify` as the admin; panics unless the chain verifies.
    pub async fn verify_audit(&self) -> Value {
        let reply = self.post("/audit/verify", &self.admin, &Value::Null).await;
        let body = reply.expect(200).clone();
        assert_eq!(body["ok"], true, "the audit chain does not verify: {body}");
        body
    }

    /// Run SQL directly on the database, as someone with database access could.
    pub async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(self.state.store.pool())
            .await
            .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"));
    }
}

fn client(local: Option<IpAddr>) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(local)
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

/// Serve `state` on a fresh port of 127.0.0.1, the way `charter serve` does.
async fn serve(state: AppState) -> (SocketAddr, JoinHandle<anyhow::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().unwrap();
    // Connections made before `serve_on` starts accepting wait in the backlog.
    let task = tokio::spawn(charter_server::serve_on(state, listener));
    (addr, task)
}

async fn create_user(state: &AppState, username: &str, role: Role) -> TestUser {
    let ctx = AuditContext::system("test-setup");
    let req = CreateUserRequest {
        username: username.into(),
        display_name: None,
        email: format!("{username}@example.com"),
        role: Some(role.as_str().into()),
        password: None,
    };
    let user = charter_server::api::user::create(state, &ctx, req)
        .await
        .unwrap_or_else(|e| panic!("create the test user {username}: {e}"));
    let token = make_token(state, &user, "test token").await;
    TestUser {
        id: user.id.to_string(),
        username: user.username,
        role,
        token,
        password: None,
    }
}

async fn make_token(state: &AppState, user: &charter_store::user::User, name: &str) -> String {
    let ctx = AuditContext::system("test-setup");
    let req = CreateTokenRequest {
        name: name.into(),
        expires_in_days: None,
        expires_at: None,
    };
    let (_, secret) = charter_server::api::token::create(state, &ctx, user, req)
        .await
        .unwrap_or_else(|e| panic!("create a token for {}: {e}", user.username));
    secret.expose().to_owned()
}

async fn create_schema(server_url: &str) -> (String, String) {
    let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::postgres::PgConnection::connect(server_url)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_ENV} is set but the server does not answer: {e}"));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create the test's schema");
    admin.close().await.ok();
    (server_url.to_owned(), schema)
}

async fn drop_schema(server_url: &str, schema: &str) {
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

/// `application/x-www-form-urlencoded` text of `pairs`, for query strings.
pub fn query(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap()
}

/// A route of `api::routes()`: its methods and path (relative to `/api/v1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteDecl {
    pub method: String,
    pub path: String,
}

/// The routes `charter_server::api::routes()` registers, read from its source.
///
/// axum cannot list a router's routes, so this reads `src/api/mod.rs`. It understands
/// `.route("/path", get(h).post(h))` and refuses anything else (nested routers,
/// services), so that a new way of registering routes fails here instead of slipping
/// past the tests that rely on the list.
pub fn api_routes() -> Vec<RouteDecl> {
    const SOURCE: &str = include_str!("../../src/api/mod.rs");
    let start = SOURCE
        .find("pub fn routes() -> Router<AppState> {")
        .expect("src/api/mod.rs defines `pub fn routes()`");
    let body = &SOURCE[start..];
    let body = &body[..body.find("\n}\n").expect("routes() ends with a `}` line")];
    for unsupported in [".nest(", ".merge(", ".route_service(", ".nest_service(", ".layer("] {
        assert!(
            !body.contains(unsupported),
            "api::routes() uses `{unsupported}`: teach tests/api/harness.rs::api_routes to read it"
        );
    }
    let mut routes = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        let end = closing_paren(call);
        let args = &call[..end];
        let path = args
            .trim_start()
            .strip_prefix('"')
            .and_then(|s| s.split_once('"'))
            .map(|(path, _)| path)
            .unwrap_or_else(|| panic!("a route without a literal path: {args}"));
        let mut found = false;
        for method in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{method}(");
            let mut from = 0;
            while let Some(i) = args[from..].find(&needle) {
                let i = from + i;
                let before = args[..i].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    routes.push(RouteDecl {
                        method: method.to_uppercase(),
                        path: path.to_owned(),
                    });
                    found = true;
                }
                from = i + needle.len();
            }
        }
        assert!(found, "no method found for the route {path}: {args}");
        rest = &call[end..];
    }
    assert!(
        routes.len() > 10,
        "suspiciously few routes read from api::routes(): {routes:?}"
    );
    routes.sort();
    routes
}

/// The index of the `)` that closes a call whose arguments start `text`.
fn closing_paren(text: &str) -> usize {
    let mut depth = 1;
    let mut in_string = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses in api::routes(): {text}")
}

on_every_backend!(each_test_has_its_own_database);

/// The harness isolates tests: the server runs on the backend asked for, and on
/// PostgreSQL every pooled connection is inside this test's schema.
async fn each_test_has_its_own_database(app: &TestApp) {
    let version = app.get("/version", Auth::Anonymous).await;
    assert_eq!(version.expect(200)["database"], app.backend().as_str());
    if let Some(schema) = app.pg_schema() {
        // Hold every connection the pool may open at once, and ask each.
        let mut connections = Vec::new();
        for _ in 0..app.state.config.database.max_connections {
            connections.push(app.state.store.pool().acquire().await.unwrap());
        }
        for conn in &mut connections {
            let current: String = sqlx::query_scalar("SELECT CAST(current_schema() AS TEXT)")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(current, schema);
        }
    }
    // The admin and their token: exactly what the harness made, nothing more.
    let users = app.get("/users", &app.admin).await;
    let users = users.expect(200).as_array().unwrap().clone();
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["username"], "admin");
    assert_eq!(users[0]["role"], "admin");
}
