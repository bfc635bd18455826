//! A soak: many invocations of a realistic mix (tests/soak_support: every route but `GET /jobs`,
//! identity and error, big and small records) into one process of the built binary, one at a
//! time and 32 at once, against a fast DynamoDB double (moto would be what is measured). Every
//! answer is checked; after a warm-up the peak resident set grows by less than 1 MB, and open
//! file descriptors and Runtime API connections stay flat.
//!
//! `SOAK_INVOCATIONS` per mode (default 10,000: the reduced size of ./dev/test); the long run
//! (docs/failure-behaviour.md): `SOAK_INVOCATIONS=1000000 cargo test --release --test soak --
//! --nocapture`. Resident set every tenth of the run goes to
//! `target/soak/soak-<mode>.csv`, which `dev/soak-chart.py` draws.

mod common;
mod soak_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use soak_support::runtime::StreamingApi;
use soak_support::table::{Faults, TableDouble};
use soak_support::{env_number, generator, judge, kind_of, mix, process_stats, Failures, Function};

fn invocations() -> usize {
    env_number("SOAK_INVOCATIONS", 10_000) as usize
}

/// Peak RSS may grow by less than this after the warm-up.
const PEAK_GROWTH_KB: u64 = 1024;

/// What glibc keeps of each `_X_AMZN_TRACE_ID` value lambda_runtime's sequential loop sets
/// (measured: ~120 bytes an invocation); allowed on top of `PEAK_GROWTH_KB` where trace ids are
/// unique and invocations sequential, so that any other growth still fails.
const SET_VAR_BYTES_PER_INVOCATION: u64 = 200;

/// The modes run one after another: each is a measurement of one process, which another soak
/// process competing for the same two cores would disturb.
static ONE_MODE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn soak(mode: &str, concurrency: Option<usize>, unique_trace_ids: bool) {
    let _one_mode_at_a_time = ONE_MODE_AT_A_TIME.lock().await;
    let total = invocations();
    let kinds = Arc::new(mix());
    let failures = Arc::new(Failures::default());
    let table = TableDouble::start(Faults::default(), 1).await;
    let generate = generator(&kinds);
    let check = {
        let (kinds, failures) = (kinds.clone(), failures.clone());
        Box::new(
            move |index: usize, answer: Result<&str, &str>, _took: Duration| {
                let kind = &kinds[kind_of(index, kinds.len())];
                if let Some(failure) = judge(kind, index, answer, false) {
                    failures.add(format!("invocation {index} ({}): {failure}", kind.name));
                }
            },
        )
    };
    let api = StreamingApi::start(total, generate, check, unique_trace_ids).await;
    let concurrency_text = concurrency.map(|n| n.to_string());
    let mut env = Vec::new();
    if let Some(n) = &concurrency_text {
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY", n.as_str()));
    }
    let function = Function::start(&api.address, &table.endpoint, &env);
    let pid = function.pid();

    // Samples at every tenth of the run. The warm-up is the first tenth, or half of a short
    // run (up to 20,000): at 32 at once the peak depends on how many big records happen to be
    // in flight together, which a short warm-up has not yet seen at its worst.
    let step = (total / 10).max(1);
    let warm_up = (total / 10).max((total / 2).min(20_000)).max(1);
    let started = Instant::now();
    let mut csv =
        String::from("invocations,seconds,rss_kb,peak_rss_kb,fds,runtime_api_connections\n");
    let mut samples = Vec::new();
    let mut marks: Vec<usize> = (1..=10).map(|tenth| tenth * step).collect();
    // Descriptors and Runtime API connections are judged while invocations are still being
    // handed out: once all are, the double holds every further poll open for good, so the
    // function's last answers need connections of their own. 64: twice the most at once.
    let handing_out_until = total.saturating_sub(64).max(warm_up);
    marks.push(warm_up);
    marks.push(handing_out_until);
    marks.push(total);
    marks.sort_unstable();
    marks.dedup();
    for mark in marks {
        let answered = api.wait_for(mark, Duration::from_secs(30)).await;
        assert!(
            answered >= mark,
            "{answered} of {total} answered, then nothing for 30 s"
        );
        let stats = process_stats(pid);
        let connections = api.connections();
        csv.push_str(&format!(
            "{mark},{:.1},{},{},{},{connections}\n",
            started.elapsed().as_secs_f64(),
            stats.rss_kb,
            stats.peak_rss_kb,
            stats.fds
        ));
        // As it goes, for a long run watched with --nocapture.
        eprintln!("{mode}: {}", csv.lines().last().unwrap_or_default());
        samples.push((mark, stats, connections));
    }
    let elapsed = started.elapsed();
    let (lines, errors) = function.stop();

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/soak");
    let _ = std::fs::create_dir_all(&dir);
    let csv_path = dir.join(format!("soak-{mode}.csv"));
    std::fs::write(&csv_path, &csv).expect("write the CSV");
    eprintln!(
        "{mode}: {total} invocations in {:.1} s ({:.0}/s), {lines} log lines, {} table requests; samples in {}:\n{csv}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        table.requests(),
        csv_path.display()
    );

    assert_eq!(failures.count(), 0, "{}", failures.report());
    assert_eq!(
        api.bad_posts(),
        0,
        "posts for unknown or answered invocations"
    );
    // A corrupt record's own 500 is logged as an ERROR by design; nothing else may be.
    let unexpected: Vec<&String> = errors
        .iter()
        .filter(|line| !line.contains("corrupt job record"))
        .collect();
    assert!(unexpected.is_empty(), "ERROR lines: {unexpected:#?}");
    let (_, base, base_connections) = samples
        .iter()
        .find(|(mark, _, _)| *mark == warm_up)
        .copied()
        .expect("the warm-up sample");
    let last = samples.last().expect("samples").1;
    let known_leak_kb = if unique_trace_ids && concurrency.is_none() {
        (total - warm_up) as u64 * SET_VAR_BYTES_PER_INVOCATION / 1024
    } else {
        0
    };
    assert!(
        last.peak_rss_kb < base.peak_rss_kb + PEAK_GROWTH_KB + known_leak_kb,
        "peak RSS grew from {} kB after the warm-up to {} kB (known set_var growth allowed: {known_leak_kb} kB)",
        base.peak_rss_kb,
        last.peak_rss_kb
    );
    for (mark, stats, connections) in samples
        .iter()
        .filter(|(mark, _, _)| *mark > warm_up && *mark <= handing_out_until)
    {
        assert!(
            stats.fds <= base.fds + 2,
            "{} open descriptors at {mark}, {} after the warm-up",
            stats.fds,
            base.fds
        );
        // As for descriptors, room for two: lambda_runtime's client pool may open a connection
        // while another is on its way back to the pool (the long run saw 32 → 35 opened, with
        // the open descriptors flat).
        assert!(
            *connections <= base_connections + 2,
            "{connections} runtime API connections open at {mark}, {base_connections} after the warm-up"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_one_invocation_at_a_time() {
    soak("sequential", None, true).await;
}

/// The same with one trace id for every invocation: lambda_runtime's sequential loop sets
/// `_X_AMZN_TRACE_ID` with `std::env::set_var` for each invocation, and glibc keeps every value
/// ever set (docs/failure-behaviour.md, "Soak"); with one value nothing else may grow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_one_invocation_at_a_time_one_trace_id() {
    soak("sequential-one-trace-id", None, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_32_invocations_at_once() {
    soak("c32", Some(32), true).await;
}
