//! The job store: a small trait, and its DynamoDB implementation (one `GetItem` per read).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use base64::Engine;
use serde_json::{Number, Value};

use crate::config::Config;
use crate::jobs::{CorruptAttribute, Job, JobRecord};

/// Attempts per read, the first included. With the per-attempt timeout this bounds a read.
pub const MAX_ATTEMPTS: u32 = 3;

/// Why a read failed. The detail is for the log, never for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Throttled, unreachable, too slow or answering 5xx: worth retrying later (503).
    Unavailable(String),
    /// Misconfiguration or a request the store refused (500).
    Failed(String),
}

/// Reads job records by id.
pub trait JobStore: Send + Sync {
    fn get_job(
        &self,
        job_id: &str,
    ) -> impl Future<Output = Result<Option<JobRecord>, StoreError>> + Send;
}

/// The DynamoDB table of job records, read with `GetItem`.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    consistent_read: bool,
}

/// Only the attributes the API uses; `state` is a reserved word, hence the placeholder.
const PROJECTION: &str = "user_id, #state, returnvalue, failedReason, stacktrace, target";

impl DynamoStore {
    /// Builds the SDK client once, at init, with the timeouts and retries from `config`.
    /// `AWS_ENDPOINT_URL_DYNAMODB` is honoured by the SDK itself.
    pub async fn from_config(config: &Config) -> Self {
        let sdk_config = sdk_loader(config).load().await;
        Self::new(Client::new(&sdk_config), config)
    }

    pub fn new(client: Client, config: &Config) -> Self {
        DynamoStore {
            client,
            table: config.jobs_table.clone(),
            consistent_read: config.consistent_read,
        }
    }
}

/// The SDK settings of the store: region, credentials and endpoint from the environment,
/// timeouts and retries from `config`. Tests add an endpoint of their own.
pub fn sdk_loader(config: &Config) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts(config.dynamodb_timeout))
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
}

/// hyper 1 + rustls on `ring`, trusting Mozilla's root certificates compiled into the binary.
/// The SDK's default client would read every file in the system certificate directory at
/// init (milliseconds of a cold start) and link aws-lc, a far larger crypto library.
fn https_client() -> SharedHttpClient {
    let trust_store = webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().fold(
        TrustStore::empty().with_native_roots(false),
        |store, certificate| store.with_pem_certificate(pem(certificate)),
    );
    let tls = TlsContext::builder().with_trust_store(trust_store).build();
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    match tls {
        Ok(context) => builder.tls_context(context).build_https(),
        // Cannot happen with the compiled-in roots; if it did, the system roots still work.
        Err(error) => {
            tracing::warn!(%error, "compiled-in root certificates refused, using the system ones");
            builder.build_https()
        }
    }
}

fn pem(der: &[u8]) -> Vec<u8> {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem.into_bytes()
}

/// The key the warm-up read asks for. Job ids never hold control characters, so no job has it.
const WARM_UP_KEY: &str = "\u{1}connection-warm-up";
/// The most init waits for the warm-up read.
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(1);

impl DynamoStore {
    /// One cheap read during init, where Lambda boosts the CPU, so that the first request
    /// finds credentials resolved and a connection (and TLS session) open. Bounded by
    /// `WARM_UP_TIMEOUT`, and never an error: a slow DynamoDB must not fail init.
    pub async fn warm_up(&self) {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("jobId", AttributeValue::S(WARM_UP_KEY.to_string()))
            .projection_expression("jobId")
            .consistent_read(false)
            .send();
        match tokio::time::timeout(WARM_UP_TIMEOUT, read).await {
            Ok(Ok(_)) => tracing::debug!("DynamoDB connection warmed up"),
            Ok(Err(error)) => {
                tracing::warn!(error = %classify(error).detail(), "DynamoDB warm-up read failed")
            }
            Err(_) => tracing::warn!("DynamoDB warm-up read timed out"),
        }
    }
}

impl StoreError {
    pub fn detail(&self) -> &str {
        match self {
            StoreError::Unavailable(detail) | StoreError::Failed(detail) => detail,
        }
    }
}

/// Per attempt, the configured timeout; the whole operation, all attempts plus backoff.
fn timeouts(per_attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(per_attempt)
        .operation_attempt_timeout(per_attempt)
        .operation_timeout(per_attempt * MAX_ATTEMPTS + Duration::from_millis(500))
        .build()
}

impl JobStore for DynamoStore {
    async fn get_job(&self, job_id: &str) -> Result<Option<JobRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("jobId", AttributeValue::S(job_id.to_string()))
            .consistent_read(self.consistent_read)
            .projection_expression(PROJECTION)
            .expression_attribute_names("#state", "state")
            .send()
            .await
            .map_err(classify)?;
        Ok(output.item.map(decode_record))
    }
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug>(
    error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    let detail = format!("{error:?}");
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(detail)
        }
        SdkError::ServiceError(service) => {
            // No error code means the answer could not be understood (a truncated or garbled
            // body, a proxy's error page): as transient as a dropped connection.
            let transient = matches!(
                service.err().code(),
                None | Some(
                    "ProvisionedThroughputExceededException"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "InternalServerError"
                        | "ServiceUnavailable"
                )
            );
            if transient || service.raw().status().is_server_error() {
                StoreError::Unavailable(detail)
            } else {
                StoreError::Failed(detail)
            }
        }
        _ => StoreError::Failed(detail),
    }
}

/// DynamoDB item → record, following the layout of API.md §1.
pub fn decode_record(mut item: HashMap<String, AttributeValue>) -> JobRecord {
    let owner = match item.remove("user_id") {
        Some(AttributeValue::S(owner)) => Some(owner),
        _ => None,
    };
    JobRecord {
        owner,
        content: decode_job(item),
    }
}

fn decode_job(mut item: HashMap<String, AttributeValue>) -> Result<Job, CorruptAttribute> {
    let state = match item.remove("state") {
        Some(AttributeValue::S(state)) => state,
        _ => return Err("state"),
    };
    let returnvalue = match item.remove("returnvalue") {
        None | Some(AttributeValue::Null(_)) => Value::Null,
        Some(AttributeValue::S(text)) => json_text(text),
        Some(map @ AttributeValue::M(_)) => to_json(map),
        Some(_) => return Err("returnvalue"),
    };
    let stacktrace = match item.remove("stacktrace") {
        None | Some(AttributeValue::Null(_)) => Value::Array(Vec::new()),
        Some(AttributeValue::S(text)) => json_text(text),
        Some(list @ AttributeValue::L(_)) => to_json(list),
        Some(_) => return Err("stacktrace"),
    };
    Ok(Job {
        state,
        returnvalue,
        failed_reason: optional_string(item.remove("failedReason")).ok_or("failedReason")?,
        stacktrace,
        target: optional_string(item.remove("target")).ok_or("target")?,
    })
}

/// Absent or NULL → `Some(None)`; a string → `Some(Some(s))`; any other type → `None`.
fn optional_string(value: Option<AttributeValue>) -> Option<Option<String>> {
    match value {
        None | Some(AttributeValue::Null(_)) => Some(None),
        Some(AttributeValue::S(text)) => Some(Some(text)),
        Some(_) => None,
    }
}

/// Workers sometimes store JSON as text; text that is not JSON is returned as it is.
fn json_text(text: String) -> Value {
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// AttributeValue → JSON. Written out rather than through `serde_dynamo` because numbers must
/// keep every digit as stored (`serde_dynamo` goes through f64/i64) and binary must become
/// base64 text.
pub fn to_json(value: AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => Value::String(text),
        AttributeValue::N(number) => json_number(number),
        AttributeValue::Bool(flag) => Value::Bool(flag),
        AttributeValue::M(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, to_json(value)))
                .collect(),
        ),
        AttributeValue::L(list) => Value::Array(list.into_iter().map(to_json).collect()),
        AttributeValue::Ss(strings) => {
            Value::Array(strings.into_iter().map(Value::String).collect())
        }
        AttributeValue::Ns(numbers) => Value::Array(numbers.into_iter().map(json_number).collect()),
        AttributeValue::B(blob) => Value::String(base64_text(blob.as_ref())),
        AttributeValue::Bs(blobs) => Value::Array(
            blobs
                .iter()
                .map(|blob| Value::String(base64_text(blob.as_ref())))
                .collect(),
        ),
        // NULL, and any type a newer DynamoDB may add.
        _ => Value::Null,
    }
}

/// With serde_json's `arbitrary_precision`, the digits are kept exactly as DynamoDB stored them.
fn json_number(number: String) -> Value {
    match number.parse::<Number>() {
        Ok(parsed) => Value::Number(parsed),
        Err(_) => Value::String(number),
    }
}

fn base64_text(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;
    use serde_json::json;

    fn s(text: &str) -> AttributeValue {
        AttributeValue::S(text.to_string())
    }

    fn n(text: &str) -> AttributeValue {
        AttributeValue::N(text.to_string())
    }

    fn item(pairs: Vec<(&str, AttributeValue)>) -> HashMap<String, AttributeValue> {
        pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    #[test]
    fn numbers_keep_every_digit() {
        for digits in [
            "202",
            "12345678901234567",
            "0.1000000000000000055511151231257827",
            "-5",
            "1e+2",
        ] {
            assert_eq!(serde_json::to_string(&to_json(n(digits))).unwrap(), digits);
        }
        // Text DynamoDB would never store is passed on as text rather than lost.
        assert_eq!(to_json(n("+.5")), Value::String("+.5".into()));
    }

    #[test]
    fn every_attribute_type_maps_to_json() {
        let value = to_json(AttributeValue::M(item(vec![
            ("s", s("x")),
            ("bool", AttributeValue::Bool(true)),
            ("null", AttributeValue::Null(true)),
            ("list", AttributeValue::L(vec![n("1"), s("two")])),
            ("ss", AttributeValue::Ss(vec!["a".into(), "b".into()])),
            ("ns", AttributeValue::Ns(vec!["1".into(), "2.5".into()])),
            ("b", AttributeValue::B(Blob::new(b"hi".to_vec()))),
            ("bs", AttributeValue::Bs(vec![Blob::new(b"hi".to_vec())])),
        ])));
        assert_eq!(
            value,
            json!({"s": "x", "bool": true, "null": null, "list": [1, "two"], "ss": ["a", "b"],
                   "ns": [1, 2.5], "b": "aGk=", "bs": ["aGk="]})
        );
    }

    #[test]
    fn json_text_is_decoded_and_other_text_kept() {
        let record = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("failed")),
            ("returnvalue", s(r#"{"flickr":{"n":12345678901234567}}"#)),
            ("stacktrace", s("not json [")),
        ]));
        let job = record.content.unwrap();
        assert_eq!(
            serde_json::to_string(&job.returnvalue).unwrap(),
            r#"{"flickr":{"n":12345678901234567}}"#
        );
        assert_eq!(job.stacktrace, json!("not json ["));
    }

    #[test]
    fn absent_fields_have_their_defaults() {
        let record = decode_record(item(vec![
            ("user_id", s("u")),
            ("state", s("queued")),
            ("failedReason", AttributeValue::Null(true)),
        ]));
        assert_eq!(record.owner.as_deref(), Some("u"));
        let job = record.content.unwrap();
        assert_eq!(job.returnvalue, Value::Null);
        assert_eq!(job.failed_reason, None);
        assert_eq!(job.stacktrace, json!([]));
        assert_eq!(job.target, None);
    }

    #[test]
    fn ownerless_records_have_no_owner() {
        for owner in [None, Some(n("5")), Some(AttributeValue::Null(true))] {
            let mut pairs = vec![("state", s("queued"))];
            if let Some(owner) = owner {
                pairs.push(("user_id", owner));
            }
            assert_eq!(decode_record(item(pairs)).owner, None);
        }
    }

    #[test]
    fn impossible_types_name_the_attribute() {
        let cases = [
            ("state", n("1")),
            ("returnvalue", n("1")),
            ("returnvalue", AttributeValue::L(vec![])),
            ("stacktrace", AttributeValue::M(HashMap::new())),
            ("failedReason", AttributeValue::Bool(true)),
            ("target", AttributeValue::Ss(vec!["rest".into()])),
        ];
        for (name, value) in cases {
            let mut pairs = vec![("user_id", s("u")), ("state", s("queued"))];
            pairs.retain(|(key, _)| *key != name);
            pairs.push((name, value));
            assert_eq!(decode_record(item(pairs)).content, Err(name), "{name}");
        }
    }
}
