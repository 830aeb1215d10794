//! Posts: the example domain object. Only the author or a superuser may
//! change or delete one; that depends on the row, so it is checked here.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::write::{Actor, Write};
use super::{users, validation};
use crate::auth::Capabilities;
use crate::entities::{post, user};
use crate::error::{AppError, AppResult};
use crate::state::AppContext;

pub const POST_NOT_FOUND: &str = "Post not found";
pub const TITLE_CHARS: (usize, usize) = (2, 30);
pub const TEXT_CHARS: (usize, usize) = (1, 63_206);

#[derive(Debug, Clone, Default)]
pub struct PostChanges {
    pub title: Option<String>,
    pub text: Option<String>,
    /// `Some(None)` removes the media URL.
    pub media_url: Option<Option<String>>,
}

fn media(url: Option<&str>) -> AppResult<Option<String>> {
    url.map(|url| validation::http_url("mediaUrl", url))
        .transpose()
}

/// A new post by the logged-in actor.
pub async fn create(
    ctx: &AppContext,
    actor: &Actor,
    title: &str,
    text: &str,
    media_url: Option<&str>,
) -> AppResult<post::Model> {
    let author_id = actor
        .user_id()
        .ok_or(AppError::Unauthenticated("Authentication required"))?;
    let now = Utc::now();
    let row = post::ActiveModel {
        created_by_user_id: Set(author_id),
        title: Set(validation::clean_text("title", title, TITLE_CHARS)?),
        text: Set(validation::clean_text("text", text, TEXT_CHARS)?),
        media_url: Set(media(media_url)?),
        created_at: Set(now),
        updated_at: Set(now),
        is_deleted: Set(false),
        deleted_at: Set(None),
        ..Default::default()
    };
    let write = Write::begin(ctx, actor).await?;
    let created = row.insert(write.db()).await?;
    write.commit().await?;
    Ok(created)
}

/// The live post `id`, if `actor` may manage it.
async fn owned(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: i32,
    verb: &str,
) -> AppResult<post::Model> {
    let post = post::Entity::find_by_id(id)
        .filter(post::Column::IsDeleted.eq(false))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(POST_NOT_FOUND.to_owned()))?;
    let may = actor
        .caller()
        .map_or_else(Capabilities::anonymous, Capabilities::of);
    if !may.can_manage(post.created_by_user_id) {
        return Err(AppError::Forbidden(format!(
            "Cannot {verb} other users' posts"
        )));
    }
    Ok(post)
}

pub async fn update(
    ctx: &AppContext,
    actor: &Actor,
    id: i32,
    changes: PostChanges,
) -> AppResult<post::Model> {
    let write = Write::begin(ctx, actor).await?;
    let mut row = owned(write.db(), actor, id, "update")
        .await?
        .into_active_model();
    if let Some(title) = changes.title {
        row.title = Set(validation::clean_text("title", &title, TITLE_CHARS)?);
    }
    if let Some(text) = changes.text {
        row.text = Set(validation::clean_text("text", &text, TEXT_CHARS)?);
    }
    if let Some(media_url) = changes.media_url {
        row.media_url = Set(media(media_url.as_deref())?);
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(write.db()).await?;
    write.commit().await?;
    Ok(updated)
}

pub async fn soft_delete(ctx: &AppContext, actor: &Actor, id: i32) -> AppResult<()> {
    let write = Write::begin(ctx, actor).await?;
    let mut row = owned(write.db(), actor, id, "delete")
        .await?
        .into_active_model();
    let now = Utc::now();
    row.is_deleted = Set(true);
    row.deleted_at = Set(Some(now));
    row.updated_at = Set(now);
    row.update(write.db()).await?;
    write.commit().await
}

/// The active user `username`, a window of their live posts (newest first),
/// whether more follow, and the total.
pub async fn list_for_user(
    ctx: &AppContext,
    username: &str,
    offset: u64,
    per_page: u64,
) -> AppResult<(user::Model, Vec<post::Model>, bool, u64)> {
    let author = users::find_active(&ctx.db, username).await?;
    let query = post::Entity::find()
        .filter(post::Column::CreatedByUserId.eq(author.id))
        .filter(post::Column::IsDeleted.eq(false));
    let total = query.clone().count(&ctx.db).await?;
    let mut rows = query
        .order_by_desc(post::Column::Id)
        .offset(offset)
        .limit(per_page + 1)
        .all(&ctx.db)
        .await?;
    let has_more = rows.len() as u64 > per_page;
    rows.truncate(usize::try_from(per_page).unwrap_or(usize::MAX));
    Ok((author, rows, has_more, total))
}
