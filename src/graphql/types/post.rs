//! Posts as the API shows them.

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};

use super::user::User;
use crate::auth::guards::authentication;
use crate::entities::{post, user};
use crate::graphql::loaders;

pub struct Post(post::Model, Option<user::Model>);

impl From<post::Model> for Post {
    fn from(model: post::Model) -> Self {
        Self(model, None)
    }
}

impl Post {
    /// A post whose author is already at hand (listings by author).
    #[must_use]
    pub fn by(model: post::Model, author: &user::Model) -> Self {
        Self(model, Some(author.clone()))
    }
}

#[Object]
impl Post {
    async fn id(&self) -> i32 {
        self.0.id
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    #[graphql(complexity = "crate::graphql::complexity::LONG_TEXT")]
    async fn text(&self) -> &str {
        &self.0.text
    }
    async fn media_url(&self) -> Option<&str> {
        self.0.media_url.as_deref()
    }
    async fn created_by_user_id(&self) -> i32 {
        self.0.created_by_user_id
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The author (batched across a listing); `null` once they are deleted.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let author = match &self.1 {
            Some(author) => Some(author.clone()),
            None => loaders::user(ctx, self.0.created_by_user_id).await?,
        };
        Ok(author
            .filter(|author| !author.is_deleted)
            .map(|author| User::seen_by(author, authentication(ctx))))
    }
}
