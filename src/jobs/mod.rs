//! The domain: a job, its states, queue and result, and the views the routes answer with —
//! pure functions only.

mod etag;
mod view;

use serde_json::{Number, Value};

pub use etag::{entity_tag, gzip_tag, if_none_match};
pub use view::{rfc3339_millis, rfc3339_seconds, JobView, PendingView, ProgressView, StatusView};

/// The name of an attribute stored with a type it can never have.
pub type CorruptAttribute = &'static str;

/// A job record of its owner, decoded (see docs/API.md#10-the-job-record).
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub state: String,
    pub returnvalue: Value,
    pub failed_reason: Option<String>,
    pub stacktrace: Value,
    pub target: Option<String>,
    pub meta: Metadata,
}

/// What the record says about a job besides its outcome. Any of it may be missing, and a value
/// of an unusable type is shown as missing: metadata never makes a record corrupt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Metadata {
    pub progress: Option<Progress>,
    pub attempts: Option<Number>,
    /// Epoch milliseconds.
    pub created_at: Option<u64>,
    /// Epoch milliseconds.
    pub updated_at: Option<u64>,
    /// Epoch seconds (DynamoDB's TTL attribute).
    pub expires_at: Option<u64>,
    /// The metadata attributes that were shown as missing because of their type or range,
    /// for the log.
    pub unusable: Vec<&'static str>,
}

/// How far a running job is; a bare number in the record is the percent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Progress {
    pub percent: Option<Number>,
    pub stage: Option<String>,
    pub message: Option<String>,
}

/// What the result route has to say about a job.
#[derive(Debug, PartialEq)]
pub enum JobResult<'a> {
    /// `returnvalue.flickr` (`null` when absent) and `returnvalue.from_cache` when it is a bool.
    Completed {
        flickr: &'a Value,
        from_cache: Option<bool>,
    },
    Pending,
    Failed {
        reason: &'a str,
    },
}

pub const STATE_COMPLETED: &str = "completed";
pub const STATE_FAILED: &str = "failed";

impl Job {
    pub fn status_view<'a>(&'a self, id: &'a str) -> StatusView<'a> {
        StatusView {
            id,
            state: &self.state,
            returnvalue: &self.returnvalue,
            failed_reason: self.failed_reason.as_deref(),
            stacktrace: &self.stacktrace,
            queue: queue_for(self.target.as_deref()),
        }
    }

    pub fn job_view<'a>(&'a self, id: &'a str) -> JobView<'a> {
        JobView::new(self.status_view(id), &self.meta)
    }

    pub fn is_terminal(&self) -> bool {
        self.state == STATE_COMPLETED || self.state == STATE_FAILED
    }

    pub fn result(&self) -> JobResult<'_> {
        match self.state.as_str() {
            STATE_COMPLETED => JobResult::Completed {
                flickr: self.returnvalue.get("flickr").unwrap_or(&Value::Null),
                from_cache: self.returnvalue.get("from_cache").and_then(Value::as_bool),
            },
            STATE_FAILED => JobResult::Failed {
                reason: self.failed_reason.as_deref().unwrap_or("job failed"),
            },
            _ => JobResult::Pending,
        }
    }
}

/// The worker queue a target is served by; unknown targets go to the REST queue.
pub fn queue_for(target: Option<&str>) -> Option<&'static str> {
    match target? {
        "" => None,
        "upload" => Some("flickr_upload"),
        "replace" => Some("flickr_replace"),
        _ => Some("flickr_rest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(state: &str) -> Job {
        Job {
            state: state.to_string(),
            returnvalue: json!({"from_cache": true, "flickr": {"stat": "ok"}}),
            failed_reason: None,
            stacktrace: json!([]),
            target: Some("upload".into()),
            meta: Metadata::default(),
        }
    }

    #[test]
    fn queue_mapping() {
        assert_eq!(queue_for(Some("rest")), Some("flickr_rest"));
        assert_eq!(queue_for(Some("upload")), Some("flickr_upload"));
        assert_eq!(queue_for(Some("replace")), Some("flickr_replace"));
        assert_eq!(queue_for(Some("something-new")), Some("flickr_rest"));
        assert_eq!(queue_for(Some("")), None);
        assert_eq!(queue_for(None), None);
    }

    #[test]
    fn status_view_keeps_the_legacy_key_order() {
        let job = job("completed");
        let json = serde_json::to_string(&job.status_view("j1")).unwrap();
        assert_eq!(
            json,
            r#"{"id":"j1","state":"completed","returnvalue":{"flickr":{"stat":"ok"},"from_cache":true},"failedReason":null,"stacktrace":[],"queue":"flickr_upload"}"#
        );
    }

    #[test]
    fn terminal_states() {
        assert!(job("completed").is_terminal());
        assert!(job("failed").is_terminal());
        assert!(!job("queued").is_terminal());
        assert!(!job("retrying").is_terminal());
        assert!(!job("paused-by-admin").is_terminal());
    }

    #[test]
    fn result_of_each_state() {
        let completed = job("completed");
        assert_eq!(
            completed.result(),
            JobResult::Completed {
                flickr: &json!({"stat": "ok"}),
                from_cache: Some(true)
            }
        );
        let mut odd = job("completed");
        odd.returnvalue = json!({"from_cache": "yes"});
        assert_eq!(
            odd.result(),
            JobResult::Completed {
                flickr: &Value::Null,
                from_cache: None
            }
        );
        odd.returnvalue = json!("plain text result");
        assert_eq!(
            odd.result(),
            JobResult::Completed {
                flickr: &Value::Null,
                from_cache: None
            }
        );
        assert_eq!(job("queued").result(), JobResult::Pending);
        let mut failed = job("failed");
        assert_eq!(
            failed.result(),
            JobResult::Failed {
                reason: "job failed"
            }
        );
        failed.failed_reason = Some("Token not found".into());
        assert_eq!(
            failed.result(),
            JobResult::Failed {
                reason: "Token not found"
            }
        );
    }
}
