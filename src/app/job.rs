//! `GET /jobs/{job_id}` and `GET /jobs/{job_id}/result`: read the job, decide what there is to
//! say about it (a `JobAnswer`), then represent that answer (docs/API.md#get-jobsjob_id--status-by-url).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;
use tokio::time::Instant;

use super::wait::{self, End, Hold, Limits, Reread};
use super::{readable_job, to_raw, App, Exchange, Reader};
use crate::error::ApiError;
use crate::http::input::path_id;
use crate::http::negotiate::Representation;
use crate::http::routes::job_path;
use crate::http::{Request, Response};
use crate::jobs::{entity_tag, if_none_match, Job, JobResult, PendingView};
use crate::store::{JobStore, Projection};

/// GET answers may be kept by the client but must be revalidated (they carry an ETag).
const REVALIDATE: &str = "private, no-cache";

/// What a GET route of a job has to say about it, before it is represented.
#[derive(Debug)]
pub(super) enum JobAnswer {
    /// `GET /jobs/{job_id}`: the status object and its tag; `not_modified` when the client's
    /// `If-None-Match` already holds it (304).
    Status {
        job: Job,
        data: Box<RawValue>,
        etag: String,
        not_modified: bool,
    },
    /// The result route, for a completed job: its Flickr response (200).
    Completed { job: Job },
    /// The result route, for a job still pending (202).
    Pending { job: Job },
    /// The result route, for a failed job (409).
    Failed { job: Job },
}

impl JobAnswer {
    /// "Nothing new" for a client that waits: it already has this status (304), or the result
    /// is still pending (202).
    pub(super) fn is_nothing_new(&self) -> bool {
        matches!(
            self,
            JobAnswer::Status {
                not_modified: true,
                ..
            } | JobAnswer::Pending { .. }
        )
    }

    fn job(&self) -> &Job {
        match self {
            JobAnswer::Status { job, .. }
            | JobAnswer::Completed { job }
            | JobAnswer::Pending { job }
            | JobAnswer::Failed { job } => job,
        }
    }
}

impl<S: JobStore> App<S> {
    pub(super) async fn job_status(
        &self,
        exchange: &mut Exchange<'_>,
        segment: &str,
    ) -> Result<Response, ApiError> {
        let (job_id, reader, job) = self.readable(exchange, segment).await?;
        let request = exchange.request;
        let answer = status_answer(&job_id, job, request)?;
        self.answer_or_wait(exchange, &job_id, &reader, answer, |job| {
            status_answer(&job_id, job, request)
        })
        .await
    }

    pub(super) async fn job_result(
        &self,
        exchange: &mut Exchange<'_>,
        segment: &str,
    ) -> Result<Response, ApiError> {
        let (job_id, reader, job) = self.readable(exchange, segment).await?;
        let answer = result_answer(job);
        self.answer_or_wait(exchange, &job_id, &reader, answer, |job| {
            Ok(result_answer(job))
        })
        .await
    }

    /// The job the path names, read for whoever may read it (its owner, or a share link's
    /// holder), with that reader (a wait re-reads for it, and until its credentials end).
    async fn readable(
        &self,
        exchange: &mut Exchange<'_>,
        segment: &str,
    ) -> Result<(String, Reader, Job), ApiError> {
        let job_id = path_id(segment)?;
        let reader = self.reader(exchange, &job_id).await?;
        let job = self
            .read_job(exchange, &job_id, Projection::Job, |owner| {
                reader.may_read(owner)
            })
            .await?;
        Ok((job_id, reader, job))
    }

    /// The answer, at once or, when it is "nothing new" and the client prefers to wait, at the
    /// first re-read that has something new or at the end of the wait
    /// (docs/API.md#waiting-for-a-change-prefer-wait). `decide` is the route's own answer to a
    /// record, so a held request ends exactly when the route would say something else.
    async fn answer_or_wait(
        &self,
        exchange: &mut Exchange<'_>,
        job_id: &str,
        reader: &Reader,
        first: JobAnswer,
        decide: impl Fn(Job) -> Result<JobAnswer, ApiError>,
    ) -> Result<Response, ApiError> {
        let shown_as = super::page::shown_as(exchange.request);
        // A page is never a 304: a status that the client already has is a page like any other.
        let page_of_status =
            shown_as == Representation::Html && matches!(first, JobAnswer::Status { .. });
        let budget = (!page_of_status)
            .then(|| self.wait_budget(exchange, reader, &first))
            .flatten();
        let Some(budget) = budget else {
            return self.represent(job_id, first, shown_as);
        };
        let mut hold = Hold::start(budget, self.settings.wait_poll_interval);
        let mut latest = first;
        let outcome = loop {
            if !hold.next_read().await {
                break Ok(None);
            }
            let reread = hold.reread(self.store.get_job(job_id, Projection::Job), |error| {
                // Skipped, never the answer: the first read succeeded (no 503 after it).
                tracing::warn!(?error, "re-read during a wait failed: skipped");
                true
            });
            match reread.await {
                Ok(Reread::Over) => break Ok(None),
                Ok(Reread::Failed) | Err(_) => continue,
                Ok(Reread::Answered(record)) => {
                    let may_read = |owner: &str| reader.may_read(owner);
                    let answer_by = super::answer_by(exchange.deadline);
                    let job =
                        readable_job(record, job_id, may_read, SystemTime::now(), answer_by).await;
                    match job.and_then(&decide) {
                        Ok(answer) if answer.is_nothing_new() => latest = answer,
                        answer => break answer.map(Some),
                    }
                }
            }
        };
        let outcome = match outcome {
            Ok(None) if hold.end() == End::CredentialsExpire => {
                self.expired_credentials(exchange, job_id, latest).await
            }
            Ok(None) => Ok(latest),
            Ok(Some(answer)) => Ok(answer),
            Err(error) => Err(error),
        };
        exchange.trace.reads += hold.reads();
        exchange.trace.waited = Some(hold.waited());
        match &outcome {
            Ok(answer) => exchange.trace.job_state = Some(answer.job().state.clone()),
            // Answered here rather than by `handle`: the log line still names the reason.
            Err(ApiError::Unauthorized(refusal)) => exchange.trace.refusal = Some(*refusal),
            Err(_) => {}
        }
        let response = outcome
            .and_then(|answer| self.represent(job_id, answer, shown_as))
            .unwrap_or_else(Response::from);
        Ok(response.with_header(
            "preference-applied",
            wait::preference_applied(hold.waited()),
        ))
    }

    /// How long this request may be held, or `None` when it is answered at once: only "nothing
    /// new" of a job still running is held, never a 304 of `If-None-Match: *`.
    fn wait_budget(
        &self,
        exchange: &Exchange<'_>,
        reader: &Reader,
        first: &JobAnswer,
    ) -> Option<wait::Budget> {
        let request = exchange.request;
        if !first.is_nothing_new() || first.job().is_terminal() || if_none_match_any(request) {
            return None;
        }
        let requested_seconds = wait::requested_wait(request.header_values("prefer"))?;
        let now = Instant::now();
        Limits {
            requested_seconds,
            max: self.settings.wait_max,
            since_arrival: now.saturating_duration_since(exchange.arrived),
            lambda_left: exchange
                .deadline
                .map(|deadline| deadline.saturating_duration_since(now)),
            now_ms: unix_now_ms(),
            request_time_ms: request.request_time_ms,
            credentials_end_ms: credentials_end_ms(reader),
        }
        .budget()
    }

    /// The wait outlasted the credentials it started with: the answer is what they get now (the
    /// 401), or, should they still hold, the "nothing new" of the last read.
    async fn expired_credentials(
        &self,
        exchange: &Exchange<'_>,
        job_id: &str,
        latest: JobAnswer,
    ) -> Result<JobAnswer, ApiError> {
        match self.reader(exchange, job_id).await {
            Ok(_) => Ok(latest),
            // A key set that cannot be fetched now must not turn the wait into a 503.
            Err(error) if error.status() >= 500 => Ok(latest),
            Err(error) => Err(error),
        }
    }

    /// The answer as the JSON envelope's `data`, with its headers, or as a page.
    fn represent(
        &self,
        job_id: &str,
        answer: JobAnswer,
        shown_as: Representation,
    ) -> Result<Response, ApiError> {
        if shown_as == Representation::Html {
            return self.page(job_id, answer);
        }
        Ok(match answer {
            JobAnswer::Status {
                job,
                data,
                etag,
                not_modified,
            } => {
                let response = if not_modified {
                    Response::not_modified(data.get().len())
                } else {
                    Response::data(200, data)
                };
                let response = response
                    .with_header("etag", etag)
                    .with_header("cache-control", REVALIDATE);
                self.poll_hint(response, &job)
            }
            JobAnswer::Completed { job } => {
                let JobResult::Completed { flickr, from_cache } = job.result() else {
                    return Err(ApiError::Internal);
                };
                let response =
                    Response::data(200, to_raw(flickr)?).with_header("cache-control", REVALIDATE);
                match from_cache {
                    Some(from_cache) => {
                        response.with_header("x-from-cache", from_cache.to_string())
                    }
                    None => response,
                }
            }
            JobAnswer::Pending { job } => {
                let pending = PendingView {
                    id: job_id,
                    state: &job.state,
                };
                let response = Response::data(202, to_raw(&pending)?)
                    .with_header("location", job_path(job_id));
                self.poll_hint(response, &job)
            }
            JobAnswer::Failed { job } => {
                let JobResult::Failed { reason } = job.result() else {
                    return Err(ApiError::Internal);
                };
                return Err(ApiError::JobFailed(reason.to_string()));
            }
        })
    }
}

/// The status object of `GET /jobs/{job_id}`, its tag, and whether the client has it already.
fn status_answer(job_id: &str, job: Job, request: &Request) -> Result<JobAnswer, ApiError> {
    let data = to_raw(&job.job_view(job_id))?;
    let etag = entity_tag(data.get());
    let if_none_match_values: Vec<&str> = request.header_values("if-none-match").collect();
    let not_modified = if_none_match(&if_none_match_values, &etag);
    Ok(JobAnswer::Status {
        job,
        data,
        etag,
        not_modified,
    })
}

/// `If-None-Match: *` matches any status: a wait for "anything but what exists" never ends.
fn if_none_match_any(request: &Request) -> bool {
    request
        .header_values("if-none-match")
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == "*")
}

/// The first epoch millisecond at which the reader's credentials no longer hold: a bearer
/// token is accepted through the second of its `exp` plus leeway, a share token until its expiry.
fn credentials_end_ms(reader: &Reader) -> Option<u64> {
    match reader {
        Reader::User(caller) => caller
            .expires_at
            .map(|last_second| last_second.saturating_add(1).saturating_mul(1000)),
        Reader::ShareLink { expires_at } => Some(expires_at.saturating_mul(1000)),
    }
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// What the result route says about a job in its state.
fn result_answer(job: Job) -> JobAnswer {
    match job.result() {
        JobResult::Completed { .. } => JobAnswer::Completed { job },
        JobResult::Pending => JobAnswer::Pending { job },
        JobResult::Failed { .. } => JobAnswer::Failed { job },
    }
}
