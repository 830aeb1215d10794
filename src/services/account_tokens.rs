//! The single-use tokens that account mails carry (verify an address, reset
//! a password, confirm a new address).
//!
//! A token is 32 random bytes, base64url; only its SHA-256 is stored, so a
//! copy of the database opens no account. Each token is bound to the state
//! it was issued for and dies when that changes: a verification token to
//! the address it went to, an email-change token to the address it
//! replaces, a reset token to the password hash (so it dies when the
//! password changes by any way). Issuing a token removes the user's earlier
//! tokens of that purpose. Redeeming deletes the row inside the caller's
//! write, and only one of two racing redemptions deletes it.
//!
//! Every failure (unknown, used, expired, malformed, or bound to a state
//! that is gone) is the same `BAD_USER_INPUT` "Invalid or expired token".

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use sha2::{Digest, Sha256};

use super::write::Write;
use crate::entities::{account_token, user};
use crate::error::{AppError, AppResult, INVALID_TOKEN};

/// Random bytes per token.
const TOKEN_BYTES: usize = 32;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    ResetPassword,
    ChangeEmail,
}

impl Purpose {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
        }
    }

    /// The state of `user` a token of this purpose stays bound to, beside
    /// the address it was sent to.
    fn binding(self, user: &user::Model) -> Option<String> {
        match self {
            Self::VerifyEmail => None,
            Self::ResetPassword => Some(fingerprint(&user.hashed_password)),
            Self::ChangeEmail => Some(user.email.clone()),
        }
    }

    /// Whether `token` still fits `user` as they are now.
    fn still_fits(self, token: &account_token::Model, user: &user::Model) -> bool {
        let address_fits = match self {
            // Sent to the address it verifies.
            Self::VerifyEmail | Self::ResetPassword => token.email == user.email,
            // Sent to the new address; bound to the old one below.
            Self::ChangeEmail => true,
        };
        address_fits && token.bound_to == self.binding(user) && !user.is_deleted
    }
}

/// Issue a token of `purpose` for `user`, sent to `email`, valid for `ttl`:
/// the user's earlier tokens of this purpose stop working. Returns the
/// token itself, to put in a mail (it is stored nowhere).
pub async fn issue(
    write: &Write<'_>,
    user: &user::Model,
    purpose: Purpose,
    email: &str,
    ttl: Duration,
) -> AppResult<String> {
    account_token::Entity::delete_many()
        .filter(account_token::Column::UserId.eq(user.id))
        .filter(account_token::Column::Kind.eq(purpose.as_str()))
        .exec(write.db())
        .await?;
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(ttl).map_err(AppError::internal)?;
    account_token::ActiveModel {
        user_id: Set(user.id),
        kind: Set(purpose.as_str().to_owned()),
        token_hash: Set(digest(&token)),
        email: Set(email.to_owned()),
        bound_to: Set(purpose.binding(user)),
        expires_at: Set(expires_at),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(write.db())
    .await?;
    Ok(token)
}

/// The live token `token` of `purpose` and its user, without using it up:
/// to check what a redemption will need (a new password) before the write.
pub async fn find_valid(
    db: &impl ConnectionTrait,
    purpose: Purpose,
    token: &str,
) -> AppResult<(account_token::Model, user::Model)> {
    if !well_formed(token) {
        return Err(invalid());
    }
    let found = account_token::Entity::find()
        .filter(account_token::Column::TokenHash.eq(digest(token)))
        .filter(account_token::Column::Kind.eq(purpose.as_str()))
        .filter(account_token::Column::ExpiresAt.gt(Utc::now()))
        .find_also_related(user::Entity)
        .one(db)
        .await?;
    match found {
        Some((row, Some(user))) if purpose.still_fits(&row, &user) => Ok((row, user)),
        _ => Err(invalid()),
    }
}

/// Use up the token `token` of `purpose` within `write`: the row is
/// deleted, and of two writes redeeming the same token only one succeeds.
///
/// The delete comes first, before anything is read: the database itself
/// decides a race in that one statement (the second delete waits for the
/// first's row lock, then finds nothing), with no read that could be stale.
pub async fn redeem(
    write: &Write<'_>,
    purpose: Purpose,
    token: &str,
) -> AppResult<(account_token::Model, user::Model)> {
    if !well_formed(token) {
        return Err(invalid());
    }
    let deleted = account_token::Entity::delete_many()
        .filter(account_token::Column::TokenHash.eq(digest(token)))
        .filter(account_token::Column::Kind.eq(purpose.as_str()))
        .filter(account_token::Column::ExpiresAt.gt(Utc::now()))
        .exec_with_returning(write.db())
        .await?;
    let Some(row) = deleted.into_iter().next() else {
        return Err(invalid());
    };
    let user = user::Entity::find_by_id(row.user_id)
        .one(write.db())
        .await?;
    match user {
        Some(user) if purpose.still_fits(&row, &user) => Ok((row, user)),
        _ => Err(invalid()),
    }
}

/// Delete expired tokens (the purge task).
pub async fn purge_expired(db: &impl ConnectionTrait) -> AppResult<u64> {
    Ok(account_token::Entity::delete_many()
        .filter(account_token::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?
        .rows_affected)
}

fn invalid() -> AppError {
    AppError::bad_input(INVALID_TOKEN)
}

/// Exactly what [`issue`] hands out: 43 base64url characters.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

fn digest(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

/// Names a password hash without revealing it.
fn fingerprint(hashed_password: &str) -> String {
    digest(hashed_password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_shaped_like_ours_are_looked_up() {
        let mut bytes = [7u8; TOKEN_BYTES];
        bytes[0] = 0xfb;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        assert!(well_formed(&token));
        assert!(!well_formed(&token[1..]));
        assert!(!well_formed(&format!("{}=", &token[1..])));
        assert!(!well_formed(""));
        assert!(!well_formed(&"a".repeat(44)));
    }

    #[test]
    fn tokens_bind_to_what_must_not_change() {
        let mut user = user::Model::sample(1, "ann", false);
        user.hashed_password = "hash-1".to_owned();
        let row = |purpose: Purpose, email: &str, user: &user::Model| account_token::Model {
            id: 1,
            user_id: 1,
            kind: purpose.as_str().to_owned(),
            token_hash: String::new(),
            email: email.to_owned(),
            bound_to: purpose.binding(user),
            expires_at: Utc::now(),
            created_at: Utc::now(),
        };
        let reset = row(Purpose::ResetPassword, &user.email, &user);
        let verify = row(Purpose::VerifyEmail, &user.email, &user);
        let change = row(Purpose::ChangeEmail, "new@example.com", &user);
        for (purpose, token) in [
            (Purpose::ResetPassword, &reset),
            (Purpose::VerifyEmail, &verify),
            (Purpose::ChangeEmail, &change),
        ] {
            assert!(purpose.still_fits(token, &user), "{purpose:?}");
        }

        let mut new_password = user.clone();
        new_password.hashed_password = "hash-2".to_owned();
        assert!(!Purpose::ResetPassword.still_fits(&reset, &new_password));
        assert!(Purpose::VerifyEmail.still_fits(&verify, &new_password));

        let mut new_address = user.clone();
        new_address.email = "other@example.com".to_owned();
        assert!(!Purpose::VerifyEmail.still_fits(&verify, &new_address));
        assert!(!Purpose::ChangeEmail.still_fits(&change, &new_address));
        assert!(!Purpose::ResetPassword.still_fits(&reset, &new_address));

        let mut deleted = user;
        deleted.is_deleted = true;
        assert!(!Purpose::VerifyEmail.still_fits(&verify, &deleted));
    }
}
