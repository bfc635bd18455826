//! The request flow: route → the checks in API.md §3.6 order → one store read → response.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::auth::{Identity, ShareSigner};
use crate::config::Config;
use crate::error::ApiError;
use crate::http::input::{
    json_body, json_object, non_empty_str, path_id, share_lifetime, validate_id,
    SHARE_DEFAULT_SECONDS,
};
use crate::http::routes::{self, job_path};
use crate::http::{Body, Request, Response, Route};
use crate::jobs::{entity_tag, if_none_match, Job, JobRecord, JobResult, PendingView};
use crate::store::{JobStore, StoreError};

/// Time kept back from the Lambda deadline to send the 503 before Lambda gives up on us.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);
/// GET answers may be kept by the client but must be revalidated (they carry an ETag).
const REVALIDATE: &str = "private, no-cache";

/// The function's state, built once at init: the store, verifiers and pre-rendered values.
pub struct App<S> {
    store: S,
    identity: Identity,
    share: Option<ShareSigner>,
    poll_interval: String,
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
}

/// One request on its way through: the request, its deadline, and what is learnt about it.
struct Exchange<'r> {
    request: &'r Request,
    deadline: Option<Instant>,
    trace: Trace,
}

/// Who may read a job on the GET routes.
enum Reader {
    User(String),
    ShareLink,
}

impl<S: JobStore> App<S> {
    pub fn new(config: &Config, store: S) -> Self {
        Self::with_identity(config, store, Identity::new(config))
    }

    /// As `new`, with the identity sources given (tests give their own key set).
    pub fn with_identity(config: &Config, store: S, identity: Identity) -> Self {
        App {
            store,
            identity,
            share: config.share_tokens.as_ref().map(ShareSigner::new),
            poll_interval: config.poll_interval_seconds.to_string(),
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
            deadline,
            trace: Trace::default(),
        };
        let response = match self.dispatch(&mut exchange).await {
            Ok(response) => response,
            Err(error) => error.into(),
        };
        (response, exchange.trace)
    }

    async fn dispatch(&self, exchange: &mut Exchange<'_>) -> Result<Response, ApiError> {
        let request = exchange.request;
        let route = routes::route(&request.method, &request.path)?;
        exchange.trace.route = Some(route.name());
        if matches!(route, Route::Share(_)) && self.share.is_none() {
            return Err(ApiError::NotConfigured);
        }
        if request.body == Body::TooLarge {
            return Err(ApiError::PayloadTooLarge);
        }
        match route {
            Route::LegacyStatus => self.legacy_status(exchange).await,
            Route::JobStatus(segment) => self.job_status(exchange, segment).await,
            Route::JobResult(segment) => self.job_result(exchange, segment).await,
            Route::Share(segment) => self.share(exchange, segment).await,
        }
    }

    /// `POST /jobs/status`: the original API, ids in the body.
    async fn legacy_status(&self, exchange: &mut Exchange<'_>) -> Result<Response, ApiError> {
        let request = exchange.request;
        let body =
            json_object(json_body(request)?.ok_or(ApiError::invalid("request body is required"))?)?;
        let (Some(job_id), Some(user_id)) = (
            non_empty_str(&body, "job_id"),
            non_empty_str(&body, "user_id"),
        ) else {
            return Err(ApiError::invalid("job_id and user_id are required"));
        };
        validate_id("job_id", job_id)?;
        validate_id("user_id", user_id)?;
        let caller = self.caller(exchange).await?;

        let job = self
            .read_job(exchange, job_id, |owner| {
                owner == user_id && caller.as_deref().is_none_or(|caller| caller == user_id)
            })
            .await?;
        Ok(Response::data(200, to_raw(&job.status_view(job_id))?))
    }

    /// `GET /jobs/{job_id}`: the same status, with an ETag and polling hints.
    async fn job_status(
        &self,
        exchange: &mut Exchange<'_>,
        segment: &str,
    ) -> Result<Response, ApiError> {
        let request = exchange.request;
        let job_id = path_id(segment)?;
        let reader = self.reader(exchange, &job_id).await?;
        let job = self
            .read_job(exchange, &job_id, |owner| reader.may_read(owner))
            .await?;

        let data = to_raw(&job.status_view(&job_id))?;
        let etag = entity_tag(data.get());
        let if_none_match_values: Vec<&str> = request.header_values("if-none-match").collect();
        let response = if if_none_match(&if_none_match_values, &etag) {
            Response::not_modified()
        } else {
            Response::data(200, data)
        };
        let response = response
            .with_header("etag", etag)
            .with_header("cache-control", REVALIDATE);
        Ok(self.poll_hint(response, &job))
    }

    /// `GET /jobs/{job_id}/result`: the Flickr response alone once the job is done.
    async fn job_result(
        &self,
        exchange: &mut Exchange<'_>,
        segment: &str,
    ) -> Result<Response, ApiError> {
        let job_id = path_id(segment)?;
        let reader = self.reader(exchange, &job_id).await?;
        let job = self
            .read_job(exchange, &job_id, |owner| reader.may_read(owner))
            .await?;

        match job.result() {
            JobResult::Completed { flickr, from_cache } => {
                let response =
                    Response::data(200, to_raw(flickr)?).with_header("cache-control", REVALIDATE);
                Ok(match from_cache {
                    Some(from_cache) => {
                        response.with_header("x-from-cache", from_cache.to_string())
                    }
                    None => response,
                })
            }
            JobResult::Pending => {
                let pending = PendingView {
                    id: &job_id,
                    state: &job.state,
                };
                let response = Response::data(202, to_raw(&pending)?)
                    .with_header("location", job_path(&job_id));
                Ok(self.poll_hint(response, &job))
            }
            JobResult::Failed { reason } => Err(ApiError::JobFailed(reason.to_string())),
        }
    }

    /// `POST /jobs/{job_id}/share`: a signed read link for the owner to hand out.
    async fn share(
        &self,
        exchange: &mut Exchange<'_>,
        segment: &str,
    ) -> Result<Response, ApiError> {
        let request = exchange.request;
        let signer = self.share.as_ref().ok_or(ApiError::NotConfigured)?;
        let expires_in = match json_body(request)? {
            None => SHARE_DEFAULT_SECONDS,
            Some(body) => share_lifetime(&json_object(body)?)?,
        };
        let job_id = path_id(segment)?;
        // A `?token=` is a read grant, never an identity: only real credentials may share.
        let caller = self.caller(exchange).await?.ok_or(ApiError::Unauthorized)?;
        self.read_job(exchange, &job_id, |owner| owner == caller)
            .await?;

        let expires_at = unix_now() + expires_in;
        let token = signer.mint(&job_id, expires_at);
        let url = format!("{}/result?token={token}", job_path(&job_id));
        let expires_at_text =
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(expires_at))
                .to_string();
        let link = ShareLink {
            token: &token,
            expires_at: &expires_at_text,
            url: &url,
        };
        Ok(Response::data(201, to_raw(&link)?).with_header("location", url.clone()))
    }

    /// A `?token=` decides alone when present; otherwise the caller's identity is required.
    async fn reader(&self, exchange: &Exchange<'_>, job_id: &str) -> Result<Reader, ApiError> {
        let mut tokens = exchange.request.query_values("token");
        if let Some(token) = tokens.next() {
            let repeated = tokens.next().is_some();
            let valid = !repeated
                && self
                    .share
                    .as_ref()
                    .is_some_and(|signer| signer.verify(job_id, token, unix_now()));
            return if valid {
                Ok(Reader::ShareLink)
            } else {
                Err(ApiError::Unauthorized)
            };
        }
        self.caller(exchange)
            .await?
            .map(Reader::User)
            .ok_or(ApiError::Unauthorized)
    }

    /// The caller's identity; a key set that cannot be fetched before the invocation's
    /// deadline is a 503, like a slow DynamoDB.
    async fn caller(&self, exchange: &Exchange<'_>) -> Result<Option<String>, ApiError> {
        let caller = self.identity.caller(exchange.request);
        match answer_by(exchange.deadline) {
            Some(answer_by) => tokio::time::timeout_at(answer_by, caller)
                .await
                .unwrap_or(Err(ApiError::KeysUnavailable)),
            None => caller.await,
        }
    }

    /// The request's one `GetItem`, bounded by the SDK's timeouts and by what is left of the
    /// invocation; then ownership and the record's validity, in that order.
    async fn read_job(
        &self,
        exchange: &mut Exchange<'_>,
        job_id: &str,
        may_read: impl Fn(&str) -> bool,
    ) -> Result<Job, ApiError> {
        let started = Instant::now();
        let read = self.store.get_job(job_id);
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
        let record = result.map_err(|error| match error {
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "job store unavailable");
                ApiError::ServiceUnavailable
            }
            StoreError::Failed(detail) => {
                tracing::error!(%detail, "job store read failed");
                ApiError::Internal
            }
        })?;
        let job = readable_job(record, job_id, may_read)?;
        exchange.trace.job_state = Some(job.state.clone());
        Ok(job)
    }

    fn poll_hint(&self, response: Response, job: &Job) -> Response {
        if job.is_terminal() {
            response
        } else {
            response.with_header("retry-after", self.poll_interval.clone())
        }
    }
}

impl Reader {
    fn may_read(&self, owner: &str) -> bool {
        match self {
            Reader::User(user_id) => user_id == owner,
            Reader::ShareLink => true,
        }
    }
}

#[derive(Serialize)]
struct ShareLink<'a> {
    token: &'a str,
    expires_at: &'a str,
    url: &'a str,
}

/// Ownership first (a record without an owner, or someone else's, is "not found"), then
/// the record's own validity.
fn readable_job(
    record: Option<JobRecord>,
    job_id: &str,
    may_read: impl Fn(&str) -> bool,
) -> Result<Job, ApiError> {
    let record = record.ok_or(ApiError::JobNotFound)?;
    let Some(owner) = record.owner.as_deref() else {
        tracing::warn!(job_id, "corrupt job record: no string user_id");
        return Err(ApiError::JobNotFound);
    };
    if !may_read(owner) {
        return Err(ApiError::JobNotFound);
    }
    record.content.map_err(|attribute| {
        tracing::error!(
            job_id,
            attribute,
            "corrupt job record: attribute of an impossible type"
        );
        ApiError::Internal
    })
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
