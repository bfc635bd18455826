//! A DynamoDB double for long runs: answers `GetItem` and `BatchGetItem` from the fixtures'
//! items, fast (the soak must not measure moto), and, when asked, injects seeded faults at
//! random: latency spikes, throttling, 5xx, dropped connections and half-written answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::common::fake_dynamo::read_request;

/// How often each fault happens, in parts per thousand requests (the rest are answered well).
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Answered correctly, but `spike` late.
    pub slow: u32,
    pub spike: Duration,
    /// 400 ThrottlingException.
    pub throttle: u32,
    /// 500 InternalServerError.
    pub server_error: u32,
    /// The connection closed without an answer.
    pub drop: u32,
    /// A 200 whose body stops half-way (the connection then closes).
    pub truncate: u32,
}

pub struct TableDouble {
    pub endpoint: String,
    requests: Arc<AtomicUsize>,
}

struct Shared {
    /// GetItem answers by job id.
    items: HashMap<String, String>,
    /// The items themselves, for BatchGetItem.
    raw_items: HashMap<String, Value>,
    faults: Faults,
    /// A splitmix64 state: each request takes the next number, so a run is reproducible from
    /// its seed up to the order in which concurrent requests arrive.
    rng: AtomicU64,
    requests: Arc<AtomicUsize>,
}

/// The items of dev/sample-jobs.json and tests/fixtures/records.json, by job id.
fn fixture_items() -> HashMap<String, Value> {
    let mut items = HashMap::new();
    for json in [
        include_str!("../../dev/sample-jobs.json"),
        include_str!("../fixtures/records.json"),
    ] {
        let list: Vec<Value> = serde_json::from_str(json).expect("typed JSON");
        for item in list {
            let id = item["jobId"]["S"].as_str().expect("a jobId").to_string();
            items.insert(id, item);
        }
    }
    items
}

impl TableDouble {
    pub async fn start(faults: Faults, seed: u64) -> TableDouble {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let requests = Arc::new(AtomicUsize::new(0));
        let raw_items = fixture_items();
        let shared = Arc::new(Shared {
            items: raw_items
                .iter()
                .map(|(id, item)| (id.clone(), json!({ "Item": item }).to_string()))
                .collect(),
            raw_items,
            faults,
            rng: AtomicU64::new(seed),
            requests: requests.clone(),
        });
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone()));
            }
        });
        TableDouble { endpoint, requests }
    }

    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Relaxed)
    }
}

fn next_random(rng: &AtomicU64) -> u64 {
    let mut z = rng
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

enum Fault {
    None,
    Slow,
    Throttle,
    ServerError,
    Drop,
    Truncate,
}

fn pick(shared: &Shared) -> Fault {
    let f = shared.faults;
    let mut roll = (next_random(&shared.rng) % 1000) as u32;
    for (share, fault) in [
        (f.slow, Fault::Slow),
        (f.throttle, Fault::Throttle),
        (f.server_error, Fault::ServerError),
        (f.drop, Fault::Drop),
        (f.truncate, Fault::Truncate),
    ] {
        if roll < share {
            return fault;
        }
        roll -= share;
    }
    Fault::None
}

fn key_of(body: &[u8]) -> Option<String> {
    let request: Value = serde_json::from_slice(body).ok()?;
    let key = request["Key"].as_object()?;
    key.values().next()?["S"].as_str().map(str::to_string)
}

/// A BatchGetItem answer: every key the fixtures hold, nothing unprocessed.
fn batch_answer(shared: &Shared, body: &[u8]) -> String {
    let request: Value = serde_json::from_slice(body).unwrap_or_default();
    let mut responses = serde_json::Map::new();
    for (table, asked) in request["RequestItems"].as_object().into_iter().flatten() {
        let found: Vec<&Value> = asked["Keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|key| key.as_object()?.values().next()?["S"].as_str())
            .filter_map(|id| shared.raw_items.get(id))
            .collect();
        responses.insert(table.clone(), json!(found));
    }
    json!({ "Responses": responses, "UnprocessedKeys": {} }).to_string()
}

async fn serve(mut socket: TcpStream, shared: Arc<Shared>) {
    let mut buffer = Vec::new();
    loop {
        let Some(length) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        let request: Vec<u8> = buffer.drain(..length).collect();
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let body_start = request
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(request.len(), |at| at + 4);
        let headers = String::from_utf8_lossy(&request[..body_start]).to_ascii_lowercase();
        let body = &request[body_start..];
        let answer = if headers.contains("x-amz-target: dynamodb_20120810.batchgetitem") {
            batch_answer(&shared, body)
        } else {
            key_of(body)
                .and_then(|key| shared.items.get(&key).cloned())
                .unwrap_or_else(|| "{}".to_string())
        };
        let (status, body) = match pick(&shared) {
            Fault::None => (200, answer),
            Fault::Slow => {
                tokio::time::sleep(shared.faults.spike).await;
                (200, answer)
            }
            Fault::Throttle => (400, error_body("ThrottlingException")),
            Fault::ServerError => (500, error_body("InternalServerError")),
            Fault::Drop => return,
            Fault::Truncate => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n",
                    answer.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket
                    .write_all(&answer.as_bytes()[..answer.len() / 2])
                    .await;
                return;
            }
        };
        let response = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nx-amzn-requestid: double\r\n\r\n{body}",
            body.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn error_body(error_type: &str) -> String {
    format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"injected"}}"#)
}
