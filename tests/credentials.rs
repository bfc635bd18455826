//! Where the built binary's DynamoDB credentials come from (src/store/sdk.rs): the
//! environment's keys, else the container credentials endpoint, which long-lived execution
//! environments use for credentials that renew. Against the local DynamoDB server.

mod common;
mod runtime_api;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{parse_lambda_response, status_of, COMPLETED_JOB, OWNER};
use runtime_api::{Answer, Function, Invocation, RuntimeApi};

/// A container credentials endpoint on loopback: answers every GET with one set of keys and
/// records each request's `Authorization` header.
fn credentials_endpoint() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("its address");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let mut reader = BufReader::new(&stream);
            let mut authorization = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 0) && line != "\r\n" {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("authorization:") {
                    authorization = value.trim().to_string();
                }
                line.clear();
            }
            recorded.lock().expect("lock").push(authorization);
            let body = r#"{"AccessKeyId":"AKIDCONTAINER","SecretAccessKey":"container-secret","Token":"container-session","Expiration":"2099-01-01T00:00:00Z"}"#;
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (format!("http://{address}/v2/credentials/test"), seen)
}

/// One legacy status read of the completed sample job by the binary started with `env`.
async fn status_with(env: &[(&str, &str)]) -> u16 {
    let api = RuntimeApi::start().await;
    let endpoint = common::endpoint();
    let table = common::table();
    let mut settings = vec![
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
        ("JOBS_TABLE", table.as_str()),
        ("DYNAMODB_TIMEOUT_MS", "1000"),
    ];
    settings.extend_from_slice(env);
    let function = Function::start(
        Path::new(env!("CARGO_BIN_EXE_flickr-job-status")),
        &api,
        &settings,
    );
    api.enqueue([Invocation {
        id: "inv-credentials".into(),
        trace_id: "Root=1-67891233-000000000000000000000001;Sampled=1".into(),
        time_left: Duration::from_secs(30),
        event: status_of(COMPLETED_JOB, OWNER).to_string(),
    }]);
    let outcome = api.wait_for(1, Duration::from_secs(30)).await;
    function.stop();
    assert!(outcome.bad_posts.is_empty(), "{:?}", outcome.bad_posts);
    assert!(outcome.max_in_flight <= 1 && outcome.connections >= 1);
    match &outcome.answers["inv-credentials"] {
        Answer::Response(body) => {
            parse_lambda_response(&serde_json::from_str(body).expect("JSON")).status
        }
        Answer::Error(body) => panic!("an invocation error: {body}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keys_in_the_environment_the_container_endpoint_is_asked() {
    let (uri, seen) = credentials_endpoint();
    let status = status_with(&[
        // Empty counts as unset, as Lambda's environment without keys would have them.
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-auth-token"),
    ])
    .await;
    assert_eq!(status, 200, "the read was signed with the container's keys");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen.len(),
        1,
        "asked once: the init warm-up read and the request share the cached credentials"
    );
    assert!(
        seen.iter().all(|header| header == "container-auth-token"),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_in_the_environment_come_first() {
    let (uri, seen) = credentials_endpoint();
    // Function::start sets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    let status = status_with(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str())]).await;
    assert_eq!(status, 200);
    assert!(seen.lock().expect("lock").is_empty(), "never asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_any_credentials_a_read_fails_cleanly() {
    let status = status_with(&[("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")]).await;
    assert_eq!(
        status, 503,
        "retry later, as for any store that cannot be read"
    );
}
