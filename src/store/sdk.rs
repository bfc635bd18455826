//! The SDK settings of the DynamoDB client: region, credentials and endpoint from the
//! environment, timeouts and retries from the configuration, and its HTTPS client (hyper +
//! rustls on ring).

use std::time::Duration;

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::provider_config::ProviderConfig;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{
    BehaviorVersion, Builder, ConfigBag, HttpClient, Region, RuntimeComponents,
    RuntimeComponentsBuilder, SharedHttpClient, StalledStreamProtectionConfig,
};
use aws_smithy_http_client::tls::{
    self as smithy_tls, rustls_provider::CryptoMode, TlsContext, TrustStore,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};

use crate::config::Config;
use crate::tls;

/// Attempts per read, the first included. With the per-attempt timeout this bounds a read.
pub const MAX_ATTEMPTS: u32 = 3;

/// The SDK settings of the store: region, credentials and endpoint from the environment,
/// timeouts and retries from `config`. Tests set an endpoint of their own on it.
///
/// Built on the DynamoDB client's own config builder, not on `aws_config::defaults`: that
/// loader brings every provider chain of the shared AWS configuration (profile files, SSO,
/// web identity through STS, instance metadata), ~0.7 MB of the binary that a Lambda function
/// never runs. What a function does get is read here, from the environment
/// (docs/API.md#11-configuration):
/// - the region from `AWS_REGION` (Lambda sets it), else `AWS_DEFAULT_REGION`;
/// - credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, else from
///   the container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI` or `_RELATIVE_URI`),
///   which long-lived environments use to hand out credentials that renew;
/// - the endpoint from `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`;
/// - FIPS and dual-stack endpoints from `AWS_USE_FIPS_ENDPOINT` / `AWS_USE_DUALSTACK_ENDPOINT`.
///
/// A blank variable counts as unset (docs/API.md#11-configuration): `sam local` leaves template
/// variables blank, and the SDK would take a blank endpoint for an endpoint.
pub fn sdk_config(config: &Config) -> Builder {
    sdk_config_from(config, &|name| std::env::var(name).ok())
}

/// `sdk_config` with the environment as a function, so that tests need not change the process's.
fn sdk_config_from(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Builder {
    let setting = |name: &str| env(name).filter(|value| !value.trim().is_empty());
    let http_client = https_client();
    let mut builder = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client.clone())
        .credentials_provider(credentials(http_client))
        .timeout_config(timeouts(config.dynamodb_timeout))
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        // Guards long streaming bodies; a GetItem answer is one small JSON document that the
        // per-attempt timeout already bounds. Off: one interceptor and body wrapper less per read.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    if let Some(region) = setting("AWS_REGION").or_else(|| setting("AWS_DEFAULT_REGION")) {
        builder = builder.region(Region::new(region));
    }
    if let Some(endpoint) =
        setting("AWS_ENDPOINT_URL_DYNAMODB").or_else(|| setting("AWS_ENDPOINT_URL"))
    {
        builder = builder.endpoint_url(endpoint);
    }
    let enabled =
        |name: &str| setting(name).is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
    builder
        .use_fips(enabled("AWS_USE_FIPS_ENDPOINT"))
        .use_dual_stack(enabled("AWS_USE_DUALSTACK_ENDPOINT"))
}

/// The environment's keys first (classic Lambda, `sam local`, the dev scripts), then the
/// container credentials endpoint. Both are resolved on first use and cached by the SDK.
fn credentials(http_client: SharedHttpClient) -> CredentialsProviderChain {
    let container = ProviderConfig::without_region().with_http_client(http_client);
    CredentialsProviderChain::first_try(
        "environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "container",
        EcsCredentialsProvider::builder()
            .configure(&container)
            .build(),
    )
}

/// hyper 1 + rustls on `ring`, trusting the compiled-in roots of `tls`.
/// The SDK's default client would read every file in the system certificate directory at
/// init (milliseconds of a cold start) and link aws-lc, a far larger crypto library.
fn https_client() -> SharedHttpClient {
    SharedHttpClient::new(ConnectorOnFirstUse(hyper_rustls_client()))
}

/// The SDK's own hyper client with that TLS set-up.
fn hyper_rustls_client() -> SharedHttpClient {
    let trust_store = tls::root_certificates().iter().fold(
        TrustStore::empty().with_native_roots(false),
        |store, certificate| store.with_pem_certificate(tls::pem(certificate)),
    );
    let context = TlsContext::builder().with_trust_store(trust_store).build();
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(smithy_tls::Provider::Rustls(CryptoMode::Ring));
    match context {
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

/// Per attempt, the configured timeout; the whole operation, all attempts plus backoff.
fn timeouts(per_attempt: Duration) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(per_attempt)
        .operation_attempt_timeout(per_attempt)
        .operation_timeout(per_attempt * MAX_ATTEMPTS + Duration::from_millis(500))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::Client;
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

    /// Records where each request goes and how it is signed, and answers none of them.
    #[derive(Debug, Clone, Default)]
    struct Recording(Arc<std::sync::Mutex<Vec<(String, String)>>>);

    impl aws_smithy_runtime_api::client::http::HttpConnector for Recording {
        fn call(
            &self,
            request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
        ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
            let authorization = request.headers().get("authorization").unwrap_or_default();
            self.0
                .lock()
                .expect("lock")
                .push((request.uri().to_string(), authorization.to_string()));
            aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Err(
                aws_smithy_runtime_api::client::result::ConnectorError::other(
                    "recorded, not sent".into(),
                    None,
                ),
            ))
        }
    }

    impl HttpClient for Recording {
        fn http_connector(
            &self,
            _: &HttpConnectorSettings,
            _: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    /// The URI and `Authorization` header of one GetItem from `sdk_config` with `env` as the
    /// environment.
    async fn first_request(env: &[(&str, &str)]) -> (String, String) {
        let env: std::collections::HashMap<String, String> = env
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        let recording = Recording::default();
        let config = crate::config::Config::from_lookup(|name| env.get(name).cloned())
            .expect("a valid configuration");
        let sdk = sdk_config_from(&config, &|name| env.get(name).cloned())
            .http_client(recording.clone())
            // Where credentials come from is the binary's test (tests/credentials.rs).
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .build();
        let _ = Client::from_conf(sdk)
            .get_item()
            .table_name("jobs")
            .key(
                "jobId",
                aws_sdk_dynamodb::types::AttributeValue::S("j".into()),
            )
            .send()
            .await;
        let requests = recording.0.lock().expect("lock");
        requests.first().cloned().expect("one request made")
    }

    fn table_and<'a>(more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        [("JOBS_TABLE", "jobs")]
            .iter()
            .chain(more)
            .copied()
            .collect()
    }

    /// Environment variables of one case.
    type Env = &'static [(&'static str, &'static str)];

    /// The environment, where the read goes, and why.
    const ENDPOINT_CASES: [(Env, &str, &str); 8] = [
        (
            &[("AWS_REGION", "eu-west-1")],
            "https://dynamodb.eu-west-1.amazonaws.com/",
            "the region",
        ),
        (
            &[("AWS_DEFAULT_REGION", "ap-south-1")],
            "https://dynamodb.ap-south-1.amazonaws.com/",
            "AWS_DEFAULT_REGION when AWS_REGION is unset",
        ),
        (
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ],
            "http://127.0.0.1:8000/",
            "the service's own endpoint variable first",
        ),
        (
            &[
                ("AWS_REGION", "eu-west-1"),
                ("AWS_ENDPOINT_URL_DYNAMODB", " "),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ],
            "http://127.0.0.1:9000/",
            "a blank variable counts as unset",
        ),
        (
            &[("AWS_REGION", "eu-west-1"), ("AWS_ENDPOINT_URL", "")],
            "https://dynamodb.eu-west-1.amazonaws.com/",
            "blank everywhere: DynamoDB itself",
        ),
        (
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_USE_FIPS_ENDPOINT", "true"),
            ],
            "https://dynamodb-fips.us-east-1.amazonaws.com/",
            "FIPS",
        ),
        (
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_USE_DUALSTACK_ENDPOINT", "TRUE"),
            ],
            "https://dynamodb.us-east-1.api.aws/",
            "dual-stack",
        ),
        (
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_USE_FIPS_ENDPOINT", "false"),
            ],
            "https://dynamodb.us-east-1.amazonaws.com/",
            "FIPS off",
        ),
    ];

    #[tokio::test]
    async fn the_region_endpoint_fips_and_dual_stack_come_from_the_environment() {
        for (env, expected, why) in ENDPOINT_CASES {
            let (uri, authorization) = first_request(&table_and(env)).await;
            assert_eq!(uri, expected, "{why}");
            if why == "the region" {
                assert!(
                    authorization.contains("/eu-west-1/dynamodb/aws4_request"),
                    "{authorization}"
                );
            }
        }
    }
}
