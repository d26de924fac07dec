"""One owner per project across every service (DESIGN §3), with real service processes.

The user who first writes files to a project owns it, and the filesystem service's project
registry is the one record of that: the git service asks it on every project request
instead of keeping an owner of its own. So another user is refused with 403 by every
endpoint of both services and changes nothing, and a request on a project nobody owns yet
(a read, a delete, an empty snapshot) never claims it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from git_fixtures import OTHER, OWNER, TOKEN, GitStack, bare, new_project, start_stack
from service_support import tree_digest


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("ownership")) as running:
        yield running


def registry_owner(stack: GitStack, project: str) -> str | None:
    """The project's owner in the filesystem's registry, ``None`` when it has none."""
    response = httpx.get(f"{stack.fs.url}/projects/{project}", headers={"X-INTERNAL-TOKEN": TOKEN})
    if response.status_code == 404:
        assert response.json()["error"] == "project_not_found"
        return None
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["project_id"] == project
    owner: str = body["owner"]
    return owner


@dataclass(frozen=True)
class Endpoint:
    """One request of the matrix; ``{p}`` is the project, ``{v}`` a version of ``a.md``."""

    service: str
    method: str
    path: str
    body: Any = None
    raw: bytes | None = None
    claims: bool = False
    """Whether this request, from the first user to send it, may claim a new project."""
    headers: dict[str, str] = field(default_factory=dict)
    label: str = ""

    def send(self, stack: GitStack, user: str, project: str, version: str) -> httpx.Response:
        base = stack.fs.url if self.service == "fs" else stack.url
        headers = {**stack.headers(user), **self.headers}
        kwargs: dict[str, Any] = {}
        if self.body is not None:
            kwargs["json"] = _fill(self.body, user, project, version)
        if self.raw is not None:
            kwargs["content"] = self.raw
        path = self.path.format(p=project, v=version)
        return httpx.request(self.method, f"{base}{path}", headers=headers, timeout=30, **kwargs)

    def __str__(self) -> str:
        return f"{self.service} {self.method} {self.path} {self.label}".strip()


def _fill(template: Any, user: str, project: str, version: str) -> Any:
    if isinstance(template, str):
        return template.format(p=project, v=version, u=user)
    if isinstance(template, dict):
        return {k: _fill(v, user, project, version) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, user, project, version) for v in template]
    return template


UPLOAD_PACK = {"Content-Type": "application/x-git-upload-pack-request"}

ENDPOINTS = [
    Endpoint(
        "fs",
        "POST",
        "/save_file",
        {"project_id": "{p}", "file_path": "b.md", "content": "intruder"},
        claims=True,
        label="new file",
    ),
    Endpoint(
        "fs",
        "POST",
        "/save_file",
        {"project_id": "{p}", "file_path": "a.md", "content": "overwritten"},
        claims=True,
        label="overwrite",
    ),
    Endpoint("fs", "GET", "/file/{p}/a.md"),
    Endpoint("fs", "DELETE", "/file/{p}/a.md"),
    Endpoint("fs", "DELETE", "/file/{p}/absent.md"),
    Endpoint("fs", "GET", "/files/{p}"),
    Endpoint(
        "fs",
        "POST",
        "/batch",
        {"project_id": "{p}", "save": [{"file_path": "c.md", "content": "x"}]},
        claims=True,
        label="save",
    ),
    Endpoint("fs", "POST", "/batch", {"project_id": "{p}", "delete": ["a.md"]}, label="delete"),
    Endpoint("fs", "POST", "/batch", {"project_id": "{p}"}, label="empty"),
    Endpoint("fs", "GET", "/versions/{p}?paths=a.md"),
    Endpoint("fs", "POST", "/versions/{p}", {"paths": ["a.md"]}),
    Endpoint(
        "fs",
        "POST",
        "/restore",
        {"project_id": "{p}", "files": [{"path": "a.md", "version": "{v}"}]},
        claims=True,
        label="to a version",
    ),
    Endpoint(
        "fs",
        "POST",
        "/restore",
        {"project_id": "{p}", "files": [{"path": "a.md", "version": None}]},
        label="to absent",
    ),
    Endpoint("fs", "GET", "/export/{p}"),
    Endpoint("fs", "PUT", "/projects/{p}", claims=True, label="claim"),
    Endpoint(
        "git", "POST", "/snapshot/{p}", {"user_id": "{u}", "message": "mine now"}, label="new id"
    ),
    Endpoint(
        "git",
        "POST",
        "/snapshot/{p}",
        {"user_id": "{u}", "message": "m", "snapshot_id": "s1"},
        label="existing id",
    ),
    Endpoint("git", "GET", "/snapshot/{p}/s1"),
    Endpoint("git", "GET", "/snapshots/{p}"),
    Endpoint("git", "DELETE", "/snapshot/{p}/s1"),
    Endpoint("git", "DELETE", "/snapshot/{p}/anything"),
    Endpoint("git", "GET", "/git/{p}.git/info/refs?service=git-upload-pack"),
    Endpoint("git", "POST", "/git/{p}.git/git-upload-pack", raw=b"0000", headers=UPLOAD_PACK),
]


@dataclass(frozen=True)
class Owned:
    """A project the owner created; ``version`` is that of ``a.md``."""

    project: str
    version: str
    snapshotted: bool


def _create(stack: GitStack, how: str, project: str) -> str:
    """Create ``project`` as the owner through entry point ``how``; the version of a.md."""
    if how == "save_file":
        response = httpx.post(
            f"{stack.fs.url}/save_file",
            json={"project_id": project, "file_path": "a.md", "content": "owner's data"},
            headers=stack.headers(OWNER),
        )
        assert response.status_code == 200, response.text
        return str(response.json()["version"])
    response = httpx.post(
        f"{stack.fs.url}/batch",
        json={"project_id": project, "save": [{"file_path": "a.md", "content": "owner's data"}]},
        headers=stack.headers(OWNER),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["version"])


@pytest.fixture(
    scope="module",
    params=[
        ("save_file", True),
        ("batch", True),
        ("save_file", False),
        ("batch", False),
    ],
    ids=["save_file+snapshot", "batch+snapshot", "save_file", "batch"],
)
def owned(stack: GitStack, request: pytest.FixtureRequest) -> Owned:
    """A project created by the owner through each entry point that can create one, with
    a snapshot, or not yet snapshotted (the git service has no repository for it)."""
    how, snapshotted = request.param
    project = new_project()
    version = _create(stack, how, project)
    assert registry_owner(stack, project) == OWNER
    if snapshotted:
        assert stack.snapshot(project, "owner's snapshot", snapshot_id="s1").status_code == 201
    return Owned(project, version, snapshotted)


def _state(stack: GitStack, project: str) -> dict[str, Any]:
    """Everything either service holds, and what the owner sees of the project."""
    repo = stack.repo(project)
    return {
        "data": tree_digest(stack.data_dir),
        "owner": registry_owner(stack, project),
        "export": httpx.get(
            f"{stack.fs.url}/export/{project}", headers=stack.headers(OWNER)
        ).json(),
        "refs": bare(repo, "for-each-ref", "--format=%(refname) %(objectname)")
        if repo.exists()
        else None,
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_another_user_is_refused_by_every_endpoint_and_changes_nothing(
    stack: GitStack, owned: Owned, endpoint: Endpoint
) -> None:
    """Every request of another user on the project, at either service, is 403 with no
    data of the project in it, and every byte both services store stays as it was."""
    before = _state(stack, owned.project)
    response = endpoint.send(stack, OTHER, owned.project, owned.version)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "forbidden"
    assert "owner's data" not in response.text
    assert _state(stack, owned.project) == before


def test_another_user_cannot_clone_or_fetch(stack: GitStack, owned: Owned) -> None:
    """The git CLI, as another user, fails over protocol v0 and v2 and gets no file."""
    for protocol in ("0", "2"):
        dest = stack.clone(owned.project, user=OTHER, protocol=protocol, check=False)
        assert not dest.exists()
    if owned.snapshotted:
        assert (stack.clone(owned.project) / "a.md").read_text() == "owner's data"


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if not e.claims], ids=str)
def test_a_request_on_a_project_nobody_owns_never_claims_it(
    stack: GitStack, endpoint: Endpoint
) -> None:
    """A read, a delete, a write that changes nothing or a snapshot of a project nobody
    has written to leaves it unowned and creates nothing anywhere; the first user who
    then writes files to it owns it, at both services."""
    project = new_project()
    before = tree_digest(stack.data_dir)
    response = endpoint.send(stack, OTHER, project, "v0000")
    assert response.status_code < 500, response.text
    if endpoint.service == "git" and endpoint.method != "DELETE":
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "project_not_found"
    assert registry_owner(stack, project) is None
    assert not stack.repo(project).exists()
    assert tree_digest(stack.data_dir) == before

    _create(stack, "save_file", project)
    assert registry_owner(stack, project) == OWNER
    assert stack.snapshot(project, snapshot_id="first").status_code == 201
    assert stack.snapshot(project, user=OTHER, snapshot_id="other").status_code == 403


# -- the takeovers of the issue, step by step ----------------------------------------------


def test_a_delete_by_another_user_does_not_take_over_the_snapshots(stack: GitStack) -> None:
    """Alice writes files; Bob's DELETE /snapshot/pq/anything is 403, and Alice still
    snapshots and lists her project while Bob cannot."""
    project = new_project()
    stack.save_files(project, {"a.md": "alice"})
    refused = stack.delete(project, "anything", user=OTHER)
    assert refused.status_code == 403
    assert not stack.repo(project).exists()
    assert stack.snapshot(project, snapshot_id="s1").status_code == 201
    assert stack.get(f"/snapshots/{project}").status_code == 200
    assert stack.get(f"/snapshots/{project}", user=OTHER).status_code == 403


def test_an_empty_snapshot_before_anyone_wrote_does_not_lock_the_owner_out(
    stack: GitStack,
) -> None:
    """Bob's POST /snapshot/pr before anyone wrote pr is 404 and creates nothing; Alice
    then writes pr and owns its snapshots."""
    project = new_project()
    early = stack.snapshot(project, user=OTHER, snapshot_id="early")
    assert early.status_code == 404
    assert early.json()["error"] == "project_not_found"
    assert not stack.repo(project).exists()
    assert stack.delete(project, "early", user=OTHER).status_code == 200
    assert not stack.repo(project).exists()
    stack.save_files(project, {"a.md": "alice"})
    created = stack.snapshot(project, snapshot_id="early")
    assert created.status_code == 201, created.text
    assert [s["snapshot_id"] for s in stack.get(f"/snapshots/{project}").json()["snapshots"]] == [
        "early"
    ]
    assert stack.get(f"/snapshots/{project}", user=OTHER).status_code == 403


def test_the_registry_answers_only_with_the_token(stack: GitStack) -> None:
    """GET /projects/{id} is an internal lookup: 401 without the token, the owner with
    it (no X-User-ID needed), 404 for a project nobody owns."""
    project = new_project()
    stack.save_files(project, {"a.md": "alice"})
    assert httpx.get(f"{stack.fs.url}/projects/{project}").status_code == 401
    assert registry_owner(stack, project) == OWNER
    assert registry_owner(stack, new_project()) is None


# -- the claim an ingest makes before it stores documents -----------------------------------


def _claim(stack: GitStack, project: str, user: str | None, token: str | None = TOKEN) -> Any:
    return httpx.put(
        f"{stack.fs.url}/projects/{project}", headers=stack.headers(user, token), timeout=30
    )


def test_a_claim_makes_a_new_project_the_claimers_and_changes_nothing_after(
    stack: GitStack,
) -> None:
    """PUT /projects/{id} on a project nobody owns makes the caller its owner without a
    file; claiming it again answers the same record; another user's claim, save and
    snapshot are 403 and change nothing, and the claimer then writes and snapshots it."""
    project = new_project()
    first = _claim(stack, project, OWNER)
    assert first.status_code == 200, first.text
    record = first.json()
    assert (record["project_id"], record["owner"]) == (project, OWNER)
    assert registry_owner(stack, project) == OWNER
    exported = httpx.get(f"{stack.fs.url}/export/{project}", headers=stack.headers(OWNER))
    assert exported.json()["files"] == []
    again = _claim(stack, project, OWNER)
    assert again.status_code == 200
    assert again.json() == record

    before = tree_digest(stack.data_dir)
    refused = _claim(stack, project, OTHER)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "forbidden"
    saved = httpx.post(
        f"{stack.fs.url}/save_file",
        json={"project_id": project, "file_path": "a.md", "content": "intruder"},
        headers=stack.headers(OTHER),
    )
    assert saved.status_code == 403
    assert stack.snapshot(project, user=OTHER, snapshot_id="other").status_code == 403
    assert tree_digest(stack.data_dir) == before
    assert registry_owner(stack, project) == OWNER

    stack.save_files(project, {"a.md": "alice"})
    assert stack.snapshot(project, snapshot_id="s1").status_code == 201
    assert _claim(stack, project, OWNER).json() == record


def test_a_claim_needs_the_token_and_a_user(stack: GitStack) -> None:
    """Without the token 401, without X-User-ID 400: neither claims the project."""
    project = new_project()
    no_token = _claim(stack, project, OWNER, token=None)
    assert no_token.status_code == 401
    no_user = _claim(stack, project, None)
    assert no_user.status_code == 400
    assert no_user.json()["error"] == "missing_user_id"
    assert registry_owner(stack, project) is None
