//! Test helpers: a fresh usergraph per test, driven through its real router.
//!
//! Each test gets its own SQLite file, or its own PostgreSQL database when
//! `TEST_DATABASE_URL` is set, copied from a migrated template (see
//! `databases.rs`). Under `CI=true` a missing PostgreSQL or Redis fails the
//! tests that need it instead of skipping them.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use usergraph::tasks::Tasks;
use usergraph::{AppContext, Config};

use crate::databases::TestDatabase;

/// Known to the tests so they can forge HS256 tokens (`JWT_ALGORITHM=HS256`).
pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
pub const PASSWORD: &str = "Str0ng!pass";

pub struct TestApp {
    router: Router,
    pub app: AppContext,
    /// The background tasks `serve` would run (the change-feed poller
    /// above all); aborted when the test ends.
    _tasks: Tasks,
    _database: TestDatabase,
    /// Where mail goes as files when a test sets no `SMTP_URL`.
    pub mail_dir: std::sync::Arc<tempfile::TempDir>,
}

/// Mail into the test's own folder, and retries and polls quick enough
/// for a test to watch them.
fn quick_mail(config: &mut Config, dir: &tempfile::TempDir) {
    config.mail.dir = Some(dir.path().to_owned());
    config.mail.poll_interval = std::time::Duration::from_millis(100);
    config.mail.retry_base = std::time::Duration::from_millis(100);
}

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestApp {
    /// A fresh app on `backend`, or `None` for PostgreSQL when
    /// `TEST_DATABASE_URL` is unset (a failure under `CI=true`).
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, |_| {}).await
    }

    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let (url, database) = match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => {
                let admin_url = service_url("TEST_DATABASE_URL", "the PostgreSQL run")?;
                TestDatabase::postgres(admin_url).await
            }
        };
        let mail_dir = std::sync::Arc::new(tempfile::tempdir().expect("mail dir"));
        let mut config = Config::for_database(&url);
        config.jwt_secret = Some(TEST_SECRET.to_owned());
        quick_mail(&mut config, &mail_dir);
        adjust(&mut config);
        let state = usergraph::prepare(config).await.expect("app starts");
        let tasks = Tasks::start(&state.app).await.expect("tasks start");
        Some(Self {
            router: usergraph::app(state.clone()),
            app: state.app,
            _tasks: tasks,
            _database: database,
            mail_dir,
        })
    }

    /// Serve another router over this app's context (an application
    /// extending usergraph).
    pub fn with_router(mut self, router: impl FnOnce(AppContext) -> Router) -> Self {
        self.router = router(self.app.clone());
        self
    }

    /// Sign `claims` with this instance's active key, as a holder of that
    /// key could: for tests that forge claims the server must judge.
    pub fn sign(&self, claims: &Value) -> String {
        let keys = self.app.tokens.key_set();
        let signing = keys.signing();
        let mut header = jsonwebtoken::Header::new(signing.algorithm);
        header.kid = Some(signing.kid.clone());
        jsonwebtoken::encode(&header, claims, &signing.encoding).expect("signed")
    }

    pub fn database_url(&self) -> String {
        self.app.config.database_url.clone()
    }

    /// Send any HTTP request to the app.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// POST a GraphQL document with extra headers.
    pub async fn post(&self, query: &str, variables: Value, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::post("/graphql").header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let body = json!({ "query": query, "variables": variables }).to_string();
        self.send(request.body(Body::from(body)).expect("request"))
            .await
    }

    /// POST a GraphQL document anonymously.
    pub async fn gql(&self, query: &str, variables: Value) -> Reply {
        self.post(query, variables, &[]).await
    }

    /// POST a GraphQL document with `Authorization: Bearer <token>`.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Reply {
        let bearer = format!("Bearer {token}");
        self.post(query, variables, &[("authorization", &bearer)])
            .await
    }

    /// Register `username` with the standard test password; returns the user.
    pub async fn register(&self, username: &str) -> Value {
        let reply = self
            .gql(
                REGISTER,
                json!({ "input": {
                    "name": format!("User {username}"),
                    "username": username,
                    "email": format!("{username}@example.com"),
                    "password": PASSWORD,
                }}),
            )
            .await;
        assert_eq!(
            reply.errors(),
            Value::Null,
            "register {username}: {}",
            reply.text
        );
        reply.body["data"]["register"].clone()
    }

    /// Log in; returns the reply (data.login has the tokens).
    pub async fn login(&self, identifier: &str, password: &str) -> Reply {
        self.gql(
            LOGIN,
            json!({ "identifier": identifier, "password": password }),
        )
        .await
    }

    /// Register and log in; returns (access token, refresh token).
    pub async fn signed_up(&self, username: &str) -> (String, String) {
        self.register(username).await;
        self.signed_up_again(username).await
    }

    /// Log an existing user in; returns (access token, refresh token).
    pub async fn signed_up_again(&self, username: &str) -> (String, String) {
        self.signed_up_again_with(username, PASSWORD).await
    }

    /// Log an existing user in with `password`; returns (access token,
    /// refresh token).
    pub async fn signed_up_again_with(&self, username: &str, password: &str) -> (String, String) {
        let reply = self.login(username, password).await;
        let login = &reply.body["data"]["login"];
        (
            login["accessToken"]
                .as_str()
                .expect("access token")
                .to_owned(),
            login["refreshToken"]
                .as_str()
                .expect("refresh token")
                .to_owned(),
        )
    }
}

/// The URL in `variable`, or `None` (with a note) to skip `what` when it is
/// unset; under `CI=true` a missing service fails the test instead, so a
/// broken CI set-up cannot pass by skipping.
pub fn service_url(variable: &str, what: &str) -> Option<String> {
    if let Ok(url) = std::env::var(variable) {
        return Some(url);
    }
    let on_ci = std::env::var("CI").is_ok_and(|ci| matches!(ci.as_str(), "true" | "1"));
    assert!(
        !on_ci,
        "{variable} is unset but CI=true: {what} cannot be skipped on CI"
    );
    eprintln!("{variable} is unset: skipping {what}");
    None
}

pub const REGISTER: &str = "mutation($input: RegisterInput!) {
    register(input: $input) { id uuid name username email profileImageUrl isSuperuser tierId createdAt updatedAt }
}";

pub const LOGIN: &str = "mutation($identifier: String!, $password: String!) {
    login(usernameOrEmail: $identifier, password: $password) {
        accessToken refreshToken tokenType expiresIn user { id uuid username email emailVerified }
    }
}";

pub const ME: &str = "{ me { id uuid username email } }";

/// An HTTP answer, its JSON body parsed when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn errors(&self) -> Value {
        self.body.get("errors").cloned().unwrap_or(Value::Null)
    }

    /// `extensions.code` of the first error.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    /// Message of the first error.
    pub fn message(&self) -> Option<&str> {
        self.body["errors"][0]["message"].as_str()
    }

    /// Assert the request failed with `code` and return the message.
    #[track_caller]
    pub fn expect_code(&self, code: &str) -> String {
        assert_eq!(self.code(), Some(code), "expected {code}: {}", self.text);
        self.message().unwrap_or_default().to_owned()
    }

    /// Assert the request was refused by the limit named `limit`
    /// (`BAD_USER_INPUT` with `extensions.limit`).
    #[track_caller]
    pub fn expect_limit(&self, limit: &str) {
        assert_eq!(self.code(), Some("BAD_USER_INPUT"), "{}", self.text);
        assert_eq!(
            self.body["errors"][0]["extensions"]["limit"], limit,
            "{}",
            self.text
        );
    }

    /// Assert no errors and return `data.<field>`.
    #[track_caller]
    pub fn data(&self, field: &str) -> &Value {
        assert_eq!(
            self.errors(),
            Value::Null,
            "unexpected errors: {}",
            self.text
        );
        &self.body["data"][field]
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::to_owned)
            .collect()
    }
}

// Which scenarios run on which backend. The SQL differs between SQLite and
// PostgreSQL, and so do locking, transactions, constraint errors, collation,
// NULL ordering, time stamps and the change feed (polling on SQLite, polling
// and notifications on PostgreSQL); the rest of the server is the same Rust
// either way. So a scenario runs on both (`on_both_backends!`) when what it
// proves could plausibly come out differently on the two:
// - races and locking (racing registrations, refreshes, the last superuser),
// - unique-index and foreign-key conflicts turned into CONFLICT/NOT_FOUND,
// - transactions and rollbacks (permanent deletion),
// - listing, paging, filtering, searching, counting and ordering SQL,
// - comparisons on stored times (purging, `updatedAt`),
// - the change feed and the session cache across instances,
// - batched loading (statement counts), health's `SELECT 1`, migrations.
// Everything else runs once, on SQLite (`on_sqlite!`): validation,
// authorisation and guards, token and cookie handling, GraphQL over HTTP,
// limits and hardening, the CLI. When in doubt, a scenario stays on both.

/// Run each named scenario `async fn name(app: TestApp)` once on SQLite and
/// once on PostgreSQL (when `TEST_DATABASE_URL` is set): for scenarios whose
/// outcome depends on the backend (see the list above).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::TestApp::start($crate::common::Backend::Sqlite)
                        .await
                        .expect("sqlite app");
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(app) = $crate::common::TestApp::start($crate::common::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

/// Run each named scenario `async fn name(app: TestApp)` once, on SQLite:
/// for scenarios that prove the server's own logic, the same on either
/// backend (see the list above).
#[macro_export]
macro_rules! on_sqlite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_only {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::TestApp::start($crate::common::Backend::Sqlite)
                        .await
                        .expect("sqlite app");
                    super::$name(app).await;
                }
            )*
        }
    };
}

// ---- Helpers for rate limits, hardening and several instances (issue 4) ----

impl TestApp {
    /// POST a GraphQL body (an object or a batch array) as if it came from
    /// `ip` over TCP, with extra headers.
    pub async fn post_body_from(&self, ip: &str, body: &Value, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::post("/graphql").header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(Body::from(body.to_string())).expect("request");
        let peer = std::net::SocketAddr::new(ip.parse().expect("ip"), 40000);
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        self.send(request).await
    }

    /// POST a GraphQL document from `ip`, optionally with a bearer token.
    pub async fn gql_from(
        &self,
        ip: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Reply {
        let bearer = token.map(|token| format!("Bearer {token}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|bearer| ("authorization", bearer))
            .into_iter()
            .collect();
        self.post_body_from(
            ip,
            &json!({ "query": query, "variables": variables }),
            &headers,
        )
        .await
    }

    /// The longest a change made on another instance may take to show
    /// here: twice the poll interval (the change may land just after a poll,
    /// and the next poll takes a moment) plus 800 ms for a loaded two-core
    /// machine running the suite's tests in parallel; 1 s at the default
    /// 100 ms. Measured there during the full suite (with a build running
    /// beside it), the delays were 15 to 110 ms: the bound has ample margin.
    pub fn within_a_poll(&self) -> std::time::Duration {
        self.app.config.change_poll_interval * 2 + std::time::Duration::from_millis(800)
    }

    /// Send `query` as `token` until `done` says yes; asserts that took at
    /// most `bound` (waiting up to five seconds to report how long it did
    /// take) and returns how long it took.
    pub async fn until(
        &self,
        bound: std::time::Duration,
        token: &str,
        query: &str,
        done: impl Fn(&Reply) -> bool,
    ) -> std::time::Duration {
        let started = std::time::Instant::now();
        let patience = bound.max(std::time::Duration::from_secs(5));
        loop {
            let reply = self.gql_as(token, query, json!({})).await;
            let took = started.elapsed();
            if done(&reply) {
                assert!(
                    took <= bound,
                    "the change showed after {took:?}, more than {bound:?}"
                );
                return took;
            }
            assert!(
                took < patience,
                "no change after {took:?}; last answer: {:?}",
                reply.body
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Another instance of the server on this test's database (as a second
    /// process would be), with its own settings.
    pub async fn another_instance(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config::for_database(&self.database_url());
        config.jwt_secret = Some(TEST_SECRET.to_owned());
        quick_mail(&mut config, &self.mail_dir);
        adjust(&mut config);
        let state = usergraph::prepare(config)
            .await
            .expect("second instance starts");
        let tasks = Tasks::start(&state.app).await.expect("tasks start");
        TestApp {
            router: usergraph::app(state.clone()),
            app: state.app,
            _tasks: tasks,
            // The first instance owns (and drops) the database.
            _database: TestDatabase::Borrowed,
            mail_dir: self.mail_dir.clone(),
        }
    }
}

/// Another instance on a test's database with no background tasks at all,
/// so its SQL statement counter moves only for the requests sent to it.
pub struct QuietInstance {
    router: Router,
    app: AppContext,
}

impl QuietInstance {
    pub async fn on(test: &TestApp, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_database(&test.database_url());
        config.jwt_secret = Some(TEST_SECRET.to_owned());
        quick_mail(&mut config, &test.mail_dir);
        adjust(&mut config);
        let state = usergraph::prepare(config).await.expect("instance starts");
        Self {
            router: usergraph::app(state.clone()),
            app: state.app,
        }
    }

    /// SQL statements this instance has sent so far.
    pub fn statements(&self) -> u64 {
        self.app.sql_statements.get()
    }

    /// POST a GraphQL document anonymously; the JSON body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("answer");
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }
}

/// A Redis key prefix of its own for one test, its keys deleted at the end.
/// `None` (with a note) when `TEST_REDIS_URL` is unset, a failure under
/// `CI=true`.
pub struct RedisPrefix {
    pub url: String,
    pub prefix: String,
}

impl RedisPrefix {
    pub fn new() -> Option<Self> {
        let url = service_url("TEST_REDIS_URL", "a Redis test")?;
        let prefix = format!("usergraph-test-{}", uuid::Uuid::new_v4().simple());
        Some(Self { url, prefix })
    }

    /// Point `config` at this Redis and prefix.
    pub fn configure(&self, config: &mut Config) {
        config.limits.redis_url = Some(self.url.clone());
        config.limits.redis_key_prefix = self.prefix.clone();
        config.limits.redis_timeout = std::time::Duration::from_secs(1);
    }

    /// How many keys exist under the prefix.
    pub fn key_count(&self) -> usize {
        let client = redis::Client::open(self.url.as_str()).expect("redis url");
        let mut connection = client.get_connection().expect("redis reachable");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut connection)
            .expect("KEYS");
        keys.len()
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let (url, pattern) = (self.url.clone(), format!("{}:*", self.prefix));
        let _ = std::thread::spawn(move || {
            let Ok(client) = redis::Client::open(url.as_str()) else {
                return;
            };
            let Ok(mut connection) = client.get_connection() else {
                return;
            };
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query(&mut connection)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut connection);
            }
        })
        .join();
    }
}

// ---- A real listener, for behaviour that must be seen over TCP ----

impl TestApp {
    /// Serve this app on a free loopback port until the test ends; returns
    /// `host:port`.
    pub async fn listen(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let service = self
            .router
            .clone()
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, service).await;
        });
        address
    }
}

/// An answer read off the wire: status, lower-cased header lines, body.
#[derive(Debug)]
pub struct WireReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl WireReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// `GET path` from `address` over a fresh TCP connection (HTTP/1.1,
/// `Connection: close`, no chunked bodies expected beyond what is decoded
/// here).
pub async fn wire_get(address: &str, path: &str, headers: &[(&str, &str)]) -> WireReply {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    wire_exchange(address, &request).await
}

/// Send a raw request and read the whole answer.
pub async fn wire_exchange(address: &str, request: &str) -> WireReply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("an answer within 30 s")
    .expect("read");
    parse_wire_reply(&raw)
}

pub fn parse_wire_reply(raw: &[u8]) -> WireReply {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    let body = if chunked {
        decode_chunked(body)
    } else {
        body.to_vec()
    };
    WireReply {
        status,
        headers,
        text: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn decode_chunked(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|window| window == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|size| usize::from_str_radix(size.trim(), 16).ok());
        let rest = &body[line_end + 2..];
        match size {
            Some(size) if size > 0 && rest.len() >= size => {
                out.extend_from_slice(&rest[..size]);
                body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
            }
            _ => break,
        }
    }
    out
}
