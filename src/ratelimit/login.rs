//! The extra limits on `login` and on password checks: per client address,
//! per identifier as typed, and per target account, so password guessing is
//! slow whether an attacker spreads over accounts, over addresses or over
//! an account's two names.
//!
//! Every attempt is counted before the password is checked, successful or
//! not: counting only failures would let concurrent guesses all pass the
//! check before any failure is recorded. So a correct password after the
//! limit is refused too, until the window moves on.
//!
//! A spent address or identifier budget answers `RATE_LIMITED`: the caller
//! typed that identifier themselves, so the answer tells them nothing new.
//! A spent *account* budget must not: if `login("sy4@example.com")` were
//! `RATE_LIMITED` right after `sy4` was attacked by username, the answer
//! would tie the hidden address to `sy4`. So that refusal looks exactly like
//! a wrong password (see `services::sessions::login`).

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{Decision, RateLimiter, RequestLimits, Rule};
use crate::config::LimitsConfig;
use crate::error::{AppError, AppResult};

/// Count a login attempt for `identifier` (as typed) from this request's
/// client; `RATE_LIMITED` when either budget is spent.
pub async fn check_attempt(
    limiter: &RateLimiter,
    config: &LimitsConfig,
    limits: &RequestLimits,
    identifier: &str,
) -> AppResult<()> {
    let ip_rule = Rule {
        limit: config.login_ip_rate_limit.max(1),
        period: config.login_rate_period,
    };
    let ip_key = format!("login:ip:{}", limits.client_key());
    refuse_unless_allowed(limits, limiter.check(&ip_key, ip_rule).await)?;
    // Hashed: a counter's key should not store an email address.
    let identifier_key = format!(
        "login:identifier:{}",
        hash(&identifier.trim().to_lowercase())
    );
    refuse_unless_allowed(
        limits,
        limiter.check(&identifier_key, account_rule(config)).await,
    )
}

/// Count a password check against account `user_id` (its username and
/// email share this budget; `changePassword` draws from it too). `false`
/// when the budget is spent: the caller then refuses as for a wrong
/// password, without checking it.
pub async fn account_budget_left(
    limiter: &RateLimiter,
    config: &LimitsConfig,
    user_id: i32,
) -> bool {
    // Not recorded as a refusal either: the status code and the
    // `RateLimit-*` headers must not tell this case apart.
    count_account(limiter, config, user_id).await.allowed
}

/// The same budget, for a caller who is already that account
/// (`changePassword`): there is nothing to hide, so `RATE_LIMITED`.
pub async fn check_account(
    limiter: &RateLimiter,
    config: &LimitsConfig,
    limits: &RequestLimits,
    user_id: i32,
) -> AppResult<()> {
    refuse_unless_allowed(limits, count_account(limiter, config, user_id).await)
}

/// One password check against account `user_id`'s budget.
async fn count_account(limiter: &RateLimiter, config: &LimitsConfig, user_id: i32) -> Decision {
    limiter
        .check(&super::login_account_key(user_id), account_rule(config))
        .await
}

fn account_rule(config: &LimitsConfig) -> Rule {
    Rule {
        limit: config.login_account_rate_limit.max(1),
        period: config.login_rate_period,
    }
}

pub(super) fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

pub(super) fn refuse_unless_allowed(limits: &RequestLimits, decision: Decision) -> AppResult<()> {
    if decision.allowed {
        return Ok(());
    }
    limits.record_refusal(decision);
    Err::<(), AppError>(decision.to_error())
}
