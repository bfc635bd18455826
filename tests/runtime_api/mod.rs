//! A test double of the Lambda Runtime API: hands out queued invocations to long polls (several
//! at once, as Lambda Managed Instances do) and records every answer by its invocation id.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// One invocation as Lambda sends it: the event and the headers of its `/next` answer.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub id: String,
    pub trace_id: String,
    /// The deadline, counted from the moment the invocation is handed out.
    pub time_left: Duration,
    pub event: String,
}

/// How the function answered one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Response(String),
    Error(String),
}

#[derive(Default)]
struct State {
    queue: VecDeque<Invocation>,
    handed_out: HashSet<String>,
    answers: HashMap<String, Answer>,
    /// Posts for an unknown or already answered invocation id.
    bad_posts: Vec<String>,
    max_in_flight: usize,
    connections: usize,
}

/// What the double saw once every invocation was answered.
#[derive(Debug)]
pub struct Outcome {
    pub answers: HashMap<String, Answer>,
    pub bad_posts: Vec<String>,
    /// Most invocations handed out and not yet answered at once.
    pub max_in_flight: usize,
    pub connections: usize,
}

#[derive(Clone)]
pub struct RuntimeApi {
    address: String,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
    answered: Arc<Notify>,
}

impl RuntimeApi {
    /// Listens on a free loopback port; serves until the test ends.
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let api = RuntimeApi {
            address: listener.local_addr().expect("address").to_string(),
            state: Arc::default(),
            queued: Arc::default(),
            answered: Arc::default(),
        };
        let server = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                server.lock().connections += 1;
                let api = server.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let api = api.clone();
                        async move { Ok::<_, Infallible>(api.serve(request).await) }
                    });
                    // A connection the function drops (at exit) is not the double's concern.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        api
    }

    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn enqueue(&self, invocations: impl IntoIterator<Item = Invocation>) {
        self.lock().queue.extend(invocations);
        self.queued.notify_waiters();
    }

    /// Waits until `count` invocations are answered, or `patience` passes without an answer.
    pub async fn wait_for(&self, count: usize, patience: Duration) -> Outcome {
        loop {
            let answered = self.answered.notified();
            if self.lock().answers.len() >= count {
                break;
            }
            if tokio::time::timeout(patience, answered).await.is_err() {
                break;
            }
        }
        let state = self.lock();
        Outcome {
            answers: state.answers.clone(),
            bad_posts: state.bad_posts.clone(),
            max_in_flight: state.max_in_flight,
            connections: state.connections,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .expect("no test thread panicked holding the state")
    }

    async fn serve(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_string();
        if request.method() == Method::GET && path == NEXT {
            return self.next().await;
        }
        let answer = path
            .strip_prefix(INVOCATION)
            .and_then(|rest| rest.split_once('/'))
            .map(|(id, kind)| (id.to_string(), kind.to_string()));
        let body = match request.into_body().collect().await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Err(error) => format!("unreadable body: {error}"),
        };
        let Some((id, kind)) = answer else {
            return reply(StatusCode::NOT_FOUND, "no such route");
        };
        let answer = match kind.as_str() {
            "response" => Answer::Response(body),
            "error" => Answer::Error(body),
            _ => return reply(StatusCode::NOT_FOUND, "no such route"),
        };
        let mut state = self.lock();
        if !state.handed_out.remove(&id) {
            state.bad_posts.push(format!("{kind} for {id}"));
            return reply(StatusCode::BAD_REQUEST, "unknown or already answered");
        }
        state.answers.insert(id, answer);
        drop(state);
        self.answered.notify_waiters();
        reply(StatusCode::ACCEPTED, "")
    }

    /// The long poll: waits for a queued invocation, however long that takes.
    async fn next(&self) -> Response<Full<Bytes>> {
        let invocation = loop {
            let queued = self.queued.notified();
            if let Some(invocation) = self.lock().queue.pop_front() {
                break invocation;
            }
            queued.await;
        };
        let deadline_ms = now_ms() + invocation.time_left.as_millis() as u64;
        let mut state = self.lock();
        state.handed_out.insert(invocation.id.clone());
        state.max_in_flight = state.max_in_flight.max(state.handed_out.len());
        drop(state);
        Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &invocation.id)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:flickr-job-status",
            )
            .header("lambda-runtime-trace-id", &invocation.trace_id)
            .body(Full::new(Bytes::from(invocation.event)))
            .expect("a valid response")
    }
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// A function binary talking to the double, with its stdout (the log) read line by line.
pub struct Function {
    child: Child,
    log: Option<JoinHandle<Vec<String>>>,
}

impl Function {
    /// Starts `binary` with a Lambda-like environment (nothing inherited but `PATH`) plus `env`.
    pub fn start(binary: &Path, api: &RuntimeApi, env: &[(&str, &str)]) -> Function {
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "flickr-job-status")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("{} starts: {error}", binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let log = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect()
        });
        Function {
            child,
            log: Some(log),
        }
    }

    /// The process id, to read its CPU time from /proc.
    #[allow(dead_code)] // not every test target that shares this module measures CPU
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process and returns every line it wrote.
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log
            .take()
            .and_then(|log| log.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
