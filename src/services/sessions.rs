//! Logging in, refreshing and logging out. A login opens a session (see
//! [`super::session_store`]); a refresh continues it, or ends it when the
//! refresh token is a replay; a logout ends it.
//!
//! Every refusal of `login` and `refresh` is the same `UNAUTHENTICATED`
//! answer, and an unknown account costs the same hashing work as a wrong
//! password, so neither the message nor the timing tells an attacker which
//! accounts exist.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use serde_json::json;

use super::audit::{self, EventType};
use super::session_store::{self, EndReason, Rotation};
use super::write::{Actor, Write};
use super::{revocation, users};
use crate::auth::TokenKind;
use crate::auth::password::Verdict;
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
    let subject = account.as_ref().map(|account| account.id);
    let Some(account) = account.filter(|_| budget_left) else {
        // Unknown, or out of attempts: the same answer, after the same work
        // (the hash, and the audit write).
        ctx.passwords.verify_dummy(password).await?;
        let reason = if subject.is_some() {
            "too_many_attempts"
        } else {
            "unknown_account"
        };
        return Err(failed_login(ctx, actor, subject, reason).await);
    };
    let verdict = ctx
        .passwords
        .check(password, &account.hashed_password)
        .await?;
    let rehash = match verdict {
        Verdict::Match { rehash } if !account.is_deleted => rehash,
        Verdict::UnknownFormat => {
            if ctx.passwords.first_unknown_format(account.id) {
                tracing::warn!(
                    user_id = account.id,
                    "the stored password hash of this account is in no known format: \
                     its logins fail until the password is set again"
                );
            }
            return Err(failed_login(ctx, actor, subject, "unknown_hash_format").await);
        }
        Verdict::Match { .. } => {
            return Err(failed_login(ctx, actor, subject, "account_deleted").await);
        }
        _ => return Err(failed_login(ctx, actor, subject, "wrong_password").await),
    };
    // Only after the right password: the refusal tells nothing to anyone
    // who does not already hold the account.
    if ctx.config.mail.require_verification && account.email_verified_at.is_none() {
        failed_login(ctx, actor, subject, "email_not_verified").await;
        return Err(AppError::EmailNotVerified);
    }
    // Upgrade the hash while the password is at hand (see `auth::password`).
    let upgraded = if rehash {
        Some(ctx.passwords.hash(password).await?)
    } else {
        None
    };
    let mut write = Write::begin(ctx, actor).await?;
    if let Some(upgraded) = upgraded {
        replace_hash(&write, &account, upgraded).await?;
    }
    let opened = session_store::open(&write, account.id, ctx.config.session_max_age).await?;
    audit::record(
        &mut write,
        EventType::LoginSucceeded,
        Some(account.id),
        json!({ "sessionId": opened.id }),
    )
    .await?;
    write.commit().await?;
    hand_out(ctx, account, &opened)
}

/// Record `user.login_failed` (about the identifier's account when there
/// is one; never the password, nor an unknown identifier, which may be a
/// password typed in the wrong box) in a write of its own, and return the
/// refusal. A failure to record is logged: the answer stays the same.
async fn failed_login(
    ctx: &AppContext,
    actor: &Actor,
    subject: Option<i32>,
    reason: &str,
) -> AppError {
    let recorded = async {
        let mut write = Write::begin(ctx, actor).await?;
        audit::record(
            &mut write,
            EventType::LoginFailed,
            subject,
            json!({ "reason": reason }),
        )
        .await?;
        write.commit().await
    };
    if let Err(error) = recorded.await {
        tracing::warn!(%error, "could not record a failed login");
    }
    AppError::Unauthenticated(INVALID_CREDENTIALS)
}

/// Store `upgraded` in place of the hash the login was checked against,
/// unless the password changed meanwhile (then the newer hash stays). The
/// password is the same, so no session ends and `updatedAt` stays.
async fn replace_hash(write: &Write<'_>, account: &user::Model, upgraded: String) -> AppResult<()> {
    let replaced = user::Entity::update_many()
        .col_expr(user::Column::HashedPassword, Expr::value(upgraded))
        .filter(user::Column::Id.eq(account.id))
        .filter(user::Column::HashedPassword.eq(account.hashed_password.as_str()))
        .exec(write.db())
        .await?;
    if replaced.rows_affected == 1 {
        tracing::info!(user_id = account.id, "password hash upgraded at login");
    }
    Ok(())
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
    let mut ended = Vec::new();
    if let Some(caller) = actor.caller() {
        revocation::revoke(&mut write, &caller.token, Some(caller.user.id)).await?;
        ended.extend(end_session_of(&mut write, &caller.token.sid).await?);
    }
    if let Some(claims) = refresh {
        let owner = actor
            .caller()
            .filter(|caller| caller.user.uuid == claims.sub)
            .map(|caller| caller.user.id);
        revocation::revoke(&mut write, &claims, owner).await?;
        ended.extend(end_session_of(&mut write, &claims.sid).await?);
    }
    for (user_id, sid) in ended {
        audit::record(
            &mut write,
            EventType::Logout,
            Some(user_id),
            json!({ "sessionId": sid }),
        )
        .await?;
    }
    write.commit().await
}

/// End session `sid` with a logout, if it is still live: its user and id
/// when it was.
async fn end_session_of(
    write: &mut Write<'_>,
    sid: &uuid::Uuid,
) -> AppResult<Option<(i32, uuid::Uuid)>> {
    let row = session::Entity::find_by_id(*sid).one(write.db()).await?;
    if let Some(row) = row
        && session_store::end(write, &row, EndReason::Logout).await?
    {
        return Ok(Some((row.user_id, row.id)));
    }
    Ok(None)
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
