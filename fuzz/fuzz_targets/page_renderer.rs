//! The HTML page renderer (src/page): any record that decodes, as its page. It never panics,
//! and nothing of the record escapes askama's escaping: no element of its own (`<script`, an
//! event handler), and every image is on Flickr's image hosts.
#![no_main]

use flickr_job_status::page::{flickr_image_host, job_page, refresh, render_job};
use flickr_job_status::store::decode_record;
use flickr_job_status::store::memory::typed_item;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(item) = typed_item(&value) else {
        return;
    };
    let Ok(job) = flickr_job_status_fuzz::runtime().block_on(decode_record(item).decode()) else {
        return;
    };
    let refresh = refresh(2, job.meta.updated_at, 1_764_158_400_000);
    let Ok(page) = job_page("fuzz-job", &job, Some(refresh)) else {
        return;
    };
    let page = render_job(&page).expect("a job page renders");
    let body = page.body.to_ascii_lowercase();
    assert!(!body.contains("<script"), "a script element");
    assert!(!body.contains("javascript:"), "a javascript: URL");
    for (at, _) in body.match_indices(" on") {
        // An attribute named on… inside a tag would be an event handler.
        let rest = &body[at + 3..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        if !name.is_empty() && rest[name.len()..].starts_with('=') {
            let before = &body[..at];
            assert!(
                before.rfind('>') > before.rfind('<'),
                "an event handler attribute: on{name}="
            );
        }
    }
    for (at, _) in page.body.match_indices("src=\"") {
        let url: String = page.body[at + 5..]
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        assert!(
            flickr_image_host(&url).is_some(),
            "an image from elsewhere than Flickr: {url}"
        );
    }
});
