"""Refs read (and changed) in this process exactly as git's files backend has them,
checked against the real git CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from git_fixtures import bare, run_git

from wikisaga.services.git import refs
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
