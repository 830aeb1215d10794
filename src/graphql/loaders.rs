//! DataLoaders: one batched query per relation, however many users a page
//! holds. Listing 100 users with their tier and post count costs three
//! statements (users, tiers, counts), the same as listing 10.
//!
//! The loaders are shared by all requests and keep no cache, so concurrent
//! requests can share a batch and nothing stale survives a write.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ErrorExtensions};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::entities::{post, tier, user};
use crate::error::AppError;
use crate::services::relations;

type LoadResult<K, V> = Result<HashMap<K, V>, Arc<AppError>>;

fn failed(error: sea_orm::DbErr) -> Arc<AppError> {
    Arc::new(AppError::from(error))
}

pub struct TierLoader(pub DatabaseConnection);

impl Loader<i32> for TierLoader {
    type Value = tier::Model;
    type Error = Arc<AppError>;

    async fn load(&self, ids: &[i32]) -> LoadResult<i32, tier::Model> {
        relations::tiers_by_id(&self.0, ids).await.map_err(Arc::new)
    }
}

pub struct UserLoader(pub DatabaseConnection);

impl Loader<i32> for UserLoader {
    type Value = user::Model;
    type Error = Arc<AppError>;

    async fn load(&self, ids: &[i32]) -> LoadResult<i32, user::Model> {
        let users = user::Entity::find()
            .filter(user::Column::Id.is_in(ids.iter().copied()))
            .all(&self.0)
            .await
            .map_err(failed)?;
        Ok(users.into_iter().map(|user| (user.id, user)).collect())
    }
}

/// Live posts per author.
pub struct PostCountLoader(pub DatabaseConnection);

impl Loader<i32> for PostCountLoader {
    type Value = u64;
    type Error = Arc<AppError>;

    async fn load(&self, user_ids: &[i32]) -> LoadResult<i32, u64> {
        relations::live_post_counts(&self.0, user_ids)
            .await
            .map_err(Arc::new)
    }
}

/// One page of one author's live posts, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PostsPage {
    pub user_id: i32,
    pub offset: u64,
    pub limit: u64,
}

pub struct PostsLoader(pub DatabaseConnection);

impl Loader<PostsPage> for PostsLoader {
    type Value = Vec<post::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[PostsPage]) -> LoadResult<PostsPage, Vec<post::Model>> {
        let mut windows: HashMap<(u64, u64), Vec<i32>> = HashMap::new();
        for key in keys {
            windows
                .entry((key.offset, key.limit))
                .or_default()
                .push(key.user_id);
        }
        let mut pages = HashMap::new();
        for ((offset, limit), user_ids) in windows {
            let found = relations::post_pages(&self.0, &user_ids, offset, limit)
                .await
                .map_err(Arc::new)?;
            for (user_id, posts) in found {
                pages.insert(
                    PostsPage {
                        user_id,
                        offset,
                        limit,
                    },
                    posts,
                );
            }
        }
        Ok(pages)
    }
}

/// Every loader, registered as schema data.
pub struct Loaders {
    pub tiers: DataLoader<TierLoader>,
    pub users: DataLoader<UserLoader>,
    pub post_counts: DataLoader<PostCountLoader>,
    pub posts: DataLoader<PostsLoader>,
}

impl Loaders {
    #[must_use]
    pub fn new(db: &DatabaseConnection) -> Self {
        Self {
            tiers: DataLoader::new(TierLoader(db.clone()), tokio::spawn),
            users: DataLoader::new(UserLoader(db.clone()), tokio::spawn),
            post_counts: DataLoader::new(PostCountLoader(db.clone()), tokio::spawn),
            posts: DataLoader::new(PostsLoader(db.clone()), tokio::spawn),
        }
    }
}

fn loaders<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Loaders> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::internal("Loaders missing from schema data").extend())
}

fn to_graphql(error: &Arc<AppError>) -> async_graphql::Error {
    error.as_ref().extend()
}

pub async fn tier(ctx: &Context<'_>, id: i32) -> async_graphql::Result<Option<tier::Model>> {
    loaders(ctx)?
        .tiers
        .load_one(id)
        .await
        .map_err(|error| to_graphql(&error))
}

pub async fn user(ctx: &Context<'_>, id: i32) -> async_graphql::Result<Option<user::Model>> {
    loaders(ctx)?
        .users
        .load_one(id)
        .await
        .map_err(|error| to_graphql(&error))
}

pub async fn post_count(ctx: &Context<'_>, user_id: i32) -> async_graphql::Result<u64> {
    let count = loaders(ctx)?
        .post_counts
        .load_one(user_id)
        .await
        .map_err(|error| to_graphql(&error))?;
    Ok(count.unwrap_or(0))
}

pub async fn posts(ctx: &Context<'_>, page: PostsPage) -> async_graphql::Result<Vec<post::Model>> {
    let posts = loaders(ctx)?
        .posts
        .load_one(page)
        .await
        .map_err(|error| to_graphql(&error))?;
    Ok(posts.unwrap_or_default())
}
