//! A measurement, not a check (docs/failure-behaviour.md, "Timing of a 404"): how far apart the
//! 404 for another user's 300 KB record and the 404 for a missing id are in time. Ownership is
//! decided before the rest of the record is decoded (docs/API.md#10-the-job-record);
//! what is left is the cost of receiving the item. Run it with
//! `./dev/test rust --release --test timing_residual -- --ignored --nocapture` (on moto;
//! `TIMING_SAMPLES` samples of each kind, default 400).

mod common;
mod soak_support;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::{status_of, MISSING_JOB, OTHER_USER, OWNER};
use flickr_job_status::app::App;
use flickr_job_status::store::memory::MemoryStore;
use flickr_job_status::store::JobStore;

const BIG_JOB: &str = "t-timing-300k";
const RECORD_BYTES: usize = 300 * 1024;

fn big_item() -> std::collections::HashMap<String, AttributeValue> {
    // A completed job of OTHER_USER whose returnvalue is a 300 KB JSON text.
    let returnvalue = format!(r#"{{"photos":"{}"}}"#, "p".repeat(RECORD_BYTES));
    [
        ("jobId", AttributeValue::S(BIG_JOB.into())),
        ("user_id", AttributeValue::S(OTHER_USER.into())),
        ("state", AttributeValue::S("completed".into())),
        ("returnvalue", AttributeValue::S(returnvalue)),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

fn samples() -> usize {
    std::env::var("TIMING_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400)
}

/// Times OWNER's `POST /jobs/status` for the big record and for a missing id, interleaved in
/// both orders (ABAB…, then BABA…), after a warm-up; both must be the same 404.
async fn measure<S: JobStore>(app: &App<S>, label: &str) {
    measure_job(app, BIG_JOB, label).await;
}

async fn measure_job<S: JobStore>(app: &App<S>, big_job: &str, label: &str) {
    let other = status_of(big_job, OWNER);
    let missing = status_of(MISSING_JOB, OWNER);
    for _ in 0..20 {
        common::invoke(app, &other).await;
        common::invoke(app, &missing).await;
    }
    let n = samples();
    let (mut big, mut none) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let order = if i % 2 == 0 {
            [(&other, true), (&missing, false)]
        } else {
            [(&missing, false), (&other, true)]
        };
        for (event, is_big) in order {
            let started = Instant::now();
            let reply = common::invoke(app, event).await;
            let took = started.elapsed();
            reply.assert_error(404, "ERR_JOB_NOT_FOUND");
            if is_big {
                big.push(took)
            } else {
                none.push(took)
            }
        }
    }
    report(label, &mut big, &mut none);
}

fn report(label: &str, big: &mut [Duration], none: &mut [Duration]) {
    big.sort();
    none.sort();
    let at = |v: &[Duration], q: f64| v[((v.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    // How well one threshold tells them apart: the best accuracy over every candidate threshold
    // (50 % is a coin toss, 100 % separable on every sample).
    let mut best = 0.0f64;
    for threshold in big.iter().chain(none.iter()) {
        let right = big.iter().filter(|t| *t >= threshold).count()
            + none.iter().filter(|t| *t < threshold).count();
        best = best.max(right as f64 / (big.len() + none.len()) as f64);
    }
    println!(
        "{label}: {} samples each; other user's 300 KB record p10/p50/p90 {:.3}/{:.3}/{:.3} ms; missing id {:.3}/{:.3}/{:.3} ms; median residual {:.3} ms; best single-threshold classification {:.1} %",
        big.len(),
        at(big, 0.1),
        at(big, 0.5),
        at(big, 0.9),
        at(none, 0.1),
        at(none, 0.5),
        at(none, 0.9),
        at(big, 0.5) - at(none, 0.5),
        best * 100.0
    );
}

#[tokio::test]
#[ignore = "a measurement: run it by name with --ignored --nocapture"]
async fn residual_in_process_over_the_memory_store() {
    let store = MemoryStore::new();
    store.put("jobId", big_item()).expect("the item");
    let app = flickr_job_status::wiring::app(&common::config(&[]), store);
    measure(&app, "in process (memory store)").await;
}

#[tokio::test]
#[ignore = "a measurement: run it by name with --ignored --nocapture"]
async fn residual_against_the_local_dynamodb_server() {
    let client = common::client().await;
    client
        .put_item()
        .table_name(common::table())
        .set_item(Some(big_item()))
        .send()
        .await
        .expect("put the 300 KB record");
    let app = common::app(&[]).await;
    measure(&app, "local DynamoDB server (moto or dynalite)").await;
}

/// The function's own share, without a slow server: the SDK receiving and parsing the item over
/// loopback from tests/soak_support's Rust double (`t-huge` of the fixtures, 352 KB, of
/// TEST_USER, asked for by OWNER).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it by name with --ignored --nocapture"]
async fn residual_against_a_fast_table_double() {
    let table = soak_support::table::TableDouble::start(Default::default(), 1).await;
    let app = common::app_at(&table.endpoint, &[]).await;
    measure_job(
        &app,
        "t-huge",
        "fast table double over loopback (352 KB record)",
    )
    .await;
}
