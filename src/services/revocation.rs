//! Revoking tokens before they expire.
//!
//! A revoked token's id goes into `token_blacklist` until the token's own
//! expiry; after that the signature check refuses it anyway and the row is
//! purged. Inserting the id is also how a refresh token is *used*: the
//! primary key lets exactly one of two racing refreshes succeed.
//!
//! Revoking an access token also goes into the change feed, so no instance
//! keeps serving it from its session cache. Refresh tokens are never cached.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, TransactionTrait};

use super::changes;
use crate::auth::session_cache::Change;
use crate::auth::{Claims, TokenKind};
use crate::entities::token_blacklist;
use crate::error::AppResult;
use crate::state::AppContext;

fn row(claims: &Claims, user_id: Option<i32>) -> token_blacklist::ActiveModel {
    token_blacklist::ActiveModel {
        token_id: Set(claims.jti),
        user_id: Set(user_id),
        expires_at: Set(claims.expires_at()),
    }
}

/// Revoke a token; revoking one that is already revoked is not an error.
pub async fn revoke(ctx: &AppContext, claims: &Claims, user_id: Option<i32>) -> AppResult<()> {
    let txn = ctx.db.begin().await?;
    token_blacklist::Entity::insert(row(claims, user_id))
        .on_conflict(
            OnConflict::column(token_blacklist::Column::TokenId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let changes = match claims.typ {
        TokenKind::Access => vec![Change::Token(claims.jti)],
        TokenKind::Refresh => Vec::new(),
    };
    changes::commit(ctx, txn, &changes).await
}

/// Revoke a token only if nobody revoked it before: true for the one caller
/// that claimed it, false when it was already used or revoked.
pub async fn claim_once(db: &DatabaseConnection, claims: &Claims, user_id: i32) -> AppResult<bool> {
    let inserted = token_blacklist::Entity::insert(row(claims, Some(user_id)))
        .on_conflict(
            OnConflict::column(token_blacklist::Column::TokenId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Delete rows of tokens that have expired on their own. Returns how many.
pub async fn purge_expired(db: &DatabaseConnection) -> AppResult<u64> {
    let result = token_blacklist::Entity::delete_many()
        .filter(token_blacklist::Column::ExpiresAt.lt(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
