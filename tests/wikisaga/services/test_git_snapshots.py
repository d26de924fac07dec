"""The git service's snapshot API against real service processes and real git."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from git_fixtures import (
    ISO_SECONDS,
    OWNER,
    TOKEN,
    GitStack,
    bare,
    new_project,
    start_stack,
    tree_files,
    wiki_files,
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitStack]:
    with start_stack(tmp_path_factory.mktemp("git-snapshots")) as running:
        yield running


def _as_bytes(files: dict[str, str]) -> dict[str, bytes]:
    return {path: content.encode("utf-8") for path, content in files.items()}


# -- the guide's shapes ------------------------------------------------------------------


def test_post_snapshot_takes_the_guides_body_and_answers_the_guides_fields(
    stack: GitStack,
) -> None:
    """POST /snapshot with {user_id, message} answers 201 {snapshot_id, project_id,
    created_at (ISO, Z)} plus the commit id; the server picks a snap-<uuid> id."""
    project = new_project()
    stack.save_files(project, {"wiki/document.md": "# Document\n"})
    response = stack.snapshot(project, "Auto-generated wiki with 1 files and 0 relationships.")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"snapshot_id", "project_id", "created_at", "commit"}
    assert re.fullmatch(r"snap-[0-9a-f-]{36}", body["snapshot_id"])
    assert body["project_id"] == project
    assert re.fullmatch(ISO_SECONDS, body["created_at"])
    assert body["commit"] == bare(
        stack.repo(project), "rev-parse", f"refs/tags/{body['snapshot_id']}"
    )


def test_delete_snapshot_answers_the_guides_status_success(stack: GitStack) -> None:
    """DELETE /snapshot/{project}/{snapshot} answers exactly {"status": "success"}."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    created = stack.snapshot(project, snapshot_id="snap-789").json()
    response = stack.delete(project, created["snapshot_id"])
    assert response.status_code == 200
    assert response.json() == {"status": "success"}


# -- idempotency -------------------------------------------------------------------------


def test_repeating_a_snapshot_id_returns_the_first_snapshot_and_creates_nothing(
    stack: GitStack,
) -> None:
    """A repeat with the same id and message answers 200 with the same commit and
    created_at, even after the files and the clock moved on; no commit or tag is added."""
    project = new_project()
    stack.save_files(project, {"a.md": "first"})
    first = stack.snapshot(project, "msg", snapshot_id="snap-once")
    assert first.status_code == 201
    stack.save_files(project, {"a.md": "changed"})
    time.sleep(1.1)
    again = stack.snapshot(project, "msg", snapshot_id="snap-once")
    assert again.status_code == 200
    assert again.json() == first.json()
    repo = stack.repo(project)
    assert bare(repo, "rev-list", "--count", "main") == "1"
    assert bare(repo, "tag", "-l") == "snap-once"


def test_same_snapshot_id_with_another_message_is_a_409_conflict(stack: GitStack) -> None:
    """Reusing an id for a different message is refused with JSON 409 and changes nothing."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    first = stack.snapshot(project, "one", snapshot_id="snap-x").json()
    response = stack.snapshot(project, "two", snapshot_id="snap-x")
    assert response.status_code == 409
    assert response.json()["error"] == "snapshot_conflict"
    assert bare(stack.repo(project), "rev-parse", "main") == first["commit"]


def test_a_deleted_snapshot_id_cannot_be_created_again(stack: GitStack) -> None:
    """A create that arrives after its compensating delete is refused (409), so a late
    retry cannot resurrect a snapshot whose saga was rolled back."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    assert stack.delete(project, "snap-late").status_code == 200
    response = stack.snapshot(project, snapshot_id="snap-late")
    assert response.status_code == 409
    assert response.json()["error"] == "snapshot_deleted"
    assert bare(stack.repo(project), "tag", "-l") == ""


# -- contents ----------------------------------------------------------------------------


def test_a_fresh_clone_of_a_snapshot_holds_exactly_the_saved_bytes(stack: GitStack) -> None:
    """45 saved files (one non-ASCII path, CRLF content) come back byte for byte from
    git clone, and git fsck --full finds nothing wrong in the clone or the bare repo."""
    project = new_project()
    files = wiki_files(45)
    stack.save_files(project, files)
    response = stack.snapshot(project)
    assert response.status_code == 201
    clone = stack.clone(project)
    assert tree_files(clone) == _as_bytes(files)
    assert bare(clone / ".git", "rev-parse", "HEAD") == response.json()["commit"]
    bare(clone / ".git", "fsck", "--full", "--strict")
    bare(stack.repo(project), "fsck", "--full", "--strict")


def test_a_snapshot_tree_drops_files_deleted_since_the_last_one(stack: GitStack) -> None:
    """The commit's tree equals the current files: a deleted file is not carried over."""
    project = new_project()
    stack.save_files(project, {"keep.md": "k", "gone.md": "g"})
    stack.snapshot(project, snapshot_id="s1")
    stack.delete_file(project, "gone.md")
    commit = stack.snapshot(project, snapshot_id="s2").json()["commit"]
    listed = bare(stack.repo(project), "ls-tree", "-r", "--name-only", commit)
    assert listed.splitlines() == ["keep.md"]


def test_a_snapshot_of_unchanged_files_is_still_a_new_commit(stack: GitStack) -> None:
    """A snapshot is an event: equal trees still give a new commit whose parent is the
    previous snapshot."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    first = stack.snapshot(project, snapshot_id="s1").json()
    second = stack.snapshot(project, snapshot_id="s2").json()
    repo = stack.repo(project)
    assert second["commit"] != first["commit"]
    assert bare(repo, "rev-parse", f"{second['commit']}^") == first["commit"]
    assert bare(repo, "rev-parse", f"{first['commit']}^{{tree}}") == bare(
        repo, "rev-parse", f"{second['commit']}^{{tree}}"
    )


def test_a_project_the_filesystem_never_saw_is_not_snapshotted(
    stack: GitStack,
) -> None:
    """Nobody owns a project the filesystem never saw: a snapshot of it is 404 and creates
    no repository, so it cannot claim the project."""
    project = new_project()
    response = stack.snapshot(project, snapshot_id="empty")
    assert response.status_code == 404
    assert not stack.repo(project).exists()


def test_get_snapshot_returns_message_commit_and_sorted_file_paths(stack: GitStack) -> None:
    """GET /snapshot/{project}/{id} gives the exact message (whitespace kept) and paths."""
    project = new_project()
    stack.save_files(project, {"b/2.md": "2", "a.md": "1"})
    message = "Line one\n\n  indented, trailing spaces  \n"
    created = stack.snapshot(project, message, snapshot_id="s1").json()
    response = stack.get(f"/snapshot/{project}/s1")
    assert response.status_code == 200
    assert response.json() == {
        "snapshot_id": "s1",
        "project_id": project,
        "commit": created["commit"],
        "message": message,
        "created_at": created["created_at"],
        "files": ["a.md", "b/2.md"],
    }


def test_list_snapshots_is_newest_first(stack: GitStack) -> None:
    """GET /snapshots/{project} lists every snapshot, newest first, within one second too."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    ids = [f"s{i}" for i in range(4)]
    for snapshot_id in ids:
        assert (
            stack.snapshot(project, f"m {snapshot_id}", snapshot_id=snapshot_id).status_code == 201
        )
    response = stack.get(f"/snapshots/{project}")
    assert response.status_code == 200
    listed = response.json()
    assert listed["project_id"] == project
    assert [s["snapshot_id"] for s in listed["snapshots"]] == ids[::-1]
    assert [s["message"] for s in listed["snapshots"]] == [f"m {i}" for i in ids[::-1]]


def test_reading_a_missing_snapshot_or_project_is_404(stack: GitStack) -> None:
    """Unknown snapshot and never-snapshotted project both answer JSON 404."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    stack.snapshot(project, snapshot_id="s1")
    missing_snapshot = stack.get(f"/snapshot/{project}/nope")
    assert missing_snapshot.status_code == 404
    assert missing_snapshot.json()["error"] == "snapshot_not_found"
    missing_project = stack.get(f"/snapshots/{new_project()}")
    assert missing_project.status_code == 404
    assert missing_project.json()["error"] == "project_not_found"


# -- deleting ----------------------------------------------------------------------------


def test_deleting_the_head_snapshot_moves_main_back_to_its_parent(stack: GitStack) -> None:
    """The tag goes and main points at the parent, in the bare repo and in a fresh clone,
    whose files are the previous snapshot's."""
    project = new_project()
    old_files = wiki_files(5, generation="1")
    stack.save_files(project, old_files)
    first = stack.snapshot(project, snapshot_id="gen-1").json()
    stack.save_files(project, wiki_files(5, generation="2"))
    stack.snapshot(project, snapshot_id="gen-2")
    assert stack.delete(project, "gen-2").json() == {"status": "success"}
    repo = stack.repo(project)
    assert bare(repo, "tag", "-l") == "gen-1"
    assert bare(repo, "rev-parse", "main") == first["commit"]
    clone = stack.clone(project)
    assert bare(clone / ".git", "rev-parse", "HEAD") == first["commit"]
    assert git_tags(clone) == ["gen-1"]
    assert tree_files(clone) == _as_bytes(old_files)
    bare(repo, "fsck", "--full", "--strict")


def test_deleting_the_only_snapshot_removes_main(stack: GitStack) -> None:
    """Deleting the root commit's snapshot leaves no main and no tag, and lists nothing."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    stack.snapshot(project, snapshot_id="only")
    assert stack.delete(project, "only").status_code == 200
    repo = stack.repo(project)
    assert bare(repo, "tag", "-l") == ""
    assert bare(repo, "for-each-ref", "refs/heads/") == ""
    assert stack.get(f"/snapshots/{project}").json()["snapshots"] == []


def test_deleting_an_older_snapshot_removes_only_its_tag(stack: GitStack) -> None:
    """History is never rewritten: main and every commit stay, only the tag goes."""
    project = new_project()
    commits = []
    for generation in "123":
        stack.save_files(project, {"a.md": generation})
        commits.append(stack.snapshot(project, snapshot_id=f"gen-{generation}").json()["commit"])
    repo = stack.repo(project)
    assert stack.delete(project, "gen-2").status_code == 200
    assert bare(repo, "tag", "-l").split() == ["gen-1", "gen-3"]
    assert bare(repo, "rev-list", "main").split() == commits[::-1]
    clone = stack.clone(project)
    assert bare(clone / ".git", "rev-list", "HEAD").split() == commits[::-1]
    assert git_tags(clone) == ["gen-1", "gen-3"]
    ids = [s["snapshot_id"] for s in stack.get(f"/snapshots/{project}").json()["snapshots"]]
    assert ids == ["gen-3", "gen-1"]


def test_deleting_an_absent_snapshot_succeeds_and_changes_no_history(stack: GitStack) -> None:
    """The compensation is idempotent: deleting an absent id (twice) succeeds and leaves
    main and the other tags alone; deleting a snapshot twice succeeds both times."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    head = stack.snapshot(project, snapshot_id="s1").json()["commit"]
    repo = stack.repo(project)
    for _ in range(2):
        response = stack.delete(project, "never-made")
        assert response.status_code == 200
        assert response.json() == {"status": "success"}
        assert bare(repo, "rev-parse", "main") == head
        assert bare(repo, "tag", "-l") == "s1"
    for _ in range(2):
        assert stack.delete(project, "s1").json() == {"status": "success"}


def test_deleting_in_a_never_snapshotted_project_succeeds(stack: GitStack) -> None:
    """A compensation that runs before its snapshot was ever made succeeds, and the id is
    then refused, so the late create cannot leave an orphan snapshot."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    assert stack.delete(project, "snap-early").json() == {"status": "success"}
    assert stack.snapshot(project, snapshot_id="snap-early").status_code == 409
    assert stack.snapshot(project, snapshot_id="snap-other").status_code == 201


# -- refused input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "snapshot_id",
    [
        "..",
        "a..b",
        "x.lock",
        "ends.",
        "-starts-with-dash",
        "has/slash",
        "has space",
        "é",
        "a" * 129,
    ],
)
def test_bad_snapshot_ids_in_the_body_are_refused_and_write_nothing(
    stack: GitStack, snapshot_id: str
) -> None:
    """Ids git could not use as a tag name answer 4xx JSON before anything is created."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    response = stack.snapshot(project, snapshot_id=snapshot_id)
    assert response.status_code in (400, 422), response.text
    assert {"error", "detail"} <= set(response.json())
    assert not stack.repo(project).exists()


@pytest.mark.parametrize("snapshot_id", ["a..b", "x.lock", "ends.", "-dash", "a" * 129, "%2e%2e"])
def test_bad_snapshot_ids_in_the_path_are_400(stack: GitStack, snapshot_id: str) -> None:
    """GET and DELETE refuse ids that are not snapshot ids with 400 invalid_snapshot_id."""
    project = new_project()
    for method in ("GET", "DELETE"):
        response = stack_request(stack, method, f"/snapshot/{project}/{snapshot_id}")
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_snapshot_id"
    assert not stack.repo(project).exists()


@pytest.mark.parametrize("project_id", ["a..b", ".hidden", "-dash", "a" * 129, "sp ace", "ü"])
def test_bad_project_ids_are_400_and_create_no_repository(stack: GitStack, project_id: str) -> None:
    """Every endpoint refuses a bad project id with 400 invalid_path and writes nothing."""
    before = sorted(p.name for p in (stack.data_dir / "git").iterdir())
    for method, path in (
        ("POST", f"/snapshot/{project_id}"),
        ("GET", f"/snapshots/{project_id}"),
        ("GET", f"/snapshot/{project_id}/s1"),
        ("DELETE", f"/snapshot/{project_id}/s1"),
        ("GET", f"/git/{project_id}.git/info/refs?service=git-upload-pack"),
    ):
        response = stack_request(stack, method, path, json={"user_id": OWNER, "message": "m"})
        assert response.status_code == 400, (method, path, response.text)
        assert response.json()["error"] == "invalid_path"
    assert sorted(p.name for p in (stack.data_dir / "git").iterdir()) == before


def test_body_user_and_header_user_must_agree(stack: GitStack) -> None:
    """X-User-ID naming someone else than the body's user_id is refused with 400."""
    project = new_project()
    stack.save_files(project, {"a.md": "a"})
    response = stack.snapshot(project, headers=stack.headers("mallory"))
    assert response.status_code == 400
    assert response.json()["error"] == "user_mismatch"
    assert not stack.repo(project).exists()


@pytest.mark.parametrize("user", ["Zoë", "José", "Zoë ☕", "山田"])
def test_a_non_ascii_user_is_the_same_user_at_every_service(stack: GitStack, user: str) -> None:
    """X-User-ID is UTF-8 on the wire: a user outside ASCII who wrote files through the
    filesystem service snapshots them as the same user, and owns the repository."""
    project = new_project()
    saved = httpx.post(
        f"{stack.fs.url}/save_file",
        json={"project_id": project, "file_path": "a.md", "content": "a"},
        headers={"X-INTERNAL-TOKEN": TOKEN, "X-User-ID": user.encode("utf-8")},
    )
    assert saved.status_code == 200, saved.text
    created = stack.snapshot(project, user=user, headers={"X-INTERNAL-TOKEN": TOKEN})
    assert created.status_code == 201, created.text
    registry = httpx.get(f"{stack.fs.url}/projects/{project}", headers={"X-INTERNAL-TOKEN": TOKEN})
    assert registry.json()["owner"] == user


def test_a_user_id_that_is_not_utf_8_is_refused_not_guessed(stack: GitStack) -> None:
    """Latin-1 bytes for "José" would once have been a different user ("JosÃ©" and "José"
    were two people); they are now refused with 400, and nothing is written."""
    project = new_project()
    refused = httpx.post(
        f"{stack.fs.url}/save_file",
        json={"project_id": project, "file_path": "a.md", "content": "a"},
        headers={"X-INTERNAL-TOKEN": TOKEN, "X-User-ID": "José".encode("latin-1")},
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_user_id"
    assert "UTF-8" in refused.json()["detail"]
    listed = httpx.get(
        f"{stack.fs.url}/files/{project}",
        headers={"X-INTERNAL-TOKEN": TOKEN, "X-User-ID": "José".encode()},
    )
    assert listed.json()["files"] == []


def test_a_message_with_nul_is_refused(stack: GitStack) -> None:
    """Git cannot store NUL in a commit message, so the body is refused with 422."""
    project = new_project()
    response = stack.snapshot(project, "bad\0message")
    assert response.status_code == 422
    assert not stack.repo(project).exists()


# -- helpers -----------------------------------------------------------------------------


def stack_request(stack: GitStack, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(
        method, f"{stack.url}{path}", headers=stack.headers(), timeout=30, **kwargs
    )


def git_tags(clone: Path) -> list[str]:
    return bare(clone / ".git", "tag", "-l").split()
