//! `Authorization: Bearer` JWTs verified in the function. The token's `alg` picks the key:
//! HS256 → the shared secret (or the previous one, mid-rotation); RS/PS/ES → the identity
//! provider's key set. Neither is ever tried against the other (no algorithm confusion).

use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::jwks::{KeyError, KeySet};
use crate::config::JwtConfig;
use crate::error::ApiError;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

/// The algorithms whose keys come from the identity provider's key set, by key family
/// (`jsonwebtoken` checks a token against the algorithms of one family at a time).
const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];
const EC_ALGORITHMS: [Algorithm; 2] = [Algorithm::ES256, Algorithm::ES384];

/// Verifies bearer tokens; built once at init from the configuration.
pub struct BearerVerifier {
    /// The current secret first, then the previous one while a rotation is under way.
    secrets: Vec<DecodingKey>,
    key_set: Option<KeySet>,
    hs256: Validation,
    rsa: Validation,
    ec: Validation,
    audience: Option<String>,
    token_use: Option<String>,
    user_claim: String,
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
        Self::with_key_set(config, config.jwks.as_ref().map(KeySet::over_https))
    }

    /// As `new`, with the key set given (tests give one with another source).
    pub fn with_key_set(config: &JwtConfig, key_set: Option<KeySet>) -> Self {
        super::crypto::install();
        let secrets = config
            .secrets
            .iter()
            .flat_map(|secrets| std::iter::once(&secrets.current).chain(secrets.previous.as_ref()));
        BearerVerifier {
            secrets: secrets
                .map(|secret| DecodingKey::from_secret(secret))
                .collect(),
            key_set,
            hs256: validation(config, &[Algorithm::HS256]),
            rsa: validation(config, &RSA_ALGORITHMS),
            ec: validation(config, &EC_ALGORITHMS),
            audience: config.audience.clone(),
            token_use: config.token_use.clone(),
            user_claim: config.user_claim.clone(),
        }
    }

    /// Fetches the identity provider's key set, when one is configured (see `KeySet::prefetch`).
    pub async fn prefetch_keys(&self) {
        if let Some(key_set) = &self.key_set {
            key_set.prefetch().await;
        }
    }

    /// The user id the token vouches for: 401 for any token that is not valid, 503 when the
    /// key set it needs cannot be had.
    pub async fn verify(&self, token: &str) -> Result<String, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthorized)?;
        let claims = if header.alg == Algorithm::HS256 {
            self.secrets
                .iter()
                .find_map(|secret| decode(token, secret, &self.hs256))
        } else if let Some(validation) = self.key_set_validation(header.alg) {
            let key_set = self.key_set.as_ref().ok_or(ApiError::Unauthorized)?;
            let kid = header.kid.as_deref().ok_or(ApiError::Unauthorized)?;
            let jwk = key_set.key(kid).await.map_err(|error| match error {
                KeyError::UnknownKid => ApiError::Unauthorized,
                KeyError::Unavailable => ApiError::KeysUnavailable,
            })?;
            if !jwk.fits(header.alg) {
                return Err(ApiError::Unauthorized);
            }
            decode(token, &jwk.key, validation)
        } else {
            None
        };
        self.user_id(claims.ok_or(ApiError::Unauthorized)?)
            .ok_or(ApiError::Unauthorized)
    }

    /// The claim checks for an algorithm whose key comes from the key set; `None` for others.
    fn key_set_validation(&self, alg: Algorithm) -> Option<&Validation> {
        match alg.family() {
            AlgorithmFamily::Rsa => Some(&self.rsa),
            AlgorithmFamily::Ec => Some(&self.ec),
            _ => None,
        }
    }

    /// The checks `jsonwebtoken` does not make: audience or Cognito `client_id`, `token_use`,
    /// and the user id claim, which must be a non-empty string.
    fn user_id(&self, mut claims: Map<String, Value>) -> Option<String> {
        if let Some(audience) = &self.audience {
            let accepted = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
                Some(_) => false,
                // Cognito access tokens name their app client in `client_id`, not in `aud`.
                None => claims.get("client_id").and_then(Value::as_str) == Some(audience),
            };
            if !accepted {
                return None;
            }
        }
        if let Some(token_use) = &self.token_use {
            if claims.get("token_use").and_then(Value::as_str) != Some(token_use) {
                return None;
            }
        }
        match claims.remove(&self.user_claim) {
            Some(Value::String(user_id)) if !user_id.is_empty() => Some(user_id),
            _ => None,
        }
    }
}

/// `exp` required, `nbf` enforced when present, bounded leeway, the issuer when configured.
/// The audience is checked by `user_id`, since a Cognito access token carries none.
fn validation(config: &JwtConfig, algorithms: &[Algorithm]) -> Validation {
    let mut validation = Validation::new(algorithms[0]);
    validation.algorithms = algorithms.to_vec();
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    let mut required = vec!["exp"];
    match &config.issuer {
        Some(issuer) => {
            // A configured issuer must also be present in the token, not only match.
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        None => validation.iss = None,
    }
    validation.set_required_spec_claims(&required);
    validation
}

fn decode(token: &str, key: &DecodingKey, validation: &Validation) -> Option<Map<String, Value>> {
    jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
        .ok()
        .map(|data| data.claims)
}

/// Signs an HS256 token, for the dev tool and the tests.
pub fn mint(secret: &[u8], claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
    super::crypto::install();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secrets;
    use base64::Engine;

    const SECRET: &[u8] = b"test-secret";

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn config() -> JwtConfig {
        JwtConfig {
            secrets: Some(Secrets {
                current: SECRET.to_vec(),
                previous: None,
            }),
            jwks: None,
            issuer: None,
            audience: None,
            token_use: None,
            user_claim: "sub".into(),
        }
    }

    fn verifier(issuer: Option<&str>, audience: Option<&str>) -> BearerVerifier {
        BearerVerifier::new(&JwtConfig {
            issuer: issuer.map(str::to_string),
            audience: audience.map(str::to_string),
            ..config()
        })
    }

    /// An HS256 token with exactly these claims.
    fn sign(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    /// The verdict on a token: its user id, or `None` for a 401 (any other error fails).
    fn check(verifier: &BearerVerifier, token: &str) -> Option<String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        match runtime.block_on(verifier.verify(token)) {
            Ok(user_id) => Some(user_id),
            Err(ApiError::Unauthorized) => None,
            Err(other) => panic!("a token got {other:?}, not a 401"),
        }
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
        assert_eq!(check(&verifier(None, None), &token).as_deref(), Some("u1"));
    }

    #[test]
    fn expiry_and_not_before_are_enforced_with_bounded_leeway() {
        let v = verifier(None, None);
        let expired = Claims {
            exp: now() - LEEWAY_SECONDS - 5,
            ..claims("u1")
        };
        assert_eq!(check(&v, &mint(SECRET, &expired).unwrap()), None);
        let within_leeway = Claims {
            exp: now() - 10,
            ..claims("u1")
        };
        assert!(check(&v, &mint(SECRET, &within_leeway).unwrap()).is_some());
        let future = Claims {
            nbf: Some(now() + LEEWAY_SECONDS + 60),
            ..claims("u1")
        };
        assert_eq!(check(&v, &mint(SECRET, &future).unwrap()), None);
        let started = Claims {
            nbf: Some(now() - 1),
            ..claims("u1")
        };
        assert!(check(&v, &mint(SECRET, &started).unwrap()).is_some());
    }

    #[test]
    fn the_previous_secret_verifies_while_a_rotation_is_under_way() {
        let rotated = BearerVerifier::new(&JwtConfig {
            secrets: Some(Secrets {
                current: b"new-secret".to_vec(),
                previous: Some(SECRET.to_vec()),
            }),
            ..config()
        });
        let old = mint(SECRET, &claims("u1")).unwrap();
        let new = mint(b"new-secret", &claims("u2")).unwrap();
        assert_eq!(check(&rotated, &old).as_deref(), Some("u1"));
        assert_eq!(check(&rotated, &new).as_deref(), Some("u2"));
        assert_eq!(
            check(&rotated, &mint(b"third", &claims("u1")).unwrap()),
            None
        );
        assert_eq!(check(&verifier(None, None), &new), None, "current only");
    }

    #[test]
    fn the_user_claim_setting_picks_the_user_id() {
        let custom = BearerVerifier::new(&JwtConfig {
            user_claim: "custom:flickr_user_id".into(),
            ..config()
        });
        let exp = now() + 600;
        let with = sign(serde_json::json!({"sub": "p", "custom:flickr_user_id": "u9", "exp": exp}));
        assert_eq!(check(&custom, &with).as_deref(), Some("u9"));
        for bad in [
            serde_json::json!({"sub": "p", "exp": exp}),
            serde_json::json!({"sub": "p", "custom:flickr_user_id": 42, "exp": exp}),
            serde_json::json!({"sub": "p", "custom:flickr_user_id": "", "exp": exp}),
            serde_json::json!({"sub": "p", "custom:flickr_user_id": ["u9"], "exp": exp}),
        ] {
            assert_eq!(check(&custom, &sign(bad.clone())), None, "{bad}");
        }
    }

    #[test]
    fn audience_may_be_an_array_or_a_cognito_client_id_and_token_use_is_checked() {
        let v = BearerVerifier::new(&JwtConfig {
            audience: Some("app-client".into()),
            token_use: Some("access".into()),
            ..config()
        });
        let exp = now() + 600;
        let accepted = [
            serde_json::json!({"sub": "u1", "exp": exp, "aud": "app-client", "token_use": "access"}),
            serde_json::json!({"sub": "u1", "exp": exp, "aud": ["x", "app-client"], "token_use": "access"}),
            serde_json::json!({"sub": "u1", "exp": exp, "client_id": "app-client", "token_use": "access"}),
        ];
        for claims in accepted {
            assert_eq!(
                check(&v, &sign(claims.clone())).as_deref(),
                Some("u1"),
                "{claims}"
            );
        }
        let refused = [
            serde_json::json!({"sub": "u1", "exp": exp, "aud": "other", "token_use": "access"}),
            serde_json::json!({"sub": "u1", "exp": exp, "aud": ["x"], "token_use": "access"}),
            // `aud` decides when present: a right client_id beside a wrong aud is still refused.
            serde_json::json!({"sub": "u1", "exp": exp, "aud": "other", "client_id": "app-client", "token_use": "access"}),
            serde_json::json!({"sub": "u1", "exp": exp, "client_id": "other", "token_use": "access"}),
            serde_json::json!({"sub": "u1", "exp": exp, "token_use": "access"}),
            serde_json::json!({"sub": "u1", "exp": exp, "aud": "app-client", "token_use": "id"}),
            serde_json::json!({"sub": "u1", "exp": exp, "aud": "app-client"}),
        ];
        for claims in refused {
            assert_eq!(check(&v, &sign(claims.clone())), None, "{claims}");
        }
    }

    #[test]
    fn asymmetric_tokens_need_a_key_set() {
        // An RS256 header on an HS256 signature: with no key set configured, refused outright.
        let token = mint(SECRET, &claims("u1")).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        let rs256 = format!("{}.{rest}", b64(r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#));
        assert_eq!(check(&verifier(None, None), &rs256), None);
    }

    #[test]
    fn exp_and_sub_are_required() {
        let no_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "u1"}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(check(&verifier(None, None), &no_exp), None);
        let no_sub = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"exp": now() + 600}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(check(&verifier(None, None), &no_sub), None);
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let v = verifier(Some("https://issuer"), Some("jobs"));
        let right = Claims {
            iss: Some("https://issuer".into()),
            aud: Some("jobs".into()),
            ..claims("u1")
        };
        assert!(check(&v, &mint(SECRET, &right).unwrap()).is_some());
        let wrong_iss = Claims {
            iss: Some("https://evil".into()),
            ..right_claims()
        };
        assert_eq!(check(&v, &mint(SECRET, &wrong_iss).unwrap()), None);
        let wrong_aud = Claims {
            aud: Some("other".into()),
            ..right_claims()
        };
        assert_eq!(check(&v, &mint(SECRET, &wrong_aud).unwrap()), None);
        let missing = claims("u1");
        assert_eq!(check(&v, &mint(SECRET, &missing).unwrap()), None);
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
        assert_eq!(check(&v, &alg_none), None);
        let other_secret = mint(b"another-secret", &claims("u1")).unwrap();
        assert_eq!(check(&v, &other_secret), None);
        // Signed right, with the right secret, but HS512: only HS256 takes the shared secret.
        let hs512_input = format!("{}.{payload}", b64(r#"{"alg":"HS512","typ":"JWT"}"#));
        let hs512_tag = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA512, SECRET),
            hs512_input.as_bytes(),
        );
        let hs512 = format!(
            "{hs512_input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hs512_tag.as_ref())
        );
        assert_eq!(check(&v, &hs512), None);
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
        assert_eq!(check(&v, &swapped_payload), None);
        assert_eq!(check(&v, &good[..good.len() - 3]), None);
        assert_eq!(check(&v, "garbage"), None);
        assert_eq!(check(&v, ""), None);
    }
}
