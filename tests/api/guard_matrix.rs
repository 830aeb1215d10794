//! Who may call what: every guarded operation × every role, each cell on a
//! fresh database, asserting the exact outcome.

use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
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

async fn run_cell(backend: Backend, document: &str, role: Role) -> Option<Value> {
    let app = TestApp::start(backend).await?;
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
    let reply = match role {
        Role::Anonymous => app.gql(document, variables).await,
        Role::Other => app.gql_as(&other, document, variables).await,
        Role::Owner => app.gql_as(&owner, document, variables).await,
        Role::Superuser => app.gql_as(&admin, document, variables).await,
    };
    Some(json!({ "code": reply.code(), "text": reply.text }))
}

async fn run_matrix(backend: Backend) {
    let mut mismatches = Vec::new();
    for (document, expected) in MATRIX {
        for (role, expected) in ROLES.iter().zip(expected) {
            let Some(outcome) = run_cell(backend, document, *role).await else {
                return; // backend not configured
            };
            let code = outcome["code"].as_str();
            if code != *expected {
                mismatches.push(format!(
                    "{role:?} {document}: expected {expected:?}, got {}",
                    outcome["text"]
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_matrix_on_sqlite() {
    run_matrix(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_matrix_on_postgres() {
    run_matrix(Backend::Postgres).await;
}
