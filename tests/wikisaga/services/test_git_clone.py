"""Read-only clone over git's smart HTTP protocol, with the stock git client."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import pytest
from git_fixtures import (
    TOKEN,
    GitStack,
    bare,
    git,
    new_project,
    run_git,
    start_stack,
    tree_files,
    wiki_files,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("git-clone")) as running:
        yield running


def _pkt(line: str) -> bytes:
    data = line.encode()
    return b"%04x" % (len(data) + 4) + data


@pytest.mark.parametrize("protocol", ["0", "2"])
def test_git_clone_works_over_both_protocol_versions(stack: GitStack, protocol: str) -> None:
    """git clone (protocol v0 and v2) gets every snapshot tag, main, and the exact files,
    and the clone passes git fsck --full."""
    project = new_project()
    files = wiki_files(12)
    stack.save_files(project, files)
    stack.snapshot(project, snapshot_id="s1")
    stack.save_files(project, {"extra.md": "more\n"})
    head = stack.snapshot(project, snapshot_id="s2").json()["commit"]
    clone = stack.clone(project, protocol=protocol)
    assert bare(clone / ".git", "rev-parse", "HEAD") == head
    assert bare(clone / ".git", "tag", "-l").split() == ["s1", "s2"]
    assert tree_files(clone) == {
        **{p: c.encode() for p, c in files.items()},
        "extra.md": b"more\n",
    }
    bare(clone / ".git", "fsck", "--full", "--strict")


def test_git_fetch_brings_a_clone_up_to_date(stack: GitStack) -> None:
    """An incremental fetch (haves negotiated against the server) gets the new snapshot."""
    project = new_project()
    stack.save_files(project, {"a.md": "1"})
    stack.snapshot(project, snapshot_id="s1")
    clone = stack.clone(project)
    stack.save_files(project, {"a.md": "2"})
    head = stack.snapshot(project, snapshot_id="s2").json()["commit"]
    git(
        "-c",
        f"http.extraHeader=X-INTERNAL-TOKEN: {TOKEN}",
        "-c",
        "http.extraHeader=X-User-ID: alice",
        "fetch",
        "--quiet",
        "--tags",
        "origin",
        cwd=clone,
    )
    assert bare(clone / ".git", "rev-parse", "origin/main") == head
    assert bare(clone / ".git", "rev-parse", "s2") == head


def test_a_clone_never_sees_the_services_hidden_refs(stack: GitStack) -> None:
    """Deleted-id markers under refs/wikisaga/ stay on the server: a clone's refs are
    main and the snapshot tags only."""
    project = new_project()
    stack.save_files(project, {"a.md": "1"})
    stack.snapshot(project, snapshot_id="kept")
    stack.snapshot(project, snapshot_id="dropped")
    stack.delete(project, "dropped")
    assert bare(stack.repo(project), "for-each-ref", "--format=%(refname)", "refs/wikisaga/")
    clone = stack.clone(project)
    refs = bare(clone / ".git", "for-each-ref", "--format=%(refname)").split()
    assert sorted(refs) == [
        "refs/heads/main",
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/main",
        "refs/tags/kept",
    ]


def test_push_is_refused_with_403(stack: GitStack) -> None:
    """git push fails, the advertisement and the receive-pack endpoint both answer 403,
    and the repository is unchanged."""
    project = new_project()
    stack.save_files(project, {"a.md": "1"})
    head = stack.snapshot(project, snapshot_id="s1").json()["commit"]
    clone = stack.clone(project)
    (clone / "a.md").write_text("pushed")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "push me", cwd=clone)
    pushed = run_git(
        "-c",
        f"http.extraHeader=X-INTERNAL-TOKEN: {TOKEN}",
        "-c",
        "http.extraHeader=X-User-ID: alice",
        "push",
        "origin",
        "HEAD:refs/heads/main",
        cwd=clone,
    )
    assert pushed.returncode != 0
    assert "403" in pushed.stderr
    assert bare(stack.repo(project), "rev-parse", "main") == head
    headers = stack.headers()
    for response in (
        httpx.get(
            f"{stack.url}/git/{project}.git/info/refs?service=git-receive-pack", headers=headers
        ),
        httpx.post(
            f"{stack.url}/git/{project}.git/git-receive-pack", headers=headers, content=b"0000"
        ),
    ):
        assert response.status_code == 403
        assert response.json()["error"] == "push_refused"


def test_the_dumb_protocol_is_not_served(stack: GitStack) -> None:
    """info/refs without ?service=git-upload-pack is 400 unsupported_service."""
    project = new_project()
    stack.save_files(project, {"a.md": "1"})
    stack.snapshot(project, snapshot_id="s1")
    response = httpx.get(f"{stack.url}/git/{project}.git/info/refs", headers=stack.headers())
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_service"


def test_upload_pack_accepts_a_gzip_request_body(stack: GitStack) -> None:
    """A gzip-encoded upload-pack request (as git sends large ones) gets a pack back."""
    project = new_project()
    stack.save_files(project, {"a.md": "1"})
    head = stack.snapshot(project, snapshot_id="s1").json()["commit"]
    request = _pkt(f"want {head} ofs-delta\n") + b"0000" + _pkt("done\n")
    response = httpx.post(
        f"{stack.url}/git/{project}.git/git-upload-pack",
        headers={
            **stack.headers(),
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
        content=gzip.compress(request),
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-git-upload-pack-result"
    assert response.content.startswith(b"0008NAK\n")
    assert b"PACK" in response.content


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"Content-Type": "text/plain"}, b"0000", 415, "unsupported_media_type"),
        ({"Content-Encoding": "gzip"}, b"not gzip", 400, "bad_gzip"),
        ({"Content-Encoding": "br"}, b"0000", 415, "unsupported_encoding"),
        ({}, b"want nonsense\n", 400, "bad_upload_pack_request"),
    ],
)
def test_malformed_upload_pack_requests_are_4xx(
    stack: GitStack, headers: dict[str, str], body: bytes, status: int, code: str
) -> None:
    """Wrong content type, broken gzip, unknown encoding and garbage are JSON 4xx errors."""
    project = new_project()
    stack.save_files(project, {"a.md": "1"})
    stack.snapshot(project, snapshot_id="s1")
    response = httpx.post(
        f"{stack.url}/git/{project}.git/git-upload-pack",
        headers={
            **stack.headers(),
            "Content-Type": "application/x-git-upload-pack-request",
            **headers,
        },
        content=body,
    )
    assert response.status_code == status, response.text
    assert response.json()["error"] == code


def test_cloning_a_never_snapshotted_project_is_404(stack: GitStack) -> None:
    """A project without a repository cannot be cloned (404 project_not_found)."""
    response = httpx.get(
        f"{stack.url}/git/{new_project()}.git/info/refs?service=git-upload-pack",
        headers=stack.headers(),
    )
    assert response.status_code == 404
    assert response.json()["error"] == "project_not_found"
