//! Every setting of the server, its default and its meaning, in one place.
//!
//! Settings come from the environment (a `.env` file is read first when
//! present) or from the matching command-line flag. Each default is written
//! once, in the `#[arg]` attribute of its field: [`Config::defaults`] reads
//! them back from clap, and a test fails when the README's settings table
//! names another setting or another default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Command, FromArgMatches};

use crate::net::{Network, parse_network};

/// The database used when `DATABASE_URL` is unset: a file beside the working
/// directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://usergraph.db?mode=rwc";

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database connection URL: `sqlite://path?mode=rwc` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Largest number of pooled database connections. Default: 4 on SQLite
    /// (one writer at a time anyway; each connection is a thread and a page
    /// cache), 10 on PostgreSQL.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: Option<u32>,

    /// On an SQLite file, run the hottest reads (a profile by username, a
    /// page of the unfiltered listing) on the request's own thread through
    /// read-only connections of their own, instead of handing each to a
    /// pooled connection's thread (see `db::inline`). `false`: every
    /// statement goes through the pool.
    #[arg(long, env = "SQLITE_INLINE_READS", default_value_t = true, action = clap::ArgAction::Set)]
    pub sqlite_inline_reads: bool,

    /// Address and port the HTTP server listens on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,

    /// How tokens are signed: `EdDSA` (Ed25519) or `ES256` (P-256) with keys
    /// kept in the database and published at `/.well-known/jwks.json`, or
    /// `HS256` with `JWT_SECRET` (only usergraph can verify those).
    #[arg(long, env = "JWT_ALGORITHM", value_enum, ignore_case = true,
          default_value_t = SigningAlgorithm::EdDSA)]
    pub jwt_algorithm: SigningAlgorithm,

    /// Secret that signs tokens with `JWT_ALGORITHM=HS256` (at least 32
    /// bytes). Unset on SQLite: one is generated and kept in a file beside
    /// the database. Required on PostgreSQL with HS256; unused otherwise.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// usergraph's public base URL, as other services reach it (e.g.
    /// `https://auth.example.com`). Default: `http://<BIND_ADDR>`.
    #[arg(long, env = "PUBLIC_URL", value_parser = parse_base_url)]
    pub public_url: Option<String>,

    /// The `iss` claim of every token, checked on every verification.
    /// Default: `PUBLIC_URL`.
    #[arg(long, env = "JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// The `aud` claim of every token, checked on every verification.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "usergraph")]
    pub jwt_audience: String,

    /// Lifetime of access tokens, e.g. `30m`, `1h`.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "30m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// Lifetime of refresh tokens, e.g. `7d`: a session not refreshed for
    /// this long ends (its idle lifetime).
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "7d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,

    /// Absolute lifetime of a session (one login and its refreshes): no
    /// token of it outlives this, however often it is refreshed.
    #[arg(long, env = "SESSION_MAX_AGE", default_value = "30d", value_parser = parse_duration)]
    pub session_max_age: Duration,

    /// How long after its first use a refresh token is still answered, with
    /// the same new pair (two tabs refreshing at once, a lost response).
    /// After that, presenting it again ends the whole session as a replay.
    #[arg(long, env = "REFRESH_REUSE_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub refresh_reuse_grace: Duration,

    /// bcrypt work factor (4–31). Each step doubles the time of a hash.
    #[arg(long, env = "BCRYPT_COST", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,

    /// How new passwords are hashed: `bcrypt` (cost `BCRYPT_COST`) or
    /// `argon2id` (the `ARGON2_*` settings). Stored hashes of either kind
    /// keep working; each is upgraded to this at its user's next login.
    #[arg(long, env = "PASSWORD_HASH", value_enum, ignore_case = true,
          default_value_t = PasswordHashAlgorithm::Bcrypt)]
    pub password_hash: PasswordHashAlgorithm,

    /// Memory of one argon2id hash, e.g. `19MiB` or `65536KiB` (OWASP's
    /// minimum is 19 MiB with 2 iterations).
    #[arg(long, env = "ARGON2_MEMORY", default_value = "19MiB", value_parser = parse_kibibytes)]
    pub argon2_memory_kib: u32,

    /// Passes of argon2id over its memory (its time cost).
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub argon2_iterations: u32,

    /// Lanes of argon2id (its parallelism); each hash still runs on one
    /// thread here.
    #[arg(long, env = "ARGON2_PARALLELISM", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=16))]
    pub argon2_parallelism: u32,

    /// Serve `GET /metrics` (Prometheus text: requests, logins, rate-limit
    /// refusals, session cache, change-feed lag, database pool, SQL
    /// statements, build) to anyone. Off by default; the benchmark turns it
    /// on.
    #[arg(long, env = "METRICS_ENABLED", default_value_t = false, action = clap::ArgAction::Set)]
    pub metrics_enabled: bool,

    /// Serve `GET /metrics` only to requests with `Authorization: Bearer
    /// <this token>` (whatever `METRICS_ENABLED` says).
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Mark the refresh-token cookie `Secure` (set this behind HTTPS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,

    /// Access tokens whose check against the database is remembered, so
    /// authenticated reads skip that round trip (0 turns the cache off).
    #[arg(long, env = "SESSION_CACHE_SIZE", default_value_t = 10_000)]
    pub session_cache_size: usize,

    /// Longest time a remembered check is used before it is made again.
    #[arg(long, env = "SESSION_CACHE_TTL", default_value = "60s", value_parser = parse_duration)]
    pub session_cache_ttl: Duration,

    /// How often each instance reads the change feed. A logout or a user
    /// change on one instance reaches the others' caches within this time.
    #[arg(long, env = "CHANGE_POLL_INTERVAL", default_value = "100ms", value_parser = parse_positive_duration)]
    pub change_poll_interval: Duration,

    /// How often a subscription socket checks that its session is still
    /// live (through the session cache), for sessions that end without an
    /// event about their user (expiry). A logout, revocation or password
    /// change closes the socket as soon as its event arrives.
    #[arg(long, env = "SUBSCRIPTION_SESSION_CHECK", default_value = "10s", value_parser = parse_positive_duration)]
    pub subscription_session_check: Duration,

    /// How long change-feed entries are kept. An instance that could not
    /// read the feed for longer finds a hole and forgets every cached session.
    #[arg(long, env = "CHANGE_FEED_RETENTION", default_value = "1h", value_parser = parse_duration)]
    pub change_feed_retention: Duration,

    /// How often expired revoked-token rows and change-feed entries past
    /// their retention are deleted (a background task of `serve`).
    #[arg(long, env = "PURGE_INTERVAL", default_value = "15m", value_parser = parse_duration)]
    pub purge_interval: Duration,

    /// How long audit events are kept; older ones are deleted by the purge.
    #[arg(long, env = "AUDIT_RETENTION", default_value = "90d", value_parser = parse_duration)]
    pub audit_retention: Duration,

    /// Longest wait for each check of `GET /health/ready` (database,
    /// migrations, Redis) before it counts as failed and the answer is 503.
    #[arg(long, env = "HEALTH_TIMEOUT", default_value = "2s", value_parser = parse_positive_duration)]
    pub health_timeout: Duration,

    /// After SIGTERM (or Ctrl-C), how long requests in flight may take to
    /// finish before they are cut off; no new connection is accepted
    /// meanwhile. Background tasks are stopped after, then the process
    /// exits 0.
    #[arg(long, env = "SHUTDOWN_GRACE", default_value = "20s", value_parser = parse_positive_duration)]
    pub shutdown_grace: Duration,

    /// Log lines as `text` (for people) or `json` (one object per line,
    /// with the fields of the request it belongs to, for log collectors).
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Base URL of an OpenTelemetry collector (OTLP over HTTP, protobuf),
    /// e.g. `http://127.0.0.1:4318` or `https://otel.example.com`: one span
    /// per GraphQL request is sent to `<URL>/v1/traces`, continuing a
    /// caller's `traceparent`. Unset: no traces.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otel_endpoint: Option<String>,

    /// A PEM file of certificate authorities to trust for an `https://`
    /// collector, besides the public ones built in (a private CA, or a
    /// collector's self-signed certificate).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_CERTIFICATE")]
    pub otel_certificate: Option<PathBuf>,

    /// With traces on, each field resolver that takes at least this long
    /// gets a span of its own (its path, parent type and field), a child of
    /// the request's span. `0ms` traces every resolver. Ignored when traces
    /// are off: fields are then not timed at all.
    #[arg(long, env = "OTEL_RESOLVER_SPAN_THRESHOLD", default_value = "10ms", value_parser = parse_threshold)]
    pub otel_resolver_span_threshold: Duration,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub webhooks: WebhookConfig,

    #[command(flatten)]
    pub mail: MailConfig,

    #[command(flatten)]
    pub clients: ClientsConfig,
}

/// Mail: how it is sent, what the account flows' links and tokens look
/// like, and how often an address may be mailed. The README's "Email" section
/// explains the flows.
#[derive(Debug, Clone, Args)]
pub struct MailConfig {
    /// SMTP server: `smtp://user:pass@host:587` (STARTTLS required),
    /// `smtps://user:pass@host:465` (implicit TLS) or
    /// `smtp://host:25?tls=none` (a local relay, no TLS). Unset: each mail
    /// is written as an `.eml` file into `MAIL_DIR` instead.
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of every mail, e.g. `Example <no-reply@example.com>`.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "usergraph <no-reply@localhost>"
    )]
    pub from: String,

    /// The application's name, used in subjects and bodies.
    #[arg(long, env = "APP_NAME", default_value = "usergraph")]
    pub app_name: String,

    /// Where mails go as `.eml` files when `SMTP_URL` is unset. Default:
    /// `mail/` beside the SQLite file, or in the working directory.
    #[arg(long, env = "MAIL_DIR")]
    pub dir: Option<PathBuf>,

    /// A folder of files overriding the built-in mail templates, by name
    /// (`verify_email.txt`, `verify_email.html`, …; see `templates/mail/`).
    #[arg(long, env = "MAIL_TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,

    /// Tries of one mail before it is marked failed (and logged).
    #[arg(long, env = "MAIL_MAX_ATTEMPTS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,

    /// The wait before the second try of a mail; it doubles with each
    /// further try, up to five minutes.
    #[arg(long, env = "MAIL_RETRY_BASE", default_value = "10s", value_parser = parse_positive_duration)]
    pub retry_base: Duration,

    /// How often each instance looks for outbox jobs it was not woken for
    /// (retries, and jobs written by other instances).
    #[arg(long, env = "OUTBOX_POLL_INTERVAL", default_value = "1s", value_parser = parse_positive_duration)]
    pub poll_interval: Duration,

    /// Mails one address may be sent per `MAIL_RATE_PERIOD` by the request
    /// mutations (`requestPasswordReset`, `requestEmailVerification`,
    /// `changeEmail`), whether or not it has an account.
    #[arg(long, env = "MAIL_RATE_LIMIT", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub address_rate_limit: u32,

    /// Calls of those mutations per `MAIL_RATE_PERIOD` from one client IP.
    #[arg(long, env = "MAIL_IP_RATE_LIMIT", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub client_rate_limit: u32,

    /// The period of both mail limits.
    #[arg(long, env = "MAIL_RATE_PERIOD", default_value = "1h", value_parser = parse_duration)]
    pub rate_period: Duration,

    /// Refuse `login` with `EMAIL_NOT_VERIFIED` (after the right password)
    /// until the user has verified their address.
    #[arg(long, env = "REQUIRE_EMAIL_VERIFICATION", default_value_t = false, action = clap::ArgAction::Set)]
    pub require_verification: bool,

    /// Lifetime of a password-reset link.
    #[arg(long, env = "PASSWORD_RESET_TTL", default_value = "1h", value_parser = parse_duration)]
    pub password_reset_ttl: Duration,

    /// Lifetime of an email-verification or email-change link.
    #[arg(long, env = "EMAIL_VERIFICATION_TTL", default_value = "24h", value_parser = parse_duration)]
    pub email_verification_ttl: Duration,

    /// Where the links in mails point: `<base>/verify`, `<base>/reset` and
    /// `<base>/email`, each with `?token=…`. Default: usergraph's own pages,
    /// `<PUBLIC_URL>/account`.
    #[arg(long, env = "ACCOUNT_LINK_BASE", value_parser = parse_base_url)]
    pub account_link_base: Option<String>,
}

/// Webhooks: which endpoints may be called, and how failures are retried.
/// The README's "Events" section explains deliveries and signatures.
#[derive(Debug, Clone, Args)]
pub struct WebhookConfig {
    /// Accept `http://` endpoint URLs (otherwise `https://` only).
    #[arg(long, env = "WEBHOOK_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_http: bool,

    /// Accept endpoints whose addresses are loopback, private, link-local
    /// or cloud-metadata addresses (refused by default, at creation and at
    /// each delivery, against server-side request forgery).
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private: bool,

    /// Multiplies the retry schedule of a failed delivery (5 s, 5 min,
    /// 30 min, 2 h, 5 h, 10 h, 10 h; Standard Webhooks'); `0.01` for tests.
    #[arg(long, env = "WEBHOOK_RETRY_SCALE", default_value_t = 1.0, value_parser = parse_scale)]
    pub retry_scale: f64,

    /// Failed tries in a row after which an endpoint is disabled (and
    /// `webhook.disabled` recorded). A 410 answer disables it at once.
    #[arg(long, env = "WEBHOOK_DISABLE_AFTER", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub disable_after: u32,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
        _ => Err(format!(
            "`{text}` is not a positive number like `1` or `0.01`"
        )),
    }
}

/// Where the browser-facing pages come from. Every page (landing,
/// GraphiQL, demo) is embedded in the executable (see `http::assets`), so
/// none of these is needed to serve them; the folders are for working on a
/// page without rebuilding the server.
#[derive(Debug, Clone, Args)]
pub struct ClientsConfig {
    /// Serve GraphiQL's files (`graphiql.js`, `graphiql.css`) from this
    /// folder instead of the build embedded in the executable (development).
    #[arg(long, env = "PLAYGROUND_ASSETS_DIR")]
    pub playground_dir: Option<PathBuf>,

    /// Serve the demo page at `/demo` from this folder instead of the build
    /// embedded in the executable (development).
    #[arg(long, env = "DEMO_ASSETS_DIR")]
    pub demo_dir: Option<PathBuf>,

    /// Load GraphiQL from the unpkg.com CDN (exact versions, checked by
    /// integrity hashes) instead of the embedded build. Off: no page of
    /// this server loads anything from another origin.
    #[arg(long, env = "PLAYGROUND_CDN", default_value_t = false, action = clap::ArgAction::Set)]
    pub playground_cdn: bool,
}

/// Default of `GRAPHQL_MAX_RESPONSE_BYTES`: 8 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// Default of `MAX_BODY_BYTES`: the largest request body accepted, 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Rate limits and GraphQL hardening (issue 4). The README's section "Rate
/// limits and hardening" explains each one.
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// Redis URL for rate-limit counters shared by every instance. Unset:
    /// counters live in this process's memory.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key this server writes.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "usergraph")]
    pub redis_key_prefix: String,

    /// Longest wait for Redis before a check counts as a store failure.
    #[arg(long, env = "REDIS_TIMEOUT", default_value = "250ms", value_parser = parse_positive_duration)]
    pub redis_timeout: Duration,

    /// What limits do while Redis is unreachable: `memory` (count in this
    /// instance), `allow` (no limits) or `deny` (refuse every limited field).
    #[arg(long, env = "RATE_LIMIT_ON_STORE_ERROR", value_enum, default_value_t = OnStoreError::Memory)]
    pub on_store_error: OnStoreError,

    /// Calls per period of a root field for callers without a tier rule.
    #[arg(long, env = "DEFAULT_RATE_LIMIT", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub default_rate_limit: u32,

    /// The period of `DEFAULT_RATE_LIMIT`.
    #[arg(long, env = "DEFAULT_RATE_PERIOD", default_value = "1m", value_parser = parse_duration)]
    pub default_rate_period: Duration,

    /// `login` attempts per target account (username or email) per period.
    #[arg(long, env = "LOGIN_ACCOUNT_RATE_LIMIT", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login_account_rate_limit: u32,

    /// `login` attempts per client IP per period, whatever the account.
    #[arg(long, env = "LOGIN_IP_RATE_LIMIT", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login_ip_rate_limit: u32,

    /// The period of both login limits.
    #[arg(long, env = "LOGIN_RATE_PERIOD", default_value = "15m", value_parser = parse_duration)]
    pub login_rate_period: Duration,

    /// Calls per `DEFAULT_RATE_PERIOD` of each root field from one client
    /// IP, whoever is logged in: a ceiling on top of the per-user rules, so
    /// a handful of accounts cannot multiply the anonymous budget.
    #[arg(long, env = "IP_RATE_LIMIT", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub ip_rate_limit: u32,

    /// IPv6 clients are counted by this prefix of their address (one /64 is
    /// one subscriber's network); IPv4 clients by their whole address.
    #[arg(long, env = "RATE_LIMIT_IPV6_PREFIX", default_value_t = 64,
          value_parser = clap::value_parser!(u8).range(1..=128))]
    pub ipv6_prefix: u8,

    /// Proxies whose `X-Forwarded-For` is believed: comma-separated IPs or
    /// CIDR ranges. Empty: the peer address is the client.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<Network>,

    /// Deepest field nesting a document may have.
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", default_value_t = 15)]
    pub max_depth: usize,

    /// Largest complexity a document may have: each field counts one, a
    /// list field counts its page size (or its bound) times its children,
    /// and a long text field counts ten. The listing of 100 users with their
    /// tier and post count costs about 800.
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", default_value_t = 5000)]
    pub max_complexity: usize,

    /// Most fields a document may have once every fragment spread is
    /// replaced by its fragment, checked before anything expands it.
    #[arg(long, env = "GRAPHQL_MAX_EXPANDED_FIELDS", default_value_t = 2000)]
    pub max_expanded_fields: u64,

    /// Most fragment definitions a document may hold.
    #[arg(long, env = "GRAPHQL_MAX_FRAGMENTS", default_value_t = 50)]
    pub max_fragments: usize,

    /// Most fragment spreads (`...Name`) a document may contain.
    #[arg(long, env = "GRAPHQL_MAX_SPREADS", default_value_t = 200)]
    pub max_spreads: usize,

    /// Most directives (`@include`, `@skip`, ...) a document may contain.
    #[arg(long, env = "GRAPHQL_MAX_DIRECTIVES", default_value_t = 50)]
    pub max_directives: usize,

    /// Most errors one response carries; further ones are summed up in a
    /// last error with `extensions.limit = "errors"`.
    #[arg(long, env = "GRAPHQL_MAX_ERRORS", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_errors: u32,

    /// Largest response body, in bytes; a larger answer is replaced by one
    /// `BAD_USER_INPUT` error with `extensions.limit = "responseBytes"`.
    #[arg(long, env = "GRAPHQL_MAX_RESPONSE_BYTES", default_value_t = DEFAULT_MAX_RESPONSE_BYTES)]
    pub max_response_bytes: usize,

    /// Most aliased fields a document may contain.
    #[arg(long, env = "GRAPHQL_MAX_ALIASES", default_value_t = 15)]
    pub max_aliases: usize,

    /// Most root fields an operation may select.
    #[arg(long, env = "GRAPHQL_MAX_ROOT_FIELDS", default_value_t = 10)]
    pub max_root_fields: usize,

    /// Most operations in one batched (JSON array) request.
    #[arg(long, env = "GRAPHQL_MAX_BATCH", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_batch: u32,

    /// Largest request body, in bytes; larger is HTTP 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Longest time one request may run before it is answered 503 `INTERNAL`.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub request_timeout: Duration,

    /// Answer introspection queries (`__schema`, `__type`).
    #[arg(long, env = "GRAPHQL_INTROSPECTION", default_value_t = true, action = clap::ArgAction::Set)]
    pub introspection: bool,

    /// Answer the common `user` and `users` documents from compiled plans
    /// instead of async-graphql's executor, once the executor has run the
    /// same text without an error (see `graphql::compiled`). `false` runs
    /// every document through async-graphql.
    #[arg(long, env = "GRAPHQL_COMPILED_QUERIES", default_value_t = true, action = clap::ArgAction::Set)]
    pub compiled_queries: bool,

    /// Serve the GraphiQL page at `GET /graphql`.
    #[arg(long, env = "GRAPHQL_PLAYGROUND", default_value_t = true, action = clap::ArgAction::Set)]
    pub playground: bool,

    /// Browser origins allowed to call the API cross-site, with credentials
    /// (comma-separated, e.g. `https://app.example.com`). Empty: none.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,
}

/// How tokens are signed (`JWT_ALGORITHM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SigningAlgorithm {
    /// Ed25519 keys from the database, published in the JWKS.
    #[value(name = "EdDSA")]
    EdDSA,
    /// ECDSA P-256 keys from the database, published in the JWKS.
    #[value(name = "ES256")]
    ES256,
    /// HMAC with `JWT_SECRET`: nothing to publish.
    #[value(name = "HS256")]
    HS256,
}

impl SigningAlgorithm {
    /// The JOSE name (`alg`), as stored in the `signing_key` table.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::HS256 => "HS256",
        }
    }

    /// The algorithm of a stored key, from its JOSE name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::EdDSA, Self::ES256, Self::HS256]
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }
}

/// How new passwords are hashed (`PASSWORD_HASH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PasswordHashAlgorithm {
    /// bcrypt at `BCRYPT_COST`: passwords of at most 72 bytes.
    Bcrypt,
    /// argon2id with the `ARGON2_*` settings: passwords of up to 256 bytes.
    Argon2id,
}

/// A memory size in KiB, written `19MiB`, `19456KiB` or `1GiB`.
fn parse_kibibytes(text: &str) -> Result<u32, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let scale: u64 = match unit.trim() {
        "KiB" => 1,
        "MiB" => 1024,
        "GiB" => 1024 * 1024,
        _ => return Err(format!("`{text}` is not a size like `19MiB` or `65536KiB`")),
    };
    let kib = number
        .parse::<u64>()
        .ok()
        .and_then(|number| number.checked_mul(scale))
        .ok_or_else(|| format!("`{text}` is not a size like `19MiB` or `65536KiB`"))?;
    // argon2 needs at least 8 KiB per lane; 4 GiB is its ceiling here.
    if !(8..=4 * 1024 * 1024).contains(&kib) {
        return Err(format!("`{text}` must be between 8KiB and 4GiB"));
    }
    u32::try_from(kib).map_err(|_| format!("`{text}` must be between 8KiB and 4GiB"))
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What the rate limiter does when its shared store (Redis) fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnStoreError {
    /// Count in this instance's memory until the store is back: limits hold
    /// per instance, so N instances allow at most N times the limit.
    Memory,
    /// Fail open: no limits until the store is back.
    Allow,
    /// Fail closed: every limited field is refused until the store is back.
    Deny,
}

/// An origin as browsers send it: `https://host[:port]`, no path, no `*`
/// (credentials are never allowed for every origin).
fn parse_origin(text: &str) -> Result<String, String> {
    let origin = text.trim();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("`{origin}` is not an origin like `https://app.example.com`"))?;
    if rest.is_empty() || rest.contains(['/', '*', ' ']) {
        return Err(format!(
            "`{origin}` is not an origin like `https://app.example.com` (no path, no wildcard)"
        ));
    }
    Ok(origin.to_owned())
}

/// An absolute `http(s)://` URL, kept without its trailing slash.
fn parse_base_url(text: &str) -> Result<String, String> {
    let url = text.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or_default();
    if rest.is_empty() || rest.contains([' ', '?', '#']) {
        return Err(format!(
            "`{text}` is not a base URL like `https://auth.example.com`"
        ));
    }
    Ok(url.to_owned())
}

/// A duration that may be shorter than a second (`250ms`) but not zero.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|error| format!("`{text}` is not a duration like `250ms` or `30s`: {error}"))?;
    if duration.is_zero() {
        return Err("the duration must be longer than zero".to_owned());
    }
    Ok(duration)
}

/// A duration that may be zero (`0ms`) or shorter than a second.
fn parse_threshold(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|error| format!("`{text}` is not a duration like `10ms` or `1s`: {error}"))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|error| format!("`{text}` is not a duration like `30m` or `7d`: {error}"))?;
    if duration.as_secs() == 0 {
        return Err("the duration must be at least one second".to_owned());
    }
    Ok(duration)
}

impl Config {
    /// Every setting at the default its `#[arg]` attribute declares, as if
    /// the environment and the command line were empty.
    ///
    /// # Panics
    /// Only if a declared default does not parse, which the tests rule out.
    #[must_use]
    pub fn defaults() -> Self {
        let command = Self::augment_args(Command::new("usergraph"))
            .mut_args(|arg| arg.env(None::<&'static str>));
        let matches = command
            .try_get_matches_from(["usergraph"])
            .expect("every declared default parses");
        Self::from_arg_matches(&matches).expect("every declared default parses")
    }

    /// Settings for tests and embedding: everything at its default, on the
    /// given database, listening on any free port, with the cheapest bcrypt
    /// cost.
    #[must_use]
    pub fn for_database(database_url: &str) -> Self {
        let mut config = Self::defaults();
        database_url.clone_into(&mut config.database_url);
        config.bind_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.bcrypt_cost = 4;
        // The cheapest argon2id too, for tests that switch to it.
        config.argon2_memory_kib = 64;
        config.argon2_iterations = 1;
        config
    }

    /// The pool size: the configured one, else what suits the backend.
    #[must_use]
    pub fn pool_size(&self) -> u32 {
        self.database_max_connections
            .unwrap_or(if self.is_sqlite() { 4 } else { 10 })
    }

    /// `PUBLIC_URL`, or `http://<BIND_ADDR>` when unset.
    #[must_use]
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind_addr))
    }

    /// `JWT_ISSUER`, or the public URL when unset.
    #[must_use]
    pub fn jwt_issuer(&self) -> String {
        self.jwt_issuer.clone().unwrap_or_else(|| self.public_url())
    }

    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// The file `DATABASE_URL` points at when it is SQLite, or `None` (an
    /// in-memory database, or PostgreSQL).
    #[must_use]
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let url = &self.database_url;
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
            return None;
        }
        Some(PathBuf::from(path))
    }

    /// `MAIL_DIR`, or `mail/` beside the SQLite file (or in the working
    /// directory).
    #[must_use]
    pub fn mail_dir(&self) -> PathBuf {
        if let Some(dir) = &self.mail.dir {
            return dir.clone();
        }
        self.sqlite_file()
            .and_then(|file| file.parent().map(|parent| parent.join("mail")))
            .unwrap_or_else(|| PathBuf::from("mail"))
    }

    /// The base of the links in account mails (see `ACCOUNT_LINK_BASE`).
    #[must_use]
    pub fn account_link_base(&self) -> String {
        self.mail
            .account_link_base
            .clone()
            .unwrap_or_else(|| format!("{}/account", self.public_url()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use clap::CommandFactory;

    use super::*;

    /// Variables the README documents that are not settings of this struct.
    const README_ONLY: &[&str] = &["RUST_LOG"];

    #[derive(clap::Parser)]
    struct Everything {
        #[command(flatten)]
        config: Config,
    }

    /// `(variable, default)` of every setting, the default as clap shows it
    /// (`None`: no declared default; the README then explains it in words).
    fn declared() -> BTreeMap<String, Option<String>> {
        Everything::command()
            .get_arguments()
            .filter_map(|arg| {
                let name = arg.get_env()?.to_string_lossy().into_owned();
                let defaults: Vec<String> = arg
                    .get_default_values()
                    .iter()
                    .map(|value| value.to_string_lossy().into_owned())
                    .collect();
                Some((name, (!defaults.is_empty()).then(|| defaults.join(","))))
            })
            .collect()
    }

    /// `(variable, default cell)` of every row of the README's settings table.
    fn documented() -> BTreeMap<String, String> {
        let readme = include_str!("../README.md");
        let section = readme
            .split("\n## Settings")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap_or_default();
        section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                let default = cells.get(2)?;
                Some((name.to_owned(), (*default).to_owned()))
            })
            .collect()
    }

    #[test]
    fn declared_defaults_parse() {
        let config = Config::defaults();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.access_token_ttl, Duration::from_secs(30 * 60));
        assert_eq!(config.limits.max_body_bytes, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(config.purge_interval, Duration::from_secs(15 * 60));
        assert_eq!(config.change_feed_retention, Duration::from_secs(3600));
        assert_eq!(config.password_hash, PasswordHashAlgorithm::Bcrypt);
        assert_eq!(config.argon2_memory_kib, 19 * 1024);
        assert_eq!(config.argon2_iterations, 2);
        assert_eq!(config.argon2_parallelism, 1);
        assert_eq!(
            config.otel_resolver_span_threshold,
            Duration::from_millis(10)
        );
        assert_eq!(parse_threshold("0ms"), Ok(Duration::ZERO));
        assert!(parse_threshold("10").is_err(), "a duration takes a unit");
    }

    #[test]
    fn memory_sizes_take_units() {
        assert_eq!(parse_kibibytes("19MiB"), Ok(19 * 1024));
        assert_eq!(parse_kibibytes("65536KiB"), Ok(65536));
        assert_eq!(parse_kibibytes("1GiB"), Ok(1024 * 1024));
        assert!(parse_kibibytes("19").is_err());
        assert!(parse_kibibytes("19MB").is_err());
        assert!(parse_kibibytes("4KiB").is_err());
        assert!(parse_kibibytes("5GiB").is_err());
    }

    #[test]
    fn the_readme_table_names_every_setting_with_its_default() {
        let declared = declared();
        let documented = documented();
        assert!(declared.len() > 30, "settings found: {declared:?}");
        for (name, default) in &declared {
            let Some(cell) = documented.get(name) else {
                panic!("README's settings table lacks `{name}`");
            };
            if let Some(default) = default {
                let shown = cell.trim_matches('`');
                assert_eq!(
                    shown, default,
                    "README says `{name}` defaults to {cell}, config.rs says {default}"
                );
            }
        }
        for name in documented.keys() {
            assert!(
                declared.contains_key(name) || README_ONLY.contains(&name.as_str()),
                "README's settings table documents `{name}`, which config.rs does not have"
            );
        }
    }
}
