//! What the `Prefer: wait` tests share: jobs of their own in the local table, written and
//! changed the way a worker writes them, and the owner's requests for them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::common::fake_dynamo::read_request;
use crate::common::{bearer, http_event, now_ms, table, Reply, OWNER};

/// A job id of this test run, so that runs and tests never see each other's records.
pub fn fresh_id(name: &str) -> String {
    format!("wait-{name}-{}-{}", std::process::id(), now_ms())
}

/// Writes a queued job of OWNER, as a worker creating it would.
pub async fn put_queued(client: &aws_sdk_dynamodb::Client, id: &str) {
    client
        .put_item()
        .table_name(table())
        .item("jobId", AttributeValue::S(id.into()))
        .item("user_id", AttributeValue::S(OWNER.into()))
        .item("state", AttributeValue::S("queued".into()))
        .item("target", AttributeValue::S("rest".into()))
        .item("attempts", AttributeValue::N("0".into()))
        .item("created_at", AttributeValue::N(now_ms().to_string()))
        .send()
        .await
        .expect("put the job");
}

/// One worker update: `SET` each attribute, and `updated_at`.
pub async fn update(client: &aws_sdk_dynamodb::Client, id: &str, set: &[(&str, AttributeValue)]) {
    let mut request = client
        .update_item()
        .table_name(table())
        .key("jobId", AttributeValue::S(id.into()));
    let mut assignments = vec!["updated_at = :updated_at".to_string()];
    request =
        request.expression_attribute_values(":updated_at", AttributeValue::N(now_ms().to_string()));
    for (index, (name, value)) in set.iter().enumerate() {
        assignments.push(format!("#a{index} = :v{index}"));
        request = request
            .expression_attribute_names(format!("#a{index}"), *name)
            .expression_attribute_values(format!(":v{index}"), value.clone());
    }
    request
        .update_expression(format!("SET {}", assignments.join(", ")))
        .send()
        .await
        .expect("update the job");
}

pub fn progress(percent: u32, stage: &str) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        (
            "percent".to_string(),
            AttributeValue::N(percent.to_string()),
        ),
        ("stage".to_string(), AttributeValue::S(stage.into())),
    ]))
}

pub fn flickr_result() -> AttributeValue {
    AttributeValue::M(HashMap::from([
        ("from_cache".to_string(), AttributeValue::Bool(false)),
        (
            "flickr".to_string(),
            AttributeValue::M(HashMap::from([(
                "stat".to_string(),
                AttributeValue::S("ok".into()),
            )])),
        ),
    ]))
}

pub fn status_path(id: &str) -> String {
    format!("/api/v1/flickr/jobs/{id}")
}

/// A GET of the owner's with extra headers.
pub fn owner_get(path: &str, extra: &[(&str, &str)]) -> Value {
    let auth = bearer(OWNER);
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    http_event("GET", path, &headers, None)
}

pub fn etag(reply: &Reply) -> String {
    reply.header("etag").expect("an ETag").to_string()
}

/// How the fake table answers at the moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `GetItem` of the items put, by their `jobId`.
    Serve,
    /// `ThrottlingException` (the SDK retries it, then gives up).
    Throttle,
    /// Reads the request and never answers (the attempt timeout cuts it).
    Hang,
}

/// A DynamoDB endpoint of items in memory whose answers a test switches while requests wait:
/// cheap enough to serve hundreds of re-reads a second, and failing on demand.
pub struct FakeTable {
    pub endpoint: String,
    items: Arc<Mutex<HashMap<String, Value>>>,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
}

impl FakeTable {
    pub async fn start() -> FakeTable {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let table = FakeTable {
            endpoint: format!("http://{}", listener.local_addr().expect("address")),
            items: Arc::default(),
            mode: Arc::new(Mutex::new(Mode::Serve)),
            requests: Arc::default(),
        };
        let (items, mode, requests) = (
            table.items.clone(),
            table.mode.clone(),
            table.requests.clone(),
        );
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, items.clone(), mode.clone(), requests.clone()));
            }
        });
        table
    }

    /// Stores (or replaces) an item in DynamoDB JSON under its job id.
    pub fn put(&self, id: &str, item: Value) {
        self.items
            .lock()
            .expect("items")
            .insert(id.to_string(), item);
    }

    pub fn switch(&self, mode: Mode) {
        *self.mode.lock().expect("mode") = mode;
    }

    /// Requests received so far, attempts and retries included.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut socket: TcpStream,
    items: Arc<Mutex<HashMap<String, Value>>>,
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
) {
    let mut buffer = Vec::new();
    while let Some(length) = read_request(&mut socket, &mut buffer).await {
        let request: Vec<u8> = buffer.drain(..length).collect();
        requests.fetch_add(1, Ordering::SeqCst);
        let mode = *mode.lock().expect("mode");
        let (status, body) = match mode {
            Mode::Serve => {
                let body_start = request
                    .windows(4)
                    .position(|window| window == b"\r\n\r\n")
                    .map_or(request.len(), |at| at + 4);
                let key: Value = serde_json::from_slice(&request[body_start..]).unwrap_or_default();
                let id = key["Key"]["jobId"]["S"].as_str().unwrap_or_default();
                let item = items.lock().expect("items").get(id).cloned();
                let body = item.map_or_else(|| json!({}), |item| json!({ "Item": item }));
                (200, body.to_string())
            }
            Mode::Throttle => (
                400,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#
                    .to_string(),
            ),
            Mode::Hang => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
        };
        let response = format!(
            "HTTP/1.1 {status} Fake\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// An item of OWNER in DynamoDB JSON, for the fake table.
pub fn fake_item(id: &str, state: &str, percent: Option<u32>) -> Value {
    let mut item = json!({
        "jobId": {"S": id},
        "user_id": {"S": OWNER},
        "state": {"S": state},
        "target": {"S": "rest"}
    });
    if let Some(percent) = percent {
        item["progress"] = json!({"M": {"percent": {"N": percent.to_string()}}});
    }
    item
}
