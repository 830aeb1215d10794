//! What `login` and `refreshToken` return, and what `register` takes.

use async_graphql::{ComplexObject, InputObject, SimpleObject};

use super::user::User;
use crate::entities::user;
use crate::services::sessions::Session;
use crate::services::users::NewUser;

/// The result of `login` and `refreshToken`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AuthPayload {
    /// Send as `Authorization: Bearer <accessToken>`.
    pub access_token: String,
    /// Exchange for a new pair with `refreshToken`; also set as an HttpOnly
    /// cookie for browsers.
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    #[graphql(skip)]
    pub session_user: user::Model,
}

#[ComplexObject]
impl AuthPayload {
    async fn user(&self) -> User {
        User::seen_by_owner(self.session_user.clone())
    }
}

impl From<Session> for AuthPayload {
    fn from(session: Session) -> Self {
        Self {
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            token_type: "bearer",
            expires_in: i64::try_from(session.expires_in).unwrap_or(i64::MAX),
            session_user: session.user,
        }
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    /// 2–30 characters.
    pub name: String,
    /// 2–20 characters, letters a-z and digits; stored lower-cased.
    pub username: String,
    pub email: String,
    /// 8+ characters, at most 72 bytes, with a lower-case and an upper-case
    /// letter, a digit and a symbol.
    pub password: String,
}

impl From<RegisterInput> for NewUser {
    fn from(input: RegisterInput) -> Self {
        Self {
            name: input.name,
            username: input.username,
            email: input.email,
            password: input.password,
        }
    }
}
