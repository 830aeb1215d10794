//! A user as the API shows it. Fields are chosen one by one: the password
//! hash and the token version never appear, and the email address only to
//! the user themselves and to superusers. Relations go through DataLoaders.

use async_graphql::{Context, Object};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::AuditEventPage;
use super::post::Post;
use super::tier::Tier;
use crate::auth::guards::authentication;
use crate::auth::{Authentication, Capabilities};
use crate::entities::{post, tier, user};
use crate::graphql::loaders::{self, PostsPage};
use crate::services::audit::{self, AuditFilter};
use crate::services::listing;
use async_graphql::ErrorExtensions;

/// A user as the API shows it.
pub struct User {
    model: user::Model,
    /// Whether the viewer may see the email address (the user themselves or
    /// a superuser).
    email_visible: bool,
    prefetched: Prefetched,
}

/// Relations a listing loaded for all its users at once, so they cost one
/// statement each whatever the page size (`None`: not prefetched, ask the
/// DataLoader).
#[derive(Debug, Clone, Default)]
pub struct Prefetched {
    pub tier: Option<Option<tier::Model>>,
    pub post_count: Option<u64>,
    /// One page of posts, for the window it was loaded for.
    pub posts: Option<(PostsPage, Vec<post::Model>)>,
}

impl User {
    /// The user as seen by whoever made this request.
    #[must_use]
    pub fn seen_by(model: user::Model, viewer: &Authentication) -> Self {
        let email_visible = Capabilities::of_request(viewer).can_see_email(model.id);
        Self {
            model,
            email_visible,
            prefetched: Prefetched::default(),
        }
    }

    /// The user as seen by themselves (after register, login or refresh the
    /// caller has just proved who they are).
    #[must_use]
    pub fn seen_by_owner(model: user::Model) -> Self {
        Self {
            model,
            email_visible: true,
            prefetched: Prefetched::default(),
        }
    }

    /// The row behind the user. Every field that not everyone may see has
    /// its own method below; read those through them.
    #[must_use]
    pub fn model(&self) -> &user::Model {
        &self.model
    }

    /// The email address, for the user themselves and superusers only.
    #[must_use]
    pub fn shown_email(&self) -> Option<&str> {
        self.email_visible.then_some(self.model.email.as_str())
    }

    /// When the address was verified, shown like [`Self::shown_email`].
    #[must_use]
    pub fn shown_email_verified_at(&self) -> Option<DateTime<Utc>> {
        self.model.email_verified_at.filter(|_| self.email_visible)
    }

    /// The relations a listing loaded for this user.
    #[must_use]
    pub fn prefetched(&self) -> &Prefetched {
        &self.prefetched
    }

    /// Attach relations loaded in bulk.
    #[must_use]
    pub fn with_prefetched(mut self, prefetched: Prefetched) -> Self {
        self.prefetched = prefetched;
        self
    }
}

/// The columns of `user` that field `field` of `User` reads; `None` for a
/// field that reads more than its own columns (`posts`: each post shows
/// its author) or that this list does not know, when a listing then reads
/// every column (see `services::listing::Columns`). `id` is always read.
#[must_use]
pub fn columns_read_by(field: &str) -> Option<&'static [user::Column]> {
    use user::Column as C;
    Some(match field {
        "id" | "postCount" | "securityEvents" | "__typename" => &[],
        "uuid" => &[C::Uuid],
        "name" => &[C::Name],
        "username" => &[C::Username],
        "email" => &[C::Email],
        "emailVerified" | "emailVerifiedAt" => &[C::EmailVerifiedAt],
        "profileImageUrl" => &[C::ProfileImageUrl],
        "tierId" | "tier" => &[C::TierId],
        "isSuperuser" => &[C::IsSuperuser],
        "createdAt" => &[C::CreatedAt],
        "updatedAt" => &[C::UpdatedAt],
        "isDeleted" => &[C::IsDeleted],
        "deletedAt" => &[C::DeletedAt],
        _ => return None,
    })
}

#[Object]
impl User {
    async fn id(&self) -> i32 {
        self.model.id
    }
    /// Immutable identity; tokens refer to it.
    async fn uuid(&self) -> Uuid {
        self.model.uuid
    }
    async fn name(&self) -> &str {
        &self.model.name
    }
    async fn username(&self) -> &str {
        &self.model.username
    }
    /// Visible to the user themselves and to superusers; `null` for others.
    async fn email(&self) -> Option<&str> {
        self.shown_email()
    }
    /// Whether the user has proved the current address is theirs.
    async fn email_verified(&self) -> bool {
        self.model.email_verified_at.is_some()
    }
    /// When the address was verified; like `email`, only for the user and
    /// superusers.
    async fn email_verified_at(&self) -> Option<DateTime<Utc>> {
        self.shown_email_verified_at()
    }
    async fn profile_image_url(&self) -> &str {
        &self.model.profile_image_url
    }
    async fn tier_id(&self) -> Option<i32> {
        self.model.tier_id
    }
    async fn is_superuser(&self) -> bool {
        self.model.is_superuser
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
    /// Only superusers listing with `includeDeleted` ever see `true`.
    async fn is_deleted(&self) -> bool {
        self.model.is_deleted
    }
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.model.deleted_at
    }
    /// The user's tier, if any (batched across a listing).
    async fn tier(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Tier>> {
        if let Some(tier) = &self.prefetched.tier {
            return Ok(tier.clone().map(Tier::from));
        }
        let Some(tier_id) = self.model.tier_id else {
            return Ok(None);
        };
        // Boxed, here and in the other fields that wait on the database: the
        // future of every field of `User` is as large as its largest field's,
        // and async-graphql moves one into a box for each field of each
        // listed user (docs/performance.md, issue 16).
        Ok(Box::pin(loaders::tier(ctx, tier_id)).await?.map(Tier::from))
    }
    /// How many live posts the user has (batched across a listing).
    async fn post_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let count = match self.prefetched.post_count {
            Some(count) => count,
            None => Box::pin(loaders::post_count(ctx, self.model.id)).await?,
        };
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }
    /// The user's live posts, newest first (batched across a listing).
    #[graphql(complexity = "crate::graphql::complexity::page(items_per_page, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 1)] page: Option<i32>,
        #[graphql(default = 10)] items_per_page: Option<i32>,
    ) -> async_graphql::Result<Vec<Post>> {
        let (offset, limit) = listing::window(page.map(i64::from), items_per_page.map(i64::from))
            .map_err(|error| error.extend())?;
        let key = PostsPage {
            user_id: self.model.id,
            offset,
            limit,
        };
        let posts = match &self.prefetched.posts {
            Some((window, posts)) if *window == key => posts.clone(),
            _ => Box::pin(loaders::posts(ctx, key)).await?,
        };
        Ok(posts
            .into_iter()
            .map(|post| Post::by(post, &self.model))
            .collect())
    }

    /// The user's logins, sessions, password and address changes, newest
    /// first. Only the user themselves and superusers see them.
    #[graphql(complexity = "crate::graphql::complexity::page(first, child_complexity)")]
    async fn security_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuditEventPage> {
        if !Capabilities::of_request(authentication(ctx)).can_manage(self.model.id) {
            return Err(crate::error::AppError::Forbidden(
                "Only the user and superusers see a user's security events".to_owned(),
            )
            .extend());
        }
        let size = crate::graphql::audit::page_size(first.unwrap_or(20)).map_err(|e| e.extend())?;
        let before = audit::parse_cursor(after.as_deref()).map_err(|e| e.extend())?;
        let filter = AuditFilter::security_events_of(self.model.id);
        let db = &crate::graphql::app_context(ctx)?.db;
        let (rows, has_more) = Box::pin(audit::page(db, &filter, size, before))
            .await
            .map_err(|e| e.extend())?;
        Ok(AuditEventPage::new(rows, has_more))
    }
}
