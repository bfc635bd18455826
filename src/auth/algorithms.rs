//! The one table of the JWT algorithms this function accepts: for each, where its key comes
//! from, the kind of key it needs, and ring's verification scheme. Every other site (bearer
//! verification, key-set parsing, the crypto provider) reads it from here.

use jsonwebtoken::Algorithm;
use ring::signature::{self as ring_sig, EcdsaVerificationAlgorithm, RsaParameters};

/// The key an algorithm verifies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The shared secret `JWT_SECRET` (HMAC).
    Secret,
    /// An RSA key of the identity provider's key set (`kty: RSA`).
    Rsa,
    /// An EC key on P-256 (`kty: EC`, `crv: P-256`).
    P256,
    /// An EC key on P-384.
    P384,
}

/// How ring verifies a signature of the algorithm.
#[derive(Debug, Clone, Copy)]
pub enum Scheme {
    Hmac,
    Rsa(&'static RsaParameters),
    Ecdsa(&'static EcdsaVerificationAlgorithm),
}

/// One accepted algorithm.
#[derive(Debug, Clone, Copy)]
pub struct Supported {
    pub alg: Algorithm,
    pub key: KeyKind,
    pub scheme: Scheme,
}

/// Every accepted algorithm; anything else (`none`, HS384, EdDSA, …) is refused.
pub const SUPPORTED: [Supported; 9] = [
    Supported {
        alg: Algorithm::HS256,
        key: KeyKind::Secret,
        scheme: Scheme::Hmac,
    },
    Supported {
        alg: Algorithm::RS256,
        key: KeyKind::Rsa,
        scheme: Scheme::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA256),
    },
    Supported {
        alg: Algorithm::RS384,
        key: KeyKind::Rsa,
        scheme: Scheme::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA384),
    },
    Supported {
        alg: Algorithm::RS512,
        key: KeyKind::Rsa,
        scheme: Scheme::Rsa(&ring_sig::RSA_PKCS1_2048_8192_SHA512),
    },
    Supported {
        alg: Algorithm::PS256,
        key: KeyKind::Rsa,
        scheme: Scheme::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA256),
    },
    Supported {
        alg: Algorithm::PS384,
        key: KeyKind::Rsa,
        scheme: Scheme::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA384),
    },
    Supported {
        alg: Algorithm::PS512,
        key: KeyKind::Rsa,
        scheme: Scheme::Rsa(&ring_sig::RSA_PSS_2048_8192_SHA512),
    },
    Supported {
        alg: Algorithm::ES256,
        key: KeyKind::P256,
        scheme: Scheme::Ecdsa(&ring_sig::ECDSA_P256_SHA256_FIXED),
    },
    Supported {
        alg: Algorithm::ES384,
        key: KeyKind::P384,
        scheme: Scheme::Ecdsa(&ring_sig::ECDSA_P384_SHA384_FIXED),
    },
];

/// The table's entry for `alg`, if it is accepted.
pub fn supported(alg: Algorithm) -> Option<&'static Supported> {
    SUPPORTED.iter().find(|supported| supported.alg == alg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_algorithms_are_accepted() {
        for refused in [Algorithm::HS384, Algorithm::HS512, Algorithm::EdDSA] {
            assert!(supported(refused).is_none(), "{refused:?}");
        }
        assert_eq!(
            supported(Algorithm::HS256).map(|s| s.key),
            Some(KeyKind::Secret)
        );
        assert_eq!(
            supported(Algorithm::PS384).map(|s| s.key),
            Some(KeyKind::Rsa)
        );
        assert_eq!(
            supported(Algorithm::ES384).map(|s| s.key),
            Some(KeyKind::P384)
        );
        let secrets = SUPPORTED
            .iter()
            .filter(|s| s.key == KeyKind::Secret)
            .count();
        assert_eq!(
            secrets, 1,
            "HS256 is the only algorithm of the shared secret"
        );
    }
}
