//! The `{request_id, data, error}` envelope, its headers, and the Lambda payload it goes back in.

use lambda_http::aws_lambda_events::{
    alb::AlbTargetGroupResponse,
    apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse},
    encodings::Body,
};
use lambda_http::http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::value::RawValue;

use super::Origin;
use crate::error::ApiError;

const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// What a route answers, before the request id is known to the envelope.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub payload: Payload,
    /// False for an answer that must never be compressed (one that carries a token:
    /// docs/API.md#compression-and-size-limits).
    pub compressible: bool,
}

#[derive(Debug)]
pub enum Payload {
    /// `data`, already serialized (it is hashed for the ETag, so it is serialized once).
    Data(Box<RawValue>),
    Error(ApiError),
    /// 304: no body at all; the length of the `data` its 200 would carry (that answer's
    /// encoding decides the tag the 304 repeats).
    NotModified(usize),
    /// A page for a person (src/page); its content type and policy headers are the response's.
    Html(String),
}

#[derive(Serialize)]
struct Envelope<'a> {
    request_id: &'a str,
    data: Option<&'a RawValue>,
    error: Option<ErrorBody<'a>>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: &'a str,
}

impl Response {
    pub fn data(status: u16, data: Box<RawValue>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            payload: Payload::Data(data),
            compressible: true,
        }
    }

    /// A 304 for a client that holds the 200 whose `data` is `data_len` bytes long.
    pub fn not_modified(data_len: usize) -> Self {
        Response {
            status: 304,
            headers: Vec::new(),
            payload: Payload::NotModified(data_len),
            compressible: true,
        }
    }

    /// This answer is never compressed (it carries a secret: a compressed body next to
    /// attacker-chosen text would let its length tell the secret, as in BREACH).
    pub fn never_compressed(mut self) -> Self {
        self.compressible = false;
        self
    }

    /// The body length of the 200 that a 304 stands for, in the envelope with this request id.
    pub fn length_of_200(&self, request_id: &str) -> Option<usize> {
        match self.payload {
            Payload::NotModified(data_len) => {
                let null = RawValue::from_string("null".to_string()).ok()?;
                Some(envelope(request_id, Some(&null), None).len() - "null".len() + data_len)
            }
            _ => None,
        }
    }

    /// A page (docs/API.md#pages-for-people) with its own headers.
    pub fn html(status: u16, body: String, headers: Vec<(&'static str, String)>) -> Self {
        Response {
            status,
            headers,
            payload: Payload::Html(body),
            compressible: true,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The final status, headers and body. Errors and anything without its own
    /// `cache-control` are `no-store`.
    pub fn render(self, request_id: &str) -> (u16, Vec<(&'static str, String)>, Option<String>) {
        let mut headers = self.headers;
        let json = !matches!(self.payload, Payload::Html(_));
        let (status, body) = match self.payload {
            Payload::NotModified(_) => (self.status, None),
            Payload::Html(page) => (self.status, Some(page)),
            Payload::Data(data) => (self.status, Some(envelope(request_id, Some(&data), None))),
            Payload::Error(error) => {
                headers.extend(
                    error
                        .headers()
                        .into_iter()
                        .map(|(name, value)| (name, value.into_owned())),
                );
                let body = ErrorBody {
                    code: error.code(),
                    message: error.message(),
                };
                (error.status(), Some(envelope(request_id, None, Some(body))))
            }
        };
        if body.is_some() && json {
            headers.push(("content-type", JSON_CONTENT_TYPE.to_string()));
        }
        if !headers.iter().any(|(name, _)| *name == "cache-control") {
            headers.push(("cache-control", "no-store".to_string()));
        }
        headers.push(("x-request-id", request_id.to_string()));
        (status, headers, body)
    }

    /// The payload Lambda hands back to the service that invoked it, in that service's format,
    /// for a request that accepts no content coding (see `http::deliver` for the others).
    pub fn into_lambda(self, origin: Origin, request_id: &str) -> LambdaResponse {
        super::deliver(self, origin, request_id, super::AcceptEncoding::default()).payload
    }
}

/// The Lambda payload of a rendered answer; `base64` when the body is bytes (gzip) that the
/// service must decode before sending them.
pub fn lambda_payload(
    origin: Origin,
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Option<Body>,
) -> LambdaResponse {
    let mut header_map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        // A value that cannot be a header (e.g. a request id with control characters from a
        // hand-made event) is dropped rather than failing the whole response.
        if let Ok(value) = HeaderValue::from_str(&value) {
            header_map.append(HeaderName::from_static(name), value);
        }
    }
    let base64 = matches!(body, Some(Body::Binary(_)));
    let status_code = i64::from(status);
    match origin {
        Origin::HttpApi => {
            let mut response = ApiGatewayV2httpResponse::default();
            response.status_code = status_code;
            response.headers = header_map;
            response.body = body;
            response.is_base64_encoded = base64;
            LambdaResponse::HttpApi(response)
        }
        Origin::RestApi => {
            let mut response = ApiGatewayProxyResponse::default();
            response.status_code = status_code;
            response.multi_value_headers = header_map.clone();
            response.headers = header_map;
            response.body = body;
            response.is_base64_encoded = base64;
            LambdaResponse::RestApi(response)
        }
        Origin::Alb => {
            let mut response = AlbTargetGroupResponse::default();
            response.status_code = status_code;
            response.status_description = Some(status_description(status));
            response.multi_value_headers = header_map.clone();
            response.headers = header_map;
            response.body = body;
            response.is_base64_encoded = base64;
            LambdaResponse::Alb(response)
        }
    }
}

impl From<ApiError> for Response {
    fn from(error: ApiError) -> Self {
        Response {
            status: error.status(),
            headers: Vec::new(),
            payload: Payload::Error(error),
            compressible: true,
        }
    }
}

fn envelope(request_id: &str, data: Option<&RawValue>, error: Option<ErrorBody<'_>>) -> String {
    let envelope = Envelope {
        request_id,
        data,
        error,
    };
    // Serializing borrowed strings and already-valid raw JSON into a String cannot fail.
    serde_json::to_string(&envelope).unwrap_or_default()
}

fn status_description(status: u16) -> String {
    let reason = lambda_http::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("");
    format!("{status} {reason}")
}

/// The Lambda response payload for each origin.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum LambdaResponse {
    HttpApi(ApiGatewayV2httpResponse),
    RestApi(ApiGatewayProxyResponse),
    Alb(AlbTargetGroupResponse),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn error_envelope_has_exactly_three_keys() {
        let (status, headers, body) = Response::from(ApiError::JobNotFound).render("req-1");
        assert_eq!(status, 404);
        assert_eq!(
            body.as_deref(),
            Some(
                r#"{"request_id":"req-1","data":null,"error":{"code":"ERR_JOB_NOT_FOUND","message":"job_not_found"}}"#
            )
        );
        assert_eq!(header(&headers, "cache-control"), Some("no-store"));
        assert_eq!(header(&headers, "x-request-id"), Some("req-1"));
        assert_eq!(header(&headers, "content-type"), Some(JSON_CONTENT_TYPE));
    }

    #[test]
    fn data_is_embedded_verbatim() {
        let data = RawValue::from_string(r#"{"b":1,"a":2}"#.to_string()).unwrap();
        let (status, _, body) = Response::data(200, data).render("r");
        assert_eq!(status, 200);
        assert_eq!(
            body.as_deref(),
            Some(r#"{"request_id":"r","data":{"b":1,"a":2},"error":null}"#)
        );
    }

    #[test]
    fn not_modified_has_no_body_and_no_content_type() {
        let (status, headers, body) = Response::not_modified(10)
            .with_header("etag", "\"x\"")
            .render("r");
        assert_eq!(status, 304);
        assert!(body.is_none());
        assert!(header(&headers, "content-type").is_none());
        assert_eq!(header(&headers, "etag"), Some("\"x\""));
    }

    #[test]
    fn each_origin_gets_its_own_payload_format() {
        let v2 = serde_json::to_value(
            Response::from(ApiError::Internal).into_lambda(Origin::HttpApi, "r"),
        )
        .unwrap();
        assert_eq!(v2["statusCode"], json!(500));
        assert_eq!(v2["headers"]["cache-control"], json!("no-store"));
        let alb =
            serde_json::to_value(Response::from(ApiError::Internal).into_lambda(Origin::Alb, "r"))
                .unwrap();
        assert_eq!(alb["statusDescription"], json!("500 Internal Server Error"));
        let rest = serde_json::to_value(
            Response::from(ApiError::Internal).into_lambda(Origin::RestApi, "r"),
        )
        .unwrap();
        assert_eq!(rest["multiValueHeaders"]["x-request-id"], json!(["r"]));
        let body: Value = serde_json::from_str(rest["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["message"], json!("internal error"));
    }

    #[test]
    fn an_invalid_request_id_never_breaks_the_response() {
        let response =
            Response::from(ApiError::JobNotFound).into_lambda(Origin::HttpApi, "bad\nid");
        let value = serde_json::to_value(response).unwrap();
        assert!(value["headers"].get("x-request-id").is_none());
        assert_eq!(value["statusCode"], json!(404));
    }
}
