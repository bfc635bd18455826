//! Bench tool: the least any function built on this project's crates can cost per invoke.
//!
//! `FLOOR=runtime`: `lambda_runtime` answering a constant. `FLOOR=sdk` (the default): the same
//! plus one `GetItem` of the job the event's JSON body names, through this project's own
//! DynamoDB client (same SDK settings, same request). No routing, identity, record mapping,
//! logs or metrics: the gap between these rows and the function's is this project's own code
//! (docs/performance.md).
//! `./dev/bench` builds it and runs both beside the function.

use std::convert::Infallible;

use flickr_job_status::config::Config;
use flickr_job_status::lambda;
use flickr_job_status::store::{DynamoStore, JobStore, Projection};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Just enough of an API Gateway event to find the job id (plain-text JSON bodies only).
#[derive(Deserialize)]
struct Event {
    body: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    job_id: String,
}

fn job_id(event: &RawValue) -> Option<String> {
    let event: Event = serde_json::from_str(event.get()).ok()?;
    let body: Body = serde_json::from_str(event.body.as_deref()?).ok()?;
    Some(body.job_id)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status_code: u16,
    body: &'static str,
}

/// What the read found: only the answer's body says it (tests/cost_floor.rs checks it).
async fn read(store: &DynamoStore, event: &RawValue) -> &'static str {
    let Some(job_id) = job_id(event) else {
        return "no job id";
    };
    match store.get_job(&job_id, Projection::Legacy).await {
        Ok(Some(_)) => "found",
        Ok(None) => "missing",
        Err(_) => "failed",
    }
}

fn main() -> Result<(), Error> {
    let with_store = std::env::var("FLOOR").as_deref() != Ok("runtime");
    lambda::tokio_runtime(1)?.block_on(async move {
        let config = Config::from_env()?;
        let store: &'static DynamoStore = Box::leak(Box::new(DynamoStore::from_config(&config)));
        if with_store {
            store.warm_up().await;
        }
        tokio::spawn(lambda::keep_timer_wheel_armed());
        lambda_runtime::run(service_fn(
            move |event: LambdaEvent<Box<RawValue>>| async move {
                let read = if with_store {
                    read(store, &event.payload).await
                } else {
                    "not read"
                };
                Ok::<_, Infallible>(Answer {
                    status_code: 200,
                    body: read,
                })
            },
        ))
        .await
    })
}
