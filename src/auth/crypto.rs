//! JWT signatures on `ring`, the crypto library the function already links for TLS.
//!
//! `jsonwebtoken` takes its cryptography from a pluggable provider. Its built-in ones would add
//! a second crypto stack (RustCrypto's `rsa`, `p256`, `p384`, or aws-lc); this one verifies with
//! the same `ring` code that checks DynamoDB's TLS certificates, so RSA and ECDSA cost the
//! binary almost nothing. It signs HS256 only: the function never signs anything else.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::hmac;
use ring::signature::{RsaPublicKeyComponents, UnparsedPublicKey};

use super::algorithms::{self, Scheme};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory,
    verifier_factory,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes this provider `jsonwebtoken`'s. Idempotent; called wherever tokens are built.
pub fn install() {
    // Err only means it is installed already: there is no other provider in this binary.
    let _ = PROVIDER.install_default();
}

fn signer_factory(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    match algorithm {
        Algorithm::HS256 => Ok(Box::new(Hs256(hmac::Key::new(
            hmac::HMAC_SHA256,
            key.as_bytes(),
        )))),
        _ => Err(ErrorKind::InvalidAlgorithm.into()),
    }
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let supported = algorithms::supported(*algorithm).ok_or(ErrorKind::InvalidAlgorithm)?;
    match supported.scheme {
        Scheme::Hmac => {
            let secret = key.try_get_as_bytes()?;
            Ok(Box::new(Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret))))
        }
        scheme => Ok(Box::new(PublicKey {
            algorithm: *algorithm,
            scheme,
            key: key.kind().clone(),
        })),
    }
}

/// HMAC-SHA256, compared in constant time by ring.
struct Hs256(hmac::Key);

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        hmac::verify(&self.0, message, tag).map_err(|_| SignatureError::new())
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        Ok(hmac::sign(&self.0, message).as_ref().to_vec())
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

/// A public key as a JWK gives it: RSA modulus and exponent, or an uncompressed EC point.
struct PublicKey {
    algorithm: Algorithm,
    scheme: Scheme,
    key: DecodingKeyKind,
}

impl Verifier<Vec<u8>> for PublicKey {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), SignatureError> {
        let checked = match (&self.scheme, &self.key) {
            (Scheme::Rsa(parameters), DecodingKeyKind::RsaModulusExponent { n, e }) => {
                RsaPublicKeyComponents { n, e }.verify(parameters, message, signature)
            }
            (Scheme::Ecdsa(algorithm), DecodingKeyKind::SecretOrDer(point)) => {
                UnparsedPublicKey::new(*algorithm, point).verify(message, signature)
            }
            // A key of the other family (or a secret): the caller checks kty against alg, this
            // is a backstop.
            _ => return Err(SignatureError::new()),
        };
        checked.map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for PublicKey {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}
