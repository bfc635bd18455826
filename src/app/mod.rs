//! The request flow: route → the checks in the order of docs/API.md#7-order-of-checks → one store
//! read → an answer. One file per route family beside this one; the steps they share are here.

mod batch;
mod job;
mod legacy;
mod list;
mod many;
mod page;
mod share;
#[cfg(test)]
mod tests;
pub mod wait;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::auth::{Caller, Identity, PageTokens, Refusal, ShareSigner};
use crate::config::Config;
use crate::error::ApiError;
use crate::http::{Body, Request, Response, Route};
use crate::jobs::Job;
use crate::store::{JobStore, Projection, StoreError, StoredJob};

/// Time kept back from the Lambda deadline to send the 503 before Lambda gives up on us.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// The function's state, built once at init (see `wiring`) and shared by every invocation.
pub struct App<S> {
    store: S,
    identity: Identity,
    share: Option<ShareSigner>,
    settings: Settings,
}

/// What the routes need of the configuration, prepared once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `Retry-After` of pending jobs, already as header text.
    poll_interval: String,
    /// `WAIT_MAX_SECONDS` and `WAIT_POLL_INTERVAL_MS` (docs/API.md#waiting-for-a-change-prefer-wait).
    wait_max: Duration,
    wait_poll_interval: Duration,
    /// The same, for the `Refresh` of pending pages.
    poll_interval_seconds: u64,
    /// Page tokens of `GET /jobs`; `None` when `JOBS_USER_INDEX` is unset (the route is 501).
    page_tokens: Option<PageTokens>,
}

impl Settings {
    pub fn from_config(config: &Config) -> Self {
        Settings {
            poll_interval: config.poll_interval_seconds.to_string(),
            wait_max: config.wait_max,
            wait_poll_interval: config.wait_poll_interval,
            poll_interval_seconds: u64::from(config.poll_interval_seconds),
            page_tokens: config
                .jobs_user_index
                .as_ref()
                .map(|_| PageTokens::new(config.share_tokens.as_ref())),
        }
    }
}

/// What the request log and metrics need to know about one request, filled in as it goes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Trace {
    /// The matched route's name; `None` when no route matched.
    pub route: Option<&'static str>,
    /// How long the one DynamoDB read took, when there was one.
    pub store_latency: Option<Duration>,
    /// The job's state, when the caller could read the record.
    pub job_state: Option<String>,
    /// `GetItem` calls made: the request's read, and a wait's re-reads.
    pub reads: u32,
    /// How long the request was held (`Prefer: wait`), when it was.
    pub waited: Option<Duration>,
    /// Why the credentials were refused, on a 401.
    pub refusal: Option<Refusal>,
}

/// One request on its way through: the request, its deadline, and what is learnt about it.
struct Exchange<'r> {
    request: &'r Request,
    /// When the function took the request up (a wait counts from here).
    arrived: Instant,
    deadline: Option<Instant>,
    trace: Trace,
}

impl Exchange<'_> {
    /// What the log line keeps of an error answer: why credentials were refused.
    fn note_error(&mut self, error: &ApiError) {
        if let ApiError::Unauthorized(refusal) = error {
            self.trace.refusal = Some(*refusal);
        }
    }
}

/// Who may read a job on the GET routes.
enum Reader {
    User(Caller),
    /// A share token for this job, valid until `expires_at` (unix seconds).
    ShareLink {
        expires_at: u64,
    },
}

impl Reader {
    fn may_read(&self, owner: &str) -> bool {
        match self {
            Reader::User(caller) => caller.user_id == owner,
            Reader::ShareLink { .. } => true,
        }
    }
}

impl<S: JobStore> App<S> {
    pub fn new(
        store: S,
        identity: Identity,
        share: Option<ShareSigner>,
        settings: Settings,
    ) -> Self {
        App {
            store,
            identity,
            share,
            settings,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The identity provider's key set, fetched during init when it is configured.
    pub async fn prefetch_keys(&self) {
        self.identity.prefetch_keys().await;
    }

    /// Answers one request. `deadline` is when Lambda would cut the invocation off.
    pub async fn handle(&self, request: &Request, deadline: Option<Instant>) -> (Response, Trace) {
        let mut exchange = Exchange {
            request,
            arrived: Instant::now(),
            deadline,
            trace: Trace::default(),
        };
        let response = match self.dispatch(&mut exchange).await {
            Ok(response) => response,
            Err(error) => {
                exchange.note_error(&error);
                error.into()
            }
        };
        (response, exchange.trace)
    }

    async fn dispatch(&self, exchange: &mut Exchange<'_>) -> Result<Response, ApiError> {
        let request = exchange.request;
        let route = crate::http::routes::route(&request.method, &request.path)?;
        exchange.trace.route = Some(route.name());
        if matches!(route, Route::Share(_)) && self.share.is_none() {
            return Err(ApiError::NotConfigured);
        }
        if route == Route::ListJobs && self.settings.page_tokens.is_none() {
            return Err(ApiError::ListingNotConfigured);
        }
        if request.body == Body::TooLarge {
            return Err(ApiError::PayloadTooLarge);
        }
        match route {
            Route::LegacyStatus => self.legacy_status(exchange).await,
            Route::JobStatus(segment) => {
                let answer = self.job_status(exchange, segment).await;
                Ok(page::job_route_answer(answer, exchange))
            }
            Route::JobResult(segment) => {
                let answer = self.job_result(exchange, segment).await;
                Ok(page::job_route_answer(answer, exchange))
            }
            Route::Share(segment) => self.share(exchange, segment).await,
            Route::ListJobs => self.list_jobs(exchange).await,
            Route::Batch => self.batch(exchange).await,
        }
    }

    /// A `?token=` decides alone when present; otherwise the caller's identity is required.
    async fn reader(&self, exchange: &Exchange<'_>, job_id: &str) -> Result<Reader, ApiError> {
        let mut tokens = exchange.request.query_values("token");
        if let Some(token) = tokens.next() {
            if tokens.next().is_some() {
                return Err(ApiError::Unauthorized(Refusal::ShareTokenInvalid));
            }
            let signer = self
                .share
                .as_ref()
                .ok_or(ApiError::Unauthorized(Refusal::ShareTokensNotConfigured))?;
            return signer
                .check(job_id, token, unix_now())
                .map(|expires_at| Reader::ShareLink { expires_at })
                .map_err(ApiError::Unauthorized);
        }
        self.caller(exchange)
            .await?
            .map(Reader::User)
            .ok_or(ApiError::Unauthorized(Refusal::Missing))
    }

    /// The caller's identity; a key set that cannot be fetched before the invocation's
    /// deadline is a 503, like a slow DynamoDB.
    async fn caller(&self, exchange: &Exchange<'_>) -> Result<Option<Caller>, ApiError> {
        let caller = self.identity.caller(exchange.request);
        match answer_by(exchange.deadline) {
            Some(answer_by) => tokio::time::timeout_at(answer_by, caller)
                .await
                .unwrap_or(Err(ApiError::KeysUnavailable)),
            None => caller.await,
        }
    }

    /// The request's read of the job, then expiry, ownership and the record's validity.
    async fn read_job(
        &self,
        exchange: &mut Exchange<'_>,
        job_id: &str,
        projection: Projection,
        may_read: impl Fn(&str) -> bool,
    ) -> Result<Job, ApiError> {
        let record = self.read(exchange, job_id, projection).await?;
        let answer_by = answer_by(exchange.deadline);
        let job = readable_job(record, job_id, may_read, SystemTime::now(), answer_by).await?;
        exchange.trace.job_state = Some(job.state.clone());
        Ok(job)
    }

    /// One `GetItem`, bounded by the SDK's timeouts and by what is left of the invocation.
    async fn read(
        &self,
        exchange: &mut Exchange<'_>,
        job_id: &str,
        projection: Projection,
    ) -> Result<Option<StoredJob>, ApiError> {
        self.store_call(exchange, self.store.get_job(job_id, projection))
            .await
    }

    /// One store call (a `GetItem`, a `Query`, a `BatchGetItem` with its retries), bounded by
    /// what is left of the invocation; its failure mapped to 503/500 here only.
    async fn store_call<T>(
        &self,
        exchange: &mut Exchange<'_>,
        read: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, ApiError> {
        let started = Instant::now();
        exchange.trace.reads += 1;
        let result = match answer_by(exchange.deadline) {
            Some(answer_by) => tokio::time::timeout_at(answer_by, read)
                .await
                .unwrap_or_else(|_| {
                    Err(StoreError::Unavailable(
                        "the invocation deadline came first".into(),
                    ))
                }),
            None => read.await,
        };
        exchange.trace.store_latency = Some(started.elapsed());
        result.map_err(|error| match error {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "job store unavailable");
                ApiError::ServiceUnavailable
            }
            StoreError::Failed(detail) => {
                tracing::error!(%detail, "job store read failed");
                ApiError::Internal
            }
        })
    }

    /// `Retry-After` while the job is not terminal.
    fn poll_hint(&self, response: Response, job: &Job) -> Response {
        if job.is_terminal() {
            response
        } else {
            response.with_header("retry-after", self.settings.poll_interval.clone())
        }
    }
}

/// Ownership first (a record without an owner, someone else's, or an expired one is "not
/// found"), then the record's own validity. Decoding may wait for a decompression permit
/// (docs/API.md#compression-and-size-limits): not past `answer_by` (then the 503).
async fn readable_job(
    record: Option<StoredJob>,
    job_id: &str,
    may_read: impl Fn(&str) -> bool,
    now: SystemTime,
    answer_by: Option<Instant>,
) -> Result<Job, ApiError> {
    let record = record.ok_or(ApiError::JobNotFound)?;
    let Some(owner) = record.owner() else {
        tracing::warn!(job_id, "corrupt job record: no string user_id");
        return Err(ApiError::JobNotFound);
    };
    if !may_read(owner) {
        return Err(ApiError::JobNotFound);
    }
    if record.has_unusable_expiry() {
        tracing::warn!(job_id, "expires_at is not a number: ignored");
    }
    if record.is_expired(now) {
        return Err(ApiError::JobNotFound);
    }
    let decoded = match answer_by {
        Some(answer_by) => tokio::time::timeout_at(answer_by, record.decode())
            .await
            .map_err(|_| {
                tracing::warn!(job_id, "no decompression permit before the deadline");
                ApiError::ServiceUnavailable
            })?,
        None => record.decode().await,
    };
    let job = decoded.map_err(|attribute| {
        tracing::error!(
            job_id,
            attribute,
            "corrupt job record: attribute of an impossible type"
        );
        ApiError::Internal
    })?;
    if !job.meta.unusable.is_empty() {
        tracing::warn!(job_id, attributes = ?job.meta.unusable, "job metadata of an unusable type shown as null");
    }
    Ok(job)
}

/// When a request must be answered: the invocation's deadline less the margin for the answer.
fn answer_by(deadline: Option<Instant>) -> Option<Instant> {
    deadline.map(|deadline| deadline.checked_sub(DEADLINE_MARGIN).unwrap_or(deadline))
}

fn to_raw<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(value).map_err(|error| {
        tracing::error!(%error, "could not serialize response data");
        ApiError::Internal
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
