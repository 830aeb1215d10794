//! The GraphQL shapes of users and sessions. Fields are chosen one by one:
//! the password hash and internal counters never appear.

use async_graphql::{ComplexObject, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::Authentication;
use crate::entities::user;
use crate::services::sessions::Session;
use crate::services::users::NewUser;

/// A user as the API shows it.
pub struct User {
    model: user::Model,
    /// Whether the viewer may see the email address (the user themselves or
    /// a superuser).
    email_visible: bool,
}

impl User {
    /// The user as seen by whoever made this request.
    #[must_use]
    pub fn seen_by(model: user::Model, viewer: &Authentication) -> Self {
        let email_visible = viewer
            .caller()
            .is_some_and(|caller| caller.user.id == model.id || caller.user.is_superuser);
        Self {
            model,
            email_visible,
        }
    }

    /// The user as seen by themselves (after register, login or refresh the
    /// caller has just proved who they are).
    #[must_use]
    pub fn seen_by_owner(model: user::Model) -> Self {
        Self {
            model,
            email_visible: true,
        }
    }
}

#[Object]
impl User {
    async fn id(&self) -> i32 {
        self.model.id
    }
    /// Immutable identity; tokens refer to it.
    async fn uuid(&self) -> Uuid {
        self.model.uuid
    }
    async fn name(&self) -> &str {
        &self.model.name
    }
    async fn username(&self) -> &str {
        &self.model.username
    }
    /// Visible to the user themselves and to superusers; `null` for others.
    async fn email(&self) -> Option<&str> {
        self.email_visible.then_some(self.model.email.as_str())
    }
    async fn profile_image_url(&self) -> &str {
        &self.model.profile_image_url
    }
    async fn tier_id(&self) -> Option<i32> {
        self.model.tier_id
    }
    async fn is_superuser(&self) -> bool {
        self.model.is_superuser
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.model.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.model.updated_at
    }
}

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
