//! `POST /api/v1/flickr/jobs/status`, the original API, against the local DynamoDB server.

mod common;

use base64::Engine;
use common::*;
use flickr_job_status::auth::Refusal;
use serde_json::{json, Value};

#[tokio::test]
async fn completed_job_keeps_the_legacy_shape_and_headers() {
    let app = app(&[]).await;
    let reply = invoke(&app, &status_of(COMPLETED_JOB, OWNER)).await;
    assert_eq!(reply.status, 200);
    let body = reply.raw_body.as_deref().unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"request_id":"gateway-request-1","data":{},"error":null}}"#,
            COMPLETED_STATUS_DATA.trim_end()
        )
    );
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.header("x-request-id"), Some("gateway-request-1"));
    assert_eq!(app.reads(), 1);
}

#[tokio::test]
async fn numbers_sets_and_binary_come_back_as_stored() {
    let app = app(&[]).await;
    let reply = invoke(&app, &status_of("t-numbers", TEST_USER)).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let body = reply.raw_body.as_deref().unwrap();
    for exact in [
        r#""int":202"#,
        r#""big":12345678901234567"#,
        r#""precise":0.1000000000000000055511151231257827"#,
        r#""status":202"#,
        r#""negative":-17"#,
    ] {
        assert!(body.contains(exact), "{exact} missing from {body}");
    }
    let flickr = &reply.data()["returnvalue"]["flickr"];
    assert_eq!(flickr["b"], json!("aGVsbG8="));
    assert_eq!(flickr["bs"], json!(["aGk="]));
    assert_eq!(flickr["flag"], json!(false));
    assert_eq!(flickr["nothing"], Value::Null);
    assert_eq!(flickr["list"], json!([1, "two", {"deep": [true]}]));
    let mut strings: Vec<_> = flickr["ss"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    strings.sort();
    assert_eq!(strings, ["a", "b"]);
    // A number set comes back in any order, each member with the digits the table stores
    // (fixtures hold only canonical numbers, which DynamoDB keeps as written).
    let mut numbers: Vec<_> = flickr["ns"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    numbers.sort();
    assert_eq!(numbers, ["1", "2.5"]);
}

#[tokio::test]
async fn json_text_attributes_are_decoded_and_plain_text_kept() {
    let app = app(&[]).await;
    let reply = invoke(&app, &status_of("t-json-text", TEST_USER)).await;
    assert_eq!(reply.status, 200);
    let body = reply.raw_body.as_deref().unwrap();
    assert!(
        body.contains(r#""n":12345678901234567"#)
            && body.contains(r#""f":0.1000000000000000055511151231257827"#),
        "{body}"
    );
    assert_eq!(
        reply.data()["stacktrace"],
        json!(["Error: Flickr said no", "    at worker.js:1:1"])
    );
    assert_eq!(reply.data()["failedReason"], json!("Flickr said no"));
    assert_eq!(reply.data()["queue"], json!("flickr_upload"));

    let reply = invoke(&app, &status_of("t-plain-text", TEST_USER)).await;
    assert_eq!(reply.data()["returnvalue"], json!("done, not json"));
    assert_eq!(reply.data()["stacktrace"], json!("not [json"));
    assert_eq!(reply.data()["queue"], Value::Null);
}

#[tokio::test]
async fn absent_and_null_attributes_get_their_defaults() {
    let app = app(&[]).await;
    for job in ["t-minimal", "t-empty-target"] {
        let reply = invoke(&app, &status_of(job, TEST_USER)).await;
        assert_eq!(reply.status, 200, "{job}");
        let data = reply.data();
        assert_eq!(data["returnvalue"], Value::Null, "{job}");
        assert_eq!(data["failedReason"], Value::Null, "{job}");
        assert_eq!(data["stacktrace"], json!([]), "{job}");
        assert_eq!(data["queue"], Value::Null, "{job}");
    }
    let reply = invoke(&app, &status_of("t-unknown-target", TEST_USER)).await;
    assert_eq!(
        reply.data()["state"],
        json!("paused-by-operator"),
        "unknown states pass through"
    );
    assert_eq!(
        reply.data()["queue"],
        json!("flickr_rest"),
        "unknown targets go to the REST queue"
    );
}

#[tokio::test]
async fn not_found_and_not_yours_are_indistinguishable() {
    let app = app(&[]).await;
    let missing = invoke(&app, &status_of(MISSING_JOB, OWNER)).await;
    missing.assert_error(404, "ERR_JOB_NOT_FOUND");
    assert_eq!(missing.error_message(), Some("job_not_found"));
    let cases = [
        (COMPLETED_JOB, OTHER_USER),
        ("t-ownerless", TEST_USER),
        ("t-owner-number", TEST_USER),
        ("t-owner-null", TEST_USER),
        ("t-ownerless-corrupt", TEST_USER),
        // Ownership is decided before the record's validity: a stranger never learns of a corrupt job.
        ("t-corrupt-state", OWNER),
        ("t-corrupt-returnvalue-list", OTHER_USER),
    ];
    for (job, user) in cases {
        let reply = invoke(&app, &status_of(job, user)).await;
        assert_eq!(
            reply.without_request_id(),
            missing.without_request_id(),
            "{job} as {user}"
        );
    }
}

#[tokio::test]
async fn corrupt_records_of_the_owner_are_a_bare_500() {
    let app = app(&[]).await;
    for job in [
        "t-corrupt-state",
        "t-corrupt-state-missing",
        "t-corrupt-returnvalue",
        "t-corrupt-returnvalue-list",
        "t-corrupt-stacktrace",
        "t-corrupt-failed-reason",
        "t-corrupt-target",
    ] {
        let reply = invoke(&app, &status_of(job, TEST_USER)).await;
        reply.assert_error(500, "ERR_INTERNAL");
        assert_eq!(reply.error_message(), Some("internal error"), "{job}");
        let body = reply.raw_body.as_deref().unwrap();
        assert!(
            !body.contains("SECRET-RECORD-CONTENT")
                && !body.contains(job)
                && !body.contains(&table()),
            "{body}"
        );
    }
}

#[tokio::test]
async fn malformed_requests_get_a_400_and_no_read() {
    let app = app(&[]).await;
    let required = "job_id and user_id are required";
    let long_id = "x".repeat(257);
    let cases: Vec<(Value, Option<&str>)> = vec![
        (
            http_event(
                "POST",
                "/api/v1/flickr/jobs/status",
                &[("content-type", "application/json")],
                None,
            ),
            None,
        ),
        (status_request(""), None),
        (status_request("{\"job_id\": "), None),
        (status_request("[1, 2]"), None),
        (status_request("\"just a string\""), None),
        (status_request("null"), None),
        (status_request("42"), None),
        (status_request("{}"), Some(required)),
        (
            status_request(&json!({"job_id": COMPLETED_JOB}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"user_id": OWNER}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"job_id": null, "user_id": OWNER}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"job_id": "", "user_id": OWNER}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"job_id": COMPLETED_JOB, "user_id": ""}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"job_id": 42, "user_id": OWNER}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"job_id": COMPLETED_JOB, "user_id": {"id": OWNER}}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"job_id": [COMPLETED_JOB], "user_id": OWNER}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"job_id": true, "user_id": OWNER}).to_string()),
            Some(required),
        ),
        (
            status_request(&json!({"job_id": long_id, "user_id": OWNER}).to_string()),
            Some("job_id must be at most 256 bytes"),
        ),
        (
            status_request(
                &json!({"job_id": COMPLETED_JOB, "user_id": "x".repeat(300)}).to_string(),
            ),
            Some("user_id must be at most 256 bytes"),
        ),
        (
            status_request(r#"{"job_id": "a\u0000b", "user_id": "u"}"#),
            Some("job_id must not contain control characters"),
        ),
        (
            status_request(r#"{"job_id": "a\nb", "user_id": "u"}"#),
            Some("job_id must not contain control characters"),
        ),
        (
            status_request(r#"{"job_id": "a", "user_id": "u\u007f"}"#),
            Some("user_id must not contain control characters"),
        ),
        (
            status_request(r#"{"job_id": "a\u0085", "user_id": "u"}"#),
            Some("job_id must not contain control characters"),
        ),
    ];
    for (event, message) in cases {
        let reply = invoke(&app, &event).await;
        reply.assert_error(400, "ERR_INVALID_REQUEST");
        if let Some(message) = message {
            assert_eq!(reply.error_message(), Some(message), "{event}");
        }
    }
    assert_eq!(app.reads(), 0, "a rejected request never reaches DynamoDB");
}

#[tokio::test]
async fn bodies_that_are_not_utf8_or_not_base64_are_400() {
    let app = app(&[]).await;
    let mut event = status_request("");
    event["body"] =
        json!(base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe, b'{', b'}']));
    event["isBase64Encoded"] = json!(true);
    let reply = invoke(&app, &event).await;
    reply.assert_error(400, "ERR_INVALID_REQUEST");
    assert_eq!(
        reply.error_message(),
        Some("request body is not valid UTF-8")
    );

    event["body"] = json!("not base64 at all!!");
    let reply = invoke(&app, &event).await;
    reply.assert_error(400, "ERR_INVALID_REQUEST");
    assert_eq!(
        reply.error_message(),
        Some("request body is not valid base64")
    );
    assert_eq!(app.reads(), 0);
}

#[tokio::test]
async fn ids_at_the_limit_and_extra_keys_are_fine() {
    let app = app(&[]).await;
    let reply = invoke(&app, &status_of(&"x".repeat(256), TEST_USER)).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let body =
        json!({"job_id": COMPLETED_JOB, "user_id": OWNER, "extra": {"ignored": true}, "page": 2})
            .to_string();
    let reply = invoke(&app, &status_request(&body)).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.data()["id"], json!(COMPLETED_JOB));
    assert_eq!(app.reads(), 2, "exactly one read per valid request");
}

#[tokio::test]
async fn base64_bodies_are_decoded_first() {
    let app = app(&[]).await;
    let mut event = status_of(COMPLETED_JOB, OWNER);
    let body = event["body"].as_str().unwrap().to_string();
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    event["isBase64Encoded"] = json!(true);
    let reply = invoke(&app, &event).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.data()["state"], json!("completed"));
}

#[tokio::test]
async fn body_size_limit_is_64_kib_after_decoding() {
    let app = app(&[]).await;
    let ids = json!({"job_id": COMPLETED_JOB, "user_id": OWNER}).to_string();
    let at_limit = format!("{ids}{}", " ".repeat(64 * 1024 - ids.len()));
    assert_eq!(invoke(&app, &status_request(&at_limit)).await.status, 200);
    let over = format!("{at_limit} ");
    invoke(&app, &status_request(&over))
        .await
        .assert_error(413, "ERR_PAYLOAD_TOO_LARGE");

    let mut encoded = status_request("");
    encoded["body"] = json!(base64::engine::general_purpose::STANDARD.encode(over.as_bytes()));
    encoded["isBase64Encoded"] = json!(true);
    invoke(&app, &encoded)
        .await
        .assert_error(413, "ERR_PAYLOAD_TOO_LARGE");
    // Size is checked before the media type: a huge text/plain body is a 413.
    let huge_text = http_event(
        "POST",
        "/api/v1/flickr/jobs/status",
        &[("content-type", "text/plain")],
        Some(&over),
    );
    invoke(&app, &huge_text)
        .await
        .assert_error(413, "ERR_PAYLOAD_TOO_LARGE");
    assert_eq!(app.reads(), 1);
}

#[tokio::test]
async fn content_type_must_be_json_when_present() {
    let app = app(&[]).await;
    let body = json!({"job_id": COMPLETED_JOB, "user_id": OWNER}).to_string();
    for refused in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let event = http_event(
            "POST",
            "/api/v1/flickr/jobs/status",
            &[("content-type", refused)],
            Some(&body),
        );
        invoke(&app, &event)
            .await
            .assert_error(415, "ERR_UNSUPPORTED_MEDIA_TYPE");
    }
    // The media type is checked before the body: a bad body with a bad type is a 415.
    let event = http_event(
        "POST",
        "/api/v1/flickr/jobs/status",
        &[("content-type", "text/plain")],
        Some("not json"),
    );
    invoke(&app, &event)
        .await
        .assert_error(415, "ERR_UNSUPPORTED_MEDIA_TYPE");
    for accepted in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "APPLICATION/JSON",
    ] {
        let event = http_event(
            "POST",
            "/api/v1/flickr/jobs/status",
            &[("Content-Type", accepted)],
            Some(&body),
        );
        assert_eq!(invoke(&app, &event).await.status, 200, "{accepted}");
    }
    let no_type = http_event("POST", "/api/v1/flickr/jobs/status", &[], Some(&body));
    assert_eq!(invoke(&app, &no_type).await.status, 200);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods() {
    let app = app(&[]).await;
    // The collection is GET /jobs: another method is a 405.
    let reply = invoke(&app, &http_event("POST", "/api/v1/flickr/jobs", &[], None)).await;
    reply.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
    assert_eq!(reply.header("allow"), Some("GET"));
    for path in [
        "/",
        "/api/v1/flickr/jobs/",
        "/api/v1/flickr/job/status",
        "/api/v1/flickr/jobs/status/other/x",
    ] {
        invoke(&app, &http_event("POST", path, &[], None))
            .await
            .assert_error(404, "ERR_ROUTE_NOT_FOUND");
    }
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let reply = invoke(
            &app,
            &http_event(method, "/api/v1/flickr/jobs/status", &[], None),
        )
        .await;
        reply.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
        assert_eq!(reply.header("allow"), Some("POST"));
    }
    assert_eq!(app.reads(), 0);
}

#[tokio::test]
async fn request_id_falls_back_to_the_invocation_id() {
    let app = app(&[]).await;
    let mut event = status_of(COMPLETED_JOB, OWNER);
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("requestId");
    let reply = invoke(&app, &event).await;
    assert_eq!(reply.body["request_id"], json!(INVOCATION_ID));
    assert_eq!(reply.header("x-request-id"), Some(INVOCATION_ID));
}

#[tokio::test]
async fn rest_api_with_a_stage_prefix_and_alb_payloads() {
    let app = app(&[]).await;
    let body = json!({"job_id": COMPLETED_JOB, "user_id": OWNER}).to_string();
    let rest = json!({
        "resource": "/{proxy+}", "path": "/prod/api/v1/flickr/jobs/status", "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {"Content-Type": ["application/json"]},
        "queryStringParameters": null, "multiValueQueryStringParameters": null,
        "requestContext": {"requestId": "rest-1", "stage": "prod", "path": "/prod/api/v1/flickr/jobs/status"},
        "body": body, "isBase64Encoded": false
    });
    let value = serde_json::to_value(invoke_value(&app, &rest).await).unwrap();
    assert_eq!(value["statusCode"], json!(200));
    assert_eq!(
        value["multiValueHeaders"]["x-request-id"],
        json!(["rest-1"])
    );

    let alb = json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/jobs/1"}},
        "httpMethod": "POST", "path": "/api/v1/flickr/jobs/status", "queryStringParameters": {},
        "headers": {"content-type": "application/json"}, "body": body, "isBase64Encoded": false
    });
    let value = invoke_value(&app, &alb).await;
    assert_eq!(value["statusCode"], json!(200));
    assert_eq!(value["statusDescription"], json!("200 OK"));
    let body: Value = serde_json::from_str(value["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["request_id"],
        json!(INVOCATION_ID),
        "ALB has no request id of its own"
    );
}

async fn invoke_value(
    app: &flickr_job_status::app::App<Counting<flickr_job_status::store::DynamoStore>>,
    event: &Value,
) -> Value {
    let mut context = lambda_runtime::Context::default();
    context.request_id = INVOCATION_ID.to_string();
    let payload = serde_json::value::RawValue::from_string(event.to_string()).unwrap();
    let response = flickr_job_status::lambda::handle_event(
        app,
        lambda_runtime::LambdaEvent::new(payload, context),
    )
    .await
    .unwrap();
    serde_json::to_value(response).unwrap()
}

#[tokio::test]
async fn events_that_are_not_http_get_a_400_not_a_lambda_error() {
    let app = app(&[]).await;
    for raw in [
        "{}",
        "[]",
        "\"text\"",
        r#"{"Records": [{"eventSource": "aws:sqs"}]}"#,
        r#"{"version": "2.0", "rawPath": 5}"#,
    ] {
        let reply = invoke_raw(&app, raw, 0).await;
        reply.assert_error(400, "ERR_INVALID_REQUEST");
        assert_eq!(reply.body["request_id"], json!(INVOCATION_ID));
    }
}

#[tokio::test]
async fn caller_identity_must_match_the_body_user() {
    let app = app(&[]).await;
    let authorized = |user: &str| {
        with_authorizer(
            status_of(COMPLETED_JOB, OWNER),
            json!({"jwt": {"claims": {"sub": user}}}),
        )
    };
    assert_eq!(invoke(&app, &authorized(OWNER)).await.status, 200);
    let not_found = invoke(&app, &status_of(MISSING_JOB, OWNER)).await;
    let mismatch = invoke(&app, &authorized(OTHER_USER)).await;
    assert_eq!(
        mismatch.without_request_id(),
        not_found.without_request_id()
    );

    let with_bearer = |token: String| {
        let mut event = status_of(COMPLETED_JOB, OWNER);
        event["headers"]["authorization"] = json!(token);
        event
    };
    assert_eq!(invoke(&app, &with_bearer(bearer(OWNER))).await.status, 200);
    let other = invoke(&app, &with_bearer(bearer(OTHER_USER))).await;
    assert_eq!(other.without_request_id(), not_found.without_request_id());
    let reads_before = app.reads();
    let invalid = invoke(
        &app,
        &with_bearer(bearer_with("wrong-secret", OWNER, |_| {})),
    )
    .await;
    invalid.assert_refused(Refusal::BadSignature);
    invoke(&app, &with_bearer("Basic dXNlcjpwYXNz".into()))
        .await
        .assert_refused(Refusal::Malformed);
    assert_eq!(
        app.reads(),
        reads_before,
        "bad credentials are refused before the read"
    );
}

#[tokio::test]
async fn a_missing_table_is_a_500_that_names_nothing() {
    let app = app(&[("JOBS_TABLE", "no-such-table-anywhere")]).await;
    let reply = invoke(&app, &status_of(COMPLETED_JOB, OWNER)).await;
    reply.assert_error(500, "ERR_INTERNAL");
    assert!(!reply.raw_body.unwrap().contains("no-such-table"));
}

#[tokio::test]
async fn eventually_consistent_reads_work_too() {
    let app = app(&[("CONSISTENT_READ", "false")]).await;
    assert_eq!(
        invoke(&app, &status_of(COMPLETED_JOB, OWNER)).await.status,
        200
    );
}

#[tokio::test]
async fn the_trace_tells_route_read_time_and_state() {
    use flickr_job_status::http::event::parse_event;
    let app = app(&[]).await;
    let request = |event: Value| parse_event(&event.to_string()).expect("an HTTP event");

    let (response, trace) = app
        .handle(&request(status_of(COMPLETED_JOB, OWNER)), None)
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(trace.route, Some("status"));
    assert!(trace.store_latency.is_some());
    assert_eq!(trace.job_state.as_deref(), Some("completed"));

    let (_, rejected) = app.handle(&request(status_request("{}")), None).await;
    assert_eq!(
        (rejected.route, rejected.store_latency, rejected.job_state),
        (Some("status"), None, None)
    );

    // Someone else's job is read, but its state is not learnt (nor logged).
    let (_, stranger) = app
        .handle(&request(status_of(COMPLETED_JOB, OTHER_USER)), None)
        .await;
    assert!(stranger.store_latency.is_some());
    assert_eq!(stranger.job_state, None);

    let (_, unmatched) = app
        .handle(&request(http_event("GET", "/nowhere", &[], None)), None)
        .await;
    assert_eq!(unmatched.route, None);
}

#[tokio::test]
async fn deep_and_huge_records_are_answered_whole() {
    let app = app(&[]).await;
    let deep = invoke(&app, &status_of("t-deep-map", TEST_USER)).await;
    assert_eq!(deep.status, 200);
    let mut level = &deep.data()["returnvalue"]["flickr"];
    for _ in 0..31 {
        level = &level["d"];
    }
    assert_eq!(
        level,
        &json!("bottom"),
        "32 levels of maps, DynamoDB's maximum"
    );

    // Deeper than serde_json's recursion limit: kept as the text it is, not an error.
    let too_deep = invoke(&app, &status_of("t-deep-json-text", TEST_USER)).await;
    assert_eq!(too_deep.status, 200);
    assert_eq!(
        too_deep.data()["returnvalue"].as_str().map(str::len),
        Some(600)
    );

    let huge = invoke(&app, &status_of("t-huge", TEST_USER)).await;
    assert_eq!(huge.status, 200);
    assert_eq!(
        huge.data()["returnvalue"]["flickr"]["photos"]
            .as_array()
            .map(Vec::len),
        Some(350)
    );

    // A huge corrupt attribute: the owner gets a bare 500, a stranger the ordinary 404.
    let corrupt = invoke(&app, &status_of("t-huge-corrupt", TEST_USER)).await;
    corrupt.assert_error(500, "ERR_INTERNAL");
    assert!(corrupt.raw_body.as_deref().unwrap().len() < 200);
    let stranger = invoke(&app, &status_of("t-huge-corrupt", OWNER)).await;
    stranger.assert_error(404, "ERR_JOB_NOT_FOUND");
}
