//! The request path in process, with a store that answers from memory: raw event → parse →
//! route → validate → identity → record mapping → view → envelope → Lambda payload.
//! `cargo bench`; the side-by-side Lambda figures come from dev/bench (see README).

use criterion::{criterion_group, criterion_main, Criterion};
use flickr_job_status::config::Config;
use flickr_job_status::http::event::parse_event;
use flickr_job_status::store::memory::MemoryStore;
use flickr_job_status::telemetry::{emf_line, RequestSummary};
use flickr_job_status::wiring;
use serde_json::json;

const OWNER: &str = "09b4e414-4f70-4226-9ee8-f9e815fc2539";
const JOB: &str = "e6b6634c-e07c-43f0-88b3-9516590aad77";

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
    // The sample jobs of ./dev/run, decoded on every read as the DynamoDB store does.
    let store = MemoryStore::from_typed_json(include_str!("../dev/sample-jobs.json"), "jobId")
        .expect("sample jobs");
    let app = wiring::app(&config, store);
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
        reads: 1,
        waited: None,
        job_state: Some("completed"),
        refusal: None,
        cold_start: false,
    };
    group.bench_function("emf_line", |b| {
        b.iter(|| emf_line(&summary, std::time::SystemTime::now()))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
