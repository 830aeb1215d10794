//! Seeding users, tiers and posts with a few set-based INSERTs that copy the
//! password hash, timestamps and image URL from one user registered through
//! the API, so every seeded user logs in with the same password and the
//! rows look exactly like ones SeaORM wrote.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

pub const TEMPLATE: &str = "u0";

/// Insert users `u{from}`..=`u{to}` (a third without tier, the rest on tier
/// 1 or 2) and a post for every third of them.
pub async fn users(db: &DatabaseConnection, from: u64, to: u64) -> Result<(), String> {
    if to < from {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let (series, uuid) = match backend {
        DbBackend::Postgres => (
            format!("generate_series({from}, {to}) AS seq(i)"),
            "gen_random_uuid()",
        ),
        _ => (
            format!(
                "(WITH RECURSIVE numbers(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM numbers WHERE i < {to}) SELECT i FROM numbers) AS seq"
            ),
            "randomblob(16)",
        ),
    };
    let users = format!(
        r#"INSERT INTO "user" (uuid, name, username, email, hashed_password, profile_image_url,
               is_superuser, tier_id, token_version, created_at, updated_at, is_deleted)
           SELECT {uuid}, 'User ' || seq.i, 'u' || seq.i, 'u' || seq.i || '@example.com',
               t.hashed_password, t.profile_image_url, false,
               CASE WHEN seq.i % 3 = 0 THEN NULL ELSE 1 + seq.i % 2 END,
               0, t.created_at, t.updated_at, false
           FROM {series}, (SELECT * FROM "user" WHERE username = '{TEMPLATE}') AS t"#
    );
    execute(db, &users).await?;
    let posts = format!(
        r#"INSERT INTO post (created_by_user_id, title, text, created_at, updated_at, is_deleted)
           SELECT id, 'Hello', 'A seeded post', created_at, updated_at, false
           FROM "user" WHERE id % 3 = 0 AND username <> '{TEMPLATE}' AND id > (SELECT COALESCE(MAX(created_by_user_id), 0) FROM post)"#
    );
    execute(db, &posts).await?;
    if backend == DbBackend::Postgres {
        // Vacuumed as autovacuum leaves a table in service, so index-only
        // scans (deep pages, see `ix_user_live_id`) see all-visible pages
        // rather than a table loaded a moment ago.
        execute(db, r#"VACUUM ANALYZE "user""#).await?;
        execute(db, "VACUUM ANALYZE post").await?;
    }
    Ok(())
}

/// The two tiers seeded users point at (ids 1 and 2).
pub async fn tiers(db: &DatabaseConnection) -> Result<(), String> {
    execute(
        db,
        r#"INSERT INTO tier (name, created_at)
           SELECT 'free', created_at FROM "user" WHERE username = 'u0'
           UNION ALL SELECT 'pro', created_at FROM "user" WHERE username = 'u0'"#,
    )
    .await
}

async fn execute(db: &DatabaseConnection, sql: &str) -> Result<(), String> {
    db.execute_unprepared(sql)
        .await
        .map(|_| ())
        .map_err(|error| format!("seeding: {error}"))
}
