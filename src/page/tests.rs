//! The rendered pages: structure, escaping of hostile record content, and the policy headers.

use base64::Engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;
use crate::jobs::{Job, Metadata, Progress};

/// Markup and script that record content may hold; each must reach the page only as text.
const HOSTILE: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "javascript:alert(3)",
    "</pre><script>alert(4)</script>",
    "\"><svg onload=alert(5)>",
    "' autofocus onfocus='alert(6)",
    "</style><script>alert(7)</script>",
    "<!-- --><base href=\"https://evil.example/\">",
    "&lt;already-escaped&gt;",
];

fn header<'a>(page: &'a Page, name: &str) -> Option<&'a str> {
    page.headers
        .iter()
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.as_str())
}

/// The tags of a document, as (name, the text between `<` and `>`). Every `<` of a page comes
/// from a template: escaped values have none.
fn tags(html: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>').expect("every tag is closed");
        let inside = &after[..end];
        let name: String = inside
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
            .collect();
        found.push((name.to_ascii_lowercase(), inside.to_string()));
        rest = &after[end + 1..];
    }
    found
}

const ALLOWED_TAGS: &[&str] = &[
    "!doctype", "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "p", "span",
    "dl", "dt", "dd", "code", "time", "progress", "pre", "ul", "li", "img",
];

/// What must hold of any page: only the templates' own tags, no event handler attribute, no
/// script, nothing loaded but Flickr images, and the stylesheet allowed by its hash.
fn assert_safe_document(page: &Page) {
    let body = &page.body;
    for (name, inside) in tags(body) {
        assert!(
            ALLOWED_TAGS.contains(&name.as_str()),
            "tag <{inside}> in\n{body}"
        );
        let lower = inside.to_ascii_lowercase();
        // The attribute names: the tag without its quoted values (escaped values hold no `"`).
        let names: String = lower.split('"').step_by(2).collect();
        assert!(!names.contains(" on"), "an event handler in <{inside}>");
        assert!(
            !names.contains('\''),
            "an unquoted or single-quoted value in <{inside}>"
        );
        if name == "img" {
            let src = lower.split("src=\"").nth(1).unwrap_or_default();
            assert!(
                src.starts_with("https://live.staticflickr.com/")
                    || (src.starts_with("https://farm") && src.contains(".staticflickr.com/")),
                "image from elsewhere: <{inside}>"
            );
        }
        assert!(!names.contains("href="), "a link or base in <{inside}>");
    }
    assert!(!body.to_ascii_lowercase().contains("<script"));
    assert!(!STYLE.contains("url(") && !STYLE.contains("@import"));

    let policy = header(page, "content-security-policy").unwrap();
    let style = body
        .split("<style>")
        .nth(1)
        .and_then(|rest| rest.split("</style>").next())
        .unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    assert!(
        policy.contains(&format!("style-src 'sha256-{hash}';")),
        "the inline style's hash {hash} is not the policy's: {policy}"
    );
    assert_eq!(body.matches("<style>").count(), 1);
    assert!(body.starts_with("<!doctype html>\n<html lang=\"en\">"));
    assert!(
        body.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#)
    );
    assert_eq!(body.matches("<h1>").count(), 1);
    assert_eq!(header(page, "content-type"), Some(CONTENT_TYPE));
    assert_eq!(header(page, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(page, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(page, "cache-control"), Some("no-store"));
    assert_eq!(header(page, "etag"), None);
}

/// `text` as askama writes it into a page.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

fn hostile_job(state: &str, text: &str) -> Job {
    Job {
        state: state.to_string(),
        returnvalue: json!({"from_cache": false, "flickr": {
            "stat": "ok",
            "note": text,
            "photos": {"photo": [
                {"id": "1", "secret": "ab", "server": "2", "title": text},
                {"id": "3", "secret": "cd", "server": "4", "title": "fine", "url_q": text},
                {"id": text, "secret": text, "server": text, "title": text}
            ]}
        }}),
        failed_reason: Some(text.to_string()),
        stacktrace: json!([text]),
        target: Some("rest".into()),
        meta: Metadata {
            progress: Some(Progress {
                percent: None,
                stage: Some(text.to_string()),
                message: Some(text.to_string()),
            }),
            ..Metadata::default()
        },
    }
}

#[test]
fn hostile_content_is_only_ever_text() {
    for text in HOSTILE {
        for state in ["completed", "failed", "queued", text] {
            let job = hostile_job(state, text);
            let page =
                render_job(&job_page(text, &job, Some(refresh(2, None, 0))).unwrap()).unwrap();
            assert_safe_document(&page);
            // The job id, failedReason and progress are in the page, escaped.
            assert!(page.body.contains(&escaped(text)), "{state}: {text}");
            if *text != "javascript:alert(3)" {
                assert!(
                    !page.body.contains(text),
                    "{text} unescaped in\n{}",
                    page.body
                );
            }
        }
    }
}

#[test]
fn a_completed_page_shows_the_pretty_response_and_thumbnails() {
    let job = hostile_job("completed", "</pre><script>alert(4)</script>");
    let page = render_job(&job_page("job-1", &job, None).unwrap()).unwrap();
    assert_safe_document(&page);
    let body = &page.body;
    assert!(body
        .contains("<h1>Flickr job: <span class=\"state state-completed\">Completed</span></h1>"));
    // Pretty-printed (two-space indentation), quotes escaped, inside one <pre>.
    assert!(
        body.contains("<pre>{\n  &#34;note&#34;: &#34;&#60;/pre&#62;&#60;script&#62;"),
        "{body}"
    );
    assert_eq!(body.matches("<pre>").count(), 1);
    assert!(body.contains(
        r#"<img src="https://live.staticflickr.com/2/1_ab_q.jpg" alt="&#60;/pre&#62;&#60;script&#62;alert(4)&#60;/script&#62;""#
    ));
    // The photo whose url_q is no Flickr URL falls back to its server/id/secret; the third has
    // neither and is not an image.
    assert!(body.contains(r#"<img src="https://live.staticflickr.com/4/3_cd_q.jpg" alt="fine""#));
    assert_eq!(body.matches("<img ").count(), 2);
    assert!(!body.contains("Why it failed"));
    assert_eq!(header(&page, "refresh"), None);
}

#[test]
fn a_failed_page_shows_the_reason_and_never_the_stack() {
    let mut job = hostile_job("failed", "<b>bold</b>");
    job.stacktrace = json!(["at worker.js:1 secret-stack-line"]);
    let page = render_job(&job_page("job-1", &job, Some(refresh(2, None, 0))).unwrap()).unwrap();
    assert_safe_document(&page);
    assert!(page
        .body
        .contains("<h2>Why it failed</h2>\n<p class=\"reason\">&#60;b&#62;bold&#60;/b&#62;</p>"));
    assert!(!page.body.contains("secret-stack-line"));
    assert!(!page.body.contains("Flickr response"));
    assert_eq!(header(&page, "refresh"), None, "a failed job is terminal");
}

#[test]
fn a_pending_page_refreshes_and_says_so() {
    let job = hostile_job("queued", "upload");
    let page = render_job(&job_page("job-1", &job, Some(refresh(3, None, 0))).unwrap()).unwrap();
    assert_safe_document(&page);
    assert_eq!(header(&page, "refresh"), Some("3"));
    assert!(page.body.contains(
        "<p class=\"refresh\" role=\"status\">This page refreshes itself every 3 seconds until the job has finished.</p>"
    ));
    assert!(page
        .body
        .contains("<dt>Progress</dt><dd>upload · upload</dd>"));
    assert!(!page.body.contains("Flickr response"));
}

#[test]
fn progress_shows_a_bar_within_range() {
    let mut job = hostile_job("retrying", "x");
    job.meta.progress = Some(Progress {
        percent: Some(serde_json::Number::from(40)),
        stage: None,
        message: None,
    });
    let page = render_job(&job_page("job-1", &job, None).unwrap()).unwrap();
    assert!(
        page.body.contains(
            "<dd><progress max=\"100\" value=\"40\" aria-label=\"Progress\"></progress> 40\u{a0}%</dd>"
        ),
        "{}",
        page.body
    );
}

#[test]
fn error_pages_are_short_and_safe() {
    for (kind, heading) in [
        (
            ErrorKind::Unauthorized,
            "This link has expired or is not valid",
        ),
        (ErrorKind::NotFound, "Job not found"),
        (ErrorKind::Unavailable, "The job cannot be shown just now"),
        (ErrorKind::Internal, "Something went wrong"),
        (ErrorKind::BadAddress, "This address is not valid"),
    ] {
        let page = render_error(kind).unwrap();
        assert_safe_document(&page);
        assert!(
            page.body
                .contains(&format!("<h1>{}</h1>", escaped(heading))),
            "{}",
            page.body
        );
        assert_eq!(header(&page, "refresh"), None);
        assert!(page.body.len() < 4000, "a short page");
    }
}

#[test]
fn the_templates_write_nothing_unescaped_but_the_stylesheet() {
    let templates = [
        include_str!("templates/base.html"),
        include_str!("templates/job.html"),
        include_str!("templates/error.html"),
    ];
    let unescaped: usize = templates
        .iter()
        .map(|template| template.matches("|safe").count() + template.matches("| safe").count())
        .sum();
    assert_eq!(unescaped, 1);
    assert!(templates[0].contains("<style>{{ style|safe }}</style>"));
    assert!(templates
        .iter()
        .all(|template| !template.contains("autoescape")));
}
