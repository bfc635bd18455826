//! Entity tags of the status object, and `If-None-Match` (RFC 9110 §13.1.2).

use sha2::{Digest, Sha256};

/// A strong entity tag over the serialized `data`. Maps serialize with sorted keys, so the
/// same record always gives the same bytes, whatever order DynamoDB returned them in.
pub fn entity_tag(canonical_data: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(canonical_data.as_bytes());
    format!(
        "\"{}\"",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    )
}

/// The tag of the gzip-compressed answer: `"x"` → `"x-gzip"` (`W/"x"` → `W/"x-gzip"`); the
/// compressed bytes are another representation (docs/API.md#compression-and-size-limits).
pub fn gzip_tag(etag: &str) -> String {
    match etag.strip_suffix('"') {
        Some(open) => format!("{open}{GZIP_SUFFIX}\""),
        None => etag.to_string(),
    }
}

const GZIP_SUFFIX: &str = "-gzip";

/// Does `If-None-Match` (one or more header values) match `etag`, or its gzip variant? Weak
/// comparison: `W/"x"` matches `"x"`; `*` matches any current representation. Either tag
/// matches: a client that switches between gzip and identity still holds the same data.
pub fn if_none_match(header_values: &[&str], etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let ours = opaque(etag);
    let ours_gzip = opaque(&gzip_tag(etag));
    header_values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == ours || opaque(tag) == ours_gzip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_tags_follow_content() {
        let a = entity_tag(r#"{"id":"1"}"#);
        assert_eq!(a, entity_tag(r#"{"id":"1"}"#));
        assert_ne!(a, entity_tag(r#"{"id":"2"}"#));
        assert!(a.starts_with('"') && a.ends_with('"'));
    }

    #[test]
    fn if_none_match_rules() {
        let tag = "\"abc\"";
        assert!(if_none_match(&["\"abc\""], tag));
        assert!(if_none_match(&["W/\"abc\""], tag));
        assert!(if_none_match(&["\"x\", W/\"abc\""], tag));
        assert!(if_none_match(&["\"x\"", "\"abc\""], tag));
        assert!(if_none_match(&["*"], tag));
        assert!(!if_none_match(&["\"abcd\""], tag));
        assert!(!if_none_match(&["abc"], tag));
        assert!(!if_none_match(&[], tag));
    }

    #[test]
    fn the_gzip_tag_matches_too() {
        let tag = "\"abc\"";
        assert_eq!(gzip_tag(tag), "\"abc-gzip\"");
        assert_eq!(gzip_tag("W/\"abc\""), "W/\"abc-gzip\"");
        assert!(if_none_match(&["\"abc-gzip\""], tag));
        assert!(if_none_match(&["W/\"abc-gzip\""], tag));
        assert!(if_none_match(&["\"x\", \"abc-gzip\""], tag));
        assert!(!if_none_match(&["\"abc-gzip-gzip\""], tag));
        assert!(!if_none_match(&["\"abc-br\""], tag));
    }
}
