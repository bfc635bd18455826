//! `Prefer: wait` against a real DynamoDB-compatible server (moto, and dynalite in ./dev/test),
//! with real writes while requests wait; a fault server that fails mid-wait; the built binary
//! holding hundreds of requests at once in one process (docs/API.md#waiting-for-a-change-prefer-wait).

mod common;
mod wait_support;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::*;
use flickr_job_status::app::App;
use flickr_job_status::auth::Refusal;
use flickr_job_status::store::DynamoStore;
use serde_json::{json, Value};
use wait_support::*;

/// The default `WAIT_POLL_INTERVAL_MS`.
const INTERVAL: Duration = Duration::from_millis(500);
/// What a read may add to the interval on a busy 2-core machine before the answer is out.
const READ_SLACK: Duration = Duration::from_millis(400);

async fn timed<S: flickr_job_status::store::JobStore>(
    app: &flickr_job_status::app::App<S>,
    event: &Value,
    deadline_ms: u64,
) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = invoke_with_deadline(app, event, deadline_ms).await;
    (reply, started.elapsed())
}

/// A queued job of this test's own in the local table, the app that reads it, and the job's
/// status path and current ETag.
struct Job {
    app: App<Counting<DynamoStore>>,
    client: aws_sdk_dynamodb::Client,
    id: String,
    path: String,
    tag: String,
}

async fn queued_job(name: &str) -> Job {
    let app = app(&[]).await;
    let client = client().await;
    let id = fresh_id(name);
    put_queued(&client, &id).await;
    let path = status_path(&id);
    let first = invoke(&app, &owner_get(&path, &[])).await;
    assert_eq!(first.status, 200, "{first:#?}");
    let tag = etag(&first);
    Job {
        app,
        client,
        id,
        path,
        tag,
    }
}

/// `Preference-Applied` counts the time held, after the first read: all but that read of the
/// wait, rounded up (a slow first read on a busy machine can take a second of it).
fn assert_held_at_most(reply: &Reply, seconds: u64) {
    let held = reply
        .header("preference-applied")
        .and_then(|applied| applied.strip_prefix("wait="))
        .and_then(|held| held.parse::<u64>().ok());
    assert!(
        held.is_some_and(|held| (1..=seconds).contains(&held)),
        "Preference-Applied {held:?}, expected 1..={seconds}: {reply:#?}"
    );
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// State, then progress nineteen times, then completed: each write while a request waits for
/// it, each answered within one poll interval of the write (plus a read). The delays are
/// printed: docs/performance.md has their distribution.
#[tokio::test]
async fn each_write_is_answered_within_one_poll_interval() {
    let Job {
        app,
        client,
        id,
        path,
        tag,
    } = queued_job("writes").await;
    let mut tag = tag;

    let mut delays = Vec::new();
    for change in 0..21u32 {
        let waiting = owner_get(&path, &[("if-none-match", &tag), ("prefer", "wait=10")]);
        let result = owner_get(&format!("{path}/result"), &[("prefer", "wait=10")]);
        // Writes land at different points of the poll cycle.
        let after = Duration::from_millis(150 + u64::from(change * 173 % 500));
        let write = async {
            tokio::time::sleep(after).await;
            match change {
                0 => {
                    update(
                        &client,
                        &id,
                        &[("state", AttributeValue::S("retrying".into()))],
                    )
                    .await
                }
                1..=19 => {
                    update(
                        &client,
                        &id,
                        &[("progress", progress(change * 5, "resizing"))],
                    )
                    .await
                }
                _ => {
                    update(
                        &client,
                        &id,
                        &[
                            ("returnvalue", flickr_result()),
                            ("progress", progress(100, "done")),
                            ("state", AttributeValue::S("completed".into())),
                        ],
                    )
                    .await
                }
            }
            Instant::now()
        };
        let answered = async {
            let reply = invoke(&app, &waiting).await;
            (reply, Instant::now())
        };
        // The result route waits through all of it for the completion only.
        let (((reply, answered_at), written_at), result) = if change == 20 {
            let (a, w, r) = tokio::join!(answered, write, invoke(&app, &result));
            ((a, w), Some(r))
        } else {
            (tokio::join!(answered, write), None)
        };
        assert_eq!(reply.status, 200, "change {change}: {reply:#?}");
        assert!(reply.header("preference-applied").is_some());
        let data = reply.data();
        match change {
            0 => assert_eq!(data["state"], "retrying"),
            1..=19 => assert_eq!(data["progress"]["percent"], change * 5),
            _ => assert_eq!(data["state"], "completed"),
        }
        let new_tag = etag(&reply);
        assert_ne!(new_tag, tag, "change {change}: a new ETag");
        tag = new_tag;
        let delay = answered_at.saturating_duration_since(written_at);
        assert!(
            delay <= INTERVAL + READ_SLACK,
            "change {change} answered {delay:?} after the write"
        );
        delays.push(millis(delay));
        if let Some(result) = result {
            assert_eq!(result.status, 200, "{result:#?}");
            assert_eq!(result.data()["stat"], "ok");
        }
    }
    delays.sort_by(f64::total_cmp);
    let at = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "delay from write to answer over {} changes (ms): min {:.0}, p50 {:.0}, p90 {:.0}, max {:.0}; all: {:?}",
        delays.len(),
        at(0.0),
        at(0.5),
        at(0.9),
        at(1.0),
        delays.iter().map(|d| d.round() as u32).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_wait_without_a_change_ends_with_the_same_304_and_202() {
    let Job {
        app, id, path, tag, ..
    } = queued_job("timeout").await;
    let reads = app.reads();

    let waiting = owner_get(&path, &[("if-none-match", &tag), ("prefer", "wait=2")]);
    let result = owner_get(&format!("{path}/result"), &[("prefer", "wait=2")]);
    let ((held, took), (pending, took_result)) =
        tokio::join!(timed(&app, &waiting, 0), timed(&app, &result, 0));
    assert_eq!(held.status, 304, "{held:#?}");
    assert_eq!(held.raw_body, None);
    assert_eq!(held.header("etag"), Some(tag.as_str()));
    assert_eq!(held.header("retry-after"), Some("2"));
    assert_held_at_most(&held, 2);
    assert_eq!(pending.status, 202);
    assert_eq!(pending.data(), &json!({"id": id, "state": "queued"}));
    assert_held_at_most(&pending, 2);
    for took in [took, took_result] {
        assert!(
            took >= Duration::from_millis(1_950) && took < Duration::from_millis(2_600),
            "{took:?}"
        );
    }
    // Two requests: each its first read and about four re-reads.
    let made = app.reads() - reads;
    assert!((8..=10).contains(&made), "{made} reads");

    // Without the preference, or with waiting turned off: the same answers at once.
    let off = common::app(&[("WAIT_MAX_SECONDS", "0")]).await;
    for (app, event) in [
        (&app, owner_get(&path, &[("if-none-match", &tag)])),
        (&off, waiting.clone()),
    ] {
        let (reply, took) = timed(app, &event, 0).await;
        assert_eq!(
            (reply.status, reply.header("preference-applied")),
            (304, None)
        );
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
    let (reply, took) = timed(&off, &result, 0).await;
    assert_eq!(
        (reply.status, reply.header("preference-applied")),
        (202, None)
    );
    assert!(took < Duration::from_millis(500), "{took:?}");
}

#[tokio::test]
async fn a_raw_event_with_a_near_deadline_is_answered_a_second_before_it() {
    let Job { app, path, tag, .. } = queued_job("deadline").await;
    let raw = owner_get(&path, &[("if-none-match", &tag), ("prefer", "wait=20")]).to_string();
    let started = Instant::now();
    let reply = invoke_raw(&app, &raw, now_ms() + 3_000).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 304);
    assert_held_at_most(&reply, 2);
    assert!(
        took >= Duration::from_millis(1_800) && took < Duration::from_millis(2_300),
        "{took:?}: the answer leaves 1 s before the 3 s deadline"
    );
    // API Gateway received it 27.5 s ago: half a second is left of its 29 s, less the margin.
    let mut late = owner_get(&path, &[("if-none-match", &tag), ("prefer", "wait=20")]);
    late["requestContext"]["timeEpoch"] = json!(now_ms() - 27_500);
    let (reply, took) = timed(&app, &late, 0).await;
    assert_eq!(reply.status, 304);
    assert!(took < Duration::from_millis(900), "{took:?}");
}

#[tokio::test]
async fn a_share_token_expiring_mid_wait_gets_the_401_then() {
    let Job { app, id, .. } = queued_job("share").await;
    let expires_at = now_secs() + 2;
    let token = share_signer(SHARE_SECRET).mint(&id, expires_at);
    let event = with_query(
        http_event(
            "GET",
            &format!("{}/result", status_path(&id)),
            &[("prefer", "wait=10")],
            None,
        ),
        &format!("token={token}"),
    );
    let (reply, took) = timed(&app, &event, 0).await;
    reply.assert_refused(Refusal::ShareTokenExpired);
    assert!(
        now_ms() >= expires_at * 1000,
        "not before the token expired"
    );
    assert!(
        took <= Duration::from_millis(2_400),
        "{took:?}: at its expiry"
    );
    assert!(reply.header("preference-applied").is_some());
}

/// Throttled and hanging re-reads are skipped: the wait goes on, and never becomes a 503.
#[tokio::test]
async fn dynamodb_failing_mid_wait_never_turns_into_a_503() {
    let id = "fault-job";
    let server = FakeTable::start().await;
    server.put(id, fake_item(id, "queued", None));
    let app = app_at(&server.endpoint, &[("DYNAMODB_TIMEOUT_MS", "200")]).await;
    let path = status_path(id);
    let tag = etag(&invoke(&app, &owner_get(&path, &[])).await);
    let waiting = owner_get(&path, &[("if-none-match", &tag), ("prefer", "wait=10")]);

    // Throttled from 0.3 s to 2.5 s, then the change.
    let outage = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.switch(Mode::Throttle);
        tokio::time::sleep(Duration::from_millis(2_200)).await;
        server.put(id, fake_item(id, "queued", Some(30)));
        server.switch(Mode::Serve);
    };
    let ((reply, took), ()) = tokio::join!(timed(&app, &waiting, 0), outage);
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.data()["progress"]["percent"], 30);
    // The doubled interval may leave up to twice the last one before the next read.
    assert!(took < Duration::from_secs(7), "{took:?}");

    // Throttled to the end: the 304 at the end of the wait. Hanging: the same, on time.
    server.put(id, fake_item(id, "queued", None));
    for mode in [Mode::Throttle, Mode::Hang] {
        server.switch(Mode::Serve);
        let short = owner_get(&path, &[("if-none-match", &tag), ("prefer", "wait=3")]);
        let before = server.requests();
        let fail = async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            server.switch(mode);
        };
        let ((reply, took), ()) = tokio::join!(timed(&app, &short, 0), fail);
        assert_eq!(reply.status, 304, "{mode:?}: {reply:#?}");
        assert_eq!(reply.header("etag"), Some(tag.as_str()));
        assert!(
            took >= Duration::from_millis(2_900) && took < Duration::from_millis(3_500),
            "{mode:?}: {took:?}"
        );
        assert!(
            server.requests() > before + 1,
            "{mode:?}: the re-reads were tried"
        );
    }

    // The first read failing is the 503 of any read, at once.
    server.switch(Mode::Throttle);
    let (reply, took) = timed(&app, &waiting, 0).await;
    reply.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert!(reply.header("preference-applied").is_none());
    assert!(took < Duration::from_secs(3), "{took:?}");
}
