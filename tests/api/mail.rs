//! Email that arrives (issue 13): verification, password reset and email
//! change, delivered through the outbox to a real SMTP server on loopback
//! (`smtp_sink`) or to the file mailbox of the embedded default.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use usergraph::entities::{account_token, outbox_job};
use usergraph::services::outbox;

use crate::common::{Backend, PASSWORD, TestApp};
use crate::fixtures;
use crate::smtp_sink::{SmtpSink, closed_port, smtp_url};

const NEW_PASSWORD: &str = "N3w!passw0rd";
const ME: &str = "{ me { email emailVerified emailVerifiedAt } }";
const VERIFY: &str =
    "mutation($token: String!) { verifyEmail(token: $token) { username emailVerified } }";
const REQUEST_VERIFICATION: &str = "mutation { requestEmailVerification }";
const REQUEST_RESET: &str = "mutation($email: String!) { requestPasswordReset(email: $email) }";
const RESET: &str = "mutation($token: String!, $password: String!) { resetPassword(token: $token, newPassword: $password) }";
const CHANGE_EMAIL: &str = "mutation($email: String!, $password: String!) { changeEmail(newEmail: $email, currentPassword: $password) }";
const CONFIRM_CHANGE: &str =
    "mutation($token: String!) { confirmEmailChange(token: $token) { email emailVerified } }";

/// An app whose mail goes to a fresh SMTP sink.
async fn with_sink(backend: Backend) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::start_with(backend, |config| {
        config.mail.smtp_url = Some(url);
        config.mail.app_name = "Acme".to_owned();
        config.public_url = Some("https://id.acme.test".to_owned());
    })
    .await?;
    Some((app, sink))
}

fn address(username: &str) -> String {
    format!("{username}@example.com")
}

/// Wait until the outbox has nothing left to do.
async fn outbox_drained(app: &TestApp) {
    let started = Instant::now();
    while outbox::depth(&app.app.db).await.unwrap() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "outbox not drained"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn verification_flow(backend: Backend) {
    let Some((app, sink)) = with_sink(backend).await else {
        return;
    };
    let (token, _) = app.signed_up("ann").await;
    let mail = sink
        .one(&address("ann"), "Confirm your email address for Acme")
        .await;
    assert!(mail.text.contains("Hello User ann,"), "{}", mail.text);
    assert!(
        mail.link()
            .starts_with("https://id.acme.test/account/verify?token="),
        "{}",
        mail.link()
    );
    assert!(
        mail.html.contains(&mail.link()),
        "the HTML carries the link too"
    );

    let me = app.gql_as(&token, ME, json!({})).await;
    assert_eq!(me.data("me")["emailVerified"], false);
    assert_eq!(me.data("me")["emailVerifiedAt"], Value::Null);

    // A GET-free redemption: anyone holding the token (no login needed).
    let verified = app.gql(VERIFY, json!({ "token": mail.token() })).await;
    assert_eq!(
        verified.data("verifyEmail")["emailVerified"],
        true,
        "{}",
        verified.text
    );
    let me = app.gql_as(&token, ME, json!({})).await;
    assert_eq!(me.data("me")["emailVerified"], true);
    assert!(me.data("me")["emailVerifiedAt"].is_string());

    // Single use.
    let again = app.gql(VERIFY, json!({ "token": mail.token() })).await;
    assert_eq!(
        again.expect_code("BAD_USER_INPUT"),
        "Invalid or expired token"
    );

    // Verified already: `true`, and nothing queued.
    let requested = app.gql_as(&token, REQUEST_VERIFICATION, json!({})).await;
    assert_eq!(requested.data("requestEmailVerification"), true);
    assert_eq!(outbox::depth(&app.app.db).await.unwrap(), 0);
}

async fn a_new_link_replaces_the_old_and_links_expire(backend: Backend) {
    let Some((app, sink)) = with_sink(backend).await else {
        return;
    };
    let (token, _) = app.signed_up("bo").await;
    let first = sink.one(&address("bo"), "Confirm").await.token();
    let requested = app.gql_as(&token, REQUEST_VERIFICATION, json!({})).await;
    assert_eq!(requested.data("requestEmailVerification"), true);
    let both = sink.wait_for(&address("bo"), 2).await;
    let second = both[1].token();
    assert_ne!(first, second);

    let old = app.gql(VERIFY, json!({ "token": first })).await;
    assert_eq!(
        old.expect_code("BAD_USER_INPUT"),
        "Invalid or expired token"
    );

    // Expired: moved into the past in the database.
    account_token::Entity::update_many()
        .col_expr(
            account_token::Column::ExpiresAt,
            Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(&app.app.db)
        .await
        .unwrap();
    let expired = app.gql(VERIFY, json!({ "token": second })).await;
    assert_eq!(
        expired.expect_code("BAD_USER_INPUT"),
        "Invalid or expired token"
    );

    // Unknown and malformed tokens get the very same answer.
    for token in ["", "nonsense", &"A".repeat(43), &"é".repeat(43)] {
        let reply = app.gql(VERIFY, json!({ "token": token })).await;
        assert_eq!(
            reply.expect_code("BAD_USER_INPUT"),
            "Invalid or expired token"
        );
    }
    assert_eq!(
        account_token::Entity::find()
            .count(&app.app.db)
            .await
            .unwrap(),
        1,
        "only the latest token is stored"
    );
}

async fn password_reset_flow(backend: Backend) {
    let Some((app, sink)) = with_sink(backend).await else {
        return;
    };
    let (old_access, _) = app.signed_up("cy").await;
    let requested = app
        .gql(REQUEST_RESET, json!({ "email": "CY@example.com" }))
        .await;
    assert_eq!(
        requested.data("requestPasswordReset"),
        true,
        "{}",
        requested.text
    );
    let mail = sink.one(&address("cy"), "Reset your Acme password").await;
    assert!(
        mail.link()
            .starts_with("https://id.acme.test/account/reset?token=")
    );
    assert!(mail.text.contains("1 hour"), "{}", mail.text);
    let token = mail.token();

    // A password that breaks the rules leaves the token usable.
    let weak = app
        .gql(RESET, json!({ "token": token, "password": "short" }))
        .await;
    weak.expect_code("BAD_USER_INPUT");
    // The rules of every new password apply (issue 15): a common one is
    // refused even when it has every kind of character.
    let common = app
        .gql(RESET, json!({ "token": token, "password": "Sasha_007" }))
        .await;
    assert!(
        common.expect_code("BAD_USER_INPUT").contains("most common"),
        "{}",
        common.text
    );
    let reset = app
        .gql(RESET, json!({ "token": token, "password": NEW_PASSWORD }))
        .await;
    assert_eq!(reset.data("resetPassword"), true, "{}", reset.text);

    // Every session ended; the old password is gone, the new one works.
    let me = app.gql_as(&old_access, ME, json!({})).await;
    me.expect_code("UNAUTHENTICATED");
    app.login("cy", PASSWORD)
        .await
        .expect_code("UNAUTHENTICATED");
    let login = app.login("cy", NEW_PASSWORD).await;
    assert!(login.errors().is_null());
    assert_eq!(
        login.data("login")["user"]["emailVerified"],
        true,
        "the link proved the address"
    );
    sink.one(&address("cy"), "Your Acme password was changed")
        .await;

    let reused = app
        .gql(RESET, json!({ "token": token, "password": "An0ther!pass" }))
        .await;
    assert_eq!(
        reused.expect_code("BAD_USER_INPUT"),
        "Invalid or expired token"
    );

    // A reset link dies when the password changes another way.
    app.gql(REQUEST_RESET, json!({ "email": address("cy") }))
        .await;
    let second = sink.wait_for(&address("cy"), 4).await; // verify, reset, notice, reset
    let pending = second[3].token();
    let (access, _) = app.signed_up_again_with("cy", NEW_PASSWORD).await;
    let changed = app
        .gql_as(
            &access,
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": NEW_PASSWORD, "n": "Th1rd!password" }),
        )
        .await;
    assert_eq!(changed.data("changePassword"), true, "{}", changed.text);
    let stale = app
        .gql(
            RESET,
            json!({ "token": pending, "password": "F0urth!password" }),
        )
        .await;
    assert_eq!(
        stale.expect_code("BAD_USER_INPUT"),
        "Invalid or expired token"
    );
}

async fn racing_resets_let_exactly_one_win(backend: Backend) {
    let Some((app, sink)) = with_sink(backend).await else {
        return;
    };
    app.register("dee").await;
    app.gql(REQUEST_RESET, json!({ "email": address("dee") }))
        .await;
    let token = sink.one(&address("dee"), "Reset").await.token();
    let passwords = ["Fir5t!password", "Sec0nd!password"];
    let (first, second) = tokio::join!(
        app.gql(RESET, json!({ "token": token, "password": passwords[0] })),
        app.gql(RESET, json!({ "token": token, "password": passwords[1] })),
    );
    let won: Vec<bool> = [&first, &second]
        .iter()
        .map(|reply| reply.body["data"]["resetPassword"] == true)
        .collect();
    assert_eq!(
        won.iter().filter(|won| **won).count(),
        1,
        "{} / {}",
        first.text,
        second.text
    );
    let loser = if won[0] { &second } else { &first };
    assert_eq!(
        loser.expect_code("BAD_USER_INPUT"),
        "Invalid or expired token"
    );
    let winner = if won[0] { passwords[0] } else { passwords[1] };
    let other = if won[0] { passwords[1] } else { passwords[0] };
    assert!(app.login("dee", winner).await.errors().is_null());
    app.login("dee", other).await.expect_code("UNAUTHENTICATED");
}

async fn email_change_needs_the_new_address_to_confirm(backend: Backend) {
    let Some((app, sink)) = with_sink(backend).await else {
        return;
    };
    let (token, _) = app.signed_up("eve").await;
    let wrong = app
        .gql_as(
            &token,
            CHANGE_EMAIL,
            json!({ "email": "eve@new.example", "password": "Wr0ng!pass" }),
        )
        .await;
    assert_eq!(
        wrong.expect_code("BAD_USER_INPUT"),
        "Current password is incorrect"
    );
    let asked = app
        .gql_as(
            &token,
            CHANGE_EMAIL,
            json!({ "email": "Eve@New.example", "password": PASSWORD }),
        )
        .await;
    assert_eq!(asked.data("changeEmail"), true, "{}", asked.text);
    let confirmation = sink
        .one("eve@new.example", "Confirm your new email address")
        .await;
    let notice = sink
        .one(&address("eve"), "email address was requested")
        .await;
    assert!(notice.text.contains("eve@new.example"), "{}", notice.text);
    assert!(
        confirmation
            .link()
            .starts_with("https://id.acme.test/account/email?token=")
    );

    // Nothing changed yet.
    let me = app.gql_as(&token, ME, json!({})).await;
    assert_eq!(me.data("me")["email"], address("eve"));

    let confirmed = app
        .gql(CONFIRM_CHANGE, json!({ "token": confirmation.token() }))
        .await;
    assert_eq!(confirmed.errors(), Value::Null, "{}", confirmed.text);
    assert_eq!(confirmed.data("confirmEmailChange")["emailVerified"], true);
    assert!(
        app.login("eve@new.example", PASSWORD)
            .await
            .errors()
            .is_null()
    );
    app.login(&address("eve"), PASSWORD)
        .await
        .expect_code("UNAUTHENTICATED");

    // Another account takes the address between request and confirmation.
    let (token, _) = app.signed_up_again("eve").await;
    app.gql_as(
        &token,
        CHANGE_EMAIL,
        json!({ "email": "taken@example.com", "password": PASSWORD }),
    )
    .await;
    let late = sink
        .one("taken@example.com", "Confirm your new email")
        .await
        .token();
    let registered = app
        .gql(
            crate::common::REGISTER,
            json!({ "input": { "name": "Taker", "username": "taker", "email": "taken@example.com", "password": PASSWORD }}),
        )
        .await;
    assert_eq!(registered.errors(), Value::Null);
    let conflict = app.gql(CONFIRM_CHANGE, json!({ "token": late })).await;
    conflict.expect_code("CONFLICT");

    // An address that has an account gets no confirmation link, and the
    // answer does not say so.
    let taken = app
        .gql_as(
            &token,
            CHANGE_EMAIL,
            json!({ "email": "taken@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(taken.data("changeEmail"), true);
    outbox_drained(&app).await;
    assert_eq!(
        sink.to("taken@example.com").len(),
        2,
        "verification of taker, first confirmation only"
    );
}

async fn update_user_changes_an_address_only_for_superusers(backend: Backend) {
    let Some((app, sink)) = with_sink(backend).await else {
        return;
    };
    let (token, _) = app.signed_up("fay").await;
    let update = "mutation($u: String!, $e: String!) { updateUser(username: $u, input: { email: $e }) { email emailVerified } }";
    let refused = app
        .gql_as(
            &token,
            update,
            json!({ "u": "fay", "e": "fay@elsewhere.example" }),
        )
        .await;
    refused.expect_code("FORBIDDEN");

    let admin = fixtures::superuser(&app, "root").await;
    let changed = app
        .gql_as(
            &admin,
            update,
            json!({ "u": "fay", "e": "fay@elsewhere.example" }),
        )
        .await;
    assert_eq!(changed.errors(), Value::Null, "{}", changed.text);
    assert_eq!(changed.data("updateUser")["email"], "fay@elsewhere.example");
    assert_eq!(changed.data("updateUser")["emailVerified"], false);
    let link = sink
        .one("fay@elsewhere.example", "Confirm your email address")
        .await;
    let verified = app.gql(VERIFY, json!({ "token": link.token() })).await;
    assert_eq!(verified.data("verifyEmail")["emailVerified"], true);
}

async fn login_can_require_a_verified_address(_: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.mail.smtp_url = Some(url);
        config.mail.require_verification = true;
    })
    .await
    .unwrap();
    app.register("gus").await;
    let refused = app.login("gus", PASSWORD).await;
    assert_eq!(
        refused.expect_code("EMAIL_NOT_VERIFIED"),
        "Verify your email address before logging in"
    );
    assert!(refused.body["data"].is_null() || refused.body["data"]["login"].is_null());
    // A wrong password learns nothing about verification.
    app.login("gus", "Wr0ng!pass")
        .await
        .expect_code("UNAUTHENTICATED");
    let token = sink.one(&address("gus"), "Confirm").await.token();
    app.gql(VERIFY, json!({ "token": token })).await;
    assert!(app.login("gus", PASSWORD).await.errors().is_null());
}

async fn mail_requests_are_limited_per_address_and_per_client(_: Backend) {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.mail.address_rate_limit = 2;
        config.mail.client_rate_limit = 4;
    })
    .await
    .unwrap();
    for _ in 0..2 {
        let reply = app
            .gql_from(
                "203.0.113.5",
                None,
                REQUEST_RESET,
                json!({ "email": "x@example.com" }),
            )
            .await;
        assert_eq!(reply.data("requestPasswordReset"), true);
    }
    // The same address from elsewhere: its own budget is spent.
    let third = app
        .gql_from(
            "203.0.113.6",
            None,
            REQUEST_RESET,
            json!({ "email": "x@example.com" }),
        )
        .await;
    third.expect_code("RATE_LIMITED");
    // Walking addresses from one client hits the client's budget.
    for n in 0..2 {
        let reply = app
            .gql_from(
                "203.0.113.5",
                None,
                REQUEST_RESET,
                json!({ "email": format!("y{n}@example.com") }),
            )
            .await;
        assert_eq!(reply.data("requestPasswordReset"), true, "{}", reply.text);
    }
    let walked = app
        .gql_from(
            "203.0.113.5",
            None,
            REQUEST_RESET,
            json!({ "email": "z@example.com" }),
        )
        .await;
    walked.expect_code("RATE_LIMITED");
}

/// Known and unknown addresses: the same answer, the same statements on the
/// request path, and no mail to the unknown one. The timings are printed.
async fn reset_requests_do_not_tell_which_addresses_exist(_: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.mail.smtp_url = Some(url.clone());
        config.mail.address_rate_limit = 1000;
        config.mail.client_rate_limit = 1000;
    })
    .await
    .unwrap();
    app.register("hal").await;
    // An instance with no background work: its statement counter moves only
    // for the requests sent to it.
    let quiet = crate::common::QuietInstance::on(&app, |config| {
        config.mail.smtp_url = Some(url);
        config.mail.address_rate_limit = 1000;
        config.mail.client_rate_limit = 1000;
    })
    .await;
    let mut statements = Vec::new();
    let mut timings: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    for round in 0..40 {
        for (which, email) in [address("hal"), "nobody@example.com".to_owned()]
            .iter()
            .enumerate()
        {
            let before = quiet.statements();
            let started = Instant::now();
            let reply = quiet.gql(REQUEST_RESET, json!({ "email": email })).await;
            let took = started.elapsed();
            assert_eq!(reply["data"]["requestPasswordReset"], true, "{reply}");
            if round == 0 {
                statements.push(quiet.statements() - before);
            }
            if round >= 5 {
                timings[which].push(took);
            }
        }
    }
    assert_eq!(
        statements[0], statements[1],
        "known vs unknown: {statements:?}"
    );
    for timing in &mut timings {
        timing.sort();
    }
    eprintln!(
        "requestPasswordReset median: known {:?}, unknown {:?} (35 each, SQLite, debug build)",
        timings[0][timings[0].len() / 2],
        timings[1][timings[1].len() / 2]
    );
    outbox_drained(&app).await;
    assert!(sink.to("nobody@example.com").is_empty());
    assert_eq!(
        sink.to(&address("hal"))
            .iter()
            .filter(|mail| mail.subject.contains("Reset"))
            .count(),
        40,
        "one reset mail per request for the known address"
    );
}

/// Opening a mailed link (as a mail scanner does) shows a page and uses
/// nothing up; the page's button does.
async fn opening_a_link_uses_nothing_up(_: Backend) {
    let Some((app, sink)) = with_sink(Backend::Sqlite).await else {
        return;
    };
    app.register("lea").await;
    let mail = sink.one(&address("lea"), "Confirm").await;
    let path = mail.link().replace("https://id.acme.test", "");
    for _ in 0..3 {
        let page = app
            .send(
                axum::http::Request::get(path.as_str())
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(page.status, 200);
        assert!(page.text.contains("Confirm my address"), "{}", page.text);
        let policy = page.headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("script-src 'self'"), "{policy}");
    }
    for (path, expected) in [
        ("/account/reset", "New password"),
        ("/account/email", "Use this address"),
        ("/account/account.js", "verifyEmail"),
    ] {
        let page = app
            .send(
                axum::http::Request::get(path)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(page.status, 200, "{path}");
        assert!(page.text.contains(expected), "{path}");
    }
    let missing = app
        .send(
            axum::http::Request::get("/account/nothing")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(missing.status, 404);
    let verified = app.gql(VERIFY, json!({ "token": mail.token() })).await;
    assert_eq!(verified.data("verifyEmail")["emailVerified"], true);
}

/// A mail belongs to its change: a write that rolls back leaves no job, and
/// links point wherever `ACCOUNT_LINK_BASE` says.
async fn mail_follows_its_write_and_its_link_base(_: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.mail.smtp_url = Some(url);
        config.mail.account_link_base = Some("https://app.example/auth".to_owned());
    })
    .await
    .unwrap();
    let actor = usergraph::services::write::Actor::system();
    {
        let mut write = usergraph::services::write::Write::begin(&app.app, &actor)
            .await
            .unwrap();
        let mail = app.app.templates.render(
            usergraph::mail::Template::PasswordChanged,
            "rolled@example.com",
            &[("name", "Rolled Back")],
        );
        outbox::enqueue(&mut write, &outbox::Job::Mail(mail))
            .await
            .unwrap();
        // Dropped without commit: the change and its mail are gone.
    }
    assert_eq!(
        outbox_job::Entity::find().count(&app.app.db).await.unwrap(),
        0
    );

    app.register("mo").await;
    let mail = sink.one(&address("mo"), "Confirm").await;
    assert!(
        mail.link()
            .starts_with("https://app.example/auth/verify?token="),
        "{}",
        mail.link()
    );
    outbox_drained(&app).await;
    assert!(sink.to("rolled@example.com").is_empty());
}

/// The embedded default: no SMTP server, mail written as `.eml` files that
/// carry a working link.
async fn without_smtp_mail_lands_in_files(_: Backend) {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.register("ida").await;
    outbox_drained(&app).await;
    let files: Vec<_> = std::fs::read_dir(app.mail_dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|ext| ext == "eml"));
    let mail = crate::smtp_sink::parse(&std::fs::read(&files[0]).unwrap(), vec![]);
    assert!(mail.subject.starts_with("Confirm your email address"));
    let verified = app.gql(VERIFY, json!({ "token": mail.token() })).await;
    assert_eq!(verified.data("verifyEmail")["emailVerified"], true);
}

/// SMTP down while a mail waits: it is retried, and delivered once when the
/// server is back. After `MAIL_MAX_ATTEMPTS` a mail is marked failed.
async fn mail_waits_for_the_smtp_server(backend: Backend) {
    let port = closed_port();
    let Some(app) = TestApp::start_with(backend, |config| {
        config.mail.smtp_url = Some(smtp_url(port));
    })
    .await
    else {
        return;
    };
    app.register("jo").await;
    // Tried and failed at least twice.
    let started = Instant::now();
    loop {
        let job = outbox_job::Entity::find()
            .one(&app.app.db)
            .await
            .unwrap()
            .expect("queued");
        if job.attempts >= 2 {
            assert!(job.last_error.is_some());
            assert!(job.failed_at.is_none());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "not retried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sink = SmtpSink::start_on(port).await;
    sink.wait_for(&address("jo"), 1).await;
    outbox_drained(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.to(&address("jo")).len(), 1, "delivered once");
    assert_eq!(
        outbox_job::Entity::find().count(&app.app.db).await.unwrap(),
        0
    );
}

/// `/metrics` shows the outbox's backlog: a mail waiting for a server that
/// is down, then none once it is delivered.
async fn the_backlog_is_measured(_: Backend) {
    let port = closed_port();
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.mail.smtp_url = Some(smtp_url(port));
        config.metrics_enabled = true;
    })
    .await
    .unwrap();
    let gauge = |text: &str, name: &str| -> Option<i64> {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
    };
    let scrape = || async {
        app.send(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .text
    };
    app.register("nia").await;
    let started = Instant::now();
    let text = loop {
        let text = scrape().await;
        if gauge(&text, "usergraph_outbox_jobs") == Some(1) {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        gauge(&text, "usergraph_outbox_oldest_job_age_seconds").is_some(),
        "{text}"
    );
    let sink = SmtpSink::start_on(port).await;
    sink.wait_for(&address("nia"), 1).await;
    let started = Instant::now();
    while gauge(&scrape().await, "usergraph_outbox_jobs") != Some(0) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the gauge stays up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn mail_gives_up_after_its_attempts(_: Backend) {
    let port = closed_port();
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.mail.smtp_url = Some(smtp_url(port));
        config.mail.max_attempts = 2;
    })
    .await
    .unwrap();
    app.register("kim").await;
    let started = Instant::now();
    let failed = loop {
        let job = outbox_job::Entity::find()
            .one(&app.app.db)
            .await
            .unwrap()
            .expect("kept");
        if job.failed_at.is_some() {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "never gave up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(failed.attempts, 2);
    assert!(
        failed
            .last_error
            .unwrap()
            .contains(&format!("127.0.0.1:{port}"))
    );
    assert_eq!(outbox::depth(&app.app.db).await.unwrap(), 0);
}

/// Two instances on one PostgreSQL database, both running the outbox: every
/// mail is delivered exactly once.
async fn two_instances_deliver_each_mail_once(backend: Backend) {
    let Some((first, sink)) = with_sink(backend).await else {
        return;
    };
    let url = sink.url();
    let second = first
        .another_instance(|config| config.mail.smtp_url = Some(url))
        .await;
    let names: Vec<String> = (0..12).map(|n| format!("twin{n}")).collect();
    let mut registrations = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let app = if n % 2 == 0 { &first } else { &second };
        registrations.push(app.register(name));
    }
    futures::future::join_all(registrations).await;
    for name in &names {
        sink.wait_for(&address(name), 1).await;
    }
    outbox_drained(&first).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), names.len());
    assert_eq!(
        outbox_job::Entity::find()
            .filter(outbox_job::Column::FailedAt.is_not_null())
            .count(&first.app.db)
            .await
            .unwrap(),
        0
    );
}

/// The real binary, killed (SIGKILL) while a mail waits for the SMTP
/// server, then started again once the server is up: the mail goes out,
/// once.
async fn a_killed_server_sends_its_queued_mail_after_a_restart(_: Backend) {
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let start = || {
        let mut child = crate::cli::usergraph(dir.path())
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "usergraph=info")
            .env("SMTP_URL", smtp_url(port))
            .env("MAIL_RETRY_BASE", "200ms")
            .env("OUTBOX_POLL_INTERVAL", "100ms")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = std::io::BufReader::new(stderr).lines();
        let address = loop {
            let line = lines.next().expect("the server logs its address").unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep reading the log so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        (child, address)
    };
    let (mut first, address) = start();
    let body = json!({ "query": crate::common::REGISTER, "variables": { "input": {
        "name": "Max Mustermann", "username": "max", "email": "max@example.com", "password": PASSWORD } } })
    .to_string();
    let reply = crate::cli::http_request(
        &address,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(reply.contains("\"username\":\"max\""), "{reply}");
    // Let the worker fail once against the closed port, then kill it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.kill().unwrap();
    first.wait().unwrap();

    let sink = SmtpSink::start_on(port).await;
    assert!(sink.messages().is_empty());
    let (mut second, _) = start();
    let delivered = sink.wait_for("max@example.com", 1).await;
    assert!(
        delivered[0]
            .subject
            .starts_with("Confirm your email address")
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(sink.messages().len(), 1, "delivered once");
}

macro_rules! on_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_backends!(
    verification_flow,
    password_reset_flow,
    racing_resets_let_exactly_one_win,
    email_change_needs_the_new_address_to_confirm,
    mail_waits_for_the_smtp_server,
    two_instances_deliver_each_mail_once,
);

mod once {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn links_replace_and_expire() {
        a_new_link_replaces_the_old_and_links_expire(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn superusers_change_addresses_directly() {
        update_user_changes_an_address_only_for_superusers(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verification_can_be_required() {
        login_can_require_a_verified_address(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn requests_are_limited() {
        mail_requests_are_limited_per_address_and_per_client(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reset_requests_reveal_nothing() {
        reset_requests_do_not_tell_which_addresses_exist(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn account_pages() {
        opening_a_link_uses_nothing_up(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rollback_and_link_base() {
        mail_follows_its_write_and_its_link_base(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_mailbox() {
        without_smtp_mail_lands_in_files(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn killed_and_restarted() {
        a_killed_server_sends_its_queued_mail_after_a_restart(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn backlog_metrics() {
        the_backlog_is_measured(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn giving_up() {
        mail_gives_up_after_its_attempts(Backend::Sqlite).await;
    }
}
