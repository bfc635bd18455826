//! Every file in events/ goes through the handler against the local DynamoDB server, and
//! gets the status, headers and body it documents. The same expectations judge what
//! `sam local invoke` answered for each file (dev/sam-local), so the two cannot drift.

mod common;

use common::*;
use serde_json::{json, Value};

const COMPLETED_DATA: &str = r#"{"id":"e6b6634c-e07c-43f0-88b3-9516590aad77","state":"completed","returnvalue":{"flickr":{"method":{"_content":"flickr.test.echo"},"name":{"_content":"callback-test"},"stat":"ok"},"from_cache":false,"observability":{"ok":true,"status":202}},"failedReason":null,"stacktrace":[],"queue":"flickr_rest"}"#;

/// What each event must answer.
enum Expect {
    /// 200 with exactly this `data`, byte for byte.
    CompletedStatus,
    Status {
        state: &'static str,
        queue: &'static str,
        retry_after: bool,
    },
    FailedStatus,
    FlickrResult,
    Pending,
    ShareLink,
    Error {
        status: u16,
        code: &'static str,
    },
}

fn expectation(name: &str) -> Expect {
    use Expect::*;
    match name {
        "http-api-get-job-jwt-authorizer"
        | "rest-api-get-job-lambda-authorizer"
        | "function-url-get-job-bearer" => return CompletedStatus,
        "http-api-get-job-lambda-authorizer" => {
            return Status {
                state: "queued",
                queue: "flickr_replace",
                retry_after: true,
            }
        }
        "http-api-get-job-bearer" => {
            return Status {
                state: "retrying",
                queue: "flickr_rest",
                retry_after: true,
            }
        }
        _ => {}
    }
    // The POST /jobs/status cases come in every payload format and answer the same in each.
    let case = ["http-api-", "rest-api-", "function-url-"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .unwrap_or(name);
    match case {
        "status-completed" | "status-base64-body" => CompletedStatus,
        "status-failed" => FailedStatus,
        "status-queued" => Status {
            state: "queued",
            queue: "flickr_replace",
            retry_after: false,
        },
        "status-not-found" | "status-wrong-user" | "get-job-bearer-other-user" => Error {
            status: 404,
            code: "ERR_JOB_NOT_FOUND",
        },
        "status-missing-fields" | "status-malformed-json" | "status-invalid-base64" => Error {
            status: 400,
            code: "ERR_INVALID_REQUEST",
        },
        "get-job-no-identity" | "get-result-share-token-other-job" => Error {
            status: 401,
            code: "ERR_UNAUTHORIZED",
        },
        "get-result-bearer" | "get-result-share-token" | "get-result-cognito" => FlickrResult,
        "get-result-failed" => Error {
            status: 409,
            code: "ERR_JOB_FAILED",
        },
        "get-result-queued" => Pending,
        "post-share-bearer" => ShareLink,
        _ => panic!("events/{name}.json has no expectation: add one here"),
    }
}

#[tokio::test]
async fn every_event_file_answers_as_documented() {
    let app = app(&[]).await;
    for (name, raw, event) in event_files() {
        let reply = invoke_raw(&app, &raw, 0).await;
        check(&name, &event, &reply);
    }
}

/// dev/sam-local runs every event through `sam local invoke` (the built function in its
/// container) and writes each answer to `$SAM_LOCAL_ANSWERS/<event name>.json`.
#[test]
#[ignore = "dev/sam-local runs it on the answers of `sam local invoke`"]
fn sam_local_answers_as_documented() {
    let dir = std::env::var("SAM_LOCAL_ANSWERS")
        .expect("SAM_LOCAL_ANSWERS: the directory where dev/sam-local wrote the answers");
    for (name, _, event) in event_files() {
        let path = std::path::Path::new(&dir).join(format!("{name}.json"));
        let answer = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("no sam local answer for events/{name}.json: {error}"));
        let answer: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|error| panic!("{name}: sam local answered no JSON ({error})"));
        check(&name, &event, &parse_lambda_response(&answer));
    }
}

/// Every events/*.json file, sorted: its name, its text and its JSON.
fn event_files() -> Vec<(String, String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/events"))
        .expect("events/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "expected the full set of sample events, found {}",
        files.len()
    );
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("utf-8 name")
                .to_string();
            let raw = std::fs::read_to_string(&path).expect("readable event");
            let event: Value = serde_json::from_str(&raw).expect("events are JSON");
            (name, raw, event)
        })
        .collect()
}

fn check(name: &str, event: &Value, reply: &Reply) {
    let gateway_id = event["requestContext"]["requestId"]
        .as_str()
        .expect("events carry a request id");
    assert_eq!(reply.body["request_id"], json!(gateway_id), "{name}");
    assert_eq!(reply.header("x-request-id"), Some(gateway_id), "{name}");
    match expectation(name) {
        Expect::CompletedStatus => {
            assert_eq!(reply.status, 200, "{name}: {reply:#?}");
            let expected =
                format!(r#"{{"request_id":"{gateway_id}","data":{COMPLETED_DATA},"error":null}}"#);
            assert_eq!(reply.raw_body.as_deref(), Some(expected.as_str()), "{name}");
        }
        Expect::Status {
            state,
            queue,
            retry_after,
        } => {
            assert_eq!(reply.status, 200, "{name}: {reply:#?}");
            assert_eq!(reply.data()["state"], json!(state), "{name}");
            assert_eq!(reply.data()["queue"], json!(queue), "{name}");
            assert_eq!(reply.header("retry-after").is_some(), retry_after, "{name}");
        }
        Expect::FailedStatus => {
            assert_eq!(reply.status, 200, "{name}: {reply:#?}");
            assert_eq!(
                reply.data(),
                &json!({
                    "id": FAILED_JOB, "state": "failed", "returnvalue": null,
                    "failedReason": format!("Token not found for userId={OWNER}"),
                    "stacktrace": [
                        format!("Error: Token not found for userId={OWNER}"),
                        "    at loadToken (/app/src/tokens.js:42:11)",
                        "    at async processUpload (/app/src/worker.js:118:19)"
                    ],
                    "queue": "flickr_upload"
                }),
                "{name}"
            );
        }
        Expect::FlickrResult => {
            assert_eq!(reply.status, 200, "{name}: {reply:#?}");
            assert_eq!(
                reply.data(),
                &json!({"stat": "ok", "method": {"_content": "flickr.test.echo"}, "name": {"_content": "callback-test"}}),
                "{name}"
            );
            assert_eq!(reply.header("x-from-cache"), Some("false"), "{name}");
        }
        Expect::Pending => {
            assert_eq!(reply.status, 202, "{name}: {reply:#?}");
            assert_eq!(
                reply.data(),
                &json!({"id": QUEUED_JOB, "state": "queued"}),
                "{name}"
            );
            assert_eq!(
                reply.header("location"),
                Some(format!("/api/v1/flickr/jobs/{QUEUED_JOB}").as_str())
            );
            assert_eq!(reply.header("retry-after"), Some("2"), "{name}");
        }
        Expect::ShareLink => {
            assert_eq!(reply.status, 201, "{name}: {reply:#?}");
            let url = reply.data()["url"].as_str().expect("a url");
            let token = reply.data()["token"].as_str().expect("a token");
            assert_eq!(
                url,
                format!("/api/v1/flickr/jobs/{COMPLETED_JOB}/result?token={token}")
            );
            assert!(
                reply.data()["expires_at"]
                    .as_str()
                    .is_some_and(|at| at.ends_with('Z')),
                "{name}"
            );
        }
        Expect::Error { status, code } => reply.assert_error(status, code),
    }
}
