//! Token forgery and identity: what a JWT must carry and what is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};
use usergraph::entities::user;

use crate::common::{ME, PASSWORD, TestApp};
use crate::on_sqlite;

on_sqlite!(
    tokens_name_the_uuid_and_their_kind,
    forged_and_expired_tokens_are_refused,
    renaming_keeps_the_session_and_a_new_owner_of_the_name_gets_nothing,
    two_logins_in_one_second_get_distinct_tokens,
);

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// HS256 with `secret`, naming the server's key: a forgery by somebody who
/// guessed a secret (and the algorithm the server does not use).
fn sign_hs256(claims: &Value, secret: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn kid_of(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn tokens_name_the_uuid_and_their_kind(app: TestApp) {
    let registered = app.register("kim").await;
    let (access, refresh) = app.signed_up_again("kim").await;
    let access_claims = claims_of(&access);
    assert_eq!(access_claims["sub"], registered["uuid"]);
    assert_eq!(access_claims["typ"], "access");
    assert_eq!(claims_of(&refresh)["typ"], "refresh");
    let lifetime = access_claims["exp"].as_i64().unwrap() - access_claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 30 * 60);
    assert!(access_claims["jti"].as_str().unwrap().len() == 36);
}

async fn forged_and_expired_tokens_are_refused(app: TestApp) {
    let (access, _) = app.signed_up("lee").await;
    let claims = claims_of(&access);

    // Re-signed with a secret, naming the real key.
    let resigned = sign_hs256(
        &claims,
        "another-secret-another-secret-another-secret",
        &kid_of(&access),
    );
    // `alg: none`, no signature.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let unsigned = format!("{header}.{payload}.");
    // Correctly signed but expired.
    let mut expired_claims = claims.clone();
    expired_claims["iat"] = json!(Utc::now().timestamp() - 7200);
    expired_claims["exp"] = json!(Utc::now().timestamp() - 3600);
    let expired = app.sign(&expired_claims);
    // Correctly signed, but claiming to be a different kind.
    let mut wrong_kind = claims.clone();
    wrong_kind["typ"] = json!("admin");
    let wrong_kind = app.sign(&wrong_kind);
    // Correctly signed, pointing at a user that does not exist.
    let mut stranger = claims.clone();
    stranger["sub"] = json!(uuid::Uuid::new_v4());
    let stranger = app.sign(&stranger);

    for token in [resigned, unsigned, expired, wrong_kind, stranger] {
        let reply = app.gql_as(&token, ME, json!({})).await;
        assert_eq!(
            reply.expect_code("UNAUTHENTICATED"),
            "Invalid or expired token",
            "{token}"
        );
    }
    // The genuine claims, re-signed with the real key, still work:
    // the refusals above are about the tampering, not the claims.
    let genuine = app.sign(&claims);
    assert_eq!(
        app.gql_as(&genuine, ME, json!({})).await.data("me")["username"],
        "lee"
    );
}

async fn renaming_keeps_the_session_and_a_new_owner_of_the_name_gets_nothing(app: TestApp) {
    let (token, _) = app.signed_up("mia").await;
    let row = user::Entity::find()
        .filter(user::Column::Username.eq("mia"))
        .one(&app.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut renamed = row.into_active_model();
    renamed.username = Set("mia2".to_owned());
    renamed.email = Set("mia2@example.com".to_owned());
    renamed.update(&app.app.db).await.unwrap();

    assert_eq!(
        app.gql_as(&token, ME, json!({})).await.data("me")["username"],
        "mia2"
    );

    // Someone registers the freed name: the old token still means the old user.
    let (newcomer_token, _) = app.signed_up("mia").await;
    let me = app.gql_as(&token, ME, json!({})).await;
    assert_eq!(me.data("me")["username"], "mia2");
    let newcomer = app.gql_as(&newcomer_token, ME, json!({})).await;
    assert_eq!(newcomer.data("me")["username"], "mia");
    assert_ne!(newcomer.data("me")["uuid"], me.data("me")["uuid"]);
}

async fn two_logins_in_one_second_get_distinct_tokens(app: TestApp) {
    app.register("ned").await;
    let first = app.login("ned", PASSWORD).await;
    let second = app.login("ned", PASSWORD).await;
    let (first, second) = (first.data("login"), second.data("login"));
    assert_ne!(first["accessToken"], second["accessToken"]);
    assert_ne!(first["refreshToken"], second["refreshToken"]);
    let (a, b) = (
        claims_of(first["accessToken"].as_str().unwrap()),
        claims_of(second["accessToken"].as_str().unwrap()),
    );
    assert_ne!(a["jti"], b["jti"]);
}
