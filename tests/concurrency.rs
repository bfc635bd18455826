//! Many invocations in one process (Lambda Managed Instances, docs/API.md#13-many-invocations-per-process): the built binary
//! under a Runtime API double, against the local DynamoDB server. Every answer and every log
//! line must belong to its own invocation: request id, trace id, identity, deadline and the
//! cold-start flag never leak between invocations that run at once.

mod common;
mod runtime_api;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::{
    bearer, http_event, parse_lambda_response, status_of, status_request, Reply, COMPLETED_JOB,
    FAILED_JOB, MISSING_JOB, OTHER_USER, OWNER, QUEUED_JOB, RETRYING_JOB, TEST_USER,
};
use runtime_api::{Answer, Function, Invocation, RuntimeApi};
use serde_json::{json, Value};

/// OTHER_USER's job in dev/sample-jobs.json.
const OTHER_USERS_JOB: &str = "c0ffee00-aaaa-4bbb-8ccc-0123456789ab";
/// A record of TEST_USER whose `returnvalue` has an impossible type (tests/fixtures/records.json).
const CORRUPT_JOB: &str = "t-corrupt-returnvalue";
/// Long enough for any read; the short one is already inside the 250 ms answer margin.
const TIME_LEFT: Duration = Duration::from_secs(60);
const SHORT_TIME_LEFT: Duration = Duration::from_millis(100);

/// One kind of request in the mix, and what its answer and log lines must say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Completed,
    Failed,
    Queued,
    Retrying,
    OtherOwner,
    Missing,
    BadBody,
    GetOwn,
    GetAsOtherUser,
    GetOthersOwn,
    Corrupt,
    DeadlineTooClose,
    NotHttp,
}

const MIX: [Kind; 13] = [
    Kind::Completed,
    Kind::Failed,
    Kind::Queued,
    Kind::Retrying,
    Kind::OtherOwner,
    Kind::Missing,
    Kind::BadBody,
    Kind::GetOwn,
    Kind::GetAsOtherUser,
    Kind::GetOthersOwn,
    Kind::Corrupt,
    Kind::DeadlineTooClose,
    Kind::NotHttp,
];

/// What one invocation is and must produce.
#[derive(Debug, Clone)]
struct Case {
    kind: Kind,
    invocation: Invocation,
    /// The id the answer and the log lines must carry: the gateway's, or the invocation's
    /// when the event is not an HTTP request.
    request_id: String,
    job_id: Option<&'static str>,
    status: u16,
    error_code: Option<&'static str>,
    /// The job state in `data` and in the request log line.
    state: Option<&'static str>,
    route: &'static str,
}

fn case(index: usize) -> Case {
    let kind = MIX[(index * 7 + index / MIX.len()) % MIX.len()];
    let gateway_id = format!("gw-{index:05}");
    let own = |job_id| (status_of(job_id, OWNER), Some(job_id), "status", TIME_LEFT);
    let get = |job_id: &'static str, user: &str| {
        let path = format!("/api/v1/flickr/jobs/{job_id}");
        let event = http_event("GET", &path, &[("authorization", &bearer(user))], None);
        (event, Some(job_id), "job", TIME_LEFT)
    };
    let (mut event, job_id, route, time_left) = match kind {
        Kind::Completed => own(COMPLETED_JOB),
        Kind::Failed => own(FAILED_JOB),
        Kind::Queued => own(QUEUED_JOB),
        Kind::Retrying => own(RETRYING_JOB),
        Kind::OtherOwner => own(OTHER_USERS_JOB),
        Kind::Missing => own(MISSING_JOB),
        Kind::BadBody => (status_request(r#"{"job_id":7}"#), None, "status", TIME_LEFT),
        Kind::GetOwn => get(COMPLETED_JOB, OWNER),
        Kind::GetAsOtherUser => get(COMPLETED_JOB, OTHER_USER),
        Kind::GetOthersOwn => get(OTHER_USERS_JOB, OTHER_USER),
        Kind::Corrupt => (
            status_of(CORRUPT_JOB, TEST_USER),
            Some(CORRUPT_JOB),
            "status",
            TIME_LEFT,
        ),
        Kind::DeadlineTooClose => (
            status_of(COMPLETED_JOB, OWNER),
            Some(COMPLETED_JOB),
            "status",
            SHORT_TIME_LEFT,
        ),
        Kind::NotHttp => (json!({"hello": "world"}), None, "unmatched", TIME_LEFT),
    };
    let invocation_id = format!("inv-{index:05}");
    let request_id = if kind == Kind::NotHttp {
        invocation_id.clone()
    } else {
        event["requestContext"]["requestId"] = json!(gateway_id);
        gateway_id
    };
    let (status, error_code, state) = match kind {
        Kind::Completed | Kind::GetOwn | Kind::GetOthersOwn => (200, None, Some("completed")),
        Kind::Failed => (200, None, Some("failed")),
        Kind::Queued => (200, None, Some("queued")),
        Kind::Retrying => (200, None, Some("retrying")),
        Kind::OtherOwner | Kind::Missing | Kind::GetAsOtherUser => {
            (404, Some("ERR_JOB_NOT_FOUND"), None)
        }
        Kind::BadBody | Kind::NotHttp => (400, Some("ERR_INVALID_REQUEST"), None),
        Kind::Corrupt => (500, Some("ERR_INTERNAL"), None),
        Kind::DeadlineTooClose => (503, Some("ERR_SERVICE_UNAVAILABLE"), None),
    };
    Case {
        kind,
        invocation: Invocation {
            trace_id: format!(
                "Root=1-67891233-{index:024x};Parent={:016x};Sampled=1",
                index * 31
            ),
            id: invocation_id,
            time_left,
            event: event.to_string(),
        },
        request_id,
        job_id,
        status,
        error_code,
        state,
        route,
    }
}

/// The built binary against the double and the local DynamoDB server, with JSON logs.
fn start_function(api: &RuntimeApi, max_concurrency: Option<usize>) -> Function {
    let endpoint = common::endpoint();
    let table = common::table();
    let concurrency = max_concurrency.map(|n| n.to_string());
    let mut env = vec![
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("JOBS_TABLE", table.as_str()),
        ("JWT_SECRET", common::JWT_SECRET),
    ];
    if let Some(concurrency) = &concurrency {
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY", concurrency));
    }
    Function::start(
        Path::new(env!("CARGO_BIN_EXE_flickr-job-status")),
        api,
        &env,
    )
}

/// Runs `count` invocations of the mix through one process; returns the failures found.
async fn run_mix(count: usize, max_concurrency: Option<usize>) -> (Vec<String>, usize) {
    let api = RuntimeApi::start().await;
    let cases: Vec<Case> = (0..count).map(case).collect();
    let function = start_function(&api, max_concurrency);
    api.enqueue(cases.iter().map(|case| case.invocation.clone()));
    let outcome = api.wait_for(count, Duration::from_secs(30)).await;
    let lines = function.stop();

    let mut failures = Vec::new();
    if outcome.answers.len() != count {
        failures.push(format!(
            "{} of {count} invocations answered",
            outcome.answers.len()
        ));
    }
    for post in &outcome.bad_posts {
        failures.push(format!(
            "post for an unknown or answered invocation: {post}"
        ));
    }
    for case in &cases {
        match outcome.answers.get(&case.invocation.id) {
            Some(Answer::Response(body)) => check_answer(case, body, &mut failures),
            Some(Answer::Error(body)) => failures.push(format!(
                "{}: an invocation error instead of an HTTP answer: {body}",
                case.invocation.id
            )),
            None => {}
        }
    }
    check_log(&cases, &lines, &mut failures);
    eprintln!(
        "{count} invocations, AWS_LAMBDA_MAX_CONCURRENCY={max_concurrency:?}: {} log lines checked, at most {} in flight, {} runtime API connections",
        lines.len(),
        outcome.max_in_flight,
        outcome.connections
    );
    (failures, outcome.max_in_flight)
}

fn check_answer(case: &Case, body: &str, failures: &mut Vec<String>) {
    let id = &case.invocation.id;
    let reply: Reply = match serde_json::from_str::<Value>(body) {
        Ok(value) if value["statusCode"].is_u64() => parse_lambda_response(&value),
        _ => {
            failures.push(format!("{id}: not a Lambda HTTP response: {body}"));
            return;
        }
    };
    let mut expect = |what: &str, ok: bool| {
        if !ok {
            let body: String = reply
                .raw_body
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(160)
                .collect();
            failures.push(format!(
                "{id} ({:?}, expected {} for {}): {what}: got {} {body}",
                case.kind, case.status, case.request_id, reply.status
            ));
        }
    };
    expect("status", reply.status == case.status);
    expect(
        "request_id in the body",
        reply.body["request_id"] == json!(case.request_id),
    );
    expect(
        "x-request-id",
        reply.header("x-request-id") == Some(case.request_id.as_str()),
    );
    expect("error code", reply.error_code() == case.error_code);
    if case.status == 200 {
        expect(
            "the job asked for",
            reply.data()["id"] == json!(case.job_id),
        );
        expect(
            "the job's state",
            reply.data()["state"] == json!(case.state),
        );
    }
}

/// Every line is JSON and belongs to one invocation: one request line and one metrics line
/// per invocation, with that invocation's ids and outcome, and warnings only where its own
/// request called for one.
fn check_log(cases: &[Case], lines: &[String], failures: &mut Vec<String>) {
    let by_request_id: HashMap<&str, &Case> = cases
        .iter()
        .map(|case| (case.request_id.as_str(), case))
        .collect();
    let by_invocation_id: HashMap<&str, &Case> = cases
        .iter()
        .map(|case| (case.invocation.id.as_str(), case))
        .collect();
    let mut request_lines: HashMap<&str, usize> = HashMap::new();
    let mut metric_lines: HashMap<&str, usize> = HashMap::new();
    let mut cold_request_lines = Vec::new();
    let mut cold_metric_lines = Vec::new();
    let mut other_lines: HashMap<&str, usize> = HashMap::new();

    for line in lines {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            failures.push(format!("a log line that is not JSON: {line}"));
            continue;
        };
        let mut fail = |what: &str| failures.push(format!("{what}: {line}"));
        if value.get("_aws").is_some() {
            let Some(case) = value["request_id"]
                .as_str()
                .and_then(|id| by_request_id.get(id))
            else {
                fail("a metrics line of no invocation");
                continue;
            };
            *metric_lines.entry(&case.request_id).or_default() += 1;
            if value["StatusClass"] != json!(format!("{}xx", case.status / 100)) {
                fail("a metrics line with another invocation's status class");
            }
            if value["Route"] != json!(case.route) {
                fail("a metrics line with another invocation's route");
            }
            if value["ColdStart"] == json!(1) {
                cold_metric_lines.push(case.request_id.clone());
            }
            continue;
        }
        // Lines written while an invocation runs carry lambda_runtime's span of it.
        let span_case = value["span"]["requestId"]
            .as_str()
            .and_then(|id| by_invocation_id.get(id));
        let fields = &value["fields"];
        if fields["message"] == json!("request") {
            let Some(case) = fields["request_id"]
                .as_str()
                .and_then(|id| by_request_id.get(id))
            else {
                fail("a request line of no invocation");
                continue;
            };
            *request_lines.entry(&case.request_id).or_default() += 1;
            if span_case.map(|span| &span.invocation.id) != Some(&case.invocation.id) {
                fail("a request line in another invocation's span");
            }
            if fields["status"] != json!(case.status) {
                fail("a request line with another invocation's status");
            }
            if fields["xray_trace_id"] != json!(case.invocation.trace_id) {
                fail("a request line with another invocation's trace id");
            }
            if fields["route"] != json!(case.route) {
                fail("a request line with another invocation's route");
            }
            if fields.get("job_state").and_then(Value::as_str) != case.state {
                fail("a request line with another invocation's job state");
            }
            if fields["cold_start"] == json!(true) {
                cold_request_lines.push(case.request_id.clone());
            }
            continue;
        }
        let message = fields["message"].as_str().unwrap_or_default();
        let Some(case) = span_case else {
            // Init may warn (a slow warm-up read); nothing else runs outside an invocation.
            if !message.starts_with("DynamoDB warm-up") {
                fail("a log line outside any invocation");
            }
            continue;
        };
        *other_lines.entry(&case.request_id).or_default() += 1;
        let expected = match case.kind {
            Kind::Corrupt => {
                message.starts_with("corrupt job record") && fields["job_id"] == json!(CORRUPT_JOB)
            }
            Kind::DeadlineTooClose => message == "job store unavailable",
            _ => false,
        };
        if !expected {
            fail("a warning this invocation's request does not call for");
        }
    }

    for case in cases {
        let id = case.request_id.as_str();
        let (requests, metrics) = (
            request_lines.get(id).copied().unwrap_or(0),
            metric_lines.get(id).copied().unwrap_or(0),
        );
        if (requests, metrics) != (1, 1) {
            failures.push(format!(
                "{id}: {requests} request lines and {metrics} metrics lines, not one of each"
            ));
        }
        let warnings = other_lines.get(id).copied().unwrap_or(0);
        let expected = usize::from(matches!(case.kind, Kind::Corrupt | Kind::DeadlineTooClose));
        if warnings != expected {
            failures.push(format!("{id} ({:?}): {warnings} warning lines", case.kind));
        }
    }
    if cold_request_lines.len() != 1 || cold_request_lines != cold_metric_lines {
        failures.push(format!(
            "one invocation per process is the cold start: request lines say {cold_request_lines:?}, metrics {cold_metric_lines:?}"
        ));
    }
}

fn report(failures: &[String]) -> String {
    let shown: Vec<_> = failures.iter().take(20).map(String::as_str).collect();
    format!(
        "{} failures, first ones:\n{}",
        failures.len(),
        shown.join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_in_one_process_keep_to_their_own_request() {
    const CONCURRENCY: usize = 32;
    let (failures, max_in_flight) = run_mix(2_600, Some(CONCURRENCY)).await;
    assert!(failures.is_empty(), "{}", report(&failures));
    // Served at once, not one after the other: most of the 32 slots were in use together.
    assert!(
        max_in_flight >= CONCURRENCY / 2,
        "at most {max_in_flight} invocations in flight at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_max_concurrency_one_invocation_at_a_time() {
    for max_concurrency in [None, Some(1)] {
        let (failures, max_in_flight) = run_mix(130, max_concurrency).await;
        assert!(failures.is_empty(), "{}", report(&failures));
        assert_eq!(
            max_in_flight, 1,
            "AWS_LAMBDA_MAX_CONCURRENCY={max_concurrency:?}"
        );
    }
}
