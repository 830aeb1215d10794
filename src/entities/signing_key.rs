//! A key that signs tokens (EdDSA or ES256). The private half is a
//! [`PrivateKeyDer`], whose `Debug` prints nothing of it, so neither this
//! model nor its active model can leak it into a log line. HS256 keeps using
//! `JWT_SECRET` and has no row here.

use sea_orm::entity::prelude::*;

/// `state` of the key new tokens are signed with.
pub const ACTIVE: &str = "active";
/// `state` of a rotated-out key: it verifies until its tokens expire.
pub const RETIRED: &str = "retired";

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_key")]
pub struct Model {
    /// The key id in every token's header: the key's RFC 7638 thumbprint.
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// `EdDSA` or `ES256`.
    pub algorithm: String,
    pub private_key: PrivateKeyDer,
    /// Ed25519: the 32-byte public point; P-256: the 65-byte SEC1 point.
    pub public_key: Vec<u8>,
    pub created_at: DateTimeUtc,
    /// [`ACTIVE`] or [`RETIRED`].
    pub state: String,
    pub retired_at: Option<DateTimeUtc>,
}

/// A private key in PKCS#8 DER. Never served, logged or returned.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct PrivateKeyDer(pub Vec<u8>);

impl std::fmt::Debug for PrivateKeyDer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("PrivateKeyDer(..)")
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
