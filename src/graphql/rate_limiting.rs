//! Counting every root-field resolution against the caller's rule, before
//! the resolver runs (see [`super::guarded`], which calls [`Counting::count`]
//! for each root field), and every document refused by a limit (see
//! [`super::gate`]).
//!
//! Counting per resolution covers every current and future root field, and
//! counts each alias and each operation of a batch as one call. A refused
//! document counts as one call of its own pseudo field, so a flood of
//! refusals is throttled like a flood of anything else.

use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, ServerError};

use crate::auth::{Authentication, Caller};
use crate::ratelimit::{Decision, RequestLimits, Rule, ip_field_key, user_field_key};
use crate::state::AppContext;

/// The pseudo root field a refused document is counted as.
pub const REFUSED_DOCUMENT: &str = "(refused document)";

/// Count the start of subscription `field`; `RATE_LIMITED` when the
/// caller's budget for it is spent. (A subscription's root field resolves
/// once per event, so the [`super::guarded`] roots do not count it.)
pub async fn count_subscription_start(ctx: &Context<'_>, field: &str) -> async_graphql::Result<()> {
    let Some(counting) = Counting::from_context(ctx) else {
        return Ok(());
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
    pub fn from_context(ctx: &Context<'a>) -> Option<Self> {
        Some(Self {
            app: ctx.data_opt::<AppContext>()?,
            limits: RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>()),
            caller: ctx
                .data_opt::<Authentication>()
                .and_then(Authentication::caller),
        })
    }

    /// For a request that has not run yet: the HTTP or WebSocket layer's
    /// own view of the client and the caller.
    #[must_use]
    pub fn new(
        app: &'a AppContext,
        limits: Arc<RequestLimits>,
        caller: Option<&'a Caller>,
    ) -> Self {
        Self {
            app,
            limits,
            caller,
        }
    }

    #[must_use]
    pub fn app(&self) -> &'a AppContext {
        self.app
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
pub async fn refused_document(counting: Option<&Counting<'_>>) -> Option<ServerError> {
    let decision = counting?.count(REFUSED_DOCUMENT).await;
    (!decision.allowed).then(|| {
        decision
            .to_error()
            .extend()
            .into_server_error(async_graphql::Pos::default())
    })
}
