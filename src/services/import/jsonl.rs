//! `usergraph import-users FILE`: one JSON object per line with `name`,
//! `username`, `email`, `password_hash`, and optionally `created_at`
//! (RFC 3339), `is_superuser`, `tier` (an existing tier's name) and
//! `email_verified`. Refused rows are reported by line number.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use sea_orm::EntityTrait;
use serde::Deserialize;

use super::users::{self, Existing, IncomingUser};
use super::{ImportOptions, Progress, Refusal, Report};
use crate::entities::tier;
use crate::error::{AppError, AppResult};
use crate::services::write::{Actor, Write};
use crate::state::AppContext;

#[derive(Deserialize)]
struct Line {
    name: String,
    username: String,
    email: String,
    password_hash: String,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    is_superuser: bool,
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    email_verified: bool,
}

/// Read `text` (the file's content): the users it describes, and the lines
/// that describe none.
#[must_use]
pub fn parse(text: &str) -> (Vec<IncomingUser>, Vec<Refusal>) {
    let now = Utc::now();
    let mut users = Vec::new();
    let mut refused = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let place = format!("line {}", number + 1);
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Line>(line) {
            Ok(line) => users.push(IncomingUser {
                place,
                uuid: None,
                name: line.name,
                username: line.username,
                email: line.email,
                password_hash: line.password_hash,
                profile_image_url: None,
                created_at: line.created_at.unwrap_or(now),
                updated_at: None,
                is_superuser: line.is_superuser,
                tier: line.tier,
                email_verified: line.email_verified,
                is_deleted: false,
                deleted_at: None,
            }),
            Err(error) => refused.push(Refusal {
                place,
                reason: format!("not a user record: {error}"),
            }),
        }
    }
    (users, refused)
}

/// Import the users of the JSON Lines file at `path` (see the module doc).
pub async fn import(
    ctx: &AppContext,
    actor: &Actor,
    path: &Path,
    options: ImportOptions,
    progress: &mut dyn FnMut(Progress),
) -> AppResult<Report> {
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|error| AppError::Config(format!("cannot read {}: {error}", path.display())))?;
    let (incoming, mut refused) = parse(&text);
    drop(text);
    let tiers: HashMap<String, i32> = tier::Entity::find()
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|tier| (tier.name, tier.id))
        .collect();
    let read = incoming.len() + refused.len();
    let existing = Existing::load(&ctx.db).await?;
    let plan = users::plan(incoming, &existing, &tiers, progress);
    refused.extend(plan.refused);
    refused.sort_by_key(|refusal| line_number(&refusal.place));
    let mut report = Report {
        read,
        imported: plan.accepted.len(),
        already_present: plan.already_present,
        refused,
        ..Report::default()
    };
    if options.dry_run
        || (!report.refused.is_empty() && !options.skip_invalid)
        || report.nothing_to_do()
    {
        return Ok(report);
    }
    let write = Write::begin(ctx, actor).await?;
    users::insert(write.db(), plan.accepted, false, progress).await?;
    write.commit().await?;
    report.written = true;
    Ok(report)
}

fn line_number(place: &str) -> usize {
    place
        .strip_prefix("line ")
        .and_then(|number| number.parse().ok())
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_that_are_not_users_are_refused_by_number() {
        let text = concat!(
            r#"{"name":"Ann Lee","username":"ann","email":"ann@example.com","password_hash":"$2b$04$x"}"#,
            "\n\n",
            "not json\n",
            r#"{"name":"Bo","username":"bo"}"#,
            "\n",
            r#"{"name":"Cy Young","username":"cy","email":"cy@example.com","password_hash":"h","created_at":"2024-05-01T10:00:00Z","is_superuser":true,"tier":"pro","email_verified":true}"#,
        );
        let (users, refused) = parse(text);
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].place, "line 5");
        assert!(users[1].is_superuser && users[1].email_verified);
        assert_eq!(users[1].tier.as_deref(), Some("pro"));
        assert_eq!(
            users[1].created_at.to_rfc3339(),
            "2024-05-01T10:00:00+00:00"
        );
        let places: Vec<&str> = refused.iter().map(|r| r.place.as_str()).collect();
        assert_eq!(places, ["line 3", "line 4"]);
        assert!(
            refused[1].reason.contains("missing field `email`"),
            "{refused:?}"
        );
    }
}
