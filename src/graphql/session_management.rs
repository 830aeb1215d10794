//! Seeing and ending sessions: your own (`mySessions`, `revokeSession`,
//! `revokeOtherSessions`) and, for superusers, anybody's (`userSessions`,
//! `revokeUserSessions`). Another user's session id answers `NOT_FOUND`,
//! exactly like an id that never existed, so ids cannot be probed.

use async_graphql::{Context, ErrorExtensions, ID, Object, ResultExt};

use super::types::Session;
use super::{actor, app_context};
use crate::auth::guards::require_caller;
use crate::auth::{LoggedIn, Superuser};
use crate::error::AppError;
use crate::services::session_store::{self, SESSION_NOT_FOUND};
use crate::services::users;

#[derive(Default)]
pub struct SessionQuery;

#[Object]
impl SessionQuery {
    /// Your live sessions, newest first (at most 100).
    #[graphql(
        guard = "LoggedIn",
        complexity = "super::complexity::page(Some(100), child_complexity)"
    )]
    async fn my_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Session>> {
        let caller = require_caller(ctx)?;
        let rows = session_store::list(&app_context(ctx)?.db, caller.user.id)
            .await
            .extend()?;
        let current = Some(caller.token.sid);
        Ok(rows
            .into_iter()
            .map(|row| Session::new(row, current))
            .collect())
    }

    /// A user's live sessions, newest first (at most 100). Superusers only.
    #[graphql(
        guard = "Superuser",
        complexity = "super::complexity::page(Some(100), child_complexity)"
    )]
    async fn user_sessions(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<Vec<Session>> {
        let caller = require_caller(ctx)?;
        let db = &app_context(ctx)?.db;
        let user = users::find_any(db, &username).await.extend()?;
        let rows = session_store::list(db, user.id).await.extend()?;
        let current = Some(caller.token.sid);
        Ok(rows
            .into_iter()
            .map(|row| Session::new(row, current))
            .collect())
    }
}

#[derive(Default)]
pub struct SessionManagementMutation;

#[Object]
impl SessionManagementMutation {
    /// End one of your sessions (this one included): its tokens stop
    /// working on every instance. Another user's session is `NOT_FOUND`.
    #[graphql(guard = "LoggedIn")]
    async fn revoke_session(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let caller = require_caller(ctx)?;
        // Not a session id at all: as unknown as anybody else's.
        let sid = uuid::Uuid::parse_str(id.as_str())
            .map_err(|_| AppError::NotFound(SESSION_NOT_FOUND.to_owned()).extend())?;
        session_store::revoke(app_context(ctx)?, &actor(ctx), caller.user.id, sid)
            .await
            .extend()?;
        if sid == caller.token.sid {
            caller.end_session();
        }
        Ok(true)
    }

    /// End all your sessions but this one; how many ended.
    #[graphql(guard = "LoggedIn")]
    async fn revoke_other_sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let caller = require_caller(ctx)?;
        let keep = Some(caller.token.sid);
        session_store::revoke_all(app_context(ctx)?, &actor(ctx), caller.user.id, keep)
            .await
            .extend()
    }

    /// End every session of a user; how many ended. Superusers only.
    #[graphql(guard = "Superuser")]
    async fn revoke_user_sessions(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<u64> {
        let caller = require_caller(ctx)?;
        let app = app_context(ctx)?;
        let user = users::find_any(&app.db, &username).await.extend()?;
        let ended = session_store::revoke_all(app, &actor(ctx), user.id, None)
            .await
            .extend()?;
        if user.id == caller.user.id {
            caller.end_session();
        }
        Ok(ended)
    }
}
