//! The domain: a job record, its status view, queue and result — pure functions only.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A job record as read from the store. Ownership is known apart from the rest, because it
/// is decided before anything else about the record is looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// `None` when the record has no string `user_id`: it belongs to no one.
    pub owner: Option<String>,
    /// The rest, or the name of the attribute that makes the record unusable.
    pub content: Result<Job, CorruptAttribute>,
}

/// The name of an attribute stored with a type it can never have.
pub type CorruptAttribute = &'static str;

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub state: String,
    pub returnvalue: Value,
    pub failed_reason: Option<String>,
    pub stacktrace: Value,
    pub target: Option<String>,
}

/// The `data` of the status routes; field order is the wire order of the original API.
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

/// The `{id, state}` answer of the result route while a job is still pending.
#[derive(Debug, Serialize)]
pub struct PendingView<'a> {
    pub id: &'a str,
    pub state: &'a str,
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

/// A strong entity tag over the serialized `data`. Maps serialize with sorted keys, so the
/// same record always gives the same bytes, whatever order DynamoDB returned them in.
pub fn entity_tag(canonical_data: &str) -> String {
    let digest = Sha256::digest(canonical_data.as_bytes());
    format!("\"{}\"", base64_url(&digest[..16]))
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 9110 §13.1.2: does `If-None-Match` (one or more header values) match `etag`?
/// Weak comparison: `W/"x"` matches `"x"`.
pub fn if_none_match(header_values: &[&str], etag: &str) -> bool {
    let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    let ours = opaque(etag);
    header_values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == ours)
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

    #[test]
    fn entity_tags_follow_content() {
        let a = entity_tag(r#"{"id":"1"}"#);
        assert_eq!(a, entity_tag(r#"{"id":"1"}"#));
        assert_ne!(a, entity_tag(r#"{"id":"2"}"#));
        assert!(a.starts_with('"') && a.ends_with('"'));
    }

    #[test]
    fn if_none_match_rules() {
        let tag = "\"abc\"";
        assert!(if_none_match(&["\"abc\""], tag));
        assert!(if_none_match(&["W/\"abc\""], tag));
        assert!(if_none_match(&["\"x\", W/\"abc\""], tag));
        assert!(if_none_match(&["\"x\"", "\"abc\""], tag));
        assert!(if_none_match(&["*"], tag));
        assert!(!if_none_match(&["\"abcd\""], tag));
        assert!(!if_none_match(&["abc"], tag));
        assert!(!if_none_match(&[], tag));
    }
}
