//! An answer as the Lambda payload for one request: gzip on payload 2.0 when the request accepts
//! it, the headers that go with that (`Content-Encoding`, one `Vary`, the `-gzip` ETag), and the
//! front's size limit, never hit by surprise (docs/API.md#compression-and-size-limits).

use std::io::Write;

use lambda_http::aws_lambda_events::encodings::Body;

use super::compress::{gzip, AcceptEncoding};
use super::response::{lambda_payload, LambdaResponse, Response};
use super::Origin;
use crate::error::ApiError;
use crate::jobs::gzip_tag;

/// Lambda's limit on a synchronous invocation's response is 6 MB (the serialized payload:
/// base64 and JSON escaping count). Taken as 6,000,000 bytes, below the 6,291,556 Lambda
/// enforces, so that nothing that passes here can fail there.
pub const LAMBDA_RESPONSE_LIMIT: usize = 6_000_000;

/// An ALB target's Lambda response may be 1 MB; taken as 1,000,000 bytes, likewise.
pub const ALB_RESPONSE_LIMIT: usize = 1_000_000;

/// The payload and the status it finally carries (a 406 or 500 when the answer could not go
/// out as it was).
#[derive(Debug)]
pub struct Delivered {
    pub payload: LambdaResponse,
    pub status: u16,
}

/// The answer as the payload for `origin`. Compression is the function's own on payload 2.0
/// only: REST turns a base64 body back into bytes only for its binary media types, and ALB
/// answers stay as they are.
pub fn deliver(
    response: Response,
    origin: Origin,
    request_id: &str,
    accept: AcceptEncoding,
) -> Delivered {
    let negotiable = origin == Origin::HttpApi && response.compressible;
    let length_of_200 = response.length_of_200(request_id);
    let (status, mut headers, body) = response.render(request_id);
    if negotiable {
        headers.push(("vary", "Accept-Encoding".to_string()));
    }
    join_vary(&mut headers);
    // A 304 is never compressed, but repeats the tag its 200 would have carried.
    let gzip_wanted = negotiable
        && body
            .as_ref()
            .map(String::len)
            .or(length_of_200)
            .is_some_and(|len| accept.prefers_gzip(len));
    let limit = match origin {
        Origin::Alb => ALB_RESPONSE_LIMIT,
        Origin::HttpApi | Origin::RestApi => LAMBDA_RESPONSE_LIMIT,
    };
    let Some(body) = body else {
        if gzip_wanted {
            compressed_tag(&mut headers);
        }
        return Delivered {
            payload: lambda_payload(origin, status, headers, None),
            status,
        };
    };
    if gzip_wanted {
        return compressed(origin, status, headers, &body, limit, request_id);
    }
    if surely_fits(body.len(), limit) {
        // Nearly every answer: no copy of the headers kept for a 406 or 500 it cannot need.
        return Delivered {
            payload: lambda_payload(origin, status, headers, Some(Body::Text(body))),
            status,
        };
    }
    let plain = lambda_payload(origin, status, headers.clone(), Some(Body::Text(body)));
    if fits(&plain, limit) {
        return Delivered {
            payload: plain,
            status,
        };
    }
    let LambdaResponse::HttpApi(ref response) = plain else {
        return too_large(origin, &headers, request_id, "no compression on this front");
    };
    let text = match &response.body {
        Some(Body::Text(text)) => text.clone(),
        _ => String::new(),
    };
    if negotiable && accept.accepts_gzip() {
        // Identity was preferred, but only gzip fits: the client accepts it.
        return compressed(origin, status, headers, &text, limit, request_id);
    }
    if negotiable {
        let delivered = compressed(origin, status, headers.clone(), &text, limit, request_id);
        if delivered.status == status {
            tracing::warn!(
                status,
                limit,
                "answer over the response limit unless compressed, and gzip is not accepted: 406"
            );
            return error_payload(origin, ApiError::NotAcceptable, &headers, request_id);
        }
        return delivered;
    }
    too_large(origin, &headers, request_id, "never compressed")
}

/// The answer gzip-compressed, or the 500 when even that exceeds the limit.
fn compressed(
    origin: Origin,
    status: u16,
    mut headers: Vec<(&'static str, String)>,
    body: &str,
    limit: usize,
    request_id: &str,
) -> Delivered {
    compressed_tag(&mut headers);
    let mut compressed_headers = headers.clone();
    compressed_headers.push(("content-encoding", "gzip".to_string()));
    let payload = lambda_payload(
        origin,
        status,
        compressed_headers,
        Some(Body::Binary(gzip(body.as_bytes()))),
    );
    if fits(&payload, limit) {
        Delivered { payload, status }
    } else {
        too_large(origin, &headers, request_id, "even compressed")
    }
}

/// The 500 of an answer that cannot go out at all, logged as too large.
fn too_large(
    origin: Origin,
    headers: &[(&'static str, String)],
    request_id: &str,
    why: &'static str,
) -> Delivered {
    tracing::error!(why, ?origin, "answer too large for the response limit: 500");
    error_payload(origin, ApiError::Internal, headers, request_id)
}

/// An error answer in place of the one that did not fit; it keeps the original's `Vary`.
fn error_payload(
    origin: Origin,
    error: ApiError,
    original_headers: &[(&'static str, String)],
    request_id: &str,
) -> Delivered {
    let mut response = Response::from(error);
    if let Some((_, vary)) = original_headers.iter().find(|(name, _)| *name == "vary") {
        response = response.with_header("vary", vary.clone());
    }
    let (status, headers, body) = response.render(request_id);
    Delivered {
        payload: lambda_payload(origin, status, headers, body.map(Body::Text)),
        status,
    }
}

/// The answer's `ETag` is the uncompressed one with `-gzip` (the two are different bytes).
fn compressed_tag(headers: &mut [(&'static str, String)]) {
    for (name, value) in headers.iter_mut() {
        if *name == "etag" {
            *value = gzip_tag(value);
        }
    }
}

/// All `Vary` values as one header: API Gateway's HTTP API passes on only the first of
/// repeated response headers.
fn join_vary(headers: &mut Vec<(&'static str, String)>) {
    if headers.iter().filter(|(name, _)| *name == "vary").count() < 2 {
        return;
    }
    let mut names: Vec<String> = Vec::new();
    for (_, value) in headers.iter().filter(|(name, _)| *name == "vary") {
        for element in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if !names
                .iter()
                .any(|known| known.eq_ignore_ascii_case(element))
            {
                names.push(element.to_string());
            }
        }
    }
    let Some(first) = headers.iter().position(|(name, _)| *name == "vary") else {
        return;
    };
    headers[first].1 = names.join(", ");
    let mut index = 0;
    headers.retain(|(name, _)| {
        index += 1;
        *name != "vary" || index - 1 == first
    });
}

/// Whether the payload, serialized as Lambda will send it, is within `limit` bytes. Counted
/// without keeping the bytes; a payload that cannot exceed it even at JSON's worst escaping
/// (6 bytes per byte) is not serialized at all.
fn fits(payload: &LambdaResponse, limit: usize) -> bool {
    let body_len = match payload {
        LambdaResponse::HttpApi(response) => body_len(&response.body),
        LambdaResponse::RestApi(response) => body_len(&response.body),
        LambdaResponse::Alb(response) => body_len(&response.body),
    };
    if surely_fits(body_len, limit) {
        return true;
    }
    let mut counter = Counter(0);
    serde_json::to_writer(&mut counter, payload).is_ok() && counter.0 <= limit
}

/// A body this long cannot take its payload past `limit` even at JSON's worst escaping
/// (6 bytes per byte), with room to spare for the headers.
fn surely_fits(body_len: usize, limit: usize) -> bool {
    body_len.saturating_mul(6) < limit / 2
}

fn body_len(body: &Option<Body>) -> usize {
    match body {
        Some(Body::Text(text)) => text.len(),
        Some(Body::Binary(bytes)) => bytes.len().div_ceil(3) * 4,
        _ => 0,
    }
}

/// Counts what is written to it.
struct Counter(usize);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;
    use serde_json::Value;
    use std::io::Read;

    fn accept(value: &str) -> AcceptEncoding {
        AcceptEncoding::parse([value])
    }

    fn data(len: usize) -> Box<RawValue> {
        RawValue::from_string(format!("\"{}\"", "a".repeat(len))).unwrap()
    }

    fn json(delivered: &Delivered) -> Value {
        serde_json::to_value(&delivered.payload).unwrap()
    }

    fn gunzip_base64(text: &str) -> String {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn large_bodies_are_gzip_on_payload_2_only() {
        let answer = || {
            Response::data(200, data(5000))
                .with_header("etag", "\"t\"")
                .with_header("vary", "Accept")
        };
        let plain = json(&deliver(
            answer(),
            Origin::HttpApi,
            "r",
            AcceptEncoding::default(),
        ));
        let zipped = json(&deliver(answer(), Origin::HttpApi, "r", accept("gzip")));
        assert_eq!(zipped["isBase64Encoded"], true);
        assert_eq!(zipped["headers"]["content-encoding"], "gzip");
        assert_eq!(zipped["headers"]["etag"], "\"t-gzip\"");
        assert_eq!(zipped["headers"]["vary"], "Accept, Accept-Encoding");
        assert_eq!(
            gunzip_base64(zipped["body"].as_str().unwrap()),
            plain["body"].as_str().unwrap()
        );
        assert_eq!(plain["isBase64Encoded"], false);
        assert_eq!(plain["headers"]["etag"], "\"t\"");
        assert_eq!(plain["headers"]["vary"], "Accept, Accept-Encoding");
        assert!(plain["headers"].get("content-encoding").is_none());
        for origin in [Origin::RestApi, Origin::Alb] {
            let other = json(&deliver(answer(), origin, "r", accept("gzip")));
            assert_eq!(other["isBase64Encoded"], false, "{origin:?}");
            assert_eq!(other["headers"]["etag"], "\"t\"");
            assert_eq!(other["headers"]["vary"], "Accept", "{origin:?}");
        }
    }

    #[test]
    fn small_bodies_304s_and_tokens_are_never_compressed() {
        let small = json(&deliver(
            Response::data(200, data(100)),
            Origin::HttpApi,
            "r",
            accept("gzip"),
        ));
        assert_eq!(small["isBase64Encoded"], false);
        let token = json(&deliver(
            Response::data(201, data(5000)).never_compressed(),
            Origin::HttpApi,
            "r",
            accept("gzip"),
        ));
        assert_eq!(token["isBase64Encoded"], false);
        assert!(token["headers"].get("vary").is_none());
        let not_modified = json(&deliver(
            Response::not_modified(5000).with_header("etag", "\"t\""),
            Origin::HttpApi,
            "r",
            accept("gzip"),
        ));
        assert_eq!(not_modified["statusCode"], 304);
        assert!(not_modified.get("body").is_none());
        assert!(not_modified["headers"].get("content-encoding").is_none());
        assert_eq!(
            not_modified["headers"]["etag"], "\"t-gzip\"",
            "the tag of its 200"
        );
        let small_304 = json(&deliver(
            Response::not_modified(10).with_header("etag", "\"t\""),
            Origin::HttpApi,
            "r",
            accept("gzip"),
        ));
        assert_eq!(small_304["headers"]["etag"], "\"t\"");
    }

    #[test]
    fn vary_is_one_header() {
        let mut headers = vec![
            ("vary", "Accept".to_string()),
            ("etag", "x".to_string()),
            ("vary", "accept, Accept-Encoding".to_string()),
        ];
        join_vary(&mut headers);
        assert_eq!(
            headers,
            vec![
                ("vary", "Accept, Accept-Encoding".to_string()),
                ("etag", "x".to_string())
            ]
        );
    }

    #[test]
    fn the_response_limit_is_never_a_surprise() {
        // ~7 MB of JSON that compresses well: only the compressed answer fits.
        let big = || Response::data(200, data(7_000_000)).with_header("vary", "Accept");
        let refused = deliver(big(), Origin::HttpApi, "r", AcceptEncoding::default());
        assert_eq!(refused.status, 406);
        let body = json(&refused);
        assert_eq!(body["statusCode"], 406);
        assert_eq!(body["headers"]["vary"], "Accept, Accept-Encoding");
        let envelope: Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
        assert_eq!(envelope["error"]["code"], "ERR_NOT_ACCEPTABLE");
        assert_eq!(
            deliver(big(), Origin::HttpApi, "r", accept("gzip")).status,
            200
        );
        // gzip ranked below identity, but acceptable: sent compressed rather than refused.
        let fallback = deliver(big(), Origin::HttpApi, "r", accept("gzip;q=0.1, identity"));
        assert_eq!(fallback.status, 200);
        assert_eq!(json(&fallback)["isBase64Encoded"], true);
        // No compression on REST and ALB: nothing fits.
        assert_eq!(
            deliver(big(), Origin::RestApi, "r", accept("gzip")).status,
            500
        );
        assert_eq!(deliver(big(), Origin::Alb, "r", accept("gzip")).status, 500);
        // ALB's own limit is 1 MB.
        let mid = || Response::data(200, data(1_200_000));
        assert_eq!(deliver(mid(), Origin::Alb, "r", accept("gzip")).status, 500);
        assert_eq!(
            deliver(mid(), Origin::RestApi, "r", accept("gzip")).status,
            200
        );
        // Escaping counts: a 3.2 MB body of escaped quotes is 6.4 MB in the payload.
        let quotes = RawValue::from_string(format!("\"{}\"", "\\\"".repeat(1_600_000))).unwrap();
        assert_eq!(
            deliver(
                Response::data(200, quotes),
                Origin::RestApi,
                "r",
                accept("gzip")
            )
            .status,
            500
        );
    }

    #[test]
    fn incompressible_answers_over_the_limit_are_500() {
        // Pseudo-random text: gzip cannot take 9 MB of it under 6 MB of base64.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let text: String = (0..9_000_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect();
        let random = || Response::data(200, RawValue::from_string(format!("\"{text}\"")).unwrap());
        assert_eq!(
            deliver(random(), Origin::HttpApi, "r", accept("gzip")).status,
            500
        );
        assert_eq!(
            deliver(random(), Origin::HttpApi, "r", AcceptEncoding::default()).status,
            500
        );
    }
}
