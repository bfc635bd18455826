//! Bearer and share token parsing and verification: any bytes as a token. The oracle: a bearer
//! token is accepted only when its signature is really ours (HS256 with the secret, or an RSA
//! algorithm with the key set's key) and it names a user; a share token only when its
//! signature is the one minted for that job and expiry.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use flickr_job_status::auth::bearer::BearerVerifier;
use flickr_job_status::auth::ShareSigner;
use flickr_job_status::config::Secrets;
use flickr_job_status_fuzz::{config, key_set, rsa_verify, runtime, JWT_SECRET, SHARE_SECRET};
use libfuzzer_sys::fuzz_target;
use ring::hmac;
use std::sync::OnceLock;

const JOBS: [&str; 2] = [
    "e6b6634c-e07c-43f0-88b3-9516590aad77",
    "b5e8f1a2-3c4d-4e5f-9a6b-7c8d9e0f1a2b",
];

fn verifier() -> &'static BearerVerifier {
    static VERIFIER: OnceLock<BearerVerifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let config = config();
        let verifier =
            BearerVerifier::new(config.jwt.as_ref().expect("JWT settings"), Some(key_set()));
        runtime().block_on(verifier.prefetch_keys());
        verifier
    })
}

fn signer() -> &'static ShareSigner {
    static SIGNER: OnceLock<ShareSigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        ShareSigner::new(&Secrets {
            current: SHARE_SECRET.as_bytes().to_vec(),
            previous: None,
        })
    })
}

/// Whether the JWS's signature is valid under our keys for the `alg` its header names.
fn really_signed(token: &str) -> bool {
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let (Some(header), Ok(signature)) = (
        signed
            .split('.')
            .next()
            .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok()),
        URL_SAFE_NO_PAD.decode(signature),
    ) else {
        return false;
    };
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&header) else {
        return false;
    };
    match header["alg"].as_str() {
        Some("HS256") => {
            let key = hmac::Key::new(hmac::HMAC_SHA256, JWT_SECRET.as_bytes());
            hmac::verify(&key, signed.as_bytes(), &signature).is_ok()
        }
        Some(alg) => rsa_verify(alg, signed.as_bytes(), &signature),
        None => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(caller) = runtime().block_on(verifier().verify(token)) {
        assert!(
            really_signed(token),
            "a token accepted without our signature: {token}"
        );
        assert!(!caller.user_id.is_empty(), "an empty user id accepted");
    }
    let now = 1_764_158_400;
    for job in JOBS {
        if let Ok(expires_at) = signer().check(job, token, now) {
            assert!(expires_at > now, "an expired share token accepted: {token}");
            let minted = signer().mint(job, expires_at);
            let signature = |t: &str| t.rsplit_once('.').map(|(_, s)| s.to_string());
            assert_eq!(
                signature(token),
                signature(&minted),
                "a share token accepted with another signature than its own"
            );
        }
    }
});
