//! Logging in, refreshing and logging out. A login opens a session (see
//! [`super::session_store`]); a refresh continues it, or ends it when the
//! refresh token is a replay; a logout ends it.
//!
//! Every refusal of `login` and `refresh` is the same `UNAUTHENTICATED`
//! answer, and an unknown account costs the same bcrypt work as a wrong
//! password, so neither the message nor the timing tells an attacker which
//! accounts exist.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::session_store::{self, EndReason, Rotation};
use super::write::{Actor, Write};
use super::{revocation, users};
use crate::auth::TokenKind;
use crate::auth::tokens::SessionToken;
use crate::entities::session;
use crate::entities::user;
use crate::error::{AppError, AppResult, INVALID_CREDENTIALS, INVALID_TOKEN};
use crate::metrics::LoginOutcome;
use crate::ratelimit::RequestLimits;
use crate::ratelimit::login as login_limits;
use crate::state::AppContext;

/// A fresh pair of tokens for one user.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub user: user::Model,
}

/// Log in with a username or an email address, within the login limits
/// (see `ratelimit::login`): the client's and the identifier's budgets
/// refuse with `RATE_LIMITED`, the account's budget like a wrong password.
pub async fn login(
    ctx: &AppContext,
    actor: &Actor,
    limits: &RequestLimits,
    identifier: &str,
    password: &str,
) -> AppResult<Session> {
    let result = attempt_login(ctx, actor, limits, identifier, password).await;
    ctx.metrics.login(match &result {
        Ok(_) => LoginOutcome::Success,
        Err(AppError::Unauthenticated(_)) => LoginOutcome::InvalidCredentials,
        Err(AppError::RateLimited { .. }) => LoginOutcome::Limited,
        Err(_) => LoginOutcome::Error,
    });
    result
}

async fn attempt_login(
    ctx: &AppContext,
    actor: &Actor,
    limits: &RequestLimits,
    identifier: &str,
    password: &str,
) -> AppResult<Session> {
    let config = &ctx.config.limits;
    login_limits::check_attempt(&ctx.limiter, config, limits, identifier).await?;
    let account = users::find_by_login_identifier(ctx, identifier).await?;
    let budget_left = match &account {
        Some(account) => login_limits::account_budget_left(&ctx.limiter, config, account.id).await,
        None => true,
    };
    let Some(account) = account.filter(|_| budget_left) else {
        // Unknown, or out of attempts: the same answer, after the same work.
        ctx.passwords.verify_dummy(password).await?;
        return Err(AppError::Unauthenticated(INVALID_CREDENTIALS));
    };
    let matches = ctx
        .passwords
        .verify(password, &account.hashed_password)
        .await?;
    if !matches || account.is_deleted {
        return Err(AppError::Unauthenticated(INVALID_CREDENTIALS));
    }
    let write = Write::begin(ctx, actor).await?;
    let opened = session_store::open(&write, account.id, ctx.config.session_max_age).await?;
    write.commit().await?;
    hand_out(ctx, account, &opened)
}

/// Exchange a refresh token for a new pair of the same session. The old
/// refresh token is used up (rotation); used again within
/// `REFRESH_REUSE_GRACE` it gets the same new pair, used again later it ends
/// the whole session (a replay) and is refused.
pub async fn refresh(
    ctx: &AppContext,
    actor: &Actor,
    refresh_token: Option<&str>,
) -> AppResult<Session> {
    let token = refresh_token.ok_or(AppError::Unauthenticated(INVALID_TOKEN))?;
    let claims = ctx.tokens.verify(token, TokenKind::Refresh)?;
    let account = user::Entity::find()
        .filter(user::Column::Uuid.eq(claims.sub))
        .filter(user::Column::IsDeleted.eq(false))
        .filter(user::Column::TokenVersion.eq(claims.ver))
        .one(&ctx.db)
        .await?
        .ok_or(AppError::Unauthenticated(INVALID_TOKEN))?;
    let mut write = Write::begin(ctx, actor).await?;
    let grace = ctx.config.refresh_reuse_grace;
    match session_store::rotate(&mut write, claims.sid, account.id, claims.jti, grace).await? {
        Rotation::Rotated(row) | Rotation::Repeated(row) => {
            write.commit().await?;
            hand_out(ctx, account, &row)
        }
        Rotation::Reused(row) => {
            write.commit().await?;
            tracing::warn!(
                session = %row.id,
                user_id = account.id,
                "a used refresh token was presented again: the session is ended"
            );
            Err(AppError::Unauthenticated(INVALID_TOKEN))
        }
        Rotation::Dead => Err(AppError::Unauthenticated(INVALID_TOKEN)),
    }
}

/// End what the actor holds, in one write: the session of their access
/// token (if the request was authenticated) and of a refresh token (if one
/// was given and is valid), and revoke both tokens. Logging out twice, or
/// with dead tokens, succeeds quietly.
pub async fn logout(ctx: &AppContext, actor: &Actor, refresh_token: Option<&str>) -> AppResult<()> {
    let refresh = refresh_token.and_then(|token| ctx.tokens.verify(token, TokenKind::Refresh).ok());
    if actor.caller().is_none() && refresh.is_none() {
        return Ok(());
    }
    let mut write = Write::begin(ctx, actor).await?;
    if let Some(caller) = actor.caller() {
        revocation::revoke(&mut write, &caller.token, Some(caller.user.id)).await?;
        end_session_of(&mut write, &caller.token.sid).await?;
    }
    if let Some(claims) = refresh {
        let owner = actor
            .caller()
            .filter(|caller| caller.user.uuid == claims.sub)
            .map(|caller| caller.user.id);
        revocation::revoke(&mut write, &claims, owner).await?;
        end_session_of(&mut write, &claims.sid).await?;
    }
    write.commit().await
}

/// End session `sid` with a logout, if it is still live.
async fn end_session_of(write: &mut Write<'_>, sid: &uuid::Uuid) -> AppResult<()> {
    let row = session::Entity::find_by_id(*sid).one(write.db()).await?;
    if let Some(row) = row {
        session_store::end(write, &row, EndReason::Logout).await?;
    }
    Ok(())
}

/// The pair of `row`'s current tokens. Minting is deterministic, so a
/// repeated refresh within the grace gets the very same pair.
fn hand_out(ctx: &AppContext, account: user::Model, row: &session::Model) -> AppResult<Session> {
    let token = |jti| SessionToken {
        sid: row.id,
        jti,
        issued_at: row.rotated_at,
        not_after: row.expires_at,
    };
    let (access_token, access) =
        ctx.tokens
            .issue(&account, TokenKind::Access, token(row.access_jti))?;
    let (refresh_token, _) =
        ctx.tokens
            .issue(&account, TokenKind::Refresh, token(row.refresh_jti))?;
    let expires_in = u64::try_from(access.exp.saturating_sub(access.iat)).unwrap_or(0);
    Ok(Session {
        access_token,
        refresh_token,
        expires_in,
        user: account,
    })
}
