//! Which representation a GET route of a job answers with: the JSON envelope, or a page when the
//! request's `Accept` prefers HTML (docs/API.md#pages-for-people).
//!
//! `mediatype` parses the list (quoted strings, parameters); the quality each of the two
//! representations gets follows RFC 9110 §12.4.2 and §12.5.1: the most specific range that
//! matches a type decides its quality, and a type no range matches is not acceptable.

use mediatype::{names, MediaType, MediaTypeList, Name, ReadParams};

/// The two ways a job can be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// The `{request_id, data, error}` envelope: the default, and what every API client gets.
    Json,
    /// A page for a person (a browser's navigation).
    Html,
}

/// The representation for a request whose `Accept` header values are `accept`, in order
/// (several header fields are one list, RFC 9110 §5.3). A page exactly when `text/html` gets
/// a higher quality than `application/json`; a tie, no `Accept`, or nothing acceptable is JSON.
pub fn representation<'a>(accept: impl IntoIterator<Item = &'a str>) -> Representation {
    let ranges: Vec<Range<'a>> = accept
        .into_iter()
        .flat_map(MediaTypeList::new)
        // An element that is not a media range is ignored, as if it had not been sent: a
        // malformed header never makes a request fail.
        .filter_map(Result::ok)
        .filter_map(Range::new)
        .collect();
    let html = quality(&ranges, names::TEXT, names::HTML);
    let json = quality(&ranges, names::APPLICATION, names::JSON);
    if html > json {
        Representation::Html
    } else {
        Representation::Json
    }
}

/// One media range of `Accept` with its weight, in thousandths (RFC 9110's three decimals).
struct Range<'a> {
    media: MediaType<'a>,
    quality: u16,
}

impl<'a> Range<'a> {
    fn new(media: MediaType<'a>) -> Option<Self> {
        // `*/html` is no media range (RFC 9110 §12.5.1), nor is a wildcard with a suffix.
        let star = names::_STAR;
        if (media.ty == star && media.subty != star)
            || (media.subty == star && media.suffix.is_some())
        {
            return None;
        }
        let quality = match media.get_param(names::Q) {
            Some(value) => parse_qvalue(value.as_str())?,
            None => 1000,
        };
        Some(Range { media, quality })
    }

    /// How specific the range is when it matches `ty/subty` (the representations' own
    /// parameter is `charset=utf-8`); `None` when it does not match.
    fn specificity(&self, ty: Name<'_>, subty: Name<'_>) -> Option<(u8, u8, usize)> {
        let star = names::_STAR;
        let type_matches = self.media.ty == star || self.media.ty == ty;
        let subtype_matches =
            self.media.subty == star || (self.media.subty == subty && self.media.suffix.is_none());
        let mut parameters = self
            .media
            .params
            .iter()
            .filter(|(name, _)| *name != names::Q);
        let parameters_match = parameters.clone().all(|(name, value)| {
            *name == names::CHARSET && value.unquoted_str().eq_ignore_ascii_case("utf-8")
        });
        (type_matches && subtype_matches && parameters_match).then(|| {
            (
                u8::from(self.media.ty != star),
                u8::from(self.media.subty != star),
                parameters.by_ref().count(),
            )
        })
    }
}

/// The quality of `ty/subty`: that of the most specific matching range (the first of equally
/// specific ones), 0 when none matches.
fn quality(ranges: &[Range<'_>], ty: Name<'_>, subty: Name<'_>) -> u16 {
    let mut best: Option<((u8, u8, usize), u16)> = None;
    for range in ranges {
        if let Some(specificity) = range.specificity(ty, subty) {
            if best.is_none_or(|(known, _)| specificity > known) {
                best = Some((specificity, range.quality));
            }
        }
    }
    best.map_or(0, |(_, quality)| quality)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
pub(crate) fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    if fraction.len() > 3 || !fraction.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    // "0.5" is 500 thousandths: pad the fraction to three digits.
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Representation::{Html, Json};

    /// Accept headers as real clients send them (their documentation or source), and the
    /// representation each must get.
    const CLIENTS: &[(&str, &str, Representation)] = &[
        (
            "Chrome, Edge, Opera navigation",
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
            Html,
        ),
        (
            "Firefox navigation",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            Html,
        ),
        (
            "Safari navigation",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            Html,
        ),
        ("curl", "*/*", Json),
        ("wget", "*/*", Json),
        ("Python requests", "*/*", Json),
        ("Node fetch (undici), browser fetch()", "*/*", Json),
        ("axios", "application/json, text/plain, */*", Json),
        ("HTTPie", "application/json, */*;q=0.5", Json),
        ("jQuery getJSON", "application/json, text/javascript, */*; q=0.01", Json),
        ("an explicit JSON client", "application/json", Json),
        (
            "Internet Explorer 8 (everything through */*, a tie)",
            "image/gif, image/jpeg, image/pjpeg, application/x-ms-application, application/xaml+xml, application/x-ms-xbap, */*",
            Json,
        ),
    ];

    #[test]
    fn real_clients_get_what_they_expect() {
        for (client, accept, expected) in CLIENTS {
            assert_eq!(representation([*accept]), *expected, "{client}: {accept}");
        }
    }

    #[test]
    fn no_accept_header_is_json() {
        assert_eq!(representation([]), Json);
        assert_eq!(representation([""]), Json);
        assert_eq!(representation(["   "]), Json);
    }

    #[test]
    fn quality_and_specificity_cases() {
        let cases: &[(&str, Representation)] = &[
            // Explicit, through */* and through text/*.
            ("text/html", Html),
            ("text/html;q=0.9, application/json;q=0.8", Html),
            ("text/html;q=0.8, application/json;q=0.9", Json),
            ("text/html, application/json", Json),
            ("application/json, text/html", Json),
            ("*/*;q=0.5, text/html", Html),
            ("text/*", Html),
            ("text/*, application/json;q=0.5", Html),
            ("text/*;q=0.5, application/json", Json),
            ("text/*;q=0.5, */*;q=0.4", Html),
            ("text/*;q=0.4, */*;q=0.5", Json),
            // Only text/html acceptable: a more specific q=0 excludes JSON from */*.
            ("*/*;q=0.1, application/json;q=0", Html),
            ("*/*, application/*;q=0", Html),
            // A more specific range overrides a less specific one, in either order.
            ("text/html;q=0, */*", Json),
            ("*/*, text/html;q=0", Json),
            ("text/*;q=1, text/html;q=0.1, application/json;q=0.2", Json),
            ("text/html;q=0.1, text/*;q=1, application/json;q=0.2", Json),
            // Nothing acceptable, or only something else: JSON, the default.
            ("text/html;q=0", Json),
            ("text/plain", Json),
            ("image/png, image/*;q=0.8", Json),
            // Media type parameters: ours is charset=utf-8.
            ("text/html;charset=utf-8", Html),
            ("text/html;charset=\"UTF-8\"", Html),
            ("text/html;charset=iso-8859-1", Json),
            ("text/html;level=1", Json),
            (
                "text/html;charset=utf-8;q=0.1, text/html;q=1, application/json;q=0.5",
                Json,
            ),
            // Case-insensitive names, optional whitespace around parameters.
            ("TEXT/HTML", Html),
            ("Text/Html ; Q=0.9 , Application/JSON ; q=0.5", Html),
            ("text/html;q=0.9,application/json;q=0.900", Json),
            // Suffixes are other types.
            ("application/vnd.api+json, text/html;q=0.5", Html),
            ("application/xhtml+xml", Json),
        ];
        for (accept, expected) in cases {
            assert_eq!(representation([*accept]), *expected, "{accept}");
        }
    }

    #[test]
    fn several_header_fields_are_one_list() {
        assert_eq!(
            representation(["application/json;q=0.5", "text/html"]),
            Html
        );
        assert_eq!(
            representation(["text/html;q=0.5", "application/json"]),
            Json
        );
        assert_eq!(representation(["*/*", "text/html;q=0"]), Json);
    }

    #[test]
    fn malformed_elements_are_ignored_never_fatal() {
        let cases: &[(&str, Representation)] = &[
            ("text/html;q=2, application/json;q=0.1", Json),
            ("text/html;q=1.5", Json),
            ("text/html;q=0.1234, application/json;q=0.1", Json),
            ("text/html;q=abc", Json),
            ("text/html;q=", Json),
            ("text/html;q=.5", Json),
            ("text/html;q=-1", Json),
            ("*/html", Json),
            ("html", Json),
            ("text/html,,, ,application/json;q=0.1", Html),
            ("garbage, text/html", Html),
            ("text/html;q=1.000, application/json;q=0.999", Html),
            ("\u{0}\u{7f}text/html", Json),
        ];
        for (accept, expected) in cases {
            assert_eq!(representation([*accept]), *expected, "{accept:?}");
        }
    }

    #[test]
    fn qvalues_follow_the_grammar() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1."), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.05"), Some(50));
        assert_eq!(parse_qvalue("0.001"), Some(1));
        for bad in [
            "1.001", "2", "0.0001", "", ".5", "0.5a", "+0.5", "01", "0,5",
        ] {
            assert_eq!(parse_qvalue(bad), None, "{bad}");
        }
    }
}
