"""Follows a job with Prefer: wait and its ETag: prints its status each time it changes, then the
result. Needs `requests`, and BASE (…/api/v1/flickr), JOB and TOKEN in the environment."""

import json
import os
import time

import requests

url = f"{os.environ['BASE']}/jobs/{os.environ['JOB']}"
session = requests.Session()
session.headers["Authorization"] = f"Bearer {os.environ['TOKEN']}"

etag = None
while True:
    # Held by the function until the job changes (up to 20 s): 200 with the new status, or 304.
    headers = {"Prefer": "wait=20"} | ({"If-None-Match": etag} if etag else {})
    response = session.get(url, headers=headers, timeout=30)  # longer than the wait
    if response.status_code == 304:
        continue  # nothing new for 20 s: ask again
    if response.status_code == 503:
        time.sleep(int(response.headers.get("Retry-After", "1")))
        continue
    if not response.ok:
        raise SystemExit(f"{response.status_code} {response.text}")
    data = response.json()["data"]
    etag = response.headers["ETag"]
    print(json.dumps(data, separators=(",", ":")), flush=True)
    if data["state"] in ("completed", "failed"):
        break
print(session.get(f"{url}/result", timeout=30).text)
