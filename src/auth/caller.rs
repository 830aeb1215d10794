//! The caller of a request, worked out once by the HTTP layer and handed to
//! every resolver through the request data.
//!
//! A request without `Authorization` is anonymous. A request with a token
//! that fails (forged, expired, revoked, of a deleted user) is *not* treated
//! as anonymous for fields that need a caller: those answer
//! `UNAUTHENTICATED`. Public fields (`login`, `register`) still work, so a
//! client holding a stale token can log in again.
//!
//! Reads may answer from the session cache (see [`super::session_cache`]);
//! a request that may mutate always checks the token against the database,
//! so no write ever rides on a session another instance has just ended.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use chrono::Utc;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::tokens::{Claims, TokenKind};
use crate::entities::{session, token_blacklist, user};
use crate::error::{AppError, AppResult, INVALID_TOKEN};
use crate::state::AppContext;

/// An authenticated caller: the user row and the access token they used.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: user::Model,
    pub token: Claims,
    /// Set once an operation of this request ended the session (`logout`,
    /// `changePassword`, deleting oneself). Shared by every operation of a
    /// batch, so the later ones act as the session's end left them, not as
    /// the request began.
    ended: Arc<AtomicBool>,
    /// Whether the token was checked against the database during this
    /// request (not only against the session cache). Writes require it;
    /// see `services::write`.
    database_checked: Arc<AtomicBool>,
}

impl Caller {
    #[must_use]
    pub fn new(user: user::Model, token: Claims, freshness: Freshness) -> Self {
        Self {
            user,
            token,
            ended: Arc::default(),
            database_checked: Arc::new(AtomicBool::new(freshness == Freshness::Database)),
        }
    }

    /// Whether this request has checked the token against the database.
    #[must_use]
    pub fn is_database_checked(&self) -> bool {
        self.database_checked.load(Ordering::SeqCst)
    }

    /// The token was just checked against the database and is live.
    pub fn mark_database_checked(&self) {
        self.database_checked.store(true, Ordering::SeqCst);
    }

    /// The rest of this request runs without this session.
    pub fn end_session(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone)]
pub enum Authentication {
    Anonymous,
    /// A token was presented and refused.
    Rejected,
    Authenticated(Box<Caller>),
}

impl Authentication {
    /// The caller, or `UNAUTHENTICATED`.
    pub fn require(&self) -> AppResult<&Caller> {
        match self {
            Self::Authenticated(caller) if !caller.is_ended() => Ok(caller),
            Self::Authenticated(_) | Self::Rejected => {
                Err(AppError::Unauthenticated(INVALID_TOKEN))
            }
            Self::Anonymous => Err(AppError::Unauthenticated("Authentication required")),
        }
    }

    #[must_use]
    pub fn caller(&self) -> Option<&Caller> {
        match self {
            Self::Authenticated(caller) if !caller.is_ended() => Some(caller),
            _ => None,
        }
    }
}

/// The bearer token of the `Authorization` header, if one was sent.
#[must_use]
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    bearer(headers.get(AUTHORIZATION)?.to_str().ok()?)
}

/// The token of an `Authorization` value `Bearer <token>` (any case).
#[must_use]
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|token| !token.is_empty())
}

/// Whether a request may answer from the session cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A read: a session checked recently will do.
    Cached,
    /// A request that may write: check against the database now.
    Database,
}

/// Authenticate a request from its headers: signature and expiry in memory,
/// then the session cache (for reads) or one query that finds the live user
/// only if the token is neither revoked nor older than the user's last "end
/// every session".
pub async fn authenticate(
    ctx: &AppContext,
    headers: &HeaderMap,
    freshness: Freshness,
) -> AppResult<Authentication> {
    if headers.get(AUTHORIZATION).is_none() {
        return Ok(Authentication::Anonymous);
    }
    let Some(raw_token) = bearer_token(headers) else {
        return Ok(Authentication::Rejected);
    };
    authenticate_token(ctx, raw_token, freshness).await
}

/// Authenticate an access token presented some other way than a header
/// (a WebSocket's `connection_init`), as [`authenticate`] does.
pub async fn authenticate_token(
    ctx: &AppContext,
    raw_token: &str,
    freshness: Freshness,
) -> AppResult<Authentication> {
    let Ok(claims) = ctx.tokens.verify(raw_token, TokenKind::Access) else {
        return Ok(Authentication::Rejected);
    };
    match token_owner(ctx, &claims, freshness).await? {
        Some(user) => Ok(Authentication::Authenticated(Box::new(Caller::new(
            user, claims, freshness,
        )))),
        None => Ok(Authentication::Rejected),
    }
}

/// The active user a verified token belongs to, `None` once its session
/// has ended: from the session cache for a read, from the database for a
/// write (see [`Freshness`]).
pub async fn token_owner(
    ctx: &AppContext,
    claims: &Claims,
    freshness: Freshness,
) -> AppResult<Option<user::Model>> {
    match freshness {
        Freshness::Cached => cached_token_owner(ctx, claims).await,
        Freshness::Database => find_token_owner(&ctx.db, claims).await,
    }
}

/// [`find_token_owner`] through the session cache. Only positive answers
/// are kept: a refused token always costs a look-up, so a flood of forged
/// ones cannot fill the cache.
async fn cached_token_owner(ctx: &AppContext, claims: &Claims) -> AppResult<Option<user::Model>> {
    let cached = ctx.sessions.get(claims.jti, Instant::now());
    if ctx.sessions.is_enabled() {
        ctx.metrics.session_cache_lookup(cached.is_some());
    }
    if let Some(user) = cached {
        return Ok(Some(user));
    }
    let ticket = ctx.sessions.ticket();
    let user = find_token_owner(&ctx.db, claims).await?;
    if let Some(user) = &user {
        ctx.sessions
            .fill(ticket, claims.jti, user.clone(), Instant::now());
    }
    Ok(user)
}

/// The active user a verified token belongs to, in one round trip: `None`
/// when the user is gone or deleted, the token was revoked, its session has
/// ended or expired, or the user's sessions were ended after it was issued.
pub async fn find_token_owner(
    db: &DatabaseConnection,
    claims: &Claims,
) -> AppResult<Option<user::Model>> {
    let revoked = Query::select()
        .expr(Expr::val(1))
        .from(token_blacklist::Entity)
        .and_where(token_blacklist::Column::TokenId.eq(claims.jti))
        .to_owned();
    let live_session = Query::select()
        .expr(Expr::val(1))
        .from(session::Entity)
        .and_where(session::Column::Id.eq(claims.sid))
        .and_where(session::Column::EndedAt.is_null())
        .and_where(session::Column::ExpiresAt.gt(Utc::now()))
        .to_owned();
    let user = user::Entity::find()
        .filter(user::Column::Uuid.eq(claims.sub))
        .filter(user::Column::IsDeleted.eq(false))
        .filter(user::Column::TokenVersion.eq(claims.ver))
        .filter(Expr::exists(revoked).not())
        .filter(Expr::exists(live_session))
        .one(db)
        .await?;
    Ok(user)
}
