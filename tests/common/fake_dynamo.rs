//! A DynamoDB endpoint that misbehaves on purpose, on a loopback port: it speaks just enough
//! HTTP/1.1 and DynamoDB's JSON 1.0 protocol for the SDK to talk to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Accepts connections and reads requests, but never answers.
    Hang,
    /// Answers every request with this status and body, after `delay`.
    Answer {
        delay: Duration,
        status: u16,
        body: String,
    },
    /// Starts a 200 answer and closes the connection half-way through the body.
    Truncate,
    /// Answers the n-th request with the n-th body (status 200), the last one from then on:
    /// e.g. a `BatchGetItem` that leaves keys unprocessed once, then answers them.
    Sequence(Vec<String>),
}

impl Behaviour {
    /// A DynamoDB error answer, e.g. `error(400, "ThrottlingException")`.
    pub fn error(status: u16, error_type: &str) -> Self {
        Behaviour::Answer {
            delay: Duration::ZERO,
            status,
            body: format!(
                r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{error_type}","message":"internal detail from DynamoDB"}}"#
            ),
        }
    }

    pub fn ok_after(delay: Duration, body: &str) -> Self {
        Behaviour::Answer {
            delay,
            status: 200,
            body: body.to_string(),
        }
    }
}

pub struct FakeDynamo {
    pub endpoint: String,
    requests: Arc<AtomicUsize>,
}

impl FakeDynamo {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let endpoint = format!("http://{}", listener.local_addr().expect("local address"));
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, behaviour.clone(), counter.clone()));
            }
        });
        FakeDynamo { endpoint, requests }
    }

    /// Requests received so far (attempts, retries included).
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// An endpoint where nothing listens: connections are refused.
pub fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let address = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{address}")
}

async fn serve(mut socket: TcpStream, behaviour: Behaviour, requests: Arc<AtomicUsize>) {
    let mut buffer = Vec::new();
    loop {
        let Some(request_length) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        buffer.drain(..request_length);
        let seen = requests.fetch_add(1, Ordering::SeqCst);
        let behaviour = match &behaviour {
            Behaviour::Sequence(bodies) => Behaviour::ok_after(
                Duration::ZERO,
                bodies
                    .get(seen)
                    .or(bodies.last())
                    .map_or("{}", String::as_str),
            ),
            other => other.clone(),
        };
        match &behaviour {
            Behaviour::Hang => {
                // Keep the connection open and silent until the client gives up.
                let mut sink = [0u8; 1024];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
            Behaviour::Answer {
                delay,
                status,
                body,
            } => {
                tokio::time::sleep(*delay).await;
                let response = format!(
                    "HTTP/1.1 {status} Fake\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nx-amzn-requestid: fake-request\r\n\r\n{body}",
                    body.len()
                );
                if socket.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
            Behaviour::Truncate => {
                let response = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 400\r\n\r\n{\"Item\": {\"user_id\"";
                let _ = socket.write_all(response.as_bytes()).await;
                return;
            }
            Behaviour::Sequence(_) => unreachable!("resolved to an answer above"),
        }
    }
}

/// Reads one whole request (headers and `content-length` body) into `buffer`; its length.
pub async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<usize> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(header_end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let headers = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
            let body_length = headers
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let total = header_end + 4 + body_length;
            if buffer.len() >= total {
                return Some(total);
            }
        }
        let read = socket.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}
