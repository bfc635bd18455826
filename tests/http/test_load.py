"""Load: 1,000 mixed requests from 32 concurrent clients through `cargo lambda watch` against
the local DynamoDB server. Every answer must be the right one; latency is reported, not
asserted (see docs/testing.md for the figures)."""

import json
import random
import statistics
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from conftest import mint_token

OWNER = "09b4e414-4f70-4226-9ee8-f9e815fc2539"
OTHER = "5d1e7f3a-0b2c-4d6e-8f9a-1b2c3d4e5f60"
COMPLETED = "e6b6634c-e07c-43f0-88b3-9516590aad77"
FAILED = "3f1c2a9e-7b55-4d0e-9a61-2c8f0b7d4e11"
QUEUED = "7a2d9c4b-1e3f-4b8a-8c5d-6f0e9a1b2c3d"
REQUESTS = 1000
CLIENTS = 32


def cases(token):
    auth = {"Authorization": f"Bearer {token}"}
    json_type = {"Content-Type": "application/json"}
    status = "/api/v1/flickr/jobs/status"

    def post(job, user):
        return ("POST", status, json.dumps({"job_id": job, "user_id": user}), json_type)

    # (request, expected status, check of the parsed body)
    return [
        (post(COMPLETED, OWNER), 200, lambda b: b["data"]["state"] == "completed" and b["data"]["queue"] == "flickr_rest"),
        (post(FAILED, OWNER), 200, lambda b: b["data"]["failedReason"].startswith("Token not found")),
        (post(COMPLETED, OTHER), 404, lambda b: b["error"]["code"] == "ERR_JOB_NOT_FOUND"),
        (("POST", status, '{"job_id": ', json_type), 400, lambda b: b["error"]["code"] == "ERR_INVALID_REQUEST"),
        (("GET", f"/api/v1/flickr/jobs/{QUEUED}", None, auth), 200, lambda b: b["data"]["state"] == "queued"),
        (("GET", f"/api/v1/flickr/jobs/{COMPLETED}/result", None, auth), 200, lambda b: b["data"]["stat"] == "ok"),
        (("GET", f"/api/v1/flickr/jobs/{QUEUED}/result", None, auth), 202, lambda b: b["data"] == {"id": QUEUED, "state": "queued"}),
        (("GET", f"/api/v1/flickr/jobs/{FAILED}/result", None, auth), 409, lambda b: b["error"]["code"] == "ERR_JOB_FAILED"),
        (("GET", f"/api/v1/flickr/jobs/{COMPLETED}", None, {}), 401, lambda b: b["error"]["code"] == "ERR_UNAUTHORIZED"),
        (("GET", "/api/v1/flickr/jobs/status", None, {}), 405, lambda b: b["error"]["code"] == "ERR_METHOD_NOT_ALLOWED"),
    ]


def test_load_mixed_routes_and_outcomes(function):
    mix = cases(mint_token(OWNER))
    rng = random.Random(7)
    plan = [rng.choice(mix) for _ in range(REQUESTS)]

    def send(item):
        (method, path, body, headers), expected, check = item
        started = time.perf_counter()
        status, _, text = function.request(method, path, body, headers, timeout=60)
        elapsed = time.perf_counter() - started
        ok = status == expected and text is not None and check(json.loads(text))
        return ok, elapsed, (method, path, status, expected)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(send, plan))
    wall = time.perf_counter() - started

    failures = [detail for ok, _, detail in results if not ok]
    latencies = sorted(elapsed * 1000 for _, elapsed, _ in results)
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"\nload: {REQUESTS} requests, {CLIENTS} clients, {wall:.1f} s, "
          f"{REQUESTS / wall:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, errors {len(failures)}")
    assert failures == [], failures[:5]
