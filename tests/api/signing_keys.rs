//! Tokens any backend can verify (issue 12): the published keys, discovery,
//! rotation across instances, and every header trick that must be refused.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use usergraph::config::SigningAlgorithm;
use usergraph::entities::signing_key;

use crate::common::{Backend, ME, PASSWORD, Reply, TEST_SECRET, TestApp};
use crate::fixtures::superuser;
use crate::on_both_backends;

on_both_backends!(
    the_jwks_and_discovery_publish_the_active_key,
    a_token_verifies_with_the_published_key_alone,
    rotation_keeps_old_tokens_and_reaches_every_instance,
    header_tricks_and_wrong_claims_are_refused,
    forged_kids_do_not_reach_the_database_on_every_request,
);

const ROTATE: &str = "mutation { rotateSigningKey { kid algorithm createdAt state } }";

async fn get(app: &TestApp, path: &str) -> Reply {
    app.send(Request::get(path).body(Body::empty()).unwrap())
        .await
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn kid_of(token: &str) -> String {
    header_of(token)["kid"].as_str().unwrap().to_owned()
}

/// Decode `token` as another backend would: with a key built from the
/// JWKS's own members, and the issuer and audience it expects.
fn verify_independently(jwks: &Value, token: &str, issuer: &str) -> Result<Value, String> {
    let kid = kid_of(token);
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|jwk| jwk["kid"] == kid.as_str())
        .ok_or("kid not published")?;
    let member = |name: &str| jwk[name].as_str().unwrap().to_owned();
    let (key, algorithm) = match jwk["kty"].as_str() {
        Some("OKP") => (
            DecodingKey::from_ed_components(&member("x")).unwrap(),
            Algorithm::EdDSA,
        ),
        Some("EC") => (
            DecodingKey::from_ec_components(&member("x"), &member("y")).unwrap(),
            Algorithm::ES256,
        ),
        other => return Err(format!("unexpected kty {other:?}")),
    };
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&["usergraph"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|error| error.to_string())
}

/// The active key's private half, read from the database the way an
/// attacker with a copy of it would (or a test forging claims).
async fn stored_active_key(app: &TestApp) -> signing_key::Model {
    signing_key::Entity::find()
        .filter(signing_key::Column::State.eq(signing_key::ACTIVE))
        .one(&app.app.db)
        .await
        .unwrap()
        .expect("an active key")
}

async fn sign_with_stored_key(app: &TestApp, claims: &Value) -> String {
    let key = stored_active_key(app).await;
    let (algorithm, encoding) = match key.algorithm.as_str() {
        "EdDSA" => (
            Algorithm::EdDSA,
            EncodingKey::from_ed_der(&key.private_key.0),
        ),
        "ES256" => (
            Algorithm::ES256,
            EncodingKey::from_ec_der(&key.private_key.0),
        ),
        other => panic!("unexpected algorithm {other}"),
    };
    let mut header = Header::new(algorithm);
    header.kid = Some(key.kid);
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

async fn the_jwks_and_discovery_publish_the_active_key(app: TestApp) {
    let jwks = get(&app, "/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    let cache = jwks.headers["cache-control"].to_str().unwrap();
    assert!(cache.starts_with("public, max-age="), "{cache}");
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{}", jwks.text);
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(
        URL_SAFE_NO_PAD
            .decode(key["x"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    assert!(key.get("d").is_none(), "never the private key: {key}");
    assert_eq!(key["kid"], stored_active_key(&app).await.kid.as_str());

    let discovery = get(&app, "/.well-known/openid-configuration").await;
    assert_eq!(discovery.status, 200);
    assert!(
        discovery.headers["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public")
    );
    let issuer = app.app.config.jwt_issuer();
    assert_eq!(discovery.body["issuer"], issuer.as_str());
    assert_eq!(
        discovery.body["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.app.config.public_url())
    );
    assert_eq!(
        discovery.body["id_token_signing_alg_values_supported"],
        json!(["EdDSA"])
    );

    // The private key is nowhere in what is served.
    let private = URL_SAFE_NO_PAD.encode(&stored_active_key(&app).await.private_key.0);
    assert!(!jwks.text.contains(&private[20..40]));
}

async fn a_token_verifies_with_the_published_key_alone(app: TestApp) {
    let registered = app.register("ada").await;
    let (access, _) = app.signed_up_again("ada").await;
    let header = header_of(&access);
    assert_eq!(header["alg"], "EdDSA");
    let jwks = get(&app, "/.well-known/jwks.json").await.body;
    let issuer = app.app.config.jwt_issuer();
    let claims = verify_independently(&jwks, &access, &issuer).expect("verifies");
    assert_eq!(claims["sub"], registered["uuid"]);
    assert_eq!(claims["aud"], "usergraph");
    assert_eq!(claims["iss"], issuer.as_str());

    // Tampering with one claim breaks the signature for anybody.
    let mut parts: Vec<String> = access.split('.').map(str::to_owned).collect();
    let mut tampered_claims = claims_of(&access);
    tampered_claims["sub"] = json!(uuid::Uuid::new_v4());
    parts[1] = URL_SAFE_NO_PAD.encode(tampered_claims.to_string());
    let tampered = parts.join(".");
    assert!(verify_independently(&jwks, &tampered, &issuer).is_err());
    assert_eq!(
        app.gql_as(&tampered, ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED"),
        "Invalid or expired token"
    );
}

async fn rotation_keeps_old_tokens_and_reaches_every_instance(first: TestApp) {
    let second = first.another_instance(|_| {}).await;
    let admin = superuser(&first, "root").await;
    first.register("bob").await;
    let (old_token, _) = first.signed_up_again("bob").await;
    let old_kid = kid_of(&old_token);

    // Only superusers rotate.
    first
        .gql_as(&old_token, ROTATE, json!({}))
        .await
        .expect_code("FORBIDDEN");
    let rotated = first.gql_as(&admin, ROTATE, json!({})).await;
    let key = rotated.data("rotateSigningKey").clone();
    let new_kid = key["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(key["state"], "ACTIVE");
    assert_eq!(key["algorithm"], "EdDSA");

    // New tokens on this instance use the new key at once; old ones live on.
    let (new_token, _) = first.signed_up_again("bob").await;
    assert_eq!(kid_of(&new_token), new_kid);
    for app in [&first, &second] {
        let me = app.gql_as(&old_token, ME, json!({})).await;
        assert_eq!(me.data("me")["username"], "bob");
    }
    // Both keys are published while tokens of the old one may be alive.
    let jwks = get(&first, "/.well-known/jwks.json").await.body;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));
    let issuer = first.app.config.jwt_issuer();
    verify_independently(&jwks, &old_token, &issuer).expect("old token verifies");
    verify_independently(&jwks, &new_token, &issuer).expect("new token verifies");

    // The other instance verifies the new key's tokens within seconds, and
    // signs with it too.
    // Bound: an unknown kid wakes the reload at once (at most once a
    // second); the periodic reload (every 5 s) is the fallback.
    let took = second
        .until(Duration::from_secs(6), &new_token, ME, |reply| {
            reply.errors() == Value::Null
        })
        .await;
    eprintln!("the other instance verified the new key after {took:?}");
    let started = Instant::now();
    loop {
        let (token, _) = second.signed_up_again("bob").await;
        if kid_of(&token) == new_kid {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still signing with the old key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The command line lists what the mutation made.
    let listed = usergraph::services::keys::list(&second.app).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].kid, new_kid);
    assert_eq!(listed[0].state, signing_key::ACTIVE);
    assert_eq!(listed[1].state, signing_key::RETIRED);
}

async fn header_tricks_and_wrong_claims_are_refused(app: TestApp) {
    app.register("eve").await;
    let (access, refresh) = app.signed_up_again("eve").await;
    let claims = claims_of(&access);
    let kid = kid_of(&access);
    let jwks = get(&app, "/.well-known/jwks.json").await.body;
    let published = &jwks["keys"][0];
    let public_bytes = URL_SAFE_NO_PAD
        .decode(published["x"].as_str().unwrap())
        .unwrap();
    let encode = |header: &Header, claims: &Value, key: &EncodingKey| {
        jsonwebtoken::encode(header, claims, key).unwrap()
    };
    let with_kid = |algorithm: Algorithm, kid: &str| {
        let mut header = Header::new(algorithm);
        header.kid = Some(kid.to_owned());
        header
    };
    // An attacker's own Ed25519 key.
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let attacker_der = {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        attacker.to_pkcs8_der().unwrap().as_bytes().to_vec()
    };
    let attacker_key = EncodingKey::from_ed_der(&attacker_der);
    let attacker_x = URL_SAFE_NO_PAD.encode(attacker.verifying_key().to_bytes());
    let attacker_jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(json!({
        "kty": "OKP", "crv": "Ed25519", "x": attacker_x, "kid": kid,
    }))
    .unwrap();

    let mut refused: Vec<(&str, String)> = Vec::new();
    // `alg: none`, no signature, naming the real key.
    let none_header = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "kid": kid }).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    refused.push(("alg none", format!("{none_header}.{payload}.")));
    // Algorithm confusion: HS256 keyed with the published public key.
    refused.push((
        "HS256 keyed with the public key bytes",
        encode(
            &with_kid(Algorithm::HS256, &kid),
            &claims,
            &EncodingKey::from_secret(&public_bytes),
        ),
    ));
    refused.push((
        "HS256 keyed with the published JWK text",
        encode(
            &with_kid(Algorithm::HS256, &kid),
            &claims,
            &EncodingKey::from_secret(published.to_string().as_bytes()),
        ),
    ));
    // A kid nobody published, and no kid at all.
    refused.push((
        "unknown kid",
        encode(
            &with_kid(Algorithm::EdDSA, "not-a-key-of-ours"),
            &claims,
            &attacker_key,
        ),
    ));
    refused.push((
        "no kid",
        encode(&Header::new(Algorithm::EdDSA), &claims, &attacker_key),
    ));
    // Headers pointing at the attacker's key (never fetched, never trusted).
    let mut jku = with_kid(Algorithm::EdDSA, &kid);
    jku.jku = Some("https://attacker.example/jwks.json".to_owned());
    refused.push(("jku", encode(&jku, &claims, &attacker_key)));
    let mut x5u = with_kid(Algorithm::EdDSA, &kid);
    x5u.x5u = Some("https://attacker.example/cert.pem".to_owned());
    refused.push(("x5u", encode(&x5u, &claims, &attacker_key)));
    let mut embedded = with_kid(Algorithm::EdDSA, &kid);
    embedded.jwk = Some(attacker_jwk);
    refused.push(("embedded jwk", encode(&embedded, &claims, &attacker_key)));
    // Correctly signed with the real key, but for another audience or issuer.
    let mut wrong_audience = claims.clone();
    wrong_audience["aud"] = json!("another-service");
    refused.push((
        "wrong aud",
        sign_with_stored_key(&app, &wrong_audience).await,
    ));
    let mut no_audience = claims.clone();
    no_audience.as_object_mut().unwrap().remove("aud");
    refused.push(("no aud", sign_with_stored_key(&app, &no_audience).await));
    let mut wrong_issuer = claims.clone();
    wrong_issuer["iss"] = json!("https://evil.example");
    refused.push(("wrong iss", sign_with_stored_key(&app, &wrong_issuer).await));
    // A refresh token is not an access token.
    refused.push(("refresh as access", refresh));

    for (what, token) in &refused {
        let reply = app.gql_as(token, ME, json!({})).await;
        assert_eq!(
            reply.code(),
            Some("UNAUTHENTICATED"),
            "{what} must be refused: {}",
            reply.text
        );
    }
    // The control: the same claims, signed by the real key, are accepted, so
    // each refusal above is about its one change.
    let genuine = sign_with_stored_key(&app, &claims).await;
    assert_eq!(
        app.gql_as(&genuine, ME, json!({})).await.data("me")["username"],
        "eve"
    );
}

async fn forged_kids_do_not_reach_the_database_on_every_request(app: TestApp) {
    app.register("fay").await;
    let (access, _) = app.signed_up_again("fay").await;
    let mut claims = claims_of(&access);
    claims["jti"] = json!(uuid::Uuid::new_v4());
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let der = {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        attacker.to_pkcs8_der().unwrap().as_bytes().to_vec()
    };
    let key = EncodingKey::from_ed_der(&der);
    let before = app.app.sql_statements.get();
    let started = Instant::now();
    for attempt in 0..50 {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(format!("forged-{attempt}"));
        let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
        app.gql_as(&token, ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    let statements = app.app.sql_statements.get() - before;
    // At most one reload a second (plus the regular one every few seconds).
    let seconds = started.elapsed().as_secs();
    assert!(
        statements <= 2 * (seconds + 2),
        "{statements} statements for 50 forged kids in {seconds} s"
    );
}

/// ES256: P-256 keys, published with both coordinates. No `JWT_SECRET`
/// is needed, on PostgreSQL either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn es256_keys_verify_with_the_published_coordinates() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = TestApp::start_with(backend, |config| {
            config.jwt_algorithm = SigningAlgorithm::ES256;
            config.jwt_secret = None;
        })
        .await
        else {
            continue;
        };
        app.register("gus").await;
        let (access, _) = app.signed_up_again("gus").await;
        assert_eq!(header_of(&access)["alg"], "ES256");
        let jwks = get(&app, "/.well-known/jwks.json").await.body;
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["alg"], "ES256");
        assert!(key["y"].is_string());
        verify_independently(&jwks, &access, &app.app.config.jwt_issuer()).expect("verifies");
        let discovery = get(&app, "/.well-known/openid-configuration").await;
        assert_eq!(
            discovery.body["id_token_signing_alg_values_supported"],
            json!(["ES256"])
        );
    }
}

/// Changing `JWT_ALGORITHM` starts a key of the new algorithm; the old key
/// keeps verifying what it signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_algorithm_starts_a_new_key() {
    let first = TestApp::start(Backend::Sqlite).await.unwrap();
    first.register("hal").await;
    let (eddsa_token, _) = first.signed_up_again("hal").await;
    let second = first
        .another_instance(|config| config.jwt_algorithm = SigningAlgorithm::ES256)
        .await;
    let (es256_token, _) = second.signed_up_again("hal").await;
    assert_eq!(header_of(&es256_token)["alg"], "ES256");
    assert_eq!(
        second.gql_as(&eddsa_token, ME, json!({})).await.data("me")["username"],
        "hal"
    );
}

/// HS256: the old mode, with `JWT_SECRET`; nothing is published and there
/// is no key to rotate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hs256_signs_with_the_secret_and_publishes_nothing() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.jwt_algorithm = SigningAlgorithm::HS256;
    })
    .await
    .unwrap();
    let admin = superuser(&app, "root").await;
    let header = header_of(&admin);
    assert_eq!(header["alg"], "HS256");
    let kid = header["kid"].as_str().unwrap();
    assert!(kid.starts_with("hs256-") && !TEST_SECRET.contains(&kid[6..]));

    let jwks = get(&app, "/.well-known/jwks.json").await;
    assert_eq!(jwks.body, json!({ "keys": [] }));
    // Forged with the secret, as a holder of JWT_SECRET could: accepted.
    let mut forged_header = Header::new(Algorithm::HS256);
    forged_header.kid = Some(kid.to_owned());
    let forged = jsonwebtoken::encode(
        &forged_header,
        &claims_of(&admin),
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.gql_as(&forged, ME, json!({})).await.data("me")["username"],
        "root"
    );
    app.gql_as(&admin, ROTATE, json!({}))
        .await
        .expect_code("BAD_USER_INPUT");
    assert_eq!(app.login("root", PASSWORD).await.errors(), Value::Null);
}

/// `PUBLIC_URL` names the issuer and the JWKS; `JWT_ISSUER` and
/// `JWT_AUDIENCE` go into every token, and an instance expecting other ones
/// refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_url_names_the_issuer_and_the_key_set() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.public_url = Some("https://auth.example.com".to_owned());
    })
    .await
    .unwrap();
    let discovery = get(&app, "/.well-known/openid-configuration").await.body;
    assert_eq!(discovery["issuer"], "https://auth.example.com");
    assert_eq!(
        discovery["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    app.register("ida").await;
    let (access, _) = app.signed_up_again("ida").await;
    assert_eq!(claims_of(&access)["iss"], "https://auth.example.com");

    // Same database and keys, another audience: the token is not for it.
    let elsewhere = app
        .another_instance(|config| {
            config.public_url = Some("https://auth.example.com".to_owned());
            config.jwt_audience = "billing".to_owned();
        })
        .await;
    elsewhere
        .gql_as(&access, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    let (billing, _) = elsewhere.signed_up_again("ida").await;
    assert_eq!(claims_of(&billing)["aud"], "billing");
    // Same keys, another issuer expected.
    let impostor = app
        .another_instance(|config| config.jwt_issuer = Some("https://other.example".to_owned()))
        .await;
    impostor
        .gql_as(&access, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}
