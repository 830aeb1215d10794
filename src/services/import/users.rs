//! The part every import shares: checking incoming users against the
//! registration rules and the accounts already present, and writing the
//! accepted ones in batches.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use uuid::Uuid;

use super::{Progress, Refusal};
use crate::auth::password::formats::StoredHash;
use crate::entities::user;
use crate::error::AppResult;
use crate::services::users::DEFAULT_PROFILE_IMAGE_URL;
use crate::services::validation;

/// Rows per INSERT: 14 columns each stays far below SQLite's and
/// PostgreSQL's limits on bound parameters per statement.
pub(super) const BATCH_ROWS: usize = 1000;

/// A user as another system describes it, before any check.
#[derive(Debug, Clone)]
pub struct IncomingUser {
    /// Where the row is, for the report (`line 12`, `user 7`).
    pub place: String,
    /// Kept when the source has one (so ids other services hold still
    /// name the same person); a new one otherwise.
    pub uuid: Option<Uuid>,
    pub name: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub profile_image_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: Option<DateTime<Utc>>,
    pub is_superuser: bool,
    /// The tier's name.
    pub tier: Option<String>,
    /// Whether the address was verified where the user comes from; stored
    /// as verified at the time of the import.
    pub email_verified: bool,
    pub is_deleted: bool,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// An incoming user that passed every check, ready to insert.
pub(super) struct Accepted {
    pub row: user::ActiveModel,
    pub username: String,
}

/// The outcome of checking a list of incoming users.
pub(super) struct Plan {
    pub accepted: Vec<Accepted>,
    pub already_present: usize,
    pub refused: Vec<Refusal>,
}

/// What the database already holds that an import must not collide with.
pub(super) struct Existing {
    usernames: HashSet<String>,
    emails: HashSet<String>,
    uuids: HashSet<Uuid>,
}

impl Existing {
    /// One query for every account's names (soft-deleted ones keep theirs
    /// reserved): a few MB even for a million users.
    pub async fn load(db: &impl ConnectionTrait) -> AppResult<Self> {
        let rows: Vec<(String, String, Uuid)> = user::Entity::find()
            .select_only()
            .column(user::Column::Username)
            .column(user::Column::Email)
            .column(user::Column::Uuid)
            .into_tuple()
            .all(db)
            .await?;
        let mut existing = Self {
            usernames: HashSet::with_capacity(rows.len()),
            emails: HashSet::with_capacity(rows.len()),
            uuids: HashSet::with_capacity(rows.len()),
        };
        for (username, email, uuid) in rows {
            existing.usernames.insert(username);
            existing.emails.insert(email);
            existing.uuids.insert(uuid);
        }
        Ok(existing)
    }
}

/// Check every incoming user; `tiers` maps tier names to ids (a tier the
/// import is about to create may have a placeholder id).
pub(super) fn plan(
    incoming: Vec<IncomingUser>,
    existing: &Existing,
    tiers: &HashMap<String, i32>,
    progress: &mut dyn FnMut(Progress),
) -> Plan {
    let total = incoming.len();
    let mut plan = Plan {
        accepted: Vec::with_capacity(total),
        already_present: 0,
        refused: Vec::new(),
    };
    let mut usernames_seen: HashMap<String, String> = HashMap::new();
    let mut emails_seen: HashMap<String, String> = HashMap::new();
    let now = Utc::now();
    for (index, user) in incoming.into_iter().enumerate() {
        if index % 10_000 == 0 && index > 0 {
            progress(Progress {
                stage: "checked",
                done: index,
                total,
            });
        }
        let place = user.place.clone();
        match check(user, existing, tiers, &usernames_seen, &emails_seen, now) {
            Checked::AlreadyPresent => plan.already_present += 1,
            Checked::Refused(reason) => plan.refused.push(Refusal { place, reason }),
            Checked::Accepted(row, username, email) => {
                usernames_seen.insert(username.clone(), place.clone());
                emails_seen.insert(email, place);
                plan.accepted.push(Accepted {
                    row: *row,
                    username,
                });
            }
        }
    }
    progress(Progress {
        stage: "checked",
        done: total,
        total,
    });
    plan
}

enum Checked {
    AlreadyPresent,
    Refused(String),
    Accepted(Box<user::ActiveModel>, String, String),
}

fn check(
    user: IncomingUser,
    existing: &Existing,
    tiers: &HashMap<String, i32>,
    usernames_seen: &HashMap<String, String>,
    emails_seen: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Checked {
    let username = match validation::username(&user.username) {
        Ok(username) => username,
        Err(error) => return Checked::Refused(error.to_string()),
    };
    if existing.usernames.contains(&username) {
        return Checked::AlreadyPresent;
    }
    let checked = (|| {
        let name = validation::name(&user.name)?;
        let email = validation::email(&user.email)?;
        Ok::<_, crate::error::AppError>((name, email))
    })();
    let (name, email) = match checked {
        Ok(fields) => fields,
        Err(error) => return Checked::Refused(error.to_string()),
    };
    if let Some(first) = usernames_seen.get(&username) {
        return Checked::Refused(format!("username `{username}` is already on {first}"));
    }
    if existing.emails.contains(&email) {
        return Checked::Refused(format!(
            "email {email} is already registered to another user"
        ));
    }
    if let Some(first) = emails_seen.get(&email) {
        return Checked::Refused(format!("email {email} is already on {first}"));
    }
    if StoredHash::parse(&user.password_hash).is_none() {
        return Checked::Refused(
            "password_hash is not a bcrypt ($2a$, $2b$, $2y$) or argon2 ($argon2id$, $argon2i$) hash"
                .to_owned(),
        );
    }
    let tier_id = match user.tier.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(tier) => match tiers.get(tier) {
            Some(id) => Some(*id),
            None => return Checked::Refused(format!("unknown tier `{tier}`")),
        },
    };
    let image = match user.profile_image_url.as_deref() {
        None => DEFAULT_PROFILE_IMAGE_URL.to_owned(),
        Some(url) => match validation::http_url("profile_image_url", url) {
            Ok(url) => url,
            Err(error) => return Checked::Refused(error.to_string()),
        },
    };
    if user.created_at > now {
        return Checked::Refused("created_at is in the future".to_owned());
    }
    let uuid = user
        .uuid
        .filter(|uuid| !existing.uuids.contains(uuid))
        .unwrap_or_else(Uuid::new_v4);
    let deleted_at = user.is_deleted.then(|| user.deleted_at.unwrap_or(now));
    let row = user::ActiveModel {
        uuid: Set(uuid),
        name: Set(name),
        username: Set(username.clone()),
        email: Set(email.clone()),
        hashed_password: Set(user.password_hash),
        profile_image_url: Set(image),
        is_superuser: Set(user.is_superuser),
        tier_id: Set(tier_id),
        token_version: Set(0),
        created_at: Set(user.created_at),
        updated_at: Set(user.updated_at.unwrap_or(user.created_at)),
        is_deleted: Set(user.is_deleted),
        deleted_at: Set(deleted_at),
        email_verified_at: Set(user.email_verified.then_some(now)),
        ..Default::default()
    };
    Checked::Accepted(Box::new(row), username, email)
}

/// Insert the accepted users in batches on `db` (the import's transaction);
/// returns the new id of each, by username.
pub(super) async fn insert(
    db: &impl ConnectionTrait,
    accepted: Vec<Accepted>,
    want_ids: bool,
    progress: &mut dyn FnMut(Progress),
) -> AppResult<HashMap<String, i32>> {
    let total = accepted.len();
    let mut done = 0;
    let mut ids = HashMap::new();
    let mut rows = accepted.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<Accepted> = rows.by_ref().take(BATCH_ROWS).collect();
        let usernames: Vec<String> = batch.iter().map(|row| row.username.clone()).collect();
        done += batch.len();
        user::Entity::insert_many(batch.into_iter().map(|accepted| accepted.row))
            .exec_without_returning(db)
            .await?;
        if want_ids {
            let inserted: Vec<(i32, String)> = user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .column(user::Column::Username)
                .filter(user::Column::Username.is_in(usernames))
                .into_tuple()
                .all(db)
                .await?;
            ids.extend(inserted.into_iter().map(|(id, username)| (username, id)));
        }
        progress(Progress {
            stage: "written",
            done,
            total,
        });
    }
    Ok(ids)
}
