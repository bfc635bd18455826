//! `Authorization: Bearer` JWTs verified in the function. The token's `alg` picks the key:
//! HS256 → the shared secret (or the previous one, mid-rotation); RS/PS/ES → the identity
//! provider's key set. Neither is ever tried against the other (no algorithm confusion).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::algorithms::{supported, KeyKind, SUPPORTED};
use super::jwks::{KeyError, KeySet};
use super::{Caller, Refusal};
use crate::config::JwtConfig;
use crate::error::ApiError;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

/// Verifies bearer tokens; built once at init from the configuration.
pub struct BearerVerifier {
    /// The current secret first, then the previous one while a rotation is under way.
    secrets: Vec<DecodingKey>,
    key_set: Option<KeySet>,
    /// The claim checks, one per accepted algorithm (`jsonwebtoken` takes a key of one family).
    validations: Vec<(Algorithm, Validation)>,
    issuer: Option<String>,
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
    /// `key_set` is the identity provider's keys (`None`: asymmetric tokens are refused).
    pub fn new(config: &JwtConfig, key_set: Option<KeySet>) -> Self {
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
            validations: SUPPORTED
                .iter()
                .map(|supported| (supported.alg, validation(config, supported.alg)))
                .collect(),
            issuer: config.issuer.clone(),
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

    /// The caller the token vouches for: 401 with the reason for any token that is not valid,
    /// 503 when the key set it needs cannot be had.
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let claims = self.verified_claims(token).await?;
        // `exp` is required and checked by jsonwebtoken; what it holds is the credentials' end.
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_f64)
            .map(|exp| (exp.max(0.0) as u64).saturating_add(LEEWAY_SECONDS));
        let user_id = self.user_id(claims).map_err(ApiError::Unauthorized)?;
        Ok(Caller {
            user_id,
            expires_at,
        })
    }

    /// The header checks, the signature with the key the `alg` picks, and jsonwebtoken's claim
    /// checks (`exp`, `nbf`, `iss`).
    async fn verified_claims(&self, token: &str) -> Result<Map<String, Value>, ApiError> {
        let refused = ApiError::Unauthorized;
        if let Some(raw) = raw_header(token) {
            if raw.contains_key("crit") {
                return Err(refused(Refusal::CriticalHeader));
            }
            // jsonwebtoken cannot even read an `alg` it does not know (ES512, none): say so.
            let known = raw.get("alg").and_then(Value::as_str).is_some_and(|alg| {
                alg.parse::<Algorithm>()
                    .is_ok_and(|alg| supported(alg).is_some())
            });
            if !known {
                return Err(refused(Refusal::AlgorithmNotAllowed));
            }
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|error| refused(refusal(&error)))?;
        let (supported, validation) = supported(header.alg)
            .zip(self.validation(header.alg))
            .ok_or(refused(Refusal::AlgorithmNotAllowed))?;
        if supported.key == KeyKind::Secret {
            if self.secrets.is_empty() {
                return Err(refused(Refusal::AlgorithmNotAllowed));
            }
            // The first secret that verifies the signature decides; one whose signature fails
            // leaves the word to the next.
            let mut last = Refusal::BadSignature;
            for secret in &self.secrets {
                match decode(token, secret, validation) {
                    Ok(claims) => return self.issuer_is_a_string(claims),
                    Err(Refusal::BadSignature) => last = Refusal::BadSignature,
                    Err(other) => return Err(refused(other)),
                }
            }
            return Err(refused(last));
        }
        let key_set = self
            .key_set
            .as_ref()
            .ok_or(refused(Refusal::AlgorithmNotAllowed))?;
        let kid = header.kid.as_deref().ok_or(refused(Refusal::UnknownKid))?;
        let jwk = key_set.key(kid).await.map_err(|error| match error {
            KeyError::UnknownKid => refused(Refusal::UnknownKid),
            KeyError::Unavailable => ApiError::KeysUnavailable,
        })?;
        if !jwk.fits(header.alg) {
            return Err(refused(Refusal::AlgorithmNotAllowed));
        }
        let claims = decode(token, &jwk.key, validation).map_err(refused)?;
        self.issuer_is_a_string(claims)
    }

    fn validation(&self, alg: Algorithm) -> Option<&Validation> {
        self.validations
            .iter()
            .find(|(supported, _)| *supported == alg)
            .map(|(_, validation)| validation)
    }

    /// jsonwebtoken accepts an array `iss` that contains the issuer; a token has one issuer.
    fn issuer_is_a_string(
        &self,
        claims: Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        if self.issuer.is_some() && !claims.get("iss").is_some_and(Value::is_string) {
            return Err(ApiError::Unauthorized(Refusal::WrongIssuer));
        }
        Ok(claims)
    }

    /// The checks `jsonwebtoken` does not make: audience or Cognito `client_id`, `token_use`,
    /// and the user id claim, which must be a non-empty string.
    fn user_id(&self, mut claims: Map<String, Value>) -> Result<String, Refusal> {
        if let Some(audience) = &self.audience {
            let accepted = match claims.get("aud") {
                Some(Value::String(aud)) => aud == audience,
                Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(audience)),
                Some(_) => false,
                // Cognito access tokens name their app client in `client_id`, not in `aud`.
                None => claims.get("client_id").and_then(Value::as_str) == Some(audience),
            };
            if !accepted {
                return Err(Refusal::WrongAudience);
            }
        }
        if let Some(token_use) = &self.token_use {
            if claims.get("token_use").and_then(Value::as_str) != Some(token_use) {
                return Err(Refusal::WrongTokenUse);
            }
        }
        match claims.remove(&self.user_claim) {
            Some(Value::String(user_id)) if !user_id.is_empty() => Ok(user_id),
            _ => Err(Refusal::UserClaim),
        }
    }
}

/// The token's header as JSON, when it is one, for the checks jsonwebtoken does not make. A
/// `crit` header (RFC 7515 §4.1.11) names extensions the recipient must understand; this function
/// understands none, so any `crit` (even `[]`) is a refusal, where jsonwebtoken would ignore it.
fn raw_header(token: &str) -> Option<Map<String, Value>> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    let json = URL_SAFE_NO_PAD.decode(token.split('.').next()?).ok()?;
    serde_json::from_slice(&json).ok()
}

/// jsonwebtoken's error → the reason the log names.
fn refusal(error: &jsonwebtoken::errors::Error) -> Refusal {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
        ErrorKind::InvalidAudience => Refusal::WrongAudience,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::InvalidAlgorithmName
        | ErrorKind::MissingAlgorithm => Refusal::AlgorithmNotAllowed,
        ErrorKind::MissingRequiredClaim(claim) if claim == "iss" => Refusal::WrongIssuer,
        _ => Refusal::Malformed,
    }
}

/// `exp` required, `nbf` enforced when present, bounded leeway, the issuer when configured.
/// The audience is checked by `user_id`, since a Cognito access token carries none.
fn validation(config: &JwtConfig, algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
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

fn decode(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<Map<String, Value>, Refusal> {
    jsonwebtoken::decode::<Map<String, Value>>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|error| refusal(&error))
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
        BearerVerifier::new(
            &JwtConfig {
                issuer: issuer.map(str::to_string),
                audience: audience.map(str::to_string),
                ..config()
            },
            None,
        )
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

    /// The verdict on a token: its user id, or the reason of its 401 (any other error fails).
    fn check(verifier: &BearerVerifier, token: &str) -> Result<String, Refusal> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        match runtime.block_on(verifier.verify(token)) {
            Ok(caller) => Ok(caller.user_id),
            Err(ApiError::Unauthorized(refusal)) => Err(refusal),
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
        assert_eq!(check(&verifier(None, None), &token).as_deref(), Ok("u1"));
    }

    #[test]
    fn expiry_and_not_before_are_enforced_with_bounded_leeway() {
        let v = verifier(None, None);
        let expired = Claims {
            exp: now() - LEEWAY_SECONDS - 5,
            ..claims("u1")
        };
        assert_eq!(
            check(&v, &mint(SECRET, &expired).unwrap()),
            Err(Refusal::Expired)
        );
        let within_leeway = Claims {
            exp: now() - 10,
            ..claims("u1")
        };
        assert!(check(&v, &mint(SECRET, &within_leeway).unwrap()).is_ok());
        let future = Claims {
            nbf: Some(now() + LEEWAY_SECONDS + 60),
            ..claims("u1")
        };
        assert_eq!(
            check(&v, &mint(SECRET, &future).unwrap()),
            Err(Refusal::NotYetValid)
        );
        let started = Claims {
            nbf: Some(now() - 1),
            ..claims("u1")
        };
        assert!(check(&v, &mint(SECRET, &started).unwrap()).is_ok());
    }

    #[test]
    fn the_previous_secret_verifies_while_a_rotation_is_under_way() {
        let rotated = BearerVerifier::new(
            &JwtConfig {
                secrets: Some(Secrets {
                    current: b"new-secret".to_vec(),
                    previous: Some(SECRET.to_vec()),
                }),
                ..config()
            },
            None,
        );
        let old = mint(SECRET, &claims("u1")).unwrap();
        let new = mint(b"new-secret", &claims("u2")).unwrap();
        assert_eq!(check(&rotated, &old).as_deref(), Ok("u1"));
        assert_eq!(check(&rotated, &new).as_deref(), Ok("u2"));
        assert_eq!(
            check(&rotated, &mint(b"third", &claims("u1")).unwrap()),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check(&verifier(None, None), &new),
            Err(Refusal::BadSignature),
            "current only"
        );
    }

    #[test]
    fn the_user_claim_setting_picks_the_user_id() {
        let custom = BearerVerifier::new(
            &JwtConfig {
                user_claim: "custom:flickr_user_id".into(),
                ..config()
            },
            None,
        );
        let exp = now() + 600;
        let with = sign(serde_json::json!({"sub": "p", "custom:flickr_user_id": "u9", "exp": exp}));
        assert_eq!(check(&custom, &with).as_deref(), Ok("u9"));
        for bad in [
            serde_json::json!({"sub": "p", "exp": exp}),
            serde_json::json!({"sub": "p", "custom:flickr_user_id": 42, "exp": exp}),
            serde_json::json!({"sub": "p", "custom:flickr_user_id": "", "exp": exp}),
            serde_json::json!({"sub": "p", "custom:flickr_user_id": ["u9"], "exp": exp}),
        ] {
            assert_eq!(
                check(&custom, &sign(bad.clone())),
                Err(Refusal::UserClaim),
                "{bad}"
            );
        }
    }

    #[test]
    fn audience_may_be_an_array_or_a_cognito_client_id_and_token_use_is_checked() {
        let v = BearerVerifier::new(
            &JwtConfig {
                audience: Some("app-client".into()),
                token_use: Some("access".into()),
                ..config()
            },
            None,
        );
        let exp = now() + 600;
        let accepted = [
            serde_json::json!({"sub": "u1", "exp": exp, "aud": "app-client", "token_use": "access"}),
            serde_json::json!({"sub": "u1", "exp": exp, "aud": ["x", "app-client"], "token_use": "access"}),
            serde_json::json!({"sub": "u1", "exp": exp, "client_id": "app-client", "token_use": "access"}),
        ];
        for claims in accepted {
            assert_eq!(
                check(&v, &sign(claims.clone())).as_deref(),
                Ok("u1"),
                "{claims}"
            );
        }
        use Refusal::{WrongAudience, WrongTokenUse};
        let refused = [
            (
                serde_json::json!({"sub": "u1", "exp": exp, "aud": "other", "token_use": "access"}),
                WrongAudience,
            ),
            (
                serde_json::json!({"sub": "u1", "exp": exp, "aud": ["x"], "token_use": "access"}),
                WrongAudience,
            ),
            // `aud` decides when present: a right client_id beside a wrong aud is still refused.
            (
                serde_json::json!({"sub": "u1", "exp": exp, "aud": "other", "client_id": "app-client", "token_use": "access"}),
                WrongAudience,
            ),
            (
                serde_json::json!({"sub": "u1", "exp": exp, "client_id": "other", "token_use": "access"}),
                WrongAudience,
            ),
            (
                serde_json::json!({"sub": "u1", "exp": exp, "token_use": "access"}),
                WrongAudience,
            ),
            (
                serde_json::json!({"sub": "u1", "exp": exp, "aud": "app-client", "token_use": "id"}),
                WrongTokenUse,
            ),
            (
                serde_json::json!({"sub": "u1", "exp": exp, "aud": "app-client"}),
                WrongTokenUse,
            ),
        ];
        for (claims, reason) in refused {
            assert_eq!(check(&v, &sign(claims.clone())), Err(reason), "{claims}");
        }
    }

    #[test]
    fn asymmetric_tokens_need_a_key_set() {
        // An RS256 header on an HS256 signature: with no key set configured, refused outright.
        let token = mint(SECRET, &claims("u1")).unwrap();
        let (_, rest) = token.split_once('.').unwrap();
        let rs256 = format!("{}.{rest}", b64(r#"{"alg":"RS256","typ":"JWT","kid":"k"}"#));
        assert_eq!(
            check(&verifier(None, None), &rs256),
            Err(Refusal::AlgorithmNotAllowed)
        );
    }

    #[test]
    fn exp_and_sub_are_required() {
        let no_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "u1"}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            check(&verifier(None, None), &no_exp),
            Err(Refusal::Malformed)
        );
        let no_sub = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"exp": now() + 600}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(
            check(&verifier(None, None), &no_sub),
            Err(Refusal::UserClaim)
        );
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let v = verifier(Some("https://issuer"), Some("jobs"));
        let right = Claims {
            iss: Some("https://issuer".into()),
            aud: Some("jobs".into()),
            ..claims("u1")
        };
        assert!(check(&v, &mint(SECRET, &right).unwrap()).is_ok());
        let wrong_iss = Claims {
            iss: Some("https://evil".into()),
            ..right_claims()
        };
        assert_eq!(
            check(&v, &mint(SECRET, &wrong_iss).unwrap()),
            Err(Refusal::WrongIssuer)
        );
        let wrong_aud = Claims {
            aud: Some("other".into()),
            ..right_claims()
        };
        assert_eq!(
            check(&v, &mint(SECRET, &wrong_aud).unwrap()),
            Err(Refusal::WrongAudience)
        );
        let missing = claims("u1");
        assert_eq!(
            check(&v, &mint(SECRET, &missing).unwrap()),
            Err(Refusal::WrongIssuer)
        );
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
        assert_eq!(check(&v, &alg_none), Err(Refusal::AlgorithmNotAllowed));
        let other_secret = mint(b"another-secret", &claims("u1")).unwrap();
        assert_eq!(check(&v, &other_secret), Err(Refusal::BadSignature));
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
        assert_eq!(check(&v, &hs512), Err(Refusal::AlgorithmNotAllowed));
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
        assert_eq!(check(&v, &swapped_payload), Err(Refusal::BadSignature));
        assert_eq!(
            check(&v, &good[..good.len() - 3]),
            Err(Refusal::BadSignature)
        );
        assert_eq!(check(&v, "garbage"), Err(Refusal::Malformed));
        assert_eq!(check(&v, ""), Err(Refusal::Malformed));
    }

    #[test]
    fn a_crit_header_is_refused_whatever_it_holds() {
        let v = verifier(None, None);
        let payload = b64(&format!(r#"{{"sub":"u1","exp":{}}}"#, now() + 600));
        for header in [
            r#"{"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1}"#,
            r#"{"alg":"HS256","typ":"JWT","crit":[]}"#,
            r#"{"alg":"HS256","crit":"b64"}"#,
        ] {
            let input = format!("{}.{payload}", b64(header));
            let tag = ring::hmac::sign(
                &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET),
                input.as_bytes(),
            );
            let token = format!(
                "{input}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
            );
            assert_eq!(check(&v, &token), Err(Refusal::CriticalHeader), "{header}");
        }
    }

    #[test]
    fn an_issuer_must_be_one_string() {
        let v = verifier(Some("https://issuer"), None);
        let exp = now() + 600;
        let array = sign(serde_json::json!({"sub": "u1", "exp": exp, "iss": ["https://issuer"]}));
        assert_eq!(check(&v, &array), Err(Refusal::WrongIssuer));
        let both = sign(
            serde_json::json!({"sub": "u1", "exp": exp, "iss": ["https://evil", "https://issuer"]}),
        );
        assert_eq!(check(&v, &both), Err(Refusal::WrongIssuer));
        let one = sign(serde_json::json!({"sub": "u1", "exp": exp, "iss": "https://issuer"}));
        assert_eq!(check(&v, &one).as_deref(), Ok("u1"));
    }

    #[test]
    fn the_credentials_expire_with_the_token_plus_the_leeway() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let exp = now() + 600;
        let token = mint(
            SECRET,
            &Claims {
                exp,
                ..claims("u1")
            },
        )
        .unwrap();
        let caller = runtime
            .block_on(verifier(None, None).verify(&token))
            .unwrap();
        assert_eq!(caller.expires_at, Some(exp + LEEWAY_SECONDS));
    }
}
