//! What the many-jobs routes share: the caller they require (a share token is no identity
//! there), the summary of a job, and the per-job error elements
//! (docs/API.md#get-jobs--the-callers-jobs, docs/API.md#post-jobsbatch--many-jobs-by-id).

use std::time::SystemTime;

use serde::Serialize;

use super::{readable_job, App, Exchange};
use crate::auth::{Caller, Refusal};
use crate::error::ApiError;
use crate::jobs::{queue_for, rfc3339_millis, Job, ProgressView};
use crate::store::{JobStore, StoredJob};

/// One job of a listing or a batch: its summary, or why it cannot be shown.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum Element<'a> {
    Summary(Summary<'a>),
    Error { id: &'a str, error: ElementError },
}

/// `{"id", "state", "queue", "failedReason", "progress", "attempts", "created_at", "updated_at"}`,
/// values as in the status object of `GET /jobs/{job_id}`.
#[derive(Debug, Serialize)]
pub(super) struct Summary<'a> {
    id: &'a str,
    state: &'a str,
    queue: Option<&'static str>,
    #[serde(rename = "failedReason")]
    failed_reason: Option<&'a str>,
    progress: Option<ProgressView<'a>>,
    attempts: Option<&'a serde_json::Number>,
    created_at: Option<String>,
    updated_at: Option<String>,
}

/// The `error` of an element: code and message of the route-level error it stands for, so that
/// a not-found element reads exactly like the 404 of a single job.
#[derive(Debug, Serialize)]
pub(super) struct ElementError {
    code: &'static str,
    message: String,
}

/// A record read for the caller, judged as a single read is: expiry and ownership first (→ not
/// found), then the summary fields' validity (→ internal).
pub(super) type Judged = (String, Result<Job, ApiError>);

/// Summaries are read without `returnvalue` (`StoredJob::summary_only`), so decoding never
/// waits for a decompression permit here: no deadline is needed.
pub(super) async fn judge(
    job_id: String,
    record: Option<StoredJob>,
    caller: &Caller,
    now: SystemTime,
) -> Judged {
    let judged = readable_job(record, &job_id, |owner| owner == caller.user_id, now, None).await;
    (job_id, judged)
}

impl<'a> Element<'a> {
    pub(super) fn of((job_id, judged): &'a Judged) -> Self {
        match judged {
            Ok(job) => Element::Summary(Summary {
                id: job_id,
                state: &job.state,
                queue: queue_for(job.target.as_deref()),
                failed_reason: job.failed_reason.as_deref(),
                progress: job.meta.progress.as_ref().map(ProgressView::from),
                attempts: job.meta.attempts.as_ref(),
                created_at: job.meta.created_at.map(rfc3339_millis),
                updated_at: job.meta.updated_at.map(rfc3339_millis),
            }),
            Err(error) => {
                // Only these two come out of `readable_job`; anything else is internal too.
                let error = match error {
                    ApiError::JobNotFound => ApiError::JobNotFound,
                    _ => ApiError::Internal,
                };
                Element::Error {
                    id: job_id,
                    error: ElementError {
                        code: error.code(),
                        message: error.message().to_string(),
                    },
                }
            }
        }
    }
}

impl<S: JobStore> App<S> {
    /// The caller's identity, required. A `?token=` is refused outright: share tokens grant
    /// one job, never a listing or a batch.
    pub(super) async fn required_caller(
        &self,
        exchange: &Exchange<'_>,
    ) -> Result<Caller, ApiError> {
        if exchange.request.query_values("token").next().is_some() {
            return Err(ApiError::Unauthorized(Refusal::ShareTokenNotIdentity));
        }
        self.caller(exchange)
            .await?
            .ok_or(ApiError::Unauthorized(Refusal::Missing))
    }
}
