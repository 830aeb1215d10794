//! Webhook endpoints and their deliveries: superusers only.

use async_graphql::{Context, ErrorExtensions, InputObject, Object, ResultExt};

use super::audit::page_size;
use super::types::{Webhook, WebhookDelivery, WebhookDeliveryPage, WebhookWithSecret};
use super::{actor, app_context};
use crate::auth::Superuser;
use crate::services::audit::parse_cursor;
use crate::services::webhooks::{self, NewWebhook, WebhookChanges};

#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// `https://…` (`http://` only with `WEBHOOK_ALLOW_HTTP`), resolving to
    /// public addresses (unless `WEBHOOK_ALLOW_PRIVATE`).
    pub url: String,
    /// Event types to receive: `user.registered`, a family `user.*`, or `*`.
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// Leave a field out to keep it.
#[derive(InputObject)]
pub struct UpdateWebhookInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// `true` re-enables a disabled endpoint; `false` pauses it.
    pub enabled: Option<bool>,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Every webhook endpoint. Superusers only.
    #[graphql(
        guard = "Superuser",
        complexity = "super::complexity::short_list(child_complexity)"
    )]
    async fn webhooks(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Webhook>> {
        let all = webhooks::list(app_context(ctx)?).await.extend()?;
        Ok(all.into_iter().map(Webhook::from).collect())
    }

    /// The deliveries of one endpoint, newest first. Superusers only.
    #[graphql(
        guard = "Superuser",
        complexity = "super::complexity::page(first, child_complexity)"
    )]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        webhook_id: i32,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<WebhookDeliveryPage> {
        let size = page_size(first.unwrap_or(20)).map_err(|e| e.extend())?;
        let before = parse_cursor(after.as_deref()).map_err(|e| e.extend())?;
        let (rows, has_more) = webhooks::deliveries(app_context(ctx)?, webhook_id, size, before)
            .await
            .extend()?;
        Ok(WebhookDeliveryPage::new(rows, has_more))
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Add an endpoint. Its signing secret is in the answer, and only there.
    #[graphql(guard = "Superuser")]
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> async_graphql::Result<WebhookWithSecret> {
        let created = webhooks::create(
            app_context(ctx)?,
            &actor(ctx),
            NewWebhook {
                url: input.url,
                events: input.events,
                description: input.description,
            },
        )
        .await
        .extend()?;
        let secret = created.secret.clone();
        Ok(WebhookWithSecret {
            webhook: created.into(),
            secret,
        })
    }

    #[graphql(guard = "Superuser")]
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        id: i32,
        input: UpdateWebhookInput,
    ) -> async_graphql::Result<Webhook> {
        let changes = WebhookChanges {
            url: input.url,
            events: input.events,
            description: input.description,
            enabled: input.enabled,
        };
        Ok(
            webhooks::update(app_context(ctx)?, &actor(ctx), id, changes)
                .await
                .extend()?
                .into(),
        )
    }

    /// Remove an endpoint and its deliveries.
    #[graphql(guard = "Superuser")]
    async fn delete_webhook(&self, ctx: &Context<'_>, id: i32) -> async_graphql::Result<bool> {
        webhooks::delete(app_context(ctx)?, &actor(ctx), id)
            .await
            .extend()?;
        Ok(true)
    }

    /// Send a `webhook.test` event to one endpoint.
    #[graphql(guard = "Superuser")]
    async fn test_webhook(
        &self,
        ctx: &Context<'_>,
        id: i32,
    ) -> async_graphql::Result<WebhookDelivery> {
        Ok(webhooks::test(app_context(ctx)?, &actor(ctx), id)
            .await
            .extend()?
            .into())
    }

    /// Send a delivery again (same `webhook-id`), from a fresh retry schedule.
    #[graphql(guard = "Superuser")]
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: i64,
    ) -> async_graphql::Result<WebhookDelivery> {
        Ok(
            webhooks::redeliver(app_context(ctx)?, &actor(ctx), delivery_id)
                .await
                .extend()?
                .into(),
        )
    }
}
