//! Share tokens: stateless, HMAC-SHA256 over one job id and an expiry.
//!
//! A token is `<expiry, unix seconds>.<base64url signature>`: only URL-safe characters, so it
//! travels in a query string as it is.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks share tokens; keyed once at init.
#[derive(Clone)]
pub struct ShareSigner {
    keyed: HmacSha256,
}

impl ShareSigner {
    pub fn new(secret: &[u8]) -> Self {
        ShareSigner {
            // HMAC takes keys of any length, so this cannot fail.
            keyed: HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length"),
        }
    }

    /// A token that lets its holder read `job_id` until `expires_at` (unix seconds).
    pub fn mint(&self, job_id: &str, expires_at: u64) -> String {
        let signature = self.mac(job_id, expires_at).finalize().into_bytes();
        format!("{expires_at}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// True when `token` was minted here for `job_id` and `now` is before its expiry.
    /// The signature is compared in constant time (`verify_slice`).
    pub fn verify(&self, job_id: &str, token: &str, now: u64) -> bool {
        let Some((expiry, signature)) = token.split_once('.') else {
            return false;
        };
        if expiry.is_empty() || expiry.len() > 12 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let Ok(expires_at) = expiry.parse::<u64>() else {
            return false;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        // Expiry is exact: no leeway, the token is dead from its expiry second on.
        now < expires_at
            && self
                .mac(job_id, expires_at)
                .verify_slice(&signature)
                .is_ok()
    }

    fn mac(&self, job_id: &str, expires_at: u64) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        // Job ids never hold control characters, so the newline keeps id and expiry apart.
        mac.update(b"flickr-job-share/v1\n");
        mac.update(job_id.as_bytes());
        mac.update(b"\n");
        mac.update(expires_at.to_string().as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_token_opens_its_job_until_it_expires() {
        let signer = ShareSigner::new(b"secret");
        let token = signer.mint("job-1", NOW + 60);
        assert!(signer.verify("job-1", &token, NOW));
        assert!(signer.verify("job-1", &token, NOW + 59));
        assert!(
            !signer.verify("job-1", &token, NOW + 60),
            "expires exactly at its expiry"
        );
        assert!(!signer.verify("job-2", &token, NOW), "scoped to one job");
        assert!(
            !ShareSigner::new(b"other").verify("job-1", &token, NOW),
            "bound to the secret"
        );
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let signer = ShareSigner::new(b"secret");
        let token = signer.mint("job-1", NOW + 60);
        let (_, signature) = token.split_once('.').unwrap();
        let later = format!("{}.{signature}", NOW + 6000);
        assert!(!signer.verify("job-1", &later, NOW), "expiry changed");
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(!signer.verify("job-1", std::str::from_utf8(&flipped).unwrap(), NOW));
        for bad in [
            "",
            ".",
            "abc",
            "123",
            "123.",
            ".sig",
            "+123.abc",
            "-1.abc",
            &token[..token.len() - 4],
        ] {
            assert!(!signer.verify("job-1", bad, NOW), "{bad:?}");
        }
    }

    #[test]
    fn tokens_are_url_safe() {
        let token = ShareSigner::new(b"secret").mint("a/b?c", NOW);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{token}"
        );
    }
}
