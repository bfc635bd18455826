//! The Lambda edge: the runtime loop, and a raw invocation event in, the HTTP response payload
//! out, never an error.

use std::convert::Infallible;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::app::{App, Trace};
use crate::auth::Refusal;
use crate::error::ApiError;
use crate::http::event::parse_event;
use crate::http::{deliver, AcceptEncoding, LambdaResponse, Origin, Response};
use crate::store::JobStore;
use crate::telemetry::{self, RequestSummary};

/// True until the first invocation of this process has started. Taken (swapped) when an
/// invocation starts, so exactly one invocation per process reports a cold start, even when
/// several run at once.
static COLD: AtomicBool = AtomicBool::new(true);

/// How many invocations Lambda hands this process at once: `AWS_LAMBDA_MAX_CONCURRENCY` on
/// Lambda Managed Instances, 1 on classic Lambda (unset) or for anything unreadable.
pub fn max_concurrency() -> usize {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1)
}

/// The async runtime for `max_concurrency` invocations at once. One at a time (classic Lambda):
/// a current-thread runtime, the cheapest in CPU, memory and start-up. Several: a multi-thread
/// runtime on the environment's CPUs (no more threads than invocations).
pub fn tokio_runtime(max_concurrency: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if max_concurrency <= 1 {
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
    }
    let cpus = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus.min(max_concurrency))
        .enable_all()
        .build()
}

/// Serves invocations until the runtime API goes away: one at a time, or
/// `AWS_LAMBDA_MAX_CONCURRENCY` at once, each in its own task (lambda_runtime's
/// `run_concurrent` falls back to the sequential loop when the variable is unset or 1).
/// Everything per request lives in that task; the app is shared read-only.
pub async fn serve<S: JobStore + 'static>(app: App<S>) -> Result<(), Error> {
    // Lives as long as the process; a `&'static` is what every worker task can hold for free.
    let app: &'static App<S> = Box::leak(Box::new(app));
    tokio::spawn(keep_timer_wheel_armed());
    lambda_runtime::run_concurrent(service_fn(move |event| handle_event(app, event))).await
}

/// Handles one invocation. Every input, however malformed, gets an HTTP answer: a Lambda
/// error would reach the client as API Gateway's bare 502.
pub async fn handle_event<S: JobStore>(
    app: &App<S>,
    event: LambdaEvent<Box<RawValue>>,
) -> Result<LambdaResponse, Infallible> {
    Ok(answer(app, event).await.0)
}

/// One invocation's answer, logged and counted, with what was learnt on the way (for tests).
pub async fn answer<S: JobStore>(
    app: &App<S>,
    event: LambdaEvent<Box<RawValue>>,
) -> (LambdaResponse, Trace) {
    let started = Instant::now();
    let cold_start = COLD.swap(false, Ordering::Relaxed);
    let deadline = deadline_from(started, event.context.deadline);
    let invocation_id = event.context.request_id.as_str();
    let request = parse_event(event.payload.get());
    let (response, trace) = match &request {
        Some(request) => app.handle(request, deadline).await,
        None => {
            let error = ApiError::invalid("the event is not an HTTP request");
            (Response::from(error), Trace::default())
        }
    };
    let request_id = request
        .as_ref()
        .and_then(|request| request.gateway_request_id.as_deref())
        .unwrap_or(invocation_id);

    // Not an HTTP event at all: answer in the HTTP API format, the most common caller.
    let origin = request
        .as_ref()
        .map_or(Origin::HttpApi, |request| request.origin);
    let accept = request
        .as_ref()
        .map_or_else(AcceptEncoding::default, |request| {
            AcceptEncoding::parse(request.header_values("accept-encoding"))
        });
    // Encoded and measured against the front's limit before the log line, which names the
    // status that goes out (a 406 or 500 when the answer does not fit).
    let delivered = deliver(response, origin, request_id, accept);

    let summary = RequestSummary {
        request_id,
        xray_trace_id: event.context.xray_trace_id.as_deref(),
        route: trace.route.unwrap_or("unmatched"),
        status: delivered.status,
        latency: started.elapsed(),
        store_latency: trace.store_latency,
        reads: trace.reads,
        waited: trace.waited,
        job_state: trace.job_state.as_deref(),
        refusal: trace.refusal.map(Refusal::name),
        cold_start,
    };
    telemetry::log_request(&summary);
    telemetry::emit_metrics(&summary);
    let response = delivered.payload;
    (response, trace)
}

/// Tokio wakes its own I/O driver (an eventfd write, and one more `epoll_wait`) whenever a
/// timer is registered that expires before the earliest one it parked with. Between invocations
/// no timer is pending, so each invocation's timers (its deadline, the SDK's operation and
/// attempt timeouts) cost four such wake-ups. A timer that is always due within
/// `TIMER_HORIZON` keeps every later one from counting as the earliest: ~5 system calls less per
/// invocation, for one wake-up per `TIMER_HORIZON` while idle.
pub async fn keep_timer_wheel_armed() {
    loop {
        tokio::time::sleep(TIMER_HORIZON).await;
    }
}

/// Shorter than the shortest per-invocation timer (the 50 ms minimum DynamoDB timeout aside).
const TIMER_HORIZON: Duration = Duration::from_millis(500);

/// Deadlines before this (2001-09-09) are not epoch times: `cargo lambda watch` sends its
/// timeout (600000 ms) in the deadline header. Those invocations get no deadline of their own.
const EARLIEST_EPOCH_DEADLINE_MS: u64 = 1_000_000_000_000;

/// The invocation's deadline on the monotonic clock; `None` when there is none (or it is too far
/// away to represent, which only a broken deadline header could ask for).
fn deadline_from(started: Instant, deadline_ms: u64) -> Option<Instant> {
    remaining(deadline_ms).and_then(|left| started.checked_add(left))
}

/// Time left before Lambda's deadline (epoch milliseconds); `None` when there is none.
fn remaining(deadline_ms: u64) -> Option<Duration> {
    if deadline_ms < EARLIEST_EPOCH_DEADLINE_MS {
        return None;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    Some(Duration::from_millis(deadline_ms).saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        assert_eq!(remaining(0), None);
        assert_eq!(
            remaining(600_000),
            None,
            "cargo lambda watch's relative timeout"
        );
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = remaining(now_ms + 3_000).unwrap();
        assert!(
            left > Duration::from_millis(2_000) && left <= Duration::from_millis(3_000),
            "{left:?}"
        );
        assert_eq!(remaining(now_ms - 5_000), Some(Duration::ZERO));
    }

    #[test]
    fn absurd_deadlines_mean_no_deadline_not_a_panic() {
        // Representable on Linux (the answer is then a deadline in the far future); where it
        // is not, `checked_add` gives no deadline instead of a panic.
        let now = Instant::now();
        assert!(deadline_from(now, u64::MAX).is_none_or(|deadline| deadline > now));
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(deadline_from(Instant::now(), now_ms + 1_000).is_some());
    }
}
