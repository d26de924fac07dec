"""The dashboard end to end in headless Chromium (Debian's ``chromium``), driven by
Playwright: sign in, upload, start a generation and watch it commit live, open a page,
follow a link and a citation, see a Mermaid diagram drawn; a document's script never
runs; a fault makes the next generation roll back, and the timeline shows it; another
user cannot see the project.

One browser for the session. Without Chromium or Playwright these tests skip, except in
CI (env ``CI`` set), where that is a failure. With ``WIKISAGA_SCREENSHOTS=DIR`` the main
views are also saved there as PNGs (``scripts/screenshots`` writes ``docs/img/``).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
from dashboard_support import Dashboard

import wikisaga
from ci_support import unavailable
from wikisaga.testing.proxy import FaultKind, FaultRule

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 60_000


def _unavailable(message: str) -> NoReturn:
    unavailable(message, "the browser tests")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium, for this module only: Playwright's sync API keeps an event
    loop running in the main thread while it is open, which would break every later test
    that calls ``asyncio.run``."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:
        _unavailable("playwright (Python) is not installed: pip install -e '.[test]'")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        yield launched
        launched.close()


class Shots:
    """Screenshots of the main views, when WIKISAGA_SCREENSHOTS names a folder."""

    def __init__(self) -> None:
        folder = os.environ.get("WIKISAGA_SCREENSHOTS")
        self.folder = Path(folder) if folder else None
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Page, name: str, *, full: bool = False) -> None:
        if self.folder is not None:
            page.screenshot(path=str(self.folder / f"{name}.png"), full_page=full)


@pytest.fixture(scope="module")
def shots() -> Shots:
    return Shots()


def _context(browser: Browser, dashboard: Dashboard) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(
        base_url=dashboard.url, viewport={"width": 1280, "height": 820}, device_scale_factor=1
    )
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Every asset comes from the backend itself: no CDN, no other host.
    page.on(
        "request",
        lambda r: (
            None
            if r.url.startswith((dashboard.url + "/", "data:"))
            else problems.append(f"request to another origin: {r.url}")
        ),
    )
    return context, page, problems


def _sign_in(page: Page, key: str) -> None:
    page.goto("/")
    assert "/ui/signin" in page.url
    page.fill("#key", key)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def _documents(folder: Path) -> list[Path]:
    corpus = sorted((Path(wikisaga.__file__).parent / "sample_corpus").glob("*.md"))
    hostile = folder / "hostile.txt"
    hostile.write_text(
        "Hostile\n=======\n\nHostile is a package index with <script>window.pwned=1</script> "
        'inside. Hostile uses <img src=x onerror="window.pwned=2"> and '
        "[pip](javascript:window.pwned=3) daily.\n",
        encoding="utf-8",
    )
    return [*corpus, hostile]


@pytest.fixture(scope="module")
def journey(
    browser: Browser, dashboard: Dashboard, shots: Shots, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """Alice's browser, signed in, with a project whose generation committed."""
    context, page, problems = _context(browser, dashboard)
    shots_page = page
    page.goto("/")
    shots.take(shots_page, "signin")
    _sign_in(page, dashboard.keys["alice"])
    project = f"packaging-{uuid.uuid4().hex[:6]}"
    page.fill("#project_id", project)
    page.click("form[action='/ui/projects'] button")
    page.wait_for_url(re.compile(rf"/ui/p/{project}$"))
    page.set_input_files("#documents", [str(p) for p in _documents(tmp_path_factory.mktemp("d"))])
    page.click("#upload")
    page.wait_for_selector("p.notice")
    assert "24 document(s) ingested" in page.inner_text("p.notice")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/jobs/job-"))
    job_url = page.url
    assert page.get_attribute("#timeline", "data-poll")  # the page follows the job
    page.wait_for_selector("#job-status[data-status=succeeded]")
    assert page.url == job_url  # updated in place, not reloaded
    assert page.get_attribute("#timeline", "data-poll") is None  # and it stopped polling
    yield {"context": context, "page": page, "problems": problems, "project": project}
    context.close()


def test_a_generation_commits_live_and_its_wiki_links_and_citations_work(
    journey: dict[str, Any], shots: Shots
) -> None:
    page: Page = journey["page"]
    project = journey["project"]
    assert page.locator("tr.step.succeeded").count() == 8
    page.goto("/")
    assert page.locator("#projects").inner_text().count(project) == 1
    shots.take(page, "projects")

    page.goto(f"/ui/p/{project}/wiki")
    page.wait_for_selector("article#page h1")
    title = page.inner_text("article#page h1")
    link = page.locator("article#page a[href*='/wiki/wiki/entities/']").first
    link_text = link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r"/wiki/wiki/entities/"))
    assert page.inner_text("article#page h1") != title
    assert link_text.lower() in page.inner_text("article#page h1").lower()

    citation = page.locator("article#page a[href*='/wiki/wiki/sources/'][href*='#p-']").first
    target = citation.get_attribute("href") or ""
    citation.click()
    page.wait_for_url(re.compile(r"/wiki/wiki/sources/.+#p-\d+$"))
    anchor = target.rsplit("#", 1)[1]
    passage = page.locator(f"li:has(> a#{anchor}.passage-anchor)")
    assert passage.count() == 1
    # The passage is the page's target, highlighted and on screen.
    assert page.evaluate("location.hash") == f"#{anchor}"
    assert page.locator("li:has(> a.passage-anchor:target)").count() == 1
    assert passage.is_visible()
    # And the passage's own text, from the document, beside the page.
    quoted = page.locator("li:has(> a.passage-anchor:target) blockquote#passage")
    assert quoted.inner_text().strip()
    assert quoted.is_visible()
    shots.take(page, "wiki-citation")


_OVERLAPPING_LABELS = """() => {
  const texts = [...document.querySelectorAll("svg#graph text")];
  const boxes = texts.map((t) => t.getBBox());
  const pairs = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      const across = a.x < b.x + b.width && b.x < a.x + a.width;
      if (across && a.y < b.y + b.height && b.y < a.y + a.height) {
        pairs.push([texts[i].textContent, texts[j].textContent]);
      }
    }
  }
  return pairs;
}"""


def test_mermaid_diagrams_are_drawn_from_the_vendored_bundle(
    journey: dict[str, Any], shots: Shots
) -> None:
    page: Page = journey["page"]
    project = journey["project"]
    page.goto(f"/ui/p/{project}/wiki/wiki/relationships.md")
    page.wait_for_selector("pre.mermaid svg")
    assert page.locator("pre.mermaid svg g").count() > 3
    scripts = page.eval_on_selector_all("script", "els => els.map(e => e.src)")
    assert all(src.startswith(journey["context"].pages[0].url.split("/ui/")[0]) for src in scripts)
    assert any(src.endswith("/ui/static/mermaid.min.js") for src in scripts)
    shots.take(page, "wiki-mermaid")
    page.goto(f"/ui/p/{project}/graph")
    page.wait_for_selector("svg#graph circle")
    assert page.locator("svg#graph circle").count() > 5
    # No entity's label is drawn over another's (boxes as the browser lays the text out).
    overlapping = page.evaluate(_OVERLAPPING_LABELS)
    assert overlapping == [], overlapping
    shots.take(page, "graph")


def test_no_script_from_a_document_runs(journey: dict[str, Any]) -> None:
    page: Page = journey["page"]
    project = journey["project"]
    page.goto(f"/ui/p/{project}/wiki/wiki/sources/hostile.md")
    article = page.inner_text("article#page")
    assert "<script>window.pwned=1</script>" in article  # shown, as text
    assert page.evaluate("typeof window.pwned") == "undefined"
    for page_link in page.locator("nav.pages a").all()[:40]:
        href = page_link.get_attribute("href") or ""
        assert href.startswith(f"/ui/p/{project}/wiki/")
    assert page.locator("article#page script, article#page img").count() == 0
    assert journey["problems"] == []  # no CSP violation, no script error, no other host


def test_a_fault_rolls_the_next_generation_back_and_the_timeline_shows_it(
    journey: dict[str, Any], dashboard: Dashboard, shots: Shots
) -> None:
    page: Page = journey["page"]
    project = journey["project"]
    page.goto(f"/ui/p/{project}/wiki/wiki/index.md")
    before = page.inner_text("article#page")
    dashboard.stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_BEFORE))
    page.goto(f"/ui/p/{project}")
    page.click("#generate")
    page.wait_for_url(re.compile(r"/jobs/job-"))
    page.wait_for_selector("#job-status[data-status=failed]")
    assert "rolled back" in page.inner_text("#job-error")
    assert page.locator("#job-status .badge.rolled_back").count() == 1
    assert page.locator("tr[data-step=create_snapshot] .badge.failed").count() == 1
    assert page.locator("#saga-steps .tag.undo").count() >= 2  # compensated steps
    shots.take(page, "job-rollback", full=True)
    page.goto(f"/ui/p/{project}/wiki/wiki/index.md")
    assert page.inner_text("article#page") == before
    page.goto(f"/ui/p/{project}")
    assert page.locator("#jobs .badge.failed").count() == 1
    shots.take(page, "project")


def test_history_compares_two_snapshots(
    journey: dict[str, Any], shots: Shots, tmp_path: Path
) -> None:
    page: Page = journey["page"]
    project = journey["project"]
    changed = tmp_path / "hostile.txt"
    changed.write_text(
        "Hostile\n=======\n\nHostile is a package index that PyPI mirrors every hour.\n",
        encoding="utf-8",
    )
    page.goto(f"/ui/p/{project}")
    page.set_input_files("#documents", [str(changed)])
    page.click("#upload")
    page.wait_for_selector("p.notice")
    page.click("#generate")
    page.wait_for_selector("#job-status[data-status=succeeded]")
    page.click("nav.tabs a:has-text('History')")
    assert page.locator("#snapshots tbody tr").count() == 2  # the rolled-back one is gone
    page.click("#compare")
    page.wait_for_url(re.compile(r"/diff\?"))
    assert page.locator("pre.diff .add").count() > 0
    assert "PyPI mirrors every hour" in page.inner_text("main")
    shots.take(page, "diff")


def test_another_user_cannot_see_the_project(
    journey: dict[str, Any], browser: Browser, dashboard: Dashboard
) -> None:
    project = journey["project"]
    context, page, _ = _context(browser, dashboard)
    _sign_in(page, dashboard.keys["bob"])
    assert project not in page.content()
    answer = page.goto(f"/ui/p/{project}/wiki/wiki/index.md")
    assert answer is not None
    assert answer.status == 404
    assert "Nothing here" in page.inner_text("main")
    answer = page.goto(f"/ui/p/{project}")
    assert answer is not None
    assert answer.status == 404
    context.close()
