//! Logging in, refreshing and logging out.
//!
//! Every refusal of `login` and `refresh` is the same `UNAUTHENTICATED`
//! answer, and an unknown account costs the same bcrypt work as a wrong
//! password, so neither the message nor the timing tells an attacker which
//! accounts exist.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::write::{Actor, Write};
use super::{revocation, users};
use crate::auth::TokenKind;
use crate::entities::user;
use crate::error::{AppError, AppResult, INVALID_CREDENTIALS, INVALID_TOKEN};
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
    start_session(ctx, account)
}

/// Exchange a refresh token for a new pair. The old refresh token is used up
/// (rotation): replaying it, or racing it against itself, fails.
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
    let write = Write::begin(ctx, actor).await?;
    if !revocation::claim_once(&write, &claims, Some(account.id)).await? {
        return Err(AppError::Unauthenticated(INVALID_TOKEN));
    }
    write.commit().await?;
    start_session(ctx, account)
}

/// Revoke what the actor holds, in one write: their access token (if the
/// request was authenticated) and a refresh token (if one was given and is
/// valid). Logging out twice, or with dead tokens, succeeds quietly.
pub async fn logout(ctx: &AppContext, actor: &Actor, refresh_token: Option<&str>) -> AppResult<()> {
    let refresh = refresh_token.and_then(|token| ctx.tokens.verify(token, TokenKind::Refresh).ok());
    if actor.caller().is_none() && refresh.is_none() {
        return Ok(());
    }
    let mut write = Write::begin(ctx, actor).await?;
    if let Some(caller) = actor.caller() {
        revocation::revoke(&mut write, &caller.token, Some(caller.user.id)).await?;
    }
    if let Some(claims) = refresh {
        let owner = actor
            .caller()
            .filter(|caller| caller.user.uuid == claims.sub)
            .map(|caller| caller.user.id);
        revocation::revoke(&mut write, &claims, owner).await?;
    }
    write.commit().await
}

fn start_session(ctx: &AppContext, account: user::Model) -> AppResult<Session> {
    let (access_token, _) = ctx.tokens.issue(&account, TokenKind::Access)?;
    let (refresh_token, _) = ctx.tokens.issue(&account, TokenKind::Refresh)?;
    Ok(Session {
        access_token,
        refresh_token,
        expires_in: ctx.tokens.access_ttl.as_secs(),
        user: account,
    })
}
