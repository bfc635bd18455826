//! `POST /jobs/batch` on the local DynamoDB server (moto, then dynalite) over the seeded
//! fixtures, and against a fake DynamoDB that leaves keys unprocessed
//! (docs/API.md#post-jobsbatch--many-jobs-by-id).

mod common;

use std::time::{Duration, Instant};

use common::fake_dynamo::{Behaviour, FakeDynamo};
use common::*;
use serde_json::{json, Value};

const BATCH: &str = "/api/v1/flickr/jobs/batch";

fn batch_request(user: &str, ids: &[String]) -> Value {
    http_event(
        "POST",
        BATCH,
        &[
            ("authorization", &bearer(user)),
            ("content-type", "application/json"),
        ],
        Some(&json!({ "job_ids": ids }).to_string()),
    )
}

#[tokio::test]
async fn a_hundred_ids_owned_foreign_missing_expired_corrupt_in_request_order() {
    let app = app(&[]).await;
    let mut ids: Vec<String> = [
        "t-minimal",             // owned
        COMPLETED_JOB,           // OWNER's: foreign to TEST_USER
        "t-expired",             // expired
        "t-corrupt-state",       // corrupt
        "t-ownerless",           // no owner: not found
        "t-huge",                // owned, large result never read
        "t-corrupt-returnvalue", // corrupt only in what a summary never reads
        "t-metadata",
        "a/b ?#é%",
    ]
    .map(String::from)
    .to_vec();
    ids.extend((ids.len()..100).map(|i| format!("missing-{i}")));
    let reply = invoke(&app, &batch_request(TEST_USER, &ids)).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(app.reads(), 1, "one BatchGetItem");
    let jobs = reply.data()["jobs"].as_array().expect("jobs");
    let answered: Vec<&str> = jobs.iter().map(|job| job["id"].as_str().unwrap()).collect();
    assert_eq!(answered, ids.iter().map(String::as_str).collect::<Vec<_>>());

    let not_found = json!({"code": "ERR_JOB_NOT_FOUND", "message": "job_not_found"});
    for at in [1, 2, 4].into_iter().chain(9..100) {
        assert_eq!(
            jobs[at],
            json!({"id": ids[at], "error": not_found}),
            "{}",
            ids[at]
        );
    }
    assert_eq!(
        jobs[3],
        json!({"id": "t-corrupt-state", "error": {"code": "ERR_INTERNAL", "message": "internal error"}})
    );
    assert_eq!(jobs[0]["state"], "queued");
    assert_eq!(jobs[5]["state"], "completed");
    assert_eq!(jobs[6]["state"], "completed");
    assert_eq!(jobs[7]["state"], "retrying");
    assert_eq!(jobs[8]["state"], "queued");
    // A summary never carries the result: the huge one is not in the answer.
    assert!(reply.raw_body.as_ref().unwrap().len() < 16 * 1024);
}

#[tokio::test]
async fn duplicates_and_a_hundred_and_one_are_400_without_a_read() {
    let app = app(&[]).await;
    let hundred_one: Vec<String> = (0..101).map(|i| format!("j-{i}")).collect();
    let duplicates = vec!["t-minimal".to_string(), "t-minimal".to_string()];
    for ids in [hundred_one, duplicates, Vec::new()] {
        let reply = invoke(&app, &batch_request(TEST_USER, &ids)).await;
        reply.assert_error(400, "ERR_INVALID_REQUEST");
    }
    let reply = invoke(&app, &get(BATCH, &[("authorization", &bearer(TEST_USER))])).await;
    reply.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
    assert_eq!(reply.header("allow"), Some("POST"));
    assert_eq!(app.reads(), 0);
}

const UNPROCESSED: &str = r#"{"Responses":{"flickr-jobs-test":[]},"UnprocessedKeys":{"flickr-jobs-test":{"Keys":[{"jobId":{"S":"j-1"}}]}}}"#;
const ANSWERED: &str = r#"{"Responses":{"flickr-jobs-test":[{"jobId":{"S":"j-1"},"user_id":{"S":"u-1"},"state":{"S":"queued"}}]},"UnprocessedKeys":{}}"#;

#[tokio::test]
async fn keys_left_unprocessed_once_are_retried() {
    let fake = FakeDynamo::start(Behaviour::Sequence(vec![
        UNPROCESSED.into(),
        ANSWERED.into(),
    ]))
    .await;
    let app = app_at(&fake.endpoint, &[("JOBS_TABLE", "flickr-jobs-test")]).await;
    let reply = invoke(&app, &batch_request("u-1", &["j-1".to_string()])).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.data()["jobs"][0]["state"], "queued");
    assert_eq!(fake.requests(), 2, "the first answer and one retry");
}

#[tokio::test]
async fn keys_left_unprocessed_always_are_a_503_in_time() {
    let fake = FakeDynamo::start(Behaviour::Sequence(vec![UNPROCESSED.into()])).await;
    let app = app_at(&fake.endpoint, &[("JOBS_TABLE", "flickr-jobs-test")]).await;
    let started = Instant::now();
    let reply = invoke(&app, &batch_request("u-1", &["j-1".to_string()])).await;
    reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert_eq!(reply.header("retry-after"), Some("1"));
    assert_eq!(fake.requests(), 7, "the first round and six retries");
    assert!(started.elapsed() < Duration::from_secs(5));

    // With a Lambda deadline nearer than the retries: the 503 still comes before it.
    let started = Instant::now();
    let reply = invoke_with_deadline(&app, &batch_request("u-1", &["j-1".to_string()]), 600).await;
    reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_throttled_batch_is_a_503() {
    let fake = FakeDynamo::start(Behaviour::error(
        400,
        "ProvisionedThroughputExceededException",
    ))
    .await;
    let app = app_at(&fake.endpoint, &[]).await;
    let reply = invoke(&app, &batch_request("u-1", &["j-1".to_string()])).await;
    reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert!(!reply
        .raw_body
        .unwrap_or_default()
        .contains("internal detail"));
}
