//! The limits on the mutations that send mail (`requestPasswordReset`,
//! `requestEmailVerification`, `changeEmail`): per target address, so nobody
//! can bomb an inbox, and per client address, so nobody can walk a list of
//! addresses. Counted before anything else happens, whether or not the
//! address has an account, so the count itself reveals nothing.

use super::login::{hash, refuse_unless_allowed};
use super::{RateLimiter, RequestLimits, Rule};
use crate::config::MailConfig;
use crate::error::AppResult;

/// Count one mail request for `address` from this request's client;
/// `RATE_LIMITED` when either budget is spent.
pub async fn check_request(
    limiter: &RateLimiter,
    config: &MailConfig,
    limits: &RequestLimits,
    address: &str,
) -> AppResult<()> {
    let ip_rule = Rule {
        limit: config.client_rate_limit.max(1),
        period: config.rate_period,
    };
    let ip_key = format!("mail:ip:{}", limits.client_key());
    refuse_unless_allowed(limits, limiter.check(&ip_key, ip_rule).await)?;
    let address_rule = Rule {
        limit: config.address_rate_limit.max(1),
        period: config.rate_period,
    };
    // Hashed: a counter's key should not store an email address.
    let address_key = format!("mail:address:{}", hash(&address.trim().to_lowercase()));
    refuse_unless_allowed(limits, limiter.check(&address_key, address_rule).await)
}
