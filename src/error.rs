//! The one error type of usergraph and how it reaches a GraphQL client.
//!
//! Every variant maps to a stable `extensions.code`. Internal errors keep
//! their cause for the log and show the client only a generic message.
//!
//! Resolvers convert explicitly with `async_graphql::ResultExt::extend`: a bare
//! `?` would compile through async-graphql's blanket `From<Display>` and
//! silently drop the code, which the tests guard against.

use std::fmt::Display;

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, SqlErr};

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The right password, but `REQUIRE_EMAIL_VERIFICATION` is on and the
    /// address is not verified yet.
    #[error("Verify your email address before logging in")]
    EmailNotVerified,
    #[error("Too many requests; retry in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    /// Bad settings found at start-up: shown to the operator, never a client.
    #[error("{0}")]
    Config(String),
    #[error("Internal server error")]
    Internal(String),
}

/// The message every refused login, refresh and password check shares, so a
/// caller cannot tell which part was wrong.
pub const INVALID_CREDENTIALS: &str = "Incorrect username or password";
/// The message for any token that is malformed, forged, expired or revoked.
pub const INVALID_TOKEN: &str = "Invalid or expired token";

impl AppError {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::BadInput(message.into())
    }

    /// Wrap an unexpected failure. The detail is logged when the error is
    /// turned into a response, never sent.
    pub fn internal(cause: impl Display) -> Self {
        Self::Internal(cause.to_string())
    }

    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadInput(_) => "BAD_USER_INPUT",
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::Conflict(_) => "CONFLICT",
            Self::EmailNotVerified => "EMAIL_NOT_VERIFIED",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::Config(_) | Self::Internal(_) => "INTERNAL",
        }
    }

    /// Turn a unique-constraint violation into a friendly conflict chosen by
    /// `conflict_for(constraint message)`; any other database error stays
    /// internal.
    pub fn from_unique_violation(error: DbErr, conflict_for: impl Fn(&str) -> String) -> Self {
        match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(detail)) => {
                Self::Conflict(conflict_for(&detail))
            }
            _ => Self::from(error),
        }
    }
}

impl From<DbErr> for AppError {
    fn from(error: DbErr) -> Self {
        Self::internal(format!("database: {error}"))
    }
}

impl ErrorExtensions for AppError {
    fn extend(&self) -> async_graphql::Error {
        if let Self::Internal(detail) | Self::Config(detail) = self {
            tracing::error!(%detail, "internal error while serving a request");
        }
        async_graphql::Error::new(self.to_string()).extend_with(|_, extensions| {
            extensions.set("code", self.code());
            if let Self::RateLimited { retry_after } = self {
                extensions.set("retryAfter", *retry_after);
            }
        })
    }
}
