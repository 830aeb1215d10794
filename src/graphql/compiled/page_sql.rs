//! A page of users written as JSON by the database: one statement returns
//! the page's `items` as text, with the tier and the post count of each
//! user, instead of three statements whose every value the driver copies
//! and decodes (for a page of 100 the driver's work per row was most of
//! the request; docs/performance.md, issue 16).
//!
//! The statement: the page's ids (a CTE), their users with the tier joined
//! and, when asked, each one's live posts counted; each row's JSON object;
//! the objects joined in id order, with the row count (one extra row means
//! more follow) and the last id.
//!
//! Used on SQLite (see [`serves`]) when the page shows tiers or post
//! counts (it then saves two statements; for plain columns reading rows
//! costs SQLite less), and only for fields whose JSON both databases write
//! exactly as
//! async-graphql would: numbers, text (quoted by the database's own JSON
//! quoting), booleans and the tier. Timestamps and UUIDs, whose text forms
//! differ between the databases and chrono, stay on the row path
//! ([`covers`]). Response keys are GraphQL names (letters, digits and `_`),
//! checked again here, so they can sit in the statement's text; every
//! value from the request is a bound parameter.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr};

use super::plan::{Keyed, TierField, UserField};
use crate::auth::capability::EmailVisibility;
use crate::db::direct::{Arg, Via};
use crate::services::listing::PageRequest;
use crate::services::sql::parameter;
use crate::services::user_rows;

/// Whether pages are written by `backend`: SQLite only. On PostgreSQL
/// the statement was 5.6 times faster than three at 1,000 users but slower
/// at 100,000 (990/s against 1,109) and on deep pages (136/s against 222):
/// once PostgreSQL plans it generically, with the page size and offset
/// unknown, it expects a large page and scans `post` and `user` whole
/// (docs/performance.md). Until that is solved, PostgreSQL reads rows.
#[must_use]
pub fn serves(backend: DatabaseBackend) -> bool {
    matches!(backend, DatabaseBackend::Sqlite)
}

/// Whether the database can write every one of `fields`.
#[must_use]
pub fn covers(fields: &[Keyed<UserField>]) -> bool {
    fields.iter().all(|field| {
        plain_name(&field.key)
            && match &field.field {
                UserField::Tier(tier) => tier.iter().all(|field| {
                    plain_name(&field.key) && !matches!(field.field, TierField::CreatedAt)
                }),
                UserField::Uuid
                | UserField::EmailVerifiedAt
                | UserField::CreatedAt
                | UserField::UpdatedAt
                | UserField::DeletedAt => false,
                _ => true,
            }
    })
}

fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A page as the database wrote it.
pub struct WrittenPage {
    /// The items' JSON objects, comma-separated (empty for no items).
    pub items: String,
    /// Whether more users follow.
    pub has_more: bool,
    /// The id of the page's last user.
    pub last_id: Option<i32>,
}

/// The page `request` of live users, each written with `fields`, emails
/// shown as `emails` says.
pub async fn page<C: ConnectionTrait>(
    via: Via<'_, C>,
    fields: &[Keyed<UserField>],
    emails: EmailVisibility,
    request: PageRequest,
) -> Result<WrittenPage, DbErr> {
    if !covers(fields) {
        return Err(DbErr::Custom(
            "a field the database cannot write".to_owned(),
        ));
    }
    let mut sql = Sql::new(via.backend());
    let size = request.size();
    let aggregate = match sql.backend {
        DatabaseBackend::Postgres => "string_agg",
        _ => "group_concat",
    };
    // The page's ids first, then their users; post counts are counted for
    // the page's ids in one grouped pass (a count per row was a scan of
    // `post` per user where PostgreSQL judged the table too small for its
    // index).
    sql.text("WITH page AS (SELECT \"id\" FROM \"user\" WHERE \"is_deleted\" = false ");
    // One extra row tells whether there is a next page.
    let limit = i64::try_from(size.saturating_add(1)).unwrap_or(i64::MAX);
    match request {
        PageRequest::Number { page, per_page } => {
            sql.text("ORDER BY \"id\" ASC LIMIT ");
            sql.parameter(Arg::I64(limit));
            sql.text(" OFFSET ");
            let offset = (page - 1).saturating_mul(per_page);
            sql.parameter(Arg::I64(i64::try_from(offset).unwrap_or(i64::MAX)));
        }
        PageRequest::After { after, .. } => {
            sql.text("AND \"id\" > ");
            sql.parameter(Arg::I32(after));
            sql.text(" ORDER BY \"id\" ASC LIMIT ");
            sql.parameter(Arg::I64(limit));
        }
    }
    sql.text(&format!(
        ") SELECT {aggregate}(CASE WHEN keep = 1 THEN j END, ',' ORDER BY id), COUNT(*), \
         MAX(CASE WHEN keep = 1 THEN id END) FROM (SELECT u.id AS id, \
         CASE WHEN ROW_NUMBER() OVER (ORDER BY u.id) <= "
    ));
    sql.parameter(Arg::I64(i64::try_from(size).unwrap_or(i64::MAX)));
    sql.text(" THEN 1 ELSE 0 END AS keep, ");
    write_user(&mut sql, fields, emails);
    sql.text(
        " AS j FROM page JOIN \"user\" u ON u.id = page.id \
         LEFT JOIN \"tier\" t ON t.id = u.tier_id",
    );
    sql.text(") AS numbered");
    let via = match request {
        PageRequest::Number { page, per_page } => {
            user_rows::for_skipping(via, (page - 1).saturating_mul(per_page))
        }
        PageRequest::After { .. } => via,
    };
    let (items, rows, last_id) = via
        .fetch_optional(sql.text, &sql.args, |row| {
            Ok((
                row.get::<Option<String>>(0)?,
                row.get::<i64>(1)?,
                row.get::<Option<i32>>(2)?,
            ))
        })
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("an aggregate returned no row".to_owned()))?;
    Ok(WrittenPage {
        items: items.unwrap_or_default(),
        has_more: u64::try_from(rows).unwrap_or(0) > size,
        last_id,
    })
}

/// A statement being written, its parameters numbered in the order they
/// appear.
struct Sql {
    backend: DatabaseBackend,
    text: String,
    args: Vec<Arg<'static>>,
}

impl Sql {
    fn new(backend: DatabaseBackend) -> Self {
        Self {
            backend,
            text: String::with_capacity(1024),
            args: Vec::with_capacity(4),
        }
    }

    fn text(&mut self, text: &str) {
        self.text.push_str(text);
    }

    fn parameter(&mut self, arg: Arg<'static>) {
        self.args.push(arg);
        let placeholder = parameter(self.backend, self.args.len());
        self.text.push_str(&placeholder);
    }

    /// `column`'s text as a JSON string, `null` for NULL.
    fn quoted(&mut self, column: &str) {
        let quote = match self.backend {
            DatabaseBackend::Postgres => "to_json",
            _ => "json_quote",
        };
        let cast = match self.backend {
            DatabaseBackend::Postgres => "::text",
            _ => "",
        };
        self.text(&format!("COALESCE({quote}({column}){cast}, 'null')"));
    }

    /// `column` (a number) as JSON, `null` for NULL.
    fn number(&mut self, column: &str) {
        self.text(&format!("COALESCE(CAST({column} AS TEXT), 'null')"));
    }

    fn boolean(&mut self, condition: &str) {
        self.text(&format!(
            "CASE WHEN {condition} THEN 'true' ELSE 'false' END"
        ));
    }

    /// `'{"key":' || … || '}'` around one text per field.
    fn object<F>(&mut self, fields: &[Keyed<F>], mut value: impl FnMut(&mut Self, &F)) {
        for (index, field) in fields.iter().enumerate() {
            let open = if index == 0 { "{" } else { "," };
            self.text(&format!("'{open}\"{}\":' || ", field.key.as_str()));
            value(self, &field.field);
            self.text(" || ");
        }
        self.text("'}'");
    }
}

fn write_user(sql: &mut Sql, fields: &[Keyed<UserField>], emails: EmailVisibility) {
    sql.object(fields, |sql, field| match field {
        UserField::Typename => sql.text("'\"User\"'"),
        UserField::Id => sql.number("u.id"),
        UserField::Name => sql.quoted("u.name"),
        UserField::Username => sql.quoted("u.username"),
        UserField::ProfileImageUrl => sql.quoted("u.profile_image_url"),
        UserField::Email => match emails {
            EmailVisibility::Everyone => sql.quoted("u.email"),
            EmailVisibility::Own(id) => {
                sql.text("CASE WHEN u.id = ");
                sql.parameter(Arg::I32(id));
                sql.text(" THEN ");
                sql.quoted("u.email");
                sql.text(" ELSE 'null' END");
            }
            EmailVisibility::Nobody => sql.text("'null'"),
        },
        UserField::EmailVerified => sql.boolean("u.email_verified_at IS NOT NULL"),
        UserField::TierId => sql.number("u.tier_id"),
        UserField::IsSuperuser => sql.boolean("u.is_superuser"),
        UserField::IsDeleted => sql.boolean("u.is_deleted"),
        // A count per row, through the index on the author: on SQLite
        // (the only backend this serves) a grouped pass over the page's ids
        // ran the page's CTE a second time (users(100): 2.15M -> 2.54M
        // instructions per request). PostgreSQL, which scanned `post` per
        // row when it judged the table small, reads rows instead.
        UserField::PostCount => sql.number(
            "(SELECT COUNT(*) FROM \"post\" p WHERE p.created_by_user_id = u.id \
             AND p.is_deleted = false)",
        ),
        UserField::Tier(tier) => {
            sql.text("CASE WHEN t.id IS NULL THEN 'null' ELSE ");
            sql.object(tier, |sql, field| match field {
                TierField::Typename => sql.text("'\"Tier\"'"),
                TierField::Id => sql.number("t.id"),
                TierField::Name => sql.quoted("t.name"),
                // Not covered either.
                TierField::CreatedAt => sql.text("'null'"),
            });
            sql.text(" END");
        }
        // Not covered (see `covers`, which `page` checks first).
        UserField::Uuid
        | UserField::EmailVerifiedAt
        | UserField::CreatedAt
        | UserField::UpdatedAt
        | UserField::DeletedAt => sql.text("'null'"),
    });
}
