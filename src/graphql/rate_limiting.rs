//! Counting every root-field resolution against the caller's rule, before
//! the resolver runs.
//!
//! Doing it in an extension rather than in each resolver covers every
//! current and future root field, and counts per resolution: each alias and
//! each operation of a batch is one call.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ErrorExtensions, PathSegment, ServerError, ServerResult, Value};

use crate::auth::Authentication;
use crate::ratelimit::{Decision, RequestLimits, Rule, user_field_key};
use crate::state::AppContext;

pub struct RootFieldLimits;

impl ExtensionFactory for RootFieldLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RootFieldLimitsExtension)
    }
}

struct RootFieldLimitsExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for RootFieldLimitsExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none() && !info.is_for_introspection {
            let decision = count(ctx, info.name).await;
            if let Some(decision) = decision.filter(|decision| !decision.allowed) {
                let mut error: ServerError = decision
                    .to_error()
                    .extend()
                    .into_server_error(async_graphql::Pos::default());
                let key = info.alias.unwrap_or(info.name);
                error.path = vec![PathSegment::Field(key.to_owned())];
                return Err(error);
            }
        }
        next.run(ctx, info).await
    }
}

/// Count one call of root field `field` for this request's caller: a
/// logged-in caller by user id under their tier's rule, anyone else by IP
/// under the default rule.
async fn count(ctx: &ExtensionContext<'_>, field: &str) -> Option<Decision> {
    let limits = RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>());
    // Without the application context (a bare schema) there is no limiter.
    let app = ctx.data_opt::<AppContext>()?;
    let default = Rule::default_for(&app.config.limits);
    let caller = ctx
        .data_opt::<Authentication>()
        .and_then(Authentication::caller);
    let (key, rule) = match caller {
        Some(caller) => {
            let rule = match caller.user.tier_id {
                Some(tier_id) => match limits.tier_rules(&app.db, tier_id).await {
                    Ok(rules) => rules.get(field).copied().unwrap_or(default),
                    Err(error) => {
                        tracing::warn!(%error, tier_id, "could not load tier rules; using the default");
                        default
                    }
                },
                None => default,
            };
            (user_field_key(field, caller.user.id), rule)
        }
        None => (format!("field:{field}:ip:{}", limits.client_ip.0), default),
    };
    let decision = app.limiter.check(&key, rule).await;
    limits.record_field(decision);
    Some(decision)
}
