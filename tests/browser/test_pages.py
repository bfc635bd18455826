"""Share links opened in a real browser (headless Chromium): what a person sees at a phone's and a
desktop's size, that hostile record content stays text, that the page refreshes itself until the
job is done, that the token goes nowhere, and that the pages are accessible (axe-core)."""

import json
import time

import pytest
from playwright.sync_api import expect

from conftest import AXE, OWNER, POLL_INTERVAL_SECONDS

VIEWPORTS = ["phone", "desktop"]
TITLES = ["Harbour at dawn", "Old town, blue hour", "Gull", "Market day", "Lighthouse", "Fog on the hill"]
PHOTOS = {
    "photos": {
        "page": 1, "pages": 1, "perpage": 6, "total": 6,
        "photo": [
            {"id": str(53912345670 + n), "owner": "12345678@N00", "secret": f"{n:x}a1b2c3d4", "server": "65535",
             "farm": 66, "title": title, "ispublic": 1}
            for n, title in enumerate(TITLES)
        ],
    },
    "stat": "ok",
}
FAILED_REASON = "Flickr API answered 401: invalid auth token"
EXPECTED_POLICY = (
    "default-src 'none'; style-src 'sha256-{hash}'; img-src https://live.staticflickr.com; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
# Markup and script a Flickr title, a worker's message or a job id may hold.
HOSTILE = {
    "script": "<script>alert('script')</script>",
    "img": "<img src=x onerror=alert('img')>",
    "pre": "</pre><script>alert('pre')</script>",
    "attribute": "\" autofocus onfocus=\"alert('attribute')",
    "svg": "'><svg onload=alert('svg')>",
    "javascript": "javascript:alert('javascript')",
    "style": "</style><script>alert('style')</script>",
}
HOSTILE_ID = "\"'><img src=x onerror=alert('id')>"


def check_page(visit, response, status, texts, token):
    """What holds for every page: its status and headers, the text a person sees, no dialog or
    CSP complaint, the stylesheet applied (allowed by its hash), no sideways scrolling on a
    phone, and no request but the navigation that carries the token or a Referer."""
    page = visit.page
    assert response.status == status
    headers = response.all_headers()
    assert headers["content-type"] == "text/html; charset=utf-8"
    policy = headers["content-security-policy"]
    style_hash = policy.split("'sha256-", 1)[1].split("'", 1)[0]
    assert policy == EXPECTED_POLICY.format(hash=style_hash)
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    # cargo lambda watch adds its own CORS names to the function's Vary.
    assert "Accept" in [name.strip() for name in headers["vary"].split(",")]
    assert "etag" not in headers
    shown = page.locator("main").inner_text()
    for text in texts:
        assert text in shown, (text, shown)
    assert page.locator("h1").count() == 1
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate("getComputedStyle(document.querySelector('main')).maxWidth") == "960px", \
        "the inline stylesheet did not apply"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "scrolls sideways"
    assert visit.dialogs == []
    assert not [line for line in visit.console if "Content Security Policy" in line], visit.console
    assert token not in page.content()
    for request in visit.requests:
        if request.is_navigation_request() and request.frame == page.main_frame:
            continue
        assert token not in request.url, request.url
        assert "referer" not in request.all_headers(), (request.url, request.all_headers())


@pytest.fixture(scope="module")
def links(function, jobs):
    """One link per page kind; the pending job last changed 11 minutes ago, so its page
    refreshes only every 60 s (the page holds still for its screenshot)."""
    completed = jobs.put(jobs.new_id("completed"), "completed",
                         returnvalue={"from_cache": False, "flickr": PHOTOS, "observability": {"ok": True}})
    pending = jobs.put(jobs.new_id("pending"), "queued",
                       progress={"percent": 40, "stage": "upload", "message": "Uploading photo 2 of 5"},
                       updated_at_ms=int(time.time() * 1000) - 11 * 60_000)
    failed = jobs.put(jobs.new_id("failed"), "failed", failed_reason=FAILED_REASON)
    return {
        "completed": (*function.share_link(completed), 200,
                      ["Completed", completed, "Photos", *TITLES, "Flickr response", '"stat": "ok"']),
        "pending": (*function.share_link(pending), 202,
                    ["Queued", pending, "40\u00a0%", "upload", "Uploading photo 2 of 5",
                     "this page now refreshes itself every 60 seconds"]),
        "failed": (*function.share_link(failed), 409, ["Failed", failed, "Why it failed", FAILED_REASON]),
        "expired-link": (*function.signed_link(completed, int(time.time()) - 60), 401,
                         ["This link has expired or is not valid", "Ask the person who shared it for a new link."]),
        "unknown-job": (*function.signed_link(jobs.new_id("never-written"), int(time.time()) + 600), 404,
                        ["Job not found", "There is no job at this address, or it has expired."]),
    }


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("kind", ["completed", "pending", "failed", "expired-link", "unknown-job"])
def test_each_page_at_a_phone_and_a_desktop(visit, links, kind, viewport):
    url, token, status, texts = links[kind]
    opened = visit(viewport)
    response = opened.open(url)
    check_page(opened, response, status, texts, token)
    if kind == "completed":
        images = opened.page.locator("main img")
        expect(images).to_have_count(len(TITLES))
        opened.page.wait_for_function(
            "[...document.querySelectorAll('main img')].every(img => img.complete && img.naturalWidth === 150)")
        assert len(opened.image_requests) == len(TITLES)
        assert {request.url for request in opened.image_requests} == {
            f"https://live.staticflickr.com/65535/{photo['id']}_{photo['secret']}_q.jpg"
            for photo in PHOTOS["photos"]["photo"]
        }
    if kind == "failed":
        assert "worker.js" not in opened.page.content(), "never the stack trace"
    opened.screenshot(kind)


def test_hostile_content_stays_text(function, jobs, visit):
    """Hostile markup in the job id, failedReason, progress and the Flickr response: no dialog
    opens, no element or handler of theirs exists, and a person reads them literally."""
    flickr = {
        "stat": "ok",
        "note": HOSTILE["pre"],
        "description": {"_content": HOSTILE["style"]},
        "photos": {"photo": [
            {"id": "11", "secret": "ab", "server": "2", "title": HOSTILE["attribute"]},
            {"id": "12", "secret": "cd", "server": "4", "title": HOSTILE["svg"], "url_q": HOSTILE["javascript"]},
            {"id": "13", "secret": "ef", "server": "6", "title": HOSTILE["img"], "url_q": "javascript:alert('url')"},
            {"id": HOSTILE["script"], "secret": "x", "server": "1", "title": "no image: its id is not Flickr's"},
        ]},
    }
    completed = jobs.put(HOSTILE_ID + " completed", "completed",
                         returnvalue={"from_cache": True, "flickr": flickr},
                         progress={"stage": HOSTILE["svg"], "message": HOSTILE["script"]})
    failed = jobs.put(HOSTILE_ID + " failed", "failed", failed_reason=HOSTILE["script"] + HOSTILE["img"])
    for job_id, status, literal in [
        (completed, 200, [completed, HOSTILE["attribute"], HOSTILE["svg"], HOSTILE["img"], HOSTILE["script"]]),
        (failed, 409, [failed, HOSTILE["script"] + HOSTILE["img"]]),
    ]:
        url, token = function.share_link(job_id)
        opened = visit("desktop")
        response = opened.open(url)
        check_page(opened, response, status, literal, token)
        page = opened.page
        # Give an onerror or onload every chance to fire.
        page.wait_for_timeout(500)
        assert opened.dialogs == []
        assert page.evaluate(
            "document.querySelectorAll('script, svg, iframe, object, embed, base, link, form, a, input').length") == 0
        assert not page.evaluate(
            "[...document.querySelectorAll('*')].some(e => [...e.attributes].some(a => a.name.startsWith('on')))")
        assert page.evaluate("document.activeElement === document.body"), "something took focus"
        sources = page.evaluate("[...document.images].map(img => img.getAttribute('src'))")
        assert all(source.startswith("https://live.staticflickr.com/") for source in sources), sources
        if job_id == completed:
            assert len(sources) == 3, sources
            pre = page.locator("pre").inner_text()
            # Each string as JSON writes it, inside the one <pre>.
            for text in (HOSTILE["pre"], HOSTILE["style"], HOSTILE["javascript"], HOSTILE["attribute"]):
                assert json.dumps(text) in pre, text
            assert page.locator("pre").count() == 1
        opened.screenshot(f"hostile-{'completed' if job_id == completed else 'failed'}")


def test_the_browser_enforces_the_policy(function, links, visit):
    """Even a script that got into the page could load nothing: the browser refuses inline
    script, other styles and images from anywhere but Flickr, and framing by another page."""
    url, _, _, _ = links["completed"]
    opened = visit("desktop")
    opened.open(url)
    outcome = opened.page.evaluate("""() => new Promise(resolve => {
        const violated = [];
        document.addEventListener('securitypolicyviolation', event => violated.push(event.effectiveDirective));
        const script = document.createElement('script');
        script.textContent = 'window.__ran = true';
        document.body.append(script);
        const style = document.createElement('style');
        style.textContent = 'body { background: red }';
        document.head.append(style);
        const image = document.createElement('img');
        image.src = 'https://images.example.org/x.png';
        document.body.append(image);
        setTimeout(() => resolve({ran: window.__ran === true, violated,
            background: getComputedStyle(document.body).backgroundColor}), 500);
    })""")
    assert outcome["ran"] is False
    assert {"script-src-elem", "style-src-elem", "img-src"} <= set(outcome["violated"]), outcome
    assert outcome["background"] != "rgb(255, 0, 0)"

    framing = visit("desktop")
    with framing.page.expect_console_message(lambda message: "frame-ancestors" in message.text, timeout=10_000):
        framing.page.set_content(f'<iframe src="{url}" title="framed"></iframe>')
    framed = framing.page.frames[1] if len(framing.page.frames) > 1 else None
    assert framed is None or "Completed" not in framed.content()


def test_a_pending_page_shows_the_result_after_its_next_refresh(function, jobs, visit):
    """The test completes the job while its page is open; the page's own Refresh brings the
    result, with no reload by the test."""
    job_id = jobs.put(jobs.new_id("refresh"), "queued", progress={"percent": 10, "stage": "queued"})
    url, token = function.share_link(job_id)
    opened = visit("phone")
    response = opened.open(url)
    assert response.all_headers()["refresh"] == str(POLL_INTERVAL_SECONDS)
    check_page(opened, response, 202, ["Queued", "This page refreshes itself every second until the job has finished."],
               token)
    loads = []
    opened.page.on("load", lambda page: loads.append(time.monotonic()))
    flickr = {"photo": {"id": "53912345699", "title": {"_content": "Uploaded"}}, "stat": "ok"}
    jobs.put(job_id, "completed", returnvalue={"from_cache": False, "flickr": flickr})
    completed_at = time.monotonic()
    expect(opened.page.locator("h1")).to_contain_text("Completed", timeout=15_000)
    expect(opened.page.locator("pre")).to_contain_text('"Uploaded"')
    assert loads, "the page came back by its own Refresh"
    assert loads[-1] - completed_at < POLL_INTERVAL_SECONDS + 5
    assert opened.page.locator(".refresh").count() == 0, "a finished job's page stops refreshing"
    opened.screenshot("refreshed")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_pages_are_accessible(links, visit, scheme):
    """axe-core, injected in a context that bypasses the page's CSP for this check only: no
    serious or critical violation on any page, in the light and the dark colour scheme."""
    opened = visit("desktop" if scheme == "light" else "phone", bypass_csp=True, color_scheme=scheme)
    opened.context.add_init_script(path=str(AXE))
    for kind, (url, _, _, _) in links.items():
        opened.open(url)
        violations = opened.page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']}))
            .violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html)}))""")
        serious = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert serious == [], (kind, scheme, serious)
