//! What a page shows, as plain values: the app maps a job or an error into these, and the
//! templates only show them (every value escaped there).

use super::thumbnails::PhotoList;

/// A record unchanged for this long is polled less often (docs/API.md#pages-for-people).
pub const STALE_AFTER_MS: u64 = 10 * 60 * 1000;
/// How often the page of a stale pending job refreshes itself.
pub const STALE_REFRESH_SECONDS: u64 = 60;

/// The page of one job, whatever its state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobPage {
    pub job_id: String,
    /// The record's state, as stored (shown in words by `state_words`).
    pub state: String,
    pub progress: Option<ProgressLine>,
    pub attempts: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    /// Completed: the Flickr response, pretty-printed (`None`: the job finished without one).
    pub flickr: Option<String>,
    /// Completed, and the response holds a photo list.
    pub photos: Option<PhotoList>,
    /// Completed: `returnvalue.from_cache`, when the worker said.
    pub from_cache: Option<bool>,
    /// Failed: `failedReason` (or "job failed"); never the stack trace.
    pub failed_reason: Option<String>,
    /// Pending: how the page refreshes itself.
    pub refresh: Option<Refresh>,
}

/// `progress` of the record, each part optional.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProgressLine {
    /// The number as stored.
    pub percent: Option<String>,
    /// The same number for a `<progress>` bar, when it is within 0..=100.
    pub bar: Option<f64>,
    pub stage: Option<String>,
    pub message: Option<String>,
}

impl ProgressLine {
    /// What is known of the progress, in reading order: "40 %", the stage, the message.
    pub fn parts(&self) -> Vec<String> {
        // A no-break space: "40" and "%" stay on one line.
        let percent = self
            .percent
            .as_ref()
            .map(|percent| format!("{percent}\u{a0}%"));
        [percent, self.stage.clone(), self.message.clone()]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// A moment, for machines (RFC 3339 UTC, as the JSON of the GET routes writes it) and for
/// people (`2026-12-01 19:32:29 UTC`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    pub machine: String,
    pub shown: String,
}

impl Timestamp {
    pub fn new(rfc3339: String) -> Self {
        // `2026-12-01T19:32:29.123Z`: the date and time to the second, then the zone in words.
        let shown = match rfc3339.get(..19) {
            Some(seconds) => format!("{} UTC", seconds.replacen('T', " ", 1)),
            None => rfc3339.clone(),
        };
        Timestamp {
            machine: rfc3339,
            shown,
        }
    }
}

/// A pending page's `Refresh` header, and the sentence on the page that says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refresh {
    pub seconds: u64,
    pub sentence: String,
}

/// The short pages of the errors of the job routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the address itself is malformed.
    BadAddress,
    /// 401: an expired or bad link, or no credentials.
    Unauthorized,
    /// 404: no such job, someone else's, or an expired one (indistinguishable).
    NotFound,
    /// 503: the job store (or the identity provider) cannot be reached just now.
    Unavailable,
    /// 500 and anything else.
    Internal,
}

/// A state as a person reads it: a headline and one sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWords {
    pub headline: String,
    pub detail: &'static str,
}

impl JobPage {
    pub fn state_words(&self) -> StateWords {
        let (headline, detail) = match self.state.as_str() {
            "completed" => ("Completed", "The job has finished."),
            "failed" => ("Failed", "The job has failed and will not be tried again."),
            "queued" => ("Queued", "The job is waiting for a worker."),
            "retrying" => (
                "Retrying",
                "An attempt did not succeed; the job will be tried again.",
            ),
            other => {
                return StateWords {
                    headline: format!("In state “{other}”"),
                    detail: "The job has not finished yet.",
                }
            }
        };
        StateWords {
            headline: headline.to_string(),
            detail,
        }
    }

    /// The class that colours the state: `completed`, `failed`, or `pending` for any other.
    pub fn state_class(&self) -> &'static str {
        match self.state.as_str() {
            "completed" => "completed",
            "failed" => "failed",
            _ => "pending",
        }
    }

    /// The document's title: the state and the job.
    pub fn title(&self) -> String {
        format!("{} · job {}", self.state_words().headline, self.job_id)
    }
}

impl ErrorKind {
    /// The page for an answer of this status.
    pub fn for_status(status: u16) -> Self {
        match status {
            400 => ErrorKind::BadAddress,
            401 => ErrorKind::Unauthorized,
            404 => ErrorKind::NotFound,
            503 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ErrorKind::BadAddress => "This address is not valid",
            ErrorKind::Unauthorized => "This link has expired or is not valid",
            ErrorKind::NotFound => "Job not found",
            ErrorKind::Unavailable => "The job cannot be shown just now",
            ErrorKind::Internal => "Something went wrong",
        }
    }

    pub fn detail(self) -> &'static str {
        match self {
            ErrorKind::BadAddress => "Check that the whole link was copied.",
            ErrorKind::Unauthorized => "Ask the person who shared it for a new link.",
            ErrorKind::NotFound => "There is no job at this address, or it has expired.",
            ErrorKind::Unavailable => "Try again in a moment.",
            ErrorKind::Internal => "The job could not be shown. Try again later.",
        }
    }
}

/// How a pending page refreshes itself: every `poll_interval` seconds, or every
/// `STALE_REFRESH_SECONDS` once `updated_at` (epoch ms) is more than `STALE_AFTER_MS` old. A
/// record without `updated_at` cannot be told stale and keeps the poll interval.
pub fn refresh(poll_interval: u64, updated_at_ms: Option<u64>, now_ms: u64) -> Refresh {
    let stale =
        updated_at_ms.is_some_and(|updated_at| now_ms.saturating_sub(updated_at) > STALE_AFTER_MS);
    if stale && poll_interval < STALE_REFRESH_SECONDS {
        Refresh {
            seconds: STALE_REFRESH_SECONDS,
            sentence: format!(
                "The job has not changed for more than 10 minutes, so this page now refreshes \
                 itself every {STALE_REFRESH_SECONDS} seconds until it has finished."
            ),
        }
    } else {
        Refresh {
            seconds: poll_interval,
            sentence: format!(
                "This page refreshes itself every {} until the job has finished.",
                seconds(poll_interval)
            ),
        }
    }
}

fn seconds(count: u64) -> String {
    match count {
        1 => "second".to_string(),
        count => format!("{count} seconds"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_153_549_000;

    #[test]
    fn pending_pages_refresh_at_the_poll_interval() {
        let fresh = refresh(2, Some(NOW - 1000), NOW);
        assert_eq!(fresh.seconds, 2);
        assert_eq!(
            fresh.sentence,
            "This page refreshes itself every 2 seconds until the job has finished."
        );
        assert_eq!(
            refresh(1, None, NOW)
                .sentence
                .matches("every second")
                .count(),
            1
        );
        // Exactly 10 minutes is not yet "more than 10 minutes".
        assert_eq!(refresh(2, Some(NOW - STALE_AFTER_MS), NOW).seconds, 2);
        // An updated_at in the future (clock skew) is not stale.
        assert_eq!(refresh(2, Some(NOW + 5000), NOW).seconds, 2);
    }

    #[test]
    fn stale_pending_pages_refresh_every_minute() {
        let stale = refresh(2, Some(NOW - STALE_AFTER_MS - 1), NOW);
        assert_eq!(stale.seconds, 60);
        assert!(stale.sentence.contains("more than 10 minutes"));
        assert!(stale.sentence.contains("every 60 seconds"));
        // A poll interval already longer than a minute is kept.
        assert_eq!(refresh(120, Some(0), NOW).seconds, 120);
    }

    #[test]
    fn states_in_words() {
        let words = |state: &str| {
            JobPage {
                state: state.into(),
                ..JobPage::default()
            }
            .state_words()
        };
        assert_eq!(words("completed").headline, "Completed");
        assert_eq!(words("failed").headline, "Failed");
        assert_eq!(words("queued").headline, "Queued");
        assert_eq!(words("retrying").headline, "Retrying");
        assert_eq!(
            words("paused-by-admin").headline,
            "In state “paused-by-admin”"
        );
    }

    #[test]
    fn timestamps_for_people() {
        let millis = Timestamp::new("2026-12-01T19:32:29.123Z".into());
        assert_eq!(millis.shown, "2026-12-01 19:32:29 UTC");
        assert_eq!(millis.machine, "2026-12-01T19:32:29.123Z");
        assert_eq!(
            Timestamp::new("2026-12-02T19:32:29Z".into()).shown,
            "2026-12-02 19:32:29 UTC"
        );
        assert_eq!(Timestamp::new("odd".into()).shown, "odd");
    }

    #[test]
    fn error_kinds_by_status() {
        assert_eq!(ErrorKind::for_status(400), ErrorKind::BadAddress);
        assert_eq!(ErrorKind::for_status(401), ErrorKind::Unauthorized);
        assert_eq!(ErrorKind::for_status(404), ErrorKind::NotFound);
        assert_eq!(ErrorKind::for_status(503), ErrorKind::Unavailable);
        assert_eq!(ErrorKind::for_status(500), ErrorKind::Internal);
        assert_eq!(ErrorKind::for_status(406), ErrorKind::Internal);
    }
}
