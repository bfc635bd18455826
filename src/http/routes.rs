//! Method and path → the route it addresses, or the 404/405 that answers it.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::ApiError;

pub const BASE_PATH: &str = "/api/v1/flickr";
const JOBS_PREFIX: &str = "/api/v1/flickr/jobs/";
/// `GET /jobs`: the collection itself (no trailing slash).
const JOBS_COLLECTION: &str = "/api/v1/flickr/jobs";
/// RFC 3986 unreserved characters stay as they are; everything else in a segment is encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The routes of the API. Job ids are the path segment as sent, still percent-encoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// `POST /jobs/status`: the original API.
    LegacyStatus,
    /// `GET /jobs/{job_id}`.
    JobStatus(&'a str),
    /// `GET /jobs/{job_id}/result`.
    JobResult(&'a str),
    /// `POST /jobs/{job_id}/share`.
    Share(&'a str),
    /// `GET /jobs`: the caller's jobs.
    ListJobs,
    /// `POST /jobs/batch`: many jobs by id.
    Batch,
}

impl Route<'_> {
    /// A short name for logs and metrics (never the job id).
    pub fn name(&self) -> &'static str {
        match self {
            Route::LegacyStatus => "status",
            Route::JobStatus(_) => "job",
            Route::JobResult(_) => "result",
            Route::Share(_) => "share",
            Route::ListJobs => "list",
            Route::Batch => "batch",
        }
    }
}

/// `/api/v1/flickr/jobs/{job_id}` with the id encoded as one path segment. The dots of `.` and
/// `..` are encoded too: as they are, they would not be a segment at all (clients still
/// normalise even `%2E`, which is why such ids cannot be shared).
pub fn job_path(job_id: &str) -> String {
    match job_id {
        "." => format!("{BASE_PATH}/jobs/%2E"),
        ".." => format!("{BASE_PATH}/jobs/%2E%2E"),
        _ => format!(
            "{BASE_PATH}/jobs/{}",
            utf8_percent_encode(job_id, PATH_SEGMENT)
        ),
    }
}

pub fn route<'a>(method: &str, path: &'a str) -> Result<Route<'a>, ApiError> {
    if path == JOBS_COLLECTION {
        return allowed(method, Route::ListJobs, "GET");
    }
    let rest = path
        .strip_prefix(JOBS_PREFIX)
        .ok_or(ApiError::RouteNotFound)?;
    let mut segments = rest.split('/');
    let first = segments.next().unwrap_or_default();
    let second = segments.next();
    if first.is_empty() || segments.next().is_some() {
        return Err(ApiError::RouteNotFound);
    }
    let (route, allow) = match second {
        // The bare `/jobs/status` is the original endpoint, never a job id.
        None if first == "status" => (Route::LegacyStatus, "POST"),
        // So is `/jobs/batch`; `/jobs/batch/result` addresses a job whose id is `batch`.
        None if first == "batch" => (Route::Batch, "POST"),
        None => (Route::JobStatus(first), "GET"),
        Some("result") => (Route::JobResult(first), "GET"),
        Some("share") => (Route::Share(first), "POST"),
        Some(_) => return Err(ApiError::RouteNotFound),
    };
    allowed(method, route, allow)
}

fn allowed<'a>(method: &str, route: Route<'a>, allow: &'static str) -> Result<Route<'a>, ApiError> {
    if method == allow {
        Ok(route)
    } else {
        Err(ApiError::MethodNotAllowed { allow })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_paths_encode_one_segment() {
        assert_eq!(job_path("abc-1._~"), "/api/v1/flickr/jobs/abc-1._~");
        assert_eq!(
            job_path("a/b?c d#é"),
            "/api/v1/flickr/jobs/a%2Fb%3Fc%20d%23%C3%A9"
        );
        assert_eq!(job_path("."), "/api/v1/flickr/jobs/%2E");
        assert_eq!(job_path(".."), "/api/v1/flickr/jobs/%2E%2E");
        assert_eq!(job_path("..."), "/api/v1/flickr/jobs/...");
    }

    #[test]
    fn known_routes() {
        assert_eq!(
            route("POST", "/api/v1/flickr/jobs/status"),
            Ok(Route::LegacyStatus)
        );
        assert_eq!(
            route("GET", "/api/v1/flickr/jobs/abc"),
            Ok(Route::JobStatus("abc"))
        );
        assert_eq!(
            route("GET", "/api/v1/flickr/jobs/a%2Fb/result"),
            Ok(Route::JobResult("a%2Fb"))
        );
        assert_eq!(
            route("POST", "/api/v1/flickr/jobs/abc/share"),
            Ok(Route::Share("abc"))
        );
    }

    #[test]
    fn status_is_an_id_below_the_bare_path() {
        assert_eq!(
            route("GET", "/api/v1/flickr/jobs/status/result"),
            Ok(Route::JobResult("status"))
        );
        assert_eq!(
            route("POST", "/api/v1/flickr/jobs/status/share"),
            Ok(Route::Share("status"))
        );
    }

    #[test]
    fn the_collection_and_the_batch() {
        assert_eq!(route("GET", "/api/v1/flickr/jobs"), Ok(Route::ListJobs));
        assert_eq!(
            route("POST", "/api/v1/flickr/jobs"),
            Err(ApiError::MethodNotAllowed { allow: "GET" })
        );
        assert_eq!(route("POST", "/api/v1/flickr/jobs/batch"), Ok(Route::Batch));
        assert_eq!(
            route("GET", "/api/v1/flickr/jobs/batch"),
            Err(ApiError::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(
            route("GET", "/api/v1/flickr/jobs/batch/result"),
            Ok(Route::JobResult("batch"))
        );
        assert_eq!(
            route("GET", "/api/v1/flickr/jobs/"),
            Err(ApiError::RouteNotFound)
        );
    }

    #[test]
    fn wrong_method_names_the_allowed_one() {
        assert_eq!(
            route("GET", "/api/v1/flickr/jobs/status"),
            Err(ApiError::MethodNotAllowed { allow: "POST" })
        );
        assert_eq!(
            route("DELETE", "/api/v1/flickr/jobs/abc"),
            Err(ApiError::MethodNotAllowed { allow: "GET" })
        );
        assert_eq!(
            route("GET", "/api/v1/flickr/jobs/abc/share"),
            Err(ApiError::MethodNotAllowed { allow: "POST" })
        );
    }

    #[test]
    fn unknown_paths() {
        for path in [
            "/",
            "/api/v1/flickr/jobs/",
            "/api/v1/flickr/jobs//result",
            "/api/v1/flickr/jobs/abc/",
            "/api/v1/flickr/jobs/abc/other",
            "/api/v1/flickr/jobs/abc/result/x",
            "/api/v2/flickr/jobs/status",
        ] {
            assert_eq!(route("GET", path), Err(ApiError::RouteNotFound), "{path}");
        }
    }
}
