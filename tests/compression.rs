//! Compressed answers and compressed records (docs/API.md#compression-and-size-limits) against
//! moto and dynalite, with the large records of dev/make-fixtures.py: every route with and
//! without gzip (the exact bytes after decompression), ETag pairs and their 304s, the bombs,
//! the 406 and the 500 of the response limit; and the built binary's peak memory on the bombs.

mod common;
mod runtime_api;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use common::{
    app, as_owner, bearer, get, http_event, invoke, job_url, result_url, share_request, Reply,
    COMPLETED_JOB, OWNER,
};
use runtime_api::{Answer, Function, Invocation, RuntimeApi};

const SEARCH_M: &str = "large-search-m";
const SEARCH_B: &str = "large-search-b";
const OVER_6MB: &str = "large-over-6mb";
/// moto parses a 320 KB map item in Python, seconds when the tests run in parallel: the
/// per-attempt timeout is raised so that these tests test compression, not moto's speed.
const SLOW_STORE: &[(&str, &str)] = &[("DYNAMODB_TIMEOUT_MS", "20000")];
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn owner_get(path: &str, extra: &[(&str, &str)]) -> Value {
    let authorization = bearer(OWNER);
    let mut headers = vec![("authorization", authorization.as_str())];
    headers.extend_from_slice(extra);
    get(path, &headers)
}

fn legacy(job_id: &str, extra: &[(&str, &str)]) -> Value {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(extra);
    let body = json!({"job_id": job_id, "user_id": OWNER}).to_string();
    http_event("POST", "/api/v1/flickr/jobs/status", &headers, Some(&body))
}

/// The same event as API Gateway's REST API (payload 1.0) would send it.
fn as_rest(event: &Value) -> Value {
    let method = event["requestContext"]["http"]["method"].clone();
    let path = event["rawPath"].clone();
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": event["headers"],
        "requestContext": {"requestId": "rest-request-1", "stage": "prod", "httpMethod": method},
        "body": event.get("body").cloned().unwrap_or(Value::Null),
        "isBase64Encoded": false
    })
}

/// A request of a route, with extra headers.
type Route = Box<dyn Fn(&[(&str, &str)]) -> Value>;

fn assert_gzip(reply: &Reply) {
    assert_eq!(
        reply.header("content-encoding"),
        Some("gzip"),
        "{:?}",
        reply.headers
    );
    let wire = reply.wire_body.as_ref().expect("a base64 body");
    assert_eq!(&wire[..2], &[0x1f, 0x8b], "gzip magic");
}

fn assert_identity(reply: &Reply) {
    assert_eq!(
        reply.header("content-encoding"),
        None,
        "{:?}",
        reply.headers
    );
    assert!(reply.wire_body.is_none(), "not base64");
}

#[tokio::test]
async fn every_route_with_and_without_gzip_gives_the_same_bytes() {
    let app = app(SLOW_STORE).await;
    let routes: Vec<(&str, Route)> = vec![
        ("POST /jobs/status", Box::new(|h| legacy(SEARCH_B, h))),
        (
            "GET /jobs/{id}",
            Box::new(|h| owner_get(&job_url(SEARCH_B), h)),
        ),
        (
            "GET /jobs/{id}/result",
            Box::new(|h| owner_get(&result_url(SEARCH_B), h)),
        ),
        (
            "GET /jobs/{id}/result as a page",
            Box::new(|h| {
                let mut headers = vec![("accept", BROWSER)];
                headers.extend_from_slice(h);
                owner_get(&result_url(SEARCH_B), &headers)
            }),
        ),
    ];
    for (name, event) in &routes {
        let plain = invoke(&app, &event(&[])).await;
        let zipped = invoke(&app, &event(&[("accept-encoding", "gzip, deflate, br")])).await;
        assert_eq!(plain.status, 200, "{name}: {plain:?}");
        assert_eq!(zipped.status, 200, "{name}");
        assert_identity(&plain);
        assert_gzip(&zipped);
        assert_eq!(
            zipped.raw_body, plain.raw_body,
            "{name}: the same bytes once decompressed"
        );
        let wire = zipped.wire_body.as_ref().unwrap().len();
        let text = plain.raw_body.as_ref().unwrap().len();
        assert!(wire * 4 < text, "{name}: {wire} of {text} bytes");
        let vary = if name.starts_with("GET") {
            "Accept, Accept-Encoding"
        } else {
            "Accept-Encoding"
        };
        assert_eq!(plain.header("vary"), Some(vary), "{name}");
        assert_eq!(zipped.header("vary"), Some(vary), "{name}");
        // Refusing identity, and x-gzip, are gzip too; a lower gzip q-value is not.
        let refusing = invoke(&app, &event(&[("accept-encoding", "x-gzip, identity;q=0")])).await;
        assert_gzip(&refusing);
        let lower = invoke(&app, &event(&[("accept-encoding", "gzip;q=0.2, identity")])).await;
        assert_identity(&lower);
        assert_eq!(lower.raw_body, plain.raw_body);
    }
}

#[tokio::test]
async fn a_compressed_record_answers_as_its_map() {
    let app = app(SLOW_STORE).await;
    for encoding in ["", "gzip"] {
        let headers = [("accept-encoding", encoding)];
        let m = invoke(&app, &owner_get(&result_url(SEARCH_M), &headers)).await;
        let b = invoke(&app, &owner_get(&result_url(SEARCH_B), &headers)).await;
        assert_eq!(m.status, 200);
        assert_eq!(m.raw_body, b.raw_body, "result, {encoding:?}");
        assert_eq!(
            m.data()["photos"]["photo"].as_array().map(Vec::len),
            Some(500)
        );
        let m = invoke(&app, &owner_get(&job_url(SEARCH_M), &headers)).await;
        let b = invoke(&app, &owner_get(&job_url(SEARCH_B), &headers)).await;
        assert_eq!(m.data()["returnvalue"], b.data()["returnvalue"]);
        let m = invoke(&app, &legacy(SEARCH_M, &headers)).await;
        let b = invoke(&app, &legacy(SEARCH_B, &headers)).await;
        assert_eq!(m.data()["returnvalue"], b.data()["returnvalue"]);
        assert_eq!(b.data()["state"], "completed");
    }
}

#[tokio::test]
async fn etag_pairs_and_their_304s() {
    let app = app(SLOW_STORE).await;
    let url = job_url(SEARCH_B);
    let plain = invoke(&app, &owner_get(&url, &[])).await;
    let zipped = invoke(&app, &owner_get(&url, &[("accept-encoding", "gzip")])).await;
    let tag = plain.header("etag").expect("a tag").to_string();
    let gzip_tag = zipped.header("etag").expect("a tag").to_string();
    assert_eq!(gzip_tag, format!("{}-gzip\"", tag.trim_end_matches('"')));
    for (held, encoding, expected_tag) in [
        (&tag, "", &tag),
        (&tag, "gzip", &gzip_tag),
        (&gzip_tag, "gzip", &gzip_tag),
        (&gzip_tag, "", &tag),
    ] {
        let event = owner_get(
            &url,
            &[("if-none-match", held), ("accept-encoding", encoding)],
        );
        let reply = invoke(&app, &event).await;
        assert_eq!(reply.status, 304, "{held} {encoding:?}");
        assert_eq!(reply.raw_body, None);
        assert_eq!(
            reply.header("content-encoding"),
            None,
            "a 304 is never compressed"
        );
        assert_eq!(
            reply.header("etag"),
            Some(expected_tag.as_str()),
            "the tag of its 200"
        );
        assert_eq!(reply.header("vary"), Some("Accept, Accept-Encoding"));
    }
    // The same data as M has the same tags.
    let m = invoke(&app, &owner_get(&job_url(SEARCH_M), &[])).await;
    assert_ne!(
        m.header("etag"),
        Some(tag.as_str()),
        "another job id, other data"
    );
}

#[tokio::test]
async fn small_answers_and_share_links_are_never_compressed() {
    let app = app(SLOW_STORE).await;
    let gzip = [("accept-encoding", "gzip")];
    let small = invoke(&app, &owner_get(&job_url(COMPLETED_JOB), &gzip)).await;
    assert_eq!(small.status, 200);
    assert!(small.raw_body.as_ref().unwrap().len() < 1024);
    assert_identity(&small);
    let mut share = share_request(SEARCH_B, &bearer(OWNER), None);
    share["headers"]["accept-encoding"] = json!("gzip");
    let share = invoke(&app, &share).await;
    assert_eq!(share.status, 201);
    assert_identity(&share);
    assert_eq!(share.header("vary"), None);
    // A large answer through REST and ALB stays as it is (their own compression is theirs).
    let rest = invoke(&app, &as_rest(&owner_get(&result_url(SEARCH_B), &gzip))).await;
    assert_eq!(rest.status, 200);
    assert_identity(&rest);
    let _ = as_owner;
}

#[tokio::test]
async fn unusable_compressed_records_are_the_corrupt_record_500() {
    let app = app(SLOW_STORE).await;
    for job in ["gzip-bomb", "gzip-bomb-200mib", "gzip-not-json", "not-gzip"] {
        for event in [
            owner_get(&result_url(job), &[("accept-encoding", "gzip")]),
            owner_get(&job_url(job), &[]),
            legacy(job, &[]),
        ] {
            let reply = invoke(&app, &event).await;
            reply.assert_error(500, "ERR_INTERNAL");
            assert_eq!(reply.error_message(), Some("internal error"));
        }
    }
}

#[tokio::test]
async fn the_response_limit_is_406_or_500_never_a_lambda_error() {
    let app = app(SLOW_STORE).await;
    for event in [
        |h: &[(&str, &str)]| owner_get(&result_url(OVER_6MB), h),
        |h: &[(&str, &str)]| owner_get(&job_url(OVER_6MB), h),
        |h: &[(&str, &str)]| legacy(OVER_6MB, h),
    ] {
        let refused = invoke(&app, &event(&[])).await;
        refused.assert_error(406, "ERR_NOT_ACCEPTABLE");
        assert!(refused.error_message().unwrap().contains("gzip"));
        let zipped = invoke(&app, &event(&[("accept-encoding", "gzip")])).await;
        assert_eq!(zipped.status, 200);
        assert_gzip(&zipped);
        assert!(zipped.raw_body.as_ref().unwrap().len() > 6_000_000);
        assert!(zipped.wire_body.as_ref().unwrap().len() < 1_000_000);
        // REST: the function does not compress there, and nothing else fits.
        let rest = invoke(&app, &as_rest(&event(&[("accept-encoding", "gzip")]))).await;
        rest.assert_error(500, "ERR_INTERNAL");
    }
    // Through the binary's serialization too: the 406 is an HTTP answer, not an invocation error.
    let result = owner_get(&result_url(OVER_6MB), &[]);
    let refused = invoke(&app, &result).await;
    assert_eq!(refused.header("vary"), Some("Accept, Accept-Encoding"));
}

/// Peak resident memory of a process (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmHWM")
}

fn start_function(api: &RuntimeApi, concurrency: &str) -> Function {
    let endpoint = common::endpoint();
    let table = common::table();
    Function::start(
        Path::new(env!("CARGO_BIN_EXE_flickr-job-status")),
        api,
        &[
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
            ("JOBS_TABLE", table.as_str()),
            ("JWT_SECRET", common::JWT_SECRET),
            ("AWS_LAMBDA_MAX_CONCURRENCY", concurrency),
            ("DYNAMODB_TIMEOUT_MS", "20000"),
        ],
    )
}

fn invocation(id: String, event: &Value) -> Invocation {
    Invocation {
        id,
        trace_id: "Root=1-00000000-000000000000000000000000".into(),
        time_left: Duration::from_secs(30),
        event: event.to_string(),
    }
}

/// The status codes the binary answered, by invocation, and its peak RSS.
async fn through_the_binary(concurrency: &str, events: Vec<Value>) -> (Vec<u16>, u64) {
    let api = RuntimeApi::start().await;
    let function = start_function(&api, concurrency);
    let count = events.len();
    let ids: Vec<String> = (0..count).map(|i| format!("bomb-{i}")).collect();
    api.enqueue(
        ids.iter()
            .zip(&events)
            .map(|(id, event)| invocation(id.clone(), event)),
    );
    let outcome = api.wait_for(count, Duration::from_secs(60)).await;
    let peak = peak_rss_kib(function.pid());
    function.stop();
    assert!(outcome.bad_posts.is_empty(), "{:?}", outcome.bad_posts);
    eprintln!(
        "{count} invocations, at most {} in flight over {} connections",
        outcome.max_in_flight, outcome.connections
    );
    let statuses = ids
        .iter()
        .map(|id| match outcome.answers.get(id) {
            Some(Answer::Response(body)) => {
                let value: Value = serde_json::from_str(body).expect("a payload");
                value["statusCode"].as_u64().unwrap_or(0) as u16
            }
            other => panic!("{id}: {other:?}"),
        })
        .collect();
    (statuses, peak)
}

#[tokio::test]
async fn the_binary_keeps_memory_bounded_on_bombs() {
    let bomb = owner_get(
        &result_url("gzip-bomb-200mib"),
        &[("accept-encoding", "gzip")],
    );
    let search = owner_get(&result_url(SEARCH_B), &[("accept-encoding", "gzip")]);
    let (statuses, baseline) = through_the_binary("1", vec![search.clone()]).await;
    assert_eq!(statuses, [200]);
    // One at a time: each bomb stops at the 16 MiB cap.
    let (statuses, one) =
        through_the_binary("1", vec![bomb.clone(), bomb.clone(), search.clone()]).await;
    assert_eq!(statuses, [500, 500, 200]);
    // Eight at once in one process: at most two past 1 MiB at a time.
    let (statuses, eight) = through_the_binary("8", vec![bomb; 8]).await;
    assert_eq!(statuses, [500; 8]);
    eprintln!(
        "peak RSS: the 500-photo B result {baseline} KiB; two 200 MiB bombs one at a time {one} KiB; eight at once {eight} KiB"
    );
    let mib = 1024;
    assert!(
        one < baseline + 24 * mib,
        "{one} KiB against {baseline} KiB"
    );
    assert!(
        eight < baseline + 2 * 17 * mib + 6 * 2 * mib + 16 * mib,
        "{eight} KiB"
    );
}

/// Seconds of CPU (user + system) a process has used, from /proc/<pid>/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc");
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    // USER_HZ is 100 on Linux.
    ticks / 100.0
}

/// The figures of docs/performance.md#compressed-answers: CPU per request and peak RSS of a
/// binary (FLICKR_BINARY, else the debug build) for the 500-photo result stored as M and as B,
/// answered identity and gzip, and a small job for comparison. Not a test: run it on dynalite
/// (moto takes ~0.5 s per read of the map item), against the release build, with
/// `cargo build --release && FLICKR_BINARY=$PWD/target/release/flickr-job-status
/// DYNAMODB_SERVER=dynalite ./dev/test rust --test compression measure -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement: prints figures, asserts nothing about time"]
async fn measure_large_results() {
    let binary = std::env::var("FLICKR_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_flickr-job-status").to_string());
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let endpoint = common::endpoint();
    let table = common::table();
    println!("binary {binary}, {rounds} invocations per case after 10 to warm up");
    println!("| record | answer | CPU µs / request | peak RSS MB | bytes on the wire |");
    println!("|---|---|---:|---:|---:|");
    for (record, job) in [
        ("small (sample job)", COMPLETED_JOB),
        ("500 photos as M", SEARCH_M),
        ("500 photos as B", SEARCH_B),
    ] {
        for encoding in ["identity", "gzip"] {
            let event = owner_get(&result_url(job), &[("accept-encoding", encoding)]);
            let api = RuntimeApi::start().await;
            let function = Function::start(
                Path::new(&binary),
                &api,
                &[
                    ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
                    ("JOBS_TABLE", table.as_str()),
                    ("JWT_SECRET", common::JWT_SECRET),
                    ("DYNAMODB_TIMEOUT_MS", "20000"),
                ],
            );
            let warm: Vec<Invocation> = (0..10)
                .map(|i| invocation(format!("warm-{i}"), &event))
                .collect();
            api.enqueue(warm);
            let outcome = api.wait_for(10, Duration::from_secs(60)).await;
            let wire = match outcome.answers.get("warm-0") {
                Some(Answer::Response(body)) => {
                    let reply = common::parse_lambda_response(&serde_json::from_str(body).unwrap());
                    assert_eq!(reply.status, 200);
                    reply
                        .wire_body
                        .map_or(reply.raw_body.map_or(0, |b| b.len()), |w| w.len())
                }
                other => panic!("{other:?}"),
            };
            let before = cpu_seconds(function.pid());
            api.enqueue((0..rounds).map(|i| invocation(format!("run-{i}"), &event)));
            let outcome = api.wait_for(10 + rounds, Duration::from_secs(600)).await;
            assert_eq!(outcome.answers.len(), 10 + rounds);
            let cpu = (cpu_seconds(function.pid()) - before) / rounds as f64 * 1e6;
            let peak = peak_rss_kib(function.pid()) as f64 / 1024.0;
            function.stop();
            println!("| {record} | {encoding} | {cpu:.0} | {peak:.1} | {wire} |");
        }
    }
}
