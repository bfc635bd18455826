//! `GET /jobs` and `POST /jobs/batch` through the whole flow over the in-memory store
//! (docs/API.md#get-jobs--the-callers-jobs, docs/API.md#post-jobsbatch--many-jobs-by-id): the
//! order of checks, paging, page-token binding, per-job elements, unprocessed keys.

use std::collections::HashSet;

use super::*;
use crate::store::memory::{Item, Unprocessed};

const LIST: &str = "/api/v1/flickr/jobs";
const BATCH: &str = "/api/v1/flickr/jobs/batch";
const INDEX: (&str, &str) = ("JOBS_USER_INDEX", "jobs-by-user");
const TEST_USER: &str = "user-test-1";

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

fn n(number: u64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn job_item(id: &str, user: &str, created_at: Option<u64>, state: &str) -> Item {
    let mut item: Item = [
        ("jobId".to_string(), s(id)),
        ("user_id".to_string(), s(user)),
        ("state".to_string(), s(state)),
        ("target".to_string(), s("upload")),
    ]
    .into();
    if let Some(created_at) = created_at {
        item.insert("created_at".into(), n(created_at));
    }
    item
}

const STATES: [&str; 3] = ["queued", "completed", "failed"];

/// `count` jobs of OWNER (`own-<i>`, newer with i, states in turn) interleaved with OTHER's.
fn listing_store(count: u64) -> MemoryStore {
    let store = MemoryStore::new();
    for i in 0..count {
        let at = 1_796_000_000_000 + i * 1000;
        let state = STATES[i as usize % 3];
        store
            .put(
                "jobId",
                job_item(&format!("own-{i:03}"), OWNER, Some(at), state),
            )
            .unwrap();
        store
            .put(
                "jobId",
                job_item(&format!("other-{i:03}"), OTHER, Some(at + 1), state),
            )
            .unwrap();
    }
    store
}

fn listing_app(store: MemoryStore, overrides: &[(&str, &str)]) -> App<MemoryStore> {
    let mut vars = vec![INDEX];
    vars.extend_from_slice(overrides);
    crate::wiring::app_with_key_set(&config(&vars), store, None)
}

fn list_as(user: &str, query: &str) -> Value {
    let path = if query.is_empty() {
        LIST.to_string()
    } else {
        format!("{LIST}?{query}")
    };
    get(&path, &[("authorization", bearer(user).as_str())])
}

fn batch_as(user: &str, ids: &[&str]) -> Value {
    request(
        "POST",
        BATCH,
        &[
            ("authorization", bearer(user).as_str()),
            ("content-type", "application/json"),
        ],
        Some(&json!({ "job_ids": ids }).to_string()),
    )
}

/// The body exactly as sent (`Answer` parses it, and a parsed object forgets the key order).
async fn raw_body(app: &App<MemoryStore>, event: Value) -> String {
    let request = parse_event(&event.to_string()).expect("an HTTP event");
    let (response, _) = app.handle(&request, None).await;
    response.render("unit-1").2.expect("a body")
}

fn ids_of(answer: &Answer) -> Vec<String> {
    answer.body["data"]["jobs"]
        .as_array()
        .expect("a jobs array")
        .iter()
        .map(|job| job["id"].as_str().expect("an id").to_string())
        .collect()
}

fn token_of(answer: &Answer) -> Option<String> {
    answer.body["data"]["next_page_token"]
        .as_str()
        .map(str::to_string)
}

/// Every page of `user`'s listing with this extra query, following the tokens.
async fn all_pages(app: &App<MemoryStore>, user: &str, extra: &str) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = extra.to_string();
        if let Some(token) = &token {
            query.push_str(&format!("&page_token={token}"));
        }
        let page = answer(app, list_as(user, &query)).await;
        assert_eq!(page.status, 200, "{}", page.body);
        pages.push(ids_of(&page));
        token = token_of(&page);
        if token.is_none() {
            return pages;
        }
        assert!(pages.len() < 100, "paging never ends");
    }
}

#[tokio::test]
async fn without_the_index_the_listing_is_501_before_any_other_check() {
    let app = app(&[]);
    let big = "x".repeat(64 * 1024 + 1);
    for event in [
        get(&format!("{LIST}?page_size=0&token=x"), &[]),
        request("GET", LIST, &[("content-type", "text/plain")], Some(&big)),
        list_as(OWNER, ""),
    ] {
        answer(&app, event)
            .await
            .assert_error(501, "ERR_NOT_CONFIGURED");
    }
    // The batch needs no index.
    let batch = answer(&app, batch_as(OWNER, &[COMPLETED])).await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    assert_eq!(app.store().reads(), 1);
}

#[tokio::test]
async fn routes_and_methods_come_first() {
    let app = listing_app(listing_store(1), &[]);
    let wrong = answer(&app, request("GET", BATCH, &[], None)).await;
    wrong.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
    assert_eq!(wrong.header("allow"), Some("POST"));
    let wrong = answer(&app, request("POST", LIST, &[], Some("{}"))).await;
    wrong.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
    assert_eq!(wrong.header("allow"), Some("GET"));
    answer(&app, get(&format!("{LIST}/"), &[]))
        .await
        .assert_error(404, "ERR_ROUTE_NOT_FOUND");
    assert_eq!(app.store().reads(), 0);
}

#[tokio::test]
async fn query_parameters_are_checked_before_credentials_and_name_themselves() {
    let app = listing_app(listing_store(3), &[]);
    for (query, names) in [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=abc", "page_size"),
        ("page_size=%2B5", "page_size"),
        ("page_size=1.5", "page_size"),
        ("page_size=5&page_size=6", "page_size"),
        ("state=queued&state=failed", "state"),
        ("state=", "state"),
        ("state=a%0Ab", "state"),
        ("page_token=", "page_token"),
        ("page_token=a&page_token=b", "page_token"),
    ] {
        for event in [get(&format!("{LIST}?{query}"), &[]), list_as(OWNER, query)] {
            let reply = answer(&app, event).await;
            reply.assert_error(400, "ERR_INVALID_REQUEST");
            let message = reply.body["error"]["message"].as_str().unwrap();
            assert!(message.contains(names), "{query}: {message}");
        }
    }
    // Other parameters are ignored.
    assert_eq!(
        answer(&app, list_as(OWNER, "colour=blue")).await.status,
        200
    );
    assert_eq!(app.store().reads(), 1);
}

#[tokio::test]
async fn identity_is_required_and_a_share_token_is_none() {
    let app = listing_app(listing_store(3), &[]);
    let share = share_token(COMPLETED, now() + 600);
    let cases = [
        (get(LIST, &[]), Refusal::Missing),
        (
            get(&format!("{LIST}?token={share}"), &[]),
            Refusal::ShareTokenNotIdentity,
        ),
        (
            list_as(OWNER, &format!("token={share}")),
            Refusal::ShareTokenNotIdentity,
        ),
        (
            get(LIST, &[("authorization", "Bearer a.b.c")]),
            Refusal::Malformed,
        ),
        (
            request(
                "POST",
                BATCH,
                &[("content-type", "application/json")],
                Some(r#"{"job_ids":["a"]}"#),
            ),
            Refusal::Missing,
        ),
        (
            request(
                "POST",
                &format!("{BATCH}?token={share}"),
                &[("authorization", bearer(OWNER).as_str())],
                Some(r#"{"job_ids":["a"]}"#),
            ),
            Refusal::ShareTokenNotIdentity,
        ),
    ];
    for (event, refusal) in cases {
        let reply = answer(&app, event).await;
        reply.assert_error(401, "ERR_UNAUTHORIZED");
        assert_eq!(reply.refusal, Some(refusal));
    }
    assert_eq!(app.store().reads(), 0);
}

#[tokio::test]
async fn every_job_of_the_caller_once_newest_first_one_read_per_page() {
    let app = listing_app(listing_store(45), &[]);
    let pages = all_pages(&app, OWNER, "page_size=10").await;
    // 45 jobs in pages of 10: the fifth page holds 5 and is the last.
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 10, 10, 5]
    );
    let listed: Vec<String> = pages.concat();
    let expected: Vec<String> = (0..45).rev().map(|i| format!("own-{i:03}")).collect();
    assert_eq!(listed, expected);
    assert_eq!(app.store().reads(), 5);

    // Exactly a page's worth left: DynamoDB still reports more, and the next page is empty.
    let app = listing_app(listing_store(20), &[]);
    let pages = all_pages(&app, OWNER, "").await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![20, 0]);
}

#[tokio::test]
async fn the_state_filter_holds_across_pages() {
    let app = listing_app(listing_store(45), &[]);
    let pages = all_pages(&app, OWNER, "state=failed&page_size=7").await;
    let listed: Vec<String> = pages.concat();
    let expected: Vec<String> = (0..45)
        .rev()
        .filter(|i| i % 3 == 2)
        .map(|i| format!("own-{i:03}"))
        .collect();
    assert_eq!(listed, expected);
    // The filter comes after the index read: pages hold fewer than page_size.
    assert!(pages.iter().all(|page| page.len() < 7), "{pages:?}");
    assert_eq!(pages.len(), 7, "45 index entries in pages of 7");
}

#[tokio::test]
async fn a_summary_has_the_eight_keys_in_order_and_expired_or_undated_jobs_are_left_out() {
    let store = MemoryStore::new();
    let mut full = job_item("full", OWNER, Some(1_796_153_549_123), "retrying");
    full.insert("attempts".into(), n(2));
    full.insert("updated_at".into(), n(1_796_153_550_000));
    full.insert("progress".into(), n(40));
    full.insert("returnvalue".into(), AttributeValue::Bool(true)); // corrupt, but not read here
    store.put("jobId", full).unwrap();
    let mut expired = job_item("expired", OWNER, Some(1_796_153_549_200), "completed");
    expired.insert("expires_at".into(), n(now() - 1));
    store.put("jobId", expired).unwrap();
    store
        .put("jobId", job_item("undated", OWNER, None, "queued"))
        .unwrap();
    let mut corrupt = job_item("corrupt", OWNER, Some(1_796_153_549_100), "queued");
    corrupt.insert("state".into(), n(3));
    store.put("jobId", corrupt).unwrap();
    let app = listing_app(store, &[]);

    let reply = answer(&app, list_as(OWNER, "")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        raw_body(&app, list_as(OWNER, "")).await,
        r#"{"request_id":"unit-1","data":{"jobs":[{"id":"full","state":"retrying","queue":"flickr_upload","failedReason":null,"progress":{"percent":40,"stage":null,"message":null},"attempts":2,"created_at":"2026-12-01T19:32:29.123Z","updated_at":"2026-12-01T19:32:30.000Z"},{"id":"corrupt","error":{"code":"ERR_INTERNAL","message":"internal error"}}],"next_page_token":null},"error":null}"#
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let empty = answer(&app, list_as(OTHER, "")).await;
    assert_eq!(
        empty.body["data"],
        json!({"jobs": [], "next_page_token": null})
    );
}

#[tokio::test]
async fn page_tokens_are_bound_to_the_caller_and_the_filter() {
    let app = listing_app(listing_store(30), &[]);
    let first = answer(&app, list_as(OWNER, "page_size=5")).await;
    let token = token_of(&first).expect("a next page");
    let filtered = answer(&app, list_as(OWNER, "page_size=5&state=queued")).await;
    let filtered_token = token_of(&filtered).expect("a next page");
    let reads = app.store().reads();

    let refused = [
        list_as(OTHER, &format!("page_token={token}")),
        list_as(OWNER, &format!("page_token={token}&state=queued")),
        list_as(OWNER, &format!("page_token={filtered_token}")),
        list_as(OWNER, &format!("page_token={filtered_token}&state=failed")),
        list_as(
            OWNER,
            &format!(
                "page_token={}{}",
                &token[..token.len() - 1],
                if token.ends_with('A') { "B" } else { "A" }
            ),
        ),
        list_as(OWNER, "page_token=not-a-token"),
        list_as(OWNER, &format!("page_token={}", "A".repeat(5000))),
    ];
    for event in refused {
        let reply = answer(&app, event).await;
        reply.assert_error(400, "ERR_INVALID_REQUEST");
        assert_eq!(reply.body["error"]["message"], "invalid page_token");
    }
    assert_eq!(app.store().reads(), reads, "no read for a refused token");

    // The right caller and filter: the next page, none of the first page again.
    let second = answer(
        &app,
        list_as(OWNER, &format!("page_token={token}&page_size=5")),
    )
    .await;
    assert_eq!(second.status, 200);
    let overlap: HashSet<String> = ids_of(&first).into_iter().collect();
    assert!(ids_of(&second)
        .iter()
        .all(|id| !overlap.contains(id) && id.starts_with("own-")));
}

#[tokio::test]
async fn page_tokens_survive_a_rotation_and_not_a_second_one_and_not_another_secret() {
    let old = listing_app(listing_store(10), &[]);
    let token = token_of(&answer(&old, list_as(OWNER, "page_size=3")).await).unwrap();
    let page = |app: App<MemoryStore>, token: String| async move {
        answer(
            &app,
            list_as(OWNER, &format!("page_token={token}&page_size=3")),
        )
        .await
    };
    let rotated = listing_app(
        listing_store(10),
        &[
            ("SHARE_TOKEN_SECRET", "new-secret"),
            ("SHARE_TOKEN_SECRET_PREVIOUS", SHARE_SECRET),
        ],
    );
    assert_eq!(page(rotated, token.clone()).await.status, 200);
    let stale = listing_app(listing_store(10), &[("SHARE_TOKEN_SECRET", "new-secret")]);
    page(stale, token.clone())
        .await
        .assert_error(400, "ERR_INVALID_REQUEST");
    let unsecret = listing_app(listing_store(10), &[("SHARE_TOKEN_SECRET", "")]);
    page(unsecret, token)
        .await
        .assert_error(400, "ERR_INVALID_REQUEST");
}

#[tokio::test]
async fn a_store_failure_of_the_listing_is_a_503() {
    let app = listing_app(listing_store(3), &[]);
    app.store()
        .fail_next([StoreError::Unavailable("throttled".into())]);
    let reply = answer(&app, list_as(OWNER, "")).await;
    reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert_eq!(reply.header("retry-after"), Some("1"));
}

#[tokio::test]
async fn a_batch_answers_in_request_order_with_not_found_indistinguishable() {
    let app = app(&[]);
    let ids = [
        "t-minimal",
        COMPLETED,            // another user's
        "t-missing-entirely", // missing
        "t-expired",
        "t-corrupt-state",
        "t-ownerless",
        "t-corrupt-returnvalue", // corrupt only where a summary does not look
        "t-failed-no-reason",
    ];
    let reply = answer(&app, batch_as(TEST_USER, &ids)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let jobs = reply.body["data"]["jobs"].as_array().unwrap();
    assert_eq!(ids_of(&reply), ids.map(String::from).to_vec());
    let not_found = json!({"code": "ERR_JOB_NOT_FOUND", "message": "job_not_found"});
    for at in [1, 2, 3, 5] {
        assert_eq!(jobs[at], json!({"id": ids[at], "error": not_found}), "{at}");
    }
    assert_eq!(
        jobs[4]["error"],
        json!({"code": "ERR_INTERNAL", "message": "internal error"})
    );
    assert_eq!(jobs[0]["state"], "queued");
    assert_eq!(jobs[6]["state"], "completed");
    assert_eq!(jobs[7]["failedReason"], Value::Null);
    assert_eq!(app.store().reads(), 1, "one BatchGetItem round");
    let raw = raw_body(&app, batch_as(TEST_USER, &ids[..1])).await;
    assert!(
        raw.contains(r#"{"id":"t-minimal","state":"queued","queue":null,"failedReason":null,"progress":null,"attempts":null,"created_at":null,"updated_at":null}"#),
        "the summary's keys in order: {raw}"
    );
}

#[tokio::test]
async fn batch_bodies_are_checked_before_credentials() {
    let app = app(&[]);
    let hundred_one: Vec<String> = (0..101).map(|i| format!("j{i}")).collect();
    let bodies = [
        None,
        Some("[]".to_string()),
        Some("{}".to_string()),
        Some(json!({"job_ids": []}).to_string()),
        Some(json!({"job_ids": hundred_one}).to_string()),
        Some(json!({"job_ids": ["a", "a"]}).to_string()),
        Some(json!({"job_ids": ["a", 7]}).to_string()),
        Some("{not json".to_string()),
    ];
    for body in bodies {
        let event = request(
            "POST",
            BATCH,
            &[("content-type", "application/json")],
            body.as_deref(),
        );
        answer(&app, event)
            .await
            .assert_error(400, "ERR_INVALID_REQUEST");
    }
    let event = request("POST", BATCH, &[("content-type", "text/plain")], Some("{}"));
    answer(&app, event)
        .await
        .assert_error(415, "ERR_UNSUPPORTED_MEDIA_TYPE");
    let big = json!({"job_ids": ["x".repeat(70 * 1024)]}).to_string();
    let event = request(
        "POST",
        BATCH,
        &[("content-type", "application/json")],
        Some(&big),
    );
    answer(&app, event)
        .await
        .assert_error(413, "ERR_PAYLOAD_TOO_LARGE");
    assert_eq!(app.store().reads(), 0);
    // A hundred is fine.
    let hundred: Vec<String> = (0..100).map(|i| format!("j{i}")).collect();
    let hundred: Vec<&str> = hundred.iter().map(String::as_str).collect();
    let reply = answer(&app, batch_as(OWNER, &hundred)).await;
    assert_eq!(ids_of(&reply).len(), 100);
}

#[tokio::test(start_paused = true)]
async fn unprocessed_keys_are_retried_and_a_batch_never_done_is_a_503() {
    let app = app(&[]);
    app.store().leave_unprocessed(Unprocessed::Rounds(2));
    let reply = answer(&app, batch_as(OWNER, &[COMPLETED, FAILED, QUEUED])).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["data"]["jobs"][0]["state"], "completed");
    assert_eq!(
        app.store().reads(),
        3,
        "two rounds left unprocessed, then done"
    );

    app.store().leave_unprocessed(Unprocessed::Always);
    let reply = answer(&app, batch_as(OWNER, &[COMPLETED])).await;
    reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert_eq!(reply.header("retry-after"), Some("1"));

    // Within the invocation's deadline: cut short, still the 503.
    let request = parse_event(&batch_as(OWNER, &[COMPLETED]).to_string()).unwrap();
    let started = tokio::time::Instant::now();
    let deadline = started + std::time::Duration::from_millis(400);
    let (response, _) = app.handle(&request, Some(deadline)).await;
    assert_eq!(response.render("unit-1").0, 503);
    assert!(started.elapsed() < std::time::Duration::from_millis(400));
}
