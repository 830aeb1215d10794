//! The keys that sign and verify tokens: generating them, keeping them in
//! the `signing_key` table, and the in-memory [`KeySet`] every request uses.
//!
//! With EdDSA or ES256 the keys live in the database, so every instance
//! signs with the same active key and verifies every key whose tokens may
//! still be alive, and the public halves are published as a JWKS for other
//! backends. A key id (`kid`) is the key's RFC 7638 thumbprint; a token
//! names it, and verification looks the key up by it and accepts only that
//! key's own algorithm (no algorithm confusion). With HS256 the one key is
//! `JWT_SECRET`, its kid a hash prefix of it, and nothing is published.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::secret::{check_length, resolve_secret};
use crate::config::{Config, SigningAlgorithm};
use crate::entities::signing_key::{self, ACTIVE, PrivateKeyDer, RETIRED};
use crate::error::{AppError, AppResult};

/// The key new tokens are signed with. No `Debug`: it holds a private key.
pub struct SigningKey {
    pub kid: String,
    pub algorithm: Algorithm,
    pub encoding: EncodingKey,
}

/// A key tokens are verified with, and the one algorithm it accepts.
pub struct VerifyingKey {
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
}

/// Every key one instance signs and verifies with, as last loaded.
pub struct KeySet {
    signing: SigningKey,
    verifying: HashMap<String, VerifyingKey>,
    /// The public keys as JWKs (empty with HS256).
    published: Vec<Value>,
}

impl KeySet {
    /// HS256 with `secret`: one key, nothing to publish.
    #[must_use]
    pub fn hmac(secret: &[u8]) -> Self {
        // A hash prefix names the secret without revealing anything of it.
        let digest = Sha256::new()
            .chain_update(b"usergraph hs256 kid\0")
            .chain_update(secret)
            .finalize();
        let kid = format!("hs256-{}", URL_SAFE_NO_PAD.encode(&digest[..12]));
        let verifying = VerifyingKey {
            algorithm: Algorithm::HS256,
            decoding: DecodingKey::from_secret(secret),
        };
        Self {
            signing: SigningKey {
                kid: kid.clone(),
                algorithm: Algorithm::HS256,
                encoding: EncodingKey::from_secret(secret),
            },
            verifying: HashMap::from([(kid, verifying)]),
            published: Vec::new(),
        }
    }

    /// The set made of stored keys: `signing` signs, every row of
    /// `verifying` (which includes it) verifies and is published.
    fn from_rows(
        signing: &signing_key::Model,
        verifying: &[signing_key::Model],
    ) -> AppResult<Self> {
        let mut keys = HashMap::new();
        let mut published = Vec::new();
        for row in verifying {
            let algorithm = stored_algorithm(row)?;
            let jwk = public_jwk(algorithm, &row.public_key, &row.kid)?;
            keys.insert(row.kid.clone(), decoding_key(algorithm, &jwk)?);
            published.push(jwk);
        }
        let algorithm = stored_algorithm(signing)?;
        let encoding = match algorithm {
            SigningAlgorithm::EdDSA => EncodingKey::from_ed_der(&signing.private_key.0),
            SigningAlgorithm::ES256 => EncodingKey::from_ec_der(&signing.private_key.0),
            SigningAlgorithm::HS256 => return Err(unusable(signing)),
        };
        Ok(Self {
            signing: SigningKey {
                kid: signing.kid.clone(),
                algorithm: jose_algorithm(algorithm),
                encoding,
            },
            verifying: keys,
            published,
        })
    }

    #[must_use]
    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The key named `kid`, if it may verify tokens.
    #[must_use]
    pub fn verifying(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.get(kid)
    }

    /// The JWK Set served at `/.well-known/jwks.json`.
    #[must_use]
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.published })
    }

    /// The algorithms tokens may be signed with, for discovery.
    #[must_use]
    pub fn algorithms(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .verifying
            .values()
            .map(|key| format!("{:?}", key.algorithm))
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The HS256 secret with `JWT_ALGORITHM=HS256` (`None` otherwise), checked
/// before anything connects so a settings mistake stops start-up first.
pub fn hmac_secret(config: &Config) -> AppResult<Option<Vec<u8>>> {
    if config.jwt_algorithm == SigningAlgorithm::HS256 {
        return resolve_secret(config).map(Some);
    }
    if let Some(secret) = &config.jwt_secret {
        // Unused with this algorithm, but a too-short one is still a mistake.
        check_length(secret)?;
    }
    Ok(None)
}

/// The keys to use at start-up: HS256 with `hmac_secret`, else the stored
/// keys. A key of `JWT_ALGORITHM` is created and made active when none is
/// (first start, or a changed algorithm).
pub async fn prepare(
    db: &DatabaseConnection,
    config: &Config,
    hmac_secret: Option<Vec<u8>>,
) -> AppResult<KeySet> {
    if let Some(secret) = hmac_secret {
        return Ok(KeySet::hmac(&secret));
    }
    let algorithm = config.jwt_algorithm;
    let txn = db.begin().await?;
    let active = signing_key::Entity::find()
        .filter(signing_key::Column::State.eq(ACTIVE))
        .filter(signing_key::Column::Algorithm.eq(algorithm.name()))
        .one(&txn)
        .await?;
    if active.is_none() {
        let created = insert_active(&txn, algorithm).await?;
        tracing::info!(kid = %created.kid, algorithm = algorithm.name(), "created a new signing key");
    }
    txn.commit().await?;
    load(db, config).await
}

/// The keys as the database has them now: the newest active key signs;
/// it and every key retired less than `REFRESH_TOKEN_TTL` ago verify.
pub async fn load(db: &DatabaseConnection, config: &Config) -> AppResult<KeySet> {
    let rows = signing_key::Entity::find()
        .filter(live_keys(config.refresh_token_ttl))
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Kid)
        .all(db)
        .await?;
    let signing = rows
        .iter()
        .find(|row| row.state == ACTIVE)
        .ok_or_else(|| AppError::internal("no active signing key in the database"))?;
    KeySet::from_rows(signing, &rows)
}

/// Keys whose tokens may still be alive: the active ones, and those retired
/// less than the longest token lifetime ago.
fn live_keys(longest_lifetime: Duration) -> Condition {
    let retired_after = chrono::Duration::from_std(longest_lifetime)
        .ok()
        .and_then(|lifetime| Utc::now().checked_sub_signed(lifetime))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    Condition::any()
        .add(signing_key::Column::State.eq(ACTIVE))
        .add(
            Condition::all()
                .add(signing_key::Column::State.eq(RETIRED))
                .add(signing_key::Column::RetiredAt.gt(retired_after)),
        )
}

/// Every stored key, newest first.
pub async fn all(db: &impl ConnectionTrait) -> AppResult<Vec<signing_key::Model>> {
    Ok(signing_key::Entity::find()
        .order_by_desc(signing_key::Column::CreatedAt)
        .order_by_desc(signing_key::Column::Kid)
        .all(db)
        .await?)
}

/// Generate a key of `algorithm`, store it as the active key and retire
/// the one(s) before it, on `db` (a transaction: the caller commits).
pub async fn insert_active(
    db: &impl ConnectionTrait,
    algorithm: SigningAlgorithm,
) -> AppResult<signing_key::Model> {
    let generated = generate(algorithm)?;
    let now = Utc::now();
    signing_key::Entity::update_many()
        .col_expr(signing_key::Column::State, RETIRED.into())
        .col_expr(signing_key::Column::RetiredAt, Some(now).into())
        .filter(signing_key::Column::State.eq(ACTIVE))
        .exec(db)
        .await?;
    let row = signing_key::ActiveModel {
        kid: Set(generated.kid),
        algorithm: Set(algorithm.name().to_owned()),
        private_key: Set(PrivateKeyDer(generated.private_der)),
        public_key: Set(generated.public),
        created_at: Set(now),
        state: Set(ACTIVE.to_owned()),
        retired_at: Set(None),
    };
    Ok(signing_key::Entity::insert(row)
        .exec_with_returning(db)
        .await?)
}

/// A freshly generated key pair.
struct GeneratedKey {
    kid: String,
    /// PKCS#8 DER.
    private_der: Vec<u8>,
    /// Ed25519: 32 bytes; P-256: the 65-byte uncompressed SEC1 point.
    public: Vec<u8>,
}

fn generate(algorithm: SigningAlgorithm) -> AppResult<GeneratedKey> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;

    let encode_failed =
        |error: ed25519_dalek::pkcs8::Error| AppError::internal(format!("key encoding: {error}"));
    let (private_der, public) = match algorithm {
        SigningAlgorithm::EdDSA => {
            let mut seed = [0u8; 32];
            rand::rng().fill_bytes(&mut seed);
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let der = key.to_pkcs8_der().map_err(encode_failed)?;
            (
                der.as_bytes().to_vec(),
                key.verifying_key().to_bytes().to_vec(),
            )
        }
        SigningAlgorithm::ES256 => {
            // A random 32-byte string is a valid scalar unless it is zero or
            // not below the group order, which is astronomically rare.
            let key = std::iter::repeat_with(|| {
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                p256::SecretKey::from_slice(&bytes)
            })
            .take(8)
            .find_map(Result::ok)
            .ok_or_else(|| AppError::internal("could not generate a P-256 key"))?;
            let der = key.to_pkcs8_der().map_err(encode_failed)?;
            let point = key.public_key().to_encoded_point(false);
            (der.as_bytes().to_vec(), point.as_bytes().to_vec())
        }
        SigningAlgorithm::HS256 => {
            return Err(AppError::bad_input(
                "HS256 signs with JWT_SECRET: there is no key to generate",
            ));
        }
    };
    let kid = thumbprint(algorithm, &public)?;
    Ok(GeneratedKey {
        kid,
        private_der,
        public,
    })
}

/// The public key as a JWK (RFC 7517/8037): what other backends verify with.
fn public_jwk(algorithm: SigningAlgorithm, public: &[u8], kid: &str) -> AppResult<Value> {
    let mut jwk = public_members(algorithm, public)?;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(algorithm.name());
    jwk["use"] = json!("sig");
    Ok(jwk)
}

/// The required members of the JWK: `kty`, `crv`, `x` (and `y` for EC).
fn public_members(algorithm: SigningAlgorithm, public: &[u8]) -> AppResult<Value> {
    let bad = || {
        AppError::internal(format!(
            "stored {} public key is malformed",
            algorithm.name()
        ))
    };
    match algorithm {
        SigningAlgorithm::EdDSA if public.len() == 32 => Ok(json!({
            "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(public),
        })),
        SigningAlgorithm::ES256 if public.len() == 65 && public[0] == 4 => Ok(json!({
            "kty": "EC", "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
        })),
        _ => Err(bad()),
    }
}

/// RFC 7638: SHA-256 over the required members in lexicographic order.
fn thumbprint(algorithm: SigningAlgorithm, public: &[u8]) -> AppResult<String> {
    let members = public_members(algorithm, public)?;
    // serde_json's map keeps keys sorted, and prints no whitespace.
    let canonical = serde_json::to_string(&members).map_err(AppError::internal)?;
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// The decoding key built from the published JWK itself, so usergraph
/// verifies with exactly what it tells others to verify with.
fn decoding_key(algorithm: SigningAlgorithm, jwk: &Value) -> AppResult<VerifyingKey> {
    let member = |name: &str| jwk[name].as_str().unwrap_or_default().to_owned();
    let decoding = match algorithm {
        SigningAlgorithm::EdDSA => DecodingKey::from_ed_components(&member("x")),
        SigningAlgorithm::ES256 => DecodingKey::from_ec_components(&member("x"), &member("y")),
        SigningAlgorithm::HS256 => return Err(AppError::internal("HS256 key in the table")),
    }
    .map_err(AppError::internal)?;
    Ok(VerifyingKey {
        algorithm: jose_algorithm(algorithm),
        decoding,
    })
}

fn stored_algorithm(row: &signing_key::Model) -> AppResult<SigningAlgorithm> {
    SigningAlgorithm::from_name(&row.algorithm)
        .filter(|algorithm| *algorithm != SigningAlgorithm::HS256)
        .ok_or_else(|| unusable(row))
}

fn unusable(row: &signing_key::Model) -> AppError {
    AppError::internal(format!(
        "signing key {} has an unusable algorithm `{}`",
        row.kid, row.algorithm
    ))
}

#[must_use]
pub fn jose_algorithm(algorithm: SigningAlgorithm) -> Algorithm {
    match algorithm {
        SigningAlgorithm::EdDSA => Algorithm::EdDSA,
        SigningAlgorithm::ES256 => Algorithm::ES256,
        SigningAlgorithm::HS256 => Algorithm::HS256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_publish_what_verifies_them() {
        for algorithm in [SigningAlgorithm::EdDSA, SigningAlgorithm::ES256] {
            let key = generate(algorithm).expect("generated");
            assert_eq!(key.kid.len(), 43, "a SHA-256 thumbprint");
            let jwk = public_jwk(algorithm, &key.public, &key.kid).expect("jwk");
            assert_eq!(jwk["use"], "sig");
            assert!(jwk.get("d").is_none(), "no private member");
            let row = signing_key::Model {
                kid: key.kid.clone(),
                algorithm: algorithm.name().to_owned(),
                private_key: PrivateKeyDer(key.private_der),
                public_key: key.public,
                created_at: Utc::now(),
                state: ACTIVE.to_owned(),
                retired_at: None,
            };
            assert!(!format!("{row:?}").contains("private_key: PrivateKeyDer(["));
            let set = KeySet::from_rows(&row, std::slice::from_ref(&row)).expect("set");
            let signing = set.signing();
            let token = jsonwebtoken::encode(
                &jsonwebtoken::Header::new(signing.algorithm),
                &json!({ "sub": "x", "exp": Utc::now().timestamp() + 60 }),
                &signing.encoding,
            )
            .expect("signed");
            let verifying = set.verifying(&key.kid).expect("published");
            let mut validation = jsonwebtoken::Validation::new(verifying.algorithm);
            validation.required_spec_claims.clear();
            jsonwebtoken::decode::<Value>(&token, &verifying.decoding, &validation)
                .expect("verifies");
        }
    }

    #[test]
    fn the_hmac_kid_does_not_reveal_the_secret() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let set = KeySet::hmac(secret);
        assert!(set.signing().kid.starts_with("hs256-"));
        assert!(!set.signing().kid.contains("0123"));
        assert_eq!(set.jwks(), json!({ "keys": [] }));
    }
}
