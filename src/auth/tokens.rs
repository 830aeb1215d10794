//! Signed JWTs: short-lived access tokens and longer-lived refresh tokens.
//!
//! The subject is the user's immutable uuid, never the username, so renaming
//! keeps a session and a later owner of a freed name inherits nothing. Every
//! token carries its own id (`jti`, for revocation), its kind (a refresh
//! token is never accepted as an access token), the user's token version
//! (bumped to end every session at once) and the session it belongs to
//! (`sid`: ending the session ends the token). Only HS256 is accepted: `alg: none`
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
    /// The session (one login and its refreshes) the token belongs to.
    pub sid: Uuid,
}

impl Claims {
    #[must_use]
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_else(Utc::now)
    }
}

/// Which token of which session to mint.
#[derive(Debug, Clone, Copy)]
pub struct SessionToken {
    pub sid: Uuid,
    pub jti: Uuid,
    pub issued_at: DateTime<Utc>,
    /// The session's absolute end: no token outlives it.
    pub not_after: DateTime<Utc>,
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

    /// The claims of a token of `kind` for `user` in session `sid`, with id
    /// `jti`, issued at `issued_at`: it lives the kind's lifetime, but never
    /// past `not_after` (the session's own end). The same arguments give the
    /// same claims, so a pair can be minted again (see the refresh grace).
    #[must_use]
    pub fn claims(&self, user: &user::Model, kind: TokenKind, session: SessionToken) -> Claims {
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let iat = session.issued_at.timestamp();
        let exp = iat
            .saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX))
            .min(session.not_after.timestamp());
        Claims {
            sub: user.uuid,
            iss: ISSUER.to_owned(),
            iat,
            exp,
            jti: session.jti,
            typ: kind,
            ver: user.token_version,
            sid: session.sid,
        }
    }

    /// Mint a token of `kind` for `user` in `session`.
    pub fn issue(
        &self,
        user: &user::Model,
        kind: TokenKind,
        session: SessionToken,
    ) -> AppResult<(String, Claims)> {
        let claims = self.claims(user, kind, session);
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    /// Sign `claims`.
    pub fn sign(&self, claims: &Claims) -> AppResult<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(AppError::internal)
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
