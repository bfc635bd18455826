//! What the fuzz targets share: the function over the in-memory store, a key set that needs no
//! network, a runtime, and the invariants every answer must keep (docs/testing.md, "Fuzzing").

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use flickr_job_status::app::App;
use flickr_job_status::auth::jwks::{Fetch, KeySet, KeySetSource};
use flickr_job_status::config::Config;
use flickr_job_status::store::decode_record;
use flickr_job_status::store::memory::{typed_item, MemoryStore};
use ring::signature::{self, KeyPair, RsaKeyPair};
use serde_json::{json, Value};

pub const JWT_SECRET: &str = "local-dev-jwt-secret";
pub const SHARE_SECRET: &str = "local-dev-share-secret";

/// The seeded jobs of dev/sample-jobs.json and tests/fixtures/records.json.
const SAMPLE_JOBS: &str = include_str!("../../dev/sample-jobs.json");
const FIXTURES: &str = include_str!("../../tests/fixtures/records.json");
const RSA_KEY: &str = include_str!("../../tests/fixtures/keys/rsa-a.pem");

/// Text of the records that no error answer may carry (a failed job's own 409 names its
/// `failedReason` by design, docs/API.md#5-error-codes).
pub const RECORD_CONTENT: [&str; 4] = [
    "callback-test",
    "flickr.test.echo",
    "loadToken",
    "/app/src/",
];

pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    })
}

/// The test configuration, with waiting off (a fuzzer must never sleep) and a key set URL so
/// that RS/PS tokens are verified against [`RSA_KEY`]'s public half.
pub fn config() -> Config {
    Config::from_lookup(|name| {
        let value = match name {
            "JOBS_TABLE" => "jobs",
            "JWT_SECRET" => JWT_SECRET,
            "SHARE_TOKEN_SECRET" => SHARE_SECRET,
            "JWT_JWKS_URL" => "http://127.0.0.1:9/jwks.json",
            "WAIT_MAX_SECONDS" => "0",
            // GET /jobs answers from the memory store's listing, not the 501 of a function
            // without the index (a 5xx this harness would report).
            "JOBS_USER_INDEX" => "jobs-by-user",
            _ => return None,
        };
        Some(value.to_string())
    })
    .expect("a valid fuzzing configuration")
}

fn rsa_key() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let body: String = RSA_KEY
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(body).expect("the PEM body");
        RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 RSA key")
    })
}

/// The JWKS the static source serves: `rsa-a` under kid `k`.
pub fn jwks() -> String {
    let public: signature::RsaPublicKeyComponents<Vec<u8>> = rsa_key().public_key().into();
    json!({"keys": [{"kty": "RSA", "kid": "k", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)}]})
    .to_string()
}

struct StaticKeys(bytes::Bytes);

impl KeySetSource for StaticKeys {
    fn fetch(&self) -> Fetch {
        let keys = self.0.clone();
        Box::pin(async move { Ok(keys) })
    }
}

pub fn key_set() -> KeySet {
    KeySet::new(
        Box::new(StaticKeys(jwks().into())),
        std::time::Duration::from_secs(1),
    )
}

/// The seeded records whose decoding succeeds: a corrupt record's 500 is its owner's correct
/// answer, so keeping them out makes any 5xx of the request path a finding.
pub fn store() -> MemoryStore {
    let store = MemoryStore::new();
    for json in [SAMPLE_JOBS, FIXTURES] {
        let items: Vec<Value> = serde_json::from_str(json).expect("typed JSON");
        for item in items {
            let item = typed_item(&item).expect("a typed item");
            if runtime()
                .block_on(decode_record(item.clone()).decode())
                .is_ok()
            {
                store.put("jobId", item).expect("a keyed item");
            }
        }
    }
    store
}

/// The function as the request path target drives it.
pub fn app() -> &'static App<MemoryStore> {
    static APP: OnceLock<App<MemoryStore>> = OnceLock::new();
    APP.get_or_init(|| {
        let app = flickr_job_status::wiring::app_with_key_set(&config(), store(), Some(key_set()));
        runtime().block_on(app.prefetch_keys());
        app
    })
}

/// True when `signature_bytes` is `rsa-a`'s signature of `message` under `alg` (the oracle of
/// the tokens target).
pub fn rsa_verify(alg: &str, message: &[u8], signature_bytes: &[u8]) -> bool {
    let scheme: &dyn signature::VerificationAlgorithm = match alg {
        "RS256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        "PS384" => &signature::RSA_PSS_2048_8192_SHA384,
        "PS512" => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return false,
    };
    signature::UnparsedPublicKey::new(scheme, rsa_key().public_key().as_ref())
        .verify(message, signature_bytes)
        .is_ok()
}

/// The invariants of any answer to client-controlled input: a Lambda HTTP response, never a
/// 5xx, and a JSON body that is exactly the envelope, with no record content in an error.
pub fn check_answer(response: &Value) {
    let status = response["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("no statusCode: {response}"));
    assert!(
        (200..500).contains(&status),
        "a {status} for client input: {response}"
    );
    let content_type = response["headers"]["content-type"]
        .as_str()
        .or_else(|| response["multiValueHeaders"]["content-type"][0].as_str());
    let body = response["body"].as_str();
    if status == 304 {
        assert!(
            body.is_none_or(str::is_empty),
            "a 304 with a body: {response}"
        );
        return;
    }
    let body = body.unwrap_or_else(|| panic!("no body: {response}"));
    let body = &plain_body(response, body);
    match content_type {
        Some(html) if html.starts_with("text/html") => {
            assert!(
                body.to_ascii_lowercase().starts_with("<!doctype html>"),
                "a page that is not a document"
            );
        }
        Some(json) if json.starts_with("application/json") => check_envelope(status, body),
        other => panic!("content type {other:?}: {response}"),
    }
}

/// The body as the client reads it: a gzip answer (payload 2.0 with `Accept-Encoding: gzip`)
/// arrives base64-encoded and compressed.
fn plain_body(response: &Value, body: &str) -> String {
    let encoding = response["headers"]["content-encoding"].as_str();
    if encoding != Some("gzip") {
        return body.to_string();
    }
    assert_eq!(
        response["isBase64Encoded"],
        Value::Bool(true),
        "a gzip body that is not base64: {response}"
    );
    let compressed = STANDARD.decode(body).expect("a base64 body");
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut plain,
    )
    .expect("a gzip body that inflates to text");
    plain
}

fn check_envelope(status: u64, body: &str) {
    let envelope: serde_json::Map<String, Value> =
        serde_json::from_str(body).unwrap_or_else(|error| panic!("{error}: {body}"));
    let mut keys: Vec<&str> = envelope.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["data", "error", "request_id"], "{body}");
    assert!(envelope["request_id"].is_string(), "{body}");
    let error = &envelope["error"];
    if status < 400 {
        assert!(error.is_null(), "a {status} with an error: {body}");
        return;
    }
    assert!(envelope["data"].is_null(), "an error with data: {body}");
    let code = error["code"].as_str().unwrap_or_else(|| panic!("{body}"));
    assert!(code.starts_with("ERR_"), "{body}");
    assert!(error["message"].is_string(), "{body}");
    if code != "ERR_JOB_FAILED" {
        for content in RECORD_CONTENT {
            assert!(
                !body.contains(content),
                "record content in an error: {body}"
            );
        }
    }
}
