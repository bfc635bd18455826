//! Shared by tests/soak.rs and tests/faults_under_load.rs: a realistic mix of invocations (every
//! route but `GET /jobs`, every identity and error, big and small records) with the answer each
//! must get, the built binary started against the doubles, and what /proc says about its memory
//! and descriptors.
#![allow(dead_code)]

pub mod runtime;
pub mod table;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{
    bearer_with, get, http_event, job_url, now_secs, result_url, share_request, share_token_for,
    status_of, status_request, with_query, COMPLETED_JOB, FAILED_JOB, JWT_SECRET, MISSING_JOB,
    OTHER_USER, OWNER, QUEUED_JOB, TEST_USER,
};

/// The batch of the mix: two of the owner's jobs and a missing one, answered in this order.
const BATCH: &[&str] = &[COMPLETED_JOB, QUEUED_JOB, MISSING_JOB];

/// A bearer token for `user_id` valid for a day: a million invocations on a loaded machine
/// outlast the ten minutes of `common::bearer` (one run took 14 min, and from the tenth minute
/// on every token answered 401).
fn bearer(user_id: &str) -> String {
    bearer_with(JWT_SECRET, user_id, |claims| {
        claims.exp = now_secs() + 86_400
    })
}

/// `GET path` with the owner's day-long token.
fn as_owner(path: &str) -> Value {
    get(path, &[("authorization", &bearer(OWNER))])
}

/// What one kind of invocation must be answered with. `reads`: it reads the table, so under
/// faults a 503 is also a correct answer.
#[derive(Clone, Debug)]
pub struct Kind {
    pub name: &'static str,
    pub event: Value,
    pub status: u16,
    pub code: Option<&'static str>,
    /// The job id `data.id` must carry (200s of the job routes).
    pub job_id: Option<&'static str>,
    pub reads: bool,
    /// A page for people rather than the JSON envelope.
    pub html: bool,
    /// The ids `data.jobs` must carry, in order (200s of `POST /jobs/batch`).
    pub batch: Option<&'static [&'static str]>,
}

fn kind(name: &'static str, event: Value, status: u16, code: Option<&'static str>) -> Kind {
    Kind {
        name,
        event,
        status,
        code,
        job_id: None,
        reads: status != 400
            && status != 401
            && status != 405
            && code != Some("ERR_ROUTE_NOT_FOUND"),
        html: false,
        batch: None,
    }
}

/// The mix, in the proportions a day of traffic might have: mostly reads of one's own jobs,
/// some of others' and of missing ids, every error class, and a big record now and then.
pub fn mix() -> Vec<Kind> {
    let share = share_token_for(COMPLETED_JOB, now_secs() + 86_400);
    let owner = bearer(OWNER);
    let at = owner.len() - 10;
    let swapped = if &owner[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swapped}{}", &owner[..at], &owner[at + 1..]);
    let with_id = |mut kind: Kind, id: &'static str| {
        kind.job_id = Some(id);
        kind
    };
    let mut page = kind(
        "share link page",
        get(&result_url(COMPLETED_JOB), &[("accept", "text/html")]),
        200,
        None,
    );
    page.event = with_query(page.event, &format!("token={share}"));
    page.html = true;
    vec![
        with_id(
            kind(
                "status own completed",
                status_of(COMPLETED_JOB, OWNER),
                200,
                None,
            ),
            COMPLETED_JOB,
        ),
        with_id(
            kind("status own failed", status_of(FAILED_JOB, OWNER), 200, None),
            FAILED_JOB,
        ),
        with_id(
            kind("job own queued", as_owner(&job_url(QUEUED_JOB)), 200, None),
            QUEUED_JOB,
        ),
        with_id(
            kind(
                "job own completed",
                as_owner(&job_url(COMPLETED_JOB)),
                200,
                None,
            ),
            COMPLETED_JOB,
        ),
        kind(
            "result own completed",
            as_owner(&result_url(COMPLETED_JOB)),
            200,
            None,
        ),
        kind(
            "result own failed",
            as_owner(&result_url(FAILED_JOB)),
            409,
            Some("ERR_JOB_FAILED"),
        ),
        kind(
            "job of another user",
            get(
                &job_url(COMPLETED_JOB),
                &[("authorization", &bearer(OTHER_USER))],
            ),
            404,
            Some("ERR_JOB_NOT_FOUND"),
        ),
        kind(
            "status missing",
            status_of(MISSING_JOB, OWNER),
            404,
            Some("ERR_JOB_NOT_FOUND"),
        ),
        kind(
            "share",
            share_request(COMPLETED_JOB, &bearer(OWNER), None),
            201,
            None,
        ),
        kind(
            "result by share token",
            with_query(
                get(&result_url(COMPLETED_JOB), &[]),
                &format!("token={share}"),
            ),
            200,
            None,
        ),
        page,
        Kind {
            batch: Some(BATCH),
            ..kind(
                "batch own and missing",
                http_event(
                    "POST",
                    "/api/v1/flickr/jobs/batch",
                    &[
                        ("authorization", &bearer(OWNER)),
                        ("content-type", "application/json"),
                    ],
                    Some(&json!({ "job_ids": BATCH }).to_string()),
                ),
                200,
                None,
            )
        },
        with_id(
            kind("status big own", status_of("t-huge", TEST_USER), 200, None),
            "t-huge",
        ),
        kind(
            "status big of another",
            status_of("t-huge", OWNER),
            404,
            Some("ERR_JOB_NOT_FOUND"),
        ),
        kind(
            "status corrupt own",
            status_of("t-corrupt-returnvalue", TEST_USER),
            500,
            Some("ERR_INTERNAL"),
        ),
        kind(
            "status ownerless",
            status_of("t-ownerless", TEST_USER),
            404,
            Some("ERR_JOB_NOT_FOUND"),
        ),
        kind(
            "bad body",
            status_request(r#"{"job_id":7}"#),
            400,
            Some("ERR_INVALID_REQUEST"),
        ),
        kind(
            "no identity",
            get(&job_url(COMPLETED_JOB), &[]),
            401,
            Some("ERR_UNAUTHORIZED"),
        ),
        kind(
            "forged bearer",
            get(&job_url(COMPLETED_JOB), &[("authorization", &forged)]),
            401,
            Some("ERR_UNAUTHORIZED"),
        ),
        kind(
            "unknown route",
            get("/api/v1/flickr/nothing", &[]),
            404,
            Some("ERR_ROUTE_NOT_FOUND"),
        ),
        kind(
            "method not allowed",
            http_event("DELETE", &job_url(COMPLETED_JOB), &[], None),
            405,
            Some("ERR_METHOD_NOT_ALLOWED"),
        ),
        kind(
            "not http",
            json!({"hello": "world"}),
            400,
            Some("ERR_INVALID_REQUEST"),
        ),
    ]
}

/// The kind of invocation `index`: the first kinds (own jobs) more often than the rest.
pub fn kind_of(index: usize, kinds: usize) -> usize {
    let spread = index.wrapping_mul(2_654_435_761) % (kinds + 6);
    if spread >= kinds {
        spread - kinds
    } else {
        spread
    }
}

/// Invocation `index` of kind `kind`: the event with a request id of its own.
pub fn event(kind: &Kind, index: usize) -> String {
    let mut event = kind.event.clone();
    if event.get("requestContext").is_some() {
        event["requestContext"]["requestId"] = json!(request_id(index));
    }
    event.to_string()
}

pub fn request_id(index: usize) -> String {
    format!("gw-{index:07}")
}

/// What is wrong with `answer` to invocation `index` of `kind`, if anything. `faulty`: the
/// table may fail, so a read may also be a 503 with `Retry-After: 1`.
pub fn judge(
    kind: &Kind,
    index: usize,
    answer: Result<&str, &str>,
    faulty: bool,
) -> Option<String> {
    let body = match answer {
        Ok(body) => body,
        Err(error) => return Some(format!("an invocation error: {error}")),
    };
    let response: Value = match serde_json::from_str(body) {
        Ok(value) => value,
        Err(_) => return Some("not JSON".to_string()),
    };
    let status = response["statusCode"].as_u64().unwrap_or(0) as u16;
    let header = |name: &str| {
        response["headers"][name]
            .as_str()
            .or_else(|| response["multiValueHeaders"][name][0].as_str())
    };
    let own_id = if kind.event.get("requestContext").is_some() {
        request_id(index)
    } else {
        format!("inv-{index:07}")
    };
    if header("x-request-id") != Some(own_id.as_str()) {
        return Some(format!(
            "x-request-id {:?}, not {own_id}",
            header("x-request-id")
        ));
    }
    if faulty && kind.reads && status == 503 {
        return (header("retry-after") != Some("1")).then(|| "a 503 without Retry-After: 1".into());
    }
    if status != kind.status {
        return Some(format!("status {status}, not {}", kind.status));
    }
    let text = response["body"].as_str().unwrap_or_default();
    if kind.html {
        return (!text.to_ascii_lowercase().starts_with("<!doctype html>"))
            .then(|| "not a page".to_string());
    }
    let envelope: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) => return Some("a body that is not the envelope".to_string()),
    };
    if envelope["request_id"] != json!(own_id) {
        return Some(format!(
            "another invocation's request_id: {}",
            envelope["request_id"]
        ));
    }
    if envelope["error"]["code"].as_str() != kind.code {
        return Some(format!("error code {}", envelope["error"]["code"]));
    }
    if let Some(id) = kind.job_id {
        if envelope["data"]["id"] != json!(id) {
            return Some(format!("another job's data: {}", envelope["data"]["id"]));
        }
    }
    if let Some(ids) = kind.batch {
        let answered: Vec<Option<&str>> = envelope["data"]["jobs"]
            .as_array()
            .map(|jobs| jobs.iter().map(|job| job["id"].as_str()).collect())
            .unwrap_or_default();
        if answered != ids.iter().map(|id| Some(*id)).collect::<Vec<_>>() {
            return Some(format!("a batch of other jobs: {answered:?}"));
        }
    }
    None
}

/// Failures found, the first ones kept in full.
#[derive(Default)]
pub struct Failures {
    count: AtomicUsize,
    first: Mutex<Vec<String>>,
}

impl Failures {
    pub fn add(&self, failure: String) {
        if self.count.fetch_add(1, Ordering::Relaxed) < 20 {
            self.first
                .lock()
                .expect("no panic holding it")
                .push(failure);
        }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn report(&self) -> String {
        format!(
            "{} failures, first ones:\n{}",
            self.count(),
            self.first.lock().expect("no panic holding it").join("\n")
        )
    }
}

/// The built binary against the doubles, its log read line by line and counted, not kept:
/// only lines above INFO are kept (a few), to be shown.
pub struct Function {
    child: Child,
    log: Option<JoinHandle<(usize, Vec<String>)>>,
}

impl Function {
    pub fn start(runtime_api: &str, table: &str, env: &[(&str, &str)]) -> Function {
        let mut command = Command::new(Path::new(env!("CARGO_BIN_EXE_flickr-job-status")));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "flickr-job-status")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_ENDPOINT_URL_DYNAMODB", table)
            .env("JOBS_TABLE", "flickr-jobs-test")
            .env("JWT_SECRET", crate::common::JWT_SECRET)
            .env("SHARE_TOKEN_SECRET", crate::common::SHARE_SECRET)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("the function starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let log = std::thread::spawn(move || {
            let mut lines = 0;
            let mut loud = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines += 1;
                if loud.len() < 10 && line.contains(r#""level":"ERROR""#) {
                    loud.push(line);
                }
            }
            (lines, loud)
        });
        Function {
            child,
            log: Some(log),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process: the lines it wrote, and its ERROR lines (the first few).
    pub fn stop(mut self) -> (usize, Vec<String>) {
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

/// The process's resident set now and at its peak (kB), and its open descriptors.
#[derive(Clone, Copy, Debug)]
pub struct ProcessStats {
    pub rss_kb: u64,
    pub peak_rss_kb: u64,
    pub fds: usize,
}

pub fn process_stats(pid: u32) -> ProcessStats {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count());
    ProcessStats {
        rss_kb: field("VmRSS:"),
        peak_rss_kb: field("VmHWM:"),
        fds,
    }
}

/// A shared, growing list (for the checker closures).
pub type Shared<T> = Arc<Mutex<T>>;

/// How long each invocation may take at most in the mix: generous, the point is the bound.
pub const TIME_LEFT: Duration = Duration::from_secs(10);

/// The events of a run over `kinds`: invocation `index` is a `kind_of` it, with `TIME_LEFT`.
pub fn generator(kinds: &Arc<Vec<Kind>>) -> Box<runtime::Generator> {
    let kinds = kinds.clone();
    Box::new(move |index: usize| {
        let kind = &kinds[kind_of(index, kinds.len())];
        (event(kind, index), TIME_LEFT)
    })
}

/// A count or seed from the environment (`1_000_000` allowed), else `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.replace('_', "").parse().ok())
        .unwrap_or(default)
}
