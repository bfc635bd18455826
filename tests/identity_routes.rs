//! Caller identity, `GET /jobs/{id}`, `GET /jobs/{id}/result` and share links, against the
//! local DynamoDB server.

mod common;

use common::*;
use flickr_job_status::auth::Refusal;
use serde_json::{json, Value};

#[tokio::test]
async fn get_job_answers_the_data_of_the_post_then_the_metadata() {
    let app = app(&[]).await;
    let post = invoke(&app, &status_of(COMPLETED_JOB, OWNER)).await;
    let get = invoke(&app, &as_owner(&job_url(COMPLETED_JOB))).await;
    assert_eq!(get.status, 200);
    let post_data = COMPLETED_STATUS_DATA.trim_end();
    let get_data = COMPLETED_JOB_DATA.trim_end();
    // The six keys of the original API first, byte for byte, then the five of the GET route.
    assert!(get_data.starts_with(&post_data[..post_data.len() - 1]));
    assert!(post
        .raw_body
        .as_deref()
        .unwrap_or_default()
        .contains(post_data));
    assert!(get
        .raw_body
        .as_deref()
        .unwrap_or_default()
        .contains(get_data));
    assert!(get
        .header("etag")
        .is_some_and(|tag| tag.starts_with('"') && tag.ends_with('"')));
    assert_eq!(
        get.header("retry-after"),
        None,
        "completed jobs need no polling"
    );
    assert_eq!(get.header("cache-control"), Some("private, no-cache"));
}

#[tokio::test]
async fn every_identity_source_is_honoured() {
    let app = app(&[]).await;
    let path = job_url(COMPLETED_JOB);
    let authorizers = [
        json!({"jwt": {"claims": {"sub": OWNER}, "scopes": null}}),
        json!({"lambda": {"user_id": OWNER}}),
        json!({"user_id": OWNER, "principalId": "ignored"}),
        json!({"principalId": OWNER}),
        json!({"claims": {"sub": OWNER}}),
    ];
    for authorizer in authorizers {
        let reply = invoke(&app, &with_authorizer(get(&path, &[]), authorizer.clone())).await;
        assert_eq!(reply.status, 200, "{authorizer}");
        let other = with_authorizer(get(&path, &[]), json!({"lambda": {"user_id": OTHER_USER}}));
        invoke(&app, &other)
            .await
            .assert_error(404, "ERR_JOB_NOT_FOUND");
    }
    assert_eq!(invoke(&app, &as_owner(&path)).await.status, 200);
    // The authorizer's word comes first: API Gateway already checked its own token.
    let both = with_authorizer(
        get(&path, &[("authorization", "Bearer not-our-token")]),
        json!({"jwt": {"claims": {"sub": OWNER}}}),
    );
    assert_eq!(invoke(&app, &both).await.status, 200);
}

#[tokio::test]
async fn no_identity_is_a_401_and_no_read() {
    let app = app(&[]).await;
    for path in [job_url(COMPLETED_JOB), result_url(COMPLETED_JOB)] {
        invoke(&app, &get(&path, &[]))
            .await
            .assert_refused(Refusal::Missing);
        let other_auth = with_authorizer(get(&path, &[]), json!({"iam": {"accessKey": "AKIA"}}));
        invoke(&app, &other_auth)
            .await
            .assert_refused(Refusal::Missing);
    }
    // An empty Authorization header is a credential sent and refused, not none.
    invoke(&app, &share_request(COMPLETED_JOB, "", None))
        .await
        .assert_refused(Refusal::Malformed);
    invoke(
        &app,
        &http_event("POST", &share_url(COMPLETED_JOB), &[], None),
    )
    .await
    .assert_refused(Refusal::Missing);
    assert_eq!(app.reads(), 0);
}

#[tokio::test]
async fn forged_or_stale_bearer_tokens_are_401_on_every_route() {
    let app = app(&[
        ("JWT_ISSUER", "https://issuer.example"),
        ("JWT_AUDIENCE", "flickr-jobs"),
    ])
    .await;
    let good = |claims: &mut flickr_job_status::auth::bearer::Claims| {
        claims.iss = Some("https://issuer.example".into());
        claims.aud = Some("flickr-jobs".into());
    };
    let valid = bearer_with(JWT_SECRET, OWNER, good);
    let b64 = base64_url;
    let payload = b64(&format!(
        r#"{{"sub":"{OWNER}","exp":{},"iss":"https://issuer.example","aud":"flickr-jobs"}}"#,
        now_secs() + 600
    ));
    let bad_tokens = vec![
        (
            "alg none",
            format!("Bearer {}.{payload}.", b64(r#"{"alg":"none","typ":"JWT"}"#)),
            Refusal::AlgorithmNotAllowed,
        ),
        (
            "other secret",
            bearer_with("another-secret", OWNER, good),
            Refusal::BadSignature,
        ),
        (
            "expired",
            bearer_with(JWT_SECRET, OWNER, |c| {
                good(c);
                c.exp = now_secs() - 120;
            }),
            Refusal::Expired,
        ),
        (
            "not yet valid",
            bearer_with(JWT_SECRET, OWNER, |c| {
                good(c);
                c.nbf = Some(now_secs() + 300);
            }),
            Refusal::NotYetValid,
        ),
        (
            "wrong issuer",
            bearer_with(JWT_SECRET, OWNER, |c| {
                good(c);
                c.iss = Some("https://evil.example".into());
            }),
            Refusal::WrongIssuer,
        ),
        (
            "wrong audience",
            bearer_with(JWT_SECRET, OWNER, |c| {
                good(c);
                c.aud = Some("another-api".into());
            }),
            Refusal::WrongAudience,
        ),
        ("no issuer or audience", bearer(OWNER), Refusal::WrongIssuer),
        ("truncated", truncated_signature(&valid), Refusal::Malformed),
        (
            "garbage",
            "Bearer abc.def.ghi".to_string(),
            Refusal::Malformed,
        ),
        ("empty", "Bearer ".to_string(), Refusal::Malformed),
        (
            "other scheme",
            "Basic b3duZXI6cGFzcw==".to_string(),
            Refusal::Malformed,
        ),
    ];
    let hs512 = common::idp::hmac_token(
        &json!({"alg": "HS512", "typ": "JWT"}),
        &json!({"sub": OWNER, "exp": now_secs() + 600, "iss": "https://issuer.example", "aud": "flickr-jobs"}),
        JWT_SECRET.as_bytes(),
    );
    let mut bad_tokens = bad_tokens;
    bad_tokens.push((
        "HS512",
        format!("Bearer {hs512}"),
        Refusal::AlgorithmNotAllowed,
    ));

    for path in [job_url(COMPLETED_JOB), result_url(COMPLETED_JOB)] {
        assert_eq!(
            invoke(&app, &get(&path, &[("authorization", &valid)]))
                .await
                .status,
            200,
            "{path}"
        );
        for (what, token, reason) in &bad_tokens {
            let reply = invoke(&app, &get(&path, &[("authorization", token)])).await;
            assert_eq!(reply.status, 401, "{what} on {path}");
            assert_eq!(reply.refusal, Some(reason.name()), "{what} on {path}");
            reply.assert_refused(*reason);
        }
    }
    for (what, token, _) in &bad_tokens {
        let reply = invoke(&app, &share_request(COMPLETED_JOB, token, None)).await;
        assert_eq!(reply.status, 401, "{what} on share");
        let mut post = status_of(COMPLETED_JOB, OWNER);
        post["headers"]["authorization"] = json!(token);
        assert_eq!(
            invoke(&app, &post).await.status,
            401,
            "{what} on the original POST"
        );
    }
    let repeated = get(&job_url(COMPLETED_JOB), &[]);
    let mut repeated = repeated;
    repeated["multiValueHeaders"] = json!({"authorization": [valid.clone(), valid.clone()]});
    assert_eq!(
        invoke(&app, &repeated).await.status,
        401,
        "two Authorization headers"
    );
}

#[tokio::test]
async fn without_jwt_secret_bearer_tokens_are_refused() {
    let app = app(&[("JWT_SECRET", "")]).await;
    invoke(&app, &as_owner(&job_url(COMPLETED_JOB)))
        .await
        .assert_refused(Refusal::AlgorithmNotAllowed);
    let mut post = status_of(COMPLETED_JOB, OWNER);
    post["headers"]["authorization"] = json!(bearer(OWNER));
    invoke(&app, &post)
        .await
        .assert_refused(Refusal::AlgorithmNotAllowed);
    // Authorizer identities need no secret.
    let authorized = with_authorizer(
        get(&job_url(COMPLETED_JOB), &[]),
        json!({"jwt": {"claims": {"sub": OWNER}}}),
    );
    assert_eq!(invoke(&app, &authorized).await.status, 200);
}

#[tokio::test]
async fn etags_are_stable_and_follow_the_record() {
    let app = app(&[]).await;
    let client = client().await;
    let job_id = format!("etag-{}", now_ms());
    let put = |state: &'static str, flickr: &'static str| {
        let client = client.clone();
        let job_id = job_id.clone();
        async move {
            use aws_sdk_dynamodb::types::AttributeValue as Av;
            client
                .put_item()
                .table_name(table())
                .item("jobId", Av::S(job_id))
                .item("user_id", Av::S(OWNER.into()))
                .item("state", Av::S(state.into()))
                .item("target", Av::S("rest".into()))
                .item(
                    "returnvalue",
                    Av::M(
                        [
                            (
                                "flickr".to_string(),
                                Av::M(
                                    [
                                        ("stat".to_string(), Av::S(flickr.into())),
                                        ("a".into(), Av::N("1".into())),
                                        ("z".into(), Av::Bool(true)),
                                    ]
                                    .into(),
                                ),
                            ),
                            ("from_cache".to_string(), Av::Bool(false)),
                        ]
                        .into(),
                    ),
                )
                .send()
                .await
                .expect("put_item");
        }
    };
    put("queued", "ok").await;
    let path = job_url(&job_id);
    let first = invoke(&app, &as_owner(&path)).await;
    let tag = first.header("etag").unwrap().to_string();
    assert_eq!(
        first.header("retry-after"),
        Some("2"),
        "queued jobs are polled"
    );
    for _ in 0..3 {
        assert_eq!(
            invoke(&app, &as_owner(&path)).await.header("etag"),
            Some(tag.as_str())
        );
    }
    // Written again with the same content: same tag, whatever order DynamoDB returns the map in.
    put("queued", "ok").await;
    assert_eq!(
        invoke(&app, &as_owner(&path)).await.header("etag"),
        Some(tag.as_str())
    );

    for matching in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"other\", {tag}"),
        "*".to_string(),
    ] {
        let reply = invoke(
            &app,
            &get(
                &path,
                &[
                    ("authorization", &bearer(OWNER)),
                    ("if-none-match", &matching),
                ],
            ),
        )
        .await;
        assert_eq!(reply.status, 304, "{matching}");
        assert_eq!(reply.raw_body, None);
        assert_eq!(reply.header("etag"), Some(tag.as_str()));
        assert_eq!(reply.header("retry-after"), Some("2"));
        assert_eq!(reply.header("content-type"), None);
    }
    let stale = invoke(
        &app,
        &get(
            &path,
            &[
                ("authorization", &bearer(OWNER)),
                ("if-none-match", "\"stale\""),
            ],
        ),
    )
    .await;
    assert_eq!(stale.status, 200);

    put("completed", "ok").await;
    let changed = invoke(
        &app,
        &get(
            &path,
            &[("authorization", &bearer(OWNER)), ("if-none-match", &tag)],
        ),
    )
    .await;
    assert_eq!(changed.status, 200, "a changed record is sent again");
    assert_ne!(changed.header("etag"), Some(tag.as_str()));
    assert_eq!(changed.header("retry-after"), None);
}

#[tokio::test]
async fn result_of_each_state() {
    let app = app(&[]).await;
    let completed = invoke(&app, &as_owner(&result_url(COMPLETED_JOB))).await;
    assert_eq!(completed.status, 200);
    assert_eq!(
        completed.data(),
        &json!({"stat": "ok", "method": {"_content": "flickr.test.echo"}, "name": {"_content": "callback-test"}})
    );
    assert_eq!(completed.header("x-from-cache"), Some("false"));

    for (job, state) in [(QUEUED_JOB, "queued"), (RETRYING_JOB, "retrying")] {
        let pending = invoke(&app, &as_owner(&result_url(job))).await;
        assert_eq!(pending.status, 202);
        assert_eq!(pending.body["error"], Value::Null);
        assert_eq!(pending.data(), &json!({"id": job, "state": state}));
        assert_eq!(pending.header("retry-after"), Some("2"));
        assert_eq!(pending.header("location"), Some(job_url(job).as_str()));
    }

    let failed = invoke(&app, &as_owner(&result_url(FAILED_JOB))).await;
    failed.assert_error(409, "ERR_JOB_FAILED");
    assert_eq!(
        failed.error_message(),
        Some(format!("Token not found for userId={OWNER}").as_str())
    );
}

#[tokio::test]
async fn result_edge_cases() {
    let app = app(&[]).await;
    let as_test_user = |job: &str| get(&result_url(job), &[("authorization", &bearer(TEST_USER))]);
    let no_flickr = invoke(&app, &as_test_user("t-completed-no-flickr")).await;
    assert_eq!((no_flickr.status, no_flickr.data()), (200, &Value::Null));
    assert_eq!(no_flickr.header("x-from-cache"), Some("true"));
    let list = invoke(&app, &as_test_user("t-completed-list-flickr")).await;
    assert_eq!(list.data(), &json!([1, 2]));
    assert_eq!(
        list.header("x-from-cache"),
        None,
        "from_cache that is not a bool"
    );
    let text = invoke(&app, &as_test_user("t-plain-text")).await;
    assert_eq!((text.status, text.data()), (200, &Value::Null));
    let failed = invoke(&app, &as_test_user("t-failed-no-reason")).await;
    failed.assert_error(409, "ERR_JOB_FAILED");
    assert_eq!(failed.error_message(), Some("job failed"));
    let other_state = invoke(&app, &as_test_user("t-unknown-target")).await;
    assert_eq!(other_state.status, 202, "unknown states are pending");
    invoke(&app, &as_test_user("t-corrupt-state"))
        .await
        .assert_error(500, "ERR_INTERNAL");
    invoke(&app, &as_test_user("t-ownerless"))
        .await
        .assert_error(404, "ERR_JOB_NOT_FOUND");
}

#[tokio::test]
async fn ids_that_need_encoding() {
    let app = app(&[]).await;
    let id = "a/b ?#é%";
    let encoded = "a%2Fb%20%3F%23%C3%A9%25";
    let reply = invoke(
        &app,
        &get(
            &result_url(encoded),
            &[("authorization", &bearer(TEST_USER))],
        ),
    )
    .await;
    assert_eq!(reply.status, 202, "{reply:#?}");
    assert_eq!(reply.data()["id"], json!(id));
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/flickr/jobs/{encoded}").as_str())
    );

    let share = invoke(&app, &share_request(encoded, &bearer(TEST_USER), None)).await;
    assert_eq!(share.status, 201, "{share:#?}");
    let url = share.data()["url"].as_str().unwrap();
    let token = share.data()["token"].as_str().unwrap();
    assert_eq!(
        url,
        format!("/api/v1/flickr/jobs/{encoded}/result?token={token}")
    );
    let (path, query) = url.split_once('?').unwrap();
    let via_link = invoke(&app, &with_query(get(path, &[]), query)).await;
    assert_eq!(via_link.status, 202);

    for bad in ["%FF", "a%00b", "%0A"] {
        let reply = invoke(&app, &as_owner(&job_url(bad))).await;
        reply.assert_error(400, "ERR_INVALID_REQUEST");
    }
    let long = "x".repeat(257);
    invoke(&app, &as_owner(&job_url(&long)))
        .await
        .assert_error(400, "ERR_INVALID_REQUEST");
}

#[tokio::test]
async fn the_bare_status_path_is_not_a_job_id() {
    let app = app(&[]).await;
    let reply = invoke(
        &app,
        &get(
            "/api/v1/flickr/jobs/status",
            &[("authorization", &bearer(TEST_USER))],
        ),
    )
    .await;
    reply.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
    assert_eq!(reply.header("allow"), Some("POST"));
    let result = invoke(
        &app,
        &get(
            &result_url("status"),
            &[("authorization", &bearer(TEST_USER))],
        ),
    )
    .await;
    assert_eq!(result.status, 200);
    assert_eq!(result.data(), &json!({"stat": "ok"}));
    let share = invoke(&app, &share_request("status", &bearer(TEST_USER), None)).await;
    assert_eq!(share.status, 201);
    for (method, path, allow) in [
        ("POST", job_url(COMPLETED_JOB), "GET"),
        ("PUT", result_url(COMPLETED_JOB), "GET"),
        ("GET", share_url(COMPLETED_JOB), "POST"),
    ] {
        let reply = invoke(&app, &http_event(method, &path, &[], None)).await;
        reply.assert_error(405, "ERR_METHOD_NOT_ALLOWED");
        assert_eq!(reply.header("allow"), Some(allow));
    }
}

#[tokio::test]
async fn share_links_grant_read_of_one_job_until_they_expire() {
    let app = app(&[]).await;
    let reply = invoke(
        &app,
        &share_request(
            COMPLETED_JOB,
            &bearer(OWNER),
            Some(r#"{"expires_in": 600}"#),
        ),
    )
    .await;
    assert_eq!(reply.status, 201, "{reply:#?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let token = reply.data()["token"].as_str().unwrap().to_string();
    let url = reply.data()["url"].as_str().unwrap().to_string();
    assert_eq!(reply.header("location"), Some(url.as_str()));
    let expires_at = reply.data()["expires_at"].as_str().unwrap();
    let expires = humantime::parse_rfc3339(expires_at)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now_secs() + 595..=now_secs() + 601).contains(&expires),
        "{expires_at}"
    );

    let query = format!("token={token}");
    let result = invoke(
        &app,
        &with_query(get(&result_url(COMPLETED_JOB), &[]), &query),
    )
    .await;
    assert_eq!(result.status, 200);
    assert_eq!(result.data()["stat"], json!("ok"));
    let status = invoke(&app, &with_query(get(&job_url(COMPLETED_JOB), &[]), &query)).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.data()["id"], json!(COMPLETED_JOB));
    // The token decides alone, whatever the Authorization header says.
    let other_user = invoke(
        &app,
        &with_query(
            get(
                &result_url(COMPLETED_JOB),
                &[("authorization", &bearer(OTHER_USER))],
            ),
            &query,
        ),
    )
    .await;
    assert_eq!(other_user.status, 200);
    let garbage_auth = invoke(
        &app,
        &with_query(
            get(
                &result_url(COMPLETED_JOB),
                &[("authorization", "Bearer junk")],
            ),
            &query,
        ),
    )
    .await;
    assert_eq!(garbage_auth.status, 200);

    // Scoped to its job.
    invoke(&app, &with_query(get(&result_url(FAILED_JOB), &[]), &query))
        .await
        .assert_refused(Refusal::ShareTokenInvalid);
}

#[tokio::test]
async fn bad_share_tokens_are_401_even_with_good_credentials() {
    let app = app(&[]).await;
    let good = share_token_for(COMPLETED_JOB, now_secs() + 600);
    let (expiry, signature) = good.split_once('.').unwrap();
    let mut flipped = signature.to_string().into_bytes();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let bad_queries = [
        (
            "expired",
            format!("token={}", share_token_for(COMPLETED_JOB, now_secs() - 1)),
        ),
        (
            "expires now",
            format!("token={}", share_token_for(COMPLETED_JOB, now_secs())),
        ),
        (
            "other job",
            format!("token={}", share_token_for(FAILED_JOB, now_secs() + 600)),
        ),
        (
            "longer expiry",
            format!(
                "token={}.{signature}",
                expiry.parse::<u64>().unwrap() + 3600
            ),
        ),
        ("tampered signature", format!("token={expiry}.{flipped}")),
        ("truncated", format!("token={}", &good[..good.len() - 6])),
        (
            "other secret",
            format!(
                "token={}",
                share_signer("other").mint(COMPLETED_JOB, now_secs() + 600)
            ),
        ),
        ("empty", "token=".to_string()),
        ("repeated", format!("token={good}&token={good}")),
    ];
    for (what, query) in bad_queries {
        // Only a token that was once valid for this job is "expired"; the rest never were.
        let reason = if what.starts_with("expire") {
            Refusal::ShareTokenExpired
        } else {
            Refusal::ShareTokenInvalid
        };
        for path in [result_url(COMPLETED_JOB), job_url(COMPLETED_JOB)] {
            let reply = invoke(
                &app,
                &with_query(get(&path, &[("authorization", &bearer(OWNER))]), &query),
            )
            .await;
            assert_eq!(reply.status, 401, "{what} on {path}");
            assert_eq!(reply.refusal, Some(reason.name()), "{what} on {path}");
            reply.assert_refused(reason);
        }
    }
    assert_eq!(app.reads(), 0, "refused tokens never reach DynamoDB");
    let ok = invoke(
        &app,
        &with_query(
            get(&result_url(COMPLETED_JOB), &[]),
            &format!("token={good}"),
        ),
    )
    .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test]
async fn share_route_rules() {
    let app = app(&[]).await;
    let owner = bearer(OWNER);
    for body in [
        None,
        Some(""),
        Some("{}"),
        Some(r#"{"expires_in": null}"#),
        Some(r#"{"expires_in": 60}"#),
        Some(r#"{"expires_in": 604800}"#),
    ] {
        assert_eq!(
            invoke(&app, &share_request(COMPLETED_JOB, &owner, body))
                .await
                .status,
            201,
            "{body:?}"
        );
    }
    for body in [
        r#"{"expires_in": 59}"#,
        r#"{"expires_in": 604801}"#,
        r#"{"expires_in": "600"}"#,
        r#"{"expires_in": 90.5}"#,
        "[]",
        "not json",
    ] {
        let reply = invoke(&app, &share_request(COMPLETED_JOB, &owner, Some(body))).await;
        reply.assert_error(400, "ERR_INVALID_REQUEST");
    }
    let wrong_type = http_event(
        "POST",
        &share_url(COMPLETED_JOB),
        &[("authorization", &owner), ("content-type", "text/plain")],
        Some("{}"),
    );
    invoke(&app, &wrong_type)
        .await
        .assert_error(415, "ERR_UNSUPPORTED_MEDIA_TYPE");

    // Only the owner shares; to anyone else the job does not exist.
    invoke(
        &app,
        &share_request(COMPLETED_JOB, &bearer(OTHER_USER), None),
    )
    .await
    .assert_error(404, "ERR_JOB_NOT_FOUND");
    invoke(&app, &share_request(MISSING_JOB, &owner, None))
        .await
        .assert_error(404, "ERR_JOB_NOT_FOUND");
    // A share token is not an identity here.
    let token = share_token_for(COMPLETED_JOB, now_secs() + 600);
    let with_token_only = with_query(
        http_event("POST", &share_url(COMPLETED_JOB), &[], None),
        &format!("token={token}"),
    );
    invoke(&app, &with_token_only)
        .await
        .assert_refused(Refusal::Missing);
    let with_token_and_owner =
        with_query(share_request(COMPLETED_JOB, &owner, None), "token=garbage");
    assert_eq!(
        invoke(&app, &with_token_and_owner).await.status,
        201,
        "the token is ignored"
    );
    // Authorizer identities may share too.
    let via_authorizer = with_authorizer(
        http_event("POST", &share_url(COMPLETED_JOB), &[], None),
        json!({"claims": {"sub": OWNER}}),
    );
    assert_eq!(invoke(&app, &via_authorizer).await.status, 201);
}

#[tokio::test]
async fn without_a_share_secret_the_route_is_501_first_and_tokens_are_refused() {
    let app = app(&[("SHARE_TOKEN_SECRET", "")]).await;
    let huge = "x".repeat(70 * 1024);
    for event in [
        share_request(COMPLETED_JOB, &bearer(OWNER), None),
        http_event(
            "POST",
            &share_url(COMPLETED_JOB),
            &[("content-type", "text/plain")],
            Some(&huge),
        ),
        http_event(
            "POST",
            &share_url("%FF"),
            &[("authorization", "Bearer junk")],
            None,
        ),
    ] {
        invoke(&app, &event)
            .await
            .assert_error(501, "ERR_NOT_CONFIGURED");
    }
    // Route and method come before configuration.
    invoke(&app, &get(&share_url(COMPLETED_JOB), &[]))
        .await
        .assert_error(405, "ERR_METHOD_NOT_ALLOWED");
    let token = share_token_for(COMPLETED_JOB, now_secs() + 600);
    let reply = invoke(
        &app,
        &with_query(
            get(
                &result_url(COMPLETED_JOB),
                &[("authorization", &bearer(OWNER))],
            ),
            &format!("token={token}"),
        ),
    )
    .await;
    reply.assert_refused(Refusal::ShareTokensNotConfigured);
    assert_eq!(app.reads(), 0);
}

#[tokio::test]
async fn rest_api_query_strings_and_authorizers() {
    let app = app(&[]).await;
    let token = share_token_for(COMPLETED_JOB, now_secs() + 600);
    let rest = |query: Value| {
        json!({
            "resource": "/{proxy+}", "path": format!("/prod{}", result_url(COMPLETED_JOB)), "httpMethod": "GET",
            "headers": {}, "multiValueHeaders": {},
            "queryStringParameters": query.as_object().map(|q| q.iter().map(|(k, v)| (k.clone(), v[0].clone())).collect::<serde_json::Map<_, _>>()),
            "multiValueQueryStringParameters": query,
            "requestContext": {"requestId": "rest-2", "stage": "prod"},
            "body": null, "isBase64Encoded": false
        })
    };
    assert_eq!(
        invoke(&app, &rest(json!({"token": [token.clone()]})))
            .await
            .status,
        200
    );
    assert_eq!(
        invoke(
            &app,
            &rest(json!({"token": [token.clone(), token.clone()]}))
        )
        .await
        .status,
        401
    );
}

/// DynamoDB serves an item past its TTL until it deletes it, eventually: such a record is
/// answered exactly as a missing one, on every route.
#[tokio::test]
async fn expired_records_are_missing_jobs_on_every_route() {
    let app = app(&[]).await;
    let auth = bearer(TEST_USER);
    let routes = |id: &str| {
        let path = job_url(id);
        vec![
            http_event("GET", &path, &[("authorization", &auth)], None),
            http_event(
                "GET",
                &format!("{path}/result"),
                &[("authorization", &auth)],
                None,
            ),
            http_event(
                "POST",
                &format!("{path}/share"),
                &[("authorization", &auth)],
                None,
            ),
            status_of(id, TEST_USER),
        ]
    };
    for (expired, missing) in routes("t-expired").iter().zip(routes(MISSING_JOB)) {
        let expired = invoke(&app, expired).await;
        expired.assert_error(404, "ERR_JOB_NOT_FOUND");
        assert_eq!(
            expired.without_request_id(),
            invoke(&app, &missing).await.without_request_id()
        );
    }
    // An expires_at that is not a number is ignored (and logged): the job is served.
    let kept = invoke(
        &app,
        &http_event(
            "GET",
            &job_url("t-expires-text"),
            &[("authorization", &auth)],
            None,
        ),
    )
    .await;
    assert_eq!(kept.status, 200, "{kept:#?}");
    assert_eq!(kept.data()["expires_at"], Value::Null);
}

#[tokio::test]
async fn the_get_status_object_carries_progress_attempts_and_timestamps() {
    let app = app(&[]).await;
    let auth = bearer(TEST_USER);
    let get = |id: &str| http_event("GET", &job_url(id), &[("authorization", &auth)], None);
    let reply = invoke(&app, &get("t-metadata")).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(
        reply.raw_body.as_deref().unwrap_or_default(),
        r#"{"request_id":"gateway-request-1","data":{"id":"t-metadata","state":"retrying","returnvalue":null,"failedReason":null,"stacktrace":[],"queue":"flickr_upload","progress":{"percent":42,"stage":"uploading","message":"3 of 7 photos"},"attempts":2,"created_at":"2026-12-01T19:32:29.123Z","updated_at":"2026-12-01T19:32:30.000Z","expires_at":"2100-01-01T00:00:00Z"},"error":null}"#
    );
    // Metadata of an unusable type is null, never a corrupt record.
    let unusable = invoke(&app, &get("t-metadata-unusable")).await;
    assert_eq!(unusable.status, 200, "{unusable:#?}");
    for key in [
        "progress",
        "attempts",
        "created_at",
        "updated_at",
        "expires_at",
    ] {
        assert_eq!(unusable.data()[key], Value::Null, "{key}");
    }
}
