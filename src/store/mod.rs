//! The job store: a small trait and its errors; the DynamoDB adapter and an in-memory one
//! live beside it.

mod batch;
mod dynamo;
pub mod gunzip;
mod list;
#[cfg(any(test, feature = "test-store"))]
pub mod memory;
mod record;
mod sdk;

use std::collections::HashMap;
use std::future::Future;

pub use batch::{BATCH_CHUNK, UNPROCESSED_RETRIES};
pub use dynamo::{DynamoStore, WARM_UP_TIMEOUT};
pub use list::{ListPage, ListQuery, StartKey};
pub use record::{decode_record, StoredJob};
pub use sdk::{sdk_config, MAX_ATTEMPTS};

/// Why a read failed. The detail is for the log, never for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Throttled, unreachable, too slow or answering 5xx: worth retrying later (503).
    Unavailable(String),
    /// Misconfiguration or a request the store refused (500).
    Failed(String),
}

impl StoreError {
    pub fn detail(&self) -> &str {
        match self {
            StoreError::Unavailable(detail) | StoreError::Failed(detail) => detail,
        }
    }
}

/// Which attributes one job's read asks for. DynamoDB bills the whole item whatever is
/// projected, but a shorter list is a smaller request to sign and send and a smaller answer
/// to parse (docs/performance.md#compressed-answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    /// The original `POST /jobs/status`: its six keys (docs/API.md#post-jobsstatus--the-original-api),
    /// the owner and the expiry.
    Legacy,
    /// Everything the GET routes, the result, the share route and the pages show.
    Job,
}

impl Projection {
    /// The record attributes fetched (docs/API.md#10-the-job-record).
    pub fn attributes(self) -> &'static [&'static str] {
        // The original POST's are the first seven.
        const ALL: [&str; 11] = [
            "user_id",
            "expires_at",
            "state",
            "returnvalue",
            "failedReason",
            "stacktrace",
            "target",
            "progress",
            "attempts",
            "created_at",
            "updated_at",
        ];
        match self {
            Projection::Legacy => &ALL[..7],
            Projection::Job => &ALL,
        }
    }
}

/// Reads job records by id.
pub trait JobStore: Send + Sync {
    /// The record of `job_id` with the attributes of `projection`, undecoded but for its
    /// owner and expiry (see `StoredJob`).
    fn get_job(
        &self,
        job_id: &str,
        projection: Projection,
    ) -> impl Future<Output = Result<Option<StoredJob>, StoreError>> + Send;

    /// One page of `query.user_id`'s jobs from the user index, newest first: one `Query`
    /// (docs/API.md#get-jobs--the-callers-jobs). Records come summary-only (no `returnvalue`).
    fn query_by_user(
        &self,
        query: &ListQuery<'_>,
    ) -> impl Future<Output = Result<ListPage, StoreError>> + Send;

    /// The records of `job_ids` that exist, by id, summary-only: `BatchGetItem` in chunks of
    /// `BATCH_CHUNK`, unprocessed keys retried (docs/API.md#post-jobsbatch--many-jobs-by-id).
    fn get_many(
        &self,
        job_ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, StoredJob>, StoreError>> + Send;
}
