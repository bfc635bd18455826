//! Shared by the integration tests: the local DynamoDB server, events, and invoking the handler
//! the way Lambda does (raw event in, HTTP response payload out).
#![allow(dead_code)]

pub mod fake_dynamo;
pub mod idp;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use flickr_job_status::app::App;
use flickr_job_status::auth::Refusal;
use flickr_job_status::config::Config;
use flickr_job_status::lambda::answer;
use flickr_job_status::store::{
    sdk_config, DynamoStore, JobStore, Projection, StoreError, StoredJob,
};
use flickr_job_status::wiring;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

pub const OWNER: &str = "09b4e414-4f70-4226-9ee8-f9e815fc2539";
pub const OTHER_USER: &str = "5d1e7f3a-0b2c-4d6e-8f9a-1b2c3d4e5f60";
pub const COMPLETED_JOB: &str = "e6b6634c-e07c-43f0-88b3-9516590aad77";
pub const FAILED_JOB: &str = "3f1c2a9e-7b55-4d0e-9a61-2c8f0b7d4e11";
pub const QUEUED_JOB: &str = "7a2d9c4b-1e3f-4b8a-8c5d-6f0e9a1b2c3d";
pub const RETRYING_JOB: &str = "b5e8f1a2-3c4d-4e5f-9a6b-7c8d9e0f1a2b";
pub const MISSING_JOB: &str = "00000000-0000-4000-8000-000000000000";
/// Owner of the records in tests/fixtures/records.json.
pub const TEST_USER: &str = "user-test-1";
pub const JWT_SECRET: &str = "local-dev-jwt-secret";
pub const SHARE_SECRET: &str = "local-dev-share-secret";
pub const INVOCATION_ID: &str = "invocation-id-1";
/// The `data` of the completed sample job, exactly as `POST /jobs/status` writes it (the README's
/// answer, the HTTP tests and dev/sam-local read the same file).
pub const COMPLETED_STATUS_DATA: &str = include_str!("../fixtures/expected/completed-status.json");
/// The same job as `GET /jobs/{job_id}` writes it.
pub const COMPLETED_JOB_DATA: &str = include_str!("../fixtures/expected/completed-job.json");

/// The local DynamoDB server that dev/test started. Every test that reads a table gets there
/// through this function, which notes the test target in `TABLE_READERS_DIR`: dev/test runs
/// exactly the targets noted on moto again on dynalite, so no table-reading test can skip it.
pub fn endpoint() -> String {
    note_table_reader();
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .expect("AWS_ENDPOINT_URL_DYNAMODB is unset: run the tests through dev/test, which starts the local DynamoDB server")
}

fn note_table_reader() {
    let Ok(dir) = std::env::var("TABLE_READERS_DIR") else {
        return;
    };
    // The test binary is `<target>-<hash>`: the target's name is what `cargo test --test` takes.
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
        })
        .and_then(|stem| stem.rsplit_once('-').map(|(name, _)| name.to_string()))
        .expect("a test binary named <target>-<hash>");
    let _ = std::fs::create_dir_all(&dir);
    std::fs::write(std::path::Path::new(&dir).join(target), b"")
        .expect("TABLE_READERS_DIR is writable");
}

/// The table dev/test seeded with dev/sample-jobs.json and tests/fixtures/records.json.
pub fn table() -> String {
    std::env::var("TEST_JOBS_TABLE").unwrap_or_else(|_| "flickr-jobs-test".to_string())
}

/// The test configuration: the seeded table and the dev secrets, with `overrides` on top
/// (an empty value unsets a variable).
pub fn config(overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("JOBS_TABLE".to_string(), table()),
        ("JWT_SECRET".to_string(), JWT_SECRET.to_string()),
        ("SHARE_TOKEN_SECRET".to_string(), SHARE_SECRET.to_string()),
    ]);
    for (name, value) in overrides {
        vars.insert(name.to_string(), value.to_string());
    }
    Config::from_lookup(|name| vars.get(name).cloned()).expect("a valid test configuration")
}

/// The app against the local DynamoDB server, built the way `main` builds it.
pub async fn app(overrides: &[(&str, &str)]) -> App<Counting<DynamoStore>> {
    endpoint();
    let config = config(overrides);
    let store = DynamoStore::from_config(&config);
    wiring::app(&config, Counting::new(store))
}

/// The app against another endpoint (a fault-injecting server, a closed port).
pub async fn app_at(endpoint: &str, overrides: &[(&str, &str)]) -> App<Counting<DynamoStore>> {
    let config = config(overrides);
    let sdk = sdk_config(&config).endpoint_url(endpoint).build();
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(sdk), &config);
    wiring::app(&config, Counting::new(store))
}

/// A direct SDK client on the local server, for tests that write records of their own.
pub async fn client() -> aws_sdk_dynamodb::Client {
    let sdk = sdk_config(&config(&[])).endpoint_url(endpoint()).build();
    aws_sdk_dynamodb::Client::from_conf(sdk)
}

/// Waits until a table the test created is ACTIVE: DynamoDB, DynamoDB Local and dynalite create
/// tables asynchronously (moto at once). Polls every 100 ms, where the SDK's own waiter sleeps
/// at least 20 s between attempts.
pub async fn wait_until_active(client: &aws_sdk_dynamodb::Client, table: &str) {
    use aws_sdk_dynamodb::types::TableStatus;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .expect("describe the new table");
        let status = described.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "table {table} still {status:?} after 60 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Counts the store reads, to prove one `GetItem` per valid request and none for rejected ones.
pub struct Counting<S> {
    inner: S,
    reads: Arc<AtomicUsize>,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Self {
        Counting {
            inner,
            reads: Arc::new(AtomicUsize::new(0)),
        }
    }
}

pub trait ReadCount {
    fn reads(&self) -> usize;
}

impl<S: JobStore> ReadCount for App<Counting<S>> {
    fn reads(&self) -> usize {
        self.store().reads.load(Ordering::SeqCst)
    }
}

impl<S: JobStore> JobStore for Counting<S> {
    async fn get_job(
        &self,
        job_id: &str,
        projection: Projection,
    ) -> Result<Option<StoredJob>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_job(job_id, projection).await
    }

    // GET /jobs and POST /jobs/batch: one store call each (a Query; a BatchGetItem with retries).
    async fn query_by_user(
        &self,
        query: &flickr_job_status::store::ListQuery<'_>,
    ) -> Result<flickr_job_status::store::ListPage, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.query_by_user(query).await
    }

    async fn get_many(&self, job_ids: &[String]) -> Result<HashMap<String, StoredJob>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_many(job_ids).await
    }
}

/// What came back, read the way API Gateway reads it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    /// The body as the client reads it: decoded from base64 and gzip when the payload says so
    /// (`isBase64Encoded`, `Content-Encoding: gzip`).
    pub raw_body: Option<String>,
    /// The body's bytes on the wire (after base64, before gzip), when it was base64.
    pub wire_body: Option<Vec<u8>>,
    pub body: Value,
    /// Why credentials were refused, as the request's log line names it (on a 401).
    pub refusal: Option<&'static str>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    pub fn error_message(&self) -> Option<&str> {
        self.body["error"]["message"].as_str()
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    /// Asserts an error envelope: status, code, `data` null, exactly three keys, `no-store`.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:#?}");
        assert_eq!(self.error_code(), Some(code), "{self:#?}");
        assert_eq!(self.body["data"], Value::Null, "{self:#?}");
        assert_eq!(self.body.as_object().map(|o| o.len()), Some(3), "{self:#?}");
        assert_eq!(self.header("cache-control"), Some("no-store"), "{self:#?}");
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8")
        );
    }

    /// Asserts a 401 refusing credentials for `reason`: the one body of every refusal, and the
    /// challenge that says whether credentials were missing or refused.
    pub fn assert_refused(&self, reason: Refusal) {
        self.assert_error(401, "ERR_UNAUTHORIZED");
        assert_eq!(self.refusal, Some(reason.name()), "{self:#?}");
        assert_eq!(
            self.header("www-authenticate"),
            Some(reason.challenge()),
            "{self:#?}"
        );
    }

    /// The reply with the request id taken out, to compare two replies for everything else.
    pub fn without_request_id(&self) -> (u16, Vec<(String, String)>, Value) {
        let mut headers: Vec<_> = self
            .headers
            .iter()
            .filter(|(name, _)| name.as_str() != "x-request-id")
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        headers.sort();
        let mut body = self.body.clone();
        if let Some(object) = body.as_object_mut() {
            object.remove("request_id");
        }
        (self.status, headers, body)
    }
}

pub async fn invoke<S: JobStore>(app: &App<S>, event: &Value) -> Reply {
    invoke_raw(app, &event.to_string(), 0).await
}

/// Invokes with a Lambda deadline `deadline_ms` from now (0: no deadline).
pub async fn invoke_with_deadline<S: JobStore>(
    app: &App<S>,
    event: &Value,
    deadline_ms: u64,
) -> Reply {
    let deadline = if deadline_ms == 0 {
        0
    } else {
        now_ms() + deadline_ms
    };
    invoke_raw(app, &event.to_string(), deadline).await
}

pub async fn invoke_raw<S: JobStore>(app: &App<S>, raw_event: &str, deadline: u64) -> Reply {
    let mut context = Context::default();
    context.request_id = INVOCATION_ID.to_string();
    context.deadline = deadline;
    let payload =
        serde_json::value::RawValue::from_string(raw_event.to_string()).expect("events are JSON");
    let (response, trace) = answer(app, LambdaEvent::new(payload, context)).await;
    let value = serde_json::to_value(response).expect("responses serialize");
    Reply {
        refusal: trace.refusal.map(Refusal::name),
        ..parse_lambda_response(&value)
    }
}

pub fn parse_lambda_response(value: &Value) -> Reply {
    let status = value["statusCode"].as_u64().expect("statusCode") as u16;
    let headers = value["headers"]
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .map(|(name, value)| {
                    (
                        name.to_ascii_lowercase(),
                        value.as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let (raw_body, wire_body) = read_body(value);
    // Pages (docs/API.md#pages-for-people) are no JSON: their text is in `raw_body` alone.
    let page = value["headers"]["content-type"]
        .as_str()
        .is_some_and(|kind| kind.starts_with("text/html"));
    let body = raw_body
        .as_deref()
        .filter(|_| !page)
        .map(|text| serde_json::from_str(text).expect("bodies are JSON"))
        .unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        raw_body,
        wire_body,
        body,
        refusal: None,
    }
}

/// The body of a Lambda HTTP payload as the service delivers it, and as a client that asked for
/// gzip reads it (curl --compressed): base64 decoded, then gunzipped.
fn read_body(value: &Value) -> (Option<String>, Option<Vec<u8>>) {
    use base64::Engine;
    use std::io::Read;
    let Some(text) = value["body"].as_str() else {
        return (None, None);
    };
    if value["isBase64Encoded"] != json!(true) {
        return (Some(text.to_string()), None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("a base64 body");
    let gzip = value["headers"]["content-encoding"] == json!("gzip");
    let decoded = if gzip {
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut out)
            .expect("a gzip body of UTF-8");
        out
    } else {
        String::from_utf8(bytes.clone()).expect("a UTF-8 body")
    };
    (Some(decoded), Some(bytes))
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

pub fn now_secs() -> u64 {
    now_ms() / 1000
}

/// A minimal API Gateway HTTP API (payload 2.0) event.
pub fn http_event(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), json!(value)))
        .collect();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "requestId": "gateway-request-1",
            "stage": "$default",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1"}
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// The routes of a job, by path.
pub fn job_url(job_id: &str) -> String {
    format!("/api/v1/flickr/jobs/{job_id}")
}

pub fn result_url(job_id: &str) -> String {
    format!("{}/result", job_url(job_id))
}

pub fn share_url(job_id: &str) -> String {
    format!("{}/share", job_url(job_id))
}

/// A GET of `path` (payload 2.0) with these headers.
pub fn get(path: &str, headers: &[(&str, &str)]) -> Value {
    http_event("GET", path, headers, None)
}

/// A GET of `path` with the owner's bearer token.
pub fn as_owner(path: &str) -> Value {
    get(path, &[("authorization", &bearer(OWNER))])
}

/// `POST /jobs/{job_id}/share` with this `Authorization` value and body.
pub fn share_request(job_id: &str, authorization: &str, body: Option<&str>) -> Value {
    http_event(
        "POST",
        &share_url(job_id),
        &[
            ("authorization", authorization),
            ("content-type", "application/json"),
        ],
        body,
    )
}

/// A share token for `job_id`, signed with the test `SHARE_TOKEN_SECRET`.
pub fn share_token_for(job_id: &str, expires_at: u64) -> String {
    share_signer(SHARE_SECRET).mint(job_id, expires_at)
}

/// The four routes of a job, each with `Authorization: Bearer <token>`, by their names
/// (`POST /jobs/status` names `body_user` in its body).
pub fn four_routes(job_id: &str, body_user: &str, token: &str) -> Vec<(&'static str, Value)> {
    let authorization = format!("Bearer {token}");
    let auth = [("authorization", authorization.as_str())];
    let json_auth = [
        ("authorization", authorization.as_str()),
        ("content-type", "application/json"),
    ];
    let body = json!({"job_id": job_id, "user_id": body_user}).to_string();
    vec![
        (
            "POST /jobs/status",
            http_event(
                "POST",
                "/api/v1/flickr/jobs/status",
                &json_auth,
                Some(&body),
            ),
        ),
        ("GET /jobs/{id}", get(&job_url(job_id), &auth)),
        ("GET /jobs/{id}/result", get(&result_url(job_id), &auth)),
        (
            "POST /jobs/{id}/share",
            http_event("POST", &share_url(job_id), &json_auth, None),
        ),
    ]
}

/// The token with its signature cut to a length no base64 can have (1 mod 4): unreadable, never
/// merely wrong, whatever the signature's bytes (cutting a fixed number of characters leaves a
/// readable signature for some tokens and not for others).
pub fn truncated_signature(token: &str) -> String {
    let (signed, signature) = token.rsplit_once('.').expect("a JWS");
    let keep = signature.len().saturating_sub(1) / 4 * 4 + 1;
    let keep = if keep == signature.len() {
        keep - 4
    } else {
        keep
    };
    format!("{signed}.{}", &signature[..keep])
}

/// Text as unpadded base64url, the encoding of JWT segments.
pub fn base64_url(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// `POST /jobs/status` with a JSON body.
pub fn status_request(body: &str) -> Value {
    http_event(
        "POST",
        "/api/v1/flickr/jobs/status",
        &[("content-type", "application/json")],
        Some(body),
    )
}

pub fn status_of(job_id: &str, user_id: &str) -> Value {
    status_request(&json!({"job_id": job_id, "user_id": user_id}).to_string())
}

/// The event with an API Gateway authorizer context.
pub fn with_authorizer(mut event: Value, authorizer: Value) -> Value {
    event["requestContext"]["authorizer"] = authorizer;
    event
}

pub fn with_query(mut event: Value, raw_query: &str) -> Value {
    event["rawQueryString"] = json!(raw_query);
    event
}

pub fn bearer(user_id: &str) -> String {
    bearer_with(JWT_SECRET, user_id, |_| {})
}

/// A bearer token signed with `secret`, after `adjust` has had its way with the claims.
pub fn bearer_with(
    secret: &str,
    user_id: &str,
    adjust: impl FnOnce(&mut flickr_job_status::auth::bearer::Claims),
) -> String {
    let mut claims = flickr_job_status::auth::bearer::Claims {
        sub: user_id.to_string(),
        exp: now_secs() + 600,
        ..Default::default()
    };
    adjust(&mut claims);
    format!(
        "Bearer {}",
        flickr_job_status::auth::bearer::mint(secret.as_bytes(), &claims).expect("mint")
    )
}

/// A share-link signer with one secret, as the function builds it from `SHARE_TOKEN_SECRET`.
pub fn share_signer(secret: &str) -> flickr_job_status::auth::ShareSigner {
    flickr_job_status::auth::ShareSigner::new(&flickr_job_status::config::Secrets {
        current: secret.as_bytes().to_vec(),
        previous: None,
    })
}
