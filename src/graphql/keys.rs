//! Rotating the token-signing key (superusers only). The private key never
//! reaches GraphQL: [`SigningKey`] picks the public facts of a stored key.

use async_graphql::{Context, Enum, Object, ResultExt, SimpleObject};
use chrono::{DateTime, Utc};

use super::{actor, app_context};
use crate::auth::Superuser;
use crate::entities::signing_key;
use crate::services::keys;

/// A key that signs tokens, as `/.well-known/jwks.json` names it.
#[derive(SimpleObject)]
pub struct SigningKey {
    /// The `kid` in the header of every token the key signs.
    pub kid: String,
    /// `EdDSA` or `ES256`.
    pub algorithm: String,
    pub created_at: DateTime<Utc>,
    pub state: SigningKeyState,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SigningKeyState {
    /// New tokens are signed with it.
    Active,
    /// Rotated out: verifies the tokens it signed until they expire.
    Retired,
}

impl From<signing_key::Model> for SigningKey {
    fn from(model: signing_key::Model) -> Self {
        Self {
            state: if model.state == signing_key::ACTIVE {
                SigningKeyState::Active
            } else {
                SigningKeyState::Retired
            },
            kid: model.kid,
            algorithm: model.algorithm,
            created_at: model.created_at,
        }
    }
}

#[derive(Default)]
pub struct KeyMutation;

#[Object]
impl KeyMutation {
    /// Make a new signing key active. Tokens signed by the previous one keep
    /// working until they expire; every instance signs with the new one
    /// within seconds.
    #[graphql(guard = "Superuser")]
    async fn rotate_signing_key(&self, ctx: &Context<'_>) -> async_graphql::Result<SigningKey> {
        let created = keys::rotate(app_context(ctx)?, &actor(ctx))
            .await
            .extend()?;
        Ok(created.into())
    }
}
