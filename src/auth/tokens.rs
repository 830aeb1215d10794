//! Signed JWTs: short-lived access tokens and longer-lived refresh tokens.
//!
//! The subject is the user's immutable uuid, never the username, so renaming
//! keeps a session and a later owner of a freed name inherits nothing. Every
//! token carries its own id (`jti`, for revocation), its kind (a refresh
//! token is never accepted as an access token) and the user's token version
//! (bumped to end every session at once). Only HS256 is accepted: `alg: none`
//! and algorithm-swapping tokens fail verification.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entities::user;
use crate::error::{AppError, AppResult, INVALID_TOKEN};

const ISSUER: &str = "usergraph";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user's uuid.
    pub sub: Uuid,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token, so two tokens minted in the same second differ and
    /// each can be revoked alone.
    pub jti: Uuid,
    pub typ: TokenKind,
    /// The user's `token_version` when the token was issued.
    pub ver: i32,
}

impl Claims {
    #[must_use]
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_else(Utc::now)
    }
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

impl TokenKeys {
    #[must_use]
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    /// Mint a token of `kind` for `user`.
    pub fn issue(&self, user: &user::Model, kind: TokenKind) -> AppResult<(String, Claims)> {
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.uuid,
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
            jti: Uuid::new_v4(),
            typ: kind,
            ver: user.token_version,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, claims))
    }

    /// Check signature, issuer, expiry and kind. Every failure is the same
    /// `UNAUTHENTICATED` answer; whether the token was revoked is checked
    /// against the database by the caller.
    pub fn verify(&self, token: &str, expected: TokenKind) -> AppResult<Claims> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::Unauthenticated(INVALID_TOKEN))?;
        if data.claims.typ != expected {
            return Err(AppError::Unauthenticated(INVALID_TOKEN));
        }
        Ok(data.claims)
    }
}
