//! The extra limits on `login`: per target account and per client IP, so
//! password guessing is slow whether an attacker spreads over accounts or
//! over addresses.
//!
//! Every attempt is counted before the password is checked, successful or
//! not: counting only failures would let concurrent guesses all pass the
//! check before any failure is recorded. So a correct password after the
//! limit is refused too, until the window moves on. The account is resolved
//! first so its username and its email share one budget.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::{Decision, RequestLimits, Rule};
use crate::error::{AppError, AppResult};
use crate::services::users;
use crate::state::AppContext;

/// Count a login attempt for `identifier` from this request's client.
pub async fn check_login(
    app: &AppContext,
    limits: &RequestLimits,
    identifier: &str,
) -> AppResult<()> {
    let config = &app.config.limits;
    let ip_rule = Rule {
        limit: config.login_ip_rate_limit.max(1),
        period: config.login_rate_period,
    };
    let ip_key = format!("login:ip:{}", limits.client_ip.0);
    refuse_unless_allowed(limits, app.limiter.check(&ip_key, ip_rule).await)?;

    let account_key = match users::find_by_login_identifier(app, identifier).await? {
        Some(account) => super::login_account_key(account.id),
        // Hashed: the key of an unknown identifier should not store an email.
        None => format!("login:unknown:{}", hash(&identifier.trim().to_lowercase())),
    };
    let account_rule = Rule {
        limit: config.login_account_rate_limit.max(1),
        period: config.login_rate_period,
    };
    refuse_unless_allowed(limits, app.limiter.check(&account_key, account_rule).await)
}

fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn refuse_unless_allowed(limits: &RequestLimits, decision: Decision) -> AppResult<()> {
    if decision.allowed {
        return Ok(());
    }
    limits.record_refusal(decision);
    Err::<(), AppError>(decision.to_error())
}
