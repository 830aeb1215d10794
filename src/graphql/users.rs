//! Reading, listing and changing users. Ownership is a guard: only the user
//! themselves (or a superuser) may change or delete an account.

use std::sync::Arc;

use async_graphql::{Context, InputObject, MaybeUndefined, Object, ResultExt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::loaders::PostsPage;
use super::types::admin::UserTier;
use super::types::user::{Prefetched, columns_read_by};
use super::types::{User, UserPage};
use super::{actor, app_context};
use crate::auth::guards::{authentication, require_caller};
use crate::auth::{Capabilities, LoggedIn, OwnerOrSuperuser};
use crate::error::AppError;
use crate::ratelimit::RequestLimits;
use crate::services::listing::{self, Columns, PageRequest, UserFilter};
use crate::services::profile::{self, ProfileChanges};
use crate::services::{lifecycle, relations, user_rows, users};

#[derive(Default)]
pub struct UserQuery;

#[derive(InputObject, Default)]
#[graphql(name = "UserFilter")]
pub struct UserFilterInput {
    pub tier_id: Option<i32>,
    pub is_superuser: Option<bool>,
    /// Case-insensitive prefix of username or name; superusers also match
    /// email addresses.
    pub search: Option<String>,
    /// Include soft-deleted users (superusers only).
    #[graphql(default)]
    pub include_deleted: bool,
}

const CURSOR_PREFIX: &str = "user:";

pub(crate) fn encode_cursor(id: i32) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{id}"))
}

fn decode_cursor(cursor: &str) -> Result<i32, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX)?.parse().ok())
        .ok_or_else(|| AppError::bad_input("after is not a cursor this server issued"))
}

/// The page a `users` call asks for, from its arguments as the schema
/// hands them over, and the page number it shows (1 when paging by cursor).
pub(crate) fn page_request(
    page: Option<i32>,
    items_per_page: Option<i32>,
    after: Option<&str>,
    first: Option<i32>,
) -> Result<(PageRequest, i32), AppError> {
    let page = page.unwrap_or(1);
    let size = first.unwrap_or(items_per_page.unwrap_or(10)).into();
    Ok(match after {
        Some(cursor) => (PageRequest::after(decode_cursor(cursor)?, size)?, 1),
        None => (PageRequest::number(page.into(), size)?, page),
    })
}

/// The listing's filter as `viewer` may use it.
pub(crate) fn user_filter(
    filter: UserFilterInput,
    may: Capabilities,
) -> Result<UserFilter, AppError> {
    if filter.include_deleted && !may.can_list_deleted() {
        return Err(AppError::Forbidden(
            "Only superusers may list deleted users".to_owned(),
        ));
    }
    Ok(UserFilter {
        tier_id: filter.tier_id,
        is_superuser: filter.is_superuser,
        search: filter.search,
        search_email: may.can_search_email(),
        include_deleted: filter.include_deleted,
    })
}

#[Object]
impl UserQuery {
    /// An active user by username; `null` and `NOT_FOUND` otherwise.
    async fn user(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Option<User>> {
        let app = app_context(ctx)?;
        let found = users::find_active_reading(app.reads(), &username, &user_rows::all_columns())
            .await
            .extend()?;
        Ok(Some(User::seen_by(found, authentication(ctx))))
    }

    /// Users in id order. Page by number (`page`, `itemsPerPage`), or by
    /// cursor (`after` a page's `endCursor`, `first` per page), which stays
    /// fast however deep you go.
    #[graphql(complexity = "super::complexity::page(first.or(items_per_page), child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1)] page: Option<i32>,
        #[graphql(default = 10)] items_per_page: Option<i32>,
        filter: Option<UserFilterInput>,
        after: Option<String>,
        first: Option<i32>,
    ) -> async_graphql::Result<UserPage> {
        let app = app_context(ctx)?;
        let viewer = authentication(ctx);
        let filter =
            user_filter(filter.unwrap_or_default(), Capabilities::of_request(viewer)).extend()?;
        let (request, shown_page) =
            page_request(page, items_per_page, after.as_deref(), first).extend()?;
        let columns = columns_read(ctx);
        let (rows, has_more) = listing::list(app, &filter, request, &columns)
            .await
            .extend()?;
        let end_cursor = rows.last().map(|row| encode_cursor(row.id));
        let items = prefetch(&app.db, rows, viewer, &wanted(ctx))
            .await
            .extend()?;
        Ok(UserPage {
            items,
            page: shown_page,
            items_per_page: i32::try_from(request.size()).unwrap_or(i32::MAX),
            has_more,
            end_cursor,
            filter,
        })
    }

    /// An active user with their tier's fields beside them.
    async fn user_tier(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Option<UserTier>> {
        let app = app_context(ctx)?;
        let found = users::find_active(&app.db, &username).await.extend()?;
        let tier = match found.tier_id {
            Some(id) => super::loaders::tier(ctx, id).await?,
            None => None,
        };
        Ok(Some(UserTier::new(
            User::seen_by(found, authentication(ctx)),
            tier,
        )))
    }
}

/// The columns the fields of the page's `items` read, wherever they are
/// spread from; every column as soon as one field needs more than its own.
fn columns_read(ctx: &Context<'_>) -> Columns {
    use sea_orm::IdenStatic;
    let mut read: Vec<crate::entities::user::Column> = Vec::new();
    for items in ctx.look_ahead().field("items").selection_fields() {
        for field in items.selection_set() {
            let Some(columns) = columns_read_by(field.name()) else {
                return Columns::All;
            };
            for column in columns {
                if !read.iter().any(|c| c.as_str() == column.as_str()) {
                    read.push(*column);
                }
            }
        }
    }
    Columns::Only(read)
}

/// The relations of the listed users a page shows, loaded for the whole
/// page at once.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    pub tier: bool,
    pub post_count: bool,
    /// The `(offset, limit)` window of `posts`.
    pub posts: Option<(u64, u64)>,
}

/// What the fields of the page's `items` show of each user's relations.
fn wanted(ctx: &Context<'_>) -> Wanted {
    let items = ctx.look_ahead().field("items");
    Wanted {
        tier: items.field("tier").exists(),
        post_count: items.field("postCount").exists(),
        posts: match items.field("posts").selection_fields().as_slice() {
            // One `posts` selection (not several aliased windows) with valid
            // arguments: load that window for every user at once.
            [selection] => posts_window(selection),
            _ => None,
        },
    }
}

/// Load the tiers and post counts a page shows, for the whole page at once:
/// a fixed number of statements, not one per user and not dependent on
/// DataLoader timing.
pub(crate) async fn prefetch(
    db: &sea_orm::DatabaseConnection,
    rows: Vec<crate::entities::user::Model>,
    viewer: &crate::auth::Authentication,
    wanted: &Wanted,
) -> Result<Vec<User>, AppError> {
    let tiers = if wanted.tier {
        let ids: Vec<i32> = rows.iter().filter_map(|row| row.tier_id).collect();
        Some(relations::tiers_by_id(db, &ids).await?)
    } else {
        None
    };
    let counts = if wanted.post_count {
        let ids: Vec<i32> = rows.iter().map(|row| row.id).collect();
        Some(relations::live_post_counts(db, &ids).await?)
    } else {
        None
    };
    let posts = match wanted.posts {
        Some((offset, limit)) => {
            let ids: Vec<i32> = rows.iter().map(|row| row.id).collect();
            let pages = relations::post_pages(db, &ids, offset, limit).await?;
            Some((offset, limit, pages))
        }
        None => None,
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let prefetched = Prefetched {
                posts: posts.as_ref().map(|(offset, limit, pages)| {
                    let window = PostsPage {
                        user_id: row.id,
                        offset: *offset,
                        limit: *limit,
                    };
                    (window, pages.get(&row.id).cloned().unwrap_or_default())
                }),
                tier: tiers
                    .as_ref()
                    .map(|tiers| row.tier_id.and_then(|id| tiers.get(&id).cloned())),
                post_count: counts
                    .as_ref()
                    .map(|counts| counts.get(&row.id).copied().unwrap_or(0)),
            };
            User::seen_by(row, viewer).with_prefetched(prefetched)
        })
        .collect())
}

/// The `(offset, limit)` a `posts(page:, itemsPerPage:)` selection asks for,
/// or `None` when its arguments are invalid (the field itself reports that).
fn posts_window(selection: &async_graphql::SelectionField<'_>) -> Option<(u64, u64)> {
    let arguments = selection.arguments().ok()?;
    let number = |name: &str| {
        arguments
            .iter()
            .find(|(argument, _)| argument.as_str() == name)
            .and_then(|(_, value)| match value {
                async_graphql::Value::Number(number) => number.as_i64(),
                _ => None,
            })
    };
    listing::window(number("page"), number("itemsPerPage")).ok()
}

#[derive(Default)]
pub struct UserMutation;

/// Leave a field out to keep it; `null` is refused for these fields.
#[derive(InputObject, Default)]
pub struct UpdateUserInput {
    pub name: MaybeUndefined<String>,
    pub username: MaybeUndefined<String>,
    pub email: MaybeUndefined<String>,
    pub profile_image_url: MaybeUndefined<String>,
}

/// A required field may be left out, never set to `null`.
fn required(field: &str, value: MaybeUndefined<String>) -> Result<Option<String>, AppError> {
    match value {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Err(AppError::bad_input(format!("{field} cannot be null"))),
        MaybeUndefined::Value(value) => Ok(Some(value)),
    }
}

impl UpdateUserInput {
    fn into_changes(self) -> Result<ProfileChanges, AppError> {
        Ok(ProfileChanges {
            name: required("name", self.name)?,
            username: required("username", self.username)?,
            email: required("email", self.email)?,
            profile_image_url: required("profileImageUrl", self.profile_image_url)?,
        })
    }
}

#[Object]
impl UserMutation {
    /// Change name, username, email or profile image. The user themselves,
    /// or a superuser.
    #[graphql(guard = "OwnerOrSuperuser::new(&username, \"update\")")]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        username: String,
        input: UpdateUserInput,
    ) -> async_graphql::Result<User> {
        let changes = input.into_changes().extend()?;
        let updated = profile::update_user(app_context(ctx)?, &actor(ctx), &username, changes)
            .await
            .extend()?;
        Ok(User::seen_by(updated, authentication(ctx)))
    }

    /// Change your password. Every session of yours ends, this one included:
    /// log in again with the new password.
    #[graphql(guard = "LoggedIn")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let caller = require_caller(ctx)?;
        let limits = RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>());
        profile::change_password(
            app_context(ctx)?,
            &actor(ctx),
            &limits,
            &caller.user,
            &current_password,
            &new_password,
        )
        .await
        .extend()?;
        caller.end_session();
        Ok(true)
    }

    /// Soft-delete an account: it can no longer log in or use any token; its
    /// username and email stay reserved. The user themselves, or a superuser.
    #[graphql(guard = "OwnerOrSuperuser::new(&username, \"delete\")")]
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<bool> {
        let caller = require_caller(ctx)?;
        // Deleting moves the token version on, which ends every session of
        // the user on every instance; this request's later operations see
        // it too.
        let deleted = lifecycle::soft_delete(app_context(ctx)?, &actor(ctx), &username)
            .await
            .extend()?;
        if deleted.id == caller.user.id {
            caller.end_session();
        }
        Ok(true)
    }
}
