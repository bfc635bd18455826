//! The identity provider's own tokens (RS/PS/ES, verified against its JWKS on a loopback
//! server), the user id claim, and secret rotation, through the handler against the local
//! DynamoDB server.

mod common;

use std::time::{Duration, Instant};

use common::idp::{hmac_token, JwksAnswer, JwksServer, SigningKey};
use common::*;
use flickr_job_status::app::App;
use flickr_job_status::auth::jwks::FIRST_RETRY_AFTER;
use flickr_job_status::auth::Refusal;
use flickr_job_status::store::DynamoStore;
use serde_json::{json, Value};

const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool";
const CLIENT_ID: &str = "4f0example0client0id0abc";
const USER_CLAIM: &str = "custom:flickr_user_id";
const JWKS_TIMEOUT_MS: u64 = 400;

/// The function as the template deploys it behind a Cognito user pool.
async fn cognito_app(jwks: &JwksServer, extra: &[(&str, &str)]) -> App<Counting<DynamoStore>> {
    let timeout = JWKS_TIMEOUT_MS.to_string();
    let mut settings = vec![
        ("JWT_JWKS_URL", jwks.url.as_str()),
        ("JWT_JWKS_TIMEOUT_MS", timeout.as_str()),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", CLIENT_ID),
        ("JWT_USER_CLAIM", USER_CLAIM),
    ];
    settings.extend_from_slice(extra);
    let app = app(&settings).await;
    app.prefetch_keys().await;
    app
}

/// A Cognito access token's claims (no `aud`: Cognito names the app client in `client_id`).
fn access_claims(user_id: &str) -> Value {
    let now = now_secs();
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "origin_jti": "0b0c0d0e",
        "event_id": "1a2b3c4d",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now - 10,
        "exp": now + 3600,
        "iat": now - 10,
        "jti": "5e6f7a8b",
        "username": "flickr-user",
        USER_CLAIM: user_id,
    })
}

/// A Cognito id token's claims.
fn id_claims(user_id: &str) -> Value {
    let now = now_secs();
    json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        "aud": CLIENT_ID,
        "iss": ISSUER,
        "token_use": "id",
        "auth_time": now - 10,
        "exp": now + 3600,
        "iat": now - 10,
        "cognito:username": "flickr-user",
        "email": "someone@example.com",
        USER_CLAIM: user_id,
    })
}

fn with(mut claims: Value, name: &str, value: Value) -> Value {
    claims[name] = value;
    claims
}

fn without(mut claims: Value, name: &str) -> Value {
    claims.as_object_mut().expect("claims object").remove(name);
    claims
}

/// One request to each of the four routes for `job_id`, as the caller with `token`.
fn get_job(token: &str) -> Value {
    http_event(
        "GET",
        &job_url(COMPLETED_JOB),
        &[("authorization", &format!("Bearer {token}"))],
        None,
    )
}

fn assert_refused(reply: &Reply, reason: Refusal, case: &str) {
    assert_eq!(reply.status, 401, "{case}: {reply:#?}");
    assert_eq!(reply.refusal, Some(reason.name()), "{case}");
    reply.assert_refused(reason);
}

/// Why each forged or stale provider token of `every_rule_of_the_provider_tokens_is_enforced`
/// is refused: each case must fail for its own reason, not for an earlier one.
fn reason_of(case: &str) -> Refusal {
    use Refusal::*;
    match case {
        // A truncated signature is base64 of an impossible length: unreadable, not merely wrong.
        "no exp" | "a truncated signature" => Malformed,
        // RS256 without a kid: no key can be named, so nothing after the header is read.
        "garbage" => UnknownKid,
        "alg none" => AlgorithmNotAllowed,
        "HS256 signed with the RSA public key (algorithm confusion)"
        | "HS256 signed with the JWK's modulus text"
        | "signed by another key with the same kid"
        | "RS256 header on an HMAC of the shared secret"
        | "a tampered payload" => BadSignature,
        "ES256 naming an RSA key"
        | "RS256 naming an EC key"
        | "ES384 on a P-256 key"
        | "a key that says RS384, a token that says RS256"
        | "ES512"
        | "EdDSA" => AlgorithmNotAllowed,
        "an encryption key" | "no kid" => UnknownKid,
        "wrong issuer" | "no issuer" => WrongIssuer,
        "wrong client_id" | "no client_id and no aud" | "wrong aud" => WrongAudience,
        "wrong token_use" | "no token_use" => WrongTokenUse,
        "expired beyond the leeway" => Expired,
        "not yet valid" => NotYetValid,
        "no user claim" | "a numeric user claim" | "an empty user claim" => UserClaim,
        other => panic!("no reason written down for {other}"),
    }
}

#[tokio::test]
async fn a_cognito_access_token_reads_the_owners_job_on_all_four_routes() {
    let key = SigningKey::rsa("cognito-key-1", "rsa-a");
    let jwks = JwksServer::with_keys(&[&key]).await;
    let app = cognito_app(&jwks, &[("JWT_TOKEN_USE", "access")]).await;
    let token = key.sign("RS256", &access_claims(OWNER));
    for (route, event) in four_routes(COMPLETED_JOB, OWNER, &token) {
        let reply = invoke(&app, &event).await;
        let expected = if route.starts_with("POST /jobs/{id}/share") {
            201
        } else {
            200
        };
        assert_eq!(reply.status, expected, "{route}: {reply:#?}");
    }
    assert_eq!(app.reads(), 4, "one read per request");

    // The same token shape, with another user's id in the user claim: the job is not theirs.
    let foreign = key.sign("RS256", &access_claims(OTHER_USER));
    for (route, event) in four_routes(COMPLETED_JOB, OWNER, &foreign) {
        let reply = invoke(&app, &event).await;
        assert_eq!(reply.status, 404, "{route}: {reply:#?}");
        reply.assert_error(404, "ERR_JOB_NOT_FOUND");
    }
    assert_eq!(jwks.fetches(), 1, "the key set was fetched once, at init");
}

#[tokio::test]
async fn id_and_access_tokens_follow_the_token_use_setting() {
    let key = SigningKey::rsa("k", "rsa-a");
    let jwks = JwksServer::with_keys(&[&key]).await;
    let access = key.sign("RS256", &access_claims(OWNER));
    let id = key.sign("RS256", &id_claims(OWNER));

    let any = cognito_app(&jwks, &[]).await;
    assert_eq!(invoke(&any, &get_job(&access)).await.status, 200);
    assert_eq!(invoke(&any, &get_job(&id)).await.status, 200);

    let access_only = cognito_app(&jwks, &[("JWT_TOKEN_USE", "access")]).await;
    assert_eq!(invoke(&access_only, &get_job(&access)).await.status, 200);
    assert_refused(
        &invoke(&access_only, &get_job(&id)).await,
        Refusal::WrongTokenUse,
        "id token",
    );

    let id_only = cognito_app(&jwks, &[("JWT_TOKEN_USE", "id")]).await;
    assert_eq!(invoke(&id_only, &get_job(&id)).await.status, 200);
    assert_refused(
        &invoke(&id_only, &get_job(&access)).await,
        Refusal::WrongTokenUse,
        "access token",
    );
}

#[tokio::test]
async fn every_asymmetric_algorithm_is_verified_with_its_own_key_type() {
    let rsa = SigningKey::rsa("rsa", "rsa-a");
    let p256 = SigningKey::p256("p256");
    let p384 = SigningKey::p384("p384");
    let jwks = JwksServer::with_keys(&[&rsa, &p256, &p384]).await;
    let app = cognito_app(&jwks, &[]).await;
    let claims = access_claims(OWNER);
    let signed = [
        ("RS256", &rsa),
        ("RS384", &rsa),
        ("RS512", &rsa),
        ("PS256", &rsa),
        ("PS384", &rsa),
        ("PS512", &rsa),
        ("ES256", &p256),
        ("ES384", &p384),
    ];
    for (alg, key) in signed {
        let reply = invoke(&app, &get_job(&key.sign(alg, &claims))).await;
        assert_eq!(reply.status, 200, "{alg}: {reply:#?}");
    }
}

#[tokio::test]
async fn tokens_that_are_not_valid_are_401_and_never_read_the_table() {
    let rsa = SigningKey::rsa("rsa", "rsa-a");
    let p256 = SigningKey::p256("p256");
    let other_rsa = SigningKey::rsa("rsa", "rsa-b");
    let mut keys: Vec<Value> = [&rsa, &p256].iter().map(|key| key.jwk()).collect();
    keys.push(with(
        SigningKey::rsa("rs384-only", "rsa-a").jwk(),
        "alg",
        json!("RS384"),
    ));
    keys.push(with(
        SigningKey::rsa("encryption", "rsa-a").jwk(),
        "use",
        json!("enc"),
    ));
    let jwks = JwksServer::start(JwksAnswer::Keys(keys)).await;
    let app = cognito_app(&jwks, &[("JWT_TOKEN_USE", "access")]).await;
    let good = access_claims(OWNER);
    let now = now_secs();
    let payload_of = |token: &str| token.split('.').nth(1).expect("payload").to_string();
    let valid = rsa.sign("RS256", &good);

    let cases: Vec<(&str, String)> = vec![
        ("alg none", {
            let header =
                base64_url(&json!({"alg": "none", "typ": "JWT", "kid": "rsa"}).to_string());
            format!("{header}.{}.", payload_of(&valid))
        }),
        (
            "HS256 signed with the RSA public key (algorithm confusion)",
            hmac_token(
                &json!({"alg": "HS256", "typ": "JWT", "kid": "rsa"}),
                &good,
                &rsa.public_key_bytes(),
            ),
        ),
        (
            "HS256 signed with the JWK's modulus text",
            hmac_token(
                &json!({"alg": "HS256", "typ": "JWT", "kid": "rsa"}),
                &good,
                rsa.jwk()["n"].as_str().expect("n").as_bytes(),
            ),
        ),
        (
            "RS256 header on an HMAC of the shared secret",
            hmac_token(
                &json!({"alg": "RS256", "typ": "JWT", "kid": "rsa"}),
                &good,
                JWT_SECRET.as_bytes(),
            ),
        ),
        (
            "signed by another key with the same kid",
            other_rsa.sign("RS256", &good),
        ),
        ("ES256 naming an RSA key", {
            let header = json!({"alg": "ES256", "typ": "JWT", "kid": "rsa"});
            p256.sign_with_header(&header, &good)
        }),
        ("RS256 naming an EC key", {
            let header = json!({"alg": "RS256", "typ": "JWT", "kid": "p256"});
            rsa.sign_with_header(&header, &good)
        }),
        ("ES384 on a P-256 key", {
            let header = json!({"alg": "ES384", "typ": "JWT", "kid": "p256"});
            p256.sign_with_header(&header, &good)
        }),
        ("a key that says RS384, a token that says RS256", {
            let header = json!({"alg": "RS256", "typ": "JWT", "kid": "rs384-only"});
            rsa.sign_with_header(&header, &good)
        }),
        ("an encryption key", {
            let header = json!({"alg": "RS256", "typ": "JWT", "kid": "encryption"});
            rsa.sign_with_header(&header, &good)
        }),
        ("no kid", {
            let header = json!({"alg": "RS256", "typ": "JWT"});
            rsa.sign_with_header(&header, &good)
        }),
        ("ES512", {
            let header = json!({"alg": "ES512", "typ": "JWT", "kid": "p256"});
            p256.sign_with_header(&header, &good)
        }),
        ("EdDSA", {
            let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": "p256"});
            p256.sign_with_header(&header, &good)
        }),
        (
            "wrong issuer",
            rsa.sign(
                "RS256",
                &with(good.clone(), "iss", json!("https://evil.example")),
            ),
        ),
        (
            "no issuer",
            rsa.sign("RS256", &without(good.clone(), "iss")),
        ),
        (
            "wrong client_id",
            rsa.sign(
                "RS256",
                &with(good.clone(), "client_id", json!("other-client")),
            ),
        ),
        (
            "no client_id and no aud",
            rsa.sign("RS256", &without(good.clone(), "client_id")),
        ),
        (
            "wrong aud",
            rsa.sign("RS256", &with(good.clone(), "aud", json!("other-client"))),
        ),
        (
            "wrong token_use",
            rsa.sign("RS256", &with(good.clone(), "token_use", json!("id"))),
        ),
        (
            "no token_use",
            rsa.sign("RS256", &without(good.clone(), "token_use")),
        ),
        (
            "expired beyond the leeway",
            rsa.sign("RS256", &with(good.clone(), "exp", json!(now - 61 - 5))),
        ),
        ("no exp", rsa.sign("RS256", &without(good.clone(), "exp"))),
        (
            "not yet valid",
            rsa.sign("RS256", &with(good.clone(), "nbf", json!(now + 61 + 60))),
        ),
        (
            "no user claim",
            rsa.sign("RS256", &without(good.clone(), USER_CLAIM)),
        ),
        (
            "a numeric user claim",
            rsa.sign("RS256", &with(good.clone(), USER_CLAIM, json!(42))),
        ),
        (
            "an empty user claim",
            rsa.sign("RS256", &with(good.clone(), USER_CLAIM, json!(""))),
        ),
        ("a tampered payload", {
            let forged = base64_url(&with(good.clone(), USER_CLAIM, json!(OTHER_USER)).to_string());
            let parts: Vec<&str> = valid.split('.').collect();
            format!("{}.{forged}.{}", parts[0], parts[2])
        }),
        ("a truncated signature", truncated_signature(&valid)),
        (
            "garbage",
            "eyJhbGciOiJSUzI1NiJ9.garbage.garbage".to_string(),
        ),
    ];
    for (case, token) in &cases {
        for (route, event) in four_routes(COMPLETED_JOB, OWNER, token) {
            let reply = invoke(&app, &event).await;
            assert_refused(&reply, reason_of(case), &format!("{case} on {route}"));
        }
    }
    assert_eq!(app.reads(), 0, "refused tokens never reach DynamoDB");
    // Within the leeway, and exactly valid: accepted (so the cases above fail for their reason).
    let within = rsa.sign("RS256", &with(good.clone(), "exp", json!(now - 30)));
    assert_eq!(invoke(&app, &get_job(&within)).await.status, 200);
    let started = rsa.sign("RS256", &with(good.clone(), "nbf", json!(now + 30)));
    assert_eq!(invoke(&app, &get_job(&started)).await.status, 200);
    assert_eq!(invoke(&app, &get_job(&valid)).await.status, 200);
}

#[tokio::test]
async fn without_a_key_set_asymmetric_tokens_are_401_not_503() {
    let key = SigningKey::rsa("k", "rsa-a");
    let app = app(&[("JWT_USER_CLAIM", USER_CLAIM)]).await;
    let reply = invoke(&app, &get_job(&key.sign("RS256", &access_claims(OWNER)))).await;
    assert_refused(&reply, Refusal::AlgorithmNotAllowed, "no JWT_JWKS_URL");
    assert_eq!(app.reads(), 0);
}

#[tokio::test]
async fn a_key_rotated_in_at_the_provider_is_accepted_after_one_fetch() {
    let old = SigningKey::rsa("2026-old", "rsa-a");
    let new = SigningKey::rsa("2026-new", "rsa-b");
    let jwks = JwksServer::with_keys(&[&old]).await;
    let app = cognito_app(&jwks, &[]).await;
    assert_eq!(jwks.fetches(), 1);
    let old_token = old.sign("RS256", &access_claims(OWNER));
    assert_eq!(invoke(&app, &get_job(&old_token)).await.status, 200);
    assert_eq!(jwks.fetches(), 1, "a kept key costs no fetch");

    jwks.answer(JwksAnswer::Keys(vec![old.jwk(), new.jwk()]));
    let new_token = new.sign("RS256", &access_claims(OWNER));
    assert_eq!(invoke(&app, &get_job(&new_token)).await.status, 200);
    assert_eq!(jwks.fetches(), 2);
    assert_eq!(invoke(&app, &get_job(&new_token)).await.status, 200);
    assert_eq!(invoke(&app, &get_job(&old_token)).await.status, 200);
    assert_eq!(jwks.fetches(), 2);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_fetch() {
    let key = SigningKey::rsa("known", "rsa-a");
    let jwks = JwksServer::with_keys(&[&key]).await;
    let app = cognito_app(&jwks, &[]).await;
    let claims = access_claims(OWNER);
    let flood: Vec<Value> = (0..200)
        .map(|i| {
            let header = json!({"alg": "RS256", "typ": "JWT", "kid": format!("unknown-{i}")});
            get_job(&key.sign_with_header(&header, &claims))
        })
        .collect();
    let replies = futures::future::join_all(flood.iter().map(|event| invoke(&app, event))).await;
    for reply in &replies {
        assert_refused(reply, Refusal::UnknownKid, "unknown kid");
    }
    for event in flood.iter().take(50) {
        assert_refused(
            &invoke(&app, event).await,
            Refusal::UnknownKid,
            "unknown kid, sequential",
        );
    }
    assert_eq!(
        jwks.fetches(),
        2,
        "the init fetch and one for the unknown kids"
    );
    assert_eq!(app.reads(), 0);
}

/// The review's fetch storm: with the provider failing since cold start, 100 unsigned
/// RS256-shaped tokens (each naming a new `kid`) made 101 fetches. Now they all get the 503
/// without a fetch of their own while the back-off runs (docs/API.md#8-caller-identity).
#[tokio::test]
async fn forged_tokens_while_the_provider_fails_cause_no_fetch_storm() {
    let jwks = JwksServer::start(JwksAnswer::Status(500)).await;
    let app = cognito_app(&jwks, &[]).await;
    assert_eq!(jwks.fetches(), 1, "the failed init fetch");
    let forged: Vec<Value> = (0..100)
        .map(|i| {
            let header =
                base64_url(&json!({"alg": "RS256", "kid": format!("forged-{i}")}).to_string());
            let claims = base64_url(&access_claims(OWNER).to_string());
            get_job(&format!("{header}.{claims}.AAAA"))
        })
        .collect();
    let (concurrent, sequential) = forged.split_at(50);
    let replies =
        futures::future::join_all(concurrent.iter().map(|event| invoke(&app, event))).await;
    for reply in replies {
        reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    }
    for event in sequential {
        invoke(&app, event)
            .await
            .assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    }
    assert_eq!(
        jwks.fetches(),
        1,
        "100 forged requests within the back-off: no fetch"
    );
    assert_eq!(app.reads(), 0);
}

#[tokio::test]
async fn a_key_set_that_cannot_be_had_is_a_bounded_503_without_a_read() {
    let key = SigningKey::rsa("k", "rsa-a");
    let claims = access_claims(OWNER);
    let token = key.sign("RS256", &claims);
    let bound = Duration::from_millis(2 * JWKS_TIMEOUT_MS + 500);
    let too_much = {
        let mut keys = vec![key.jwk()];
        keys.extend(
            (0..2_000)
                .map(|i| json!({"kty": "oct", "kid": format!("pad-{i}"), "k": "x".repeat(128)})),
        );
        serde_json::to_string(&json!({ "keys": keys })).expect("json")
    };
    assert!(too_much.len() > 256 * 1024);
    let refused = JwksServer::with_keys(&[]).await;
    let failures = [
        ("hanging", JwksAnswer::Hang),
        (
            "garbage",
            JwksAnswer::Body("<html>upstream error</html>".into()),
        ),
        (
            "not a key set",
            JwksAnswer::Body(r#"{"keys": "none"}"#.into()),
        ),
        ("HTTP 500", JwksAnswer::Status(500)),
        ("HTTP 404", JwksAnswer::Status(404)),
        ("over 256 KiB", JwksAnswer::Body(too_much)),
    ];
    for (case, answer) in failures {
        let jwks = JwksServer::start(answer).await;
        let app = cognito_app(&jwks, &[]).await;
        for (route, event) in four_routes(COMPLETED_JOB, OWNER, &token) {
            let started = Instant::now();
            let reply = invoke(&app, &event).await;
            let took = started.elapsed();
            assert_eq!(reply.status, 503, "{case} on {route}: {reply:#?}");
            reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
            assert_eq!(reply.header("retry-after"), Some("1"), "{case}");
            assert!(took < bound, "{case} on {route}: {took:?}");
        }
        assert_eq!(app.reads(), 0, "{case}: no DynamoDB read");
    }

    // Nothing listens at all: connections are refused.
    let closed = common::fake_dynamo::closed_endpoint();
    let url = format!("{closed}/.well-known/jwks.json");
    drop(refused);
    let app = app(&[("JWT_JWKS_URL", &url), ("JWT_USER_CLAIM", USER_CLAIM)]).await;
    app.prefetch_keys().await;
    let reply = invoke(&app, &get_job(&token)).await;
    reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert_eq!(app.reads(), 0);
}

#[tokio::test]
async fn the_lambda_deadline_comes_before_a_slow_key_set() {
    let key = SigningKey::rsa("k", "rsa-a");
    let jwks = JwksServer::start(JwksAnswer::Hang).await;
    let app = app(&[
        ("JWT_JWKS_URL", &jwks.url),
        ("JWT_JWKS_TIMEOUT_MS", "5000"),
        ("JWT_USER_CLAIM", USER_CLAIM),
    ])
    .await;
    let started = Instant::now();
    let reply = invoke_with_deadline(
        &app,
        &get_job(&key.sign("RS256", &access_claims(OWNER))),
        800,
    )
    .await;
    let took = started.elapsed();
    reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert!(
        took < Duration::from_millis(800),
        "answered before the deadline: {took:?}"
    );
    assert_eq!(app.reads(), 0);
}

#[tokio::test]
async fn init_with_a_hanging_key_set_is_bounded_and_does_not_fail() {
    let jwks = JwksServer::start(JwksAnswer::Hang).await;
    let started = Instant::now();
    let app = cognito_app(&jwks, &[]).await;
    assert!(started.elapsed() < Duration::from_millis(JWKS_TIMEOUT_MS + 1_000));
    // The provider recovers. Within the back-off after the failed fetch, a token gets the 503
    // at once, without a fetch; after it, the next token fetches the set and is accepted.
    let key = SigningKey::rsa("k", "rsa-a");
    jwks.answer(JwksAnswer::Keys(vec![key.jwk()]));
    let token = key.sign("RS256", &access_claims(OWNER));
    let fetches = jwks.fetches();
    let early = invoke(&app, &get_job(&token)).await;
    early.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert_eq!(jwks.fetches(), fetches, "no fetch within the back-off");
    tokio::time::sleep(FIRST_RETRY_AFTER).await;
    let reply = invoke(&app, &get_job(&token)).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(jwks.fetches(), fetches + 1);
}

#[tokio::test]
async fn hs256_secret_rotation_keeps_old_tokens_and_share_links_working() {
    let rotated = app(&[
        ("JWT_SECRET", "the-new-jwt-secret"),
        ("JWT_SECRET_PREVIOUS", JWT_SECRET),
        ("SHARE_TOKEN_SECRET", "the-new-share-secret"),
        ("SHARE_TOKEN_SECRET_PREVIOUS", SHARE_SECRET),
    ])
    .await;
    let old_token = bearer_with(JWT_SECRET, OWNER, |_| {});
    let new_token = bearer_with("the-new-jwt-secret", OWNER, |_| {});
    let stranger = bearer_with("a-third-secret", OWNER, |_| {});
    let job = job_url(COMPLETED_JOB);
    for token in [&old_token, &new_token] {
        let reply = invoke(
            &rotated,
            &http_event("GET", &job, &[("authorization", token)], None),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:#?}");
    }
    let reply = invoke(
        &rotated,
        &http_event("GET", &job, &[("authorization", &stranger)], None),
    )
    .await;
    assert_refused(&reply, Refusal::BadSignature, "a secret that is neither");

    // A link handed out before the rotation keeps working; new links use the new secret.
    let old_link = share_signer(SHARE_SECRET).mint(COMPLETED_JOB, now_secs() + 600);
    let result = result_url(COMPLETED_JOB);
    let reply = invoke(
        &rotated,
        &with_query(
            http_event("GET", &result, &[], None),
            &format!("token={old_link}"),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let shared = invoke(
        &rotated,
        &http_event(
            "POST",
            &format!("{job}/share"),
            &[("authorization", &new_token)],
            None,
        ),
    )
    .await;
    assert_eq!(shared.status, 201, "{shared:#?}");
    let new_link = shared.data()["token"].as_str().expect("token").to_string();
    let after = app(&[("SHARE_TOKEN_SECRET", "the-new-share-secret")]).await;
    let before = app(&[]).await;
    let query = format!("token={new_link}");
    let reply = invoke(
        &after,
        &with_query(http_event("GET", &result, &[], None), &query),
    )
    .await;
    assert_eq!(reply.status, 200, "signed with the current secret");
    let reply = invoke(
        &before,
        &with_query(http_event("GET", &result, &[], None), &query),
    )
    .await;
    assert_refused(
        &reply,
        Refusal::ShareTokenInvalid,
        "never signed with the previous secret",
    );
    let reply = invoke(
        &after,
        &with_query(
            http_event("GET", &result, &[], None),
            &format!("token={old_link}"),
        ),
    )
    .await;
    assert_refused(
        &reply,
        Refusal::ShareTokenInvalid,
        "old links end when the previous secret is removed",
    );
}

#[tokio::test]
async fn the_user_claim_setting_applies_to_authorizer_claims() {
    let app = app(&[("JWT_USER_CLAIM", USER_CLAIM)]).await;
    let job = job_url(COMPLETED_JOB);
    let shapes = [
        json!({"jwt": {"claims": {"sub": "provider-sub", USER_CLAIM: OWNER}, "scopes": null}}),
        json!({"claims": {"sub": "provider-sub", USER_CLAIM: OWNER}}),
    ];
    for authorizer in shapes {
        let reply = invoke(
            &app,
            &with_authorizer(http_event("GET", &job, &[], None), authorizer.clone()),
        )
        .await;
        assert_eq!(reply.status, 200, "{authorizer}: {reply:#?}");
    }
    let provider_sub_only = json!({"jwt": {"claims": {"sub": OWNER}}});
    let reply = invoke(
        &app,
        &with_authorizer(http_event("GET", &job, &[], None), provider_sub_only),
    )
    .await;
    assert_refused(
        &reply,
        Refusal::Missing,
        "the claim is not there: no identity",
    );
    let foreign = json!({"jwt": {"claims": {"sub": OWNER, USER_CLAIM: OTHER_USER}}});
    let reply = invoke(
        &app,
        &with_authorizer(http_event("GET", &job, &[], None), foreign),
    )
    .await;
    reply.assert_error(404, "ERR_JOB_NOT_FOUND");
}
