//! Events: the audit log, webhook endpoints and their deliveries.
//!
//! An audit event is written in the transaction of the change it records.
//! It refers to users by id without a foreign key: the trail outlives a
//! user purged permanently (their personal fields are then blanked, see
//! `services::audit::redact_user`). A webhook delivery is one event for one
//! endpoint; the outbox job that sends it is written with the event.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    OccurredAt,
    EventType,
    ActorKind,
    ActorUserId,
    SubjectUserId,
    Ip,
    UserAgent,
    RequestId,
    Details,
}

#[derive(DeriveIden)]
enum Webhook {
    Table,
    Id,
    Url,
    Events,
    Description,
    Secret,
    Enabled,
    ConsecutiveFailures,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    WebhookId,
    MessageId,
    EventType,
    Payload,
    Status,
    Attempts,
    LastStatusCode,
    LastAttemptAt,
    LastError,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditEvent::Id))
                    .col(timestamp_with_time_zone(AuditEvent::OccurredAt))
                    .col(string_len(AuditEvent::EventType, 64))
                    .col(string_len(AuditEvent::ActorKind, 16))
                    .col(integer_null(AuditEvent::ActorUserId))
                    .col(integer_null(AuditEvent::SubjectUserId))
                    .col(string_len_null(AuditEvent::Ip, 64))
                    .col(string_len_null(AuditEvent::UserAgent, 256))
                    .col(string_len_null(AuditEvent::RequestId, 128))
                    .col(text(AuditEvent::Details))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_audit_event_occurred_at", AuditEvent::OccurredAt),
            ("ix_audit_event_subject_user_id", AuditEvent::SubjectUserId),
            ("ix_audit_event_event_type", AuditEvent::EventType),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvent::Table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Webhook::Table)
                    .if_not_exists()
                    .col(pk_auto(Webhook::Id))
                    .col(string_len(Webhook::Url, 2048))
                    .col(text(Webhook::Events))
                    .col(string_len(Webhook::Description, 256))
                    .col(string_len(Webhook::Secret, 128))
                    .col(boolean(Webhook::Enabled))
                    .col(integer(Webhook::ConsecutiveFailures))
                    .col(string_len_null(Webhook::DisabledReason, 256))
                    .col(timestamp_with_time_zone(Webhook::CreatedAt))
                    .col(timestamp_with_time_zone(Webhook::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDelivery::Table)
                    .if_not_exists()
                    .col(big_pk_auto(WebhookDelivery::Id))
                    .col(integer(WebhookDelivery::WebhookId))
                    .col(string_len(WebhookDelivery::MessageId, 64))
                    .col(string_len(WebhookDelivery::EventType, 64))
                    .col(text(WebhookDelivery::Payload))
                    .col(string_len(WebhookDelivery::Status, 16))
                    .col(integer(WebhookDelivery::Attempts))
                    .col(integer_null(WebhookDelivery::LastStatusCode))
                    .col(timestamp_with_time_zone_null(
                        WebhookDelivery::LastAttemptAt,
                    ))
                    .col(string_len_null(WebhookDelivery::LastError, 512))
                    .col(timestamp_with_time_zone(WebhookDelivery::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_delivery_webhook")
                            .from(WebhookDelivery::Table, WebhookDelivery::WebhookId)
                            .to(Webhook::Table, Webhook::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_delivery_webhook_id")
                    .table(WebhookDelivery::Table)
                    .col(WebhookDelivery::WebhookId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookDelivery::Table.into_iden(),
            Webhook::Table.into_iden(),
            AuditEvent::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
