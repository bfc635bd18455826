//! A job of the domain as its page shows it.

use crate::jobs::{rfc3339_millis, rfc3339_seconds, Job, JobResult};

use super::thumbnails::photo_list;
use super::view::{JobPage, ProgressLine, Refresh, Timestamp};

/// The page of `job`; `refresh` is how a pending page refreshes itself (see `view::refresh`).
pub fn job_page(job_id: &str, job: &Job, refresh: Option<Refresh>) -> serde_json::Result<JobPage> {
    let meta = &job.meta;
    let mut page = JobPage {
        job_id: job_id.to_string(),
        state: job.state.clone(),
        progress: meta.progress.as_ref().map(|progress| ProgressLine {
            percent: progress.percent.as_ref().map(ToString::to_string),
            bar: progress
                .percent
                .as_ref()
                .and_then(serde_json::Number::as_f64)
                .filter(|percent| (0.0..=100.0).contains(percent)),
            stage: progress.stage.clone(),
            message: progress.message.clone(),
        }),
        attempts: meta.attempts.as_ref().map(ToString::to_string),
        created_at: meta.created_at.map(|ms| Timestamp::new(rfc3339_millis(ms))),
        updated_at: meta.updated_at.map(|ms| Timestamp::new(rfc3339_millis(ms))),
        expires_at: meta.expires_at.map(|s| Timestamp::new(rfc3339_seconds(s))),
        ..JobPage::default()
    };
    match job.result() {
        JobResult::Completed { flickr, from_cache } => {
            page.from_cache = from_cache;
            if !flickr.is_null() {
                page.flickr = Some(serde_json::to_string_pretty(flickr)?);
                page.photos = photo_list(flickr);
            }
        }
        JobResult::Failed { reason } => page.failed_reason = Some(reason.to_string()),
        JobResult::Pending => page.refresh = refresh,
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Metadata, Progress};
    use serde_json::{json, Number};

    fn job(state: &str) -> Job {
        Job {
            state: state.into(),
            returnvalue: json!({"from_cache": false, "flickr": {"stat": "ok", "photos": {"photo": [
                {"id": "1", "secret": "ab", "server": "2", "title": "One"}]}}}),
            failed_reason: Some("Token not found".into()),
            stacktrace: json!(["at secret place"]),
            target: Some("rest".into()),
            meta: Metadata {
                progress: Some(Progress {
                    percent: Some(Number::from(140)),
                    stage: Some("upload".into()),
                    message: None,
                }),
                attempts: Some(Number::from(3)),
                created_at: Some(1_796_153_549_123),
                updated_at: None,
                expires_at: Some(1_796_239_949),
                unusable: Vec::new(),
            },
        }
    }

    fn refresh() -> Option<Refresh> {
        Some(Refresh {
            seconds: 2,
            sentence: "every 2 seconds".into(),
        })
    }

    #[test]
    fn a_completed_job_shows_its_flickr_response_and_photos() {
        let page = job_page("j1", &job("completed"), refresh()).unwrap();
        assert_eq!(page.job_id, "j1");
        assert_eq!(page.from_cache, Some(false));
        let flickr = page.flickr.unwrap();
        assert!(flickr.starts_with("{\n  \""), "{flickr}");
        assert_eq!(page.photos.unwrap().thumbnails[0].alt, "One");
        assert_eq!(page.failed_reason, None);
        assert_eq!(page.refresh, None, "a finished job does not refresh");
        assert_eq!(page.attempts.as_deref(), Some("3"));
        assert_eq!(
            page.created_at.map(|at| at.machine).as_deref(),
            Some("2026-12-01T19:32:29.123Z")
        );
        assert_eq!(
            page.expires_at.map(|at| at.shown).as_deref(),
            Some("2026-12-02 19:32:29 UTC")
        );
        assert_eq!(page.updated_at, None);
        let progress = page.progress.unwrap();
        assert_eq!(progress.percent.as_deref(), Some("140"));
        assert_eq!(progress.bar, None, "no bar for a percent out of range");
    }

    #[test]
    fn a_failed_job_shows_its_reason_never_its_stack() {
        let page = job_page("j1", &job("failed"), refresh()).unwrap();
        assert_eq!(page.failed_reason.as_deref(), Some("Token not found"));
        assert_eq!((page.flickr, page.photos, page.refresh), (None, None, None));
        assert!(!format!("{:?}", job_page("j1", &job("failed"), None)).contains("secret place"));
    }

    #[test]
    fn a_pending_job_refreshes() {
        let page = job_page("j1", &job("queued"), refresh()).unwrap();
        assert_eq!(page.refresh, refresh());
        assert_eq!((page.flickr, page.failed_reason), (None, None));
    }

    #[test]
    fn a_completed_job_without_a_flickr_response() {
        let mut completed = job("completed");
        completed.returnvalue = json!({"from_cache": true});
        let page = job_page("j1", &completed, None).unwrap();
        assert_eq!((page.flickr, page.photos), (None, None));
        assert_eq!(page.from_cache, Some(true));
    }
}
