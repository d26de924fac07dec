"""The repository layer on its own: exact trees, compare-and-swap between writers that
share no lock (as two processes would), ownership, and snapshot id rules."""

from __future__ import annotations

import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from git_fixtures import bare, git_env, run_git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wikisaga.ids import git_reserved_name
from wikisaga.services.git.repository import (
    InvalidSnapshotFiles,
    NotProjectOwner,
    ProjectNotFound,
    ProjectRepositories,
    SnapshotConflict,
    SnapshotDeleted,
    SnapshotNotFound,
    is_valid_snapshot_id,
)

FUNCTION_SCOPED = [HealthCheck.function_scoped_fixture]


def read_tree(repo: Path, commit: str) -> dict[str, bytes]:
    """Every blob of ``commit``'s tree, by path, read back with plain git."""

    def raw(*args: str) -> bytes:
        done = subprocess.run(
            ["git", f"--git-dir={repo}", *args], capture_output=True, env=git_env(), check=True
        )
        return done.stdout

    files = {}
    for entry in raw("ls-tree", "-r", "-z", "--full-tree", commit).split(b"\0"):
        if not entry:
            continue
        meta, path = entry.split(b"\t", 1)
        mode, kind, oid = meta.split()
        assert (mode, kind) == (b"100644", b"blob")
        files[path.decode("utf-8")] = raw("cat-file", "blob", oid.decode())
    return files


segments = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
    min_size=1,
    max_size=8,
).filter(lambda s: s not in (".", "..") and git_reserved_name(s) is None)
paths = st.lists(segments, min_size=1, max_size=3).map("/".join)


def _no_clash(files: dict[str, bytes]) -> bool:
    return not any(other.startswith(path + "/") for path in files for other in files)


file_maps = st.dictionaries(paths, st.binary(max_size=64), max_size=6).filter(_no_clash)


@settings(max_examples=30, deadline=None, suppress_health_check=FUNCTION_SCOPED)
@given(files=file_maps, message=st.text().filter(lambda m: "\0" not in m))
def test_a_snapshot_tree_holds_exactly_the_given_paths_and_bytes(
    tmp_path: Path, files: dict[str, bytes], message: str
) -> None:
    """Any paths (quotes, backslashes, newlines, non-ASCII) and any bytes round-trip
    through the commit exactly, and so does the message."""
    repositories = ProjectRepositories(
        tmp_path / "roots" / str(len(list(tmp_path.glob("roots/*"))))
    )
    snapshot, created = repositories.create_snapshot("p", "u", "s", message, files)
    assert created
    repo = repositories.path("p")
    assert read_tree(repo, snapshot.commit) == files
    assert repositories.get_snapshot("p", "u", "s").message == message


def test_paths_git_cannot_store_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    """A path that is both a file and a directory, a .git segment or a dot segment is an
    InvalidSnapshotFiles error and no repository is created."""
    repositories = ProjectRepositories(tmp_path)
    for files in ({"a": b"", "a/b": b""}, {"x/.GIT/y": b""}, {"a/../b": b""}, {"a//b": b""}):
        with pytest.raises(InvalidSnapshotFiles):
            repositories.create_snapshot("p", "u", "s", "m", files)
    assert not repositories.exists("p")


def racing_snapshots(root: Path, count: int) -> list[str]:
    """``count`` writers snapshot project ``p`` at once, each with repository objects of
    its own (no shared lock, as in separate processes); each snapshot's commit."""
    barrier = threading.Barrier(count)

    def write(i: int) -> str:
        repositories = ProjectRepositories(root)
        barrier.wait()
        snapshot, created = repositories.create_snapshot("p", "u", f"s{i}", "m", {"a": b"%d" % i})
        assert created
        return snapshot.commit

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(write, range(count)))


def test_writers_sharing_no_lock_never_lose_an_update(tmp_path: Path) -> None:
    """Eight writers with separate repository objects (no shared lock, as in separate
    processes) all succeed through compare-and-swap, in one linear chain."""
    ProjectRepositories(tmp_path).create_snapshot("p", "u", "first", "m", {"a": b"0"})
    commits = racing_snapshots(tmp_path, 8)
    repo = tmp_path / "p.git"
    chain = bare(repo, "rev-list", "--first-parent", "main").split()
    assert bare(repo, "rev-list", "--count", "main") == "9"
    assert sorted(chain[:8]) == sorted(commits)
    bare(repo, "fsck", "--full", "--strict")
    assert bare(repo, "for-each-ref", "refs/wikisaga/pending/") == ""


def test_racing_first_snapshots_all_land_whole(tmp_path: Path) -> None:
    """Eight writers make a new project's first snapshot at once: one of them places the
    repository (made with its first snapshot, in a directory of its own), the others find
    it there and snapshot on top of it. All eight succeed, in one linear history git finds
    whole, and no half-built repository is left."""
    commits = racing_snapshots(tmp_path, 8)
    repo = tmp_path / "p.git"
    assert sorted(bare(repo, "rev-list", "main").split()) == sorted(commits)
    assert bare(repo, "rev-list", "--count", "main") == "8"
    for i, commit in enumerate(commits):
        assert bare(repo, "rev-parse", f"refs/tags/s{i}") == commit
    bare(repo, "fsck", "--full", "--strict")
    assert [p.name for p in tmp_path.iterdir()] == ["p.git"]


def test_racing_first_writers_leave_exactly_one_owner(tmp_path: Path) -> None:
    """When several users create a project at once, only its owner (from the registry)
    gets through and the others get NotProjectOwner; no half-built repository is left."""
    barrier = threading.Barrier(6)

    def write(i: int) -> str:
        repositories = ProjectRepositories(tmp_path, owners={"p": "user-0"}.get)
        barrier.wait()
        try:
            repositories.create_snapshot("p", f"user-{i}", f"s{i}", "m", {})
        except NotProjectOwner:
            return "refused"
        return f"user-{i}"

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(write, range(6)))
    winners = [o for o in outcomes if o != "refused"]
    assert winners == ["user-0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.git"]


def test_reads_check_the_owner_and_existence(tmp_path: Path) -> None:
    """Reading a project needs its owner; absent projects and snapshots are errors."""
    repositories = ProjectRepositories(tmp_path, owners={"p": "u"}.get)
    with pytest.raises(ProjectNotFound):
        repositories.list_snapshots("p", "u")
    repositories.create_snapshot("p", "u", "s", "m", {"a": b"a"})
    with pytest.raises(NotProjectOwner):
        repositories.get_snapshot("p", "other", "s")
    with pytest.raises(NotProjectOwner):
        repositories.delete_snapshot("p", "other", "s")
    with pytest.raises(SnapshotNotFound):
        repositories.get_snapshot("p", "u", "absent")
    assert [s.snapshot_id for s in repositories.list_snapshots("p", "u")] == ["s"]


def test_a_conflicting_or_deleted_id_is_refused_by_the_pre_check_too(tmp_path: Path) -> None:
    """check_can_create answers as create_snapshot would, without writing anything."""
    repositories = ProjectRepositories(tmp_path, owners={"p": "u"}.get)
    assert repositories.check_can_create("p", "u", "s", "m") is None
    assert not repositories.exists("p")
    snapshot, _ = repositories.create_snapshot("p", "u", "s", "m", {})
    assert repositories.check_can_create("p", "u", "s", "m") == snapshot
    with pytest.raises(SnapshotConflict):
        repositories.check_can_create("p", "u", "s", "other")
    repositories.delete_snapshot("p", "u", "s")
    with pytest.raises(SnapshotDeleted):
        repositories.check_can_create("p", "u", "s", "m")
    with pytest.raises(NotProjectOwner):
        repositories.check_can_create("p", "other", "t", "m")


def test_git_never_reads_the_users_global_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A global git config that would break commits (bad identity, hooks dir, signing)
    changes nothing: the service's git runs with its own fixed settings."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        "[user]\n\tuseConfigOnly = true\n[commit]\n\tgpgSign = true\n"
        "[init]\n\tdefaultBranch = trunk\n[core]\n\thooksPath = /nonexistent\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere"))
    repositories = ProjectRepositories(tmp_path / "git")
    snapshot, _ = repositories.create_snapshot("p", "u", "s", "m", {"a": b"a"})
    repo = repositories.path("p")
    assert bare(repo, "rev-parse", "main") == snapshot.commit
    assert bare(repo, "log", "-1", "--format=%an <%ae> %cn <%ce>") == (
        "wikisaga <wikisaga@localhost> wikisaga <wikisaga@localhost>"
    )


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True),
        st.text(max_size=20),
    )
)
def test_every_accepted_snapshot_id_is_a_valid_git_tag_name(snapshot_id: str) -> None:
    """is_valid_snapshot_id only accepts ids that git check-ref-format accepts as tags."""
    if is_valid_snapshot_id(snapshot_id):
        checked = run_git("check-ref-format", f"refs/tags/{snapshot_id}")
        assert checked.returncode == 0, snapshot_id


@pytest.mark.parametrize(
    ("snapshot_id", "valid"),
    [
        ("snap-789", True),
        ("a", True),
        ("A.b_c-9", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        ("-a", False),
        (".a", False),
        ("a..b", False),
        ("a.lock", False),
        ("a.", False),
        ("a/b", False),
        ("a b", False),
        ("ä", False),
    ],
)
def test_snapshot_id_rules(snapshot_id: str, valid: bool) -> None:
    """Snapshot ids: 1-128 of [A-Za-z0-9._-], alphanumeric first, no '..', not ending in
    '.' or '.lock'."""
    assert is_valid_snapshot_id(snapshot_id) is valid


def pack_ids(repo: Path) -> set[str]:
    return {p.stem for p in (repo / "objects" / "pack").glob("*.idx")}


def objects_in_pack(repo: Path, pack: str) -> int:
    """How many objects the pack holds, read with git show-index."""
    index = (repo / "objects" / "pack" / f"{pack}.idx").read_bytes()
    done = subprocess.run(
        ["git", "show-index"], input=index, capture_output=True, env=git_env(), check=True
    )
    return len(done.stdout.splitlines())


def test_a_later_snapshot_packs_only_what_its_head_lacks(tmp_path: Path) -> None:
    """With one page of twelve changed, the next snapshot's pack holds that blob, its
    directory's tree, the root tree and the commit (4 objects), and the repository is
    complete (git fsck --full); once main names a head this repository object did not
    make (a delete moved it back), the next snapshot packs every object again."""
    repositories = ProjectRepositories(tmp_path)
    files = {f"d{i % 3}/p{i}.md": b"page %d" % i for i in range(12)}
    repositories.create_snapshot("p", "u", "s1", "m", files)
    repo = repositories.path("p")
    changed = {**files, "d0/p0.md": b"changed"}
    before = pack_ids(repo)
    second, _ = repositories.create_snapshot("p", "u", "s2", "m", changed)
    (pack,) = pack_ids(repo) - before
    assert objects_in_pack(repo, pack) == 4
    assert read_tree(repo, second.commit) == changed
    bare(repo, "fsck", "--full", "--strict")

    repositories.delete_snapshot("p", "u", "s2")  # main back on s1, s2's objects pruned
    before = pack_ids(repo)
    third, _ = repositories.create_snapshot("p", "u", "s3", "m", changed)
    (pack,) = pack_ids(repo) - before
    assert objects_in_pack(repo, pack) == 12 + 3 + 1 + 1
    assert read_tree(repo, third.commit) == changed
    bare(repo, "fsck", "--full", "--strict")
