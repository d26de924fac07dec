"""Every published snapshot is a repository git accepts everywhere.

Paths git refuses to check out (``git~1/x.md``, ``GIT~1/hooks/post-checkout``) or that
``git fsck`` checks (a ``.gitmodules`` with ``url = --upload-pack=...``) were stored and
snapshotted, after which ``git clone`` exited 128 or ``git fsck`` failed. They are refused
at the filesystem with 400 ``invalid_path``, so they never reach a snapshot; and a snapshot
of every tricky path that is accepted clones with ``transfer.fsckObjects`` and HFS+/NTFS
protection on, and passes ``git fsck --full --strict``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from git_fixtures import OWNER, TOKEN, GitStack, bare, git, new_project, start_stack

HOSTILE_GIT_PATHS = [
    ".git/config",
    ".GIT/HEAD",
    "wiki/.Git/hooks/post-checkout",
    "git~1/x.md",
    "GIT~1/hooks/post-checkout",
    "wiki/Git~1/config",
    ".git./x.md",
    ".git /x.md",
    ".git::$INDEX_ALLOCATION/x.md",
    "git~1::$INDEX_ALLOCATION/x.md",
    ".g\u200cit/x.md",
    ".gi\u200dt/hooks/pre-commit",
    "\ufeff.git/x.md",
    ".git\u200e/x.md",
    ".gitmodules",
    "wiki/.gitmodules",
    ".GITMODULES",
    ".gitmodules/x.md",
    "gitmod~1",
    "GITMOD~2",
    "gi7eba~1",
    ".gitattributes",
    "sub/.gitattributes",
    "gitatt~1",
    "gi7d29~1",
    ".gitignore",
    "docs/.gitignore",
    "gitign~1",
    "gi250a~1",
    ".mailmap",
    ".MailMap",
    "mailma~1",
    "maba30~1",
    ".mail\u200cmap",
]

TRICKY_VALID_PATHS = [
    ".gitkeep",
    ".github/workflows/ci.md",
    ".gitlab-ci.md",
    "git/x.md",
    "GIT/y.md",
    "git~2/x.md",
    "git~10/x.md",
    "gitmod~5.md",
    "gi7eba~0.md",
    "x.git/inside.md",
    "a.gitignore",
    "gitmodules.md",
    "~1/z.md",
    "..hidden/dot-dot-prefix.md",
    "a..b.md",
    "-leading-dash.md",
    "#hash;semi$dollar.md",
    "brackets[1]{2}(3).md",
    "quote's & more!.md",
    "+plus=eq,comma@at.md",
    "~tilde/v1.2~draft.md",
    "name with spaces.md",
    "CON/aux.md",
    "nul.md",
    "wiki/Zürich café.md",
    "日本語/ページ.md",
    "한국어/문서.md",
    "عربي/ملف.md",
    "e\u0301cole.md",
    "/".join(f"d{i}" for i in range(15)) + "/deep.md",
    "s" * 252 + ".md",
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("git-safe-paths")) as running:
        yield running


def _post(stack: GitStack, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{stack.fs.url}{path}", json=body, headers=stack.headers(), timeout=30)


def _assert_invalid_path(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["field"]) == ("invalid_path", "file_path")


def _registry_status(stack: GitStack, project: str) -> int:
    return httpx.get(
        f"{stack.fs.url}/projects/{project}", headers={"X-INTERNAL-TOKEN": TOKEN}
    ).status_code


def clone_strictly(stack: GitStack, project: str, protocol: str = "2") -> Path:
    """Clone with every object checked and HFS+ and NTFS protection on; the clone dir."""
    dest = stack.work_dir / f"strict-{new_project()}"
    git(
        "-c",
        f"protocol.version={protocol}",
        "-c",
        "transfer.fsckObjects=true",
        "-c",
        "core.protectHFS=true",
        "-c",
        "core.protectNTFS=true",
        "-c",
        f"http.extraHeader=X-INTERNAL-TOKEN: {TOKEN}",
        "-c",
        f"http.extraHeader=X-User-ID: {OWNER}",
        "clone",
        "--quiet",
        f"{stack.url}/git/{project}.git",
        dest,
    )
    return dest


@pytest.mark.parametrize("path", HOSTILE_GIT_PATHS, ids=ascii)
def test_a_path_git_reserves_is_refused_by_every_write_and_read(stack: GitStack, path: str) -> None:
    """save_file, batch (save and delete), restore, file reads and deletes all answer 400
    invalid_path, and the project stays unclaimed and empty."""
    project = new_project()
    _assert_invalid_path(
        _post(stack, "/save_file", {"project_id": project, "file_path": path, "content": "x"})
    )
    _assert_invalid_path(
        _post(
            stack,
            "/batch",
            {"project_id": project, "save": [{"file_path": path, "content": "x"}]},
        )
    )
    _assert_invalid_path(_post(stack, "/batch", {"project_id": project, "delete": [path]}))
    _assert_invalid_path(
        _post(
            stack,
            "/restore",
            {"project_id": project, "files": [{"path": path, "version": None}]},
        )
    )
    for method in ("GET", "DELETE"):
        response = httpx.request(
            method, f"{stack.fs.url}/file/{project}/{path}", headers=stack.headers(), timeout=30
        )
        assert response.status_code == 400, (method, response.text)
    assert _registry_status(stack, project) == 404


def test_a_gitmodules_with_a_hostile_url_is_never_published(stack: GitStack) -> None:
    """The .gitmodules that made git fsck fail (gitmodulesUrl) is refused with 400; the
    project's snapshot holds only the other files and passes fsck --strict."""
    project = new_project()
    stack.save_files(project, {"index.md": "# Index\n"})
    hostile = '[submodule "x"]\n\tpath = x\n\turl = --upload-pack=touch /tmp/pwned\n'
    _assert_invalid_path(
        _post(
            stack,
            "/save_file",
            {"project_id": project, "file_path": ".gitmodules", "content": hostile},
        )
    )
    created = stack.snapshot(project)
    assert created.status_code == 201, created.text
    bare(stack.repo(project), "fsck", "--full", "--strict")
    assert sorted(p.name for p in clone_strictly(stack, project).iterdir()) == [
        ".git",
        "index.md",
    ]


@pytest.mark.parametrize("protocol", ["0", "2"])
def test_a_snapshot_of_every_tricky_but_valid_path_clones_strictly(
    stack: GitStack, protocol: str
) -> None:
    """Every tricky path the rule accepts is saved, snapshotted, cloned with
    transfer.fsckObjects and HFS+/NTFS protection, and checked out byte for byte; the
    service's repository and the clone pass git fsck --full --strict."""
    project = new_project()
    files = {path: f"content of {path}\n" for path in TRICKY_VALID_PATHS}
    stack.save_files(project, files)
    created = stack.snapshot(project)
    assert created.status_code == 201, created.text
    repo = stack.repo(project)
    bare(repo, "fsck", "--full", "--strict")
    clone = clone_strictly(stack, project, protocol)
    bare(clone / ".git", "fsck", "--full", "--strict")
    checked_out = {
        path.relative_to(clone).as_posix(): path.read_text(encoding="utf-8")
        for path in clone.rglob("*")
        if path.is_file() and path.relative_to(clone).parts[0] != ".git"
    }
    assert checked_out == {unicodedata.normalize("NFC", p): c for p, c in files.items()}
