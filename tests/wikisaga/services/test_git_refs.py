"""Refs read (and changed) in this process exactly as git's files backend has them,
checked against the real git CLI."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest
from git_fixtures import bare, git, run_git

from wikisaga.services.git import refs
from wikisaga.services.git.objects import commit_object, write_loose
from wikisaga.services.git.plumbing import GIT_IDENTITY, Git
from wikisaga.services.git.repository import (
    ProjectRepositories,
    SnapshotConflict,
    SnapshotDeleted,
)


def git_value(repo: Path, name: str) -> str | None:
    """What ``git rev-parse --verify`` says ``name`` names, ``None`` if nothing."""
    done = run_git(f"--git-dir={repo}", "rev-parse", "--verify", "--quiet", name)
    return done.stdout.strip() if done.returncode == 0 else None


@pytest.fixture
def repositories(tmp_path: Path) -> ProjectRepositories:
    return ProjectRepositories(tmp_path / "git")


def snapshots(repositories: ProjectRepositories, count: int) -> Path:
    """A project ``p`` with ``count`` snapshots ``s0``..., and one deleted id ``gone``."""
    for i in range(count):
        repositories.create_snapshot("p", "u", f"s{i}", "m", {"a.md": b"%d" % i})
    repositories.delete_snapshot("p", "u", "gone")
    return repositories.path("p")


NAMES = [
    "refs/heads/main",
    "refs/tags/s0",
    "refs/tags/s1",
    "refs/tags/s2",
    "refs/tags/absent",
    "refs/wikisaga/deleted/gone",
    "refs/wikisaga/deleted/s0",
    "HEAD",
]


def assert_reads_as_git(repo: Path, names: list[str]) -> None:
    read = refs.read(repo, names)
    assert read == {name: git_value(repo, name) for name in names}


def test_loose_refs_read_as_git_reads_them(repositories: ProjectRepositories) -> None:
    """Loose refs, an absent ref and HEAD (a symbolic ref) read as git rev-parse has them."""
    repo = snapshots(repositories, 3)
    assert (repo / "refs" / "tags" / "s1").is_file()
    assert_reads_as_git(repo, NAMES)
    assert refs.read(repo, ["refs/tags/absent"]) == {"refs/tags/absent": None}


def test_packed_refs_read_as_git_reads_them(repositories: ProjectRepositories) -> None:
    """After git pack-refs --all there are no loose refs; packed-refs (with its header
    and an annotated tag's peeled line) gives the same values as git rev-parse."""
    repo = snapshots(repositories, 3)
    identity = ("-c", "user.name=t", "-c", "user.email=t@localhost")
    bare(repo, *identity, "tag", "-a", "-m", "annotated", "annotated", "refs/tags/s1")
    bare(repo, "pack-refs", "--all")
    assert not (repo / "refs" / "tags" / "s1").exists()
    packed = (repo / "packed-refs").read_text()
    assert packed.startswith("# pack-refs with:")
    assert "\n^" in packed
    assert_reads_as_git(repo, [*NAMES, "refs/tags/annotated"])


def test_a_loose_ref_over_a_packed_one_wins(repositories: ProjectRepositories) -> None:
    """A ref updated after it was packed has a loose file that git reads first; so do we."""
    repo = snapshots(repositories, 3)
    bare(repo, "pack-refs", "--all")
    s0 = bare(repo, "rev-parse", "refs/tags/s0")
    bare(repo, "update-ref", "refs/heads/main", s0)
    assert (repo / "refs" / "heads" / "main").is_file()
    assert s0 in (repo / "packed-refs").read_text()
    assert refs.read(repo, ["refs/heads/main"]) == {"refs/heads/main": s0}
    assert_reads_as_git(repo, NAMES)


def test_symbolic_refs_are_followed(repositories: ProjectRepositories) -> None:
    """A symbolic ref (git symbolic-ref), and one naming it, read as their target does;
    one naming an absent ref reads as absent."""
    repo = snapshots(repositories, 2)
    bare(repo, "symbolic-ref", "refs/heads/alias", "refs/heads/main")
    bare(repo, "symbolic-ref", "refs/heads/alias2", "refs/heads/alias")
    bare(repo, "symbolic-ref", "refs/heads/dangling", "refs/heads/nothing")
    names = ["refs/heads/alias", "refs/heads/alias2", "refs/heads/dangling"]
    assert_reads_as_git(repo, names)
    assert refs.read(repo, names)["refs/heads/alias2"] == bare(repo, "rev-parse", "main")


def test_a_missing_repository_has_no_refs(tmp_path: Path) -> None:
    """A repository that does not exist (or is not one) reads as no refs at all."""
    assert refs.read(tmp_path / "none.git", ["refs/heads/main", "HEAD"]) == {
        "refs/heads/main": None,
        "HEAD": None,
    }


def test_a_broken_ref_is_left_to_git(repositories: ProjectRepositories) -> None:
    """A loose ref file git would not read as a ref is not guessed at: NotHandled."""
    repo = snapshots(repositories, 1)
    (repo / "refs" / "tags" / "broken").write_text("not an id\n")
    with pytest.raises(refs.NotHandled):
        refs.read(repo, ["refs/tags/broken"])


def test_snapshots_still_check_ids_against_packed_refs(
    repositories: ProjectRepositories,
) -> None:
    """With every ref packed, a repeat is found (through git, for its commit), a
    conflicting message and a deleted id are refused, and a new snapshot lands on the
    packed main: the refs read in this process are the ones git has."""
    repo = snapshots(repositories, 2)
    bare(repo, "pack-refs", "--all")
    head = bare(repo, "rev-parse", "main")
    again, created = repositories.create_snapshot("p", "u", "s1", "m", {"a.md": b"x"})
    assert not created
    assert again.commit == head
    with pytest.raises(SnapshotConflict):
        repositories.create_snapshot("p", "u", "s1", "other", {"a.md": b"x"})
    with pytest.raises(SnapshotDeleted):
        repositories.create_snapshot("p", "u", "gone", "m", {"a.md": b"x"})
    new, created = repositories.create_snapshot("p", "u", "s9", "m", {"a.md": b"9"})
    assert created
    assert bare(repo, "rev-parse", "main^") == head
    assert bare(repo, "rev-parse", "refs/tags/s9") == new.commit
    bare(repo, "fsck", "--full", "--strict")


# -- changing: one transaction, exactly as git update-ref --stdin makes it ------------------


def snapshot_of_refs(repo: Path) -> dict[str, str]:
    """Every directory and ref-related file (HEAD, packed-refs, refs/, logs/) and lock,
    the seconds of reflog times blanked out (not their zone): what a ref transaction may
    change."""
    state: dict[str, str] = {}
    for path in sorted([repo / "HEAD", repo / "packed-refs", *repo.rglob("*")]):
        name = path.relative_to(repo).as_posix()
        kept = name in ("HEAD", "packed-refs") or name.startswith(("refs", "logs"))
        if not kept and not name.endswith(".lock"):
            continue
        if path.is_dir():
            state[name + "/"] = ""
        elif path.exists():
            state[name] = re.sub(r"> \d+ ", "> TIME ", path.read_text())
    return state


def twins(tmp_path: Path, setup: str) -> tuple[Path, Path, str | None, str]:
    """Two identical copies of one repository and a new commit in both; the head the
    commit is made on, and the commit."""
    repositories = ProjectRepositories(tmp_path / "made")
    if setup == "first":
        repositories.delete_snapshot("p", "u", "gone")  # an empty repository
    else:
        snapshots(repositories, 2)
    made = repositories.path("p")
    if setup == "packed":
        bare(made, "pack-refs", "--all")
    head = refs.read(made, ["refs/heads/main"])["refs/heads/main"]
    ours, theirs = tmp_path / "ours.git", tmp_path / "theirs.git"
    for copy in (ours, theirs):
        shutil.copytree(made, copy, symlinks=True)
    tree = bare(made, "hash-object", "-t", "tree", "/dev/null")
    commit = commit_object(tree, head, "next", GIT_IDENTITY, 1_800_000_000)
    for copy in (ours, theirs):
        write_loose(copy, [commit])
    return ours, theirs, head, commit.oid


def snapshot_updates(head: str | None, commit: str, tag: str = "new") -> list[refs.RefUpdate]:
    return [
        refs.RefUpdate("refs/heads/main", head, commit),
        refs.RefUpdate(f"refs/tags/{tag}", None, commit),
        refs.RefUpdate(f"refs/wikisaga/deleted/{tag}", None),
    ]


def update_ref_commands(updates: list[refs.RefUpdate]) -> list[str]:
    """The same transaction as ``git update-ref --stdin`` lines."""
    zero = "0" * 40
    commands = []
    for u in updates:
        if u.new is None:
            commands.append(f"verify {u.name} {u.old or zero}")
        else:
            commands.append(f"update {u.name} {u.new} {u.old or zero}")
    return commands


def assert_same_as_git(ours: Path, theirs: Path) -> None:
    assert snapshot_of_refs(ours) == snapshot_of_refs(theirs)
    for args in (
        ("for-each-ref",),
        ("reflog", "show", "main"),
        ("reflog", "show", "HEAD"),
        ("log", "--format=%H %P", "main"),
    ):
        assert bare(ours, *args) == bare(theirs, *args), args
    bare(ours, "fsck", "--full", "--strict")


@pytest.mark.parametrize("setup", ["loose", "packed", "first"])
def test_a_transaction_leaves_what_git_update_ref_leaves(tmp_path: Path, setup: str) -> None:
    """Moving main, creating a tag and checking a deleted-id ref is absent leaves the same
    ref files, reflogs (main's, the tag's, HEAD's, in git's line format), directories and
    no lock, as git update-ref --stdin does in a twin repository: with loose refs, with
    every ref packed, and for a project's first commit; git fsck --strict passes."""
    ours, theirs, head, commit = twins(tmp_path, setup)
    updates = snapshot_updates(head, commit)
    assert refs.update(ours, updates, GIT_IDENTITY)
    assert Git().update_refs(theirs, update_ref_commands(updates))
    assert_same_as_git(ours, theirs)
    assert bare(ours, "rev-parse", "main", "refs/tags/new").split() == [commit, commit]
    line = (ours / "logs" / "refs" / "heads" / "main").read_text().splitlines()[-1]
    assert re.fullmatch(
        rf"{head or '0' * 40} {commit} {re.escape(GIT_IDENTITY)} \d+ [+-]\d{{4}}", line
    )


def test_reflog_times_carry_the_local_zone_as_git_writes_it(tmp_path: Path) -> None:
    """In a zone 5:45 east of UTC (a POSIX TZ, no tz database needed) the reflog lines
    end in +0545, as git update-ref writes them in the same zone."""
    ours, theirs, head, commit = twins(tmp_path, "loose")
    updates = snapshot_updates(head, commit)
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "WIK-5:45"
    time.tzset()
    try:
        assert refs.update(ours, updates, GIT_IDENTITY)
        assert Git().update_refs(theirs, update_ref_commands(updates))
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
    assert_same_as_git(ours, theirs)
    assert (ours / "logs" / "HEAD").read_text().splitlines()[-1].endswith(" +0545")


def test_the_result_clones(tmp_path: Path) -> None:
    """A clone of a repository whose refs were changed in process checks out the commit
    main names and has every tag."""
    ours, _, head, commit = twins(tmp_path, "packed")
    assert refs.update(ours, snapshot_updates(head, commit), GIT_IDENTITY)
    clone = tmp_path / "clone"
    git("clone", "--quiet", ours, clone)
    assert bare(clone / ".git", "rev-parse", "HEAD") == commit
    assert bare(clone / ".git", "tag", "-l").split() == ["new", "s0", "s1"]


@pytest.mark.parametrize("refused", ["stale head", "tag exists", "id deleted"])
def test_a_failed_compare_and_swap_changes_nothing_as_in_git(tmp_path: Path, refused: str) -> None:
    """A stale old value of main, an existing tag or an existing deleted-id ref fail the
    transaction in process as in git, and leave every ref, reflog and directory as it was
    (no lock either)."""
    ours, theirs, head, commit = twins(tmp_path, "loose")
    tag = {"tag exists": "s0", "id deleted": "gone"}.get(refused, "new")
    stale = bare(ours, "rev-parse", "refs/tags/s0") if refused == "stale head" else head
    updates = snapshot_updates(stale, commit, tag)
    before = snapshot_of_refs(ours)
    assert not refs.update(ours, updates, GIT_IDENTITY)
    assert not Git().update_refs(theirs, update_ref_commands(updates))
    assert snapshot_of_refs(ours) == before
    assert_same_as_git(ours, theirs)


def test_a_held_lock_fails_the_transaction_and_is_not_broken(tmp_path: Path) -> None:
    """A <ref>.lock another process holds (as a running git does) makes the transaction
    fail after git's lock timeout, changing nothing and leaving that lock alone; git
    update-ref fails the same way; once the lock is gone the transaction goes through."""
    ours, theirs, head, commit = twins(tmp_path, "loose")
    updates = snapshot_updates(head, commit)
    for repo in (ours, theirs):
        (repo / "refs" / "tags" / "new.lock").write_text("held\n")
    before = snapshot_of_refs(ours)
    assert not refs.update(ours, updates, GIT_IDENTITY)
    assert not Git().update_refs(theirs, update_ref_commands(updates))
    assert snapshot_of_refs(ours) == before
    assert (ours / "refs" / "tags" / "new.lock").read_text() == "held\n"
    assert_same_as_git(ours, theirs)
    for repo in (ours, theirs):
        (repo / "refs" / "tags" / "new.lock").unlink()
    assert refs.update(ours, updates, GIT_IDENTITY)
    assert Git().update_refs(theirs, update_ref_commands(updates))
    assert_same_as_git(ours, theirs)


def test_a_symbolic_ref_in_a_transaction_is_left_to_git(tmp_path: Path) -> None:
    """A ref that is a symbolic ref is not changed in process: NotHandled, no lock left,
    nothing changed (the repository layer then asks git)."""
    ours, _, head, commit = twins(tmp_path, "loose")
    bare(ours, "symbolic-ref", "refs/tags/new", "refs/heads/main")
    before = snapshot_of_refs(ours)
    with pytest.raises(refs.NotHandled):
        refs.update(ours, snapshot_updates(head, commit), GIT_IDENTITY)
    assert snapshot_of_refs(ours) == before


def test_a_repository_laid_out_otherwise_is_left_to_git(
    repositories: ProjectRepositories,
) -> None:
    """A repository whose config is not the service's (here reflogs off) has its refs
    changed by git, which honours that config: the new tag gets no reflog, where the
    in-process transaction (reflogs always) would have written one."""
    repo = snapshots(repositories, 1)
    bare(repo, "config", "core.logAllRefUpdates", "false")
    snapshot, created = repositories.create_snapshot("p", "u", "later", "m", {"a.md": b"l"})
    assert created
    assert bare(repo, "rev-parse", "main", "refs/tags/later").split() == [snapshot.commit] * 2
    assert not (repo / "logs" / "refs" / "tags" / "later").exists()
    assert (repo / "logs" / "refs" / "tags" / "s0").exists()
    bare(repo, "fsck", "--full", "--strict")
