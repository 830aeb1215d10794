//! Every setting of the server, its default and its meaning, in one place.
//!
//! Settings come from the environment (a `.env` file is read first when
//! present) or from the matching command-line flag. The README's settings
//! table mirrors this file.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

/// The database used when `DATABASE_URL` is unset: a file beside the working
/// directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://usergraph.db?mode=rwc";

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Database connection URL: `sqlite://path?mode=rwc` or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,

    /// Address and port the HTTP server listens on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8000")]
    pub bind_addr: SocketAddr,

    /// Secret that signs tokens (at least 32 bytes). Unset on SQLite: one is
    /// generated and kept in a file beside the database. Required on PostgreSQL.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Lifetime of access tokens, e.g. `30m`, `1h`.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value = "30m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// Lifetime of refresh tokens, e.g. `7d`.
    #[arg(long, env = "REFRESH_TOKEN_TTL", default_value = "7d", value_parser = parse_duration)]
    pub refresh_token_ttl: Duration,

    /// bcrypt work factor (4–31). Each step doubles the time of a hash.
    #[arg(long, env = "BCRYPT_COST", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(4..=31))]
    pub bcrypt_cost: u32,

    /// Mark the refresh-token cookie `Secure` (set this behind HTTPS).
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|error| format!("`{text}` is not a duration like `30m` or `7d`: {error}"))?;
    if duration.as_secs() == 0 {
        return Err("a token lifetime must be at least one second".to_owned());
    }
    Ok(duration)
}

impl Config {
    /// Settings for tests and embedding: everything at its default, on the
    /// given database, with the cheapest bcrypt cost.
    #[must_use]
    pub fn for_database(database_url: &str) -> Self {
        Self {
            database_url: database_url.to_owned(),
            database_max_connections: 5,
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            jwt_secret: None,
            access_token_ttl: Duration::from_secs(30 * 60),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            bcrypt_cost: 4,
            cookie_secure: false,
        }
    }

    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}
