//! Who may call what: every guarded operation × every role, each cell on a
//! fresh database, asserting the exact outcome: the refusal's code, or the
//! data of an allowed call.
//!
//! On SQLite only: guards decide in Rust before any SQL runs, and the SQL
//! behind each allowed field is proved on both backends by its own module.

use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::{Backend, Reply, TestApp};
use crate::fixtures::{post, superuser, tier};

#[derive(Debug, Clone, Copy)]
enum Role {
    Anonymous,
    Other,
    Owner,
    Superuser,
}

const ROLES: [Role; 4] = [Role::Anonymous, Role::Other, Role::Owner, Role::Superuser];

/// `None`: allowed. `Some(code)`: refused with that code.
type Outcome = Option<&'static str>;
const OK: Outcome = None;
const UNAUTH: Outcome = Some("UNAUTHENTICATED");
const FORBID: Outcome = Some("FORBIDDEN");

/// (document, expected outcome for anonymous, other, owner, superuser).
/// `$post` and `$tier` are filled with the target's post and a tier.
const MATRIX: &[(&str, [Outcome; 4])] = &[
    ("{ user(username: \"target\") { id } }", [OK, OK, OK, OK]),
    ("{ users { items { id } } }", [OK, OK, OK, OK]),
    (
        "{ userTier(username: \"target\") { tierName } }",
        [OK, OK, OK, OK],
    ),
    (
        "{ posts(username: \"target\") { totalCount } }",
        [OK, OK, OK, OK],
    ),
    (
        "{ users(filter: { includeDeleted: true }) { items { id } } }",
        [FORBID, FORBID, FORBID, OK],
    ),
    ("{ me { id } }", [UNAUTH, OK, OK, OK]),
    (
        "mutation { updateUser(username: \"target\", input: { name: \"New Name\" }) { id } }",
        [UNAUTH, FORBID, OK, OK],
    ),
    (
        "mutation { deleteUser(username: \"target\") }",
        [UNAUTH, FORBID, OK, OK],
    ),
    (
        "mutation($post: Int!) { updatePost(id: $post, input: { title: \"Edited\" }) { id } }",
        [UNAUTH, FORBID, OK, OK],
    ),
    (
        "mutation($post: Int!) { deletePost(id: $post) }",
        [UNAUTH, FORBID, OK, OK],
    ),
    (
        "mutation { createPost(input: { title: \"Mine\", text: \"Text\" }) { id } }",
        [UNAUTH, OK, OK, OK],
    ),
    (
        "mutation { changePassword(currentPassword: \"Str0ng!pass\", newPassword: \"N3w!password\") }",
        [UNAUTH, OK, OK, OK],
    ),
    (
        "mutation { restoreUser(username: \"target\") { id } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "mutation { deleteUserPermanently(username: \"target\") }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "mutation($tier: Int) { setTier(username: \"target\", tierId: $tier) { id } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "mutation { setSuperuser(username: \"target\", isSuperuser: true) { id } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "{ rateLimits(username: \"target\") { rateLimits { name } } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "{ userStats { activeUsers } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    ("{ tiers { name } }", [UNAUTH, FORBID, FORBID, OK]),
    (
        "{ tier(name: \"pro\") { name rateLimits { name } } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "mutation { createTier(name: \"gold\") { id } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "mutation { updateTier(name: \"pro\", newName: \"gold\") { id } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "mutation { deleteTier(name: \"pro\") }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
    (
        "mutation { createRateLimit(tierName: \"pro\", input: { path: \"login\", limit: 5, period: 60, name: \"r\" }) { id } }",
        [UNAUTH, FORBID, FORBID, OK],
    ),
];

async fn run_cell(document: &str, role: Role) -> Reply {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let (owner, _) = app.signed_up("target").await;
    let (other, _) = app.signed_up("other").await;
    let admin = superuser(&app, "admin").await;
    let post_id = post(&app, &owner, "Target's post").await;
    let tier_id = tier(&app, "pro").await;
    let variables = json!({ "post": post_id, "tier": tier_id });
    let variables = if document.contains("$post") || document.contains("$tier") {
        let mut used = serde_json::Map::new();
        for name in ["post", "tier"] {
            if document.contains(&format!("${name}")) {
                used.insert(name.to_owned(), variables[name].clone());
            }
        }
        Value::Object(used)
    } else {
        json!({})
    };
    match role {
        Role::Anonymous => app.gql(document, variables).await,
        Role::Other => app.gql_as(&other, document, variables).await,
        Role::Owner => app.gql_as(&owner, document, variables).await,
        Role::Superuser => app.gql_as(&admin, document, variables).await,
    }
}

/// The document's root field: the first name inside its selection set.
fn root_field(document: &str) -> &str {
    let selection = document[document.find('{').unwrap() + 1..].trim_start();
    let end = selection
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(selection.len());
    &selection[..end]
}

/// What is wrong with `reply` for a cell expected to end in `expected`, if
/// anything. An allowed call must have done its work: its root field holds
/// data, and a `Boolean!` field (the deletions, `changePassword`) is true.
fn mismatch(reply: &Reply, document: &str, expected: Outcome) -> Option<String> {
    if reply.code() != expected {
        return Some(format!("expected {expected:?}, got {}", reply.text));
    }
    if expected.is_none() {
        let data = &reply.body["data"][root_field(document)];
        if data.is_null() || *data == Value::Bool(false) {
            return Some(format!("allowed but no data: {}", reply.text));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_matrix() {
    let cells = MATRIX.iter().flat_map(|(document, expected)| {
        ROLES
            .iter()
            .zip(expected)
            .map(move |(role, expected)| (*document, *role, *expected))
    });
    // A few cells at a time: each is a fresh app, mostly waiting on SQLite.
    let mut mismatches: Vec<String> = futures::stream::iter(cells)
        .map(|(document, role, expected)| async move {
            let reply = run_cell(document, role).await;
            mismatch(&reply, document, expected)
                .map(|problem| format!("{role:?} {document}: {problem}"))
        })
        .buffer_unordered(4)
        .filter_map(|found| async move { found })
        .collect()
        .await;
    mismatches.sort();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
