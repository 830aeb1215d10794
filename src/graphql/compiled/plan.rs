//! Which documents have a plan, and what the plan holds.
//!
//! Only a narrow, common shape compiles: one query operation without
//! directives or fragments whose only root field is `user(username:)` or
//! `users(page:, itemsPerPage:, after:, first:)` (no `filter`), selecting
//! plain fields of `User` (and `tier { … }`, `postCount`) and of the page.
//! Everything else has no plan and runs through async-graphql, which
//! remains the reference: a plan only ever answers a document the schema
//! has already run without an error (see [`super::Compiled`]).

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Pos, Positioned};

pub use super::arguments::{Argument, Declared};
use super::arguments::{Arguments, Variables};

use crate::entities::user;
use crate::graphql::types::user::columns_read_by;
use crate::graphql::users::Wanted;
use crate::services::listing::Columns;

/// A compiled document.
#[derive(Debug)]
pub struct Plan {
    /// The operation's name, if it has one.
    pub operation: Option<Name>,
    /// The root field's response key and position (for errors).
    pub key: Name,
    pub pos: Pos,
    pub root: Root,
}

#[derive(Debug)]
pub enum Root {
    User {
        username: Argument,
        fields: Vec<Keyed<UserField>>,
        /// The columns of `user` the fields read, besides `id`.
        columns: Vec<user::Column>,
        wanted: Wanted,
    },
    Users {
        arguments: Box<PageArguments>,
        fields: Vec<Keyed<PageField>>,
        columns: Columns,
        wanted: Wanted,
        /// Whether the database writes the items' JSON (see `page_sql`).
        in_sql: bool,
    },
}

/// The arguments of `users` a plan covers.
#[derive(Debug)]
pub struct PageArguments {
    pub page: Argument,
    pub items_per_page: Argument,
    pub after: Argument,
    pub first: Argument,
}

/// A field under its response key.
#[derive(Debug)]
pub struct Keyed<F> {
    pub key: Name,
    pub field: F,
}

#[derive(Debug)]
pub enum UserField {
    Typename,
    Id,
    Uuid,
    Name,
    Username,
    Email,
    EmailVerified,
    EmailVerifiedAt,
    ProfileImageUrl,
    TierId,
    IsSuperuser,
    CreatedAt,
    UpdatedAt,
    IsDeleted,
    DeletedAt,
    PostCount,
    Tier(Vec<Keyed<TierField>>),
}

#[derive(Debug)]
pub enum TierField {
    Typename,
    Id,
    Name,
    CreatedAt,
}

#[derive(Debug)]
pub enum PageField {
    Typename,
    Items(Vec<Keyed<UserField>>),
    Page,
    ItemsPerPage,
    HasMore,
    EndCursor,
}

/// The plan of `document`, or `None` when it is not of the shape plans
/// cover.
#[must_use]
pub fn compile(document: &ExecutableDocument) -> Option<Plan> {
    if !document.fragments.is_empty() {
        return None;
    }
    let (operation, definition) = match &document.operations {
        DocumentOperations::Single(definition) => (None, &definition.node),
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            let (name, definition) = operations.iter().next()?;
            (Some(name.clone()), &definition.node)
        }
        DocumentOperations::Multiple(_) => return None,
    };
    if definition.ty != OperationType::Query || !definition.directives.is_empty() {
        return None;
    }
    let [selection] = definition.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(root) = &selection.node else {
        return None;
    };
    let variables = Variables::of(definition)?;
    let node = &root.node;
    plain(node)?;
    let arguments = Arguments::of(node, &variables)?;
    let root_plan = match node.name.node.as_str() {
        "user" => {
            let username = arguments.take("username", |declared| {
                matches!(declared, Declared::String { required: true })
            })?;
            if matches!(username, Argument::Absent) {
                return None;
            }
            let fields = user_fields(&node.selection_set.node)?;
            let wanted = Wanted {
                tier: fields.iter().any(|f| matches!(f.field, UserField::Tier(_))),
                post_count: fields
                    .iter()
                    .any(|f| matches!(f.field, UserField::PostCount)),
                posts: None,
            };
            let items: Vec<&Keyed<UserField>> = fields.iter().collect();
            let columns = columns_of(&items)?;
            Root::User {
                username,
                fields,
                columns,
                wanted,
            }
        }
        "users" => {
            let int = |declared: Declared| matches!(declared, Declared::Int { .. });
            let page = arguments.take("page", int)?;
            let items_per_page = arguments.take("itemsPerPage", int)?;
            let first = arguments.take("first", int)?;
            let after = arguments.take("after", |declared| {
                matches!(declared, Declared::String { .. })
            })?;
            let fields = page_fields(&node.selection_set.node)?;
            let items: Vec<&Keyed<UserField>> = fields
                .iter()
                .filter_map(|f| match &f.field {
                    PageField::Items(items) => Some(items.iter()),
                    _ => None,
                })
                .flatten()
                .collect();
            let wanted = Wanted {
                tier: items.iter().any(|f| matches!(f.field, UserField::Tier(_))),
                post_count: items
                    .iter()
                    .any(|f| matches!(f.field, UserField::PostCount)),
                posts: None,
            };
            let columns = Columns::Only(columns_of(&items)?);
            // The database writes the items when that saves the statements
            // of the tiers and post counts; for plain columns, reading rows
            // costs SQLite less than its JSON functions and sorting.
            let in_sql = (wanted.tier || wanted.post_count)
                && fields.iter().any(|f| match &f.field {
                    PageField::Items(items) => super::page_sql::covers(items),
                    _ => false,
                });
            Root::Users {
                arguments: Box::new(PageArguments {
                    page,
                    items_per_page,
                    after,
                    first,
                }),
                fields,
                columns,
                wanted,
                in_sql,
            }
        }
        _ => return None,
    };
    // Every argument given was taken, and every variable declared is used.
    if !arguments.all_taken() || !variables.all_used(&arguments) {
        return None;
    }
    Some(Plan {
        operation,
        key: root.node.response_key().node.clone(),
        pos: root.pos,
        root: root_plan,
    })
}

/// `Some(())` when `field` has no directives.
fn plain(field: &Field) -> Option<()> {
    field.directives.is_empty().then_some(())
}

/// The fields of `set`, each plain, under response keys that do not repeat
/// (repeated keys would need the spec's field merging).
fn fields_of(set: &SelectionSet) -> Option<Vec<&Positioned<Field>>> {
    let mut fields: Vec<&Positioned<Field>> = Vec::with_capacity(set.items.len());
    for selection in &set.items {
        let Selection::Field(field) = &selection.node else {
            return None;
        };
        plain(&field.node)?;
        let key = field.node.response_key().node.as_str();
        if fields
            .iter()
            .any(|seen| seen.node.response_key().node.as_str() == key)
        {
            return None;
        }
        fields.push(field);
    }
    (!fields.is_empty()).then_some(fields)
}

/// A leaf: no arguments and no selection set.
fn leaf(field: &Field) -> Option<()> {
    (field.arguments.is_empty() && field.selection_set.node.items.is_empty()).then_some(())
}

fn keyed<F>(field: &Field, plan: F) -> Keyed<F> {
    Keyed {
        key: field.response_key().node.clone(),
        field: plan,
    }
}

/// The plan of each field of `set`, by `plan`; `None` when one has none.
fn planned<F>(set: &SelectionSet, plan: impl Fn(&Field) -> Option<F>) -> Option<Vec<Keyed<F>>> {
    fields_of(set)?
        .into_iter()
        .map(|field| Some(keyed(&field.node, plan(&field.node)?)))
        .collect()
}

fn user_fields(set: &SelectionSet) -> Option<Vec<Keyed<UserField>>> {
    planned(set, |field| {
        if field.name.node.as_str() == "tier" && field.arguments.is_empty() {
            return Some(UserField::Tier(tier_fields(&field.selection_set.node)?));
        }
        leaf(field)?;
        Some(match field.name.node.as_str() {
            "__typename" => UserField::Typename,
            "id" => UserField::Id,
            "uuid" => UserField::Uuid,
            "name" => UserField::Name,
            "username" => UserField::Username,
            "email" => UserField::Email,
            "emailVerified" => UserField::EmailVerified,
            "emailVerifiedAt" => UserField::EmailVerifiedAt,
            "profileImageUrl" => UserField::ProfileImageUrl,
            "tierId" => UserField::TierId,
            "isSuperuser" => UserField::IsSuperuser,
            "createdAt" => UserField::CreatedAt,
            "updatedAt" => UserField::UpdatedAt,
            "isDeleted" => UserField::IsDeleted,
            "deletedAt" => UserField::DeletedAt,
            "postCount" => UserField::PostCount,
            _ => return None,
        })
    })
}

fn tier_fields(set: &SelectionSet) -> Option<Vec<Keyed<TierField>>> {
    planned(set, |field| {
        leaf(field)?;
        Some(match field.name.node.as_str() {
            "__typename" => TierField::Typename,
            "id" => TierField::Id,
            "name" => TierField::Name,
            "createdAt" => TierField::CreatedAt,
            _ => return None,
        })
    })
}

fn page_fields(set: &SelectionSet) -> Option<Vec<Keyed<PageField>>> {
    let fields = planned(set, |field| {
        if field.name.node.as_str() == "items" && field.arguments.is_empty() {
            return Some(PageField::Items(user_fields(&field.selection_set.node)?));
        }
        leaf(field)?;
        Some(match field.name.node.as_str() {
            "__typename" => PageField::Typename,
            "page" => PageField::Page,
            "itemsPerPage" => PageField::ItemsPerPage,
            "hasMore" => PageField::HasMore,
            "endCursor" => PageField::EndCursor,
            _ => return None,
        })
    })?;
    // One `items` at most: each would be read with its own columns.
    let items = fields
        .iter()
        .filter(|f| matches!(f.field, PageField::Items(_)))
        .count();
    (items <= 1).then_some(fields)
}

/// The columns the fields read (see `services::listing::Columns`).
fn columns_of(items: &[&Keyed<UserField>]) -> Option<Vec<user::Column>> {
    use sea_orm::IdenStatic;
    let mut read: Vec<user::Column> = Vec::new();
    for item in items {
        let name = match item.field {
            UserField::Typename => "__typename",
            UserField::Id => "id",
            UserField::Uuid => "uuid",
            UserField::Name => "name",
            UserField::Username => "username",
            UserField::Email => "email",
            UserField::EmailVerified => "emailVerified",
            UserField::EmailVerifiedAt => "emailVerifiedAt",
            UserField::ProfileImageUrl => "profileImageUrl",
            UserField::TierId => "tierId",
            UserField::IsSuperuser => "isSuperuser",
            UserField::CreatedAt => "createdAt",
            UserField::UpdatedAt => "updatedAt",
            UserField::IsDeleted => "isDeleted",
            UserField::DeletedAt => "deletedAt",
            UserField::PostCount => "postCount",
            UserField::Tier(_) => "tier",
        };
        for column in columns_read_by(name)? {
            if !read.iter().any(|c| c.as_str() == column.as_str()) {
                read.push(*column);
            }
        }
    }
    Some(read)
}
