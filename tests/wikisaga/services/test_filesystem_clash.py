"""A project's files form one tree: no write may make a path both a file and a directory.

``dirclash`` and ``dirclash/child.md`` cannot both exist in a git tree, so once both were
accepted every snapshot of the project failed with 502. The filesystem refuses the write
that would make such a pair, through every entry point, with 409 ``path_clash`` naming
both paths, and writes nothing; a snapshot of whatever it accepted always succeeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from git_fixtures import GitStack, bare, new_project, start_stack
from service_support import tree_digest

LARGE = "x" * (300 * 1024)
"""Content stored as a blob file rather than inline: a refused write must not leave one."""


def _save(client: httpx.Client, project: str, path: str, content: str = "x") -> httpx.Response:
    return client.post(
        "/save_file", json={"project_id": project, "file_path": path, "content": content}
    )


def _batch(
    client: httpx.Client, project: str, save: dict[str, str], delete: tuple[str, ...] = ()
) -> httpx.Response:
    return client.post(
        "/batch",
        json={
            "project_id": project,
            "save": [{"file_path": p, "content": c} for p, c in save.items()],
            "delete": list(delete),
        },
    )


def _restore(client: httpx.Client, project: str, versions: dict[str, str | None]) -> httpx.Response:
    return client.post(
        "/restore",
        json={
            "project_id": project,
            "files": [{"path": p, "version": v} for p, v in versions.items()],
        },
    )


def _paths(client: httpx.Client, project: str) -> list[str]:
    response = client.get(f"/files/{project}")
    assert response.status_code == 200, response.text
    return [f["path"] for f in response.json()["files"]]


def _assert_clash(response: httpx.Response, *paths: str) -> None:
    assert response.status_code == 409, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == "path_clash"
    for path in paths:
        assert repr(path) in body["detail"], body["detail"]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("dirclash", "dirclash/child.md"),
        ("dirclash/child.md", "dirclash"),
        ("a/b/c.md", "a"),
        ("a/b/c.md", "a/b"),
        ("a/b/c.md", "a/b/c.md/d.md"),
        ("a", "a/b/c/d.md"),
    ],
)
def test_a_single_save_that_makes_a_file_and_a_directory_is_refused(
    client: httpx.Client, project_id: str, first: str, second: str
) -> None:
    """Saving one path of a clashing pair after the other, in either order and at any
    depth, is 409 path_clash naming both; the first file stays as it was."""
    assert _save(client, project_id, first).status_code == 200
    _assert_clash(_save(client, project_id, second), first, second)
    assert _paths(client, project_id) == [first]


def test_a_batch_clashing_with_stored_files_is_refused_and_writes_nothing(
    client: httpx.Client, project_id: str, filesystem_data_dir: Path
) -> None:
    """A batch whose saves clash with a stored file is refused whole: its other saves,
    its deletes and its large contents are not written."""
    assert _batch(client, project_id, {"wiki/page.md": "p", "keep.md": "k"}).status_code == 200
    before = tree_digest(filesystem_data_dir)
    exported = client.get(f"/export/{project_id}").json()
    response = _batch(
        client, project_id, {"big.md": LARGE, "wiki": "now a file?"}, delete=("keep.md",)
    )
    _assert_clash(response, "wiki", "wiki/page.md")
    response = _batch(client, project_id, {"keep.md/inner.md": LARGE})
    _assert_clash(response, "keep.md", "keep.md/inner.md")
    assert tree_digest(filesystem_data_dir) == before
    assert client.get(f"/export/{project_id}").json() == exported


@pytest.mark.parametrize(
    "save",
    [
        {"dirclash": "file", "dirclash/child.md": "child"},
        {"dirclash/child.md": "child", "dirclash": "file"},
        {"x/y/z.md": "z", "x": "x"},
        {"x/y": "y", "x/y/z.md": LARGE},
    ],
)
def test_a_batch_that_clashes_within_itself_is_refused(
    client: httpx.Client, project_id: str, save: dict[str, str]
) -> None:
    """Two saves of one batch that cannot both exist: 409, and the project stays unclaimed
    and empty."""
    _assert_clash(_batch(client, project_id, save), *save)
    assert _paths(client, project_id) == []


def test_a_batch_may_turn_a_file_into_a_directory_by_deleting_it(
    client: httpx.Client, project_id: str
) -> None:
    """What counts is the tree after the whole request: deleting ``a`` and saving ``a/b``
    in one batch is fine, and so is the way back."""
    assert _save(client, project_id, "a").status_code == 200
    assert _batch(client, project_id, {"a/b.md": "b"}, delete=("a",)).status_code == 200
    assert _paths(client, project_id) == ["a/b.md"]
    assert _batch(client, project_id, {"a": "a"}, delete=("a/b.md",)).status_code == 200
    assert _paths(client, project_id) == ["a"]


def test_a_restore_that_makes_a_clash_is_refused(client: httpx.Client, project_id: str) -> None:
    """Restoring ``r`` to a version while ``r/x.md`` exists is 409 and changes nothing;
    restoring both in one request, ``r/x.md`` to absent, is fine."""
    version = _save(client, project_id, "r", "old").json()["version"]
    assert client.delete(f"/file/{project_id}/r").status_code == 200
    assert _save(client, project_id, "r/x.md", "new").status_code == 200
    _assert_clash(_restore(client, project_id, {"r": version}), "r", "r/x.md")
    assert _paths(client, project_id) == ["r/x.md"]
    restored = _restore(client, project_id, {"r": version, "r/x.md": None})
    assert restored.status_code == 200, restored.text
    assert _paths(client, project_id) == ["r"]


def test_a_restore_that_clashes_within_itself_is_refused(
    client: httpx.Client, project_id: str
) -> None:
    """Two versions a restore puts back that cannot both exist: 409, nothing restored."""
    outer = _save(client, project_id, "s", "s").json()["version"]
    assert client.delete(f"/file/{project_id}/s").status_code == 200
    inner = _save(client, project_id, "s/t.md", "t").json()["version"]
    assert client.delete(f"/file/{project_id}/s/t.md").status_code == 200
    _assert_clash(_restore(client, project_id, {"s": outer, "s/t.md": inner}), "s", "s/t.md")
    assert _paths(client, project_id) == []


# -- the snapshot of whatever was accepted -------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("filesystem-clash")) as running:
        yield running


def test_every_attempted_clash_leaves_a_project_that_snapshots(stack: GitStack) -> None:
    """After every kind of clash was tried against it, the project's snapshot is 201 and
    its tree is exactly the files the filesystem accepted."""
    project = new_project()
    with httpx.Client(base_url=stack.fs.url, headers=stack.headers(), timeout=30) as client:
        assert _save(client, project, "dirclash").status_code == 200
        _assert_clash(_save(client, project, "dirclash/child.md"), "dirclash")
        _assert_clash(_batch(client, project, {"d/e.md": "e", "d": "d"}), "d", "d/e.md")
        assert _save(client, project, "n/m.md").status_code == 200
        _assert_clash(_batch(client, project, {"n": "n"}), "n", "n/m.md")
        accepted = _paths(client, project)
    response = stack.snapshot(project)
    assert response.status_code == 201, response.text
    commit = response.json()["commit"]
    listed = bare(stack.repo(project), "ls-tree", "-r", "--name-only", commit).splitlines()
    assert listed == accepted == ["dirclash", "n/m.md"]
