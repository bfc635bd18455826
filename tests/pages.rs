//! Pages for people on the two GET routes of a job (docs/API.md#pages-for-people), through the
//! handler over the in-memory store: which requests get a page, its status and headers, the
//! error pages, and that the JSON answers stay exactly as they were.

mod common;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use flickr_job_status::app::App;
use flickr_job_status::auth::bearer::{mint, Claims};
use flickr_job_status::auth::{Refusal, ShareSigner};
use flickr_job_status::config::{Config, Secrets};
use flickr_job_status::http::event::parse_event;
use flickr_job_status::store::memory::MemoryStore;
use flickr_job_status::store::StoreError;
use flickr_job_status::wiring;
use serde_json::{json, Value};

use common::{
    COMPLETED_JOB as COMPLETED, FAILED_JOB as FAILED, JWT_SECRET, OWNER, QUEUED_JOB as QUEUED,
    RETRYING_JOB as RETRYING, SHARE_SECRET,
};

/// What a browser's navigation sends (Chrome).
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7";

fn app(overrides: &[(&str, &str)]) -> App<MemoryStore> {
    let store = MemoryStore::from_typed_json(include_str!("../dev/sample-jobs.json"), "jobId")
        .expect("sample jobs");
    let mut vars: HashMap<&str, &str> = HashMap::from([
        ("JOBS_TABLE", "pages"),
        ("JWT_SECRET", JWT_SECRET),
        ("SHARE_TOKEN_SECRET", SHARE_SECRET),
    ]);
    vars.extend(overrides.iter().copied());
    let config = Config::from_lookup(|name| vars.get(name).map(|value| value.to_string()))
        .expect("a valid configuration");
    wiring::app_with_key_set(&config, store, None)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn share_link(job_id: &str, expires_at: u64) -> (String, String) {
    let token = ShareSigner::new(&Secrets {
        current: SHARE_SECRET.as_bytes().to_vec(),
        previous: None,
    })
    .mint(job_id, expires_at);
    (
        format!("/api/v1/flickr/jobs/{job_id}/result?token={token}"),
        token,
    )
}

fn bearer() -> String {
    let claims = Claims {
        sub: OWNER.into(),
        exp: now() + 600,
        ..Claims::default()
    };
    format!(
        "Bearer {}",
        mint(JWT_SECRET.as_bytes(), &claims).expect("a token")
    )
}

#[derive(Debug)]
struct Answer {
    status: u16,
    /// Why credentials were refused, as the request's log line says.
    refusal: Option<Refusal>,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(key, _)| *key == name);
        let first = values.next().map(|(_, value)| value.as_str());
        assert!(values.next().is_none(), "{name} twice: {self:#?}");
        first
    }

    fn text(&self) -> &str {
        self.body.as_deref().unwrap_or_default()
    }

    fn envelope(&self) -> Value {
        serde_json::from_str(self.text()).expect("an envelope")
    }

    /// A page with exactly the headers of docs/API.md#pages-for-people.
    fn assert_page(&self, status: u16) {
        assert_eq!(self.status, status, "{self:#?}");
        assert_eq!(
            self.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let policy = self.header("content-security-policy").expect("a policy");
        let hash = policy
            .strip_prefix("default-src 'none'; style-src 'sha256-")
            .and_then(|rest| rest.split_once("'; "))
            .map(|(hash, rest)| {
                assert_eq!(
                    rest,
                    "img-src https://live.staticflickr.com; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
                );
                hash
            })
            .expect("the policy's shape");
        assert_eq!(hash.len(), 44, "{policy}");
        assert_eq!(self.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(self.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(self.header("cache-control"), Some("no-store"));
        assert_eq!(self.header("etag"), None);
        assert_eq!(self.header("vary"), Some("Accept"));
        assert!(
            self.text().starts_with("<!doctype html>"),
            "{}",
            self.text()
        );
    }
}

async fn get(app: &App<MemoryStore>, path: &str, headers: &[(&str, &str)]) -> Answer {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let event = json!({
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers.iter().map(|(n, v)| (n.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "requestContext": {"requestId": "pages-1", "http": {"method": "GET", "path": path}},
        "isBase64Encoded": false
    });
    let request = parse_event(&event.to_string()).expect("an HTTP event");
    let (response, trace) = app.handle(&request, None).await;
    let (status, headers, body) = response.render("pages-1");
    Answer {
        status,
        refusal: trace.refusal,
        headers,
        body,
    }
}

#[tokio::test]
async fn a_share_link_opened_in_a_browser_is_a_page() {
    let app = app(&[]);
    let (link, token) = share_link(COMPLETED, now() + 600);
    let page = get(&app, &link, &[("accept", BROWSER)]).await;
    page.assert_page(200);
    assert!(page.text().contains(COMPLETED));
    assert!(page.text().contains("Completed"));
    assert!(
        page.text().contains("flickr.test.echo"),
        "the Flickr response"
    );
    assert!(
        !page.text().contains(&token),
        "the page never holds the token"
    );
    assert_eq!(page.header("x-from-cache"), Some("false"));
}

#[tokio::test]
async fn api_clients_get_the_envelope_as_before_with_vary() {
    let app = app(&[]);
    let (link, _) = share_link(COMPLETED, now() + 600);
    for accept in [
        None,
        Some("*/*"),
        Some("application/json"),
        Some("application/json, text/plain, */*"),
    ] {
        let headers: Vec<(&str, &str)> = accept.iter().map(|accept| ("accept", *accept)).collect();
        let answer = get(&app, &link, &headers).await;
        assert_eq!(answer.status, 200, "{accept:?}");
        assert_eq!(
            answer.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(answer.header("vary"), Some("Accept"));
        assert_eq!(answer.header("content-security-policy"), None);
        assert_eq!(answer.envelope()["data"]["stat"], "ok");
    }
}

#[tokio::test]
async fn the_status_route_keeps_etag_and_304_for_json_and_the_page_has_neither() {
    let app = app(&[]);
    let auth = bearer();
    let path = format!("/api/v1/flickr/jobs/{COMPLETED}");
    let json = get(&app, &path, &[("authorization", &auth)]).await;
    assert_eq!(json.status, 200);
    assert_eq!(json.header("vary"), Some("Accept"));
    assert_eq!(json.header("cache-control"), Some("private, no-cache"));
    let etag = json.header("etag").expect("an ETag").to_string();

    let revalidated = get(
        &app,
        &path,
        &[("authorization", &auth), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(
        (revalidated.status, revalidated.body.as_deref()),
        (304, None)
    );
    assert_eq!(revalidated.header("vary"), Some("Accept"));

    // The tag is the JSON's: a page is never "not modified" by it.
    let page = get(
        &app,
        &path,
        &[
            ("authorization", &auth),
            ("if-none-match", &etag),
            ("accept", BROWSER),
        ],
    )
    .await;
    page.assert_page(200);
    assert!(page.text().contains("flickr.test.echo"));
}

#[tokio::test]
async fn a_pending_page_refreshes_itself() {
    let app = app(&[("POLL_INTERVAL_SECONDS", "3")]);
    let now_ms = now() * 1000;
    app.store().set(
        QUEUED,
        "updated_at",
        AttributeValue::N((now_ms - 5_000).to_string()),
    );
    let (link, _) = share_link(QUEUED, now() + 600);
    let page = get(&app, &link, &[("accept", BROWSER)]).await;
    page.assert_page(202);
    assert_eq!(page.header("refresh"), Some("3"));
    assert_eq!(page.header("retry-after"), Some("3"));
    assert_eq!(
        page.header("location"),
        Some(format!("/api/v1/flickr/jobs/{QUEUED}").as_str())
    );
    assert!(page
        .text()
        .contains("This page refreshes itself every 3 seconds until the job has finished."));
    assert!(page.text().contains("Queued"));

    // On the status route too (200), and every 60 s once the record has not changed for 10 min.
    app.store().set(
        RETRYING,
        "updated_at",
        AttributeValue::N((now_ms - 11 * 60_000).to_string()),
    );
    let status = get(
        &app,
        &format!("/api/v1/flickr/jobs/{RETRYING}"),
        &[("authorization", &bearer()), ("accept", "text/html")],
    )
    .await;
    status.assert_page(200);
    assert_eq!(status.header("refresh"), Some("60"));
    assert!(status.text().contains("every 60 seconds"));
}

#[tokio::test]
async fn a_failed_job_is_a_409_page_with_its_reason() {
    let app = app(&[]);
    let (link, _) = share_link(FAILED, now() + 600);
    let page = get(&app, &link, &[("accept", BROWSER)]).await;
    page.assert_page(409);
    assert!(page
        .text()
        .contains(&format!("Token not found for userId={OWNER}")));
    assert!(
        !page.text().contains("at "),
        "no stack trace line: {}",
        page.text()
    );
    assert_eq!(page.header("refresh"), None);
}

#[tokio::test]
async fn errors_of_the_job_routes_are_short_pages() {
    let app = app(&[]);
    let (expired, expired_token) = share_link(COMPLETED, now() - 1);
    let (other_job, _) = share_link(FAILED, now() + 600);
    let forged = format!("/api/v1/flickr/jobs/{COMPLETED}/result?token=1.forged");
    let (missing, _) = share_link("no-such-job", now() + 600);
    let cases: [(&str, u16, &str); 7] = [
        (&expired, 401, "This link has expired or is not valid"),
        (&forged, 401, "This link has expired or is not valid"),
        (&missing, 404, "Job not found"),
        ("/api/v1/flickr/jobs/%FF", 400, "This address is not valid"),
        ("/api/v1/flickr/jobs/%zz", 400, "This address is not valid"),
        (
            &format!("/api/v1/flickr/jobs/{COMPLETED}"),
            401,
            "This link has expired or is not valid",
        ),
        // A link made for another job is as bad as a forged one.
        (
            &other_job.replace(FAILED, COMPLETED),
            401,
            "This link has expired or is not valid",
        ),
    ];
    for (path, status, heading) in cases {
        let page = get(&app, path, &[("accept", BROWSER)]).await;
        page.assert_page(status);
        assert!(
            page.text().contains(&format!("<h1>{heading}</h1>")),
            "{path}: {}",
            page.text()
        );
        assert!(!page.text().contains(&expired_token));
        let json = get(&app, path, &[]).await;
        assert_eq!(json.status, status, "{path}");
        // The log line says why, page or not.
        assert_eq!(page.refusal, json.refusal, "{path}");
        assert_eq!(page.refusal.is_some(), status == 401, "{path}");
        assert_eq!(json.header("vary"), Some("Accept"));
        assert!(json.envelope()["error"]["code"].is_string());
    }
    let unauthorized = get(&app, &forged, &[("accept", BROWSER)]).await;
    assert!(unauthorized
        .header("www-authenticate")
        .is_some_and(|value| value.starts_with("Bearer")));
}

#[tokio::test]
async fn store_failures_and_corrupt_records_are_5xx_pages() {
    let app = app(&[]);
    let (link, _) = share_link(COMPLETED, now() + 600);
    app.store()
        .fail_next([StoreError::Unavailable("throttled".into())]);
    let unavailable = get(&app, &link, &[("accept", BROWSER)]).await;
    unavailable.assert_page(503);
    assert_eq!(unavailable.header("retry-after"), Some("1"));
    assert!(unavailable
        .text()
        .contains("<h1>The job cannot be shown just now</h1>"));
    assert!(!unavailable.text().contains("throttled"));

    app.store()
        .set(COMPLETED, "state", AttributeValue::N("7".into()));
    let corrupt = get(&app, &link, &[("accept", BROWSER)]).await;
    corrupt.assert_page(500);
    assert!(corrupt.text().contains("<h1>Something went wrong</h1>"));
}

#[tokio::test]
async fn other_routes_answer_json_whatever_accept_says() {
    let app = app(&[]);
    let event = json!({
        "version": "2.0",
        "rawPath": "/api/v1/flickr/jobs/status",
        "headers": {"accept": BROWSER, "content-type": "application/json"},
        "body": json!({"job_id": COMPLETED, "user_id": OWNER}).to_string(),
        "requestContext": {"requestId": "pages-2", "http": {"method": "POST", "path": "/api/v1/flickr/jobs/status"}},
        "isBase64Encoded": false
    });
    let request = parse_event(&event.to_string()).expect("an HTTP event");
    let (response, _) = app.handle(&request, None).await;
    let (status, headers, _) = response.render("pages-2");
    assert_eq!(status, 200);
    assert!(headers.contains(&(
        "content-type",
        "application/json; charset=utf-8".to_string()
    )));
    assert!(!headers.iter().any(|(name, _)| *name == "vary"));

    let unknown = get(&app, "/api/v1/flickr/nothing", &[("accept", BROWSER)]).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.envelope()["error"]["code"], "ERR_ROUTE_NOT_FOUND");
}
