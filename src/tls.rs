//! The one trust set-up for outgoing TLS: Mozilla's root certificates compiled into the binary,
//! for DynamoDB (through the SDK) and for the identity provider's key set.

use base64::Engine;
use rustls::pki_types::CertificateDer;

/// The roots, as DER (webpki-root-certs). Reading the system's certificate directory instead
/// would cost milliseconds of every cold start.
pub fn root_certificates() -> &'static [CertificateDer<'static>] {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
}

/// The roots as rustls takes them (the key-set fetch).
pub fn root_store() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(root_certificates().iter().cloned());
    roots
}

/// One root as PEM: the SDK's `TrustStore` takes PEM only.
pub fn pem(der: &[u8]) -> Vec<u8> {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::with_capacity(body.len() + body.len() / 64 + 64);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the SDK does with the trust store on its first request (a failure there panics).
    #[test]
    fn every_compiled_in_root_survives_the_pem_round_trip_as_a_trust_anchor() {
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for der in root_certificates() {
            let parsed = CertificateDer::pem_slice_iter(&pem(der))
                .collect::<Result<Vec<_>, _>>()
                .expect("valid PEM");
            assert_eq!(parsed, std::slice::from_ref(der));
            roots.add(der.clone()).expect("a trust anchor");
        }
        assert!(roots.len() > 100, "{} roots", roots.len());
        assert_eq!(
            root_store().len(),
            roots.len(),
            "the key-set fetch trusts the same roots"
        );
    }
}
