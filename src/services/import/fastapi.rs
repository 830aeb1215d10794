//! `usergraph import-users --from-fastapi-boilerplate postgres://…`: read a
//! FastAPI-boilerplate database (the project usergraph grew from) directly.
//!
//! Its `tier`, `rate_limit`, `user` and `post` tables map one to one onto
//! ours. Kept: bcrypt hashes (upgraded at login when the settings ask),
//! uuids, tiers and their rules, superusers, soft deletions, creation times.
//! Tiers and rules are matched by name, users by username, so a second run
//! adds only what is new; posts come along with the users imported in the
//! same run. Its rate-limit paths name REST routes (`api_v1_posts`): they
//! are kept as they are and limit nothing until renamed to a root field.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityTrait,
    QueryResult, Set, Statement,
};
use uuid::Uuid;

use super::users::{self, BATCH_ROWS, Existing, IncomingUser};
use super::{ImportOptions, Progress, Refusal, Report};
use crate::entities::{post, rate_limit, tier};
use crate::error::{AppError, AppResult};
use crate::services::write::{Actor, Write};
use crate::state::AppContext;

/// What was read from the source database.
struct Source {
    tiers: Vec<SourceTier>,
    rate_limits: Vec<SourceRule>,
    /// With each user's id in the source, for their posts.
    users: Vec<(i32, IncomingUser)>,
    posts: Vec<SourcePost>,
}

struct SourceTier {
    id: i32,
    name: String,
    created_at: DateTime<Utc>,
}

struct SourceRule {
    tier_id: i32,
    name: String,
    path: String,
    limit: i32,
    period: i32,
    created_at: DateTime<Utc>,
}

struct SourcePost {
    author: i32,
    title: String,
    text: String,
    media_url: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: Option<DateTime<Utc>>,
    is_deleted: bool,
    deleted_at: Option<DateTime<Utc>>,
}

/// Import everything from the FastAPI-boilerplate database at `url`.
pub async fn import(
    ctx: &AppContext,
    actor: &Actor,
    url: &str,
    options: ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> AppResult<Report> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(AppError::Config(
            "--from-fastapi-boilerplate takes the PostgreSQL URL of its database (postgres://…)"
                .to_owned(),
        ));
    }
    let source = Database::connect(url).await.map_err(|error| {
        AppError::Config(format!(
            "cannot connect to the FastAPI-boilerplate database ({}): {error}",
            crate::db::redact(url)
        ))
    })?;
    let read = read_source(&source).await;
    let _ = source.close().await;
    let source = read?;

    // Tiers by name: existing ones are reused, new ones get a placeholder
    // id (negative) until they are inserted.
    let mut tier_ids: HashMap<String, i32> = tier::Entity::find()
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|tier| (tier.name, tier.id))
        .collect();
    let new_tiers: Vec<&SourceTier> = source
        .tiers
        .iter()
        .filter(|tier| !tier_ids.contains_key(&tier.name))
        .collect();
    for (placeholder, tier) in (1..).map(|n: i32| -n).zip(&new_tiers) {
        tier_ids.insert(tier.name.clone(), placeholder);
    }
    let tier_names: HashMap<i32, String> = source
        .tiers
        .iter()
        .map(|tier| (tier.id, tier.name.clone()))
        .collect();

    let source_ids: HashMap<String, i32> = source
        .users
        .iter()
        .map(|(id, user)| (user.username.trim().to_lowercase(), *id))
        .collect();
    let read_rows = source.users.len();
    let incoming = source.users.into_iter().map(|(_, user)| user).collect();
    let existing = Existing::load(&ctx.db).await?;
    let plan = users::plan(incoming, &existing, &tier_ids, progress);

    let existing_rules = rate_limit::Entity::find().all(&ctx.db).await?;
    let (rules, mut refused) = new_rules(&source.rate_limits, &tier_names, &existing_rules);
    refused.extend(plan.refused);

    let imported_authors: HashSet<i32> = plan
        .accepted
        .iter()
        .filter_map(|accepted| source_ids.get(&accepted.username).copied())
        .collect();
    let posts: Vec<&SourcePost> = source
        .posts
        .iter()
        .filter(|post| imported_authors.contains(&post.author))
        .collect();
    let mut report = Report {
        read: read_rows,
        imported: plan.accepted.len(),
        already_present: plan.already_present,
        refused,
        tiers: new_tiers.len(),
        rate_limits: rules.len(),
        posts: posts.len(),
        written: false,
    };
    if options.dry_run
        || (!report.refused.is_empty() && !options.skip_invalid)
        || report.nothing_to_do()
    {
        return Ok(report);
    }

    let write = Write::begin(ctx, actor).await?;
    let db = write.db();
    let mut placeholders = HashMap::new();
    for tier in &new_tiers {
        let created = tier::ActiveModel {
            name: Set(tier.name.clone()),
            created_at: Set(tier.created_at),
            ..Default::default()
        }
        .insert(db)
        .await?;
        placeholders.insert(tier_ids[&tier.name], created.id);
        tier_ids.insert(tier.name.clone(), created.id);
    }
    for rule in rules {
        let tier_id = tier_ids[&tier_names[&rule.tier_id]];
        rate_limit::ActiveModel {
            tier_id: Set(tier_id),
            name: Set(rule.name.clone()),
            path: Set(rule.path.clone()),
            limit: Set(rule.limit),
            period: Set(rule.period),
            created_at: Set(rule.created_at),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    let accepted = plan
        .accepted
        .into_iter()
        .map(|mut accepted| {
            if let Set(Some(id)) = accepted.row.tier_id
                && let Some(real) = placeholders.get(&id)
            {
                accepted.row.tier_id = Set(Some(*real));
            }
            accepted
        })
        .collect();
    let new_ids = users::insert(db, accepted, !posts.is_empty(), progress).await?;
    let author_ids: HashMap<i32, i32> = source_ids
        .iter()
        .filter_map(|(username, source)| Some((*source, *new_ids.get(username)?)))
        .collect();
    insert_posts(db, &posts, &author_ids).await?;
    write.commit().await?;
    report.written = true;
    Ok(report)
}

/// The source's rules that are not here yet (by name), refusing those that
/// would give one tier two rules for a path.
fn new_rules<'a>(
    rules: &'a [SourceRule],
    tier_names: &HashMap<i32, String>,
    existing: &[rate_limit::Model],
) -> (Vec<&'a SourceRule>, Vec<Refusal>) {
    let names: HashSet<&str> = existing.iter().map(|rule| rule.name.as_str()).collect();
    let mut taken: HashSet<(String, String)> = HashSet::new();
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for rule in rules {
        if names.contains(rule.name.as_str()) {
            continue;
        }
        let place = format!("rate_limit `{}`", rule.name);
        let Some(tier) = tier_names.get(&rule.tier_id) else {
            refused.push(Refusal {
                place,
                reason: "its tier does not exist".to_owned(),
            });
            continue;
        };
        if rule.limit <= 0 || rule.period <= 0 {
            refused.push(Refusal {
                place,
                reason: "limit and period must be positive".to_owned(),
            });
            continue;
        }
        if !taken.insert((tier.clone(), rule.path.clone())) {
            refused.push(Refusal {
                place,
                reason: format!("tier `{tier}` already has a rule for `{}`", rule.path),
            });
            continue;
        }
        accepted.push(rule);
    }
    (accepted, refused)
}

async fn insert_posts(
    db: &impl ConnectionTrait,
    posts: &[&SourcePost],
    author_ids: &HashMap<i32, i32>,
) -> AppResult<()> {
    let rows: Vec<post::ActiveModel> = posts
        .iter()
        .filter_map(|post| {
            Some(post::ActiveModel {
                created_by_user_id: Set(*author_ids.get(&post.author)?),
                title: Set(post.title.clone()),
                text: Set(post.text.clone()),
                media_url: Set(post.media_url.clone()),
                created_at: Set(post.created_at),
                updated_at: Set(post.updated_at.unwrap_or(post.created_at)),
                is_deleted: Set(post.is_deleted),
                deleted_at: Set(post.deleted_at),
                ..Default::default()
            })
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<post::ActiveModel> = rows.by_ref().take(BATCH_ROWS).collect();
        post::Entity::insert_many(batch)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

async fn query(db: &DatabaseConnection, sql: &str) -> AppResult<Vec<QueryResult>> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .map_err(|error| {
            AppError::Config(format!(
                "cannot read the FastAPI-boilerplate database ({sql}): {error}"
            ))
        })
}

fn column<T: sea_orm::TryGetable>(row: &QueryResult, name: &str) -> AppResult<T> {
    row.try_get("", name).map_err(|error| {
        AppError::Config(format!(
            "unexpected FastAPI-boilerplate column `{name}`: {error}"
        ))
    })
}

async fn read_source(db: &DatabaseConnection) -> AppResult<Source> {
    let mut tiers = Vec::new();
    for row in query(db, "SELECT id, name, created_at FROM tier ORDER BY id").await? {
        tiers.push(SourceTier {
            id: column(&row, "id")?,
            name: column(&row, "name")?,
            created_at: column(&row, "created_at")?,
        });
    }
    let mut rate_limits = Vec::new();
    let sql =
        r#"SELECT tier_id, name, path, "limit", period, created_at FROM rate_limit ORDER BY id"#;
    for row in query(db, sql).await? {
        rate_limits.push(SourceRule {
            tier_id: column(&row, "tier_id")?,
            name: column(&row, "name")?,
            path: column(&row, "path")?,
            limit: column(&row, "limit")?,
            period: column(&row, "period")?,
            created_at: column(&row, "created_at")?,
        });
    }
    let tier_names: HashMap<i32, String> = tiers
        .iter()
        .map(|tier| (tier.id, tier.name.clone()))
        .collect();
    let mut users = Vec::new();
    // `user` is a reserved word in PostgreSQL.
    let sql = r#"SELECT id, name, username, email, hashed_password, profile_image_url, uuid,
        created_at, updated_at, deleted_at, is_deleted, is_superuser, tier_id
        FROM "user" ORDER BY id"#;
    for row in query(db, sql).await? {
        let id: i32 = column(&row, "id")?;
        let tier_id: Option<i32> = column(&row, "tier_id")?;
        let uuid: Uuid = column(&row, "uuid")?;
        users.push((
            id,
            IncomingUser {
                place: format!("user {id}"),
                uuid: Some(uuid),
                name: column(&row, "name")?,
                username: column(&row, "username")?,
                email: column(&row, "email")?,
                password_hash: column(&row, "hashed_password")?,
                profile_image_url: Some(column(&row, "profile_image_url")?),
                created_at: column(&row, "created_at")?,
                updated_at: column(&row, "updated_at")?,
                is_superuser: column(&row, "is_superuser")?,
                tier: tier_id.and_then(|id| tier_names.get(&id).cloned()),
                email_verified: false,
                is_deleted: column(&row, "is_deleted")?,
                deleted_at: column(&row, "deleted_at")?,
            },
        ));
    }
    let mut posts = Vec::new();
    let sql = "SELECT created_by_user_id, title, text, media_url, created_at, updated_at,
        deleted_at, is_deleted FROM post ORDER BY id";
    for row in query(db, sql).await? {
        posts.push(SourcePost {
            author: column(&row, "created_by_user_id")?,
            title: column(&row, "title")?,
            text: column(&row, "text")?,
            media_url: column(&row, "media_url")?,
            created_at: column(&row, "created_at")?,
            updated_at: column(&row, "updated_at")?,
            is_deleted: column(&row, "is_deleted")?,
            deleted_at: column(&row, "deleted_at")?,
        });
    }
    Ok(Source {
        tiers,
        rate_limits,
        users,
        posts,
    })
}
