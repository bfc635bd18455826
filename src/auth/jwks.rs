//! The identity provider's public keys (JWKS): fetched over HTTPS, kept for the process, and
//! fetched again for an unknown `kid` at most once per 30 s.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;
use tokio::time::Instant;

use crate::config::JwksConfig;

/// The largest key set accepted; real ones are a few KiB.
pub const MAX_KEY_SET_BYTES: usize = 256 * 1024;
/// However many tokens name an unknown `kid`, the set is fetched again at most this often.
pub const UNKNOWN_KID_COOL_DOWN: Duration = Duration::from_secs(30);

/// A verification key from the set, with what the token's `alg` must fit.
pub struct Jwk {
    pub key: DecodingKey,
    family: KeyFamily,
    /// The key's own `alg`, when the set gives one.
    alg: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Rsa,
    P256,
    P384,
}

impl Jwk {
    /// `kty` (and `crv`) fit the token's `alg`, and the key's own `alg`, when given, is it.
    /// (`use` other than `sig` never gets this far: such keys are not kept.)
    pub fn fits(&self, alg: Algorithm) -> bool {
        let family = match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => KeyFamily::Rsa,
            Algorithm::ES256 => KeyFamily::P256,
            Algorithm::ES384 => KeyFamily::P384,
            _ => return false,
        };
        family == self.family
            && self
                .alg
                .as_deref()
                .is_none_or(|key_alg| key_alg.parse::<Algorithm>() == Ok(alg))
    }
}

/// Why no key could be given for a `kid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// A good, recent fetch of the set does not hold it: the token cannot be valid (401).
    UnknownKid,
    /// The set could not be had (unreachable, too slow, not a key set): the token might be
    /// valid, so the caller must retry (503), never be refused.
    Unavailable,
}

/// One fetch of the raw key set; boxed so the cache need not be generic over its transport.
pub type Fetch = Pin<Box<dyn Future<Output = Result<Bytes, String>> + Send>>;

/// Where the key set comes from: HTTPS in production, anything in unit tests.
pub trait KeySetSource: Send + Sync {
    fn fetch(&self) -> Fetch;
}

/// The kept key set and the rules for fetching it again. Built once at init, shared by every
/// invocation of the process.
pub struct KeySet {
    source: Box<dyn KeySetSource>,
    timeout: Duration,
    state: RwLock<State>,
    /// Held while fetching, so that concurrent requests share one fetch.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    keys: Option<Arc<HashMap<String, Arc<Jwk>>>>,
    /// Fetches finished so far; a waiter that sees it move knows a fetch answered for it too.
    attempts: u64,
    last_attempt_failed: bool,
    unknown_kid_fetch: Option<Instant>,
}

impl State {
    fn find(&self, kid: &str) -> Option<Arc<Jwk>> {
        self.keys.as_ref()?.get(kid).cloned()
    }

    /// The answer for a `kid` the set does not hold, once no further fetch is due.
    fn miss(&self) -> KeyError {
        if self.keys.is_some() && !self.last_attempt_failed {
            KeyError::UnknownKid
        } else {
            KeyError::Unavailable
        }
    }

    /// With a set held, an unknown `kid` may fetch again only once per cool-down.
    fn cooling_down(&self, now: Instant) -> bool {
        self.keys.is_some()
            && self
                .unknown_kid_fetch
                .is_some_and(|at| now.duration_since(at) < UNKNOWN_KID_COOL_DOWN)
    }
}

impl KeySet {
    pub fn new(source: Box<dyn KeySetSource>, timeout: Duration) -> Self {
        KeySet {
            source,
            timeout,
            state: RwLock::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The production key set: `config.url` over the function's own hyper + rustls (ring).
    pub fn over_https(config: &JwksConfig) -> Self {
        Self::new(Box::new(HttpsSource::new(&config.url)), config.timeout)
    }

    /// The init-time fetch: bounded by the fetch timeout, and never an error (a slow identity
    /// provider must not fail init; requests fetch again when they need keys).
    pub async fn prefetch(&self) {
        let _fetching = self.fetching.lock().await;
        self.fetch_and_keep(false).await;
    }

    /// The key named `kid`, fetching the set when it is not held (see `KeyError`).
    pub async fn key(&self, kid: &str) -> Result<Arc<Jwk>, KeyError> {
        let attempts_seen = {
            let state = self.read();
            if let Some(key) = state.find(kid) {
                return Ok(key);
            }
            if state.cooling_down(Instant::now()) {
                return Err(state.miss());
            }
            state.attempts
        };
        let _fetching = self.fetching.lock().await;
        let unknown_kid = {
            let state = self.read();
            if let Some(key) = state.find(kid) {
                return Ok(key);
            }
            // A fetch finished while this request waited: its outcome answers this one too, so
            // a flood of requests costs one fetch and none waits for two.
            if state.attempts != attempts_seen || state.cooling_down(Instant::now()) {
                return Err(state.miss());
            }
            state.keys.is_some()
        };
        self.fetch_and_keep(unknown_kid).await;
        let state = self.read();
        state.find(kid).ok_or_else(|| state.miss())
    }

    /// Fetches the set once (the caller holds `fetching`) and keeps it if it is good. A failed
    /// fetch keeps the old set: its keys are still the provider's.
    async fn fetch_and_keep(&self, for_unknown_kid: bool) {
        let started = Instant::now();
        let fetched = match tokio::time::timeout(self.timeout, self.source.fetch()).await {
            Ok(Ok(body)) => parse_key_set(&body),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.attempts += 1;
        if for_unknown_kid {
            state.unknown_kid_fetch = Some(started);
        }
        match fetched {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "identity provider key set fetched");
                state.keys = Some(Arc::new(keys));
                state.last_attempt_failed = false;
            }
            Err(error) => {
                tracing::warn!(%error, "identity provider key set unavailable");
                state.last_attempt_failed = true;
            }
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // Nothing panics while holding the lock; if something did, the state is still whole.
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A key as the set describes it; every field optional, so one odd key cannot spoil the set.
#[derive(Deserialize)]
struct RawJwk {
    kid: Option<String>,
    kty: Option<String>,
    crv: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// `{"keys": [...]}` → the signing keys by `kid`. Keys this function cannot use (no `kid`,
/// another `kty` or curve, `use` other than `sig`, missing components) are skipped; a body
/// that is not such an object is an error. The first key wins when two share a `kid`.
pub fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Arc<Jwk>>, String> {
    let set: RawKeySet =
        serde_json::from_slice(body).map_err(|_| "the answer is not a JSON key set".to_string())?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(raw) = serde_json::from_value::<RawJwk>(value) else {
            continue;
        };
        if let Some((kid, key)) = usable(raw) {
            keys.entry(kid).or_insert_with(|| Arc::new(key));
        }
    }
    Ok(keys)
}

fn usable(raw: RawJwk) -> Option<(String, Jwk)> {
    if raw.usage.as_deref().is_some_and(|usage| usage != "sig") {
        return None;
    }
    let (family, key) = match (raw.kty.as_deref()?, raw.crv.as_deref()) {
        ("RSA", _) => (
            KeyFamily::Rsa,
            DecodingKey::from_rsa_components(raw.n.as_deref()?, raw.e.as_deref()?).ok()?,
        ),
        ("EC", Some(crv @ ("P-256" | "P-384"))) => (
            if crv == "P-256" {
                KeyFamily::P256
            } else {
                KeyFamily::P384
            },
            DecodingKey::from_ec_components(raw.x.as_deref()?, raw.y.as_deref()?).ok()?,
        ),
        _ => return None,
    };
    Some((
        raw.kid?,
        Jwk {
            key,
            family,
            alg: raw.alg,
        },
    ))
}

/// `GET` the key set with the HTTP and TLS stack the function already has (hyper, rustls on
/// ring, Mozilla's roots compiled in). Plain `http` is possible for loopback URLs only, which
/// the configuration enforces.
struct HttpsSource {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    url: String,
}

impl HttpsSource {
    fn new(url: &str) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// RSA components need only be base64url here: parsing does not check the arithmetic.
    fn rsa(kid: &str) -> serde_json::Value {
        json!({"kty": "RSA", "kid": kid, "n": "q83vEjRWeJA", "e": "AQAB", "use": "sig"})
    }

    fn ec(kid: &str, crv: &str) -> serde_json::Value {
        json!({"kty": "EC", "kid": kid, "crv": crv, "x": "q83vEjRWeJA", "y": "q83vEjRWeJA"})
    }

    /// A key set source whose answer the test sets, counting fetches.
    #[derive(Clone, Default)]
    struct Scripted {
        answer: Arc<Mutex<Option<Result<String, String>>>>,
        delay: Arc<Mutex<Duration>>,
        fetches: Arc<AtomicUsize>,
    }

    impl Scripted {
        fn answer(&self, answer: Option<Result<String, String>>) {
            *self.answer.lock().unwrap() = answer;
        }
        fn keys(&self, keys: &[serde_json::Value]) {
            self.answer(Some(Ok(json!({ "keys": keys }).to_string())));
        }
        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    impl KeySetSource for Scripted {
        fn fetch(&self) -> Fetch {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let answer = self.answer.lock().unwrap().clone();
            let delay = *self.delay.lock().unwrap();
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                match answer {
                    Some(answer) => answer.map(Bytes::from),
                    // No answer: hang past any timeout.
                    None => std::future::pending().await,
                }
            })
        }
    }

    fn key_set(source: &Scripted) -> KeySet {
        KeySet::new(Box::new(source.clone()), Duration::from_millis(200))
    }

    #[test]
    fn unusable_keys_are_skipped_and_garbage_is_an_error() {
        let body = json!({"keys": [
            rsa("rsa"),
            ec("p256", "P-256"),
            ec("p384", "P-384"),
            ec("p521", "P-521"),
            {"kty": "RSA", "kid": "enc", "n": "q83v", "e": "AQAB", "use": "enc"},
            {"kty": "RSA", "n": "q83v", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "q83v"},
            {"kty": "RSA", "kid": "bad-b64", "n": "!!!", "e": "AQAB"},
            "not an object",
            {"kid": 5},
        ]});
        let keys = parse_key_set(body.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().map(String::as_str).collect();
        kids.sort();
        assert_eq!(kids, ["p256", "p384", "rsa"]);
        for garbage in [&b"not json"[..], b"[]", b"{}", b"{\"keys\": {}}", b""] {
            assert!(parse_key_set(garbage).is_err(), "{garbage:?}");
        }
        assert!(parse_key_set(b"{\"keys\": []}").unwrap().is_empty());
    }

    #[test]
    fn a_key_fits_only_its_own_family_curve_and_algorithm() {
        let set = json!({"keys": [
            rsa("rsa"),
            {"kty": "RSA", "kid": "rs384-only", "n": "q83v", "e": "AQAB", "alg": "RS384"},
            ec("p256", "P-256"),
            ec("p384", "P-384"),
        ]});
        let keys = parse_key_set(set.to_string().as_bytes()).unwrap();
        let fits = |kid: &str, alg| keys[kid].fits(alg);
        for alg in [
            Algorithm::RS256,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS512,
        ] {
            assert!(fits("rsa", alg));
            assert!(!fits("p256", alg));
        }
        assert!(fits("rs384-only", Algorithm::RS384));
        assert!(!fits("rs384-only", Algorithm::RS256));
        assert!(!fits("rs384-only", Algorithm::PS384));
        assert!(fits("p256", Algorithm::ES256));
        assert!(!fits("p256", Algorithm::ES384));
        assert!(fits("p384", Algorithm::ES384));
        assert!(!fits("p384", Algorithm::ES256));
        assert!(!fits("rsa", Algorithm::ES256));
        assert!(!fits("rsa", Algorithm::HS256), "never a secret's algorithm");
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_kid_fetches_at_most_once_per_cool_down() {
        let source = Scripted::default();
        source.keys(&[rsa("a")]);
        let keys = key_set(&source);
        keys.prefetch().await;
        assert_eq!(source.fetches(), 1);
        assert!(keys.key("a").await.is_ok());
        assert_eq!(source.fetches(), 1, "a kept key needs no fetch");

        // The provider rotates: a new kid appears and is accepted after one fetch.
        source.keys(&[rsa("a"), rsa("b")]);
        assert!(keys.key("b").await.is_ok());
        assert_eq!(source.fetches(), 2);

        // A flood of unknown kids within the cool-down: no fetch at all, each a plain 401.
        source.keys(&[rsa("a"), rsa("b"), rsa("c")]);
        for _ in 0..100 {
            assert_eq!(keys.key("zzz").await.err(), Some(KeyError::UnknownKid));
        }
        assert_eq!(source.fetches(), 2);
        assert_eq!(keys.key("c").await.err(), Some(KeyError::UnknownKid));

        tokio::time::advance(UNKNOWN_KID_COOL_DOWN).await;
        assert!(
            keys.key("c").await.is_ok(),
            "fetched again after the cool-down"
        );
        assert_eq!(source.fetches(), 3);
        assert_eq!(keys.key("zzz").await.err(), Some(KeyError::UnknownKid));
        assert_eq!(source.fetches(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_share_one_fetch() {
        let source = Scripted::default();
        source.keys(&[rsa("a")]);
        let keys = key_set(&source);
        keys.prefetch().await;
        // The provider rotates and answers slowly, so that every lookup below overlaps the fetch.
        source.keys(&[rsa("a"), rsa("b")]);
        *source.delay.lock().unwrap() = Duration::from_millis(50);
        let lookups = (0..32).map(|i| {
            let kid = if i % 2 == 0 { "b" } else { "unknown" };
            keys.key(kid)
        });
        let results = futures::future::join_all(lookups).await;
        assert_eq!(source.fetches(), 2, "the init fetch and one shared refetch");
        for (i, result) in results.into_iter().enumerate() {
            match i % 2 {
                0 => assert!(result.is_ok()),
                _ => assert_eq!(result.err(), Some(KeyError::UnknownKid)),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_set_that_cannot_be_had_is_unavailable_never_unknown() {
        let source = Scripted::default();
        let keys = key_set(&source);
        // The provider hangs at init: init goes on, bounded by the timeout.
        source.answer(None);
        keys.prefetch().await;
        assert_eq!(keys.key("a").await.err(), Some(KeyError::Unavailable));
        source.answer(Some(Err("connection refused".into())));
        assert_eq!(keys.key("a").await.err(), Some(KeyError::Unavailable));
        source.answer(Some(Ok("<html>".into())));
        assert_eq!(keys.key("a").await.err(), Some(KeyError::Unavailable));
        assert_eq!(
            source.fetches(),
            4,
            "with no set held, each request may try"
        );

        source.keys(&[rsa("a")]);
        assert!(
            keys.key("a").await.is_ok(),
            "recovers once the provider answers"
        );
        // A set is held; the refetch for an unknown kid fails: the token might be valid.
        source.answer(Some(Err("connection refused".into())));
        assert_eq!(keys.key("new").await.err(), Some(KeyError::Unavailable));
        assert_eq!(
            keys.key("new").await.err(),
            Some(KeyError::Unavailable),
            "still 503 during the cool-down after a failed fetch"
        );
        assert!(keys.key("a").await.is_ok(), "the old set is kept");
    }
}
