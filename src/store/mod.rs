//! The job store: a small trait, and its DynamoDB implementation (one `GetItem` per read).

mod record;

use std::future::Future;
use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_dynamodb::config::{
    ConfigBag, HttpClient, RuntimeComponents, RuntimeComponentsBuilder, SharedHttpClient,
};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};
use base64::Engine;

use crate::config::Config;
use crate::jobs::JobRecord;
pub use record::decode_record;

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
    /// The partition key attribute (`JOBS_TABLE_KEY`).
    key: String,
    consistent_read: bool,
}

/// Only the attributes the API uses; `state` is a reserved word, hence the placeholder.
const PROJECTION: &str = "user_id, #state, returnvalue, failedReason, stacktrace, target";

/// The key the warm-up read asks for. Job ids never hold control characters, so no job has it.
const WARM_UP_KEY: &str = "\u{1}connection-warm-up";
/// The most init waits for the warm-up read.
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(1);

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
            key: config.jobs_table_key.clone(),
            consistent_read: config.consistent_read,
        }
    }

    /// One cheap read during init, where Lambda boosts the CPU, so that the first request
    /// finds credentials resolved and a connection (and TLS session) open. Bounded by
    /// `WARM_UP_TIMEOUT`, and never an error: a slow DynamoDB must not fail init.
    pub async fn warm_up(&self) {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(&self.key, AttributeValue::S(WARM_UP_KEY.to_string()))
            .projection_expression("#key")
            .expression_attribute_names("#key", &self.key)
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

/// The SDK settings of the store: region, credentials and endpoint from the environment,
/// timeouts and retries from `config`. Tests add an endpoint of their own.
pub fn sdk_loader(config: &Config) -> ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(timeouts(config.dynamodb_timeout))
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        // Guards long streaming bodies; a GetItem answer is one small JSON document that the
        // per-attempt timeout already bounds. Off: one interceptor and body wrapper less per read.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    // Lambda always sets these. Naming aws-config's environment providers directly skips
    // assembling its default provider chains (~0.9 ms of every cold start), and resolves the
    // same values, since the environment comes first in those chains. Elsewhere (a
    // developer's profile, SSO) the default chains apply.
    if std::env::var_os("AWS_REGION").is_some() {
        loader = loader.region(EnvironmentVariableRegionProvider::new());
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader
}

/// The SDK's endpoint variables, which it reads from the environment itself.
const ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"];

/// An empty setting counts as unset (API.md §6), but the SDK takes a blank endpoint variable
/// for an endpoint and panics at start (`sam local` leaves template variables blank). So blank
/// ones are removed before the SDK reads them. Call it before any thread is started: changing
/// the environment while another thread reads it is undefined behaviour in libc.
pub fn unset_blank_endpoint_variables() {
    for name in ENDPOINT_VARIABLES {
        if std::env::var_os(name).is_some_and(|value| value.to_string_lossy().trim().is_empty()) {
            std::env::remove_var(name);
        }
    }
}

/// hyper 1 + rustls on `ring`, trusting Mozilla's root certificates compiled into the binary.
/// The SDK's default client would read every file in the system certificate directory at
/// init (milliseconds of a cold start) and link aws-lc, a far larger crypto library.
fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(ConnectorOnFirstUse(hyper_rustls_client()))
}

/// The SDK's own hyper client with that TLS set-up.
fn hyper_rustls_client() -> SharedHttpClient {
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

/// The SDK's hyper client builds a connector when the SDK client is created, only to load the
/// system's certificates early, and throws it away; the first request builds the one it keeps.
/// Each build parses the ~150 compiled-in root certificates from PEM (0.35–0.7 ms of a cold
/// start here), so the throw-away build is skipped. Everything else goes to the wrapped client.
#[derive(Debug)]
struct ConnectorOnFirstUse(SharedHttpClient);

impl HttpClient for ConnectorOnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _: &RuntimeComponentsBuilder,
        _: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn validate_final_config(
        &self,
        components: &RuntimeComponents,
        config: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.validate_final_config(components, config)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
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
            .key(&self.key, AttributeValue::S(job_id.to_string()))
            .consistent_read(self.consistent_read)
            .projection_expression(PROJECTION)
            .expression_attribute_names("#state", "state")
            .send()
            .await
            .map_err(classify)?;
        Ok(output.item.map(decode_record))
    }
}

fn classify<E: ProvideErrorMetadata>(
    error: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> StoreError {
    let detail = summary(&error);
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

/// A log line's worth of an SDK error: its kind, the HTTP status, DynamoDB's error code and
/// message, or the transport's error chain. Never the response body (the Debug form carries
/// it, and a garbled `GetItem` answer may hold record content).
fn summary<E: ProvideErrorMetadata>(
    error: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> String {
    match error {
        SdkError::ServiceError(service) => format!(
            "DynamoDB answered HTTP {}: {} {}",
            service.raw().status().as_u16(),
            service
                .err()
                .code()
                .unwrap_or("(no error code: unreadable answer)"),
            service.err().message().unwrap_or_default()
        ),
        SdkError::ResponseError(_) => "unreadable response from DynamoDB".to_string(),
        SdkError::TimeoutError(_) => "timed out".to_string(),
        SdkError::DispatchFailure(failure) => {
            let mut chain = String::from("request not sent");
            let mut source = failure
                .as_connector_error()
                .map(|error| error as &(dyn std::error::Error + 'static));
            while let Some(cause) = source {
                chain.push_str(": ");
                chain.push_str(&cause.to_string());
                source = cause.source();
            }
            chain
        }
        _ => "the request could not be built".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// The real HTTP client, counting the SDK's requests for an early connector build.
    #[derive(Debug, Clone, Default)]
    struct CountingEarlyBuilds(Arc<AtomicUsize>);

    impl HttpClient for CountingEarlyBuilds {
        fn http_connector(
            &self,
            settings: &HttpConnectorSettings,
            components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            hyper_rustls_client().http_connector(settings, components)
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn sdk_client(http_client: impl HttpClient + 'static) -> Client {
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .http_client(http_client)
            .build();
        Client::from_conf(config)
    }

    /// What the SDK does with the trust store on its first request (a failure there panics).
    #[test]
    fn every_compiled_in_root_survives_the_pem_round_trip_as_a_trust_anchor() {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let mut roots = rustls::RootCertStore::empty();
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let parsed = CertificateDer::pem_slice_iter(&pem(der))
                .collect::<Result<Vec<_>, _>>()
                .expect("valid PEM");
            assert_eq!(parsed, std::slice::from_ref(der));
            roots.add(der.clone()).expect("a trust anchor");
        }
        assert!(roots.len() > 100, "{} roots", roots.len());
    }

    #[test]
    fn creating_the_sdk_client_builds_no_connector() {
        let early_builds = CountingEarlyBuilds::default();
        sdk_client(early_builds.clone());
        assert_eq!(
            early_builds.0.load(Ordering::SeqCst),
            1,
            "the SDK asks its HTTP client for a connector build when it is created"
        );
        sdk_client(ConnectorOnFirstUse(SharedHttpClient::new(
            early_builds.clone(),
        )));
        assert_eq!(
            early_builds.0.load(Ordering::SeqCst),
            1,
            "ConnectorOnFirstUse skips it"
        );
    }
}
