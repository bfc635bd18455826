//! A Runtime API double for a million invocations: events are made on demand by the test's
//! generator and every answer is handed to its checker as it arrives, then dropped, so that
//! the double's own memory stays flat (tests/runtime_api keeps every answer).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";

/// Makes invocation `index`'s event; the double sends it with `time_left` to its deadline.
pub type Generator = dyn Fn(usize) -> (String, Duration) + Send + Sync;
/// Judges invocation `index`'s answer (`Ok(body)`: a response, `Err(body)`: an invocation
/// error) and how long after it was handed out it came.
pub type Checker = dyn Fn(usize, Result<&str, &str>, Duration) + Send + Sync;

struct Shared {
    generate: Box<Generator>,
    check: Box<Checker>,
    total: usize,
    unique_trace_ids: bool,
    handed_out: AtomicUsize,
    answered: AtomicUsize,
    /// Open now: accepted and not yet closed.
    connections: AtomicUsize,
    in_flight: Mutex<HashMap<String, (usize, Instant)>>,
    bad_posts: AtomicUsize,
    progress: Notify,
}

#[derive(Clone)]
pub struct StreamingApi {
    pub address: String,
    shared: Arc<Shared>,
}

impl StreamingApi {
    /// Serves `total` invocations made by `generate`, each answer judged by `check`. Each has
    /// a trace id of its own, as on Lambda, unless `unique_trace_ids` is false (one for all).
    pub async fn start(
        total: usize,
        generate: Box<Generator>,
        check: Box<Checker>,
        unique_trace_ids: bool,
    ) -> StreamingApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let api = StreamingApi {
            address: listener.local_addr().expect("address").to_string(),
            shared: Arc::new(Shared {
                generate,
                check,
                total,
                unique_trace_ids,
                handed_out: AtomicUsize::new(0),
                answered: AtomicUsize::new(0),
                connections: AtomicUsize::new(0),
                in_flight: Mutex::default(),
                bad_posts: AtomicUsize::new(0),
                progress: Notify::new(),
            }),
        };
        let shared = api.shared.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn({
                        let shared = shared.clone();
                        move |request| {
                            let shared = shared.clone();
                            async move { Ok::<_, Infallible>(serve(&shared, request).await) }
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    shared.connections.fetch_sub(1, Ordering::Relaxed);
                });
            }
        });
        api
    }

    pub fn answered(&self) -> usize {
        self.shared.answered.load(Ordering::Relaxed)
    }

    /// Runtime API connections open now (a leak of them would grow; the client's pool may
    /// replace one, which a count of connections ever opened would mistake for growth).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    pub fn bad_posts(&self) -> usize {
        self.shared.bad_posts.load(Ordering::Relaxed)
    }

    /// Waits until at least `count` invocations are answered, or `patience` passes without
    /// one; the number answered.
    pub async fn wait_for(&self, count: usize, patience: Duration) -> usize {
        loop {
            let progress = self.shared.progress.notified();
            let answered = self.answered();
            if answered >= count {
                return answered;
            }
            if tokio::time::timeout(patience, progress).await.is_err() {
                return self.answered();
            }
        }
    }
}

async fn serve(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    if request.method() == Method::GET && path == NEXT {
        return next(shared).await;
    }
    let target = path
        .strip_prefix(INVOCATION)
        .and_then(|rest| rest.split_once('/'))
        .map(|(id, kind)| (id.to_string(), kind == "response"));
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let Some((id, is_response)) = target else {
        return reply(StatusCode::NOT_FOUND);
    };
    let index = shared
        .in_flight
        .lock()
        .expect("no panic while holding the map")
        .remove(&id);
    let Some((index, handed_out)) = index else {
        shared.bad_posts.fetch_add(1, Ordering::Relaxed);
        return reply(StatusCode::BAD_REQUEST);
    };
    let text = String::from_utf8_lossy(&body);
    (shared.check)(
        index,
        if is_response {
            Ok(text.as_ref())
        } else {
            Err(text.as_ref())
        },
        handed_out.elapsed(),
    );
    shared.answered.fetch_add(1, Ordering::Relaxed);
    shared.progress.notify_waiters();
    reply(StatusCode::ACCEPTED)
}

/// The long poll: the next invocation, or (all handed out) a poll that never ends.
async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    let index = shared.handed_out.fetch_add(1, Ordering::Relaxed);
    if index >= shared.total {
        std::future::pending::<()>().await;
    }
    let (event, time_left) = (shared.generate)(index);
    let id = format!("inv-{index:07}");
    shared
        .in_flight
        .lock()
        .expect("no panic while holding the map")
        .insert(id.clone(), (index, Instant::now()));
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
        + time_left.as_millis() as u64;
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:flickr-job-status",
        )
        .header(
            "lambda-runtime-trace-id",
            format!(
                "Root=1-67891233-{:024x};Sampled=1",
                if shared.unique_trace_ids { index } else { 0 }
            ),
        )
        .body(Full::new(Bytes::from(event)))
        .expect("a valid response")
}

fn reply(status: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
