//! Running a bound plan: count the root field, call the services the
//! resolvers call, and write the response's JSON directly, in the order and
//! the formats async-graphql would (`tests/api/compiled.rs` holds the two
//! to the same bytes).

use async_graphql::{ErrorExtensions, Response, ScalarType};
use serde::Serialize;

use super::bind::Bound;
use super::page_sql;
use super::plan::{Keyed, PageField, Plan, Root, TierField, UserField};
use crate::auth::Authentication;
use crate::entities::tier;
use crate::error::AppError;
use crate::graphql::guarded::at_field;
use crate::graphql::rate_limiting::Counting;
use crate::graphql::types::User;
use crate::graphql::users::{Wanted, encode_cursor, prefetch, user_filter};
use crate::services::listing::{self, PageRequest};
use crate::services::users;

/// Answer `plan` with `bound`'s arguments for `viewer`: the whole response
/// body (`{"data":{…}}`), or an error response as async-graphql would give
/// it.
pub async fn answer(
    plan: &Plan,
    bound: Bound,
    counting: &Counting<'_>,
    viewer: &Authentication,
) -> Result<Vec<u8>, Response> {
    let field = match plan.root {
        Root::User { .. } => "user",
        Root::Users { .. } => "users",
    };
    let decision = counting.count(field).await;
    if !decision.allowed {
        let error = at_field(decision.to_error().extend(), plan.key.as_str());
        return Err(Response::from_errors(vec![error]));
    }
    match run(plan, bound, counting, viewer).await {
        Ok(body) => Ok(body),
        Err(error) => {
            // As a resolver's error: at the root field, whose null makes
            // the whole `data` null.
            let mut error = error.extend().into_server_error(plan.pos);
            error.path = vec![async_graphql::PathSegment::Field(plan.key.to_string())];
            Err(Response::from_errors(vec![error]))
        }
    }
}

async fn run(
    plan: &Plan,
    bound: Bound,
    counting: &Counting<'_>,
    viewer: &Authentication,
) -> Result<Vec<u8>, AppError> {
    let app = counting.app();
    let mut out = Json::new();
    out.raw("{\"data\":{");
    out.key(plan.key.as_str());
    match (&plan.root, bound) {
        (
            Root::User {
                fields,
                columns,
                wanted,
                ..
            },
            Bound::User { username },
        ) => {
            let found = users::find_active_reading(app.reads(), &username, columns).await?;
            let user = with_relations(&app.db, found, viewer, wanted).await?;
            write_user(&mut out, &user, fields)?;
        }
        (
            Root::Users {
                fields,
                columns,
                wanted,
                in_sql,
                ..
            },
            Bound::Users { request, page },
        ) => {
            let may = crate::auth::Capabilities::of_request(viewer);
            let filter = user_filter(crate::graphql::users::UserFilterInput::default(), may)?;
            let item_fields = fields.iter().find_map(|f| match &f.field {
                PageField::Items(items) => Some(items.as_slice()),
                _ => None,
            });
            match item_fields {
                Some(item_fields)
                    if *in_sql
                        && filter.is_unfiltered()
                        && page_sql::serves(app.db.get_database_backend()) =>
                {
                    let written =
                        page_sql::page(app.reads(), item_fields, may.email_visibility(), request)
                            .await?;
                    let shown = Shown {
                        page,
                        request,
                        has_more: written.has_more,
                        end_cursor: written.last_id.map(encode_cursor),
                    };
                    write_page(&mut out, &Items::Written(&written.items), &shown, fields)?;
                }
                _ => {
                    let (rows, has_more) = listing::list(app, &filter, request, columns).await?;
                    let end_cursor = rows.last().map(|row| encode_cursor(row.id));
                    let items = prefetch(&app.db, rows, viewer, wanted).await?;
                    let shown = Shown {
                        page,
                        request,
                        has_more,
                        end_cursor,
                    };
                    write_page(&mut out, &Items::Users(&items), &shown, fields)?;
                }
            }
        }
        _ => return Err(AppError::internal("a plan was bound to another root")),
    }
    out.raw("}}");
    Ok(out.0)
}

/// `found` as `viewer` sees it, with the relations the fields show.
async fn with_relations(
    db: &sea_orm::DatabaseConnection,
    found: crate::entities::user::Model,
    viewer: &Authentication,
    wanted: &Wanted,
) -> Result<User, AppError> {
    if !wanted.tier && !wanted.post_count {
        return Ok(User::seen_by(found, viewer));
    }
    prefetch(db, vec![found], viewer, wanted)
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("the user vanished from their own page"))
}

/// The page's users: loaded rows, or their JSON objects as the database
/// wrote them (comma-separated).
enum Items<'a> {
    Users(&'a [User]),
    Written(&'a str),
}

/// The page's own fields.
struct Shown {
    page: i32,
    request: PageRequest,
    has_more: bool,
    end_cursor: Option<String>,
}

fn write_page(
    out: &mut Json,
    items: &Items<'_>,
    shown: &Shown,
    fields: &[Keyed<PageField>],
) -> Result<(), AppError> {
    out.object(fields, |out, field| {
        match field {
            PageField::Typename => out.value("UserPage"),
            PageField::Page => out.value(shown.page),
            PageField::ItemsPerPage => {
                out.value(i32::try_from(shown.request.size()).unwrap_or(i32::MAX));
            }
            PageField::HasMore => out.value(shown.has_more),
            PageField::EndCursor => out.optional_text(shown.end_cursor.as_deref()),
            PageField::Items(item_fields) => {
                out.raw("[");
                match items {
                    Items::Users(users) => {
                        for (index, item) in users.iter().enumerate() {
                            if index > 0 {
                                out.raw(",");
                            }
                            write_user(out, item, item_fields)?;
                        }
                    }
                    Items::Written(json) => out.raw(json),
                }
                out.raw("]");
            }
        }
        Ok(())
    })
}

fn write_user(out: &mut Json, user: &User, fields: &[Keyed<UserField>]) -> Result<(), AppError> {
    let model = user.model();
    out.object(fields, |out, field| {
        match field {
            UserField::Typename => out.value("User"),
            UserField::Id => out.value(model.id),
            UserField::Uuid => out.scalar(&model.uuid),
            UserField::Name => out.text(&model.name),
            UserField::Username => out.text(&model.username),
            UserField::Email => out.optional_text(user.shown_email()),
            UserField::EmailVerified => out.value(model.email_verified_at.is_some()),
            UserField::EmailVerifiedAt => out.optional_scalar(user.shown_email_verified_at()),
            UserField::ProfileImageUrl => out.text(&model.profile_image_url),
            UserField::TierId => out.value(model.tier_id),
            UserField::IsSuperuser => out.value(model.is_superuser),
            UserField::CreatedAt => out.scalar(&model.created_at),
            UserField::UpdatedAt => out.scalar(&model.updated_at),
            UserField::IsDeleted => out.value(model.is_deleted),
            UserField::DeletedAt => out.optional_scalar(model.deleted_at),
            UserField::PostCount => {
                let count = user
                    .prefetched()
                    .post_count
                    .ok_or_else(|| AppError::internal("post count not loaded"))?;
                out.value(i64::try_from(count).unwrap_or(i64::MAX));
            }
            UserField::Tier(tier_fields) => {
                let tier = user
                    .prefetched()
                    .tier
                    .as_ref()
                    .ok_or_else(|| AppError::internal("tier not loaded"))?;
                match tier {
                    Some(tier) => write_tier(out, tier, tier_fields)?,
                    None => out.raw("null"),
                }
            }
        }
        Ok(())
    })
}

fn write_tier(
    out: &mut Json,
    tier: &tier::Model,
    fields: &[Keyed<TierField>],
) -> Result<(), AppError> {
    out.object(fields, |out, field| {
        match field {
            TierField::Typename => out.value("Tier"),
            TierField::Id => out.value(tier.id),
            TierField::Name => out.text(&tier.name),
            TierField::CreatedAt => out.scalar(&tier.created_at),
        }
        Ok(())
    })
}

/// A response body being written. Values go through serde_json, as
/// async-graphql's response does, so strings are escaped alike.
struct Json(Vec<u8>);

impl Json {
    fn new() -> Self {
        Self(Vec::with_capacity(1024))
    }

    fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// `"key":`. Keys are GraphQL names (`[_A-Za-z][_0-9A-Za-z]*`, the
    /// parser saw to it), which JSON never escapes.
    fn key(&mut self, key: &str) {
        self.0.push(b'"');
        self.raw(key);
        self.raw("\":");
    }

    /// A string, escaped as serde_json escapes it: text with nothing to
    /// escape (the usual case) is copied as it is.
    fn text(&mut self, text: &str) {
        if text
            .bytes()
            .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\')
        {
            self.0.push(b'"');
            self.raw(text);
            self.0.push(b'"');
        } else {
            self.value(text);
        }
    }

    fn optional_text(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.text(text),
            None => self.raw("null"),
        }
    }

    /// `{"key":value,…}`, each value written by `value`.
    fn object<F>(
        &mut self,
        fields: &[Keyed<F>],
        mut value: impl FnMut(&mut Self, &F) -> Result<(), AppError>,
    ) -> Result<(), AppError> {
        self.raw("{");
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                self.raw(",");
            }
            self.key(field.key.as_str());
            value(self, &field.field)?;
        }
        self.raw("}");
        Ok(())
    }

    fn value<T: Serialize>(&mut self, value: T) {
        // Writing into a Vec fails only for values that cannot be JSON
        // (maps with non-string keys), which none of these are.
        if serde_json::to_writer(&mut self.0, &value).is_err() {
            self.raw("null");
        }
    }

    /// A custom scalar, in the form async-graphql gives it.
    fn scalar<T: ScalarType>(&mut self, value: &T) {
        self.value(value.to_value());
    }

    fn optional_scalar<T: ScalarType>(&mut self, value: Option<T>) {
        match value {
            Some(value) => self.scalar(&value),
            None => self.raw("null"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn text_is_written_as_serde_json_writes_it() {
        for text in [
            "",
            "plain",
            "Zoë 漢字 🙂",
            "quote \" and backslash \\",
            "new\nline\ttab\u{1}\u{1f}",
            "\u{7f}\u{200b}</script>",
        ] {
            let mut out = Json::new();
            out.text(text);
            let expected = serde_json::to_string(text).expect("a string serialises");
            assert_eq!(
                String::from_utf8(out.0).expect("UTF-8"),
                expected,
                "{text:?}"
            );
        }
    }
}
