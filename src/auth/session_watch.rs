//! The session a WebSocket connection rides on. An HTTP request is checked
//! once and is over in milliseconds; a subscription can outlive its session
//! by days. So the connection keeps watching: the socket closes (4401) as
//! soon as the session is seen to have ended (logout, `revokeSession`, a
//! password change, deletion, expiry), and no event is delivered after.
//!
//! It is seen to end in two ways. An event about the caller (a logout, a
//! revocation, a password change all record one) makes every subscription
//! of theirs check against the database at once; and every
//! `SUBSCRIPTION_SESSION_CHECK` the connection checks through the session
//! cache, which the change feed keeps in step across instances, for ends
//! that record no event about them (expiry).

use tokio_util::sync::CancellationToken;

use super::caller::{Freshness, token_owner};
use super::tokens::Claims;
use crate::entities::user;
use crate::state::AppContext;

/// What a check of the session found.
#[derive(Debug)]
pub enum Liveness {
    /// The session goes on; its user as they are now.
    Live(Box<user::Model>),
    /// The session has ended (the watch has ended too).
    Ended,
    /// The database did not answer.
    Unknown,
}

/// One connection's session, and whether it has been seen to end.
#[derive(Debug)]
pub struct SessionWatch {
    claims: Claims,
    user_id: i32,
    ended: CancellationToken,
}

impl SessionWatch {
    #[must_use]
    pub fn new(claims: Claims, user_id: i32) -> Self {
        Self {
            claims,
            user_id,
            ended: CancellationToken::new(),
        }
    }

    /// Whether an event about `subject_user_id` may have ended the session.
    #[must_use]
    pub fn concerns(&self, subject_user_id: Option<i32>) -> bool {
        subject_user_id == Some(self.user_id)
    }

    /// Check the session now. A database that cannot answer is not taken
    /// for an ended session: the next check asks again.
    pub async fn check(&self, app: &AppContext, freshness: Freshness) -> Liveness {
        if self.is_ended() {
            return Liveness::Ended;
        }
        match token_owner(app, &self.claims, freshness).await {
            Ok(Some(user)) => Liveness::Live(Box::new(user)),
            Ok(None) => {
                self.end();
                Liveness::Ended
            }
            Err(error) => {
                tracing::warn!(%error, "could not check a subscriber's session");
                Liveness::Unknown
            }
        }
    }

    /// The session is over: close the connection.
    pub fn end(&self) {
        self.ended.cancel();
    }

    #[must_use]
    pub fn is_ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    /// Resolves once the session is seen to have ended.
    pub async fn ended(&self) {
        self.ended.cancelled().await;
    }
}
