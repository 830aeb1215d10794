//! What every request shares: the database pool, the settings, the token
//! keys and the password hasher. Cheap to clone.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::{PasswordHasher, TokenKeys};
use crate::config::Config;
use crate::db::StatementCounter;

#[derive(Clone)]
pub struct AppContext {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub tokens: Arc<TokenKeys>,
    pub passwords: Arc<PasswordHasher>,
    pub sql_statements: StatementCounter,
}

impl AppContext {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        sql_statements: StatementCounter,
        config: Config,
        secret: &[u8],
    ) -> Self {
        let tokens = TokenKeys::new(secret, config.access_token_ttl, config.refresh_token_ttl);
        let passwords = PasswordHasher::new(config.bcrypt_cost);
        Self {
            db,
            config: Arc::new(config),
            tokens: Arc::new(tokens),
            passwords: Arc::new(passwords),
            sql_statements,
        }
    }
}
