"""The dashboard over real HTTP, served by a real backend process with real filesystem and
git services: sign-in, sessions, CSRF refusals, ownership 404s, escaping, the rollback in
the timeline, history and diffs."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest
from dashboard_support import UPLOAD_LIMIT, Dashboard, DashboardClient, sample_docs
from pydantic import SecretStr

from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.users import UserStore


def _project() -> str:
    return f"dash-{uuid.uuid4().hex[:10]}"


class _Tags(HTMLParser):
    """Every start tag with its attributes, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_pages_need_a_signed_in_user(dashboard: Dashboard) -> None:
    client = dashboard.client()
    for path in ("/", "/ui/p/anything", "/ui/p/anything/wiki", "/ui/p/x/jobs/job-1"):
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/ui/signin?next=")
    client.get("/ui/signin")
    refused = client.post("/ui/signin", {"key": "wsk_00000000_nothing"})
    assert refused.status_code == 401
    assert client.get("/").status_code == 303
    client.close()


def test_sign_in_sets_a_strict_http_only_cookie_and_a_strict_csp(dashboard: Dashboard) -> None:
    client = dashboard.client()
    client.get("/ui/signin")
    answer = client.post("/ui/signin", {"key": dashboard.keys["alice"], "next": "/"})
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    home = client.get("/")
    assert home.status_code == 200
    assert ">alice<" in home.text
    csp = home.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-eval" not in csp
    assert "script-src 'self' 'unsafe-inline'" not in csp
    assert home.headers["x-frame-options"] == "DENY"
    # The internal token reaches neither the page nor the cookie.
    assert dashboard.stack.token not in home.text
    assert dashboard.stack.token not in cookie
    # Signing out ends the session.
    assert client.post("/ui/signout").status_code == 303
    assert client.get("/").status_code == 303
    client.close()


def test_a_next_target_never_leaves_the_dashboard(dashboard: Dashboard) -> None:
    client = dashboard.client()
    client.get("/ui/signin")
    answer = client.post("/ui/signin", {"key": dashboard.keys["alice"], "next": "//evil.example/x"})
    assert answer.headers["location"] == "/"
    client.close()


def test_posts_without_the_csrf_token_or_from_another_origin_are_refused(
    alice: DashboardClient, dashboard: Dashboard
) -> None:
    project = _project()
    no_token = alice.http.post(
        "/ui/projects", data={"project_id": project}, headers={"Origin": alice.url}
    )
    assert no_token.status_code == 403
    wrong_token = alice.http.post("/ui/projects", data={"project_id": project, "csrf": "guess"})
    assert wrong_token.status_code == 403
    other_origin = alice.post(
        "/ui/projects", {"project_id": project}, headers={"Origin": "http://evil.example"}
    )
    assert other_origin.status_code == 403
    assert UserStore.in_data_dir(dashboard.stack.data_dir).project_user(project) is None
    assert project not in alice.get("/").text
    assert alice.post("/ui/projects", {"project_id": project}).status_code == 303
    assert project in alice.get("/").text


def test_bad_project_names_are_refused_and_change_nothing(alice: DashboardClient) -> None:
    for bad in ("../x", "", "a" * 200, "-x"):
        answer = alice.post("/ui/projects", {"project_id": bad})
        assert answer.status_code == 400, bad
    uploaded = alice.post(
        "/ui/p/never-made/documents", files=[("documents", ("a.md", b"# A\n\ntext\n"))]
    )
    assert uploaded.status_code == 404


@pytest.fixture(scope="module")
def published(dashboard: Dashboard) -> dict[str, str]:
    """A project of alice's, generated once with hostile documents among its own."""
    client = dashboard.client()
    client.sign_in(dashboard.keys["alice"])
    project = _project()
    docs = {
        **sample_docs(),
        "hostile.md": (
            "# Hostile <script>window.pwned=1</script>\n\n"
            'Hostile is a database. <img src=x onerror="window.pwned=2"> Hostile uses '
            "[Java](javascript:alert(1)). <script>alert(3)</script>\n"
        ),
        "hostile.txt": (
            "Hostile\n=======\n\nHostile is a database with <script>window.pwned=1</script> "
            "inside. Hostile uses <img src=x onerror=window.pwned=2> and "
            "[Java](javascript:window.pwned=3) daily.\n"
        ),
        "hostile.html": (
            "<html><head><title>Trap</title><script>alert(4)</script></head><body>"
            '<h1 onclick="alert(5)">Trap</h1><p>Trap is a database. Trap uses Java.'
            '<a href="javascript:alert(6)">x</a></p></body></html>'
        ),
    }
    client.new_project(project, docs)
    job = client.generate(project)
    assert client.wait(job) == "succeeded"
    client.close()
    return {"project": project, "job": job}


def test_a_generation_commits_and_its_wiki_is_served(
    alice: DashboardClient, published: dict[str, str]
) -> None:
    project = published["project"]
    page = alice.get(published["job"])
    assert page.status_code == 200
    assert 'data-status="succeeded"' in page.text
    for step in ("fetch_documents", "save_files", "create_snapshot", "commit"):
        assert f'data-step="{step}"' in page.text
    index = alice.get(f"/ui/p/{project}/wiki")
    assert index.status_code == 303
    wiki = alice.get(index.headers["location"])
    assert wiki.status_code == 200
    assert f'href="/ui/p/{project}/wiki/wiki/sources/' in wiki.text
    # A citation opens its source's page with the passage's text.
    citation = re.search(
        rf'href="(/ui/p/{project}/wiki/wiki/sources/chroma.md\?passage=1)#p-1"', wiki.text
    )
    assert citation is not None
    source = alice.get(citation.group(1)).text
    assert re.search(
        r'id="passage".*Chroma is a vector database\. Chroma uses SQLite\.', source, re.DOTALL
    )
    assert 'id="passage"' not in alice.get(citation.group(1).split("?")[0]).text
    graph = alice.get(f"/ui/p/{project}/graph")
    assert graph.status_code == 200
    assert "<svg" in graph.text
    assert "<line " in graph.text
    # Relations read as the wiki's pages word them, their code kept in the title.
    assert '<span class="tag" title="is_a">is a</span>' in graph.text
    assert ">is_a<" not in graph.text


def test_nothing_from_a_document_becomes_markup(
    alice: DashboardClient, published: dict[str, str]
) -> None:
    project = published["project"]
    wiki = alice.get(alice.get(f"/ui/p/{project}/wiki").headers["location"]).text
    paths = sorted(set(re.findall(rf'href="/ui/p/{project}/wiki/([^"#]+)"', wiki)))
    assert any("hostile" in path for path in paths)
    seen_text = False
    for path in paths:
        html = alice.get(f"/ui/p/{project}/wiki/{path}").text
        for tag, attrs in _tags(html):
            if tag == "script":
                assert (attrs.get("src") or "").startswith("/ui/static/"), (path, attrs)
            assert not any(name.startswith("on") for name in attrs), (path, tag, attrs)
            for name in ("href", "src", "action"):
                value = (attrs.get(name) or "").strip().lower()
                assert not value.startswith(("javascript:", "data:", "vbscript:")), (path, attrs)
            assert tag not in ("img", "iframe", "object", "embed"), (path, tag)
        seen_text = seen_text or "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html
    assert seen_text  # the hostile text reached a page, as text


def test_another_user_sees_nothing_of_the_project(
    bob: DashboardClient, published: dict[str, str]
) -> None:
    project, job = published["project"], published["job"]
    assert project not in bob.get("/").text
    for path in (
        f"/ui/p/{project}",
        f"/ui/p/{project}/wiki",
        f"/ui/p/{project}/wiki/wiki/index.md",
        f"/ui/p/{project}/graph",
        f"/ui/p/{project}/history",
        job,
        f"{job}/timeline",
    ):
        answer = bob.get(path)
        assert answer.status_code == 404, path
        assert project not in answer.text or path.startswith(job), path
    assert bob.post(f"/ui/p/{project}/generate").status_code == 404
    uploaded = bob.post(
        f"/ui/p/{project}/documents", files=[("documents", ("x.md", b"# X\n\nx\n"))]
    )
    assert uploaded.status_code == 404
    taken = bob.post("/ui/projects", {"project_id": project})
    assert taken.status_code == 409


def test_a_removed_user_is_signed_out(dashboard: Dashboard) -> None:
    users = UserStore.in_data_dir(dashboard.stack.data_dir)
    key = users.add("carol")
    client = dashboard.client()
    client.sign_in(key)
    assert client.get("/").status_code == 200
    users.remove("carol")
    assert client.get("/").status_code == 303
    client.close()


def test_a_rollback_shows_in_the_timeline_and_the_wiki_stays(
    alice: DashboardClient, dashboard: Dashboard, published: dict[str, str]
) -> None:
    project = published["project"]
    before = alice.get(f"/ui/p/{project}/wiki/wiki/index.md").text
    dashboard.stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_BEFORE))
    job = alice.generate(project, force=True)
    assert alice.wait(job) == "failed"
    page = alice.get(job).text
    assert "Wiki generation failed and was rolled back" in page
    assert '<span class="badge rolled_back">rolled_back</span>' in page
    assert "compensated " in page
    assert re.search(r'data-step="create_snapshot">.*?badge failed', page, re.DOTALL)
    assert alice.get(f"/ui/p/{project}/wiki/wiki/index.md").text == before


def test_history_and_a_diff_between_two_snapshots(
    alice: DashboardClient, published: dict[str, str]
) -> None:
    project = published["project"]
    changed = {"git.md": "# Git\n\nGit is a version control system. Git uses SHA-256 now.\n"}
    files = [("documents", (name, text.encode())) for name, text in changed.items()]
    assert alice.post(f"/ui/p/{project}/documents", files=files).status_code == 303
    assert alice.wait(alice.generate(project)) == "succeeded"
    history = alice.get(f"/ui/p/{project}/history")
    snapshots = re.findall(r'name="new" value="([^"]+)"', history.text)
    assert len(snapshots) >= 2
    diff = alice.get(f"/ui/p/{project}/diff", params={"old": snapshots[1], "new": snapshots[0]})
    assert diff.status_code == 200
    assert '<span class="add">+' in diff.text
    assert "SHA-256" in diff.text
    unknown = alice.get(f"/ui/p/{project}/diff", params={"old": "snap-x", "new": snapshots[0]})
    assert unknown.status_code == 404


def test_an_upload_over_the_limit_is_refused_and_stores_nothing(alice: DashboardClient) -> None:
    project = _project()
    assert alice.post("/ui/projects", {"project_id": project}).status_code == 303
    big = b"# Big\n\n" + b"word " * (UPLOAD_LIMIT // 5 + 10)
    answer = alice.post(f"/ui/p/{project}/documents", files=[("documents", ("big.md", big))])
    assert answer.status_code == 413
    assert 'Documents <span class="muted">(0)</span>' in alice.get(f"/ui/p/{project}").text


def test_a_project_with_another_users_documents_cannot_be_taken(
    alice: DashboardClient, dashboard: Dashboard, tmp_path: Path
) -> None:
    """Documents ingested by bob from the command line make the name bob's."""
    project = _project()
    (tmp_path / "a.md").write_text("# A\n\nA is a thing.\n", encoding="utf-8")
    settings = Settings(
        data_dir=dashboard.stack.data_dir, internal_token=SecretStr(dashboard.stack.token)
    )
    with document_store_for(settings) as store:
        ingest(store, project_id=project, user_id="bob", paths=[tmp_path])
    assert alice.post("/ui/projects", {"project_id": project}).status_code == 409
    assert alice.get(f"/ui/p/{project}").status_code == 404


def test_upload_names_are_reduced_to_their_last_part(alice: DashboardClient) -> None:
    project = _project()
    assert alice.post("/ui/projects", {"project_id": project}).status_code == 303
    assert alice.get(f"/ui/p/{project}/wiki").status_code == 404  # no wiki yet
    assert "No wiki yet" in alice.get(f"/ui/p/{project}/graph").text
    escaping = [("documents", ("../../outside.md", b"# Out\n\nOut is a thing.\n"))]
    assert alice.post(f"/ui/p/{project}/documents", files=escaping).status_code == 303
    page = alice.get(f"/ui/p/{project}").text
    assert "<code>outside.md</code>" in page
    assert "../" not in page.split('id="documents-list"')[1]
    hidden = [("documents", (".env", b"SECRET=1\n"))]
    assert alice.post(f"/ui/p/{project}/documents", files=hidden).status_code == 400
    assert ".env" not in alice.get(f"/ui/p/{project}").text.split('id="documents-list"')[1]
