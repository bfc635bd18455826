//! The job routes' answers as pages for people, when `Accept` prefers HTML: the same status
//! code as the envelope would have, the page's own headers, and `Vary: Accept` on every answer
//! of these routes, JSON or page (docs/API.md#pages-for-people).

use std::time::{SystemTime, UNIX_EPOCH};

use super::job::JobAnswer;
use super::{App, Exchange};
use crate::error::ApiError;
use crate::http::negotiate::{representation, Representation};
use crate::http::routes::job_path;
use crate::http::{Request, Response};
use crate::jobs::JobResult;
use crate::page::{self, ErrorKind};
use crate::store::JobStore;

/// What the request's `Accept` asks for.
pub(super) fn shown_as(request: &Request) -> Representation {
    representation(request.header_values("accept"))
}

impl<S: JobStore> App<S> {
    /// A job route's answer as a page. The status route's page has no `ETag` (and so never a
    /// 304): the tag is the JSON's.
    pub(super) fn page(&self, job_id: &str, answer: JobAnswer) -> Result<Response, ApiError> {
        let (status, job) = match answer {
            JobAnswer::Status { job, .. } | JobAnswer::Completed { job } => (200, job),
            JobAnswer::Pending { job } => (202, job),
            JobAnswer::Failed { job } => (409, job),
        };
        let refresh = (!job.is_terminal()).then(|| {
            page::refresh(
                self.settings.poll_interval_seconds,
                job.meta.updated_at,
                now_ms(),
            )
        });
        let view = page::job_page(job_id, &job, refresh).map_err(|error| {
            tracing::error!(%error, "could not pretty-print the Flickr response");
            ApiError::Internal
        })?;
        let rendered = page::render_job(&view).map_err(|error| {
            tracing::error!(%error, "could not render the job page");
            ApiError::Internal
        })?;
        let mut response = Response::html(status, rendered.body, rendered.headers);
        if status == 202 {
            response = response.with_header("location", job_path(job_id));
        }
        if let JobResult::Completed {
            from_cache: Some(from_cache),
            ..
        } = job.result()
        {
            response = response.with_header("x-from-cache", from_cache.to_string());
        }
        Ok(self.poll_hint(response, &job))
    }
}

/// Every answer of a job route: an error becomes a short page when `Accept` prefers HTML, and
/// each answer says that it depends on `Accept`.
pub(super) fn job_route_answer(
    answer: Result<Response, ApiError>,
    exchange: &mut Exchange<'_>,
) -> Response {
    let response = match answer {
        Ok(response) => response,
        Err(error) => {
            exchange.note_error(&error);
            match shown_as(exchange.request) {
                Representation::Html => error_page(error),
                Representation::Json => error.into(),
            }
        }
    };
    response.with_header("vary", "Accept")
}

/// The short page of an error, with the error's own headers (`WWW-Authenticate`,
/// `Retry-After`); the envelope if the page cannot be rendered.
fn error_page(error: ApiError) -> Response {
    let status = error.status();
    match page::render_error(ErrorKind::for_status(status)) {
        Ok(rendered) => error.headers().into_iter().fold(
            Response::html(status, rendered.body, rendered.headers),
            |response, (name, value)| response.with_header(name, value),
        ),
        Err(render_error) => {
            tracing::error!(error = %render_error, "could not render the error page");
            error.into()
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}
