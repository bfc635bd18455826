"""docs/API.md and openapi.yaml describe the same API: the same routes, the same statuses per
route, and the same error codes, both ways, so that neither can change without the other."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE_PATH = "/api/v1/flickr"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
API_DOC = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


def section(title: str) -> str:
    """The text of the `## <title>` section of docs/API.md (numbered or not)."""
    match = re.search(rf"^## (?:\d+\. )?{re.escape(title)}\n(.*?)(?=^## |\Z)", API_DOC, re.M | re.S)
    assert match, f"docs/API.md has no section '{title}'"
    return match.group(1)


def spec_routes() -> dict[str, set[int]]:
    """`METHOD /path` (relative to the base path) → the statuses openapi.yaml documents."""
    routes = {}
    for path, item in SPEC["paths"].items():
        assert path.startswith(BASE_PATH), path
        for method, operation in item.items():
            if method in METHODS:
                routes[f"{method.upper()} {path[len(BASE_PATH):]}"] = {int(s) for s in operation["responses"]}
    return routes


def doc_routes() -> dict[str, set[int]]:
    """The rows of docs/API.md's route table: `METHOD /path` → statuses."""
    rows = re.findall(r"^\| `([A-Z]+ /[^`]*)` \| ([0-9, ]+) \|$", section("Routes at a glance"), re.M)
    assert rows, "the route table of docs/API.md has no rows"
    routes = {}
    for route, statuses in rows:
        assert route not in routes, f"{route} is listed twice in docs/API.md"
        routes[route] = {int(s) for s in statuses.split(",")}
    return routes


def test_every_route_is_in_both():
    spec, docs = set(spec_routes()), set(doc_routes())
    assert spec - docs == set(), "routes in openapi.yaml missing from docs/API.md"
    assert docs - spec == set(), "routes in docs/API.md missing from openapi.yaml"


def test_every_route_has_the_same_statuses_in_both():
    spec, docs = spec_routes(), doc_routes()
    for route in spec.keys() & docs.keys():
        assert spec[route] - docs[route] == set(), f"{route}: statuses in openapi.yaml missing from docs/API.md"
        assert docs[route] - spec[route] == set(), f"{route}: statuses in docs/API.md missing from openapi.yaml"


def test_the_status_table_lists_exactly_the_statuses_in_use():
    documented = {int(s) for s in re.findall(r"^\| (\d{3}) \|", section("Status codes"), re.M)}
    in_use = set().union(*spec_routes().values())
    assert in_use - documented == set(), "statuses in openapi.yaml missing from docs/API.md's status table"
    assert documented - in_use == set(), "statuses in docs/API.md's status table missing from openapi.yaml"


def test_every_error_code_is_in_both():
    spec = set(SPEC["components"]["schemas"]["Error"]["properties"]["code"]["enum"])
    docs = set(re.findall(r"\bERR_[A-Z_]+\b", API_DOC))
    table = set(re.findall(r"^\| `(ERR_[A-Z_]+)` \|", section("Error codes"), re.M))
    assert spec - docs == set(), "error codes in openapi.yaml missing from docs/API.md"
    assert docs - spec == set(), "error codes in docs/API.md missing from openapi.yaml"
    assert table == spec, "docs/API.md's error code table must list every code once"
