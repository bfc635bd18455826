//! The JSON views of a job, field order being the wire order: the original status object, the
//! fuller one of `GET /jobs/{job_id}`, and the pending answer of the result route.

use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Number, Value};

use super::{Metadata, Progress};

/// The `data` of `POST /jobs/status`: exactly these six keys, in this order.
#[derive(Debug, Serialize)]
pub struct StatusView<'a> {
    pub id: &'a str,
    pub state: &'a str,
    pub returnvalue: &'a Value,
    #[serde(rename = "failedReason")]
    pub failed_reason: Option<&'a str>,
    pub stacktrace: &'a Value,
    pub queue: Option<&'static str>,
}

/// The `data` of `GET /jobs/{job_id}`: the six keys of `StatusView`, then the metadata.
/// Written out rather than `#[serde(flatten)]`, which goes through a map and loses the order.
#[derive(Debug, Serialize)]
pub struct JobView<'a> {
    pub id: &'a str,
    pub state: &'a str,
    pub returnvalue: &'a Value,
    #[serde(rename = "failedReason")]
    pub failed_reason: Option<&'a str>,
    pub stacktrace: &'a Value,
    pub queue: Option<&'static str>,
    pub progress: Option<ProgressView<'a>>,
    pub attempts: Option<&'a Number>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub expires_at: Option<String>,
}

/// `progress` as the GET routes show it: every key present, `null` when unknown.
#[derive(Debug, Serialize, PartialEq)]
pub struct ProgressView<'a> {
    pub percent: Option<&'a Number>,
    pub stage: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// The `{id, state}` answer of the result route while a job is still pending.
#[derive(Debug, Serialize)]
pub struct PendingView<'a> {
    pub id: &'a str,
    pub state: &'a str,
}

impl<'a> JobView<'a> {
    pub fn new(status: StatusView<'a>, meta: &'a Metadata) -> Self {
        JobView {
            id: status.id,
            state: status.state,
            returnvalue: status.returnvalue,
            failed_reason: status.failed_reason,
            stacktrace: status.stacktrace,
            queue: status.queue,
            progress: meta.progress.as_ref().map(ProgressView::from),
            attempts: meta.attempts.as_ref(),
            created_at: meta.created_at.map(rfc3339_millis),
            updated_at: meta.updated_at.map(rfc3339_millis),
            expires_at: meta.expires_at.map(rfc3339_seconds),
        }
    }
}

impl<'a> From<&'a Progress> for ProgressView<'a> {
    fn from(progress: &'a Progress) -> Self {
        ProgressView {
            percent: progress.percent.as_ref(),
            stage: progress.stage.as_deref(),
            message: progress.message.as_deref(),
        }
    }
}

/// `2026-12-01T19:32:29.123Z` from epoch milliseconds.
pub fn rfc3339_millis(epoch_ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(epoch_ms)).to_string()
}

/// `2026-12-01T19:32:29Z` from epoch seconds.
pub fn rfc3339_seconds(epoch_s: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(epoch_s)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::Job;
    use serde_json::json;

    #[test]
    fn the_get_status_object_has_eleven_keys_in_order() {
        let job = Job {
            state: "retrying".into(),
            returnvalue: Value::Null,
            failed_reason: None,
            stacktrace: json!([]),
            target: Some("upload".into()),
            meta: Metadata {
                progress: Some(Progress {
                    percent: Some(Number::from(40)),
                    stage: Some("upload".into()),
                    message: None,
                }),
                attempts: Some(Number::from(2)),
                created_at: Some(1_796_153_549_123),
                updated_at: Some(1_796_153_550_000),
                expires_at: Some(1_796_239_949),
                unusable: Vec::new(),
            },
        };
        assert_eq!(
            serde_json::to_string(&job.job_view("j1")).unwrap(),
            r#"{"id":"j1","state":"retrying","returnvalue":null,"failedReason":null,"stacktrace":[],"queue":"flickr_upload","progress":{"percent":40,"stage":"upload","message":null},"attempts":2,"created_at":"2026-12-01T19:32:29.123Z","updated_at":"2026-12-01T19:32:30.000Z","expires_at":"2026-12-02T19:32:29Z"}"#
        );
        let bare = Job {
            meta: Metadata::default(),
            ..job
        };
        assert_eq!(
            serde_json::to_value(bare.job_view("j1")).unwrap()["progress"],
            Value::Null
        );
    }
}
