//! Nothing secret at any log level (docs/API.md#8-caller-identity): the built binary at
//! `AWS_LAMBDA_LOG_LEVEL=TRACE`, under the Runtime API double, against the local DynamoDB server.
//! Bearer tokens, share tokens and their signatures, the secrets and record content reach no line,
//! although lambda_runtime (raw events) and the SDK (requests, responses, items) log them at TRACE.

mod common;
mod runtime_api;

use std::path::Path;
use std::time::Duration;

use common::{
    bearer, get, http_event, job_url, now_secs, parse_lambda_response, result_url, share_url,
    status_of, with_query, COMPLETED_JOB, FAILED_JOB, JWT_SECRET, OWNER, SHARE_SECRET, TEST_USER,
};
use runtime_api::{Answer, Function, Invocation, RuntimeApi};
use serde_json::{json, Value};

/// Record content of the seeded jobs (dev/sample-jobs.json) that their answers carry.
const RECORD_CONTENT: [&str; 4] = [
    "callback-test",
    "flickr.test.echo",
    "Token not found",
    "loadToken",
];

/// The token with one character of its signature changed: refused, and still not to be logged.
fn forge(token: &str) -> String {
    let at = token.len() - 10;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    format!("{}{swapped}{}", &token[..at], &token[at + 1..])
}

fn invocation(index: usize, event: Value) -> Invocation {
    Invocation {
        id: format!("inv-{index}"),
        trace_id: format!("Root=1-67891233-{index:024x};Sampled=1"),
        time_left: Duration::from_secs(30),
        event: event.to_string(),
    }
}

/// The parts of a JWS an attacker could use or learn from: the whole token, its signature and
/// its payload segment.
fn token_parts(token: &str) -> Vec<String> {
    let token = token.trim_start_matches("Bearer ").to_string();
    let mut parts: Vec<String> = token.split('.').skip(1).map(str::to_string).collect();
    parts.push(token);
    parts
}

async fn run(level: &str, events: Vec<Value>) -> (Vec<String>, Vec<Answer>) {
    let api = RuntimeApi::start().await;
    let endpoint = common::endpoint();
    let table = common::table();
    let function = Function::start(
        Path::new(env!("CARGO_BIN_EXE_flickr-job-status")),
        &api,
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", level),
            ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
            ("JOBS_TABLE", table.as_str()),
            ("JWT_SECRET", JWT_SECRET),
            ("SHARE_TOKEN_SECRET", SHARE_SECRET),
        ],
    );
    let count = events.len();
    let invocations: Vec<Invocation> = events
        .into_iter()
        .enumerate()
        .map(|(index, event)| invocation(index, event))
        .collect();
    api.enqueue(invocations.clone());
    let outcome = api.wait_for(count, Duration::from_secs(30)).await;
    let lines = function.stop();
    assert_eq!(outcome.answers.len(), count, "every invocation answered");
    assert!(outcome.bad_posts.is_empty(), "{:?}", outcome.bad_posts);
    assert!(outcome.max_in_flight <= 1 && outcome.connections >= 1);
    let answers = invocations
        .iter()
        .map(|invocation| outcome.answers[&invocation.id].clone())
        .collect();
    (lines, answers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_trace_no_token_signature_secret_or_record_content_is_logged() {
    let owner = bearer(OWNER);
    let share_token = common::share_token_for(COMPLETED_JOB, now_secs() + 600);
    let forged = forge(&owner);
    let events = vec![
        {
            let mut event = status_of(COMPLETED_JOB, OWNER);
            event["headers"]["authorization"] = json!(owner);
            event
        },
        get(&job_url(COMPLETED_JOB), &[("authorization", &owner)]),
        get(&result_url(COMPLETED_JOB), &[("authorization", &owner)]),
        with_query(
            get(&result_url(COMPLETED_JOB), &[]),
            &format!("token={share_token}"),
        ),
        get(&job_url(FAILED_JOB), &[("authorization", &owner)]),
        get(&job_url(COMPLETED_JOB), &[("authorization", &forged)]),
        http_event(
            "POST",
            &share_url(COMPLETED_JOB),
            &[
                ("authorization", &owner),
                ("content-type", "application/json"),
            ],
            None,
        ),
        // A corrupt record: the warning names the attribute, never its value.
        status_of("t-corrupt-returnvalue", TEST_USER),
    ];
    let (lines, answers) = run("TRACE", events).await;

    // The answers did carry what the log must not: the test would prove nothing otherwise.
    let bodies: Vec<String> = answers
        .iter()
        .map(|answer| match answer {
            Answer::Response(body) => body.clone(),
            Answer::Error(body) => panic!("an invocation error: {body}"),
        })
        .collect();
    let all_bodies = bodies.join("\n");
    for content in RECORD_CONTENT {
        assert!(all_bodies.contains(content), "an answer carries {content}");
    }
    let share_answer = parse_lambda_response(&serde_json::from_str(&bodies[6]).expect("JSON"));
    assert_eq!(share_answer.status, 201, "{share_answer:?}");
    let minted = share_answer.data()["token"]
        .as_str()
        .expect("the share answer has its token")
        .to_string();

    let mut secrets: Vec<String> = [owner.as_str(), forged.as_str()]
        .into_iter()
        .flat_map(token_parts)
        .collect();
    for share in [&share_token, &minted] {
        secrets.push(share.clone());
        // A share token's signature is the part after its last '.'.
        if let Some((_, signature)) = share.rsplit_once('.') {
            secrets.push(signature.to_string());
        }
    }
    secrets.extend([JWT_SECRET.to_string(), SHARE_SECRET.to_string()]);
    secrets.extend(RECORD_CONTENT.map(str::to_string));

    let leaks: Vec<String> = lines
        .iter()
        .filter_map(|line| {
            let found: Vec<&str> = secrets
                .iter()
                .filter(|secret| line.contains(secret.as_str()))
                .map(String::as_str)
                .collect();
            (!found.is_empty()).then(|| format!("{found:?} in {line}"))
        })
        .collect();
    assert!(
        leaks.is_empty(),
        "{} of {} lines leak:\n{}",
        leaks.len(),
        lines.len(),
        leaks
            .iter()
            .take(5)
            .map(|leak| leak.chars().take(400).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // TRACE did reach the function's own lines (its debug line of the warm-up read).
    assert!(
        lines
            .iter()
            .any(|line| line.contains("DynamoDB connection warmed up")),
        "the function's own DEBUG lines are written at TRACE: {lines:#?}"
    );
    let requests = lines
        .iter()
        .filter(|line| line.contains(r#""message":"request""#))
        .count();
    assert_eq!(requests, bodies.len(), "one request line per invocation");
}
