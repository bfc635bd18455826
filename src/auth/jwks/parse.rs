//! A fetched key set → the signing keys this function can use, by `kid`; and whether a key fits
//! a token's `alg`.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::auth::algorithms::{supported, KeyKind};

/// A verification key from the set, with what the token's `alg` must fit.
pub struct Jwk {
    pub key: DecodingKey,
    kind: KeyKind,
    /// The key's own `alg`, when the set gives one.
    alg: Option<String>,
}

impl Jwk {
    /// `kty` (and `crv`) fit the token's `alg`, and the key's own `alg`, when given, is it.
    /// (`use` other than `sig` never gets this far: such keys are not kept.)
    pub fn fits(&self, alg: Algorithm) -> bool {
        supported(alg).is_some_and(|supported| supported.key == self.kind)
            && self
                .alg
                .as_deref()
                .is_none_or(|key_alg| key_alg.parse::<Algorithm>() == Ok(alg))
    }
}

/// A key as the set describes it; every field optional, so one odd key cannot spoil the set.
#[derive(Deserialize)]
struct RawJwk {
    kid: Option<String>,
    kty: Option<String>,
    crv: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct RawKeySet {
    keys: Vec<serde_json::Value>,
}

/// `{"keys": [...]}` → the signing keys by `kid`. Keys this function cannot use (no `kid`,
/// another `kty` or curve, `use` other than `sig`, missing components) are skipped; a body
/// that is not such an object is an error. The first key wins when two share a `kid`.
pub fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Arc<Jwk>>, String> {
    let set: RawKeySet =
        serde_json::from_slice(body).map_err(|_| "the answer is not a JSON key set".to_string())?;
    let mut keys = HashMap::new();
    for value in set.keys {
        let Ok(raw) = serde_json::from_value::<RawJwk>(value) else {
            continue;
        };
        if let Some((kid, key)) = usable(raw) {
            keys.entry(kid).or_insert_with(|| Arc::new(key));
        }
    }
    Ok(keys)
}

fn usable(raw: RawJwk) -> Option<(String, Jwk)> {
    if raw.usage.as_deref().is_some_and(|usage| usage != "sig") {
        return None;
    }
    let (kind, key) = match (raw.kty.as_deref()?, raw.crv.as_deref()) {
        ("RSA", _) => (
            KeyKind::Rsa,
            DecodingKey::from_rsa_components(raw.n.as_deref()?, raw.e.as_deref()?).ok()?,
        ),
        ("EC", Some(crv @ ("P-256" | "P-384"))) => (
            if crv == "P-256" {
                KeyKind::P256
            } else {
                KeyKind::P384
            },
            DecodingKey::from_ec_components(raw.x.as_deref()?, raw.y.as_deref()?).ok()?,
        ),
        _ => return None,
    };
    Some((
        raw.kid?,
        Jwk {
            key,
            kind,
            alg: raw.alg,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RSA components need only be base64url here: parsing does not check the arithmetic.
    fn rsa(kid: &str) -> serde_json::Value {
        json!({"kty": "RSA", "kid": kid, "n": "q83vEjRWeJA", "e": "AQAB", "use": "sig"})
    }

    fn ec(kid: &str, crv: &str) -> serde_json::Value {
        json!({"kty": "EC", "kid": kid, "crv": crv, "x": "q83vEjRWeJA", "y": "q83vEjRWeJA"})
    }

    #[test]
    fn unusable_keys_are_skipped_and_garbage_is_an_error() {
        let body = json!({"keys": [
            rsa("rsa"),
            ec("p256", "P-256"),
            ec("p384", "P-384"),
            ec("p521", "P-521"),
            {"kty": "RSA", "kid": "enc", "n": "q83v", "e": "AQAB", "use": "enc"},
            {"kty": "RSA", "n": "q83v", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
            {"kty": "oct", "kid": "secret", "k": "c2VjcmV0"},
            {"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "q83v"},
            {"kty": "RSA", "kid": "bad-b64", "n": "!!!", "e": "AQAB"},
            "not an object",
            {"kid": 5},
        ]});
        let keys = parse_key_set(body.to_string().as_bytes()).unwrap();
        let mut kids: Vec<_> = keys.keys().map(String::as_str).collect();
        kids.sort();
        assert_eq!(kids, ["p256", "p384", "rsa"]);
        for garbage in [&b"not json"[..], b"[]", b"{}", b"{\"keys\": {}}", b""] {
            assert!(parse_key_set(garbage).is_err(), "{garbage:?}");
        }
        assert!(parse_key_set(b"{\"keys\": []}").unwrap().is_empty());
    }

    #[test]
    fn a_key_fits_only_its_own_family_curve_and_algorithm() {
        let set = json!({"keys": [
            rsa("rsa"),
            {"kty": "RSA", "kid": "rs384-only", "n": "q83v", "e": "AQAB", "alg": "RS384"},
            ec("p256", "P-256"),
            ec("p384", "P-384"),
        ]});
        let keys = parse_key_set(set.to_string().as_bytes()).unwrap();
        let fits = |kid: &str, alg| keys[kid].fits(alg);
        for alg in [
            Algorithm::RS256,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS512,
        ] {
            assert!(fits("rsa", alg));
            assert!(!fits("p256", alg));
        }
        assert!(fits("rs384-only", Algorithm::RS384));
        assert!(!fits("rs384-only", Algorithm::RS256));
        assert!(!fits("rs384-only", Algorithm::PS384));
        assert!(fits("p256", Algorithm::ES256));
        assert!(!fits("p256", Algorithm::ES384));
        assert!(fits("p384", Algorithm::ES384));
        assert!(!fits("p384", Algorithm::ES256));
        assert!(!fits("rsa", Algorithm::ES256));
        assert!(!fits("rsa", Algorithm::HS256), "never a secret's algorithm");
    }
}
