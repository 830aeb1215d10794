//! One try of a webhook delivery, run by the outbox worker for a
//! `Job::WebhookDelivery`, and what its outcome does: a 2xx ends it, a 410
//! disables the endpoint, anything else is tried again on the Standard
//! Webhooks schedule (× `WEBHOOK_RETRY_SCALE`) until it runs out, and
//! `WEBHOOK_DISABLE_AFTER` failed tries in a row disable the endpoint (and
//! record `webhook.disabled`). The outcome, the endpoint's failure count
//! and the job's next step are written in one transaction.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::audit::{self, EventType};
use super::outbox;
use super::write::{Actor, Write};
use crate::entities::{outbox_job, webhook, webhook_delivery};
use crate::error::AppResult;
use crate::state::AppContext;
use crate::webhooks::{Outcome, Sender};

/// The waits after the first, second, … failed try (Standard Webhooks:
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); eight tries in all.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// The wait after the `tries`-th failed try, or `None` after the last.
#[must_use]
pub fn retry_delay(tries: u32, scale: f64) -> Option<Duration> {
    let index = usize::try_from(tries.checked_sub(1)?).ok()?;
    RETRY_SCHEDULE
        .get(index)
        .map(|delay| delay.mul_f64(scale).max(Duration::from_millis(1)))
}

/// Try delivery `delivery_id` once for outbox job `job`, and record what
/// came of it (finishing or rescheduling the job).
pub async fn attempt(
    app: &AppContext,
    sender: &Sender,
    job: &outbox_job::Model,
    delivery_id: i64,
) -> AppResult<()> {
    let actor = Actor::system();
    let delivery = webhook_delivery::Entity::find_by_id(delivery_id)
        .one(&app.db)
        .await?;
    let hook = match &delivery {
        Some(delivery) => {
            webhook::Entity::find_by_id(delivery.webhook_id)
                .one(&app.db)
                .await?
        }
        None => None,
    };
    let (Some(delivery), Some(hook)) = (delivery, hook) else {
        // The endpoint was deleted, with its deliveries.
        return outbox::finish(&app.db, job.id).await;
    };
    if !hook.enabled {
        let write = Write::begin(app, &actor).await?;
        set_status(&write, delivery.id, "skipped").await?;
        outbox::finish(write.db(), job.id).await?;
        return write.commit().await;
    }
    let outcome = sender
        .send(
            &hook.url,
            &hook.secret,
            &delivery.message_id,
            &delivery.payload,
        )
        .await;
    let mut write = Write::begin(app, &actor).await?;
    let (status_code, excerpt) = match &outcome {
        Outcome::Delivered(code) => (Some(*code), None),
        Outcome::Gone => (Some(410), None),
        Outcome::Failed { status, excerpt } => (*status, Some(excerpt.clone())),
    };
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Attempts,
            Expr::col(webhook_delivery::Column::Attempts).add(1),
        )
        .col_expr(
            webhook_delivery::Column::LastStatusCode,
            Expr::value(status_code.map(i32::from)),
        )
        .col_expr(
            webhook_delivery::Column::LastAttemptAt,
            Expr::value(Some(Utc::now())),
        )
        .col_expr(webhook_delivery::Column::LastError, Expr::value(excerpt))
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .exec(write.db())
        .await?;
    match outcome {
        Outcome::Delivered(_) => {
            set_status(&write, delivery.id, "succeeded").await?;
            webhook::Entity::update_many()
                .col_expr(webhook::Column::ConsecutiveFailures, Expr::value(0))
                .filter(webhook::Column::Id.eq(hook.id))
                .filter(webhook::Column::ConsecutiveFailures.ne(0))
                .exec(write.db())
                .await?;
            outbox::finish(write.db(), job.id).await?;
        }
        Outcome::Gone => {
            set_status(&write, delivery.id, "failed").await?;
            disable(&mut write, hook.id, "the endpoint answered 410 Gone").await?;
            outbox::finish(write.db(), job.id).await?;
        }
        Outcome::Failed { status, excerpt } => {
            let failures = count_failure(&write, hook.id).await?;
            let limit = app.config.webhooks.disable_after;
            let tries = u32::try_from(job.attempts).unwrap_or(u32::MAX);
            let error = match status {
                Some(code) => format!("answered {code}: {excerpt}"),
                None => excerpt,
            };
            if failures >= limit {
                set_status(&write, delivery.id, "failed").await?;
                let reason = format!("{failures} failed deliveries in a row");
                disable(&mut write, hook.id, &reason).await?;
                outbox::finish(write.db(), job.id).await?;
            } else {
                let next = retry_delay(tries, app.config.webhooks.retry_scale);
                if next.is_none() {
                    set_status(&write, delivery.id, "failed").await?;
                }
                outbox::fail_after(write.db(), job, &error, next).await?;
            }
            tracing::info!(
                webhook = hook.id,
                delivery = delivery.id,
                try_ = tries,
                %error,
                "webhook delivery failed"
            );
        }
    }
    write.commit().await
}

async fn set_status(write: &Write<'_>, delivery_id: i64, status: &str) -> AppResult<()> {
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status))
        .filter(webhook_delivery::Column::Id.eq(delivery_id))
        .exec(write.db())
        .await?;
    Ok(())
}

/// Count one more failed try of `hook_id`; the failures in a row now.
async fn count_failure(write: &Write<'_>, hook_id: i32) -> AppResult<u32> {
    let updated = webhook::Entity::update_many()
        .col_expr(
            webhook::Column::ConsecutiveFailures,
            Expr::col(webhook::Column::ConsecutiveFailures).add(1),
        )
        .filter(webhook::Column::Id.eq(hook_id))
        .exec_with_returning(write.db())
        .await?;
    Ok(updated.first().map_or(0, |hook| {
        u32::try_from(hook.consecutive_failures).unwrap_or(0)
    }))
}

/// Disable `hook_id` for `reason` and record `webhook.disabled`.
async fn disable(write: &mut Write<'_>, hook_id: i32, reason: &str) -> AppResult<()> {
    let disabled = webhook::Entity::update_many()
        .col_expr(webhook::Column::Enabled, Expr::value(false))
        .col_expr(
            webhook::Column::DisabledReason,
            Expr::value(Some(reason.to_owned())),
        )
        .col_expr(webhook::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(webhook::Column::Id.eq(hook_id))
        .filter(webhook::Column::Enabled.eq(true))
        .exec(write.db())
        .await?;
    if disabled.rows_affected == 1 {
        tracing::warn!(webhook = hook_id, reason, "webhook endpoint disabled");
        audit::record(
            write,
            EventType::WebhookDisabled,
            None,
            json!({ "webhookId": hook_id, "reason": reason }),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_standard_webhooks_schedule_scaled() {
        assert_eq!(retry_delay(1, 1.0), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(2, 1.0), Some(Duration::from_secs(300)));
        assert_eq!(retry_delay(7, 1.0), Some(Duration::from_secs(36_000)));
        assert_eq!(retry_delay(8, 1.0), None);
        assert_eq!(retry_delay(1, 0.01), Some(Duration::from_millis(50)));
        assert_eq!(retry_delay(0, 1.0), None);
    }
}
