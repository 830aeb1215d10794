//! Signed JWTs: short-lived access tokens and longer-lived refresh tokens.
//!
//! The subject is the user's immutable uuid, never the username, so renaming
//! keeps a session and a later owner of a freed name inherits nothing. Every
//! token carries its own id (`jti`, for revocation), its kind (a refresh
//! token is never accepted as an access token), the user's token version
//! (bumped to end every session at once), the session it belongs to (`sid`:
//! ending the session ends the token), and its issuer and audience.
//!
//! Every header names its key (`kid`). Verification looks the key up in the
//! current [`KeySet`] and accepts only that key's own algorithm, so `alg:
//! none` and algorithm-swapping tokens (an HS256 token keyed with a
//! published public key) fail. Headers that point at other keys (`jku`,
//! `x5u`, `jwk`, `x5c`) are never fetched: a token carrying one is refused.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use uuid::Uuid;

use super::keys::KeySet;
use crate::config::Config;
use crate::entities::user;
use crate::error::{AppError, AppResult, INVALID_TOKEN};

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
    /// `JWT_AUDIENCE`: who the token is meant for.
    pub aud: String,
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
    keys: RwLock<Arc<KeySet>>,
    issuer: String,
    audience: String,
    /// One per algorithm, each accepting only that algorithm.
    validations: [Validation; 3],
    /// Woken when a token names a kid this instance does not know: another
    /// instance may have rotated. The key-reload task answers it, at most
    /// once a second, so forged kids cannot make every request a query.
    reload_wanted: Notify,
    /// Access tokens already verified here; see [`VerifiedTokens`].
    verified: VerifiedTokens,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

const ALGORITHMS: [Algorithm; 3] = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::HS256];

impl TokenKeys {
    #[must_use]
    pub fn new(keys: KeySet, config: &Config) -> Self {
        let issuer = config.jwt_issuer();
        let audience = config.jwt_audience.clone();
        let validations = ALGORITHMS.map(|algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.leeway = 0;
            validation.set_issuer(&[&issuer]);
            validation.set_audience(&[&audience]);
            validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
            validation
        });
        Self {
            keys: RwLock::new(Arc::new(keys)),
            issuer,
            audience,
            validations,
            reload_wanted: Notify::new(),
            verified: VerifiedTokens::new(config.session_cache_size),
            access_ttl: config.access_token_ttl,
            refresh_ttl: config.refresh_token_ttl,
        }
    }

    /// The keys in use now.
    #[must_use]
    pub fn key_set(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Use `keys` from now on (a reload or a rotation).
    pub fn replace(&self, keys: KeySet) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }

    /// Resolves when a token named an unknown kid since the last call.
    pub async fn reload_wanted(&self) {
        self.reload_wanted.notified().await;
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
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat,
            exp,
            jti: session.jti,
            typ: kind,
            ver: user.token_version,
            sid: session.sid,
        }
    }

    /// Mint a token of `kind` for `user` in `session`, signed with the
    /// active key.
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

    /// Sign `claims` with the active key, naming it in the header. Signing
    /// is deterministic (Ed25519, HMAC, and ECDSA with RFC 6979 nonces), so
    /// the same claims and key give the same token.
    pub fn sign(&self, claims: &Claims) -> AppResult<String> {
        let keys = self.key_set();
        let signing = keys.signing();
        let mut header = Header::new(signing.algorithm);
        header.kid = Some(signing.kid.clone());
        jsonwebtoken::encode(&header, claims, &signing.encoding).map_err(AppError::internal)
    }

    /// Check key, algorithm, signature, issuer, audience, expiry and kind.
    /// Every failure is the same `UNAUTHENTICATED` answer; whether the token
    /// was revoked is checked against the database by the caller.
    pub fn verify(&self, token: &str, expected: TokenKind) -> AppResult<Claims> {
        if expected == TokenKind::Access {
            let digest = VerifiedTokens::digest(token);
            if let Some(claims) = self.verified.get(&digest) {
                return Ok(claims);
            }
            let claims = self.verify_signed(token, expected)?;
            self.verified.remember(digest, &claims);
            return Ok(claims);
        }
        self.verify_signed(token, expected)
    }

    fn verify_signed(&self, token: &str, expected: TokenKind) -> AppResult<Claims> {
        let invalid = || AppError::Unauthenticated(INVALID_TOKEN);
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        // usergraph's tokens never carry these: a key named by the token
        // itself is the attacker's key.
        if header.jku.is_some()
            || header.x5u.is_some()
            || header.jwk.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        let keys = self.key_set();
        let Some(key) = keys.verifying(&kid) else {
            self.reload_wanted.notify_one();
            return Err(invalid());
        };
        let Some(validation) = ALGORITHMS
            .iter()
            .position(|algorithm| *algorithm == key.algorithm)
            .and_then(|index| self.validations.get(index))
        else {
            return Err(invalid());
        };
        // Pinned to the key's own algorithm, whatever the header says.
        if header.alg != key.algorithm {
            return Err(invalid());
        }
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, validation)
            .map_err(|_| invalid())?;
        if data.claims.typ != expected {
            return Err(invalid());
        }
        Ok(data.claims)
    }
}

/// Access tokens whose signature and claims this instance has verified,
/// by the SHA-256 of their text, until they expire. An Ed25519 or ECDSA
/// verification costs tens of microseconds, more than the rest of an
/// authenticated read served from the session cache; hashing the token is
/// about a microsecond. Only the exact text that verified can hit (nobody
/// finds another text with the same digest), and an entry is never used
/// past the token's own `exp`. Whether the session is still live is the
/// session cache's and the database's business, as before. Bounded: when
/// full it starts over.
struct VerifiedTokens {
    entries: RwLock<HashMap<[u8; 32], Claims>>,
    capacity: usize,
}

impl VerifiedTokens {
    fn new(capacity: usize) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            capacity,
        }
    }

    fn digest(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    fn get(&self, digest: &[u8; 32]) -> Option<Claims> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let claims = entries.get(digest)?;
        (claims.exp > Utc::now().timestamp()).then(|| claims.clone())
    }

    fn remember(&self, digest: [u8; 32], claims: &Claims) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(digest, claims.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: Uuid::new_v4(),
            iss: "https://id.example.com".to_owned(),
            aud: "usergraph".to_owned(),
            iat: exp - 60,
            exp,
            jti: Uuid::new_v4(),
            typ: TokenKind::Access,
            ver: 0,
            sid: Uuid::new_v4(),
        }
    }

    #[test]
    fn a_verified_token_is_remembered_until_it_expires_and_only_by_its_exact_text() {
        let verified = VerifiedTokens::new(2);
        let now = Utc::now().timestamp();
        let live = VerifiedTokens::digest("header.live.signature");
        verified.remember(live, &claims(now + 60));
        assert!(verified.get(&live).is_some());
        assert!(
            verified
                .get(&VerifiedTokens::digest("header.live.signaturE"))
                .is_none()
        );
        let expired = VerifiedTokens::digest("header.expired.signature");
        verified.remember(expired, &claims(now - 1));
        assert!(verified.get(&expired).is_none(), "never past exp");
        // Full: it starts over rather than growing.
        verified.remember(VerifiedTokens::digest("third"), &claims(now + 60));
        assert!(verified.get(&live).is_none());
        assert!(VerifiedTokens::new(0).get(&live).is_none());
    }
}
