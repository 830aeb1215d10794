//! Posts: anyone reads, logged-in users write, authors (or superusers)
//! change and delete.

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ResultExt};

use super::types::{Post, PostPage};
use super::{actor, app_context};
use crate::auth::LoggedIn;
use crate::services::listing;
use crate::services::posts::{self, PostChanges};

#[derive(Default)]
pub struct PostQuery;

#[Object]
impl PostQuery {
    /// A user's live posts, newest first.
    #[graphql(complexity = "super::complexity::page(items_per_page, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        username: String,
        #[graphql(default = 1)] page: Option<i32>,
        #[graphql(default = 10)] items_per_page: Option<i32>,
    ) -> async_graphql::Result<PostPage> {
        let (offset, limit) =
            listing::window(page.map(i64::from), items_per_page.map(i64::from)).extend()?;
        let (author, rows, has_more, total) =
            posts::list_for_user(app_context(ctx)?, &username, offset, limit)
                .await
                .extend()?;
        Ok(PostPage {
            items: rows
                .into_iter()
                .map(|post| Post::by(post, &author))
                .collect(),
            page: page.unwrap_or(1),
            items_per_page: i32::try_from(limit).unwrap_or(i32::MAX),
            has_more,
            total_count: i64::try_from(total).unwrap_or(i64::MAX),
        })
    }
}

#[derive(InputObject)]
pub struct CreatePostInput {
    /// 2–30 characters.
    pub title: String,
    /// 1–63206 characters.
    pub text: String,
    pub media_url: Option<String>,
}

/// Leave a field out to keep it; `mediaUrl: null` removes the media.
#[derive(InputObject)]
pub struct UpdatePostInput {
    pub title: Option<String>,
    pub text: Option<String>,
    pub media_url: MaybeUndefined<String>,
}

#[derive(Default)]
pub struct PostMutation;

#[Object]
impl PostMutation {
    #[graphql(guard = "LoggedIn")]
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: CreatePostInput,
    ) -> async_graphql::Result<Post> {
        let created = posts::create(
            app_context(ctx)?,
            &actor(ctx),
            &input.title,
            &input.text,
            input.media_url.as_deref(),
        )
        .await
        .extend()?;
        Ok(created.into())
    }

    /// The author or a superuser.
    #[graphql(guard = "LoggedIn")]
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        id: i32,
        input: UpdatePostInput,
    ) -> async_graphql::Result<Post> {
        let changes = PostChanges {
            title: input.title,
            text: input.text,
            media_url: match input.media_url {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(url) => Some(Some(url)),
            },
        };
        let updated = posts::update(app_context(ctx)?, &actor(ctx), id, changes)
            .await
            .extend()?;
        Ok(updated.into())
    }

    /// Soft delete; the author or a superuser.
    #[graphql(guard = "LoggedIn")]
    async fn delete_post(&self, ctx: &Context<'_>, id: i32) -> async_graphql::Result<bool> {
        posts::soft_delete(app_context(ctx)?, &actor(ctx), id)
            .await
            .extend()?;
        Ok(true)
    }
}
