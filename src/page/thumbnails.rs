//! The thumbnails of a Flickr photo list, and nothing else: only URLs on Flickr's image host
//! are images; anything else in the response stays text.

use serde_json::Value;

/// At most this many thumbnails on one page; the page says how many there were.
pub const MAX_THUMBNAILS: usize = 100;

/// Flickr's image host (docs/API.md#pages-for-people); older URLs name a farm host.
pub const IMAGE_HOST: &str = "live.staticflickr.com";

/// The `url_*` extras of a photo, smallest square first: a thumbnail needs no more.
const URL_EXTRAS: [&str; 8] = [
    "url_q", "url_sq", "url_t", "url_s", "url_n", "url_m", "url_z", "url_c",
];

/// One photo as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// An `https` URL on Flickr's image host (checked here; escaped again by the template).
    pub src: String,
    /// The photo's title, or "Photo {id}" for an untitled one.
    pub alt: String,
}

/// The thumbnails of a response that holds a photo list (`photos.photo[]`, or a set's
/// `photoset.photo[]`), at most `MAX_THUMBNAILS`, and how many photos the list has.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PhotoList {
    pub thumbnails: Vec<Thumbnail>,
    pub total: usize,
}

/// The photo list of a Flickr response, if it holds one.
pub fn photo_list(flickr: &Value) -> Option<PhotoList> {
    let photos = ["photos", "photoset"]
        .iter()
        .find_map(|key| flickr.get(key)?.get("photo")?.as_array())?;
    let thumbnails = photos
        .iter()
        .filter_map(thumbnail)
        .take(MAX_THUMBNAILS)
        .collect();
    Some(PhotoList {
        thumbnails,
        total: photos.len(),
    })
}

/// The host of `url` when it is an image URL on Flickr's image host with a plain path, the
/// only URLs the page puts in an `src` (and whose hosts its CSP allows).
pub fn flickr_image_host(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    let farm = host
        .strip_suffix(".staticflickr.com")
        .and_then(|name| name.strip_prefix("farm"))
        .is_some_and(|number| is_digits(number, 3));
    let plain_path = !path.is_empty()
        && !path.contains("..")
        && path
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'_' | b'-' | b'.'));
    ((host == IMAGE_HOST || farm) && plain_path).then_some(host)
}

fn thumbnail(photo: &Value) -> Option<Thumbnail> {
    let src = URL_EXTRAS
        .iter()
        .filter_map(|key| photo.get(key)?.as_str())
        .find(|url| flickr_image_host(url).is_some())
        .map(str::to_string)
        .or_else(|| square_url(photo))?;
    let title = match photo.get("title") {
        Some(Value::String(title)) => Some(title.as_str()),
        // Some methods (photos.getInfo) wrap text as {"_content": "…"}.
        Some(title) => title.get("_content").and_then(Value::as_str),
        None => None,
    };
    let alt = match (title.map(str::trim), text(photo.get("id"))) {
        (Some(title), _) if !title.is_empty() => title.to_string(),
        (_, Some(id)) => format!("Photo {id}"),
        _ => "Photo".to_string(),
    };
    Some(Thumbnail { src, alt })
}

/// `https://live.staticflickr.com/{server}/{id}_{secret}_q.jpg`, Flickr's 150 px square, when
/// the photo's server, id and secret are what Flickr makes them (digits, digits, letters and
/// digits); anything else is not an image.
fn square_url(photo: &Value) -> Option<String> {
    let server = text(photo.get("server")).filter(|server| is_digits(server, 10))?;
    let id = text(photo.get("id")).filter(|id| is_digits(id, 20))?;
    let secret = text(photo.get("secret")).filter(|secret| {
        (1..=32).contains(&secret.len()) && secret.bytes().all(|byte| byte.is_ascii_alphanumeric())
    })?;
    Some(format!("https://{IMAGE_HOST}/{server}/{id}_{secret}_q.jpg"))
}

/// A string, or a number's digits (Flickr sends ids as strings, other JSON writers as numbers).
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn is_digits(text: &str, max_len: usize) -> bool {
    (1..=max_len).contains(&text.len()) && text.bytes().all(|byte| byte.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_search_result_gives_square_thumbnails() {
        let flickr = json!({"photos": {"page": 1, "total": 2, "photo": [
            {"id": "53912345678", "secret": "a1b2c3d4e5", "server": "65535", "farm": 66, "title": "Sunset"},
            {"id": 53912345679_u64, "secret": "ffee", "server": 7, "title": ""}
        ]}, "stat": "ok"});
        let list = photo_list(&flickr).unwrap();
        assert_eq!(list.total, 2);
        assert_eq!(
            list.thumbnails,
            vec![
                Thumbnail {
                    src: "https://live.staticflickr.com/65535/53912345678_a1b2c3d4e5_q.jpg".into(),
                    alt: "Sunset".into()
                },
                Thumbnail {
                    src: "https://live.staticflickr.com/7/53912345679_ffee_q.jpg".into(),
                    alt: "Photo 53912345679".into()
                },
            ]
        );
    }

    #[test]
    fn url_extras_on_the_image_host_come_first() {
        let flickr = json!({"photoset": {"photo": [
            {"id": "1", "secret": "s", "server": "2", "url_m": "https://live.staticflickr.com/2/1_s.jpg",
             "url_q": "https://farm3.staticflickr.com/2/1_s_q.jpg", "title": {"_content": "Set photo"}}
        ]}});
        let list = photo_list(&flickr).unwrap();
        assert_eq!(
            list.thumbnails[0].src,
            "https://farm3.staticflickr.com/2/1_s_q.jpg"
        );
        assert_eq!(list.thumbnails[0].alt, "Set photo");
    }

    #[test]
    fn urls_off_the_image_host_are_not_images() {
        for url in [
            "javascript:alert(1)",
            "http://live.staticflickr.com/1/2_3.jpg",
            "https://live.staticflickr.com.evil.example/1/2_3.jpg",
            "https://live.staticflickr.com@evil.example/1/2_3.jpg",
            "https://evil.example/live.staticflickr.com/1/2_3.jpg",
            "https://farmx.staticflickr.com/1/2_3.jpg",
            "https://farm1234.staticflickr.com/1/2_3.jpg",
            "https://staticflickr.com/1/2_3.jpg",
            "https://live.staticflickr.com/",
            "https://live.staticflickr.com/1/2_3.jpg\" onerror=\"alert(1)",
            "https://live.staticflickr.com/1/2_3.jpg?x=<script>",
            "https://live.staticflickr.com/../../x.jpg",
            "https://live.staticflickr.com/%2e%2e/x.jpg",
            "https://live.staticflickr.com\\@evil.example/x.jpg",
            "//live.staticflickr.com/1/2_3.jpg",
            "data:image/png;base64,AAAA",
        ] {
            assert_eq!(flickr_image_host(url), None, "{url}");
            let flickr = json!({"photos": {"photo": [{"url_q": url}]}});
            assert_eq!(photo_list(&flickr).unwrap().thumbnails, vec![], "{url}");
        }
        assert_eq!(
            flickr_image_host("https://farm66.staticflickr.com/65535/1_a.jpg"),
            Some("farm66.staticflickr.com")
        );
    }

    #[test]
    fn hostile_ids_and_secrets_make_no_image() {
        let flickr = json!({"photos": {"photo": [
            {"id": "1\"><script>", "secret": "a", "server": "1"},
            {"id": "1", "secret": "a/../../x", "server": "1"},
            {"id": "1", "secret": "a", "server": "javascript:"},
            {"id": "1", "secret": "", "server": "1"},
            {"id": "1", "server": "1"},
            {"id": {"x": 1}, "secret": "a", "server": "1"},
            "not a photo",
            7
        ]}});
        let list = photo_list(&flickr).unwrap();
        assert_eq!(list.total, 8);
        assert_eq!(list.thumbnails, vec![]);
    }

    #[test]
    fn titles_stay_as_given_for_the_template_to_escape() {
        let flickr = json!({"photos": {"photo": [
            {"id": "1", "secret": "a", "server": "1", "title": "<img src=x onerror=alert(1)>"}
        ]}});
        assert_eq!(
            photo_list(&flickr).unwrap().thumbnails[0].alt,
            "<img src=x onerror=alert(1)>"
        );
    }

    #[test]
    fn other_responses_hold_no_photo_list() {
        for flickr in [
            json!(null),
            json!({"stat": "ok"}),
            json!({"photos": {"photo": "nope"}}),
            json!({"photo": {"id": "1", "secret": "a", "server": "1"}}),
            json!([1, 2]),
        ] {
            assert_eq!(photo_list(&flickr), None, "{flickr}");
        }
    }

    #[test]
    fn long_lists_are_cut() {
        let photos: Vec<Value> = (0..250)
            .map(|n| json!({"id": n.to_string(), "secret": "ab", "server": "1"}))
            .collect();
        let list = photo_list(&json!({"photos": {"photo": photos}})).unwrap();
        assert_eq!(list.total, 250);
        assert_eq!(list.thumbnails.len(), MAX_THUMBNAILS);
    }
}
