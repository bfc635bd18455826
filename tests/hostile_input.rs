//! Hostile input, as a property: whatever event arrives, the handler answers an envelope with
//! an allowed status, never panics, and never answers 5xx to anything a client can send.
//! `PROPTEST_CASES` sets the number of cases (CI runs the default below; see docs/testing.md).

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use common::idp::{jws, SigningKey};
use flickr_job_status::app::App;
use flickr_job_status::auth::jwks::{Fetch, KeySet, KeySetSource};
use flickr_job_status::config::Config;
use flickr_job_status::lambda::handle_event;
use flickr_job_status::store::memory::MemoryStore;
use flickr_job_status::wiring;
use lambda_runtime::{Context, LambdaEvent};
use proptest::prelude::*;
use serde_json::{json, Value};

const OWNER: &str = "09b4e414-4f70-4226-9ee8-f9e815fc2539";
const JOBS: [&str; 3] = ["job-1", "job-2", "status"];
const ALLOWED: [u16; 13] = [
    200, 201, 202, 304, 400, 401, 404, 405, 409, 413, 415, 501, 503,
];

fn app(share: bool) -> App<MemoryStore> {
    let s = |v: &str| AttributeValue::S(v.to_string());
    let states = ["completed", "failed", "queued"];
    // Valid records only: a 5xx could then only come from the request.
    let store = MemoryStore::new();
    for (job, state) in JOBS.iter().zip(states) {
        let item = HashMap::from([
            ("jobId".to_string(), s(job)),
            ("user_id".to_string(), s(OWNER)),
            ("state".to_string(), s(state)),
            ("target".to_string(), s("rest")),
            (
                "returnvalue".to_string(),
                s(r#"{"from_cache":true,"flickr":{"stat":"ok"}}"#),
            ),
        ]);
        store.put("jobId", item).expect("a keyed item");
    }
    let config = Config::from_lookup(|name| match name {
        "JOBS_TABLE" => Some("jobs".into()),
        "JWT_SECRET" => Some("fuzz-secret".into()),
        "JWT_JWKS_URL" => Some("http://127.0.0.1:9/jwks.json".into()),
        "SHARE_TOKEN_SECRET" if share => Some("fuzz-share".into()),
        // GET /jobs is served (over the memory store), so its 501 is never the answer.
        "JOBS_USER_INDEX" => Some("jobs-by-user".into()),
        _ => None,
    })
    .expect("config");
    // The identity provider's key set, served from memory: always there, so a 5xx could only
    // come from the token itself.
    let key_set = KeySet::new(Box::new(MemoryKeySet), Duration::from_secs(1));
    wiring::app_with_key_set(&config, store, Some(key_set))
}

struct MemoryKeySet;

impl KeySetSource for MemoryKeySet {
    fn fetch(&self) -> Fetch {
        let keys = provider_keys();
        let body = json!({"keys": [keys.rsa.jwk(), keys.ec.jwk()]}).to_string();
        Box::pin(async move { Ok(body.into()) })
    }
}

/// The test identity provider's keys, made once per test process.
struct ProviderKeys {
    rsa: SigningKey,
    ec: SigningKey,
}

fn provider_keys() -> &'static ProviderKeys {
    static KEYS: OnceLock<ProviderKeys> = OnceLock::new();
    KEYS.get_or_init(|| ProviderKeys {
        rsa: SigningKey::rsa("rsa", "rsa-a"),
        ec: SigningKey::p256("ec"),
    })
}

/// Tokens in the shape of the provider's, with hostile headers, claims and signatures: real
/// signatures over them, or random bytes.
fn asymmetric_token() -> impl Strategy<Value = String> {
    let alg = prop_oneof![
        prop::sample::select(vec![
            "RS256", "RS384", "PS256", "PS512", "ES256", "ES384", "ES512", "HS256", "none",
            "EdDSA", ""
        ])
        .prop_map(str::to_string),
        ".{0,8}",
    ];
    let kid = prop_oneof![
        prop::sample::select(vec!["rsa", "ec", "unknown", ""]).prop_map(|kid| json!(kid)),
        any_json(),
    ];
    let header = prop_oneof![
        4 => (alg, kid).prop_map(|(alg, kid)| json!({"alg": alg, "typ": "JWT", "kid": kid})),
        1 => any_json(),
    ];
    let claims = prop_oneof![
        3 => (any::<Option<u64>>(), ".{0,12}", any::<bool>()).prop_map(|(exp, sub, nbf)| {
            let mut claims = json!({"sub": sub, "exp": exp, "client_id": "x", "token_use": "access"});
            if nbf {
                claims["nbf"] = json!(4_102_444_800u64);
            }
            claims
        }),
        1 => Just(json!({"sub": OWNER, "exp": 4_102_444_800u64})),
        1 => any_json(),
    ];
    let signer = prop_oneof![Just(Some("rsa")), Just(Some("ec")), Just(None)];
    (
        header,
        claims,
        signer,
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(header, claims, signer, random)| {
            jws(&header, &claims, |input| {
                let keys = provider_keys();
                match signer {
                    Some("rsa") => keys.rsa.signature("RS256", input),
                    Some(_) => keys.ec.signature("ES256", input),
                    None => random,
                }
            })
        })
}

fn valid_asymmetric_token(alg: &str) -> String {
    let keys = provider_keys();
    let key = if alg.starts_with("ES") {
        &keys.ec
    } else {
        &keys.rsa
    };
    key.sign(alg, &json!({"sub": OWNER, "exp": 4_102_444_800u64}))
}

fn token() -> String {
    let claims = flickr_job_status::auth::bearer::Claims {
        sub: OWNER.into(),
        exp: 4_102_444_800,
        ..Default::default()
    };
    flickr_job_status::auth::bearer::mint(b"fuzz-secret", &claims).expect("token")
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn path() -> impl Strategy<Value = String> {
    let prefix = prop_oneof![
        4 => Just("/api/v1/flickr/jobs/"),
        2 => Just("/prod/api/v1/flickr/jobs/"),
        1 => Just("/api/v1/flickr/jobs"),
    ];
    let id = prop_oneof![
        6 => prop::sample::select(vec!["job-1", "job-2", "status"]).prop_map(str::to_string),
        2 => prop::sample::select(vec!["job-9", "%FF", "a%00b", "a%2Fb", ""]).prop_map(str::to_string),
        1 => "[a-zA-Z0-9%._~-]{0,20}",
        1 => ".{0,300}",
    ];
    let suffix = prop_oneof![
        6 => prop::sample::select(vec!["", "/result", "/share"]).prop_map(str::to_string),
        1 => prop::sample::select(vec!["/", "/result/x"]).prop_map(str::to_string),
        1 => ".{0,20}",
    ];
    prop_oneof![
        6 => (prefix, id, suffix).prop_map(|(prefix, id, suffix)| format!("{prefix}{id}{suffix}")),
        1 => ".{0,60}",
    ]
}

fn body() -> impl Strategy<Value = (Option<String>, bool)> {
    prop_oneof![
        Just((None, false)),
        any_json().prop_map(|v| (Some(v.to_string()), false)),
        (".{0,20}", ".{0,20}")
            .prop_map(|(j, u)| (Some(json!({"job_id": j, "user_id": u}).to_string()), false)),
        prop_oneof![Just("job-1"), Just("job-2")].prop_map(|j| (
            Some(json!({"job_id": j, "user_id": OWNER, "expires_in": 600}).to_string()),
            false
        )),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| (
            Some(base64::engine::general_purpose::STANDARD.encode(b)),
            true
        )),
        ".{0,200}".prop_map(|s| (Some(s), true)),
        (0usize..3).prop_map(|n| (Some("x".repeat(64 * 1024 - 1 + n)), false)),
    ]
}

fn headers() -> impl Strategy<Value = serde_json::Map<String, Value>> {
    let content_type = prop_oneof![
        Just("application/json"),
        Just("text/plain"),
        Just("application/x+json; q=1"),
        Just("")
    ];
    let authorization = prop_oneof![
        2 => Just(String::new()),
        4 => Just(format!("Bearer {}", token())),
        2 => prop::sample::select(vec!["RS256", "PS384", "ES256"])
            .prop_map(|alg| format!("Bearer {}", valid_asymmetric_token(alg))),
        2 => asymmetric_token().prop_map(|token| format!("Bearer {token}")),
        1 => Just("Bearer garbage".to_string()),
        1 => Just("Basic Zm9vOmJhcg==".to_string()),
        1 => ".{0,60}",
    ];
    (
        content_type,
        authorization,
        prop::collection::hash_map("[a-zA-Z-]{1,12}", ".{0,30}", 0..4),
        any::<bool>(),
    )
        .prop_map(|(content_type, authorization, extra, if_none_match)| {
            let mut headers: serde_json::Map<String, Value> =
                extra.into_iter().map(|(k, v)| (k, json!(v))).collect();
            if !content_type.is_empty() {
                headers.insert("content-type".into(), json!(content_type));
            }
            if !authorization.is_empty() {
                headers.insert("authorization".into(), json!(authorization));
            }
            if if_none_match {
                headers.insert("if-none-match".into(), json!("*"));
            }
            headers
        })
}

/// An HTTP event of one of the payload formats, with hostile parts.
fn http_event() -> impl Strategy<Value = Value> {
    let method = prop_oneof![
        6 => prop::sample::select(vec!["GET", "POST"]).prop_map(str::to_string),
        1 => prop::sample::select(vec!["PUT", "DELETE", "OPTIONS"]).prop_map(str::to_string),
        1 => "[A-Za-z]{0,8}",
    ];
    let query = prop_oneof![
        6 => Just(String::new()),
        1 => Just("token=".to_string()),
        1 => "token=[0-9]{1,12}\\.[A-Za-z0-9_-]{0,43}",
        1 => ".{0,40}",
    ];
    let authorizer = prop_oneof![
        Just(Value::Null),
        any_json(),
        Just(json!({"jwt": {"claims": {"sub": OWNER}}})),
        Just(json!({"principalId": 7}))
    ];
    (0u8..3, method, path(), headers(), query, body(), authorizer, any::<bool>()).prop_map(
        |(format, method, path, headers, query, (body, base64), authorizer, with_request_id)| {
            let mut context = json!({"stage": "prod", "authorizer": authorizer});
            if with_request_id {
                context["requestId"] = json!("gateway-id");
            }
            let mut event = match format {
                0 => {
                    context["http"] = json!({"method": method, "path": path});
                    json!({"version": "2.0", "rawPath": path, "rawQueryString": query, "headers": headers})
                }
                1 => {
                    let token = (!query.is_empty()).then(|| json!({"token": [query]}));
                    json!({"httpMethod": method, "path": path, "headers": headers, "multiValueQueryStringParameters": token})
                }
                _ => {
                    context["elb"] = json!({"targetGroupArn": "arn"});
                    let token = (!query.is_empty()).then(|| json!({"token": query}));
                    json!({"httpMethod": method, "path": path, "headers": headers, "queryStringParameters": token})
                }
            };
            event["requestContext"] = context;
            event["body"] = json!(body);
            event["isBase64Encoded"] = json!(base64);
            event
        },
    )
}

fn check(raw_event: String, share: bool) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = app(share);
    let payload = serde_json::value::RawValue::from_string(raw_event).expect("JSON text");
    let mut context = Context::default();
    context.request_id = "invocation".into();
    let response = runtime
        .block_on(handle_event(&app, LambdaEvent::new(payload, context)))
        .expect("infallible");
    let response = serde_json::to_value(response).expect("serializes");
    let status = response["statusCode"].as_u64().expect("a status") as u16;
    prop_assert!(ALLOWED.contains(&status), "status {status}");
    // 501 is the share route's documented answer when share links are not configured.
    prop_assert!(
        status < 500 || (status == 501 && !share),
        "5xx for client input: {response}"
    );
    if status == 304 {
        prop_assert!(response.get("body").is_none_or(Value::is_null));
        return Ok(());
    }
    let body: Value =
        serde_json::from_str(response["body"].as_str().expect("a body")).expect("JSON body");
    let envelope = body.as_object().expect("an object");
    prop_assert_eq!(
        envelope.keys().collect::<Vec<_>>(),
        ["data", "error", "request_id"]
    );
    prop_assert_eq!(envelope["error"].is_null(), status < 400);
    if status >= 400 {
        prop_assert!(envelope["data"].is_null());
        prop_assert!(envelope["error"]["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("ERR_")));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn http_events_of_any_shape_get_an_envelope(event in http_event(), share in any::<bool>()) {
        check(event.to_string(), share)?;
    }

    #[test]
    fn arbitrary_json_events_get_an_envelope(event in any_json()) {
        check(event.to_string(), true)?;
    }
}
