//! Where the key set comes from: a `KeySetSource`, and the HTTPS one that production uses.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

/// The largest key set accepted; real ones are a few KiB.
pub const MAX_KEY_SET_BYTES: usize = 256 * 1024;

/// One fetch of the raw key set; boxed so the cache need not be generic over its transport.
pub type Fetch = Pin<Box<dyn Future<Output = Result<Bytes, String>> + Send>>;

/// Where the key set comes from: HTTPS in production, anything in tests.
pub trait KeySetSource: Send + Sync {
    fn fetch(&self) -> Fetch;
}

/// `GET` the key set with the HTTP and TLS stack the function already has (hyper, rustls on
/// ring, Mozilla's roots compiled in). Plain `http` is possible for loopback URLs only, which
/// the configuration enforces.
pub struct HttpsSource {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    url: String,
}

impl HttpsSource {
    pub fn new(url: &str) -> Self {
        let roots = crate::tls::root_store();
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring's provider supports rustls's default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        HttpsSource {
            client: Client::builder(TokioExecutor::new()).build(connector),
            url: url.to_string(),
        }
    }
}

impl KeySetSource for HttpsSource {
    fn fetch(&self) -> Fetch {
        let client = self.client.clone();
        let request = http::Request::get(&self.url)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::new());
        Box::pin(async move {
            let request = request.map_err(|error| format!("bad key set request: {error}"))?;
            let response = client
                .request(request)
                .await
                .map_err(|error| format!("key set request failed: {error}"))?;
            if !response.status().is_success() {
                return Err(format!("key set answered HTTP {}", response.status()));
            }
            Limited::new(response.into_body(), MAX_KEY_SET_BYTES)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .map_err(|error| format!("key set body unreadable or over 256 KiB: {error}"))
        })
    }
}
