//! Revoking tokens before they expire.
//!
//! A revoked token's id goes into `token_blacklist` until the token's own
//! expiry; after that the signature check refuses it anyway and the row is
//! purged. (Using a refresh token is tracked on its session's row instead;
//! see `session_store`.)
//!
//! Revoking an access token also goes into the change feed, so no instance
//! keeps serving it from its session cache. Refresh tokens are never cached.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};

use super::write::Write;
use crate::auth::{Claims, TokenKind};
use crate::entities::token_blacklist;
use crate::error::AppResult;

fn row(claims: &Claims, user_id: Option<i32>) -> token_blacklist::ActiveModel {
    token_blacklist::ActiveModel {
        token_id: Set(claims.jti),
        user_id: Set(user_id),
        expires_at: Set(claims.expires_at()),
    }
}

/// Revoke a token as part of `write`; revoking one that is already revoked
/// is not an error.
pub async fn revoke(write: &mut Write<'_>, claims: &Claims, user_id: Option<i32>) -> AppResult<()> {
    token_blacklist::Entity::insert(row(claims, user_id))
        .on_conflict(
            OnConflict::column(token_blacklist::Column::TokenId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(write.db())
        .await?;
    if claims.typ == TokenKind::Access {
        write.token_revoked(claims.jti);
    }
    Ok(())
}

/// Delete rows of tokens that have expired on their own. Returns how many.
pub async fn purge_expired(db: &DatabaseConnection) -> AppResult<u64> {
    let result = token_blacklist::Entity::delete_many()
        .filter(token_blacklist::Column::ExpiresAt.lt(Utc::now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
