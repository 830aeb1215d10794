//! Rotating and listing the keys that sign tokens (issue 12). A rotation
//! makes a new key active at once on this instance; the others pick it up
//! within seconds (`tasks::signing_keys`). Tokens signed by the previous key
//! keep verifying until they expire.

use crate::auth::keys;
use crate::config::SigningAlgorithm;
use crate::entities::signing_key;
use crate::error::{AppError, AppResult};
use serde_json::json;

use crate::services::audit::{self, EventType};
use crate::services::write::{Actor, Write};
use crate::state::AppContext;

/// Create a key of `JWT_ALGORITHM`, make it the active one and retire the
/// previous one. Refused with HS256, whose key is `JWT_SECRET`.
pub async fn rotate(ctx: &AppContext, actor: &Actor) -> AppResult<signing_key::Model> {
    let algorithm = ctx.config.jwt_algorithm;
    if algorithm == SigningAlgorithm::HS256 {
        return Err(AppError::bad_input(
            "JWT_ALGORITHM is HS256: tokens are signed with JWT_SECRET, so rotate by changing it",
        ));
    }
    let mut write = Write::begin(ctx, actor).await?;
    let created = keys::insert_active(write.db(), algorithm).await?;
    audit::record(
        &mut write,
        EventType::SigningKeyRotated,
        None,
        json!({ "kid": created.kid, "algorithm": algorithm.name() }),
    )
    .await?;
    write.commit().await?;
    ctx.tokens.replace(keys::load(&ctx.db, &ctx.config).await?);
    tracing::info!(kid = %created.kid, algorithm = algorithm.name(), "rotated the signing key");
    Ok(created)
}

/// Every stored key, newest first.
pub async fn list(ctx: &AppContext) -> AppResult<Vec<signing_key::Model>> {
    keys::all(&ctx.db).await
}
