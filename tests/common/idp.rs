//! The identity provider's side of the tests: signing keys made for the tests (RSA keys in
//! tests/fixtures/keys, EC keys generated per run), tokens signed with them, and a loopback
//! JWKS endpoint whose answer the test controls and whose fetches it counts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::fake_dynamo::read_request;

/// A private key of the test identity provider, with the `kid` its JWKS gives it.
pub struct SigningKey {
    pub kid: String,
    key: Private,
}

enum Private {
    Rsa(RsaKeyPair),
    /// The key pair and its curve's JWK name.
    Ec(EcdsaKeyPair, &'static str),
}

impl SigningKey {
    /// One of the RSA keys made for the tests: `rsa-a`, `rsa-b` (2048 bits).
    pub fn rsa(kid: &str, file: &str) -> Self {
        let path = format!(
            "{}/tests/fixtures/keys/{file}.pem",
            env!("CARGO_MANIFEST_DIR")
        );
        let pem = std::fs::read_to_string(&path).expect("test key");
        let base64: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let der = STANDARD.decode(base64).expect("PEM body");
        SigningKey {
            kid: kid.to_string(),
            key: Private::Rsa(RsaKeyPair::from_pkcs8(&der).expect("a PKCS#8 RSA key")),
        }
    }

    pub fn p256(kid: &str) -> Self {
        Self::ec(kid, &signature::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256")
    }

    pub fn p384(kid: &str) -> Self {
        Self::ec(kid, &signature::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384")
    }

    fn ec(
        kid: &str,
        algorithm: &'static signature::EcdsaSigningAlgorithm,
        crv: &'static str,
    ) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(algorithm, &rng).expect("EC key");
        let pair = EcdsaKeyPair::from_pkcs8(algorithm, pkcs8.as_ref(), &rng).expect("EC key");
        SigningKey {
            kid: kid.to_string(),
            key: Private::Ec(pair, crv),
        }
    }

    /// The public half, as the provider's JWKS publishes it.
    pub fn jwk(&self) -> Value {
        match &self.key {
            Private::Rsa(pair) => {
                let public: signature::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
                json!({"kty": "RSA", "kid": self.kid, "use": "sig",
                       "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)})
            }
            Private::Ec(pair, crv) => {
                // An uncompressed point: 0x04, then x and y of equal length.
                let point = &pair.public_key().as_ref()[1..];
                let (x, y) = point.split_at(point.len() / 2);
                json!({"kty": "EC", "kid": self.kid, "use": "sig", "crv": crv,
                       "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)})
            }
        }
    }

    /// The raw public key bytes: what an algorithm-confusion attacker would use as an HMAC key.
    pub fn public_key_bytes(&self) -> Vec<u8> {
        match &self.key {
            Private::Rsa(pair) => pair.public().as_ref().to_vec(),
            Private::Ec(pair, _) => pair.public_key().as_ref().to_vec(),
        }
    }

    /// A token with `{"alg": alg, "typ": "JWT", "kid": <this key>}`.
    pub fn sign(&self, alg: &str, claims: &Value) -> String {
        self.sign_with_header(&json!({"alg": alg, "typ": "JWT", "kid": self.kid}), claims)
    }

    /// A token with any header; the signing scheme follows the header's `alg`.
    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let alg = header["alg"].as_str().unwrap_or_default().to_string();
        jws(header, claims, |input| self.signature(&alg, input))
    }

    /// The signature of `input` under `alg` (an RSA algorithm for RSA keys; EC keys sign
    /// with their own curve whatever `alg` says).
    pub fn signature(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.key {
            Private::Rsa(pair) => {
                let padding: &'static dyn signature::RsaEncoding = match alg {
                    "RS256" => &signature::RSA_PKCS1_SHA256,
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    other => panic!("an RSA key does not sign {other}"),
                };
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(padding, &rng, input, &mut out)
                    .expect("RSA signature");
                out
            }
            Private::Ec(pair, _) => pair
                .sign(&rng, input)
                .expect("EC signature")
                .as_ref()
                .to_vec(),
        }
    }
}

/// `base64url(header).base64url(claims).base64url(sign(those two))`.
pub fn jws(header: &Value, claims: &Value, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// An HMAC-signed token (`HS256` or `HS512`) with any header and key.
pub fn hmac_token(header: &Value, claims: &Value, key: &[u8]) -> String {
    let algorithm = match header["alg"].as_str() {
        Some("HS512") => ring::hmac::HMAC_SHA512,
        _ => ring::hmac::HMAC_SHA256,
    };
    jws(header, claims, |input| {
        ring::hmac::sign(&ring::hmac::Key::new(algorithm, key), input)
            .as_ref()
            .to_vec()
    })
}

/// What the JWKS endpoint answers.
#[derive(Clone, Debug)]
pub enum JwksAnswer {
    /// 200 with `{"keys": [...]}`.
    Keys(Vec<Value>),
    /// 200 with this body as it is.
    Body(String),
    /// This status, with an empty body.
    Status(u16),
    /// Reads the request and never answers.
    Hang,
}

/// The identity provider's JWKS endpoint on a loopback port.
pub struct JwksServer {
    pub url: String,
    answer: Arc<Mutex<JwksAnswer>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    pub async fn start(answer: JwksAnswer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port");
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().expect("local address")
        );
        let answer = Arc::new(Mutex::new(answer));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (shared_answer, counter) = (answer.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared_answer.clone(), counter.clone()));
            }
        });
        JwksServer {
            url,
            answer,
            fetches,
        }
    }

    /// Serving `keys`' public halves.
    pub async fn with_keys(keys: &[&SigningKey]) -> Self {
        Self::start(JwksAnswer::Keys(keys.iter().map(|key| key.jwk()).collect())).await
    }

    pub fn answer(&self, answer: JwksAnswer) {
        *self.answer.lock().expect("answer lock") = answer;
    }

    /// Key set requests received so far.
    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn serve(mut socket: TcpStream, answer: Arc<Mutex<JwksAnswer>>, fetches: Arc<AtomicUsize>) {
    let mut buffer = Vec::new();
    while let Some(length) = read_request(&mut socket, &mut buffer).await {
        buffer.drain(..length);
        fetches.fetch_add(1, Ordering::SeqCst);
        let answer = answer.lock().expect("answer lock").clone();
        let (status, body) = match answer {
            JwksAnswer::Keys(keys) => (200, json!({ "keys": keys }).to_string()),
            JwksAnswer::Body(body) => (200, body),
            JwksAnswer::Status(status) => (status, String::new()),
            JwksAnswer::Hang => {
                let mut sink = [0u8; 1024];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                return;
            }
        };
        let response = format!(
            "HTTP/1.1 {status} Test\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}
