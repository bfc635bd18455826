//! `Prefer: wait` through the whole flow over the in-memory store, on tokio's paused clock
//! (docs/API.md#waiting-for-a-change-prefer-wait): what is held, what ends a wait, and when.

use std::time::Duration;

use tokio::time::{sleep, Instant};

use super::*;
use crate::auth::bearer::LEEWAY_SECONDS;

const RUNNING: &str = "b5e8f1a2-3c4d-4e5f-9a6b-7c8d9e0f1a2b";

/// The answer to `event` with an invocation deadline, and how long it took on the tokio clock.
async fn timed(
    app: &App<MemoryStore>,
    event: Value,
    deadline: Option<Instant>,
) -> (Answer, Duration) {
    let started = Instant::now();
    let request = parse_event(&event.to_string()).expect("an HTTP event");
    let (response, trace) = app.handle(&request, deadline).await;
    let elapsed = started.elapsed();
    let (status, headers, body) = response.render("unit-1");
    let held = trace.waited.is_some();
    let answer = Answer {
        refusal: trace.refusal,
        status,
        headers,
        body: body.map_or(Value::Null, |body| {
            serde_json::from_str(&body).expect("JSON")
        }),
    };
    assert_eq!(
        held,
        answer.header("preference-applied").is_some(),
        "Preference-Applied exactly on held answers"
    );
    (answer, elapsed)
}

fn owner_headers<'a>(auth: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut headers = vec![("authorization", auth)];
    headers.extend_from_slice(extra);
    headers
}

/// The job's current ETag, read without waiting.
async fn etag_of(app: &App<MemoryStore>, auth: &str, id: &str) -> String {
    let (first, _) = timed(app, get(&job(id), &owner_headers(auth, &[])), None).await;
    assert_eq!(first.status, 200);
    first.header("etag").expect("an ETag").to_string()
}

fn ms(duration: Duration) -> u128 {
    duration.as_millis()
}

#[tokio::test(start_paused = true)]
async fn nothing_new_is_held_until_the_wait_ends_and_then_answered_as_without_it() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let tag = etag_of(&app, &auth, QUEUED).await;
    let reads = app.store().reads();
    let headers = owner_headers(&auth, &[("if-none-match", &tag), ("prefer", "wait=3")]);
    let (held, took) = timed(&app, get(&job(QUEUED), &headers), None).await;
    assert_eq!(held.status, 304);
    assert_eq!(held.header("etag"), Some(tag.as_str()));
    assert_eq!(held.header("retry-after"), Some("2"));
    assert_eq!(held.header("preference-applied"), Some("wait=3"));
    assert_eq!(ms(took), 3_000);
    // The first read, then one every 500 ms before the end (500 … 2500).
    assert_eq!(app.store().reads() - reads, 1 + 5);

    let result = get(
        &format!("{}/result", job(QUEUED)),
        &owner_headers(&auth, &[("prefer", "wait=2")]),
    );
    let (pending, took) = timed(&app, result, None).await;
    assert_eq!(pending.status, 202);
    assert_eq!(pending.body["data"]["state"], "queued");
    assert_eq!(pending.header("preference-applied"), Some("wait=2"));
    assert_eq!(ms(took), 2_000);
}

#[tokio::test(start_paused = true)]
async fn a_change_is_answered_at_the_next_read() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let tag = etag_of(&app, &auth, QUEUED).await;
    let headers = owner_headers(&auth, &[("if-none-match", &tag), ("prefer", "wait=20")]);
    let worker = async {
        sleep(Duration::from_millis(1_200)).await;
        app.store()
            .set(QUEUED, "progress", AttributeValue::N("40".into()));
    };
    let ((changed, took), ()) =
        tokio::join!(timed(&app, get(&job(QUEUED), &headers), None), worker);
    assert_eq!(changed.status, 200);
    assert_eq!(ms(took), 1_500, "the first read after the write");
    assert_eq!(changed.body["data"]["progress"]["percent"], 40);
    let new_tag = changed.header("etag").expect("the new ETag");
    assert_ne!(new_tag, tag);
    assert_eq!(changed.header("preference-applied"), Some("wait=2"));

    // Waiting again with the new tag: held until the state changes.
    let headers = owner_headers(&auth, &[("if-none-match", new_tag), ("prefer", "wait=20")]);
    let worker = async {
        sleep(Duration::from_millis(700)).await;
        app.store()
            .set(QUEUED, "state", AttributeValue::S("retrying".into()));
    };
    let ((changed, took), ()) =
        tokio::join!(timed(&app, get(&job(QUEUED), &headers), None), worker);
    assert_eq!((changed.status, ms(took)), (200, 1_000));
    assert_eq!(changed.body["data"]["state"], "retrying");
}

#[tokio::test(start_paused = true)]
async fn the_result_route_waits_for_the_result_the_409_or_the_404() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let result = || {
        get(
            &format!("{}/result", job(QUEUED)),
            &owner_headers(&auth, &[("prefer", "wait=20")]),
        )
    };
    let change = |after_ms: u64, attribute: &'static str, value: AttributeValue| {
        let app = &app;
        async move {
            sleep(Duration::from_millis(after_ms)).await;
            app.store().set(QUEUED, attribute, value);
        }
    };

    // Another pending state is still nothing new on /result; then it completes.
    let worker = async {
        change(300, "state", AttributeValue::S("retrying".into())).await;
        change(
            1_000,
            "returnvalue",
            typed(
                r#"{"M": {"flickr": {"M": {"stat": {"S": "ok"}}}, "from_cache": {"BOOL": true}}}"#,
            ),
        )
        .await;
        change(0, "state", AttributeValue::S("completed".into())).await;
    };
    let ((done, took), ()) = tokio::join!(timed(&app, result(), None), worker);
    assert_eq!((done.status, ms(took)), (200, 1_500));
    assert_eq!(done.body["data"]["stat"], "ok");
    assert_eq!(done.header("x-from-cache"), Some("true"));

    // Failed: the 409 with its reason, held as long as it took.
    app.store()
        .set(QUEUED, "state", AttributeValue::S("queued".into()));
    let worker = async {
        change(
            2_100,
            "failedReason",
            AttributeValue::S("Flickr said no".into()),
        )
        .await;
        change(0, "state", AttributeValue::S("failed".into())).await;
    };
    let ((failed, took), ()) = tokio::join!(timed(&app, result(), None), worker);
    failed.assert_error(409, "ERR_JOB_FAILED");
    assert_eq!(failed.body["error"]["message"], "Flickr said no");
    assert_eq!(
        (ms(took), failed.header("preference-applied")),
        (2_500, Some("wait=3"))
    );

    // Expired while waiting, then deleted: the 404 of a missing job.
    app.store()
        .set(QUEUED, "state", AttributeValue::S("queued".into()));
    let expired = AttributeValue::N(now().saturating_sub(1).to_string());
    let ((gone, took), ()) = tokio::join!(
        timed(&app, result(), None),
        change(600, "expires_at", expired)
    );
    gone.assert_error(404, "ERR_JOB_NOT_FOUND");
    assert_eq!(ms(took), 1_000);
    app.store().remove(QUEUED);
    let (missing, _) = timed(&app, result(), None).await;
    missing.assert_error(404, "ERR_JOB_NOT_FOUND");
    assert_eq!(
        missing.header("preference-applied"),
        None,
        "not held at all"
    );
}

fn typed(json: &str) -> AttributeValue {
    crate::store::memory::typed_value(&serde_json::from_str(json).expect("JSON")).expect("typed")
}

#[tokio::test(start_paused = true)]
async fn only_nothing_new_of_a_running_job_is_ever_held() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let completed_tag = etag_of(&app, &auth, COMPLETED).await;
    let queued_tag = etag_of(&app, &auth, QUEUED).await;
    let wait = ("prefer", "wait=10");
    let cases: Vec<(&str, Value, u16)> = vec![
        (
            "a status without If-None-Match",
            get(&job(QUEUED), &owner_headers(&auth, &[wait])),
            200,
        ),
        (
            "If-None-Match: *",
            get(
                &job(QUEUED),
                &owner_headers(&auth, &[wait, ("if-none-match", "*")]),
            ),
            304,
        ),
        (
            "a list with *",
            get(
                &job(QUEUED),
                &owner_headers(&auth, &[wait, ("if-none-match", "\"x\", *")]),
            ),
            304,
        ),
        (
            "another tag",
            get(
                &job(QUEUED),
                &owner_headers(&auth, &[wait, ("if-none-match", "\"old\"")]),
            ),
            200,
        ),
        (
            "a terminal job's 304",
            get(
                &job(COMPLETED),
                &owner_headers(&auth, &[wait, ("if-none-match", &completed_tag)]),
            ),
            304,
        ),
        (
            "a completed result",
            get(
                &format!("{}/result", job(COMPLETED)),
                &owner_headers(&auth, &[wait]),
            ),
            200,
        ),
        (
            "a failed result",
            get(
                &format!("{}/result", job(FAILED)),
                &owner_headers(&auth, &[wait]),
            ),
            409,
        ),
        (
            "a missing job",
            get(
                &job("nope"),
                &owner_headers(&auth, &[wait, ("if-none-match", &queued_tag)]),
            ),
            404,
        ),
        (
            "someone else's job",
            get(
                &format!("{}/result", job(OTHERS_JOB)),
                &owner_headers(&auth, &[wait]),
            ),
            404,
        ),
        (
            "no credentials",
            get(&job(QUEUED), &[wait, ("if-none-match", &queued_tag)]),
            401,
        ),
        (
            "the POST",
            request(
                "POST",
                "/api/v1/flickr/jobs/status",
                &[wait],
                Some(&json!({"job_id": QUEUED, "user_id": OWNER}).to_string()),
            ),
            200,
        ),
        (
            "unparseable wait",
            get(
                &job(QUEUED),
                &owner_headers(
                    &auth,
                    &[("prefer", "wait=soon"), ("if-none-match", &queued_tag)],
                ),
            ),
            304,
        ),
        (
            "negative wait",
            get(
                &job(QUEUED),
                &owner_headers(
                    &auth,
                    &[("prefer", "wait=-5"), ("if-none-match", &queued_tag)],
                ),
            ),
            304,
        ),
        (
            "no wait preference",
            get(
                &job(QUEUED),
                &owner_headers(
                    &auth,
                    &[("prefer", "respond-async"), ("if-none-match", &queued_tag)],
                ),
            ),
            304,
        ),
        (
            "wait=0",
            get(
                &job(QUEUED),
                &owner_headers(
                    &auth,
                    &[("prefer", "wait=0"), ("if-none-match", &queued_tag)],
                ),
            ),
            304,
        ),
    ];
    for (case, event, status) in cases {
        let (answer, took) = timed(&app, event, None).await;
        assert_eq!(answer.status, status, "{case}: {}", answer.body);
        assert_eq!(took, Duration::ZERO, "{case}: answered at once");
        assert_eq!(answer.header("preference-applied"), None, "{case}");
    }
}

#[tokio::test(start_paused = true)]
async fn wait_max_seconds_caps_the_wait_and_zero_turns_it_off() {
    let auth = bearer(OWNER);
    for (max, expected_ms) in [("2", 2_000), ("0", 0)] {
        let app = app(&[("WAIT_MAX_SECONDS", max)]);
        let tag = etag_of(&app, &auth, QUEUED).await;
        let headers = owner_headers(&auth, &[("if-none-match", &tag), ("prefer", "wait=100")]);
        let (answer, took) = timed(&app, get(&job(QUEUED), &headers), None).await;
        assert_eq!(
            (answer.status, ms(took)),
            (304, expected_ms),
            "WAIT_MAX_SECONDS={max}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn failed_re_reads_are_skipped_with_the_interval_doubled_never_a_503() {
    let app = app(&[("WAIT_POLL_INTERVAL_MS", "200")]);
    let auth = bearer(OWNER);
    let tag = etag_of(&app, &auth, QUEUED).await;
    let headers = owner_headers(&auth, &[("if-none-match", &tag), ("prefer", "wait=20")]);
    let reads = app.store().reads();
    let outage = async {
        // After the request's first read: every re-read fails for a while.
        sleep(Duration::from_millis(100)).await;
        app.store().fail_next(
            std::iter::repeat_n(StoreError::Unavailable("throttled".into()), 4)
                .chain([StoreError::Failed("refused".into())]),
        );
        sleep(Duration::from_millis(2_000)).await;
        app.store()
            .set(QUEUED, "attempts", AttributeValue::N("1".into()));
    };
    let ((answer, took), ()) = tokio::join!(timed(&app, get(&job(QUEUED), &headers), None), outage);
    assert_eq!(answer.status, 200, "the change, not a 503: {}", answer.body);
    assert_eq!(answer.body["data"]["attempts"], 1);
    // Failed at 200, 400, 800, 1600 and 3200, each gap twice the one before; the change of
    // 2.1 s is seen by the next read, at 6400.
    assert_eq!(ms(took), 6_400);
    assert_eq!(app.store().reads() - reads, 1 + 6);

    // Failing to the end: the 304 the client would get without the preference.
    let fresh = etag_of(&app, &auth, QUEUED).await;
    let headers = owner_headers(&auth, &[("if-none-match", &fresh), ("prefer", "wait=3")]);
    let down = async {
        sleep(Duration::from_millis(10)).await;
        app.store().fail_next(std::iter::repeat_n(
            StoreError::Unavailable("down".into()),
            100,
        ));
    };
    let ((answer, took), ()) = tokio::join!(timed(&app, get(&job(QUEUED), &headers), None), down);
    assert_eq!((answer.status, ms(took)), (304, 3_000));
    assert_eq!(answer.header("etag"), Some(fresh.as_str()));
}

#[tokio::test(start_paused = true)]
async fn a_first_read_that_fails_is_the_503_at_once() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let tag = etag_of(&app, &auth, QUEUED).await;
    app.store()
        .fail_next([StoreError::Unavailable("throttled".into())]);
    let headers = owner_headers(&auth, &[("if-none-match", &tag), ("prefer", "wait=20")]);
    let (answer, took) = timed(&app, get(&job(QUEUED), &headers), None).await;
    answer.assert_error(503, "ERR_SERVICE_UNAVAILABLE");
    assert_eq!(took, Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn the_answer_leaves_a_second_before_the_lambda_deadline() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let tag = etag_of(&app, &auth, QUEUED).await;
    let headers = owner_headers(&auth, &[("if-none-match", &tag), ("prefer", "wait=20")]);
    let deadline = Instant::now() + Duration::from_millis(3_700);
    let (answer, took) = timed(&app, get(&job(QUEUED), &headers), Some(deadline)).await;
    assert_eq!((answer.status, ms(took)), (304, 2_700));
    assert_eq!(answer.header("preference-applied"), Some("wait=3"));
}

#[tokio::test(start_paused = true)]
async fn api_gateways_limit_counts_from_the_events_request_time() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let tag = etag_of(&app, &auth, QUEUED).await;
    let headers = owner_headers(&auth, &[("if-none-match", &tag), ("prefer", "wait=20")]);
    let mut event = get(&job(QUEUED), &headers);
    // API Gateway received it 26.5 s ago (a long cold start): 29 - 1 - 26.5 s are left.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let received = now_ms - 26_500;
    event["requestContext"]["timeEpoch"] = json!(received);
    let (answer, took) = timed(&app, event.clone(), None).await;
    assert_eq!(answer.status, 304);
    let took = ms(took) as i128;
    assert!((1_400..=1_500).contains(&took), "{took} ms");
    // Already past it: answered at once.
    event["requestContext"]["timeEpoch"] = json!(received - 10_000);
    let (answer, took) = timed(&app, event, None).await;
    assert_eq!((answer.status, took), (304, Duration::ZERO));
}

/// Credentials end on the wall clock, which tokio's paused clock does not move: real time here.
#[tokio::test]
async fn credentials_that_expire_mid_wait_get_their_401() {
    let app = app(&[]);
    let result = |token: &str| {
        get(
            &format!("{}/result?token={token}", job(QUEUED)),
            &[("prefer", "wait=10")],
        )
    };
    // A share token valid until the second after next.
    let expires_at = now() + 2;
    let (refused, took) = timed(&app, result(&share_token(QUEUED, expires_at)), None).await;
    refused.assert_error(401, "ERR_UNAUTHORIZED");
    assert_eq!(refused.refusal, Some(Refusal::ShareTokenExpired));
    assert!(
        took > Duration::from_millis(900) && took <= Duration::from_millis(2_100),
        "{took:?}"
    );
    assert!(
        now() >= expires_at,
        "answered once the token had expired, not before"
    );
    assert!(refused.header("preference-applied").is_some());

    // A bearer token in its last seconds of leeway.
    let claims = Claims {
        sub: OWNER.into(),
        exp: now() - LEEWAY_SECONDS + 1,
        ..Claims::default()
    };
    let expiring = format!(
        "Bearer {}",
        mint(JWT_SECRET.as_bytes(), &claims).expect("a token")
    );
    let tag = etag_of(&app, &expiring, QUEUED).await;
    let headers = owner_headers(&expiring, &[("if-none-match", &tag), ("prefer", "wait=10")]);
    let (refused, took) = timed(&app, get(&job(QUEUED), &headers), None).await;
    refused.assert_error(401, "ERR_UNAUTHORIZED");
    assert_eq!(
        refused.refusal,
        Some(Refusal::Expired),
        "the 401 an expired token gets"
    );
    assert!(
        took > Duration::from_millis(900) && took <= Duration::from_millis(3_100),
        "{took:?}"
    );
    assert_eq!(
        refused
            .header("www-authenticate")
            .map(|h| h.starts_with("Bearer")),
        Some(true)
    );

    // A token that outlives the wait changes nothing: the 202 at the end.
    let lasting = share_token(QUEUED, now() + 600);
    let short = get(
        &format!("{}/result?token={lasting}", job(QUEUED)),
        &[("prefer", "wait=1")],
    );
    let (pending, _) = timed(&app, short, None).await;
    assert_eq!(pending.status, 202);
}

#[tokio::test(start_paused = true)]
async fn many_held_requests_each_get_their_own_answer() {
    let app = app(&[]);
    let auth = bearer(OWNER);
    let queued = etag_of(&app, &auth, QUEUED).await;
    let running = etag_of(&app, &auth, RUNNING).await;
    let held = (0..200).map(|i| {
        let (id, tag) = if i % 2 == 0 {
            (QUEUED, &queued)
        } else {
            (RUNNING, &running)
        };
        let headers = owner_headers(&auth, &[("if-none-match", tag), ("prefer", "wait=5")]);
        let event = get(&job(id), &headers);
        let app = &app;
        async move { (id, timed(app, event, None).await) }
    });
    let worker = async {
        sleep(Duration::from_millis(1_100)).await;
        app.store()
            .set(RUNNING, "state", AttributeValue::S("completed".into()));
    };
    let (answers, ()) = tokio::join!(futures::future::join_all(held), worker);
    for (id, (answer, took)) in answers {
        if id == RUNNING {
            assert_eq!((answer.status, ms(took)), (200, 1_500));
            assert_eq!(answer.body["data"]["state"], "completed");
        } else {
            assert_eq!((answer.status, ms(took)), (304, 5_000));
        }
    }
}
