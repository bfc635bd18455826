"""Writes the large job records (docs/API.md#compression-and-size-limits) as DynamoDB typed JSON.

Usage: python3 dev/make-fixtures.py OUT.json        (then: dev/seed.py --table T OUT.json)
       python3 dev/make-fixtures.py --unlisted OUT.json   the same without created_at, so that
                                                    the user index (sparse) leaves them out of
                                                    GET /jobs: moto copies a 318 KB map for every
                                                    Query that meets it, past the function's
                                                    DynamoDB timeout; they are read by id only
       python3 dev/make-fixtures.py --samples DIR   the JSON of three answers (1 KB, 78 KB and
                                                    the 500-photo result) for dev/gzip-levels

Deterministic (a seeded generator, gzip without a time stamp): the same bytes on every run.
Made at seed time rather than committed (the file is ~1 MB of base64). Every record is one that
real DynamoDB stores verbatim (item size under 400 KB, canonical numbers), so they load on moto and
dynalite alike:

  large-search-m    a photos.search result of 500 photos with common extras, returnvalue as M
                    (~340 KB of JSON; the item is about that size too)
  large-search-b    the same result as B: its JSON text gzip-compressed, as workers should store it
  large-over-6mb    a result of 7,000 photos (~7 MB of JSON) stored as B under 400 KB: over
                    Lambda's 6 MB response limit unless the answer is compressed
  gzip-bomb         B of ~17 KB that decompresses to 16 MiB + 1 byte, one past the cap
  gzip-bomb-200mib  B of ~200 KB that decompresses to 200 MiB (the memory bound is checked on it)
  gzip-not-json     B: gzip of text that is not JSON
  not-gzip          B: bytes that are not gzip

All belong to the sample owner (dev/sample-jobs.json), so a minted token reads them locally.
"""

import base64
import gzip
import io
import json
import random
import sys
import zlib

OWNER = "09b4e414-4f70-4226-9ee8-f9e815fc2539"
CREATED_AT = 1796153549123
DYNAMODB_ITEM_LIMIT = 400 * 1024
CAP = 16 * 1024 * 1024

WORDS = (
    "sunset beach harbour boat lighthouse mountain lake forest autumn winter snow city street "
    "night bridge river market portrait festival garden flower bird sky cloud rain train "
    "station cathedral castle coast cliff wave dune desert canyon meadow village old town"
).split()


def photo(rng: random.Random, index: int, bulk: str | None = None) -> dict:
    """One photo of photos.search with extras description, tags, dates, owner name, two URLs.
    `bulk`: one upload session's photo (sequential ids, one owner, the same description and
    tags), which is what a very large result mostly is."""
    words = lambda n: " ".join(rng.choice(WORDS) for _ in range(n))
    if bulk is None:
        photo_id = str(53000000000 + rng.randrange(10**9))
        owner = "%d@N%02d" % (rng.randrange(10**8, 10**9), rng.randrange(100))
        title, ownername, tags = words(rng.randrange(2, 6)).title(), words(2).title(), words(rng.randrange(4, 12))
        description = words(rng.randrange(9, 30)).capitalize() + "."
        upload = 1700000000 + rng.randrange(10**8)
        taken = "2025-%02d-%02d %02d:%02d:%02d" % (
            rng.randrange(1, 13), rng.randrange(1, 29), rng.randrange(24), rng.randrange(60), rng.randrange(60))
    else:
        photo_id = str(53500000000 + index)
        owner, ownername, tags, description = "123456789@N01", "Harbour Archive", "harbour archive scan 1950s", bulk
        title = f"Harbour archive scan {index:05d}"
        upload = 1760000000 + index * 3
        taken = "1955-06-%02d 00:00:00" % (1 + index % 28)
    secret = "%010x" % rng.randrange(16**10)
    server = str(65535 - rng.randrange(2000))
    base = f"https://live.staticflickr.com/{server}/{photo_id}_{secret}"
    return {
        "id": photo_id,
        "owner": owner,
        "secret": secret,
        "server": server,
        "farm": 66,
        "title": title,
        "ispublic": 1,
        "isfriend": 0,
        "isfamily": 0,
        "description": {"_content": description},
        "dateupload": str(upload),
        "datetaken": taken,
        "datetakengranularity": 0,
        "datetakenunknown": "0",
        "ownername": ownername,
        "tags": tags,
        "url_sq": base + "_s.jpg",
        "height_sq": 75,
        "width_sq": 75,
        "url_m": base + ".jpg",
        "height_m": 375 + rng.randrange(125),
        "width_m": 500,
    }


def search_result(rng: random.Random, count: int, bulk: str | None = None) -> dict:
    photos = [photo(rng, i, bulk) for i in range(count)]
    return {
        "from_cache": False,
        "flickr": {
            "photos": {"page": 1, "pages": 40, "perpage": count, "total": 40 * count, "photo": photos},
            "stat": "ok",
        },
        "observability": {"duration_ms": 812, "attempts": 1, "endpoint": "flickr.photos.search"},
    }


def typed(value):
    """JSON value → DynamoDB typed JSON (what a worker's SDK writes for a map)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, (int, float)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [typed(v) for v in value]}
    return {"M": {k: typed(v) for k, v in value.items()}}


def attribute_size(value: dict) -> int:
    """DynamoDB's item size rules (names and values in bytes; 1 per list/map element, 3 per map or list)."""
    ((kind, payload),) = value.items()
    if kind == "S":
        return len(payload.encode())
    if kind == "N":
        return (len(payload.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(base64.b64decode(payload))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in payload)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in payload.items())
    raise ValueError(kind)


def item_size(item: dict) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def compress(data: bytes, level: int = 9) -> bytes:
    """gzip as a worker would write it; mtime 0 so that the bytes are the same on every run."""
    return gzip.compress(data, compresslevel=level, mtime=0)


def bomb(size: int) -> bytes:
    """gzip of `size` zero bytes, compressed in 1 MiB pieces (never all in memory at once)."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as stream:
        chunk = bytes(1024 * 1024)
        left = size
        while left:
            stream.write(chunk[: min(left, len(chunk))])
            left -= min(left, len(chunk))
    return out.getvalue()


def record(job_id: str, returnvalue: dict) -> dict:
    return {
        "jobId": {"S": job_id},
        "user_id": {"S": OWNER},
        "state": {"S": "completed"},
        "target": {"S": "rest"},
        "returnvalue": returnvalue,
        "attempts": {"N": "1"},
        "created_at": {"N": str(CREATED_AT)},
        "updated_at": {"N": str(CREATED_AT + 812)},
    }


def binary(data: bytes) -> dict:
    return {"B": base64.b64encode(data).decode()}


STANDARD_FIELDS = ("id", "owner", "secret", "server", "farm", "title", "ispublic", "isfriend", "isfamily")


def samples(directory: str) -> None:
    """What dev/gzip-levels compresses: the answers of 3 photos, of 500 photos with the standard
    fields only (~78 KB), and of 500 with the extras (the large-search-* records' result)."""
    import os
    os.makedirs(directory, exist_ok=True)
    rng = random.Random(20)
    full = search_result(rng, 500)
    standard = json.loads(json.dumps(full))
    standard["flickr"]["photos"]["photo"] = [
        {k: v for k, v in p.items() if k in STANDARD_FIELDS} for p in standard["flickr"]["photos"]["photo"]]
    small = json.loads(json.dumps(standard))
    small["flickr"]["photos"]["photo"] = small["flickr"]["photos"]["photo"][:6]
    for name, value in (("small", small), ("standard", standard), ("extras", full)):
        text = json.dumps(value["flickr"], separators=(",", ":"), ensure_ascii=False)
        with open(os.path.join(directory, f"{name}.json"), "w", encoding="utf-8") as handle:
            handle.write('{"request_id":"8f6b3d2e-1c4a-4e5f-9a7b-0c1d2e3f4a5b","data":' + text + ',"error":null}')
        print(f"{name}.json {len(text) / 1000:.1f} KB")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--samples":
        return samples(sys.argv[2])
    args = sys.argv[1:]
    unlisted = args[:1] == ["--unlisted"]
    if unlisted:
        args = args[1:]
    if len(args) != 1:
        raise SystemExit(__doc__)
    rng = random.Random(20)
    result = search_result(rng, 500)
    text = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
    shared = " ".join(WORDS) * 2
    big = search_result(random.Random(6), 7000, bulk=shared)
    big_text = json.dumps(big, separators=(",", ":"), ensure_ascii=False).encode()
    items = [
        record("large-search-m", typed(result)),
        record("large-search-b", binary(compress(text))),
        record("large-over-6mb", binary(compress(big_text))),
        record("gzip-bomb", binary(bomb(CAP + 1))),
        record("gzip-bomb-200mib", binary(bomb(200 * 1024 * 1024))),
        record("gzip-not-json", binary(compress(b"this is not JSON {"))),
        record("not-gzip", binary(text[:2000])),
    ]
    assert len(big_text) > 6_300_000, len(big_text)
    for item in items:
        size = item_size(item)
        assert size < DYNAMODB_ITEM_LIMIT - 4096, (item["jobId"]["S"], size)
        if unlisted:
            del item["created_at"]
    with open(args[0], "w", encoding="utf-8") as handle:
        json.dump(items, handle, separators=(",", ":"))
    sizes = ", ".join(f"{item['jobId']['S']} {item_size(item) / 1000:.1f} KB" for item in items)
    print(f"large records: {sizes}; search JSON {len(text) / 1000:.1f} KB, over-6mb JSON {len(big_text) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
