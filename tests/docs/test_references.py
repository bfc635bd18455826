"""Every reference in the repository resolves: links in README.md and docs/, and the mentions of
docs/*.md#anchor in code comments and tests, name a file that exists and a heading it has. Nothing
cites a section of the API reference by its number (numbers move; SECTION_NUMBER below) or points outside the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Where references are written: the front door, the docs, the code and the tests.
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = [
    path
    for folder in ("src", "tests", "dev", "benches", "examples")
    for path in sorted((ROOT / folder).rglob("*"))
    if path.is_file()
    and path.suffix in {".rs", ".py", ".sh", ".md", ""}
    and "node_modules" not in path.parts
    and path != Path(__file__).resolve()
]

MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# docs/NAME.md#anchor (or a bare docs/NAME.md) in code and comments.
BARE_MENTION = re.compile(r"(?<![\w/.])((?:docs/)?[A-Za-z0-9_-]+\.md)(#[A-Za-z0-9_-]+)?")
SECTION_NUMBER = re.compile(r"API\.md\)?\s*§\s*\d")
OUTSIDE = re.compile(r"\.\./shared|/work/")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    in_code = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        match = re.match(r"^#{1,6} (.+)$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            result.add(base if count == 0 else f"{base}-{count}")
    return result


def shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def check(target: Path, anchor: str | None, where: str, problems: list[str]) -> None:
    if not target.exists():
        problems.append(f"{where}: {shown(target)} does not exist")
    elif anchor and target.suffix == ".md" and anchor not in anchors(target):
        problems.append(f"{where}: {shown(target)} has no heading #{anchor}")


def markdown_problems() -> list[str]:
    problems = []
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{document.relative_to(ROOT)}:{number}"
            for link in MARKDOWN_LINK.findall(line):
                if re.match(r"^[a-z]+:", link):  # https:, mailto:
                    continue
                path, _, anchor = link.partition("#")
                target = document if not path else (document.parent / path).resolve()
                check(target, anchor or None, where, problems)
    return problems


def source_problems() -> list[str]:
    problems = []
    for source in SOURCES:
        try:
            text = source.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{source.relative_to(ROOT)}:{number}"
            for path, anchor in BARE_MENTION.findall(line):
                if not path.startswith("docs/") and path != "README.md":
                    continue
                check(ROOT / path, anchor.lstrip("#") or None, where, problems)
    return problems


def test_links_in_readme_and_docs_resolve():
    assert markdown_problems() == []


def test_mentions_of_docs_in_code_and_tests_resolve():
    assert source_problems() == []


def test_nothing_cites_a_section_by_number_and_docs_stay_inside_the_repository():
    offenders = []
    for path in [*DOCUMENTS, *SOURCES]:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            # A reader of the README or docs/ has only the repository.
            outside = path in DOCUMENTS and OUTSIDE.search(line)
            if SECTION_NUMBER.search(line) or outside:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_slugs_are_githubs():
    assert slug("`GET /jobs/{job_id}` — status by URL") == "get-jobsjob_id--status-by-url"
    assert slug("8. Caller identity") == "8-caller-identity"
    assert slug("What it costs") == "what-it-costs"


def test_a_broken_reference_is_caught(tmp_path):
    """The check itself can fail: a link to a heading that is not there is reported."""
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## Real heading\n", encoding="utf-8")
    problems: list[str] = []
    check(page, "real-heading", "here", problems)
    assert problems == []
    check(page, "no-such-heading", "here", problems)
    check(tmp_path / "missing.md", None, "here", problems)
    assert len(problems) == 2
