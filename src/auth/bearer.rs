//! `Authorization: Bearer` JWTs, verified in the function: HS256 only, `exp` required.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::JwtConfig;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

/// Verifies bearer tokens; built once at init from the configuration.
pub struct BearerVerifier {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Deserialize)]
struct VerifiedClaims {
    sub: String,
}

/// The claims `mint` signs: enough for this API, and what a test or a dev needs.
#[derive(Serialize, Deserialize, Debug, Default)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl BearerVerifier {
    pub fn new(config: &JwtConfig) -> Self {
        // `Validation::new` accepts only the algorithm given, so `none` or RS256 tokens fail.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        // A configured issuer or audience must also be present in the token, not only match.
        let mut required = vec!["exp", "sub"];
        match &config.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        BearerVerifier {
            key: DecodingKey::from_secret(&config.secret),
            validation,
        }
    }

    /// The token's `sub` when the token is valid.
    pub fn verify(&self, token: &str) -> Option<String> {
        let data =
            jsonwebtoken::decode::<VerifiedClaims>(token, &self.key, &self.validation).ok()?;
        Some(data.claims.sub).filter(|sub| !sub.is_empty())
    }
}

/// Signs an HS256 token, for the dev tool and the tests.
pub fn mint(secret: &[u8], claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &[u8] = b"test-secret";

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn verifier(issuer: Option<&str>, audience: Option<&str>) -> BearerVerifier {
        BearerVerifier::new(&JwtConfig {
            secret: SECRET.to_vec(),
            issuer: issuer.map(str::to_string),
            audience: audience.map(str::to_string),
        })
    }

    fn claims(sub: &str) -> Claims {
        Claims {
            sub: sub.into(),
            exp: now() + 600,
            ..Claims::default()
        }
    }

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn a_valid_token_gives_its_subject() {
        let token = mint(SECRET, &claims("u1")).unwrap();
        assert_eq!(verifier(None, None).verify(&token).as_deref(), Some("u1"));
    }

    #[test]
    fn expiry_and_not_before_are_enforced_with_bounded_leeway() {
        let v = verifier(None, None);
        let expired = Claims {
            exp: now() - LEEWAY_SECONDS - 5,
            ..claims("u1")
        };
        assert_eq!(v.verify(&mint(SECRET, &expired).unwrap()), None);
        let within_leeway = Claims {
            exp: now() - 10,
            ..claims("u1")
        };
        assert!(v.verify(&mint(SECRET, &within_leeway).unwrap()).is_some());
        let future = Claims {
            nbf: Some(now() + LEEWAY_SECONDS + 60),
            ..claims("u1")
        };
        assert_eq!(v.verify(&mint(SECRET, &future).unwrap()), None);
        let started = Claims {
            nbf: Some(now() - 1),
            ..claims("u1")
        };
        assert!(v.verify(&mint(SECRET, &started).unwrap()).is_some());
    }

    #[test]
    fn exp_and_sub_are_required() {
        let no_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "u1"}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(verifier(None, None).verify(&no_exp), None);
        let no_sub = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"exp": now() + 600}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(verifier(None, None).verify(&no_sub), None);
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let v = verifier(Some("https://issuer"), Some("jobs"));
        let right = Claims {
            iss: Some("https://issuer".into()),
            aud: Some("jobs".into()),
            ..claims("u1")
        };
        assert!(v.verify(&mint(SECRET, &right).unwrap()).is_some());
        let wrong_iss = Claims {
            iss: Some("https://evil".into()),
            ..right_claims()
        };
        assert_eq!(v.verify(&mint(SECRET, &wrong_iss).unwrap()), None);
        let wrong_aud = Claims {
            aud: Some("other".into()),
            ..right_claims()
        };
        assert_eq!(v.verify(&mint(SECRET, &wrong_aud).unwrap()), None);
        let missing = claims("u1");
        assert_eq!(v.verify(&mint(SECRET, &missing).unwrap()), None);
    }

    fn right_claims() -> Claims {
        Claims {
            iss: Some("https://issuer".into()),
            aud: Some("jobs".into()),
            ..claims("u1")
        }
    }

    #[test]
    fn forged_tokens_are_refused() {
        let v = verifier(None, None);
        let payload = b64(&format!(r#"{{"sub":"u1","exp":{}}}"#, now() + 600));
        let alg_none = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), payload);
        assert_eq!(v.verify(&alg_none), None);
        let other_secret = mint(b"another-secret", &claims("u1")).unwrap();
        assert_eq!(v.verify(&other_secret), None);
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims("u1"),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(v.verify(&hs512), None);
        let good = mint(SECRET, &claims("u1")).unwrap();
        let mut parts = good.split('.');
        let (header, _payload, signature) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let swapped_payload = format!(
            "{header}.{}.{signature}",
            b64(r#"{"sub":"admin","exp":9999999999}"#)
        );
        assert_eq!(v.verify(&swapped_payload), None);
        assert_eq!(v.verify(&good[..good.len() - 3]), None);
        assert_eq!(v.verify("garbage"), None);
        assert_eq!(v.verify(""), None);
    }
}
