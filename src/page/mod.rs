//! Pages for people: a job, or an error of the job routes, as one self-contained HTML document
//! with the headers that keep it safe (docs/API.md#pages-for-people).
//!
//! The templates (src/page/templates) are compiled into the binary by askama, which
//! HTML-escapes every value it writes; the stylesheet is the one value written unescaped.

mod headers;
mod job;
#[cfg(test)]
mod tests;
mod thumbnails;
mod view;

use askama::Template;

pub use headers::{content_security_policy, CONTENT_TYPE};
pub use job::job_page;
pub use thumbnails::{flickr_image_host, PhotoList, Thumbnail};
pub use view::{refresh, ErrorKind, JobPage, ProgressLine, Refresh, StateWords, Timestamp};

use headers::{security_headers, STYLE};

/// A rendered page: the document and every header it needs (`Vary` and the status line's own
/// headers are the route's).
#[derive(Debug)]
pub struct Page {
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobTemplate<'a> {
    page: &'a JobPage,
    style: &'static str,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate {
    kind: ErrorKind,
    style: &'static str,
}

/// The page of a job; a pending one carries its `Refresh` header.
pub fn render_job(page: &JobPage) -> Result<Page, askama::Error> {
    let body = JobTemplate { page, style: STYLE }.render()?;
    let image_hosts = page
        .photos
        .iter()
        .flat_map(|photos| &photos.thumbnails)
        .filter_map(|thumbnail| flickr_image_host(&thumbnail.src));
    let mut headers = security_headers(content_security_policy(image_hosts));
    if let Some(refresh) = &page.refresh {
        headers.push(("refresh", refresh.seconds.to_string()));
    }
    Ok(Page { body, headers })
}

/// The short page of an error.
pub fn render_error(kind: ErrorKind) -> Result<Page, askama::Error> {
    let body = ErrorTemplate { kind, style: STYLE }.render()?;
    let headers = security_headers(content_security_policy([]));
    Ok(Page { body, headers })
}
