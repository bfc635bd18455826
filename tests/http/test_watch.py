"""The built binary over HTTP, as a user of `dev/run` calls it with curl."""

import json
import subprocess

import time

from conftest import LOG_PATH, ROOT, SENT_CREDENTIALS, envelope, mint_token

OWNER = "09b4e414-4f70-4226-9ee8-f9e815fc2539"
OTHER = "5d1e7f3a-0b2c-4d6e-8f9a-1b2c3d4e5f60"
COMPLETED = "e6b6634c-e07c-43f0-88b3-9516590aad77"
QUEUED = "7a2d9c4b-1e3f-4b8a-8c5d-6f0e9a1b2c3d"
FAILED = "3f1c2a9e-7b55-4d0e-9a61-2c8f0b7d4e11"
# The completed sample job's `data`, exactly as the function writes it (shared with the Rust tests).
COMPLETED_DATA = (ROOT / "tests/fixtures/expected/completed-status.json").read_text().strip()
# The same job as GET /jobs/{job_id} writes it.
COMPLETED_JOB_DATA = (ROOT / "tests/fixtures/expected/completed-job.json").read_text().strip()
JSON = {"Content-Type": "application/json"}


def post_status(function, job_id, user_id, headers=JSON):
    return function.request("POST", "/api/v1/flickr/jobs/status", json.dumps({"job_id": job_id, "user_id": user_id}), headers)


def test_the_readme_curl_answers_the_completed_job(function):
    status, headers, text = post_status(function, COMPLETED, OWNER)
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    request_id = headers["x-request-id"]
    assert text == f'{{"request_id":"{request_id}","data":{COMPLETED_DATA},"error":null}}'


def test_not_found_and_wrong_user_look_the_same(function):
    missing = post_status(function, "00000000-0000-4000-8000-000000000000", OWNER)
    wrong_user = post_status(function, COMPLETED, OTHER)
    for status, headers, text in (missing, wrong_user):
        assert status == 404
        body = envelope(text)
        assert body["error"] == {"code": "ERR_JOB_NOT_FOUND", "message": "job_not_found"}
        assert body["data"] is None


def test_bad_requests_are_4xx_envelopes(function):
    cases = [
        ("POST", "/api/v1/flickr/jobs/status", '{"job_id": ', JSON, 400, "ERR_INVALID_REQUEST"),
        ("POST", "/api/v1/flickr/jobs/status", '{"job_id": "x"}', JSON, 400, "ERR_INVALID_REQUEST"),
        ("POST", "/api/v1/flickr/jobs/status", "job_id=x", {"Content-Type": "text/plain"}, 415, "ERR_UNSUPPORTED_MEDIA_TYPE"),
        ("POST", "/api/v1/flickr/jobs/status", "x" * (64 * 1024 + 1), JSON, 413, "ERR_PAYLOAD_TOO_LARGE"),
        ("GET", "/api/v1/flickr/nothing-here", None, {}, 404, "ERR_ROUTE_NOT_FOUND"),
        ("DELETE", f"/api/v1/flickr/jobs/{COMPLETED}", None, {}, 405, "ERR_METHOD_NOT_ALLOWED"),
        ("GET", f"/api/v1/flickr/jobs/{COMPLETED}", None, {}, 401, "ERR_UNAUTHORIZED"),
        ("GET", f"/api/v1/flickr/jobs/{COMPLETED}", None, {"Authorization": "Bearer forged.token.here"}, 401, "ERR_UNAUTHORIZED"),
    ]
    for method, path, body, headers, expected_status, code in cases:
        status, response_headers, text = function.request(method, path, body, headers)
        assert status == expected_status, (method, path, status, text)
        assert envelope(text)["error"]["code"] == code
        assert response_headers["cache-control"] == "no-store"


def test_get_routes_with_a_minted_bearer_token(function):
    auth = {"Authorization": f"Bearer {mint_token(OWNER)}"}
    status, headers, text = function.request("GET", f"/api/v1/flickr/jobs/{COMPLETED}", headers=auth)
    assert status == 200
    assert text.endswith(f'"data":{COMPLETED_JOB_DATA},"error":null}}')
    etag = headers["etag"]
    status, headers, text = function.request("GET", f"/api/v1/flickr/jobs/{COMPLETED}", headers={**auth, "If-None-Match": etag})
    assert (status, text) == (304, None)

    status, headers, text = function.request("GET", f"/api/v1/flickr/jobs/{QUEUED}/result", headers=auth)
    assert status == 202
    assert headers["retry-after"] == "2"
    assert headers["location"] == f"/api/v1/flickr/jobs/{QUEUED}"
    status, _, text = function.request("GET", f"/api/v1/flickr/jobs/{FAILED}/result", headers=auth)
    assert status == 409
    assert envelope(text)["error"]["message"] == f"Token not found for userId={OWNER}"


def test_the_identity_providers_own_tokens_work_on_every_route(function, identity_provider):
    token = identity_provider.token(OWNER)
    auth = {"Authorization": f"Bearer {token}", **JSON}
    body = json.dumps({"job_id": COMPLETED, "user_id": OWNER})
    assert function.request("POST", "/api/v1/flickr/jobs/status", body, auth)[0] == 200
    assert function.request("GET", f"/api/v1/flickr/jobs/{COMPLETED}", headers=auth)[0] == 200
    assert function.request("GET", f"/api/v1/flickr/jobs/{COMPLETED}/result", headers=auth)[0] == 200
    assert function.request("POST", f"/api/v1/flickr/jobs/{COMPLETED}/share", None, auth)[0] == 201
    stranger = {"Authorization": f"Bearer {identity_provider.token(OTHER)}"}
    status, _, text = function.request("GET", f"/api/v1/flickr/jobs/{COMPLETED}", headers=stranger)
    assert status == 404 and envelope(text)["error"]["code"] == "ERR_JOB_NOT_FOUND"
    forged = token[: token.rindex(".") + 1] + "AAAA"
    status, headers, _ = function.request("GET", f"/api/v1/flickr/jobs/{COMPLETED}", headers={"Authorization": f"Bearer {forged}"})
    # A token was presented and failed: the challenge says so (docs/API.md, why a token was refused).
    assert status == 401 and headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_a_share_link_works_without_credentials(function):
    auth = {"Authorization": f"Bearer {mint_token(OWNER)}", **JSON}
    status, _, text = function.request("POST", f"/api/v1/flickr/jobs/{COMPLETED}/share", '{"expires_in": 120}', auth)
    assert status == 201, text
    link = envelope(text)["data"]
    SENT_CREDENTIALS.append(link["token"])
    status, headers, text = function.request("GET", link["url"])
    assert status == 200
    assert headers["x-from-cache"] == "false"
    assert envelope(text)["data"] == {"stat": "ok", "method": {"_content": "flickr.test.echo"}, "name": {"_content": "callback-test"}}
    status, _, _ = function.request("GET", link["url"].replace(COMPLETED, QUEUED))
    assert status == 401


def test_cargo_lambda_invoke_with_the_sample_events(function):
    for name, expected_status in [
        ("http-api-status-completed", 200),
        ("rest-api-status-completed", 200),
        ("function-url-status-base64-body", 200),
        ("http-api-status-invalid-base64", 400),
        ("rest-api-get-result-cognito", 200),
        ("http-api-get-result-share-token", 200),
    ]:
        result = subprocess.run(
            ["cargo", "lambda", "invoke", "flickr-job-status", "--data-file", f"events/{name}.json",
             "--invoke-address", "127.0.0.1", "--invoke-port", str(function.port), "--output-format", "json"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 0, result.stderr
        response = json.loads(result.stdout)
        assert response["statusCode"] == expected_status, (name, response)
        body = envelope(response["body"])
        event = json.loads((ROOT / "events" / f"{name}.json").read_text())
        assert body["request_id"] == event["requestContext"]["requestId"]


def read_log_lines():
    lines = []
    for raw in LOG_PATH.read_text().splitlines():
        start = raw.find("{")
        if start < 0:
            continue
        try:
            lines.append(json.loads(raw[start:]))
        except ValueError:
            continue
    return lines


def test_zz_logs_have_one_request_line_and_one_metrics_line_and_no_secrets(function):
    """Runs last: reads everything the function logged during this session."""
    status, headers, _ = post_status(function, COMPLETED, OWNER)
    request_id = headers["x-request-id"]
    deadline = time.time() + 10
    while True:
        lines = read_log_lines()
        requests = [l for l in lines if l.get("fields", {}).get("message") == "request"]
        metrics = [l for l in lines if "_aws" in l]
        if any(l["fields"]["request_id"] == request_id for l in requests) and any(m["request_id"] == request_id for m in metrics):
            break
        assert time.time() < deadline, "the request's log and metrics lines never appeared"
        time.sleep(0.2)

    line = next(l for l in requests if l["fields"]["request_id"] == request_id)["fields"]
    assert line["route"] == "status" and line["status"] == 200 and line["job_state"] == "completed"
    assert line["latency_ms"] >= line["dynamodb_ms"] > 0
    assert line["cold_start"] is False
    assert "xray_trace_id" in line
    emf = next(m for m in metrics if m["request_id"] == request_id)
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "FlickrJobStatus"
    assert emf["Route"] == "status" and emf["StatusClass"] == "2xx" and emf["Requests"] == 1
    assert len(requests) == len(metrics), "one metrics line per request line"
    # cargo lambda watch may start more than one instance; each reports its own first request.
    assert any(l["fields"]["cold_start"] for l in requests), "the first request was a cold start"

    text = LOG_PATH.read_text()
    assert len(SENT_CREDENTIALS) >= 4
    for secret in SENT_CREDENTIALS:
        assert secret not in text, "a credential was logged"
    for content in ("callback-test", "flickr.test.echo", OTHER):
        assert content not in text, f"{content!r} was logged"
