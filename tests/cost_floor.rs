//! The bench's cost floor (examples/cost-floor.rs) reads the job its event names through the
//! function's own DynamoDB client, one invocation at a time: what docs/performance.md says its
//! figures stand for. Against the local DynamoDB server, under the Runtime API double.

mod common;
mod runtime_api;

use std::path::PathBuf;
use std::time::Duration;

use common::{status_of, COMPLETED_JOB, MISSING_JOB, OWNER};
use runtime_api::{Answer, Function, Invocation, RuntimeApi};
use serde_json::{json, Value};

/// `cargo test` builds the examples next to the binary, in `examples/`.
fn floor_binary() -> PathBuf {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_flickr-job-status"));
    let directory = binary.parent().expect("the binary's directory");
    directory.join("examples").join("cost-floor")
}

fn invocation(id: &str, event: Value) -> Invocation {
    Invocation {
        id: id.to_string(),
        trace_id: format!(
            "Root=1-67891233-{:0>24};Parent=0000000000000001;Sampled=1",
            id.len()
        ),
        time_left: Duration::from_secs(60),
        event: event.to_string(),
    }
}

/// Runs the floor in `mode` on three invocations (an owned job, a missing job, a non-HTTP
/// event); the bodies of their answers, in that order.
async fn floor_answers(mode: &str) -> Vec<String> {
    let api = RuntimeApi::start().await;
    let endpoint = common::endpoint();
    let table = common::table();
    let env = [
        ("FLOOR", mode),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("JOBS_TABLE", table.as_str()),
    ];
    let function = Function::start(&floor_binary(), &api, &env);
    api.enqueue([
        invocation("own-job", status_of(COMPLETED_JOB, OWNER)),
        invocation("missing-job", status_of(MISSING_JOB, OWNER)),
        invocation("not-http", json!({"hello": "world"})),
    ]);
    let outcome = api.wait_for(3, Duration::from_secs(20)).await;
    function.stop();
    assert!(outcome.bad_posts.is_empty(), "{:?}", outcome.bad_posts);
    // One at a time over one kept-alive connection, as the function itself runs on classic Lambda.
    assert_eq!((outcome.max_in_flight, outcome.connections), (1, 1));
    ["own-job", "missing-job", "not-http"]
        .iter()
        .map(|id| match outcome.answers.get(*id) {
            Some(Answer::Response(answer)) => {
                let answer: Value = serde_json::from_str(answer).expect("a JSON answer");
                assert_eq!(answer["statusCode"], 200, "{id}: {answer}");
                answer["body"].as_str().unwrap_or_default().to_string()
            }
            other => panic!("{id}: {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sdk_floor_reads_the_job_each_event_names() {
    assert_eq!(
        floor_answers("sdk").await,
        ["found", "missing", "no job id"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_runtime_floor_reads_nothing() {
    assert_eq!(
        floor_answers("runtime").await,
        ["not read", "not read", "not read"]
    );
}
