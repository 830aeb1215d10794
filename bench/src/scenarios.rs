//! The scenarios, on each backend, in order. Throughput scenarios run with
//! the rate limiter's budgets set far above the offered load (the limiter
//! still counts every call, so its cost is in the figures); nothing is
//! refused, and any error fails the run.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use sea_orm::{ConnectionTrait, Database};

use crate::database::BenchDatabase;
use crate::report::{Bounds, Results, Row, Scaling};
use crate::server::{PeakRss, Server};
use crate::webhook_sink::WebhookSink;
use crate::wrk::{self, Load, WrkResult};
use crate::{client, seed};

pub const PASSWORD: &str = "Bench!pass1";
const SECRET: &str = "bench-secret-bench-secret-bench-secret-0123456789";

#[derive(clap::Args, Clone)]
pub struct Options {
    /// Smoke mode: tiny data, two seconds per scenario.
    #[arg(long)]
    pub quick: bool,
    /// Seconds per scenario.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Concurrent connections for throughput scenarios.
    #[arg(long, default_value_t = 64)]
    pub connections: u32,
    /// `sqlite`, `postgres` or `both`.
    #[arg(long, default_value = "both")]
    pub backend: String,
    /// A PostgreSQL server the benchmark may create a database on.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
    /// The usergraph binary (default: target/release/usergraph).
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// Where the JSON goes.
    #[arg(long, default_value = "target/bench/results.json")]
    pub out: PathBuf,
}

impl Options {
    fn seconds(&self) -> Duration {
        Duration::from_secs(if self.quick { 2 } else { self.duration })
    }
    /// Seconds for `login` and `register`: at least 30 in a full run. At
    /// 64 connections each request waits seconds for a hashing slot, and
    /// the requests still queued when the load stops are work done but not
    /// counted; over 10 s that hides about 2% of the throughput.
    fn hashing_seconds(&self) -> Duration {
        if self.quick {
            self.seconds()
        } else {
            self.seconds().max(Duration::from_secs(30))
        }
    }
    fn cost(&self) -> u32 {
        if self.quick { 4 } else { 12 }
    }
    /// Users for the everyday scenarios, and the large size on PostgreSQL.
    fn sizes(&self) -> (u64, u64) {
        if self.quick {
            (300, 1_000)
        } else {
            (100_000, 1_000_000)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

pub async fn run(options: &Options) -> Result<Results, String> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let verify_ms = crate::bcrypt_verify_ms(options.cost());
    let mut results = Results {
        mode: if options.quick { "quick" } else { "full" }.to_owned(),
        cores,
        bounds: Bounds {
            bcrypt_cost: options.cost(),
            bcrypt_verify_ms: verify_ms,
            hashing_bound_per_second: cores as f64 * 1000.0 / verify_ms,
        },
        rows: Vec::new(),
        scaling: Vec::new(),
        startup_ms: Vec::new(),
        idle_rss_mb: Vec::new(),
        notes: Vec::new(),
    };
    let backends: Vec<Backend> = match options.backend.as_str() {
        "sqlite" => vec![Backend::Sqlite],
        "postgres" => vec![Backend::Postgres],
        _ => vec![Backend::Sqlite, Backend::Postgres],
    };
    for backend in backends {
        run_backend(options, backend, &mut results).await?;
    }
    Ok(results)
}

fn server_env(options: &Options, database_url: &str) -> Vec<(String, String)> {
    let unlimited = "1000000000".to_owned();
    [
        ("DATABASE_URL", database_url.to_owned()),
        ("JWT_SECRET", SECRET.to_owned()),
        ("BCRYPT_COST", options.cost().to_string()),
        ("METRICS_ENABLED", "true".to_owned()),
        // Budgets far above the offered load, over a short window so the
        // sliding-window log stays small.
        ("DEFAULT_RATE_LIMIT", unlimited.clone()),
        // The per-address ceiling: every wrk connection comes from loopback.
        ("IP_RATE_LIMIT", unlimited.clone()),
        ("DEFAULT_RATE_PERIOD", "1s".to_owned()),
        ("LOGIN_RATE_PERIOD", "1s".to_owned()),
        ("LOGIN_ACCOUNT_RATE_LIMIT", unlimited.clone()),
        ("LOGIN_IP_RATE_LIMIT", unlimited),
        // The benchmark's webhook endpoint listens on loopback over HTTP.
        ("WEBHOOK_ALLOW_HTTP", "true".to_owned()),
        ("WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

async fn run_backend(
    options: &Options,
    backend: Backend,
    results: &mut Results,
) -> Result<(), String> {
    let database = BenchDatabase::create(options, backend).await?;
    let outcome = run_on(options, backend, &database.url, results).await;
    database.drop_it().await;
    outcome
}

/// Everything a scenario needs from the running server.
struct Context<'a> {
    server: &'a Server,
    backend: Backend,
    token: String,
    users: u64,
}

fn env(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}

/// One measured scenario: wrk load, SQL statements per request, peak RSS.
async fn measure(context: &Context<'_>, name: &str, load: Load) -> Result<Row, String> {
    let statements_before = context.server.sql_statements()?;
    let watcher = PeakRss::watch(context.server.pid());
    let result = wrk::run(&context.server.address, &load).await?;
    let peak_kib = watcher.peak_kib();
    let statements = context
        .server
        .sql_statements()?
        .saturating_sub(statements_before);
    Ok(Row::new(
        name,
        context.backend.name(),
        &result,
        statements,
        peak_kib,
    ))
}

fn cursor(id: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("user:{id}"))
}

async fn run_on(
    options: &Options,
    backend: Backend,
    url: &str,
    results: &mut Results,
) -> Result<(), String> {
    let binary = options.binary.clone().unwrap_or_default();
    let server = Server::start(&binary, &server_env(options, url))?;
    results.notes.push(format!(
        "{}: start-up to first answered request {:.0} ms, idle RSS {:.1} MB",
        backend.name(),
        server.startup.as_secs_f64() * 1000.0,
        server.idle_rss_kib as f64 / 1024.0
    ));
    results.startup_ms.push((
        backend.name().to_owned(),
        server.startup.as_secs_f64() * 1000.0,
    ));
    results.idle_rss_mb.push((
        backend.name().to_owned(),
        server.idle_rss_kib as f64 / 1024.0,
    ));

    // The template user, registered through the API so its hash has the
    // configured cost; then tiers and the rest by direct inserts.
    client::graphql(
        &server.address,
        &format!(
            "mutation {{ register(input: {{ name: \"User 0\", username: \"{}\", email: \"u0@example.com\", password: \"{PASSWORD}\" }}) {{ id }} }}",
            seed::TEMPLATE
        ),
        None,
    )?;
    let db = Database::connect(url)
        .await
        .map_err(|error| error.to_string())?;
    seed::tiers(&db).await?;
    // The template user is a superuser, so it can register the webhook.
    db.execute_unprepared(&format!(
        r#"UPDATE "user" SET is_superuser = true WHERE username = '{}'"#,
        seed::TEMPLATE
    ))
    .await
    .map_err(|error| error.to_string())?;
    let (users, large) = options.sizes();
    let login = client::graphql(
        &server.address,
        &format!(
            "mutation {{ login(usernameOrEmail: \"u0\", password: \"{PASSWORD}\") {{ accessToken }} }}"
        ),
        None,
    )?;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let seconds = options.seconds();
    let connections = options.connections;
    // Every event is delivered to a webhook, as in a deployment that has one.
    let sink = WebhookSink::start()?;
    client::graphql(
        &server.address,
        &format!(
            "mutation {{ createWebhook(input: {{ url: \"{}\", events: [\"*\"] }}) {{ webhook {{ id }} }} }}",
            sink.url
        ),
        Some(&token),
    )?;

    // Scaling: me and a listing at 1,000 users, then at the main size.
    seed::users(&db, 1, 1_000.min(users)).await?;
    let mut context = Context {
        server: &server,
        backend,
        token,
        users: 1_000.min(users),
    };
    scaling_point(options, &context, results).await?;
    listings(&context, options, results).await?;
    seed::users(&db, 1_001.min(users + 1), users).await?;
    context.users = users;

    let base = |scenario: &'static str, connections: u32| Load {
        scenario,
        connections,
        duration: seconds,
        env: Vec::new(),
    };
    let token_env = env(&[("TOKEN", context.token.clone())]);
    let users_env = env(&[
        ("USERS", users.to_string()),
        ("PASSWORD", PASSWORD.to_owned()),
    ]);

    let health = measure(&context, "GET /health", base("health", connections)).await?;
    let me = measure(
        &context,
        "me",
        Load {
            env: token_env.clone(),
            ..base("me", connections)
        },
    )
    .await?;
    results.rows.push(health);
    results.rows.push(me);
    results.rows.push(
        measure(
            &context,
            "user(username)",
            Load {
                env: users_env.clone(),
                ..base("user", connections)
            },
        )
        .await?,
    );
    let pages = (users / 100).max(1);
    results.rows.push(
        measure(
            &context,
            &format!("users(100) over {users} users"),
            Load {
                env: env(&[
                    ("PAGE_MIN", "1".to_owned()),
                    ("PAGE_MAX", pages.to_string()),
                ]),
                ..base("users", connections)
            },
        )
        .await?,
    );
    scaling_point(options, &context, results).await?;
    listings(&context, options, results).await?;

    // Password hashing: bounded by cores ÷ time per hash.
    results.rows.push(
        measure(
            &context,
            "login",
            Load {
                env: users_env.clone(),
                duration: options.hashing_seconds(),
                ..base("login", connections)
            },
        )
        .await?,
    );
    results.rows.push(
        measure(
            &context,
            "register",
            Load {
                env: env(&[("PASSWORD", PASSWORD.to_owned())]),
                duration: options.hashing_seconds(),
                ..base("register", connections)
            },
        )
        .await?,
    );

    // me while a login flood saturates hashing, against me alone at the
    // same concurrency.
    let probe = |duration| Load {
        scenario: "me",
        connections: 8,
        duration,
        env: token_env.clone(),
    };
    let idle = measure(&context, "me (8 conns, idle)", probe(seconds)).await?;
    let flood_load = Load {
        duration: seconds + Duration::from_secs(2),
        env: users_env.clone(),
        ..base("login", connections)
    };
    let address = server.address.clone();
    let flood = tokio::spawn(async move { wrk::run(&address, &flood_load).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut during = measure(&context, "me (8 conns) during login flood", probe(seconds)).await?;
    // The statement counter is process-wide: during the flood it counts the
    // logins too, so the per-request figure would mislead.
    during.sql_per_request = f64::NAN;
    let flood_result: WrkResult = flood.await.map_err(|error| error.to_string())??;
    results.rows.push(idle);
    results.rows.push(during);
    results.rows.push(Row::new(
        "login flood (background)",
        backend.name(),
        &flood_result,
        0,
        0,
    ));

    // After the hashing scenarios: each `updateUser` queues a webhook
    // delivery, and a backlog still draining would take cores from them.
    writes(&context, options, results).await?;

    if backend == Backend::Postgres {
        // Deep pages over the large table: offset against cursor.
        seed::users(&db, users + 1, large).await?;
        context.users = large;
        let last_page = (large / 100).max(2);
        results.rows.push(
            measure(
                &context,
                &format!("users(100) first pages of {large}"),
                Load {
                    env: env(&[("PAGE_MIN", "1".to_owned()), ("PAGE_MAX", "10".to_owned())]),
                    ..base("users", connections)
                },
            )
            .await?,
        );
        results.rows.push(
            measure(
                &context,
                &format!("users(100) last pages of {large}, offset"),
                Load {
                    env: env(&[
                        ("PAGE_MIN", (last_page - 10).max(1).to_string()),
                        ("PAGE_MAX", last_page.to_string()),
                    ]),
                    ..base("users", connections)
                },
            )
            .await?,
        );
        let cursors: Vec<String> = (1..=10)
            .map(|step| cursor(large.saturating_sub(100 * step + 1)))
            .collect();
        results.rows.push(
            measure(
                &context,
                &format!("users(100) last pages of {large}, cursor"),
                Load {
                    env: env(&[("CURSORS", cursors.join(","))]),
                    ..base("users_cursor", connections)
                },
            )
            .await?,
        );
        scaling_point(options, &context, results).await?;
    }
    results.notes.push(format!(
        "{}: webhook deliveries received during the run: {}",
        backend.name(),
        sink.received()
    ));
    let _ = db.close().await;
    Ok(())
}

/// The listings of issue 16 at the current size: pages of 10 and of 100
/// among the first 1,000 users (where an admin console or a directory
/// reads), by page number.
async fn listings(
    context: &Context<'_>,
    options: &Options,
    results: &mut Results,
) -> Result<(), String> {
    let within = context.users.min(1_000);
    for (scenario, size) in [("users10", 10), ("users100", 100)] {
        let load = Load {
            scenario,
            connections: options.connections,
            duration: options.seconds(),
            env: env(&[
                ("PAGE_MIN", "1".to_owned()),
                ("PAGE_MAX", (within / size).max(1).to_string()),
            ]),
        };
        let name = format!("users({size}) at {} users", context.users);
        results.rows.push(measure(context, &name, load).await?);
    }
    Ok(())
}

/// The write paths clients hit all day: `refreshToken` (every few minutes
/// per client) over one session per connection, and `updateUser`.
async fn writes(
    context: &Context<'_>,
    options: &Options,
    results: &mut Results,
) -> Result<(), String> {
    // One session per connection, and eight spare per wrk thread (each
    // thread takes every other one): wrk asks a thread for a request more
    // often than it sends one (seen: once more per thread), and a token
    // taken that way never comes back to the pool.
    let mut refresh_tokens = Vec::new();
    for _ in 0..options.connections + 16 {
        let login = client::graphql(
            &context.server.address,
            &format!(
                "mutation {{ login(usernameOrEmail: \"{}\", password: \"{PASSWORD}\") {{ refreshToken }} }}",
                seed::TEMPLATE
            ),
            None,
        )?;
        let refresh = login["data"]["login"]["refreshToken"]
            .as_str()
            .ok_or_else(|| format!("login for the refresh scenario failed: {login}"))?;
        refresh_tokens.push(refresh.to_owned());
    }
    let load = |scenario, env| Load {
        scenario,
        connections: options.connections,
        duration: options.seconds(),
        env,
    };
    results.rows.push(
        measure(
            context,
            "refreshToken",
            load(
                "refresh",
                env(&[("REFRESH_TOKENS", refresh_tokens.join(","))]),
            ),
        )
        .await?,
    );
    results.rows.push(
        measure(
            context,
            "updateUser",
            load("update", env(&[("TOKEN", context.token.clone())])),
        )
        .await?,
    );
    Ok(())
}

/// `me` throughput and a first-page listing's latency at the current size.
async fn scaling_point(
    options: &Options,
    context: &Context<'_>,
    results: &mut Results,
) -> Result<(), String> {
    let seconds = options.seconds().min(Duration::from_secs(5));
    let me = wrk::run(
        &context.server.address,
        &Load {
            scenario: "me",
            connections: options.connections,
            duration: seconds,
            env: env(&[("TOKEN", context.token.clone())]),
        },
    )
    .await?;
    let listing = wrk::run(
        &context.server.address,
        &Load {
            scenario: "users",
            connections: 8,
            duration: seconds,
            env: env(&[("PAGE_MIN", "1".to_owned()), ("PAGE_MAX", "10".to_owned())]),
        },
    )
    .await?;
    results.scaling.push(Scaling {
        backend: context.backend.name().to_owned(),
        users: context.users,
        me_per_second: me.requests_per_second(),
        users_p50_ms: listing.p50_us as f64 / 1000.0,
        errors: me.errors + listing.errors,
    });
    Ok(())
}
