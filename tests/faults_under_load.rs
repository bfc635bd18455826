//! Faults under load: the mix of tests/soak_support, 32 invocations at once in one process of
//! the built binary, while the DynamoDB double injects latency spikes, throttling, 5xx, dropped
//! connections and half-written answers at random (seeded), and the identity provider's key
//! set server changes between good, failing, hanging, garbage and empty answers. Every answer
//! is the mix's own correct one or a 503 with `Retry-After: 1` (for a request that needed the
//! table or the key set) within its bound: never a Lambda error, another 5xx, or another
//! invocation's data.
//!
//! `FAULT_INVOCATIONS` (default 6,000) and `FAULT_SEED` (default 21) reproduce a run.

mod common;
mod soak_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::idp::{JwksAnswer, JwksServer, SigningKey};
use common::{get, job_url, now_secs, COMPLETED_JOB, OWNER};
use serde_json::json;
use soak_support::runtime::StreamingApi;
use soak_support::table::{Faults, TableDouble};
use soak_support::{env_number, generator, judge, kind_of, mix, Failures, Function, Kind};

const DYNAMODB_TIMEOUT_MS: u64 = 300;
const JWKS_TIMEOUT_MS: u64 = 300;
/// The longest any answer may take: the table's bound (3 attempts and 500 ms,
/// docs/failure-behaviour.md) after the key set's (2 fetch timeouts and 500 ms), plus room
/// for a machine shared with other builds.
const BOUND: Duration =
    Duration::from_millis(3 * DYNAMODB_TIMEOUT_MS + 500 + 2 * JWKS_TIMEOUT_MS + 500 + 2_000);

/// The mix, plus the identity provider's tokens: a good RS256 token (200, or 503 while no key
/// set can be had) and one naming a `kid` the provider never published (401, or 503).
fn mix_with_provider_tokens(key: &SigningKey) -> Vec<Kind> {
    let claims = json!({"sub": OWNER, "exp": now_secs() + 3_600});
    let mut kinds = mix();
    let mut good = kinds[0].clone();
    good.name = "job own by provider token";
    good.event = get(
        &job_url(COMPLETED_JOB),
        &[(
            "authorization",
            &format!("Bearer {}", key.sign("RS256", &claims)),
        )],
    );
    good.job_id = Some(COMPLETED_JOB);
    good.status = 200;
    good.code = None;
    good.reads = true;
    let mut unknown = good.clone();
    unknown.name = "provider token of an unknown kid";
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "never-published"});
    unknown.event = get(
        &job_url(COMPLETED_JOB),
        &[(
            "authorization",
            &format!("Bearer {}", key.sign_with_header(&header, &claims)),
        )],
    );
    unknown.status = 401;
    unknown.code = Some("ERR_UNAUTHORIZED");
    unknown.job_id = None;
    kinds.push(good);
    kinds.push(unknown);
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_32_at_once_every_fault_gets_a_correct_answer_or_a_bounded_503() {
    let total = env_number("FAULT_INVOCATIONS", 6_000) as usize;
    let seed = env_number("FAULT_SEED", 21);
    let faults = Faults {
        slow: 40,
        spike: Duration::from_millis(2 * DYNAMODB_TIMEOUT_MS),
        throttle: 40,
        server_error: 40,
        drop: 30,
        truncate: 30,
    };
    let table = TableDouble::start(faults, seed).await;
    let key = SigningKey::rsa("k", "rsa-a");
    // The provider is failing at cold start: the set is first had in the middle of the load.
    let jwks = JwksServer::start(JwksAnswer::Status(500)).await;

    let kinds = Arc::new(mix_with_provider_tokens(&key));
    let failures = Arc::new(Failures::default());
    let unavailable = Arc::new(AtomicUsize::new(0));
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    let generate = generator(&kinds);
    let check = {
        let (kinds, failures) = (kinds.clone(), failures.clone());
        let (unavailable, slowest) = (unavailable.clone(), slowest.clone());
        Box::new(
            move |index: usize, answer: Result<&str, &str>, took: Duration| {
                let kind = &kinds[kind_of(index, kinds.len())];
                if let Some(failure) = judge(kind, index, answer, true) {
                    failures.add(format!("invocation {index} ({}): {failure}", kind.name));
                }
                if answer.is_ok_and(|body| body.contains(r#""statusCode":503"#)) {
                    unavailable.fetch_add(1, Ordering::Relaxed);
                }
                if took > BOUND {
                    failures.add(format!(
                        "invocation {index} ({}): answered after {took:?}",
                        kind.name
                    ));
                }
                let mut slowest = slowest.lock().expect("no panic holding it");
                *slowest = (*slowest).max(took);
            },
        )
    };
    let api = StreamingApi::start(total, generate, check, true).await;
    let dynamodb_timeout = DYNAMODB_TIMEOUT_MS.to_string();
    let jwks_timeout = JWKS_TIMEOUT_MS.to_string();
    let function = Function::start(
        &api.address,
        &table.endpoint,
        &[
            ("AWS_LAMBDA_MAX_CONCURRENCY", "32"),
            ("DYNAMODB_TIMEOUT_MS", &dynamodb_timeout),
            ("JWT_JWKS_URL", &jwks.url),
            ("JWT_JWKS_TIMEOUT_MS", &jwks_timeout),
        ],
    );

    // The key set server's own faults, on a seeded schedule: one answer for each 100 ms.
    let chaos = {
        let good = key.jwk();
        let mut state = seed;
        let jwks_answer = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            match (state >> 33) % 6 {
                0 | 1 => JwksAnswer::Keys(vec![good.clone()]),
                2 => JwksAnswer::Status(503),
                3 => JwksAnswer::Hang,
                4 => JwksAnswer::Body("<html>bad gateway</html>".into()),
                _ => JwksAnswer::Keys(vec![]),
            }
        };
        let mut jwks_answer = jwks_answer;
        let server = &jwks;
        async move {
            loop {
                server.answer(jwks_answer());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let started = Instant::now();
    let answered = tokio::select! {
        answered = api.wait_for(total, Duration::from_secs(30)) => answered,
        () = chaos => unreachable!("the schedule never ends"),
    };
    let elapsed = started.elapsed();
    let (lines, errors) = function.stop();
    eprintln!(
        "{answered} of {total} answered in {:.1} s (seed {seed}): {} were 503, slowest {:?}; {} table requests, {} key set fetches, {lines} log lines",
        elapsed.as_secs_f64(),
        unavailable.load(Ordering::Relaxed),
        slowest.lock().expect("no panic holding it"),
        table.requests(),
        jwks.fetches()
    );
    assert_eq!(answered, total, "every invocation answered");
    assert_eq!(failures.count(), 0, "{}", failures.report());
    assert_eq!(api.bad_posts(), 0);
    // Faults were met (the test proves nothing otherwise), and most answers were still good.
    let unavailable = unavailable.load(Ordering::Relaxed);
    assert!(unavailable > 0, "no 503 at all: were faults injected?");
    assert!(unavailable < total / 2, "{unavailable} of {total} were 503");
    // A corrupt record's own 500 is logged as an ERROR by design; nothing else is.
    let unexpected: Vec<&String> = errors
        .iter()
        .filter(|line| !line.contains("corrupt job record"))
        .collect();
    assert!(unexpected.is_empty(), "ERROR lines: {unexpected:#?}");
}
