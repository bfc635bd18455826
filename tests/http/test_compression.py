"""Compressed answers through `cargo lambda watch`, as `curl --compressed` reads them: the gzip
bytes on the wire decompress to exactly the bytes of the uncompressed answer
(docs/API.md#compression-and-size-limits). Reads the large records of dev/make-fixtures.py."""

import gzip
import urllib.error
import urllib.request

from conftest import mint_token

OWNER = "09b4e414-4f70-4226-9ee8-f9e815fc2539"


def raw_get(function, path, headers):
    """(status, headers, body bytes as sent): urllib never decompresses."""
    request = urllib.request.Request(function.base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def test_gzip_answers_are_the_same_bytes_once_decompressed(function):
    auth = {"Authorization": f"Bearer {mint_token(OWNER)}"}
    # The B record: moto takes seconds to read the 320 KB map one under load, past the
    # session's DynamoDB timeout (tests/compression.rs reads both).
    for path in ["/api/v1/flickr/jobs/large-search-b/result", "/api/v1/flickr/jobs/large-search-b"]:
        status, plain_headers, plain = raw_get(function, path, auth)
        assert status == 200
        assert "content-encoding" not in plain_headers
        status, headers, wire = raw_get(function, path, {**auth, "Accept-Encoding": "gzip"})
        assert status == 200
        assert headers["content-encoding"] == "gzip"
        # (Vary is not checked here: cargo lambda watch's CORS layer adds a Vary header of its
        # own beside the function's, and urllib keeps one; tests/compression.rs checks ours.)
        assert wire[:2] == b"\x1f\x8b"
        assert len(wire) * 4 < len(plain)
        # Byte for byte but the request id (each request gets its own under cargo lambda watch).
        after_id = lambda body: body.split(b'","data":', 1)[1]
        assert after_id(gzip.decompress(wire)) == after_id(plain)
        if "etag" in plain_headers:  # the status route's
            assert headers["etag"] == plain_headers["etag"][:-1] + '-gzip"'


def test_an_answer_over_6_mb_is_406_without_gzip(function):
    auth = {"Authorization": f"Bearer {mint_token(OWNER)}"}
    path = "/api/v1/flickr/jobs/large-over-6mb/result"
    status, _, body = raw_get(function, path, auth)
    assert status == 406, body[:200]
    assert b"ERR_NOT_ACCEPTABLE" in body
    status, headers, wire = raw_get(function, path, {**auth, "Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert len(gzip.decompress(wire)) > 6_000_000
