//! The headers every page carries: its type, and a policy under which nothing but its own
//! stylesheet and Flickr's images can load, the link's token reaches no other site, and no
//! cache keeps it (docs/API.md#pages-for-people).

use std::collections::BTreeSet;
use std::sync::LazyLock;

use base64::Engine;
use sha2::{Digest, Sha256};

use super::thumbnails::IMAGE_HOST;

/// The pages' one stylesheet, inlined into each page and allowed by its hash.
pub const STYLE: &str = include_str!("templates/style.css");

pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";

/// `'sha256-…'` of `STYLE`, computed once per process.
static STYLE_SOURCE: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(STYLE.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
});

/// The policy for a page whose images come from `image_hosts` (Flickr's image host is always
/// allowed; an older farm host only when the page shows an image from it).
pub fn content_security_policy<'a>(image_hosts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hosts: BTreeSet<&str> = image_hosts.into_iter().collect();
    hosts.remove(IMAGE_HOST);
    let farms: String = hosts
        .iter()
        .map(|host| format!(" https://{host}"))
        .collect();
    format!(
        "default-src 'none'; style-src {style}; img-src https://{IMAGE_HOST}{farms}; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        style = *STYLE_SOURCE
    )
}

/// Every header of a page but its status line's own (`Refresh` is added for pending pages).
pub fn security_headers(policy: String) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", CONTENT_TYPE.to_string()),
        ("content-security-policy", policy),
        ("referrer-policy", "no-referrer".to_string()),
        ("x-content-type-options", "nosniff".to_string()),
        ("cache-control", "no-store".to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_exactly_the_contracts() {
        let policy = content_security_policy([]);
        assert_eq!(
            policy,
            format!(
                "default-src 'none'; style-src {}; img-src https://live.staticflickr.com; \
                 frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
                *STYLE_SOURCE
            )
        );
        assert!(!policy.contains("script-src"));
        assert!(!policy.contains("unsafe"));
    }

    #[test]
    fn farm_hosts_are_allowed_only_when_shown() {
        assert!(content_security_policy([
            "farm3.staticflickr.com",
            IMAGE_HOST,
            "farm3.staticflickr.com"
        ])
        .contains("img-src https://live.staticflickr.com https://farm3.staticflickr.com; "));
    }

    #[test]
    fn the_security_headers() {
        let headers = security_headers("policy".into());
        let get = |name: &str| {
            headers
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(get("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(get("content-security-policy"), Some("policy"));
        assert_eq!(get("referrer-policy"), Some("no-referrer"));
        assert_eq!(get("x-content-type-options"), Some("nosniff"));
        assert_eq!(get("cache-control"), Some("no-store"));
        assert_eq!(get("etag"), None);
    }
}
