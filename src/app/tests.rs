//! The request flow over the in-memory store, case by case: the order of checks
//! (docs/API.md#7-order-of-checks), share links, entity tags and expiry. No server needed.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

use super::App;
use crate::auth::bearer::{mint, Claims};
use crate::auth::{Refusal, ShareSigner};
use crate::config::{Config, Secrets};
use crate::http::event::parse_event;
use crate::store::memory::MemoryStore;
use crate::store::StoreError;

const OWNER: &str = "09b4e414-4f70-4226-9ee8-f9e815fc2539";
const OTHER: &str = "5d1e7f3a-0b2c-4d6e-8f9a-1b2c3d4e5f60";
const COMPLETED: &str = "e6b6634c-e07c-43f0-88b3-9516590aad77";
const FAILED: &str = "3f1c2a9e-7b55-4d0e-9a61-2c8f0b7d4e11";
const QUEUED: &str = "7a2d9c4b-1e3f-4b8a-8c5d-6f0e9a1b2c3d";
const OTHERS_JOB: &str = "c0ffee00-aaaa-4bbb-8ccc-0123456789ab";
const JWT_SECRET: &str = "unit-jwt-secret";
const SHARE_SECRET: &str = "unit-share-secret";

/// The sample jobs of `./dev/run` and the test fixtures, in memory.
fn store() -> MemoryStore {
    let store = MemoryStore::from_typed_json(include_str!("../../dev/sample-jobs.json"), "jobId")
        .expect("sample jobs");
    let fixtures: Vec<Value> =
        serde_json::from_str(include_str!("../../tests/fixtures/records.json")).expect("fixtures");
    for item in &fixtures {
        let item = crate::store::memory::typed_item(item).expect("a typed item");
        store.put("jobId", item).expect("a keyed item");
    }
    store
}

fn config(overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("JOBS_TABLE", "unit"),
        ("JWT_SECRET", JWT_SECRET),
        ("SHARE_TOKEN_SECRET", SHARE_SECRET),
    ]);
    vars.extend(overrides.iter().copied());
    Config::from_lookup(|name| vars.get(name).map(|value| value.to_string()))
        .expect("a valid configuration")
}

fn app(overrides: &[(&str, &str)]) -> App<MemoryStore> {
    crate::wiring::app_with_key_set(&config(overrides), store(), None)
}

fn now() -> u64 {
    super::unix_now()
}

fn bearer(user_id: &str) -> String {
    let claims = Claims {
        sub: user_id.into(),
        exp: now() + 600,
        ..Claims::default()
    };
    format!(
        "Bearer {}",
        mint(JWT_SECRET.as_bytes(), &claims).expect("a token")
    )
}

fn share_token(job_id: &str, expires_at: u64) -> String {
    ShareSigner::new(&Secrets {
        current: SHARE_SECRET.as_bytes().to_vec(),
        previous: None,
    })
    .mint(job_id, expires_at)
}

/// An HTTP API (payload 2.0) request.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut event = json!({
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers.iter().map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "requestContext": {"requestId": "unit-1", "http": {"method": method, "path": path}},
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

fn get(path: &str, headers: &[(&str, &str)]) -> Value {
    request("GET", path, headers, None)
}

/// The original `POST /jobs/status` of `job_id` as `user_id`, without credentials.
fn legacy_post(job_id: &str, user_id: &str) -> Value {
    let body = json!({"job_id": job_id, "user_id": user_id}).to_string();
    request(
        "POST",
        "/api/v1/flickr/jobs/status",
        &[("content-type", "application/json")],
        Some(&body),
    )
}

fn job(id: &str) -> String {
    format!("/api/v1/flickr/jobs/{id}")
}

/// What came back: status, headers by name, the body as JSON (`Null` for none).
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Value,
    refusal: Option<Refusal>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, Some(code)),
            "{}",
            self.body
        );
        assert_eq!(self.body["data"], Value::Null);
    }
}

async fn answer(app: &App<MemoryStore>, event: Value) -> Answer {
    let request = parse_event(&event.to_string()).expect("an HTTP event");
    let (response, trace) = app.handle(&request, None).await;
    let (status, headers, body) = response.render("unit-1");
    Answer {
        refusal: trace.refusal,
        status,
        headers,
        body: body.map_or(Value::Null, |body| {
            serde_json::from_str(&body).expect("JSON")
        }),
    }
}

/// Each check answers before the next one is made, and none of them reads the table.
#[tokio::test]
async fn the_checks_come_in_their_order() {
    let unconfigured = app(&[("SHARE_TOKEN_SECRET", "")]);
    let app = app(&[]);
    let big = "x".repeat(64 * 1024 + 1);
    let cases: Vec<(&str, Value, &App<MemoryStore>, u16, &str)> = vec![
        (
            "an unknown route wins over everything",
            request(
                "POST",
                "/api/v1/flickr/nope",
                &[("content-type", "text/plain")],
                Some(&big),
            ),
            &app,
            404,
            "ERR_ROUTE_NOT_FOUND",
        ),
        (
            "a wrong method wins over the body",
            request(
                "PUT",
                &job("x"),
                &[("content-type", "text/plain")],
                Some(&big),
            ),
            &app,
            405,
            "ERR_METHOD_NOT_ALLOWED",
        ),
        (
            "an unconfigured share route wins over size and media type",
            request(
                "POST",
                &job("x/share"),
                &[("content-type", "text/plain")],
                Some(&big),
            ),
            &unconfigured,
            501,
            "ERR_NOT_CONFIGURED",
        ),
        (
            "size before media type",
            request(
                "POST",
                "/api/v1/flickr/jobs/status",
                &[("content-type", "text/plain")],
                Some(&big),
            ),
            &app,
            413,
            "ERR_PAYLOAD_TOO_LARGE",
        ),
        (
            "media type before the body",
            request(
                "POST",
                "/api/v1/flickr/jobs/status",
                &[("content-type", "text/plain")],
                Some("{"),
            ),
            &app,
            415,
            "ERR_UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "the body before credentials",
            request(
                "POST",
                "/api/v1/flickr/jobs/status",
                &[("authorization", "Bearer bad")],
                Some("{"),
            ),
            &app,
            400,
            "ERR_INVALID_REQUEST",
        ),
        (
            "ids before credentials",
            get(&job("a%0Ab"), &[("authorization", "Bearer bad")]),
            &app,
            400,
            "ERR_INVALID_REQUEST",
        ),
        (
            "credentials before the read",
            get(&job(COMPLETED), &[("authorization", "Bearer bad")]),
            &app,
            401,
            "ERR_UNAUTHORIZED",
        ),
        (
            "no identity on a GET route",
            get(&job(COMPLETED), &[]),
            &app,
            401,
            "ERR_UNAUTHORIZED",
        ),
        (
            "the share lifetime before credentials",
            request(
                "POST",
                &job(&format!("{COMPLETED}/share")),
                &[("content-type", "application/json")],
                Some(r#"{"expires_in": 5}"#),
            ),
            &app,
            400,
            "ERR_INVALID_REQUEST",
        ),
    ];
    for (case, event, app, status, code) in cases {
        let reads = app.store().reads();
        let answer = answer(app, event).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, Some(code)),
            "{case}: {}",
            answer.body
        );
        assert_eq!(app.store().reads(), reads, "{case}: the table was read");
    }
}

/// After the credentials: the read (503), then ownership and expiry (404), then validity
/// (500), then the state.
#[tokio::test]
async fn after_the_read_come_ownership_validity_and_state() {
    let app = app(&[]);
    let auth = bearer("user-test-1");
    let auth = [("authorization", auth.as_str())];

    app.store()
        .fail_next([StoreError::Unavailable("throttled".into())]);
    let unavailable = answer(&app, get(&job("t-corrupt-state"), &auth)).await;
    unavailable.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert_eq!(unavailable.header("retry-after"), Some("1"));
    app.store()
        .fail_next([StoreError::Failed("no such table".into())]);
    answer(&app, get(&job("t-minimal"), &auth))
        .await
        .assert_error(500, "ERR_INTERNAL");

    // Someone else's corrupt record, and an ownerless one, are "not found", not 500.
    let owner_auth = bearer(OWNER);
    answer(
        &app,
        get(
            &job("t-corrupt-state"),
            &[("authorization", owner_auth.as_str())],
        ),
    )
    .await
    .assert_error(404, "ERR_JOB_NOT_FOUND");
    answer(&app, get(&job("t-ownerless-corrupt"), &auth))
        .await
        .assert_error(404, "ERR_JOB_NOT_FOUND");
    // The caller's own corrupt record is a 500 that says nothing of it.
    let corrupt = answer(&app, get(&job("t-corrupt-state"), &auth)).await;
    corrupt.assert_error(500, "ERR_INTERNAL");
    assert_eq!(corrupt.body["error"]["message"], "internal error");
    // The state decides last: a failed job's result is a 409 with its reason.
    let owner_auth = [("authorization", owner_auth.as_str())];
    let failed = answer(&app, get(&job(&format!("{FAILED}/result")), &owner_auth)).await;
    failed.assert_error(409, "ERR_JOB_FAILED");
    assert_eq!(
        failed.body["error"]["message"],
        "Token not found for userId=09b4e414-4f70-4226-9ee8-f9e815fc2539"
    );
    let pending = answer(&app, get(&job(&format!("{QUEUED}/result")), &owner_auth)).await;
    assert_eq!(pending.status, 202);
    assert_eq!(
        pending.body["data"],
        json!({"id": QUEUED, "state": "queued"})
    );
    assert_eq!(pending.header("location"), Some(job(QUEUED).as_str()));
    assert_eq!(pending.header("retry-after"), Some("2"));
}

/// Not found, not yours and expired are one answer, on every route.
#[tokio::test]
async fn missing_foreign_and_expired_jobs_are_indistinguishable() {
    let app = app(&[]);
    let auth = bearer("user-test-1");
    let auth = [("authorization", auth.as_str())];
    let answers = [
        ("missing", "t-does-not-exist"),
        ("foreign", OTHERS_JOB),
        ("expired", "t-expired"),
    ];
    let mut seen = Vec::new();
    for (case, id) in answers {
        for event in [
            get(&job(id), &auth),
            get(&job(&format!("{id}/result")), &auth),
            request("POST", &job(&format!("{id}/share")), &auth, None),
            request(
                "POST",
                "/api/v1/flickr/jobs/status",
                &[("content-type", "application/json")],
                Some(&json!({"job_id": id, "user_id": "user-test-1"}).to_string()),
            ),
        ] {
            let answer = answer(&app, event).await;
            answer.assert_error(404, "ERR_JOB_NOT_FOUND");
            seen.push((case, answer.status, answer.headers, answer.body));
        }
    }
    let (first, rest) = seen.split_at(4);
    for (index, (case, status, headers, body)) in rest.iter().enumerate() {
        let (_, first_status, first_headers, first_body) = &first[index % 4];
        assert_eq!(
            (status, headers, body),
            (first_status, first_headers, first_body),
            "{case}"
        );
    }
    // An expires_at that is not a number is ignored: the job is served.
    let served = answer(&app, get(&job("t-expires-text"), &auth)).await;
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(served.body["data"]["expires_at"], Value::Null);
}

#[tokio::test]
async fn the_post_shows_what_the_get_shows_for_its_six_keys() {
    // Its own projection must fetch every attribute those keys show (a record of each state,
    // with a result, a failure, a stack trace and a target).
    let app = app(&[]);
    for (job_id, owner) in [
        (COMPLETED, OWNER),
        (FAILED, OWNER),
        (QUEUED, OWNER),
        ("t-metadata", "user-test-1"),
    ] {
        let post = answer(&app, legacy_post(job_id, owner)).await;
        let auth = bearer(owner);
        let got = answer(&app, get(&job(job_id), &[("authorization", auth.as_str())])).await;
        assert_eq!((post.status, got.status), (200, 200), "{job_id}");
        for key in [
            "id",
            "state",
            "returnvalue",
            "failedReason",
            "stacktrace",
            "queue",
        ] {
            assert_eq!(
                post.body["data"][key], got.body["data"][key],
                "{job_id} {key}"
            );
        }
        assert_ne!(post.body["data"]["queue"], Value::Null, "{job_id}");
    }
}

#[tokio::test]
async fn the_post_keeps_six_keys_and_the_get_has_eleven() {
    let app = app(&[]);
    let post = answer(&app, legacy_post("t-metadata", "user-test-1")).await;
    let keys = |data: &Value| -> Vec<String> {
        data.as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(post.status, 200);
    let mut legacy = keys(&post.body["data"]);
    legacy.sort();
    assert_eq!(
        legacy,
        [
            "failedReason",
            "id",
            "queue",
            "returnvalue",
            "stacktrace",
            "state"
        ]
    );
    let auth = bearer("user-test-1");
    let got = answer(
        &app,
        get(&job("t-metadata"), &[("authorization", auth.as_str())]),
    )
    .await;
    assert_eq!(
        got.body["data"],
        json!({
            "id": "t-metadata", "state": "retrying", "returnvalue": null, "failedReason": null,
            "stacktrace": [], "queue": "flickr_upload",
            "progress": {"percent": 42, "stage": "uploading", "message": "3 of 7 photos"},
            "attempts": 2, "created_at": "2026-12-01T19:32:29.123Z",
            "updated_at": "2026-12-01T19:32:30.000Z", "expires_at": "2100-01-01T00:00:00Z"
        })
    );
    let unusable = answer(
        &app,
        get(
            &job("t-metadata-unusable"),
            &[("authorization", auth.as_str())],
        ),
    )
    .await;
    assert_eq!(
        unusable.status, 200,
        "metadata never makes a record corrupt"
    );
    for key in [
        "progress",
        "attempts",
        "created_at",
        "updated_at",
        "expires_at",
    ] {
        assert_eq!(unusable.body["data"][key], Value::Null, "{key}");
    }
}

#[tokio::test]
async fn entity_tags_follow_the_record_and_if_none_match_gives_304() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let read = |extra: Vec<(&'static str, String)>| {
        let mut headers = vec![("authorization", auth.clone())];
        headers.extend(extra);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        get(&job(QUEUED), &headers)
    };
    let first = answer(&app, read(vec![])).await;
    let tag = first.header("etag").expect("an ETag").to_string();
    assert_eq!(first.header("cache-control"), Some("private, no-cache"));
    assert_eq!(first.header("retry-after"), Some("2"));
    let again = answer(&app, read(vec![])).await;
    assert_eq!(
        again.header("etag"),
        Some(tag.as_str()),
        "unchanged record, same tag"
    );

    for matching in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".into(),
    ] {
        let answer = answer(&app, read(vec![("if-none-match", matching.clone())])).await;
        assert_eq!(answer.status, 304, "{matching}");
        assert_eq!(answer.body, Value::Null);
        assert_eq!(answer.header("etag"), Some(tag.as_str()));
        assert_eq!(answer.header("retry-after"), Some("2"));
    }
    let other = answer(&app, read(vec![("if-none-match", "\"other\"".into())])).await;
    assert_eq!(other.status, 200);

    // A progress update is a change.
    app.store()
        .set(QUEUED, "progress", AttributeValue::N("10".into()));
    let changed = answer(&app, read(vec![("if-none-match", tag.clone())])).await;
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(tag.as_str()));
    assert_eq!(changed.body["data"]["progress"]["percent"], 10);

    // Terminal jobs carry no Retry-After.
    let done = answer(
        &app,
        get(&job(COMPLETED), &[("authorization", auth.as_str())]),
    )
    .await;
    assert_eq!(done.status, 200);
    assert_eq!(done.header("retry-after"), None);
}

#[tokio::test]
async fn a_share_token_decides_alone_on_the_get_routes() {
    let app = app(&[]);
    let token = share_token(COMPLETED, now() + 60);
    let result = |query: String, headers: &[(&str, &str)]| {
        get(&format!("{}/result?{query}", job(COMPLETED)), headers)
    };
    let other_bearer = bearer(OTHER);
    let granted = answer(
        &app,
        result(
            format!("token={token}"),
            &[("authorization", &other_bearer)],
        ),
    )
    .await;
    assert_eq!(granted.status, 200, "over another user's credentials");
    assert_eq!(granted.body["data"]["stat"], "ok");
    assert_eq!(granted.header("x-from-cache"), Some("false"));
    let owner_bearer = bearer(OWNER);
    let refused = [
        format!("token={token}&token={token}"),
        "token=".to_string(),
        format!("token={}", share_token(QUEUED, now() + 60)),
        format!("token={}", share_token(COMPLETED, now())),
        format!("token={}x", token),
    ];
    for query in refused {
        let reads = app.store().reads();
        let answer = answer(
            &app,
            result(query.clone(), &[("authorization", &owner_bearer)]),
        )
        .await;
        answer.assert_error(401, "ERR_UNAUTHORIZED");
        assert_eq!(app.store().reads(), reads, "{query}: read before refusing");
    }
    // Without SHARE_TOKEN_SECRET no token is valid.
    let unconfigured = self::app(&[("SHARE_TOKEN_SECRET", "")]);
    answer(&unconfigured, result(format!("token={token}"), &[]))
        .await
        .assert_error(401, "ERR_UNAUTHORIZED");
}

#[tokio::test]
async fn sharing_needs_the_owners_own_credentials() {
    let app = app(&[]);
    let share = job(&format!("{COMPLETED}/share"));
    let token = share_token(COMPLETED, now() + 60);
    // A share token is not an identity on the share route.
    answer(
        &app,
        request("POST", &format!("{share}?token={token}"), &[], None),
    )
    .await
    .assert_error(401, "ERR_UNAUTHORIZED");
    let other = bearer(OTHER);
    answer(
        &app,
        request("POST", &share, &[("authorization", &other)], None),
    )
    .await
    .assert_error(404, "ERR_JOB_NOT_FOUND");
    let owner = bearer(OWNER);
    let link = answer(
        &app,
        request(
            "POST",
            &share,
            &[
                ("authorization", &owner),
                ("content-type", "application/json"),
            ],
            Some(r#"{"expires_in": 600}"#),
        ),
    )
    .await;
    assert_eq!(link.status, 201, "{}", link.body);
    assert_eq!(link.header("cache-control"), Some("no-store"));
    let url = link.body["data"]["url"].as_str().expect("a url");
    assert_eq!(link.header("location"), Some(url));
    let opened = answer(&app, get(url, &[])).await;
    assert_eq!(
        opened.status, 200,
        "the link opens the result without credentials"
    );
}

/// Every refusal names its reason for the log, and tells a missing credential from a refused one
/// in `WWW-Authenticate`; the body is the same for all.
#[tokio::test]
async fn every_refusal_has_its_reason() {
    let app = app(&[]);
    let unconfigured = self::app(&[("SHARE_TOKEN_SECRET", "")]);
    let expired_bearer = format!(
        "Bearer {}",
        mint(
            JWT_SECRET.as_bytes(),
            &Claims {
                sub: OWNER.into(),
                exp: now() - 3600,
                ..Claims::default()
            }
        )
        .expect("a token")
    );
    let owner = bearer(OWNER);
    let result = job(&format!("{COMPLETED}/result"));
    let cases: Vec<(&App<MemoryStore>, Value, Refusal)> = vec![
        (&app, get(&result, &[]), Refusal::Missing),
        (
            &app,
            get(&result, &[("authorization", expired_bearer.as_str())]),
            Refusal::Expired,
        ),
        (
            &app,
            get(&result, &[("authorization", "Bearer a.b.c")]),
            Refusal::Malformed,
        ),
        (
            &app,
            get(&result, &[("authorization", "Basic dXNlcg==")]),
            Refusal::Malformed,
        ),
        (
            &app,
            get(
                &format!("{result}?token={}", share_token(COMPLETED, now())),
                &[],
            ),
            Refusal::ShareTokenExpired,
        ),
        (
            &app,
            get(
                &format!("{result}?token={}", share_token(QUEUED, now() + 60)),
                &[],
            ),
            Refusal::ShareTokenInvalid,
        ),
        (
            &unconfigured,
            get(
                &format!("{result}?token={}", share_token(COMPLETED, now() + 60)),
                &[],
            ),
            Refusal::ShareTokensNotConfigured,
        ),
    ];
    let mut bodies = Vec::new();
    for (app, event, reason) in cases {
        let answer = answer(app, event).await;
        answer.assert_error(401, "ERR_UNAUTHORIZED");
        assert_eq!(answer.refusal, Some(reason));
        assert_eq!(
            answer.header("www-authenticate"),
            Some(reason.challenge()),
            "{reason:?}"
        );
        bodies.push(answer.body["error"].clone());
    }
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "one body for every refusal");
    // An authorizer that names the user with the wrong type fails closed, over a valid token.
    let mut event = get(&result, &[("authorization", owner.as_str())]);
    event["requestContext"]["authorizer"] = json!({"lambda": {"user_id": 42}});
    let answer = answer(&app, event).await;
    answer.assert_error(401, "ERR_UNAUTHORIZED");
    assert_eq!(answer.refusal, Some(Refusal::AuthorizerIdentity));
}

#[tokio::test]
async fn dot_ids_cannot_be_shared_and_bad_escapes_are_400() {
    let app = app(&[]);
    let owner = bearer(OWNER);
    for dots in ["%2E", "%2E%2E", ".", ".."] {
        let answer = answer(
            &app,
            request(
                "POST",
                &job(&format!("{dots}/share")),
                &[("authorization", &owner)],
                None,
            ),
        )
        .await;
        answer.assert_error(400, "ERR_INVALID_REQUEST");
        assert!(
            answer.body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("cannot be shared")),
            "{}",
            answer.body
        );
    }
    for malformed in ["%zz", "a%", "%4"] {
        let reads = app.store().reads();
        answer(&app, get(&job(malformed), &[("authorization", &owner)]))
            .await
            .assert_error(400, "ERR_INVALID_REQUEST");
        assert_eq!(app.store().reads(), reads);
    }
}

mod many;
mod wait;
