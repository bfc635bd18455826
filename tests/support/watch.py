"""The built function served by `cargo lambda watch` on a free loopback port, for the pytest
suites (tests/http, tests/browser)."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def cargo_lambda_watch(env: dict, log_path: Path):
    """Runs the function with `env` until the block ends; yields its port once it answers (its
    first request builds the binary if it is not built yet)."""
    port = free_port()
    log_path.parent.mkdir(exist_ok=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            ["cargo", "lambda", "watch", "-A", "127.0.0.1", "-P", str(port), "--bin", "flickr-job-status"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.time() + 120
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if process.poll() is not None or time.time() > deadline:
                        pytest.fail(f"cargo lambda watch did not start; see {log.name}")
                    time.sleep(0.2)
            probe = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/flickr/jobs/status")
            try:
                urllib.request.urlopen(probe, timeout=600)
                status = 200
            except urllib.error.HTTPError as error:
                status = error.code
            assert status == 405, f"the function's first answer was {status}; see {log.name}"
            yield port
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
