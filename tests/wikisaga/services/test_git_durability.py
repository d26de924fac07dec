"""What the git service answers as made is on disk, so that it survives a power loss.

A saga records its snapshot step as done when the git service answers, in a log synced
to disk; after a power loss the snapshot must still be there (DESIGN §9, invariant 2),
and a snapshot a compensation deleted must stay deleted (invariant 3). A power loss
cannot be made here, so these tests read the order of the system calls instead, with
``strace``: every file is synced before the rename that gives it its name, and the
directory holding that name is synced after the rename, before the operation returns.
Without that, a ref renamed into place can come back empty or vanish after a power loss
(git itself leaves refs out of ``core.fsync`` by default).

Each operation runs in a child process under ``strace -f`` (following git's own
processes), on a repository root of the test's own.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from strace_support import Call, require_strace, traced_python

OPERATION = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from wikisaga.services.git.repository import ProjectRepositories

    root, operation, snapshot_id = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    repositories = ProjectRepositories(root)
    if operation == "loose":  # what a writer that lost the race for main writes
        from wikisaga.services.git.objects import commit_object, write_loose
        from wikisaga.services.git.plumbing import GIT_IDENTITY

        tree = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # the empty tree
        commit = commit_object(tree, None, snapshot_id, GIT_IDENTITY, 0)
        write_loose(root / "p.git", [commit])
    elif operation == "create":
        files = {f"wiki/page-{i}.md": f"# Page {i} of {snapshot_id}\\n".encode() for i in range(5)}
        repositories.create_snapshot("p", "u", snapshot_id, "m", files)
    else:
        repositories.delete_snapshot("p", "u", snapshot_id)
    """
)


@pytest.fixture(scope="module")
def strace() -> str:
    return require_strace()


def traced(strace: str, root: Path, operation: str, snapshot_id: str) -> list[Call]:
    """The fsyncs, renames and unlinks that ``operation`` made, in order."""
    trace = root.parent / f"trace-{operation}-{snapshot_id}.txt"
    # git works from the repository (relative names): its renames are read from there.
    args = [str(root), operation, snapshot_id]
    return traced_python(strace, OPERATION, args, trace, cwd=root / "p.git")


def _index(calls: list[Call], predicate: Callable[[Call], bool]) -> list[int]:
    return [i for i, call in enumerate(calls) if predicate(call)]


def assert_synced_before_renamed(calls: list[Call], renamed: Call) -> None:
    at = calls.index(renamed)
    synced = {c.path for c in calls[:at] if c.kind == "fsync"}
    assert renamed.path in synced, f"{renamed.path} was renamed into place unsynced"


def assert_directory_synced_after(calls: list[Call], at: int, directory: Path) -> None:
    later = {c.path for c in calls[at + 1 :] if c.kind == "fsync"}
    assert str(directory) in later, f"{directory} was not synced after its change"


def ref_changes(calls: list[Call], repo: Path) -> list[int]:
    """Where a ref (under ``refs/``) was renamed into place or removed."""
    refs = str(repo / "refs") + os.sep
    return _index(
        calls,
        lambda c: (
            (c.kind == "rename" and c.target.startswith(refs))
            or (c.kind == "unlink" and c.path.startswith(refs) and not c.path.endswith(".lock"))
        ),
    )


def test_a_first_snapshot_is_on_disk_before_it_is_answered(strace: str, tmp_path: Path) -> None:
    """A project's first snapshot is made with its repository, in a directory of its own:
    every file and directory of the repository (HEAD, config, the pack and its index,
    ``main``, the tag; not the reflogs, which are never synced) is synced before the one
    rename that makes it the project's repository, and that name is synced after."""
    root = tmp_path / "git"
    calls = traced(strace, root, "create", "s1")
    repo = root / "p.git"
    [made] = [c for c in calls if c.kind == "rename" and c.target == str(repo)]
    staging = Path(made.path)
    before = {c.path for c in calls[: calls.index(made)] if c.kind == "fsync"}
    everything = [repo, *(p for p in repo.rglob("*") if p.relative_to(repo).parts[0] != "logs")]
    assert {repo / "HEAD", repo / "refs/heads/main", repo / "refs/tags/s1"} <= set(everything)
    assert [p.suffix for p in sorted((repo / "objects/pack").iterdir())] == [".idx", ".pack"]
    for path in everything:
        synced = staging / path.relative_to(repo)
        assert str(synced) in before, f"{path.relative_to(repo)} was not synced before use"
    assert_directory_synced_after(calls, calls.index(made), root)


def test_a_later_snapshot_is_on_disk_before_it_is_answered(strace: str, tmp_path: Path) -> None:
    """The second snapshot writes a pack and moves ``main`` and adds a tag: the pack and
    its index synced before they are renamed and their directory after, all of that
    before a ref names them; the refs synced before they are renamed, their directories
    after."""
    root = tmp_path / "git"
    traced(strace, root, "create", "s1")
    calls = traced(strace, root, "create", "s2")
    repo = root / "p.git"
    packs = [c for c in calls if c.kind == "rename" and "/objects/pack/" in c.target]
    assert sorted(Path(c.target).suffix for c in packs) == [".idx", ".pack"]
    for renamed in packs:
        assert_synced_before_renamed(calls, renamed)
    objects_synced = max(
        i for i, c in enumerate(calls) if c.kind == "fsync" and c.path == str(repo / "objects/pack")
    )
    assert objects_synced > max(calls.index(renamed) for renamed in packs)
    changes = ref_changes(calls, repo)
    assert sorted(calls[i].target for i in changes) == [
        str(repo / "refs/heads/main"),
        str(repo / "refs/tags/s2"),
    ]
    assert objects_synced < min(changes), "a ref named objects not yet on disk"
    for i in changes:
        assert_synced_before_renamed(calls, calls[i])
    for directory in ("refs/heads", "refs/tags"):
        assert_directory_synced_after(calls, max(changes), repo / directory)


def test_a_deleted_snapshot_stays_deleted(strace: str, tmp_path: Path) -> None:
    """Deleting the head snapshot (the compensation, through ``git update-ref``): git
    syncs each ref it writes, ``main`` moved back and the deleted id's ref, before
    renaming it, and the service syncs the directories of every ref changed, the tag's
    removal included, before it answers."""
    root = tmp_path / "git"
    traced(strace, root, "create", "s1")
    traced(strace, root, "create", "s2")
    calls = traced(strace, root, "delete", "s2")
    repo = root / "p.git"
    changes = ref_changes(calls, repo)
    renamed = sorted(calls[i].target for i in changes if calls[i].kind == "rename")
    assert renamed == [str(repo / "refs/heads/main"), str(repo / "refs/wikisaga/deleted/s2")]
    assert [calls[i].path for i in changes if calls[i].kind == "unlink"] == [
        str(repo / "refs/tags/s2")
    ]
    for i in changes:
        if calls[i].kind == "rename":
            assert_synced_before_renamed(calls, calls[i])
    for directory in ("refs/heads", "refs/tags", "refs/wikisaga/deleted"):
        assert_directory_synced_after(calls, max(changes), repo / directory)


def test_a_loose_commit_is_on_disk_before_a_ref_can_name_it(strace: str, tmp_path: Path) -> None:
    """The commit a writer that lost the race writes alone, as a loose object, is synced
    with its name before the ref that names it (synced too) is written."""
    root = tmp_path / "git"
    traced(strace, root, "create", "s1")
    calls = traced(strace, root, "loose", "again")
    objects = root / "p.git" / "objects"
    [renamed] = [c for c in calls if c.kind == "rename" and c.target.startswith(str(objects))]
    assert_synced_before_renamed(calls, renamed)
    assert_directory_synced_after(calls, calls.index(renamed), Path(renamed.target).parent)
