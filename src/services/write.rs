//! The one way a change reaches the database. Every service that writes
//! opens a [`Write`], makes its changes on [`Write::db`], says which
//! sessions the change ends or alters, and commits once: the change-feed
//! entries are written in the same transaction, and this instance forgets
//! the stale sessions before anyone is answered. Audit events and outbox
//! jobs (mail, webhooks) join the same unit, so they can never be forgotten
//! or committed apart from the change that caused them.
//!
//! A write never rides on a session that only the session cache vouched
//! for: [`Write::begin`] checks such a caller's token against the database
//! first, whatever the field that writes (a mutation, or a query an
//! application adds that writes). The HTTP layer already checks every
//! request holding a mutation against the database; this is the backstop.

use std::net::IpAddr;

use sea_orm::{DatabaseTransaction, SqliteTransactionMode, TransactionOptions, TransactionTrait};
use uuid::Uuid;

use super::changes;
use crate::auth::Caller;
use crate::auth::caller::find_token_owner;
use crate::auth::session_cache::Change;
use crate::error::{AppError, AppResult, INVALID_TOKEN};
use crate::state::AppContext;

/// On SQLite a write takes the write lock at `BEGIN` (`IMMEDIATE`): a
/// transaction that reads first and writes later would otherwise fail with
/// "database is locked" (`SQLITE_BUSY_SNAPSHOT`) whenever another
/// connection committed in between, instead of waiting its turn. Ignored by
/// PostgreSQL.
const WRITE_TRANSACTION: TransactionOptions = TransactionOptions {
    isolation_level: None,
    access_mode: None,
    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
};

/// Where a request came from, as the HTTP layer saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    /// The client address (`TRUSTED_PROXIES` decides who that is).
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// The id in the `x-request-id` response header and the logs.
    pub request_id: Option<String>,
}

/// Who makes a change: a logged-in caller, somebody anonymous (register,
/// login, refresh), or the system itself (the command line, background
/// tasks), and from where.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    caller: Option<Caller>,
    origin: Origin,
    /// usergraph itself, not a client.
    system: bool,
}

impl Actor {
    #[must_use]
    pub fn new(caller: Option<Caller>, origin: Origin) -> Self {
        Self {
            caller,
            origin,
            system: false,
        }
    }

    /// usergraph itself: the command line and background tasks.
    #[must_use]
    pub fn system() -> Self {
        Self {
            system: true,
            ..Self::default()
        }
    }

    /// Whether this is usergraph itself rather than a client.
    #[must_use]
    pub fn is_system(&self) -> bool {
        self.system && self.caller.is_none()
    }

    #[must_use]
    pub fn caller(&self) -> Option<&Caller> {
        self.caller.as_ref()
    }

    #[must_use]
    pub fn user_id(&self) -> Option<i32> {
        self.caller.as_ref().map(|caller| caller.user.id)
    }

    #[must_use]
    pub fn origin(&self) -> &Origin {
        &self.origin
    }
}

/// One change in progress: a transaction, who makes it, and the sessions it
/// ends or alters. Dropped without [`Write::commit`], it rolls back.
pub struct Write<'a> {
    ctx: &'a AppContext,
    actor: &'a Actor,
    txn: DatabaseTransaction,
    changes: Vec<Change>,
    /// Whether the write added outbox jobs (the worker is woken at commit).
    outbox_jobs: bool,
    /// Whether the write recorded audit events (subscribers' feed is woken
    /// at commit).
    audit_events: bool,
}

impl<'a> Write<'a> {
    /// Open a write for `actor`. A caller whose session was only checked
    /// against the session cache is checked against the database first:
    /// `UNAUTHENTICATED` (and the session ends for the rest of the request)
    /// when it was revoked meanwhile, on this instance or another.
    pub async fn begin(ctx: &'a AppContext, actor: &'a Actor) -> AppResult<Self> {
        if let Some(caller) = actor.caller()
            && !caller.is_database_checked()
        {
            if find_token_owner(&ctx.db, &caller.token).await?.is_none() {
                caller.end_session();
                return Err(AppError::Unauthenticated(INVALID_TOKEN));
            }
            caller.mark_database_checked();
        }
        Ok(Self {
            ctx,
            actor,
            txn: ctx.db.begin_with_options(WRITE_TRANSACTION).await?,
            changes: Vec::new(),
            outbox_jobs: false,
            audit_events: false,
        })
    }

    /// Where the changes are made.
    #[must_use]
    pub fn db(&self) -> &DatabaseTransaction {
        &self.txn
    }

    #[must_use]
    pub fn actor(&self) -> &Actor {
        self.actor
    }

    /// The application context the write belongs to.
    #[must_use]
    pub fn app(&self) -> &'a AppContext {
        self.ctx
    }

    /// Every session of `user_id` must be looked at again: the user was
    /// changed, deleted, demoted, or their sessions ended.
    pub fn user_changed(&mut self, user_id: i32) {
        self.changes.push(Change::User(user_id));
    }

    /// The access token `jti` was revoked.
    pub fn token_revoked(&mut self, jti: Uuid) {
        self.changes.push(Change::Token(jti));
    }

    /// An outbox job was added (see `services::outbox::enqueue`).
    pub fn outbox_job_added(&mut self) {
        self.outbox_jobs = true;
    }

    /// An audit event was recorded (see `services::audit::record`).
    pub fn audit_event_added(&mut self) {
        self.audit_events = true;
    }

    /// Record the change-feed entries, commit, forget the stale sessions on
    /// this instance, and wake the outbox worker for the jobs added.
    pub async fn commit(self) -> AppResult<()> {
        changes::record(&self.txn, &self.changes).await?;
        self.txn.commit().await?;
        self.ctx.sessions.forget(&self.changes);
        if self.outbox_jobs {
            self.ctx.outbox_wakeup.notify_one();
        }
        if self.audit_events {
            self.ctx.audit_feed.wake();
        }
        Ok(())
    }
}
