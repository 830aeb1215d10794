//! A session as its owner (or a superuser) sees it: when and from where it
//! started, when it was last refreshed and when it must end. The refresh
//! chain's token ids never appear.

use async_graphql::{ID, Object};
use chrono::{DateTime, Utc};

use crate::entities::session;

pub struct Session {
    model: session::Model,
    current: bool,
}

impl Session {
    /// `current_sid`: the session of the request's own access token.
    #[must_use]
    pub fn new(model: session::Model, current_sid: Option<uuid::Uuid>) -> Self {
        let current = current_sid == Some(model.id);
        Self { model, current }
    }
}

#[Object]
impl Session {
    async fn id(&self) -> ID {
        ID(self.model.id.to_string())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    /// The login, or the last refresh.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.model.last_used_at
    }
    /// The latest the session can last, however often it is refreshed.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.model.expires_at
    }
    async fn user_agent(&self) -> Option<&str> {
        self.model.user_agent.as_deref()
    }
    /// The client's address as `TRUSTED_PROXIES` decided it.
    async fn ip_address(&self) -> Option<&str> {
        self.model.ip_address.as_deref()
    }
    /// Whether this is the session of the request asking.
    async fn current(&self) -> bool {
        self.current
    }
}
