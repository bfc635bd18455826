//! Response compression (docs/API.md#compression-and-size-limits): what a request's
//! `Accept-Encoding` accepts (RFC 9110 §12.5.3, q-values, `identity;q=0`, `*`), and gzip.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::negotiate::parse_qvalue;

/// Bodies shorter than this are sent as they are (unless the client refuses `identity`): gzip's
/// 18-byte frame and the base64 of the Lambda payload eat what it would save.
pub const MIN_COMPRESSED_BODY: usize = 1024;

/// The deflate level, chosen by measurement (docs/performance.md#compressed-answers): on zlib-rs,
/// level 4 takes the 362 KB 500-photo result to within 5% of level 6's size at two thirds of
/// its CPU, and 22% smaller than level 1.
const LEVEL: u32 = 4;

/// How much a request accepts gzip and the unencoded body, in thousandths (RFC 9110's qvalues).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptEncoding {
    gzip: u16,
    identity: u16,
}

impl Default for AcceptEncoding {
    /// No `Accept-Encoding`: the body as it is. (RFC 9110 allows any coding then; clients that
    /// can decode gzip say so, and one that says nothing may be a tool that cannot.)
    fn default() -> Self {
        AcceptEncoding {
            gzip: 0,
            identity: 1000,
        }
    }
}

impl AcceptEncoding {
    /// The request's `Accept-Encoding` values, in order (several fields are one list). Elements
    /// that cannot be read are ignored, never an error; of two elements for one coding, the
    /// first counts. `x-gzip` is gzip (RFC 9110 §8.4.1.3); `*` stands for every coding not
    /// named, `identity` included.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let (mut gzip, mut identity, mut star) = (None, None, None);
        let mut any_value = false;
        for element in values.into_iter().flat_map(|value| value.split(',')) {
            any_value = true;
            let mut parts = element.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            if coding.is_empty() {
                continue;
            }
            let mut quality = Some(1000);
            for parameter in parts {
                let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
                if name.trim().eq_ignore_ascii_case("q") {
                    quality = parse_qvalue(value.trim());
                }
            }
            let Some(quality) = quality else { continue };
            let slot =
                if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                    &mut gzip
                } else if coding.eq_ignore_ascii_case("identity") {
                    &mut identity
                } else if coding == "*" {
                    &mut star
                } else {
                    continue;
                };
            slot.get_or_insert(quality);
        }
        if !any_value {
            return Self::default();
        }
        AcceptEncoding {
            gzip: gzip.or(star).unwrap_or(0),
            // identity is acceptable unless refused by name, or by `*;q=0` without its name;
            // unnamed, it ranks below every coding the client names (`gzip;q=0.8` asks for gzip).
            identity: identity.or(star).unwrap_or(1),
        }
    }

    pub fn accepts_gzip(&self) -> bool {
        self.gzip > 0
    }

    /// Whether a body of `len` bytes goes out gzip-compressed: when gzip is accepted and the
    /// body is large enough, unless the client ranks identity above gzip; always when gzip is
    /// accepted and identity is refused. A client that refuses both gets the body as it is.
    pub fn prefers_gzip(&self, len: usize) -> bool {
        self.gzip > 0
            && (self.identity == 0 || (len >= MIN_COMPRESSED_BODY && self.gzip >= self.identity))
    }
}

/// `body` gzip-compressed (one member, no file name or time, so equal bodies compress alike).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        Compression::new(LEVEL),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn parse(value: &str) -> AcceptEncoding {
        AcceptEncoding::parse([value])
    }

    #[test]
    fn what_clients_send() {
        for value in [
            "gzip, deflate, br, zstd",
            "gzip, deflate",
            "gzip",
            "deflate, gzip;q=1.0, *;q=0.5",
            "x-gzip",
            "*",
            "br;q=1, gzip;q=0.8",
            "GZIP",
            "identity;q=0, gzip",
        ] {
            assert!(parse(value).accepts_gzip(), "{value}");
            assert!(parse(value).prefers_gzip(MIN_COMPRESSED_BODY), "{value}");
        }
        for value in [
            "",
            "identity",
            "br, deflate",
            "gzip;q=0",
            "*;q=0",
            "gzip;q=0, *",
            "x-gzip;q=0",
        ] {
            assert!(!parse(value).accepts_gzip(), "{value:?}");
        }
        assert!(!AcceptEncoding::parse([]).accepts_gzip(), "no header");
    }

    #[test]
    fn size_and_preference_decide() {
        let gzip = parse("gzip");
        assert!(!gzip.prefers_gzip(MIN_COMPRESSED_BODY - 1));
        assert!(gzip.prefers_gzip(MIN_COMPRESSED_BODY));
        // identity refused: gzip whatever the size.
        assert!(parse("gzip, identity;q=0").prefers_gzip(10));
        assert!(parse("gzip, *;q=0").prefers_gzip(10));
        // identity ranked above gzip: as it is (gzip stays acceptable for the size limit).
        let lower = parse("gzip;q=0.5, identity");
        assert!(!lower.prefers_gzip(100_000));
        assert!(lower.accepts_gzip());
        assert!(parse("gzip;q=0.5, identity;q=0.5").prefers_gzip(100_000));
        // Refusing both: the body as it is (RFC 9110 allows it; a 406 only for the size limit).
        assert!(!parse("identity;q=0").prefers_gzip(100_000));
    }

    #[test]
    fn malformed_elements_are_ignored() {
        for value in [
            "gzip;q=2",
            "gzip;q=abc",
            "gzip;q=",
            "gzip;q=-1",
            ",,, ,",
            "\u{0}gzip",
        ] {
            assert!(!parse(value).accepts_gzip(), "{value:?}");
        }
        assert!(
            parse("gzip;q=2, , x-gzip").accepts_gzip(),
            "a later good element counts"
        );
        assert!(parse("gzip ; Q=0.5").accepts_gzip());
        assert!(
            AcceptEncoding::parse(["br", "gzip"]).accepts_gzip(),
            "several fields"
        );
        // The first element for a coding counts.
        assert!(!parse("gzip;q=0, gzip").accepts_gzip());
    }

    #[test]
    fn gzip_round_trips() {
        let body = br#"{"photos":{"photo":[{"id":"1","title":"a"}]}}"#.repeat(100);
        let compressed = gzip(&body);
        assert!(compressed.len() < body.len() / 10);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, body);
        assert_eq!(gzip(&body), compressed, "deterministic");
    }
}
