//! Page tokens of `GET /jobs`: opaque to clients, HMAC-bound to the caller and the `state`
//! filter (docs/API.md#get-jobs--the-callers-jobs).
//!
//! A token is base64url (no padding) of `version ‖ HMAC-SHA256 ‖ created_at "\n" job id`. The MAC
//! covers the caller's user id and the filter, which are *not* in the token: a token opens only
//! for the caller and filter it was made for. The partition read is never taken from a token —
//! `ListQuery::user_id` is the caller's — so even a forged token can at most move the starting
//! point among the caller's own jobs.
//!
//! Key: derived from `SHARE_TOKEN_SECRET` with domain separation (HMAC of the secret over a
//! fixed label, so a page token can never pass for a share token or the other way round), and
//! `SHARE_TOKEN_SECRET_PREVIOUS` still opens tokens during a rotation: every instance of the
//! function signs alike, so page 2 may be served by another process than page 1. Without a share
//! secret, a fixed built-in key is used: tokens are then only checksummed (anyone who reads the
//! source can make one), which still cannot reach another partition.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::Secrets;
use crate::store::StartKey;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const MAC_LENGTH: usize = 32;
/// The longest token read at all: a 2 KiB job id (DynamoDB's key limit) and a 38-digit number.
const MAX_TOKEN_CHARS: usize = 3000;
const LABEL: &[u8] = b"flickr-job-status/page-token/v1";
/// The key without a share secret: integrity only (see the module comment).
const UNSECRET_KEY: &[u8] = b"flickr-job-status/page-token/no-secret-configured";

/// Makes and opens page tokens; keyed once at init.
#[derive(Clone)]
pub struct PageTokens {
    current: HmacSha256,
    previous: Option<HmacSha256>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens { .. }")
    }
}

impl PageTokens {
    /// Keys derived from the share secrets, or the built-in key when there are none.
    pub fn new(secrets: Option<&Secrets>) -> Self {
        match secrets {
            Some(secrets) => PageTokens {
                current: derived(&secrets.current),
                previous: secrets.previous.as_deref().map(derived),
            },
            None => PageTokens {
                current: keyed(UNSECRET_KEY),
                previous: None,
            },
        }
    }

    /// The token for the page after `start`, for this caller and filter.
    pub fn mint(&self, user_id: &str, state: Option<&str>, start: &StartKey) -> String {
        let payload = payload(start);
        let signature = mac(&self.current, user_id, state, &payload)
            .finalize()
            .into_bytes();
        let mut bytes = Vec::with_capacity(1 + MAC_LENGTH + payload.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(signature.as_slice());
        bytes.extend_from_slice(&payload);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Where the page of `token` starts, when it was made for this caller and filter (current
    /// or previous key, compared in constant time); `None` for anything else.
    pub fn open(&self, token: &str, user_id: &str, state: Option<&str>) -> Option<StartKey> {
        if token.len() > MAX_TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (&version, rest) = bytes.split_first()?;
        if version != VERSION || rest.len() < MAC_LENGTH {
            return None;
        }
        let (signature, payload) = rest.split_at(MAC_LENGTH);
        let signed = std::iter::once(&self.current)
            .chain(&self.previous)
            .any(|key| {
                mac(key, user_id, state, payload)
                    .verify_slice(signature)
                    .is_ok()
            });
        if !signed {
            return None;
        }
        let text = std::str::from_utf8(payload).ok()?;
        let (created_at, job_id) = text.split_once('\n')?;
        // Checked even though signed: with the built-in key a token can be made by hand, and a
        // start key DynamoDB refuses must be the 400, not a 500.
        if !is_number(created_at) || job_id.is_empty() || job_id.len() > 2048 {
            return None;
        }
        Some(StartKey {
            job_id: job_id.to_string(),
            created_at: created_at.to_string(),
        })
    }
}

/// `created_at` then the job id; a number never holds a newline, so the first one splits them.
fn payload(start: &StartKey) -> Vec<u8> {
    format!("{}\n{}", start.created_at, start.job_id).into_bytes()
}

/// A DynamoDB number as it writes them: optional minus, digits, optional fraction and exponent.
fn is_number(text: &str) -> bool {
    text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-+.eE".contains(&b))
        && text.parse::<f64>().is_ok_and(f64::is_finite)
}

fn derived(secret: &[u8]) -> HmacSha256 {
    let mut derive = keyed(secret);
    derive.update(LABEL);
    keyed(derive.finalize().into_bytes().as_slice())
}

fn keyed(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// The MAC over who and which filter (length-prefixed, so no two pairs read alike) and the position.
fn mac(key: &HmacSha256, user_id: &str, state: Option<&str>, payload: &[u8]) -> HmacSha256 {
    let mut mac = key.clone();
    mac.update(&[VERSION]);
    mac.update(&(user_id.len() as u64).to_be_bytes());
    mac.update(user_id.as_bytes());
    match state {
        None => mac.update(&[0]),
        Some(state) => {
            mac.update(&[1]);
            mac.update(&(state.len() as u64).to_be_bytes());
            mac.update(state.as_bytes());
        }
    }
    mac.update(payload);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> StartKey {
        StartKey {
            job_id: "job-7".into(),
            created_at: "1796153549123".into(),
        }
    }

    fn tokens(secret: &str, previous: Option<&str>) -> PageTokens {
        PageTokens::new(Some(&Secrets {
            current: secret.as_bytes().to_vec(),
            previous: previous.map(|p| p.as_bytes().to_vec()),
        }))
    }

    #[test]
    fn a_token_opens_for_its_caller_and_filter_only() {
        let tokens = tokens("s", None);
        let token = tokens.mint("alice", Some("queued"), &start());
        assert_eq!(tokens.open(&token, "alice", Some("queued")), Some(start()));
        assert_eq!(
            tokens.open(&token, "bob", Some("queued")),
            None,
            "other caller"
        );
        assert_eq!(tokens.open(&token, "alice", None), None, "no filter");
        assert_eq!(
            tokens.open(&token, "alice", Some("failed")),
            None,
            "other filter"
        );
        let unfiltered = tokens.mint("alice", None, &start());
        assert_eq!(tokens.open(&unfiltered, "alice", None), Some(start()));
        assert_eq!(tokens.open(&unfiltered, "alice", Some("")), None);
        // Length prefixes: moving bytes between user id and filter changes the MAC.
        let split = tokens.mint("ab", Some("c"), &start());
        assert_eq!(tokens.open(&split, "a", Some("bc")), None);
    }

    #[test]
    fn tokens_are_bound_to_the_key_and_survive_one_rotation() {
        let old = tokens("old", None);
        let token = old.mint("alice", None, &start());
        assert_eq!(tokens("other", None).open(&token, "alice", None), None);
        let rotated = tokens("new", Some("old"));
        assert_eq!(rotated.open(&token, "alice", None), Some(start()));
        assert_eq!(
            tokens("new", None).open(&token, "alice", None),
            None,
            "stale"
        );
        // A page token is no share token: the share secret itself does not sign them.
        let raw = PageTokens {
            current: keyed(b"old"),
            previous: None,
        };
        assert_eq!(raw.open(&token, "alice", None), None);
        let unsecret = PageTokens::new(None);
        assert_eq!(unsecret.open(&token, "alice", None), None);
        let own = unsecret.mint("alice", None, &start());
        assert_eq!(unsecret.open(&own, "alice", None), Some(start()));
    }

    #[test]
    fn tampered_and_malformed_tokens_do_not_open() {
        let tokens = tokens("s", None);
        let token = tokens.mint("alice", None, &start());
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for at in [0, 1, 20, bytes.len() - 1] {
            bytes[at] ^= 1;
            assert_eq!(
                tokens.open(&URL_SAFE_NO_PAD.encode(&bytes), "alice", None),
                None,
                "{at}"
            );
            bytes[at] ^= 1;
        }
        // A payload moved to another position (another job, another time) without the key.
        let mut moved = bytes[..1 + MAC_LENGTH].to_vec();
        moved.extend_from_slice(b"1796153549999\njob-8");
        assert_eq!(
            tokens.open(&URL_SAFE_NO_PAD.encode(&moved), "alice", None),
            None
        );
        for bad in [
            "",
            "a",
            "!!!!",
            &token[..token.len() - 3],
            &"A".repeat(4000),
            "AQ",
        ] {
            assert_eq!(tokens.open(bad, "alice", None), None, "{bad:?}");
        }
        let padded = format!("{token}=");
        assert_eq!(tokens.open(&padded, "alice", None), None);
    }

    #[test]
    fn a_hand_made_token_with_the_public_key_still_needs_a_number() {
        let tokens = PageTokens::new(None);
        for created_at in ["abc", "", "1e999", "NaN", "1 2"] {
            let token = tokens.mint(
                "alice",
                None,
                &StartKey {
                    job_id: "j".into(),
                    created_at: created_at.into(),
                },
            );
            assert_eq!(tokens.open(&token, "alice", None), None, "{created_at:?}");
        }
        let empty_id = tokens.mint(
            "alice",
            None,
            &StartKey {
                job_id: String::new(),
                created_at: "1".into(),
            },
        );
        assert_eq!(tokens.open(&empty_id, "alice", None), None);
    }

    #[test]
    fn tokens_are_url_safe() {
        let token = tokens("s", None).mint("a/b", Some("x y"), &start());
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)));
    }
}
