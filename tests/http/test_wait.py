"""`Prefer: wait` over HTTP under `cargo lambda watch`: the README's waiting curl sees a change
made with dev/update-job within half a second, and the README's client loops (curl, Node fetch,
Python requests, in examples/clients/) follow a job to its end."""

import json
import os
import subprocess
import sys
import time

import boto3
import pytest

from conftest import ROOT, TABLE, mint_token

OWNER = "09b4e414-4f70-4226-9ee8-f9e815fc2539"
CLIENTS = {
    "wait.sh": ["bash"],
    "wait.mjs": ["node"],
    "wait.py": [sys.executable],
}


@pytest.fixture
def job(request):
    """A queued job of OWNER's, written for this test and deleted after it."""
    client = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
    name = "".join(c if c.isalnum() else "-" for c in request.node.name)
    job_id = f"http-wait-{name}-{os.getpid()}-{time.time_ns()}"
    client.put_item(TableName=TABLE, Item={
        "jobId": {"S": job_id}, "user_id": {"S": OWNER}, "state": {"S": "queued"},
        "target": {"S": "upload"}, "attempts": {"N": "0"},
    })
    yield job_id
    client.delete_item(TableName=TABLE, Key={"jobId": {"S": job_id}})


def update_job(job_id, *args) -> int:
    """dev/update-job as the README gives it; returns the epoch ms it printed (its write acknowledged)."""
    result = subprocess.run(
        [str(ROOT / "dev" / "update-job"), job_id, *args],
        env=dict(os.environ, JOBS_TABLE=TABLE), check=True, capture_output=True, text=True,
    )
    return int(result.stdout.split()[0])


def test_the_readme_waiting_curl_answers_within_half_a_second_of_the_update(function, job):
    token = mint_token(OWNER)
    url = f"{function.base}/api/v1/flickr/jobs/{job}"
    _, headers, _ = function.request("GET", f"/api/v1/flickr/jobs/{job}", headers={"Authorization": f"Bearer {token}"})
    etag = headers["etag"]
    started_ms = time.time() * 1000
    waiting = subprocess.Popen(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %header{preference-applied}", url,
         "-H", f"Authorization: Bearer {token}", "-H", "Prefer: wait=20", "-H", f"If-None-Match: {etag}"],
        stdout=subprocess.PIPE, text=True,
    )
    time.sleep(1.5)
    written_ms = update_job(job, "--progress", "40", "--stage", "resizing")
    out, _ = waiting.communicate(timeout=30)
    status, took, applied = out.split(" ", 2)
    # When curl had the answer (its own clock, which starts a few ms after the spawn).
    delay = started_ms + float(took) * 1000 - written_ms
    print(f"waiting curl answered {delay:.0f} ms after dev/update-job's write")
    assert status == "200", out
    assert applied.startswith("wait="), out
    # Half a second is the poll interval; 400 ms more for a read on a busy machine.
    assert delay < 900, f"{delay:.0f} ms"


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_each_readme_client_follows_the_job_to_its_end(function, job, name):
    script = ROOT / "examples" / "clients" / name
    env = dict(os.environ, BASE=f"{function.base}/api/v1/flickr", JOB=job, TOKEN=mint_token(OWNER))
    client = subprocess.Popen(CLIENTS[name] + [str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    update_job(job, "--progress", "30")
    time.sleep(1)
    update_job(job, "--progress", "60", "--stage", "uploading")
    time.sleep(1)
    update_job(job, "--completed")
    out, err = client.communicate(timeout=40)
    assert client.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    # The curl loop prints whole envelopes, the others their `data`.
    statuses = [line.get("data", line) for line in lines[:-1]]
    seen = [(status["state"], (status["progress"] or {}).get("percent")) for status in statuses]
    assert seen == [("queued", None), ("queued", 30), ("queued", 60), ("completed", 100)], out
    assert lines[-1]["data"] == {"stat": "ok", "photoid": {"_content": "53912345678"}}, out


def test_the_readme_shows_the_clients_as_they_are_tested():
    readme = (ROOT / "README.md").read_text()
    for name in CLIENTS:
        code = (ROOT / "examples" / "clients" / name).read_text()
        assert code in readme, f"README.md does not show examples/clients/{name} as it is"
