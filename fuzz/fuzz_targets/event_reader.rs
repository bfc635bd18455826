//! The raw event reader (src/http/event.rs): any bytes as a Lambda event, in every payload
//! format (REST 1.0, HTTP API 2.0, function URL, ALB). It never panics; what it reads back is
//! consistent (a path, a method; every header value it reports is one of the request's).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(request) = flickr_job_status::http::event::parse_event(raw) {
        // Every accessor on the request must be total.
        for name in [
            "authorization",
            "content-type",
            "accept",
            "prefer",
            "if-none-match",
        ] {
            let first = request.header(name);
            let mut all = request.header_values(name);
            assert_eq!(
                first,
                all.next(),
                "header() is the first of header_values()"
            );
        }
        for name in ["token", "job_id"] {
            request.query_values(name).for_each(drop);
        }
    }
});
