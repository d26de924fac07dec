"""Trust rules of the git service (DESIGN §3): every endpoint by token by user."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from git_fixtures import OTHER, OWNER, TOKEN, GitStack, bare, new_project, run_git, start_stack

PROJECT = new_project()
SNAPSHOT = "snap-auth"
NO_USER = None


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    ok: int
    body_user: bool = False
    raw: bytes | None = None

    def request(self, stack: GitStack, token: str | None, user: str | None) -> httpx.Response:
        headers = stack.headers(user, token)
        kwargs: dict[str, object] = {}
        if self.body_user:
            body = {"message": "auth matrix", "snapshot_id": SNAPSHOT}
            if user is not None:
                body["user_id"] = user
            kwargs["json"] = body
        if self.raw is not None:
            headers["Content-Type"] = "application/x-git-upload-pack-request"
            kwargs["content"] = self.raw
        return httpx.request(
            self.method, f"{stack.url}{self.path}", headers=headers, timeout=30, **kwargs
        )


ENDPOINTS = [
    Endpoint("POST", f"/snapshot/{PROJECT}", 200, body_user=True),
    Endpoint("GET", f"/snapshot/{PROJECT}/{SNAPSHOT}", 200),
    Endpoint("GET", f"/snapshots/{PROJECT}", 200),
    Endpoint("DELETE", f"/snapshot/{PROJECT}/absent-snapshot", 200),
    Endpoint("GET", f"/git/{PROJECT}.git/info/refs?service=git-upload-pack", 200),
    # A flush packet alone: a fetch that wants nothing.
    Endpoint("POST", f"/git/{PROJECT}.git/git-upload-pack", 200, raw=b"0000"),
]
TOKENS = {"no token": None, "wrong token": "not-the-token", "right token": TOKEN}
USERS = {"owner": OWNER, "other user": OTHER, "no user": NO_USER}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("git-auth")) as running:
        running.save_files(PROJECT, {"secret.md": "owner's data"})
        created = running.snapshot(PROJECT, "auth matrix", snapshot_id=SNAPSHOT)
        assert created.status_code == 201
        yield running


def _expected(endpoint: Endpoint, token: str | None, user: str | None) -> tuple[int, str]:
    if token != TOKEN:
        return 401, "unauthorized"
    if user is None:
        # POST carries its user in the body; without it the body is invalid.
        return (422, "validation_error") if endpoint.body_user else (400, "missing_user_id")
    if user != OWNER:
        return 403, "forbidden"
    return endpoint.ok, ""


@pytest.mark.parametrize("user_name", list(USERS))
@pytest.mark.parametrize("token_name", list(TOKENS))
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_auth_matrix(stack: GitStack, endpoint: Endpoint, token_name: str, user_name: str) -> None:
    """Only the right token and the project's owner get through; the others get a JSON
    error naming why (401 token, 400/422 no user, 403 another user) and no data."""
    token, user = TOKENS[token_name], USERS[user_name]
    head_before = bare(stack.repo(PROJECT), "rev-parse", "main")
    response = endpoint.request(stack, token, user)
    status, code = _expected(endpoint, token, user)
    assert response.status_code == status, response.text
    if code:
        body = response.json()
        assert body["error"] == code
        assert "owner's data" not in response.text
        assert bare(stack.repo(PROJECT), "rev-parse", "main") == head_before
    assert bare(stack.repo(PROJECT), "tag", "-l") == SNAPSHOT


def test_the_post_body_user_is_enough_without_the_header(stack: GitStack) -> None:
    """The guide's client sends only the token header: the body's user_id is the actor."""
    response = stack.snapshot(
        PROJECT, "auth matrix", snapshot_id=SNAPSHOT, headers={"X-INTERNAL-TOKEN": TOKEN}
    )
    assert response.status_code == 200
    other = stack.snapshot(
        PROJECT,
        "auth matrix",
        snapshot_id=SNAPSHOT,
        user=OTHER,
        headers={"X-INTERNAL-TOKEN": TOKEN},
    )
    assert other.status_code == 403


def test_another_user_cannot_take_a_new_project_the_filesystem_says_is_not_theirs(
    stack: GitStack,
) -> None:
    """A first snapshot by a user the filesystem service refuses is 403 and creates no
    repository, so it cannot claim the project's history."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"}, user=OWNER)
    response = stack.snapshot(project, user=OTHER)
    assert response.status_code == 403
    assert not stack.repo(project).exists()


def test_health_needs_no_token_and_metrics_need_one(stack: GitStack) -> None:
    """/health answers anyone; /metrics answers only with the token."""
    assert httpx.get(f"{stack.url}/health").status_code == 200
    assert httpx.get(f"{stack.url}/metrics").status_code == 401
    assert httpx.get(f"{stack.url}/metrics", headers=stack.headers(None)).status_code == 200


def _clone(stack: GitStack, dest: Path, token: str, user: str) -> subprocess.CompletedProcess[str]:
    return run_git(
        "-c",
        f"http.extraHeader=X-INTERNAL-TOKEN: {token}",
        "-c",
        f"http.extraHeader=X-User-ID: {user}",
        "clone",
        "--quiet",
        f"{stack.url}/git/{PROJECT}.git",
        dest,
    )


@pytest.mark.parametrize(
    ("token", "user", "message"),
    [
        # 401: git asks for credentials, which the isolated environment cannot give.
        ("wrong", OWNER, "could not read Username"),
        (TOKEN, OTHER, "The requested URL returned error: 403"),
    ],
    ids=["wrong token", "another user"],
)
def test_clone_with_wrong_credentials_fails_and_writes_nothing(
    stack: GitStack, tmp_path: Path, token: str, user: str, message: str
) -> None:
    """git clone with a wrong token (401), or as a user who does not own the project
    (403), fails with git's exit status 128 and leaves no checkout; the same clone with
    the owner's credentials works."""
    refused = _clone(stack, tmp_path / "refused", token, user)
    assert refused.returncode == 128, refused.stderr
    assert message in refused.stderr
    assert not (tmp_path / "refused").exists()
    allowed = _clone(stack, tmp_path / "allowed", TOKEN, OWNER)
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "allowed" / "secret.md").read_text() == "owner's data"
