//! Bearer-token verification in process, the key already held: HS256 (shared secret) beside
//! RS256 and ES256 (the identity provider's keys, verified with ring). `cargo bench --bench
//! token_verification`; the figures are in docs/performance.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use flickr_job_status::auth::jwks::{Fetch, KeySet, KeySetSource};
use flickr_job_status::auth::BearerVerifier;
use flickr_job_status::config::Config;
use serde_json::json;

// The test identity provider's signing helpers (keys made for the tests, ring signatures);
// `idp` reads requests with `fake_dynamo`'s parser, so both come along.
#[path = "../tests/common/fake_dynamo.rs"]
#[allow(dead_code)]
mod fake_dynamo;
#[path = "../tests/common/idp.rs"]
#[allow(dead_code)]
mod idp;
use idp::SigningKey;

struct MemoryKeySet(String);

impl KeySetSource for MemoryKeySet {
    fn fetch(&self) -> Fetch {
        let body = self.0.clone();
        Box::pin(async move { Ok(body.into()) })
    }
}

fn bench(c: &mut Criterion) {
    let rsa = SigningKey::rsa("rsa", "rsa-a");
    let ec = SigningKey::p256("ec");
    let config = Config::from_lookup(|name| match name {
        "JOBS_TABLE" => Some("jobs".into()),
        "JWT_SECRET" => Some("bench-secret".into()),
        "JWT_JWKS_URL" => Some("http://127.0.0.1:9/jwks.json".into()),
        "JWT_ISSUER" => Some("https://issuer.example".into()),
        "JWT_AUDIENCE" => Some("bench-client".into()),
        _ => None,
    })
    .expect("config");
    let jwks = json!({"keys": [rsa.jwk(), ec.jwk()]}).to_string();
    let key_set = KeySet::new(Box::new(MemoryKeySet(jwks)), Duration::from_secs(1));
    let verifier = BearerVerifier::new(config.jwt.as_ref().expect("jwt"), Some(key_set));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(verifier.prefetch_keys());

    let claims = json!({"sub": "user-1", "exp": 4_102_444_800u64, "iss": "https://issuer.example",
                        "client_id": "bench-client", "token_use": "access"});
    let hs256 = idp::hmac_token(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &claims,
        b"bench-secret",
    );
    let cases = [
        ("hs256", hs256),
        ("rs256", rsa.sign("RS256", &claims)),
        ("es256", ec.sign("ES256", &claims)),
    ];
    let mut group = c.benchmark_group("token_verification");
    for (name, token) in cases {
        assert_eq!(
            runtime
                .block_on(verifier.verify(&token))
                .ok()
                .map(|caller| caller.user_id)
                .as_deref(),
            Some("user-1"),
            "{name} verifies"
        );
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| verifier.verify(&token))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
