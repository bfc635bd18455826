"""Serves the built function under `cargo lambda watch` against the local DynamoDB server."""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from watch import cargo_lambda_watch  # noqa: E402
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "local-dev-jwt-secret"
SHARE_SECRET = "local-dev-share-secret"
LOG_PATH = ROOT / ".local" / "watch-test.log"
# The sample jobs in a table with the user index (dev/test seeds it), so GET /jobs answers 200.
TABLE = os.environ.get("TEST_INDEXED_JOBS_TABLE") or os.environ.get("TEST_JOBS_TABLE", "flickr-jobs-test")
USER_INDEX = "jobs-by-user" if os.environ.get("TEST_INDEXED_JOBS_TABLE") else ""
# Every credential the tests send; none may ever appear in the function's logs.
SENT_CREDENTIALS = [JWT_SECRET, SHARE_SECRET]


class Function:
    """The function served over HTTP; `request` returns (status, headers, parsed body or None)."""

    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def request(self, method, path, body=None, headers=None, timeout=30):
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, error.headers, error.read()
        text = raw.decode() if raw else None
        return status, {k.lower(): v for k, v in headers.items()}, text


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class IdentityProvider:
    """An identity provider on a loopback port: an RSA key made for this run, its JWKS served
    at `url`, and RS256 tokens signed with it."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.key.public_key().public_numbers()
        self.jwk = {
            "kty": "RSA", "kid": "test-run-key", "use": "sig", "alg": "RS256",
            "n": b64url(numbers.n.to_bytes(256, "big")), "e": b64url(numbers.e.to_bytes(3, "big")),
        }
        body = json.dumps({"keys": [self.jwk]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        SENT_CREDENTIALS.append(self.jwk["n"])

    def token(self, user_id: str) -> str:
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": self.jwk["kid"]}).encode())
        claims = b64url(json.dumps({"sub": user_id, "exp": int(time.time()) + 600}).encode())
        signing_input = f"{header}.{claims}".encode()
        signature = self.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        token = f"{header}.{claims}.{b64url(signature)}"
        SENT_CREDENTIALS.append(token)
        return token


@pytest.fixture(scope="session")
def identity_provider():
    provider = IdentityProvider()
    yield provider
    provider.server.shutdown()


@pytest.fixture(scope="session")
def function(identity_provider):
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if not endpoint:
        pytest.fail("AWS_ENDPOINT_URL_DYNAMODB is unset: run through dev/test, which starts the local DynamoDB server")
    env = dict(
        os.environ,
        JOBS_TABLE=TABLE,
        JOBS_USER_INDEX=USER_INDEX,
        JWT_SECRET=JWT_SECRET,
        SHARE_TOKEN_SECRET=SHARE_SECRET,
        JWT_JWKS_URL=identity_provider.url,
        AWS_LAMBDA_LOG_FORMAT="JSON",
        AWS_LAMBDA_LOG_LEVEL="INFO",
    )
    env.pop("RUST_LOG", None)
    with cargo_lambda_watch(env, LOG_PATH) as port:
        yield Function(port)


def mint_token(user_id: str) -> str:
    """A bearer token from the project's own dev tool."""
    result = subprocess.run(
        ["cargo", "run", "-q", "--example", "mint-token", "--", user_id],
        cwd=ROOT, env=dict(os.environ, JWT_SECRET=JWT_SECRET), check=True, capture_output=True, text=True,
    )
    token = result.stdout.strip()
    SENT_CREDENTIALS.append(token)
    return token


def envelope(text: str) -> dict:
    body = json.loads(text)
    assert list(body) == ["request_id", "data", "error"], body
    return body
