//! Counting every root-field resolution against the caller's rule, before
//! the resolver runs, and every document refused by a limit.
//!
//! Doing it in an extension rather than in each resolver covers every
//! current and future root field, and counts per resolution: each alias and
//! each operation of a batch is one call. A refused document counts as one
//! call of its own pseudo field, so a flood of refusals is throttled like a
//! flood of anything else.

use std::any::{Any, TypeId};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{
    Context, Data, ErrorExtensions, PathSegment, ServerError, ServerResult, Value,
};

use crate::auth::{Authentication, Caller};
use crate::ratelimit::{Decision, RequestLimits, Rule, ip_field_key, user_field_key};
use crate::state::AppContext;

/// The pseudo root field a refused document is counted as.
pub const REFUSED_DOCUMENT: &str = "(refused document)";

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
        // A subscription's root field resolves once per event; its start
        // is counted by the resolver instead (`count_subscription_start`).
        if info.path_node.parent.is_none()
            && !info.is_for_introspection
            && info.parent_type != SUBSCRIPTION
            && let Some(counting) = Counting::from_extension(ctx)
        {
            let decision = counting.count(info.name).await;
            if !decision.allowed {
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

/// The name of the subscription root type.
const SUBSCRIPTION: &str = "Subscription";

/// Count the start of subscription `field`; `RATE_LIMITED` when the
/// caller's budget for it is spent.
pub async fn count_subscription_start(ctx: &Context<'_>, field: &str) -> async_graphql::Result<()> {
    let Some(app) = ctx.data_opt::<AppContext>() else {
        return Ok(());
    };
    let counting = Counting {
        app,
        limits: RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>()),
        caller: ctx
            .data_opt::<Authentication>()
            .and_then(Authentication::caller),
    };
    let decision = counting.count(field).await;
    if decision.allowed {
        Ok(())
    } else {
        Err(decision.to_error().extend())
    }
}

/// What counting needs to know of a request: the limiter, the client and
/// the caller.
pub struct Counting<'a> {
    app: &'a AppContext,
    limits: Arc<RequestLimits>,
    caller: Option<&'a Caller>,
}

impl<'a> Counting<'a> {
    /// From a running request. `None` without the application context (a
    /// bare schema has no limiter).
    #[must_use]
    pub fn from_extension(ctx: &ExtensionContext<'a>) -> Option<Self> {
        Some(Self {
            app: ctx.data_opt::<AppContext>()?,
            limits: RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>()),
            caller: ctx
                .data_opt::<Authentication>()
                .and_then(Authentication::caller),
        })
    }

    /// From a request still being prepared, whose data is not attached yet
    /// (over WebSocket the caller is in the connection's data instead).
    #[must_use]
    pub fn from_request(ctx: &ExtensionContext<'a>, data: &'a Data) -> Option<Self> {
        let limits = data_of::<Arc<RequestLimits>>(data).or_else(|| ctx.data_opt());
        let authentication = data_of::<Authentication>(data).or_else(|| ctx.data_opt());
        Some(Self {
            app: ctx.data_opt::<AppContext>()?,
            limits: RequestLimits::from_request_data(limits),
            caller: authentication.and_then(Authentication::caller),
        })
    }

    /// Count one call of root field `field`: a logged-in caller by user id
    /// under their tier's rule, anyone else by client address under the
    /// default rule; then everyone under the per-address ceiling.
    pub async fn count(&self, field: &str) -> Decision {
        let config = &self.app.config.limits;
        let default = Rule::default_for(config);
        let client = self.limits.client_key();
        let (key, rule) = match self.caller {
            Some(caller) => (
                user_field_key(field, caller.user.id),
                self.tier_rule(caller, field, default).await,
            ),
            None => (ip_field_key(field, client), default),
        };
        let decision = self.app.limiter.check(&key, rule).await;
        let decision = if decision.allowed {
            let ceiling = Rule::ip_ceiling_for(config);
            let key = format!("field:{field}:client:{client}");
            let capped = self.app.limiter.check(&key, ceiling).await;
            if capped.allowed { decision } else { capped }
        } else {
            decision
        };
        self.limits.record_field(decision);
        if !decision.allowed {
            self.app.metrics.rate_limit_refusal(field);
        }
        decision
    }

    async fn tier_rule(&self, caller: &Caller, field: &str, default: Rule) -> Rule {
        let Some(tier_id) = caller.user.tier_id else {
            return default;
        };
        match self.limits.tier_rules(&self.app.db, tier_id).await {
            Ok(rules) => rules.get(field).copied().unwrap_or(default),
            Err(error) => {
                tracing::warn!(%error, tier_id, "could not load tier rules; using the default");
                default
            }
        }
    }
}

/// Count a document refused by a limit. `Some(RATE_LIMITED error)` when
/// the caller's budget is spent: that is then the answer.
pub async fn refused_document(counting: Option<Counting<'_>>) -> Option<ServerError> {
    let decision = counting?.count(REFUSED_DOCUMENT).await;
    (!decision.allowed).then(|| {
        decision
            .to_error()
            .extend()
            .into_server_error(async_graphql::Pos::default())
    })
}

fn data_of<T: Any + Send + Sync>(data: &Data) -> Option<&T> {
    data.get(&TypeId::of::<T>())
        .and_then(|value| value.downcast_ref::<T>())
}
