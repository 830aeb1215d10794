//! Listing, searching and counting users.
//!
//! Two ways to page: page numbers (simple, but deep pages cost an ever
//! larger OFFSET) and a keyset cursor (`after` an id), which costs the same on
//! page one and page ten thousand.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IdenStatic, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select,
};

use super::user_rows::{self, Start};
use crate::db::direct::Row;
use crate::entities::{tier, user};
use crate::error::{AppError, AppResult};
use crate::state::AppContext;

pub const MAX_PAGE_SIZE: u64 = 100;

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub tier_id: Option<i32>,
    pub is_superuser: Option<bool>,
    /// Case-insensitive prefix of username or name (and of email when
    /// `search_email` is set: superusers only, or the filter would be an
    /// oracle for other people's hidden addresses).
    pub search: Option<String>,
    pub search_email: bool,
    pub include_deleted: bool,
}

impl UserFilter {
    /// Live users only, nothing else asked (a blank search is no search).
    #[must_use]
    pub fn is_unfiltered(&self) -> bool {
        !self.include_deleted
            && self.tier_id.is_none()
            && self.is_superuser.is_none()
            && self.search.as_deref().is_none_or(|s| s.trim().is_empty())
    }
}

#[derive(Debug, Clone, Copy)]
pub enum PageRequest {
    /// 1-based page number.
    Number { page: u64, per_page: u64 },
    /// Users with an id above `after`.
    After { after: i32, first: u64 },
}

impl PageRequest {
    pub fn number(page: i64, per_page: i64) -> AppResult<Self> {
        let page = u64::try_from(page)
            .ok()
            .filter(|page| *page >= 1)
            .ok_or_else(|| AppError::bad_input("page must be 1 or more"))?;
        Ok(Self::Number {
            page,
            per_page: page_size(per_page)?,
        })
    }

    pub fn after(after: i32, first: i64) -> AppResult<Self> {
        Ok(Self::After {
            after,
            first: page_size(first)?,
        })
    }

    #[must_use]
    pub fn size(self) -> u64 {
        match self {
            Self::Number { per_page, .. } => per_page,
            Self::After { first, .. } => first,
        }
    }
}

/// `(offset, limit)` of page `page` (1-based) of `per_page` items, both
/// validated; absent values take the defaults 1 and 10.
pub fn window(page: Option<i64>, per_page: Option<i64>) -> AppResult<(u64, u64)> {
    match PageRequest::number(page.unwrap_or(1), per_page.unwrap_or(DEFAULT_PAGE_SIZE))? {
        PageRequest::Number { page, per_page } => {
            Ok(((page - 1).saturating_mul(per_page), per_page))
        }
        PageRequest::After { first, .. } => Ok((0, first)),
    }
}

pub const DEFAULT_PAGE_SIZE: i64 = 10;

/// A page size within 1–100.
pub fn page_size(size: i64) -> AppResult<u64> {
    u64::try_from(size)
        .ok()
        .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
        .ok_or_else(|| {
            AppError::bad_input(format!(
                "itemsPerPage must be between 1 and {MAX_PAGE_SIZE}"
            ))
        })
}

/// `value` with LIKE's wildcards escaped, followed by `%`.
fn prefix_pattern(value: &str) -> LikeExpr {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    LikeExpr::new(format!("{escaped}%")).escape('\\')
}

fn filtered(filter: &UserFilter) -> Select<user::Entity> {
    let mut query = user::Entity::find();
    if !filter.include_deleted {
        query = query.filter(user::Column::IsDeleted.eq(false));
    }
    if let Some(tier_id) = filter.tier_id {
        query = query.filter(user::Column::TierId.eq(tier_id));
    }
    if let Some(is_superuser) = filter.is_superuser {
        query = query.filter(user::Column::IsSuperuser.eq(is_superuser));
    }
    if let Some(search) = filter
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let term = search.to_lowercase();
        let mut any = Condition::any()
            .add(Expr::col(user::Column::Username).like(prefix_pattern(&term)))
            .add(
                Expr::expr(Func::lower(Expr::col(user::Column::Name))).like(prefix_pattern(&term)),
            );
        if filter.search_email {
            any = any.add(Expr::col(user::Column::Email).like(prefix_pattern(&term)));
        }
        query = query.filter(any);
    }
    query
}

/// Which columns of each listed user to read.
///
/// Reading a row costs per column (the driver copies each value,
/// timestamps are parsed from text): on a page of 100
/// users, reading all 15 columns was a third of the request's instructions
/// when the page showed four of them (docs/performance.md, issue 16). So a
/// listing reads the columns its caller will look at, and the others of
/// the returned models hold placeholders (empty text, zero, `false`,
/// `None`, the Unix epoch, the nil UUID) that nobody reads. Rows are read
/// by position (`user_rows::decode`), and an unfiltered page, the common
/// one, by a statement written in `user_rows`.
#[derive(Debug, Clone)]
pub enum Columns {
    All,
    /// These and `id`, which is always read.
    Only(Vec<user::Column>),
}

/// One page of users in id order, and whether more follow.
pub async fn list(
    ctx: &AppContext,
    filter: &UserFilter,
    page: PageRequest,
    columns: &Columns,
) -> AppResult<(Vec<user::Model>, bool)> {
    let size = page.size();
    // One extra row tells whether there is a next page without a COUNT.
    let limit = size + 1;
    let mut rows = if filter.is_unfiltered() {
        // The common page: a statement of a fixed shape (see `user_rows`).
        let start = match page {
            PageRequest::Number { page, per_page } => {
                Start::Offset((page - 1).saturating_mul(per_page))
            }
            PageRequest::After { after, .. } => Start::After(after),
        };
        let read = match columns {
            Columns::All => user_rows::all_columns(),
            Columns::Only(read) => read.clone(),
        };
        user_rows::page(ctx.reads(), &read, start, limit).await?
    } else {
        let mut query = filtered(filter).order_by_asc(user::Column::Id);
        query = match page {
            PageRequest::Number { page, per_page } => {
                query.offset((page - 1).saturating_mul(per_page))
            }
            PageRequest::After { after, .. } => query.filter(user::Column::Id.gt(after)),
        };
        let query = query.limit(limit);
        match columns {
            Columns::All => query.all(&ctx.db).await?,
            Columns::Only(read) => {
                let read: Vec<user::Column> = read
                    .iter()
                    .copied()
                    .filter(|c| c.as_str() != user::Column::Id.as_str())
                    .collect();
                let query = query
                    .select_only()
                    .column(user::Column::Id)
                    .columns(read.iter().copied());
                let statement = query.build(ctx.db.get_database_backend());
                ctx.db
                    .query_all_raw(statement)
                    .await?
                    .iter()
                    .map(|row| user_rows::decode(&Row::Orm(row), &read))
                    .collect::<Result<_, _>>()?
            }
        }
    };
    let has_more = rows.len() as u64 > size;
    rows.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    Ok((rows, has_more))
}

pub async fn count(ctx: &AppContext, filter: &UserFilter) -> AppResult<u64> {
    Ok(filtered(filter).count(&ctx.db).await?)
}

#[derive(Debug, Clone)]
pub struct TierCount {
    pub tier: Option<tier::Model>,
    pub users: u64,
}

#[derive(Debug, Clone)]
pub struct Stats {
    pub active_users: u64,
    pub deleted_users: u64,
    pub superusers: u64,
    /// Active users per tier, "no tier" (`tier: None`) included.
    pub per_tier: Vec<TierCount>,
}

pub async fn stats(ctx: &AppContext) -> AppResult<Stats> {
    let count_where = |deleted: bool| {
        user::Entity::find()
            .filter(user::Column::IsDeleted.eq(deleted))
            .count(&ctx.db)
    };
    let active_users = count_where(false).await?;
    let deleted_users = count_where(true).await?;
    let superusers = user::Entity::find()
        .filter(user::Column::IsDeleted.eq(false))
        .filter(user::Column::IsSuperuser.eq(true))
        .count(&ctx.db)
        .await?;
    let grouped: Vec<(Option<i32>, i64)> = user::Entity::find()
        .select_only()
        .column(user::Column::TierId)
        .column_as(Expr::col(user::Column::Id).count(), "users")
        .filter(user::Column::IsDeleted.eq(false))
        .group_by(user::Column::TierId)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut counts: HashMap<Option<i32>, u64> = grouped
        .into_iter()
        .map(|(tier_id, users)| (tier_id, u64::try_from(users).unwrap_or(0)))
        .collect();
    let mut per_tier = vec![TierCount {
        tier: None,
        users: counts.remove(&None).unwrap_or(0),
    }];
    for tier in tier::Entity::find()
        .order_by_asc(tier::Column::Id)
        .all(&ctx.db)
        .await?
    {
        let users = counts.remove(&Some(tier.id)).unwrap_or(0);
        per_tier.push(TierCount {
            tier: Some(tier),
            users,
        });
    }
    Ok(Stats {
        active_users,
        deleted_users,
        superusers,
        per_tier,
    })
}
