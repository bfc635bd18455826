//! One lenient reader for every HTTP payload Lambda receives (API Gateway v1/v2, function URLs, ALB).
//!
//! `lambda_http` would decode base64 bodies with `expect` and crash the invocation on bad
//! input, so the raw event is read here and turned into a `Request` without ever failing.

use std::fmt;
use std::marker::PhantomData;

use base64::Engine;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::routes::BASE_PATH;

/// Requests above this size (after base64 decoding) are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Which payload format the event came in, so the response goes back in the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// API Gateway REST API (payload 1.0).
    RestApi,
    /// API Gateway HTTP API (payload 2.0), Lambda function URLs, `cargo lambda watch`.
    HttpApi,
    /// Application Load Balancer.
    Alb,
}

/// The request body as received, decoded from base64 when flagged so.
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    Absent,
    Bytes(Vec<u8>),
    InvalidBase64,
    TooLarge,
}

/// A request in one shape, whatever payload format it arrived in.
#[derive(Debug)]
pub struct Request {
    pub origin: Origin,
    pub method: String,
    /// Path with any stage prefix removed, still percent-encoded.
    pub path: String,
    /// Lower-case names; repeated headers stay separate entries.
    pub headers: Vec<(String, String)>,
    /// Decoded query pairs; repeated keys stay separate entries.
    pub query: Vec<(String, String)>,
    pub body: Body,
    /// API Gateway's request id, when the event carries one (else the invocation id is used).
    pub gateway_request_id: Option<String>,
    /// `requestContext.authorizer` as API Gateway put it there.
    pub authorizer: Option<Value>,
    /// When API Gateway received the request (epoch ms: `requestContext.timeEpoch` of payload
    /// 2.0, `requestTimeEpoch` of 1.0), when the event says.
    pub request_time_ms: Option<u64>,
}

impl Request {
    /// Every value of a header, in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn query_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The fields of all supported payload formats; anything else in the event is ignored.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
struct RawEvent {
    version: Option<String>,
    http_method: Option<String>,
    path: Option<String>,
    raw_path: Option<String>,
    raw_query_string: Option<String>,
    #[serde(deserialize_with = "entries")]
    headers: Option<Entries<Option<String>>>,
    #[serde(deserialize_with = "entries")]
    multi_value_headers: Option<Entries<Option<Vec<String>>>>,
    #[serde(deserialize_with = "entries")]
    query_string_parameters: Option<Entries<Option<String>>>,
    #[serde(deserialize_with = "entries")]
    multi_value_query_string_parameters: Option<Entries<Option<Vec<String>>>>,
    body: Option<String>,
    is_base64_encoded: Option<bool>,
    request_context: Option<RawContext>,
}

/// A JSON object's members in the event's order. The header and query objects are flattened
/// into lists at once, so they are never built as hash maps (hashing every name is a tenth of
/// reading a small event).
type Entries<V> = Vec<(String, V)>;

/// An object, or `null`, as `Entries`.
fn entries<'de, D, V>(deserializer: D) -> Result<Option<Entries<V>>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct EntriesVisitor<V>(PhantomData<V>);

    impl<'de, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<V> {
        type Value = Option<Entries<V>>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("an object or null")
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, inner: D2) -> Result<Self::Value, D2::Error> {
            inner.deserialize_map(self)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(Some(entries))
        }
    }

    deserializer.deserialize_option(EntriesVisitor(PhantomData))
}

#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
struct RawContext {
    request_id: Option<String>,
    stage: Option<String>,
    http: Option<RawHttp>,
    authorizer: Option<Value>,
    elb: Option<Value>,
    // Values, not numbers: a field of the wrong type must not make the event unreadable.
    time_epoch: Option<Value>,
    request_time_epoch: Option<Value>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct RawHttp {
    method: Option<String>,
    path: Option<String>,
}

/// Epoch times below this (2001-09-09 in milliseconds) are seconds: `cargo lambda watch` writes
/// `timeEpoch` in seconds, API Gateway in milliseconds.
const EARLIEST_EPOCH_MS: u64 = 1_000_000_000_000;

fn epoch_ms(time: u64) -> u64 {
    if time < EARLIEST_EPOCH_MS {
        time.saturating_mul(1000)
    } else {
        time
    }
}

/// Reads a Lambda event. `None` when it is not an HTTP event of any known shape.
pub fn parse_event(raw: &str) -> Option<Request> {
    let event: RawEvent = serde_json::from_str(raw).ok()?;
    let context = event.request_context.unwrap_or_default();
    let origin = if context.elb.is_some() {
        Origin::Alb
    } else if event.version.as_deref() == Some("2.0") {
        Origin::HttpApi
    } else {
        Origin::RestApi
    };

    let (method, path) = match origin {
        Origin::HttpApi => {
            let http = context.http.unwrap_or_default();
            (http.method?, event.raw_path.or(http.path)?)
        }
        Origin::RestApi | Origin::Alb => (event.http_method?, event.path?),
    };

    let headers = match event.multi_value_headers {
        Some(multi) if !multi.is_empty() => flatten_multi(multi),
        _ => flatten_single(event.headers.unwrap_or_default()),
    }
    .into_iter()
    .map(|(mut name, value)| {
        name.make_ascii_lowercase();
        (name, value)
    })
    .collect();

    let query = match origin {
        Origin::HttpApi => match event.raw_query_string {
            Some(raw) => form_urlencoded::parse(raw.as_bytes())
                .into_owned()
                .collect(),
            None => flatten_single(event.query_string_parameters.unwrap_or_default()),
        },
        Origin::RestApi | Origin::Alb => {
            let pairs = match event.multi_value_query_string_parameters {
                Some(multi) if !multi.is_empty() => flatten_multi(multi),
                _ => flatten_single(event.query_string_parameters.unwrap_or_default()),
            };
            // ALB passes query strings on exactly as the client sent them, still encoded.
            if origin == Origin::Alb {
                pairs
                    .into_iter()
                    .map(|(key, value)| (decode_query_part(&key), decode_query_part(&value)))
                    .collect()
            } else {
                pairs
            }
        }
    };

    let body = decode_body(event.body, event.is_base64_encoded.unwrap_or(false));
    let request_time_ms = context
        .time_epoch
        .or(context.request_time_epoch)
        .and_then(|time| time.as_u64())
        .map(epoch_ms);

    Some(Request {
        origin,
        method,
        path: strip_stage(path, context.stage.as_deref()),
        headers,
        query,
        body,
        gateway_request_id: context.request_id.filter(|id| !id.is_empty()),
        authorizer: context.authorizer,
        request_time_ms,
    })
}

fn flatten_single(map: Entries<Option<String>>) -> Vec<(String, String)> {
    map.into_iter()
        .filter_map(|(key, value)| Some((key, value?)))
        .collect()
}

fn flatten_multi(map: Entries<Option<Vec<String>>>) -> Vec<(String, String)> {
    let mut pairs = Vec::with_capacity(map.len());
    for (key, values) in map {
        let mut values = values.unwrap_or_default().into_iter().peekable();
        while let Some(value) = values.next() {
            if values.peek().is_none() {
                // The name itself goes with its last value: a copy only for the others.
                pairs.push((key, value));
                break;
            }
            pairs.push((key.clone(), value));
        }
    }
    pairs
}

fn decode_query_part(part: &str) -> String {
    form_urlencoded::parse(format!("x={part}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

fn decode_body(body: Option<String>, base64_encoded: bool) -> Body {
    let Some(body) = body else {
        return Body::Absent;
    };
    if !base64_encoded {
        return if body.len() > MAX_BODY_BYTES {
            Body::TooLarge
        } else {
            Body::Bytes(body.into_bytes())
        };
    }
    // Refuse before decoding anything that cannot fit once decoded.
    if body.len() / 4 * 3 > MAX_BODY_BYTES + 3 {
        return Body::TooLarge;
    }
    match base64::engine::general_purpose::STANDARD.decode(body.trim()) {
        Ok(bytes) if bytes.len() > MAX_BODY_BYTES => Body::TooLarge,
        Ok(bytes) => Body::Bytes(bytes),
        Err(_) => Body::InvalidBase64,
    }
}

/// REST APIs (and HTTP APIs on a named stage) put the stage in front of the path.
fn strip_stage(path: String, stage: Option<&str>) -> String {
    match stage {
        Some(stage) if !stage.is_empty() && stage != "$default" && !path.starts_with(BASE_PATH) => {
            match path
                .strip_prefix('/')
                .and_then(|rest| rest.strip_prefix(stage))
            {
                Some(rest) if rest.starts_with('/') => rest.to_string(),
                _ => path,
            }
        }
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(event: Value) -> Request {
        parse_event(&event.to_string()).expect("an HTTP event")
    }

    #[test]
    fn http_api_v2_event() {
        let request = parse(json!({
            "version": "2.0",
            "rawPath": "/api/v1/flickr/jobs/abc",
            "rawQueryString": "token=a%2Bb&token=c",
            "headers": {"Content-Type": "application/json"},
            "requestContext": {"requestId": "req-1", "timeEpoch": 1796153549123u64, "http": {"method": "GET", "path": "/api/v1/flickr/jobs/abc"}},
            "body": "e30=",
            "isBase64Encoded": true
        }));
        assert_eq!(request.origin, Origin::HttpApi);
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/api/v1/flickr/jobs/abc");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.query_values("token").collect::<Vec<_>>(),
            ["a+b", "c"]
        );
        assert_eq!(request.body, Body::Bytes(b"{}".to_vec()));
        assert_eq!(request.gateway_request_id.as_deref(), Some("req-1"));
        assert_eq!(request.request_time_ms, Some(1_796_153_549_123));
    }

    #[test]
    fn rest_api_event_with_stage_prefix() {
        let request = parse(json!({
            "resource": "/{proxy+}",
            "path": "/prod/api/v1/flickr/jobs/status",
            "httpMethod": "POST",
            "headers": {"content-type": "application/json"},
            "multiValueHeaders": {"content-type": ["application/json"], "X-Many": ["1", "2"]},
            "queryStringParameters": null,
            "multiValueQueryStringParameters": {"token": ["t1", "t2"]},
            "requestContext": {"requestId": "rest-1", "stage": "prod", "requestTimeEpoch": 1796153549000u64},
            "body": "{}",
            "isBase64Encoded": false
        }));
        assert_eq!(request.origin, Origin::RestApi);
        assert_eq!(request.path, "/api/v1/flickr/jobs/status");
        assert_eq!(request.header_values("x-many").count(), 2);
        assert_eq!(request.query_values("token").count(), 2);
        assert_eq!(request.request_time_ms, Some(1_796_153_549_000));
    }

    #[test]
    fn headers_keep_the_events_order_and_every_value() {
        // Written out, not built with `json!`, whose objects sort their keys.
        let rest = parse_event(
            r#"{"path": "/api/v1/flickr/jobs/a", "httpMethod": "GET",
                "headers": {"Zeta": "last", "Accept": "b"},
                "multiValueHeaders": {"Zeta": ["1", "2", "3"], "Accept": ["a", "b"], "Empty": [], "Null": null}}"#,
        )
        .expect("an HTTP event");
        let headers: Vec<(&str, &str)> = rest
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            headers,
            [
                ("zeta", "1"),
                ("zeta", "2"),
                ("zeta", "3"),
                ("accept", "a"),
                ("accept", "b")
            ]
        );
        let http = parse_event(
            r#"{"version": "2.0", "rawPath": "/p", "requestContext": {"http": {"method": "GET"}},
                "headers": {"X-B": "2", "Null": null, "x-a": "1"}, "queryStringParameters": null}"#,
        )
        .expect("an HTTP event");
        assert_eq!(
            http.headers,
            [
                ("x-b".to_string(), "2".to_string()),
                ("x-a".to_string(), "1".to_string())
            ]
        );
        assert!(http.query.is_empty());
        for not_an_object in [r#""headers": ["a"]"#, r#""headers": "a""#] {
            let event = format!(
                r#"{{"version": "2.0", "rawPath": "/p", "requestContext": {{"http": {{"method": "GET"}}}}, {not_an_object}}}"#
            );
            assert!(parse_event(&event).is_none(), "{event}");
        }
    }

    #[test]
    fn a_request_time_in_seconds_is_read_as_seconds() {
        let request = parse(json!({
            "version": "2.0",
            "rawPath": "/api/v1/flickr/jobs/abc",
            "requestContext": {"http": {"method": "GET", "path": "/api/v1/flickr/jobs/abc"}, "timeEpoch": 1796172426u64}
        }));
        assert_eq!(request.request_time_ms, Some(1_796_172_426_000));
    }

    #[test]
    fn alb_event_decodes_query() {
        let request = parse(json!({
            "requestContext": {"elb": {"targetGroupArn": "arn"}},
            "httpMethod": "GET",
            "path": "/api/v1/flickr/jobs/a",
            "queryStringParameters": {"token": "x%2By"},
            "headers": {},
            "body": "",
            "isBase64Encoded": false
        }));
        assert_eq!(request.origin, Origin::Alb);
        assert_eq!(request.query_values("token").collect::<Vec<_>>(), ["x+y"]);
        assert!(request.gateway_request_id.is_none());
    }

    #[test]
    fn bad_base64_and_oversized_bodies_are_flagged_not_fatal() {
        assert_eq!(decode_body(Some("***".into()), true), Body::InvalidBase64);
        assert_eq!(
            decode_body(Some("a".repeat(MAX_BODY_BYTES + 1)), false),
            Body::TooLarge
        );
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(vec![b'a'; MAX_BODY_BYTES + 1]);
        assert_eq!(decode_body(Some(encoded), true), Body::TooLarge);
        let encoded = base64::engine::general_purpose::STANDARD.encode(vec![b'a'; MAX_BODY_BYTES]);
        assert!(
            matches!(decode_body(Some(encoded), true), Body::Bytes(b) if b.len() == MAX_BODY_BYTES)
        );
        assert_eq!(decode_body(None, true), Body::Absent);
    }

    #[test]
    fn non_http_events_are_not_requests() {
        assert!(parse_event("[]").is_none());
        assert!(parse_event("{\"Records\": []}").is_none());
        assert!(parse_event("not json").is_none());
    }

    #[test]
    fn stage_is_only_stripped_as_a_whole_segment() {
        assert_eq!(strip_stage("/prod/api".into(), Some("prod")), "/api");
        assert_eq!(
            strip_stage("/production/api".into(), Some("prod")),
            "/production/api"
        );
        assert_eq!(strip_stage("/api".into(), Some("$default")), "/api");
        let path = "/api/v1/flickr/jobs/x".to_string();
        assert_eq!(strip_stage(path.clone(), Some("api")), path);
    }
}
