//! Many `Prefer: wait` requests held at once in one process (Lambda Managed Instances): the
//! built binary under the Runtime API double. Its DynamoDB is the in-memory fake table of
//! tests/wait_support: a local moto or dynalite on this 2-core machine cannot answer hundreds
//! of re-reads a second within the SDK's timeouts (the timing on both servers, with real writes,
//! is tests/wait.rs). A test target of its own, so that none of it runs beside those timings.

mod common;
mod runtime_api;
mod wait_support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use runtime_api::{Answer, Function, Invocation, RuntimeApi};
use serde_json::{json, Value};
use wait_support::*;

/// Requests held at once, on `JOBS` jobs, and quick invocations answered beside them.
const HELD: usize = 240;
const JOBS: usize = 4;
const QUICK: usize = 120;
/// The fake table's completed job, for the quick invocations.
const DONE: &str = "done-job";

/// The built binary against `endpoint`, with `AWS_LAMBDA_MAX_CONCURRENCY` slots, JSON logs and
/// `extra` settings.
pub fn start_function(
    api: &RuntimeApi,
    endpoint: &str,
    max_concurrency: usize,
    extra: &[(&str, &str)],
) -> Function {
    let concurrency = max_concurrency.to_string();
    let mut env = vec![
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint),
        ("JOBS_TABLE", "fake-table"),
        ("JWT_SECRET", JWT_SECRET),
        ("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.as_str()),
    ];
    env.extend_from_slice(extra);
    Function::start(
        Path::new(env!("CARGO_BIN_EXE_flickr-job-status")),
        api,
        &env,
    )
}

fn invocation(id: String, event: &Value) -> Invocation {
    Invocation {
        trace_id: format!("Root=1-{id}"),
        id,
        time_left: Duration::from_secs(60),
        event: event.to_string(),
    }
}

fn reply_of(answer: Option<&Answer>) -> Option<Reply> {
    match answer? {
        Answer::Response(body) => Some(parse_lambda_response(
            &serde_json::from_str(body).expect("a JSON payload"),
        )),
        Answer::Error(_) => None,
    }
}

fn held_ids(answers: &HashMap<String, Answer>) -> Vec<&String> {
    answers
        .keys()
        .filter(|id| id.starts_with("held-"))
        .collect()
}

/// 240 requests held at once in one process while 120 quick invocations are answered beside
/// them; then one job changes and only its waiters answer, each with the new status; the rest
/// answer 304 with their own job's ETag at the end of their wait, and each log line says how
/// long it waited and how many reads it made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_held_requests_in_one_process_each_get_their_own_answer() {
    let table = FakeTable::start().await;
    table.put(DONE, fake_item(DONE, "completed", Some(100)));
    let app = app_at(&table.endpoint, &[]).await;
    let jobs: Vec<String> = (0..JOBS).map(|n| format!("held-job-{n}")).collect();
    let mut tags = Vec::new();
    for (n, id) in jobs.iter().enumerate() {
        table.put(id, fake_item(id, "queued", Some(n as u32)));
        tags.push(etag(&invoke(&app, &owner_get(&status_path(id), &[])).await));
    }

    let api = RuntimeApi::start().await;
    // Re-reads every 2 s, and a patient SDK: the test runs the debug build, whose signing of
    // hundreds of reads a second outruns two cores shared with other work (503s and skipped
    // re-reads that would prove nothing here; the release build's CPU per read is in
    // docs/performance.md).
    let function = start_function(
        &api,
        &table.endpoint,
        HELD + 40,
        &[
            ("WAIT_POLL_INTERVAL_MS", "2000"),
            ("DYNAMODB_TIMEOUT_MS", "10000"),
        ],
    );
    let held = (0..HELD).map(|n| {
        let job = n % JOBS;
        let event = owner_get(
            &status_path(&jobs[job]),
            &[("if-none-match", &tags[job]), ("prefer", "wait=15")],
        );
        invocation(format!("held-{n:03}"), &event)
    });
    // Arriving over two seconds, as clients do, rather than 240 first reads in one instant.
    let held: Vec<Invocation> = held.collect();
    for arriving in held.chunks(HELD / 20) {
        api.enqueue(arriving.to_vec());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;

    // Beside the held ones: every quick one answered, and no held one yet.
    let started = Instant::now();
    let quick = (0..QUICK).map(|n| invocation(format!("quick-{n:03}"), &status_of(DONE, OWNER)));
    api.enqueue(quick);
    let outcome = api.wait_for(QUICK, Duration::from_secs(10)).await;
    let quick_time = started.elapsed();
    assert!(
        held_ids(&outcome.answers).is_empty(),
        "held requests answered with nothing new: {:?}",
        held_ids(&outcome.answers)
            .iter()
            .take(3)
            .map(|id| reply_of(outcome.answers.get(*id)).map(|reply| (reply.status, reply.body)))
            .collect::<Vec<_>>()
    );
    assert_eq!(outcome.answers.len(), QUICK);
    for (id, answer) in &outcome.answers {
        let reply = reply_of(Some(answer)).expect("an HTTP answer");
        assert_eq!(
            (reply.status, &reply.data()["state"]),
            (200, &json!("completed")),
            "{id}"
        );
    }
    assert!(
        outcome.max_in_flight >= HELD,
        "{} in flight at most",
        outcome.max_in_flight
    );

    // Job 0 completes: its waiters, and only they, answer within about an interval.
    table.put(&jobs[0], fake_item(&jobs[0], "completed", Some(100)));
    let changed_at = Instant::now();
    let soon = api
        .wait_for(QUICK + HELD / JOBS, Duration::from_secs(6))
        .await;
    let change_time = changed_at.elapsed();
    let all = api.wait_for(QUICK + HELD, Duration::from_secs(20)).await;
    let lines = function.stop();
    assert!(all.bad_posts.is_empty(), "{:?}", all.bad_posts);

    let mut failures = Vec::new();
    let early = held_ids(&soon.answers);
    if early.len() != HELD / JOBS {
        failures.push(format!(
            "{} held answers right after the change",
            early.len()
        ));
    }
    for n in 0..HELD {
        let id = format!("held-{n:03}");
        let job = n % JOBS;
        let Some(reply) = reply_of(all.answers.get(&id)) else {
            failures.push(format!("{id}: no HTTP answer"));
            continue;
        };
        let expected = if job == 0 { 200 } else { 304 };
        if reply.status != expected {
            failures.push(format!("{id}: {} instead of {expected}", reply.status));
        }
        if job == 0 {
            if reply.data()["id"] != json!(jobs[0]) || reply.data()["state"] != "completed" {
                failures.push(format!("{id}: another job's status {}", reply.data()));
            }
            if !early.contains(&&id) {
                failures.push(format!("{id}: not answered at the change"));
            }
        } else if reply.header("etag") != Some(tags[job].as_str()) {
            failures.push(format!("{id}: another job's ETag"));
        }
        if reply.header("preference-applied").is_none() {
            failures.push(format!("{id}: no Preference-Applied"));
        }
    }
    let held_lines: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| {
            line["fields"]["message"] == "request" && line["fields"]["waited_ms"].is_number()
        })
        .collect();
    if held_lines.len() != HELD {
        failures.push(format!("{} log lines of held requests", held_lines.len()));
    }
    for line in &held_lines {
        let reads = line["fields"]["get_items"].as_u64().unwrap_or(0);
        let waited = line["fields"]["waited_ms"].as_f64().unwrap_or(0.0);
        // The first read, then one per 2 s held.
        let most = 2 + (waited / 2000.0) as u64;
        if reads < 2 || reads > most {
            failures.push(format!("{reads} reads in {waited} ms: {line}"));
        }
    }
    eprintln!(
        "{HELD} held at once: {QUICK} quick invocations answered beside them in {quick_time:?}; \
         the change answered its {} waiters in {change_time:?}; {} runtime API connections",
        HELD / JOBS,
        all.connections
    );
    assert!(
        failures.is_empty(),
        "{} failures: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
}

/// The process's CPU time so far, all threads: the first field of each task's schedstat (ns).
fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the function's tasks");
    let nanos: u64 = tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

/// One measured phase: what the function spent on it, beyond its idle rate.
struct Phase {
    cpu: Duration,
    wall: Duration,
    reads: u64,
}

/// Runs `invocations` through `function` and measures them: CPU, wall time, `GetItem`s.
async fn measure(
    api: &RuntimeApi,
    pid: u32,
    invocations: Vec<Invocation>,
    answered_before: usize,
    table: &FakeTable,
) -> Phase {
    let count = invocations.len();
    let (cpu, reads, started) = (cpu_time(pid), table.requests(), Instant::now());
    api.enqueue(invocations);
    let outcome = api
        .wait_for(answered_before + count, Duration::from_secs(60))
        .await;
    assert_eq!(outcome.answers.len(), answered_before + count);
    Phase {
        cpu: cpu_time(pid) - cpu,
        wall: started.elapsed(),
        reads: (table.requests() - reads) as u64,
    }
}

/// CPU of a held request (docs/performance.md): per second held and per re-read, from two runs
/// of `HELD_MEASURED` held requests that differ only in the re-read interval, less the idle rate,
/// beside the CPU of a plain request. A measurement, not a check: run it by hand on the release
/// build, `FUNCTION_BINARY=target/release/flickr-job-status ./dev/test rust --test wait_many --
/// --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement for docs/performance.md; run by hand on the release build"]
async fn measure_cpu_of_held_requests() {
    const HELD_MEASURED: usize = 500;
    const WAIT_SECONDS: u64 = 10;
    let binary = std::env::var("FUNCTION_BINARY").expect("FUNCTION_BINARY: the release build");
    let table = FakeTable::start().await;
    table.put(DONE, fake_item(DONE, "completed", Some(100)));
    table.put("measured", fake_item("measured", "queued", Some(5)));
    let app = app_at(&table.endpoint, &[]).await;
    let tag = etag(&invoke(&app, &owner_get(&status_path("measured"), &[])).await);
    let held = |run: &str| -> Vec<Invocation> {
        (0..HELD_MEASURED)
            .map(|n| {
                let event = owner_get(
                    &status_path("measured"),
                    &[
                        ("if-none-match", &tag),
                        ("prefer", &format!("wait={WAIT_SECONDS}")),
                    ],
                );
                invocation(format!("{run}-{n:04}"), &event)
            })
            .collect()
    };
    let quick = |run: &str| -> Vec<Invocation> {
        (0..2_000)
            .map(|n| invocation(format!("{run}-{n:04}"), &status_of(DONE, OWNER)))
            .collect()
    };

    let mut runs = Vec::new();
    for interval_ms in ["500", "5000"] {
        let api = RuntimeApi::start().await;
        let env = [
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_ENDPOINT_URL_DYNAMODB", table.endpoint.as_str()),
            ("JOBS_TABLE", "fake-table"),
            ("JWT_SECRET", JWT_SECRET),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "600"),
            ("WAIT_POLL_INTERVAL_MS", interval_ms),
        ];
        let function = Function::start(Path::new(&binary), &api, &env);
        let pid = function.pid();
        let warm = measure(&api, pid, quick("warm"), 0, &table).await;
        let idle_start = cpu_time(pid);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let idle_per_second = (cpu_time(pid) - idle_start).as_secs_f64() / 5.0;
        let plain = measure(&api, pid, quick("plain"), 2_000, &table).await;
        let holding = measure(&api, pid, held("held"), 4_000, &table).await;
        function.stop();
        let held_cpu = holding.cpu.as_secs_f64() - idle_per_second * holding.wall.as_secs_f64();
        eprintln!(
            "interval {interval_ms} ms: idle {:.1} µs/s; plain request {:.1} µs CPU ({:.1} µs warm-up); \
             {HELD_MEASURED} held for {:.2} s: {:.1} ms CPU beyond idle, {} reads ({:.1} µs per read all told)",
            idle_per_second * 1e6,
            plain.cpu.as_secs_f64() * 1e6 / 2_000.0,
            warm.cpu.as_secs_f64() * 1e6 / 2_000.0,
            holding.wall.as_secs_f64(),
            held_cpu * 1e3,
            holding.reads,
            held_cpu * 1e6 / holding.reads as f64,
        );
        runs.push((held_cpu, holding.reads as f64));
    }
    // held_cpu = first reads and answers (the same in both) + per_read × re-reads
    //          + per_held_second × held seconds (the same in both).
    let held_seconds = (HELD_MEASURED as u64 * WAIT_SECONDS) as f64;
    let per_read = (runs[0].0 - runs[1].0) / (runs[0].1 - runs[1].1);
    let rest = runs[1].0 - per_read * runs[1].1;
    eprintln!(
        "per re-read {:.1} µs CPU; the rest of a held request {:.1} µs, i.e. {:.2} µs per second held \
         if all of it were the holding",
        per_read * 1e6,
        rest * 1e6 / HELD_MEASURED as f64,
        rest * 1e6 / held_seconds,
    );
}
