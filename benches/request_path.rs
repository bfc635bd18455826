//! The request path in process, with a store that answers from memory: raw event → parse →
//! route → validate → identity → record mapping → view → envelope → Lambda payload.
//! `cargo bench`; the side-by-side Lambda figures come from dev/bench (see README).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use criterion::{criterion_group, criterion_main, Criterion};
use flickr_job_status::app::App;
use flickr_job_status::config::Config;
use flickr_job_status::http::event::parse_event;
use flickr_job_status::jobs::JobRecord;
use flickr_job_status::store::{decode_record, JobStore, StoreError};
use flickr_job_status::telemetry::{emf_line, RequestSummary};
use serde_json::json;

const OWNER: &str = "09b4e414-4f70-4226-9ee8-f9e815fc2539";
const JOB: &str = "e6b6634c-e07c-43f0-88b3-9516590aad77";

/// Items as DynamoDB would return them, mapped on every read like the real store does.
struct MemoryStore(HashMap<String, HashMap<String, AttributeValue>>);

impl JobStore for MemoryStore {
    async fn get_job(&self, job_id: &str) -> Result<Option<JobRecord>, StoreError> {
        Ok(self.0.get(job_id).cloned().map(decode_record))
    }
}

fn completed_item() -> HashMap<String, AttributeValue> {
    let s = |v: &str| AttributeValue::S(v.to_string());
    let map = |pairs: Vec<(&str, AttributeValue)>| {
        AttributeValue::M(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    };
    HashMap::from([
        ("user_id".to_string(), s(OWNER)),
        ("state".to_string(), s("completed")),
        ("target".to_string(), s("rest")),
        (
            "returnvalue".to_string(),
            map(vec![
                ("from_cache", AttributeValue::Bool(false)),
                (
                    "flickr",
                    map(vec![
                        ("stat", s("ok")),
                        ("method", map(vec![("_content", s("flickr.test.echo"))])),
                        ("name", map(vec![("_content", s("callback-test"))])),
                    ]),
                ),
                (
                    "observability",
                    map(vec![
                        ("ok", AttributeValue::Bool(true)),
                        ("status", AttributeValue::N("202".into())),
                    ]),
                ),
            ]),
        ),
        ("failedReason".to_string(), AttributeValue::Null(true)),
        ("stacktrace".to_string(), AttributeValue::L(vec![])),
    ])
}

fn http_api_event(
    method: &str,
    path: &str,
    headers: serde_json::Value,
    body: Option<&str>,
) -> String {
    json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1", "userAgent": "curl/8"},
            "requestId": "bench-request", "routeKey": "$default", "stage": "$default", "timeEpoch": 1795698000000u64
        },
        "body": body, "isBase64Encoded": false
    })
    .to_string()
}

fn bench(c: &mut Criterion) {
    let config = Config::from_lookup(|name| match name {
        "JOBS_TABLE" => Some("jobs".into()),
        "JWT_SECRET" => Some("bench-secret".into()),
        _ => None,
    })
    .expect("config");
    let app = App::new(
        &config,
        MemoryStore(HashMap::from([(JOB.to_string(), completed_item())])),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let body = json!({"job_id": JOB, "user_id": OWNER}).to_string();
    let token = flickr_job_status::auth::bearer::mint(
        b"bench-secret",
        &flickr_job_status::auth::bearer::Claims {
            sub: OWNER.into(),
            exp: 4_102_444_800,
            ..Default::default()
        },
    )
    .expect("token");
    let cases = [
        (
            "post_status_completed",
            http_api_event(
                "POST",
                "/api/v1/flickr/jobs/status",
                json!({"content-type": "application/json"}),
                Some(&body),
            ),
        ),
        (
            "post_status_bad_json",
            http_api_event(
                "POST",
                "/api/v1/flickr/jobs/status",
                json!({"content-type": "application/json"}),
                Some("{\"job_id\":"),
            ),
        ),
        (
            "get_job_bearer",
            http_api_event(
                "GET",
                &format!("/api/v1/flickr/jobs/{JOB}"),
                json!({"authorization": format!("Bearer {token}")}),
                None,
            ),
        ),
    ];
    // What `lambda::handle_event` does, minus writing the log and metrics lines to stdout
    // (benchmarked apart below, as formatting only).
    let mut group = c.benchmark_group("request_path");
    for (name, event) in cases {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| async {
                let request = parse_event(&event).expect("an HTTP event");
                let (response, _trace) = app.handle(&request, None).await;
                let payload = response.into_lambda(request.origin, "bench-request");
                serde_json::to_vec(&payload).expect("serializes")
            })
        });
    }
    let summary = RequestSummary {
        request_id: "bench-request",
        xray_trace_id: Some("Root=1-6745c8a0-3b8f1e2d4c5a6b7c8d9e0f1a"),
        route: "status",
        status: 200,
        latency: std::time::Duration::from_micros(150),
        store_latency: Some(std::time::Duration::from_micros(120)),
        job_state: Some("completed"),
        cold_start: false,
    };
    group.bench_function("emf_line", |b| {
        b.iter(|| emf_line(&summary, std::time::SystemTime::now()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
