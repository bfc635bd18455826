//! Request input checks: the media type, the JSON body, ids and the share lifetime, each with
//! the 4xx that says what is wrong.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{Body, Request};
use crate::error::ApiError;

const MAX_ID_BYTES: usize = 256;
pub const SHARE_DEFAULT_SECONDS: u64 = 3600;
const SHARE_SECONDS: std::ops::RangeInclusive<u64> = 60..=604_800;

/// The body of a POST after the size (413) and media type (415) checks; `None` when empty.
pub fn json_body(request: &Request) -> Result<Option<&[u8]>, ApiError> {
    if let Some(content_type) = request.header("content-type") {
        if !is_json_media_type(content_type) {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    match &request.body {
        Body::Absent => Ok(None),
        Body::Bytes(bytes) if bytes.is_empty() => Ok(None),
        Body::Bytes(bytes) => Ok(Some(bytes)),
        Body::InvalidBase64 => Err(ApiError::invalid("request body is not valid base64")),
        Body::TooLarge => Err(ApiError::PayloadTooLarge),
    }
}

/// `application/json`, `application/<anything>+json`, with any parameters.
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A body that must be a JSON object, with a message for each way it is not one.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid("request body is not valid UTF-8"))?;
    match serde_json::from_str(text) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ApiError::invalid("request body must be a JSON object")),
        Err(_) => Err(ApiError::invalid("request body is not valid JSON")),
    }
}

/// A string member of `object` that is not empty.
pub fn non_empty_str<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key)?.as_str().filter(|value| !value.is_empty())
}

/// `expires_in` of a share request: absent or null is the default, else 60..=604800 seconds.
pub fn share_lifetime(body: &Map<String, Value>) -> Result<u64, ApiError> {
    match body.get("expires_in") {
        None | Some(Value::Null) => Ok(SHARE_DEFAULT_SECONDS),
        Some(value) => value
            .as_u64()
            .filter(|seconds| SHARE_SECONDS.contains(seconds))
            .ok_or(ApiError::invalid(
                "expires_in must be a whole number of seconds from 60 to 604800",
            )),
    }
}

/// A job id from the path: percent-decoded, then held to the same rules as body ids.
pub fn path_id(segment: &str) -> Result<String, ApiError> {
    // percent-encoding passes a malformed escape on as it is; an id must not mean two things.
    let bytes = segment.as_bytes();
    let malformed = bytes.iter().enumerate().any(|(at, byte)| {
        *byte == b'%'
            && !bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if malformed {
        return Err(ApiError::invalid(
            "job_id in the path has a malformed percent-escape",
        ));
    }
    let id = percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .map_err(|_| ApiError::invalid("job_id in the path is not valid UTF-8"))?;
    validate_id("job_id", &id)?;
    Ok(id.into_owned())
}

/// A job id a share link can carry: `.` and `..` cannot be a path segment (clients and browsers
/// remove dot segments, even percent-encoded), so a link to them could never be opened.
pub fn shareable_id(job_id: &str) -> Result<(), ApiError> {
    if job_id == "." || job_id == ".." {
        return Err(ApiError::invalid(
            "job_id . and .. cannot be shared: clients remove them from a URL path",
        ));
    }
    Ok(())
}

/// The id rules of docs/API.md#1-conventions: 1..=256 bytes, no control characters (Unicode Cc).
pub fn validate_id(name: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::InvalidRequest(Cow::Owned(format!(
            "{name} must not be empty"
        ))));
    }
    if id.len() > MAX_ID_BYTES {
        return Err(ApiError::InvalidRequest(Cow::Owned(format!(
            "{name} must be at most {MAX_ID_BYTES} bytes"
        ))));
    }
    if id.chars().any(char::is_control) {
        return Err(ApiError::InvalidRequest(Cow::Owned(format!(
            "{name} must not contain control characters"
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        for accepted in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/vnd.api+json",
            " application/json ;x=y",
        ] {
            assert!(is_json_media_type(accepted), "{accepted}");
        }
        for refused in [
            "text/plain",
            "application/xml",
            "text/json",
            "application/jsonp",
            "",
        ] {
            assert!(!is_json_media_type(refused), "{refused}");
        }
    }

    #[test]
    fn id_rules() {
        assert!(validate_id("job_id", "e6b6634c-e07c-43f0-88b3-9516590aad77").is_ok());
        assert!(validate_id("job_id", &"x".repeat(256)).is_ok());
        assert!(validate_id("job_id", &"x".repeat(257)).is_err());
        assert!(
            validate_id("job_id", &"é".repeat(129)).is_err(),
            "bytes, not characters"
        );
        for control in ["a\u{0}b", "a\nb", "a\u{7f}b", "a\u{85}b", "a\u{9f}"] {
            assert!(validate_id("job_id", control).is_err(), "{control:?}");
        }
        assert!(
            validate_id("job_id", "a\u{200b}b").is_ok(),
            "format characters are not Cc"
        );
    }

    #[test]
    fn path_ids_are_decoded_then_validated() {
        assert_eq!(path_id("a%2Fb%20c").unwrap(), "a/b c");
        assert!(path_id("%FF").is_err());
        assert!(path_id("a%0Ab").is_err());
        assert_eq!(path_id("%2e").unwrap(), ".");
        for malformed in ["%zz", "a%", "%", "a%4", "%4g", "100%"] {
            assert_eq!(
                path_id(malformed),
                Err(ApiError::invalid(
                    "job_id in the path has a malformed percent-escape"
                )),
                "{malformed}"
            );
        }
    }

    #[test]
    fn dot_ids_cannot_be_shared() {
        assert!(shareable_id(".").is_err());
        assert!(shareable_id("..").is_err());
        for fine in ["...", ".a", "a.", "status"] {
            assert!(shareable_id(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn share_lifetime_bounds() {
        let body = |value: Value| -> Map<String, Value> {
            serde_json::from_value(serde_json::json!({"expires_in": value})).unwrap()
        };
        assert_eq!(share_lifetime(&Map::new()), Ok(3600));
        assert_eq!(share_lifetime(&body(Value::Null)), Ok(3600));
        assert_eq!(share_lifetime(&body(60.into())), Ok(60));
        assert_eq!(share_lifetime(&body(604_800.into())), Ok(604_800));
        for bad in [
            serde_json::json!(59),
            serde_json::json!(604_801),
            serde_json::json!(90.5),
            serde_json::json!("600"),
            serde_json::json!(-60),
        ] {
            assert!(share_lifetime(&body(bad.clone())).is_err(), "{bad}");
        }
    }
}
