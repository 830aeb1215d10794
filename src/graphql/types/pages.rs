//! Pages of results. `totalCount` costs a COUNT query, so it runs only when
//! the client asks for it.

use async_graphql::{ComplexObject, Context, ResultExt, SimpleObject};

use super::post::Post;
use super::user::User;
use crate::graphql::app_context;
use crate::services::listing::{self, UserFilter};

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct UserPage {
    pub items: Vec<User>,
    /// The page number asked for (1 when paging by cursor).
    pub page: i32,
    pub items_per_page: i32,
    pub has_more: bool,
    /// Pass as `after` to get the next page by cursor.
    pub end_cursor: Option<String>,
    #[graphql(skip)]
    pub filter: UserFilter,
}

#[ComplexObject]
impl UserPage {
    /// Users matching the filter, on every page together.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i64> {
        let total = listing::count(app_context(ctx)?, &self.filter)
            .await
            .extend()?;
        Ok(i64::try_from(total).unwrap_or(i64::MAX))
    }
}

#[derive(SimpleObject)]
pub struct PostPage {
    pub items: Vec<Post>,
    pub page: i32,
    pub items_per_page: i32,
    pub has_more: bool,
    pub total_count: i64,
}
