//! The SDK settings of the DynamoDB client: region and credentials from the environment,
//! timeouts and retries from the configuration, and its HTTPS client (hyper + rustls on ring).

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

/// An empty setting counts as unset (docs/API.md#11-configuration), but the SDK takes a blank endpoint variable
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
}
