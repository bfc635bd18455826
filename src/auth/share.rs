//! Share tokens: stateless, HMAC-SHA256 over one job id and an expiry.
//!
//! A token is `<expiry, unix seconds>.<base64url signature>`: only URL-safe characters, so it
//! travels in a query string as it is.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::Refusal;
use crate::config::Secrets;

type HmacSha256 = Hmac<Sha256>;

/// Signs and checks share tokens; keyed once at init.
#[derive(Clone)]
pub struct ShareSigner {
    current: HmacSha256,
    /// The secret before a rotation: links it signed keep working until they expire.
    previous: Option<HmacSha256>,
}

impl ShareSigner {
    pub fn new(secrets: &Secrets) -> Self {
        ShareSigner {
            current: keyed(&secrets.current),
            previous: secrets.previous.as_deref().map(keyed),
        }
    }

    /// A token that lets its holder read `job_id` until `expires_at` (unix seconds). Always
    /// signed with the current secret.
    pub fn mint(&self, job_id: &str, expires_at: u64) -> String {
        let signature = mac(&self.current, job_id, expires_at)
            .finalize()
            .into_bytes();
        format!("{expires_at}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// True when `token` was minted for `job_id` with the current or the previous secret and
    /// `now` is before its expiry.
    pub fn verify(&self, job_id: &str, token: &str, now: u64) -> bool {
        self.check(job_id, token, now).is_ok()
    }

    /// The token's expiry (unix seconds) when it is valid for `job_id` at `now`, else why not.
    /// Signatures are compared in constant time (`verify_slice`), before the expiry is looked at.
    pub fn check(&self, job_id: &str, token: &str, now: u64) -> Result<u64, Refusal> {
        let invalid = Refusal::ShareTokenInvalid;
        let (expiry, signature) = token.split_once('.').ok_or(invalid)?;
        if expiry.is_empty() || expiry.len() > 12 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid);
        }
        let expires_at = expiry.parse::<u64>().map_err(|_| invalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid)?;
        let signed = std::iter::once(&self.current)
            .chain(&self.previous)
            .any(|key| {
                mac(key, job_id, expires_at)
                    .verify_slice(&signature)
                    .is_ok()
            });
        match (signed, now < expires_at) {
            (false, _) => Err(invalid),
            // Expiry is exact: no leeway, the token is dead from its expiry second on.
            (true, false) => Err(Refusal::ShareTokenExpired),
            (true, true) => Ok(expires_at),
        }
    }
}

fn keyed(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

fn mac(key: &HmacSha256, job_id: &str, expires_at: u64) -> HmacSha256 {
    let mut mac = key.clone();
    // Job ids never hold control characters, so the newline keeps id and expiry apart.
    mac.update(b"flickr-job-share/v1\n");
    mac.update(job_id.as_bytes());
    mac.update(b"\n");
    mac.update(expires_at.to_string().as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn signer_for(secret: &[u8]) -> ShareSigner {
        ShareSigner::new(&Secrets {
            current: secret.to_vec(),
            previous: None,
        })
    }

    #[test]
    fn links_signed_before_a_rotation_keep_working_and_new_ones_use_the_new_secret() {
        let before = signer_for(b"old");
        let old_link = before.mint("job-1", NOW + 60);
        let rotated = ShareSigner::new(&Secrets {
            current: b"new".to_vec(),
            previous: Some(b"old".to_vec()),
        });
        assert!(
            rotated.verify("job-1", &old_link, NOW),
            "old link still opens"
        );
        assert!(
            !rotated.verify("job-2", &old_link, NOW),
            "still scoped to its job"
        );
        assert!(
            !rotated.verify("job-1", &old_link, NOW + 60),
            "still expires"
        );
        let new_link = rotated.mint("job-1", NOW + 60);
        assert!(
            signer_for(b"new").verify("job-1", &new_link, NOW),
            "signed with the current"
        );
        assert!(
            !before.verify("job-1", &new_link, NOW),
            "never with the previous"
        );
        let after = signer_for(b"new");
        assert!(
            !after.verify("job-1", &old_link, NOW),
            "gone once previous is removed"
        );
        assert!(!signer_for(b"other").verify("job-1", &new_link, NOW));
    }

    #[test]
    fn a_token_opens_its_job_until_it_expires() {
        let signer = signer_for(b"secret");
        let token = signer.mint("job-1", NOW + 60);
        assert!(signer.verify("job-1", &token, NOW));
        assert!(signer.verify("job-1", &token, NOW + 59));
        assert!(
            !signer.verify("job-1", &token, NOW + 60),
            "expires exactly at its expiry"
        );
        assert!(!signer.verify("job-2", &token, NOW), "scoped to one job");
        assert!(
            !signer_for(b"other").verify("job-1", &token, NOW),
            "bound to the secret"
        );
    }

    #[test]
    fn refusals_say_whether_the_token_expired_or_was_never_valid() {
        let signer = signer_for(b"secret");
        let token = signer.mint("job-1", NOW + 60);
        assert_eq!(signer.check("job-1", &token, NOW), Ok(NOW + 60));
        assert_eq!(
            signer.check("job-1", &token, NOW + 60),
            Err(Refusal::ShareTokenExpired)
        );
        assert_eq!(
            signer.check("job-2", &token, NOW),
            Err(Refusal::ShareTokenInvalid)
        );
        // A forged token is invalid even when its expiry has passed: the signature comes first.
        let forged = signer_for(b"other").mint("job-1", NOW - 1);
        assert_eq!(
            signer.check("job-1", &forged, NOW),
            Err(Refusal::ShareTokenInvalid)
        );
        assert_eq!(
            signer.check("job-1", "", NOW),
            Err(Refusal::ShareTokenInvalid)
        );
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let signer = signer_for(b"secret");
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
        let token = signer_for(b"secret").mint("a/b?c", NOW);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "{token}"
        );
    }
}
