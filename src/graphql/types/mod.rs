//! The GraphQL shapes of usergraph's data, one file per type family.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod pages;
pub mod post;
pub mod session;
pub mod tier;
pub mod user;

pub use audit::{
    AuditEvent, AuditEventPage, Webhook, WebhookDelivery, WebhookDeliveryPage, WebhookWithSecret,
};
pub use auth::{AuthPayload, RegisterInput};
pub use pages::{PostPage, UserPage};
pub use post::Post;
pub use session::Session;
pub use tier::{RateLimit, Tier};
pub use user::User;
