//! Tiers and their rate-limit rules.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::auth::Superuser;
use crate::entities::{rate_limit, tier};
use crate::graphql::app_context;
use crate::services::rate_limits;
use async_graphql::ResultExt;

pub struct Tier(tier::Model);

impl From<tier::Model> for Tier {
    fn from(model: tier::Model) -> Self {
        Self(model)
    }
}

#[Object]
impl Tier {
    async fn id(&self) -> i32 {
        self.0.id
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The tier's rules (superusers only).
    #[graphql(
        guard = "Superuser",
        complexity = "crate::graphql::complexity::short_list(child_complexity)"
    )]
    async fn rate_limits(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RateLimit>> {
        let app = app_context(ctx)?;
        let rules = rate_limits::for_tier(app, self.0.id).await.extend()?;
        Ok(rules.into_iter().map(RateLimit::from).collect())
    }
}

/// A rule: callers on `tierId` may resolve the root field `path` at most
/// `limit` times per `period` seconds.
#[derive(SimpleObject)]
pub struct RateLimit {
    pub id: i32,
    pub tier_id: i32,
    pub path: String,
    pub limit: i32,
    pub period: i32,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<rate_limit::Model> for RateLimit {
    fn from(rule: rate_limit::Model) -> Self {
        Self {
            id: rule.id,
            tier_id: rule.tier_id,
            path: rule.path,
            limit: rule.limit,
            period: rule.period,
            name: rule.name,
            created_at: rule.created_at,
        }
    }
}
