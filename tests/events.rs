//! Every file in events/ goes through the handler against the local DynamoDB server, and
//! gets the status, headers and body it documents. The same expectations judge what
//! `sam local invoke` answered for each file (dev/sam-local), so the two cannot drift.

mod common;

use common::*;
use serde_json::{json, Value};

/// What each event must answer.
enum Expect {
    /// 200 with exactly the `data` of tests/fixtures/expected/completed-status.json, byte for byte.
    CompletedStatus,
    /// The same for `GET /jobs/{job_id}`: tests/fixtures/expected/completed-job.json.
    CompletedJob,
    Status {
        state: &'static str,
        queue: &'static str,
        retry_after: bool,
    },
    FailedStatus,
    FlickrResult,
    /// The 500-photo result of a record stored as B, gzip-compressed on the way out
    /// (docs/API.md#compression-and-size-limits).
    CompressedResult,
    Pending,
    /// The 202 of a pending result after holding the request (`Prefer: wait`).
    PendingAfterWait,
    /// A 304 answered at once: API Gateway's limit for the event had passed.
    NotModified,
    ShareLink,
    /// `POST /jobs/batch` of the completed job, the queued one and a missing one, in that order.
    Batch,
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
        | "function-url-get-job-bearer" => return CompletedJob,
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
        "get-result-large-gzip" => CompressedResult,
        "get-result-failed" => Error {
            status: 409,
            code: "ERR_JOB_FAILED",
        },
        "get-result-queued" => Pending,
        "get-result-wait-queued" => PendingAfterWait,
        "get-job-wait-not-modified-late" => NotModified,
        "get-job-wait-changed" => Status {
            state: "queued",
            queue: "flickr_replace",
            retry_after: true,
        },
        "post-share-bearer" => ShareLink,
        "post-batch-bearer" => Batch,
        // The sample table has no user index, and neither the tests nor dev/sam-local set
        // JOBS_USER_INDEX (sam local leaves conditional variables blank): the listing's 501.
        "get-jobs-bearer" => Error {
            status: 501,
            code: "ERR_NOT_CONFIGURED",
        },
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
        let reply = parse_lambda_response(&answer);
        println!(
            "  {name:<45} {} {}",
            reply.status,
            reply.error_code().unwrap_or("")
        );
        check(&name, &event, &reply);
    }
}

/// dev/sam-local sends requests through `sam local start-api`, each the request of the event file
/// it is named after, and writes each raw HTTP answer to `$SAM_LOCAL_API_ANSWERS/<event name>.http`:
/// the same expectations judge them.
#[test]
#[ignore = "dev/sam-local runs it on the answers of `sam local start-api`"]
fn sam_local_start_api_answers_as_documented() {
    let dir = std::env::var("SAM_LOCAL_API_ANSWERS")
        .expect("SAM_LOCAL_API_ANSWERS: the directory where dev/sam-local wrote the answers");
    let mut answers: Vec<_> = std::fs::read_dir(&dir)
        .expect("the answers' directory")
        .map(|entry| entry.expect("readable entry").path())
        .collect();
    answers.sort();
    assert!(
        answers.len() >= 4,
        "start-api answered {} requests",
        answers.len()
    );
    for path in answers {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a name")
            .to_string();
        let raw = std::fs::read_to_string(&path).expect("a readable answer");
        let reply = parse_http_answer(&raw);
        println!(
            "  start-api {name:<35} {} {}",
            reply.status,
            reply.error_code().unwrap_or("")
        );
        // start-api makes its own request ids: the body's and the header's must agree.
        assert_eq!(
            reply.body["request_id"].as_str(),
            reply.header("x-request-id"),
            "{name}"
        );
        check_expectation(&name, &reply);
    }
}

/// An HTTP/1.1 answer as `curl -i` writes it.
fn parse_http_answer(raw: &str) -> Reply {
    let (head, body) = raw.split_once("\r\n\r\n").expect("headers, then the body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let raw_body = (!body.is_empty()).then(|| body.to_string());
    Reply {
        status,
        headers,
        body: raw_body.as_deref().map_or(Value::Null, |text| {
            serde_json::from_str(text).expect("a JSON body")
        }),
        raw_body,
        wire_body: None,
        refusal: None,
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
    if reply.status == 304 {
        // No body; the tag it confirms is the one asked about.
        assert_eq!(
            reply.header("etag"),
            event["headers"]["if-none-match"].as_str(),
            "{name}"
        );
    } else {
        assert_eq!(reply.body["request_id"], json!(gateway_id), "{name}");
    }
    assert_eq!(reply.header("x-request-id"), Some(gateway_id), "{name}");
    let held = matches!(expectation(name), Expect::PendingAfterWait);
    assert_eq!(
        reply.header("preference-applied"),
        held.then_some("wait=2"),
        "{name}: Preference-Applied on held answers only"
    );
    check_expectation(name, reply);
}

/// The status, headers and body the event `name` documents (see `expectation`).
fn check_expectation(name: &str, reply: &Reply) {
    let request_id = reply.body["request_id"].as_str().unwrap_or_default();
    match expectation(name) {
        Expect::CompletedStatus | Expect::CompletedJob => {
            assert_eq!(reply.status, 200, "{name}: {reply:#?}");
            let data = match expectation(name) {
                Expect::CompletedStatus => COMPLETED_STATUS_DATA,
                _ => COMPLETED_JOB_DATA,
            };
            let expected = format!(
                r#"{{"request_id":"{request_id}","data":{},"error":null}}"#,
                data.trim_end()
            );
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
        Expect::CompressedResult => {
            assert_eq!(reply.status, 200, "{name}: {:?}", reply.headers);
            assert_eq!(reply.header("content-encoding"), Some("gzip"), "{name}");
            assert_eq!(
                reply.header("vary"),
                Some("Accept, Accept-Encoding"),
                "{name}"
            );
            let photos = reply.data()["photos"]["photo"].as_array().map(Vec::len);
            assert_eq!(photos, Some(500), "{name}");
        }
        Expect::NotModified => {
            assert_eq!(reply.status, 304, "{name}: {reply:#?}");
            assert_eq!(reply.raw_body, None, "{name}");
            assert!(reply.header("etag").is_some(), "{name}");
            assert_eq!(reply.header("retry-after"), Some("2"), "{name}");
        }
        Expect::Pending | Expect::PendingAfterWait => {
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
        Expect::Batch => {
            assert_eq!(reply.status, 200, "{name}: {reply:#?}");
            let jobs = reply.data()["jobs"].as_array().expect("jobs");
            assert_eq!(jobs.len(), 3, "{name}");
            assert_eq!(jobs[0]["id"], json!(COMPLETED_JOB), "{name}");
            assert_eq!(jobs[0]["state"], json!("completed"), "{name}");
            assert_eq!(jobs[1]["id"], json!(QUEUED_JOB), "{name}");
            assert_eq!(jobs[1]["state"], json!("queued"), "{name}");
            assert_eq!(
                jobs[2],
                json!({"id": MISSING_JOB, "error": {"code": "ERR_JOB_NOT_FOUND", "message": "job_not_found"}}),
                "{name}"
            );
        }
        Expect::Error { status, code } => reply.assert_error(status, code),
    }
}
