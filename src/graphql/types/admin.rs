//! What administrators read: a user with their tier, their rules, and
//! counts over all users.

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};

use super::tier::{RateLimit, Tier};
use super::user::User;
use crate::entities::tier;
use crate::services::listing::{Stats, TierCount};

/// A user with their tier flattened beside them (`tier*` are `null` without
/// a tier).
#[derive(SimpleObject)]
pub struct UserTier {
    pub user: User,
    pub tier: Option<Tier>,
    pub tier_id: Option<i32>,
    pub tier_name: Option<String>,
    pub tier_created_at: Option<DateTime<Utc>>,
}

impl UserTier {
    #[must_use]
    pub fn new(user: User, tier: Option<tier::Model>) -> Self {
        Self {
            user,
            tier_id: tier.as_ref().map(|tier| tier.id),
            tier_name: tier.as_ref().map(|tier| tier.name.clone()),
            tier_created_at: tier.as_ref().map(|tier| tier.created_at),
            tier: tier.map(Tier::from),
        }
    }
}

/// A user, their tier, and the rules that tier applies to them.
#[derive(SimpleObject)]
pub struct UserRateLimits {
    pub user: User,
    pub tier: Option<Tier>,
    #[graphql(complexity = "crate::graphql::complexity::short_list(child_complexity)")]
    pub rate_limits: Vec<RateLimit>,
}

#[derive(SimpleObject)]
pub struct TierUserCount {
    /// `null` for users without a tier.
    pub tier_id: Option<i32>,
    /// `null` for users without a tier.
    pub tier_name: Option<String>,
    pub users: i64,
}

#[derive(SimpleObject)]
pub struct UserStats {
    pub active_users: i64,
    pub deleted_users: i64,
    pub superusers: i64,
    /// Active users per tier, users without a tier first.
    #[graphql(complexity = "crate::graphql::complexity::short_list(child_complexity)")]
    pub per_tier: Vec<TierUserCount>,
}

fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl From<Stats> for UserStats {
    fn from(stats: Stats) -> Self {
        Self {
            active_users: int(stats.active_users),
            deleted_users: int(stats.deleted_users),
            superusers: int(stats.superusers),
            per_tier: stats
                .per_tier
                .into_iter()
                .map(|TierCount { tier, users }| TierUserCount {
                    tier_id: tier.as_ref().map(|tier| tier.id),
                    tier_name: tier.map(|tier| tier.name),
                    users: int(users),
                })
                .collect(),
        }
    }
}
