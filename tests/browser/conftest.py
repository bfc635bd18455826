"""The built function under `cargo lambda watch` on the local DynamoDB server, and a real
headless Chromium (Debian's, driven by Playwright) to open its pages.

Jobs are seeded per test into the table dev/test made (ids of this run only); share links come
from the function's own share route, except the two it cannot give (an expired link, and one
for a job that does not exist), which are signed here exactly as src/auth/share.rs signs them.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib
from pathlib import Path

import boto3
import pytest
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from watch import ROOT, cargo_lambda_watch  # noqa: E402
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / ".local" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "target" / "browser"
LOG_PATH = ROOT / ".local" / "watch-browser.log"
JWT_SECRET = "browser-test-jwt-secret"
SHARE_SECRET = "browser-test-share-secret"
OWNER = "browser-test-user"
# One second, so that the refresh test sees its page come back at once.
POLL_INTERVAL_SECONDS = 1
# The flags Chromium needs here, as root, with no network but loopback; Playwright adds
# --headless, --no-sandbox and a new empty --user-data-dir of its own.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(user_id: str) -> str:
    """An HS256 bearer token for `user_id`, signed with the function's JWT_SECRET."""
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({"sub": user_id, "exp": int(time.time()) + 600}).encode())
    signature = hmac.new(JWT_SECRET.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64url(signature)}"


def share_token(job_id: str, expires_at: int) -> str:
    """A share token as the function mints it (src/auth/share.rs), for links its route won't give."""
    message = b"flickr-job-share/v1\n" + job_id.encode() + b"\n" + str(expires_at).encode()
    return f"{expires_at}.{b64url(hmac.new(SHARE_SECRET.encode(), message, hashlib.sha256).digest())}"


def png(width: int, height: int, rgb: tuple) -> bytes:
    """A solid-colour PNG: the stand-in for Flickr's thumbnails, which cannot be reached here."""
    row = b"\x00" + bytes(rgb) * width
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")


class Function:
    """The function over HTTP."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method, path, body=None, headers=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def share_link(self, job_id: str) -> tuple:
        """The owner asks the share route for a link: (absolute URL, token)."""
        segment = urllib.parse.quote(job_id, safe="")
        status, _, text = self.request(
            "POST", f"/api/v1/flickr/jobs/{segment}/share", {"expires_in": 600},
            {"Authorization": f"Bearer {bearer(OWNER)}", "Content-Type": "application/json"},
        )
        assert status == 201, (status, text)
        data = json.loads(text)["data"]
        return self.base + data["url"], data["token"]

    def signed_link(self, job_id: str, expires_at: int) -> tuple:
        token = share_token(job_id, expires_at)
        segment = urllib.parse.quote(job_id, safe="")
        return f"{self.base}/api/v1/flickr/jobs/{segment}/result?token={token}", token


class Jobs:
    """Writes job records of this run into the test table, as the workers would."""

    def __init__(self, table: str):
        self.table = table
        self.client = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
        self.run = uuid.uuid4().hex[:8]

    def new_id(self, name: str) -> str:
        return f"browser-{self.run}-{name}"

    def put(self, job_id: str, state: str, *, returnvalue=None, failed_reason=None, progress=None,
            updated_at_ms=None, target="rest"):
        now_ms = int(time.time() * 1000)
        updated_at_ms = updated_at_ms if updated_at_ms is not None else now_ms
        item = {
            "jobId": {"S": job_id},
            "user_id": {"S": OWNER},
            "state": {"S": state},
            "target": {"S": target},
            "attempts": {"N": "1"},
            "created_at": {"N": str(updated_at_ms - 90_000)},
            "updated_at": {"N": str(updated_at_ms)},
            "expires_at": {"N": str(int(time.time()) + 7 * 86400)},
        }
        if returnvalue is not None:
            item["returnvalue"] = {"S": json.dumps(returnvalue)}
        if failed_reason is not None:
            item["failedReason"] = {"S": failed_reason}
            item["stacktrace"] = {"L": [{"S": "Error: " + failed_reason}, {"S": "at worker (worker.js:42:7)"}]}
        if progress is not None:
            item["progress"] = {"M": {key: ({"N": str(value)} if isinstance(value, (int, float)) else {"S": value})
                                      for key, value in progress.items()}}
        self.client.put_item(TableName=self.table, Item=item)
        return job_id

    def delete(self, job_id: str):
        self.client.delete_item(TableName=self.table, Key={"jobId": {"S": job_id}})


@pytest.fixture(scope="session")
def function():
    if not os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"):
        pytest.fail("AWS_ENDPOINT_URL_DYNAMODB is unset: run through dev/test, which starts the local DynamoDB server")
    env = dict(
        os.environ,
        JOBS_TABLE=os.environ.get("TEST_JOBS_TABLE", "flickr-jobs-test"),
        JWT_SECRET=JWT_SECRET,
        SHARE_TOKEN_SECRET=SHARE_SECRET,
        POLL_INTERVAL_SECONDS=str(POLL_INTERVAL_SECONDS),
        AWS_LAMBDA_LOG_FORMAT="JSON",
        AWS_LAMBDA_LOG_LEVEL="INFO",
    )
    env.pop("RUST_LOG", None)
    with cargo_lambda_watch(env, LOG_PATH) as port:
        yield Function(port)


@pytest.fixture(scope="session")
def jobs():
    return Jobs(os.environ.get("TEST_JOBS_TABLE", "flickr-jobs-test"))


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run dev/browser-setup")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """One browser context at one viewport, recording every request its pages make, dialogs,
    console messages and the CSP violations the browser reports. Flickr's image host is
    answered here with a PNG (no outside host is reachable); any other outside request fails."""

    def __init__(self, browser, viewport: str, **options):
        self.context = browser.new_context(**VIEWPORTS[viewport], **options)
        self.viewport = viewport
        self.requests = []
        self.image_requests = []
        self.dialogs = []
        self.console = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request))
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _route(self, route):
        url = urllib.parse.urlsplit(route.request.url)
        if url.hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        elif url.scheme == "https" and url.hostname.endswith(".staticflickr.com"):
            self.image_requests.append(route.request)
            shade = int(hashlib.sha256(url.path.encode()).hexdigest()[:6], 16)
            colour = ((shade >> 16) & 0xFF, (shade >> 8) & 0xFF, shade & 0xFF)
            route.fulfill(status=200, content_type="image/png", body=png(150, 150, colour))
        else:
            route.abort()

    def open(self, url: str):
        response = self.page.goto(url)
        assert response is not None
        return response

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}-{self.viewport}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser):
    opened = []

    def open_visit(viewport: str, **options) -> Visit:
        made = Visit(browser, viewport, **options)
        opened.append(made)
        return made

    yield open_visit
    for made in opened:
        made.close()
