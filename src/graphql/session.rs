//! Logging in, refreshing tokens and logging out.

use std::sync::Arc;

use async_graphql::{Context, Object, ResultExt};
use axum::http::header::SET_COOKIE;

use super::types::AuthPayload;
use super::{actor, app_context};
use crate::auth::cookie::{RefreshCookie, clear_refresh_cookie, set_refresh_cookie};
use crate::auth::guards::authentication;
use crate::ratelimit::RequestLimits;
use crate::services::sessions::{self, Session};
use crate::state::AppContext;

#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Log in with a username or an email address (anything with `@`).
    /// Every refusal is the same `UNAUTHENTICATED` error.
    async fn login(
        &self,
        ctx: &Context<'_>,
        username_or_email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let app = app_context(ctx)?;
        let limits = RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>());
        let session = sessions::login(app, &actor(ctx), &limits, &username_or_email, &password)
            .await
            .extend()?;
        Ok(hand_out(ctx, app, session))
    }

    /// Exchange a refresh token (the argument, else the cookie) for a new
    /// pair. Each refresh token works once.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
    ) -> async_graphql::Result<AuthPayload> {
        let app = app_context(ctx)?;
        let token = refresh_token.or_else(|| cookie_token(ctx));
        let session = sessions::refresh(app, &actor(ctx), token.as_deref())
            .await
            .extend()?;
        Ok(hand_out(ctx, app, session))
    }

    /// Revoke the caller's access token and the refresh token (the argument,
    /// else the cookie), and clear the cookie. Always succeeds.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: Option<String>,
    ) -> async_graphql::Result<bool> {
        let app = app_context(ctx)?;
        let token = refresh_token.or_else(|| cookie_token(ctx));
        sessions::logout(app, &actor(ctx), token.as_deref())
            .await
            .extend()?;
        if let Some(caller) = authentication(ctx).caller() {
            caller.end_session();
        }
        ctx.append_http_header(SET_COOKIE, clear_refresh_cookie(app.config.cookie_secure));
        Ok(true)
    }
}

fn cookie_token(ctx: &Context<'_>) -> Option<String> {
    ctx.data_opt::<RefreshCookie>()
        .and_then(|cookie| cookie.0.clone())
}

/// Set the refresh cookie and build the payload.
fn hand_out(ctx: &Context<'_>, app: &AppContext, session: Session) -> AuthPayload {
    ctx.append_http_header(
        SET_COOKIE,
        set_refresh_cookie(
            &session.refresh_token,
            app.tokens.refresh_ttl,
            app.config.cookie_secure,
        ),
    );
    AuthPayload::from(session)
}
