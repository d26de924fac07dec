"""A snapshot's objects are written in process: exactly git's objects, in one pack git
reads as its own, in a repository git takes for one of its own; and only when needed.

The oracle is git itself: the same files, message and time fed to ``git fast-import`` in
a repository made by ``git init`` must give the same commit ids, and ``git index-pack``
must compute the same index for the pack written here.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from git_fixtures import bare, git, git_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wikisaga.ids import git_reserved_name
from wikisaga.services.git import housekeeping
from wikisaga.services.git.repository import (
    NotProjectOwner,
    ProjectRepositories,
    SnapshotConflict,
    SnapshotDeleted,
)

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
IDENTITY = b"wikisaga <wikisaga@localhost>"

segments = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
    min_size=1,
    max_size=6,
).filter(lambda s: s not in (".", "..") and git_reserved_name(s) is None)
paths = st.lists(segments, min_size=1, max_size=3).map("/".join)
file_maps = st.dictionaries(paths, st.binary(max_size=40), max_size=8).filter(
    lambda files: not any(o.startswith(p + "/") for p in files for o in files)
)
messages = st.text(max_size=30).filter(lambda m: "\0" not in m)


def _quoted(path: str) -> bytes:
    """A path as ``git fast-import`` reads it: C-style quoted."""
    out = bytearray(b'"')
    for byte in path.encode("utf-8"):
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    return bytes(out + b'"')


def fast_import_commit(repo: Path, files: dict[str, bytes], message: str, now: int) -> str:
    """Commit ``files`` on ``main`` of ``repo`` with git's own fast-import; its id."""
    body = message.encode("utf-8")
    who = IDENTITY + b" %d +0000" % now
    chunks = [b"commit refs/heads/main\nmark :1\nauthor %s\ncommitter %s\n" % (who, who)]
    chunks.append(b"data %d\n%s\n" % (len(body), body))
    if bare(repo, "for-each-ref", "refs/heads/main"):
        chunks.append(b"from refs/heads/main^0\n")
    chunks.append(b"deleteall\n")
    for path in sorted(files):
        chunks.append(
            b"M 100644 inline %s\ndata %d\n%s\n" % (_quoted(path), len(files[path]), files[path])
        )
    chunks.append(b"\nget-mark :1\ndone\n")
    done = subprocess.run(
        ["git", f"--git-dir={repo}", "fast-import", "--quiet", "--done"],
        input=b"".join(chunks),
        capture_output=True,
        env=git_env(),
        check=True,
    )
    return done.stdout.decode().split()[-1]


def blob(repo: Path, name: str) -> bytes:
    """The bytes of the blob ``name`` (``<commit>:<path>``), as git reads them."""
    return subprocess.run(
        ["git", "--git-dir", str(repo), "cat-file", "blob", name],
        env=git_env(),
        check=True,
        capture_output=True,
    ).stdout


def packs(repo: Path) -> list[Path]:
    return sorted((repo / "objects" / "pack").glob("*.pack"))


def loose_objects(repo: Path) -> list[Path]:
    return [p for p in (repo / "objects").glob("??/*") if not p.name.startswith("tmp_")]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=file_maps, second=file_maps, message=messages)
def test_commits_are_the_ones_git_itself_makes_of_the_same_input(
    tmp_path: Path, first: dict[str, bytes], second: dict[str, bytes], message: str
) -> None:
    """Any paths and bytes, any message, a first snapshot and one on top of it: the commit
    ids are those git fast-import computes for the same files, message and time, so equal
    input always gives equal ids, and git fsck --strict finds nothing to object to."""
    case = tmp_path / str(len(list(tmp_path.iterdir())))
    repositories = ProjectRepositories(case / "service")
    oracle = case / "oracle.git"
    git("init", "--quiet", "--bare", "--initial-branch=main", oracle)
    for number, files in enumerate((first, second)):
        snapshot, created = repositories.create_snapshot(
            "p", "u", f"s{number}", message, files, now=NOW + number
        )
        assert created
        assert snapshot.commit == fast_import_commit(oracle, files, message, NOW + number)
    bare(repositories.path("p"), "fsck", "--full", "--strict")


def test_a_snapshot_is_one_pack_with_the_index_git_computes(tmp_path: Path) -> None:
    """45 files make one pack and no loose object; git index-pack, run on that pack,
    writes byte for byte the index written here, and git verify-pack accepts both."""
    repositories = ProjectRepositories(tmp_path / "git")
    files = {
        f"wiki/section-{i % 5}/page-{i:02d}.md": b"# Page %d\n" % i * (i + 40) for i in range(45)
    }
    snapshot, _ = repositories.create_snapshot("p", "u", "s", "m", files)
    repo = repositories.path("p")
    assert loose_objects(repo) == []
    [pack] = packs(repo)
    rebuilt = tmp_path / "rebuilt.idx"
    git("index-pack", "-o", rebuilt, pack)
    assert rebuilt.read_bytes() == pack.with_suffix(".idx").read_bytes()
    bare(repo, "verify-pack", str(pack.with_suffix(".idx")))
    # 45 blobs, 7 trees (the root, wiki/ and five sections), 1 commit.
    assert bare(repo, "count-objects", "-v").splitlines()[:1] == ["count: 0"]
    listed = bare(repo, "rev-list", "--objects", "--all").splitlines()
    assert len(listed) == 45 + 7 + 1
    assert bare(repo, "show", f"{snapshot.commit}:wiki/section-2/page-07.md") == (
        files["wiki/section-2/page-07.md"].decode().rstrip("\n")
    )


def test_a_large_snapshot_compressed_in_shares_is_the_pack_git_indexes(tmp_path: Path) -> None:
    """A snapshot of 1.5 MB of pages is compressed in shares by several threads on a
    machine with more than one CPU; its pack is still the one git indexes byte for byte,
    every page reads back through git, and the same pages make the same pack."""
    rng = random.Random(11)
    words = [b"saga", b"wiki", b"commit", b"compensation", b"graph", b"page", b"log"]
    files = {
        f"wiki/part-{i % 9}/page-{i:03d}.md": b" ".join(
            rng.choices(words, k=rng.randint(300, 1400))
        )
        for i in range(300)
    }
    assert sum(map(len, files.values())) > 1_000_000
    names = []
    for number in range(2):
        repositories = ProjectRepositories(tmp_path / f"git-{number}")
        snapshot, _ = repositories.create_snapshot("p", "u", "s", "m", files, now=NOW)
        repo = repositories.path("p")
        [pack] = packs(repo)
        names.append(pack.name)
        rebuilt = tmp_path / f"rebuilt-{number}.idx"
        git("index-pack", "-o", rebuilt, pack)
        assert rebuilt.read_bytes() == pack.with_suffix(".idx").read_bytes()
        bare(repo, "fsck", "--full", "--strict")
        for path in (
            "wiki/part-0/page-000.md",
            "wiki/part-4/page-157.md",
            "wiki/part-2/page-299.md",
        ):
            assert blob(repo, f"{snapshot.commit}:{path}") == files[path], path
    assert names[0] == names[1]
    helpers = [t for t in threading.enumerate() if t.name.startswith("pack-deflate")]
    assert bool(helpers) == ((os.cpu_count() or 1) > 1)


def test_a_forked_child_compresses_a_large_snapshot_with_helpers_of_its_own(
    tmp_path: Path,
) -> None:
    """A child forked after the parent made its helper threads has none of them: it makes
    its own, instead of queueing its shares for threads that are not there and waiting
    for ever (the child is given 60 s, then killed by its alarm)."""
    rng = random.Random(5)
    files = {f"page-{i:03d}.md": rng.randbytes(2_000).hex().encode() for i in range(100)}
    ProjectRepositories(tmp_path / "parent").create_snapshot("p", "u", "s", "m", files)
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its snapshot is made
        code = 1
        try:
            signal.alarm(60)
            child = ProjectRepositories(tmp_path / "child")
            child.create_snapshot("p", "u", "s", "m", files)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    bare(ProjectRepositories(tmp_path / "child").path("p"), "fsck", "--full", "--strict")


def test_every_blob_size_reads_back_through_git_with_a_window_sized_to_it(
    tmp_path: Path,
) -> None:
    """Blobs from empty to beyond the largest window are compressed with the window
    their size needs (the zlib header says which) and read back whole by git."""
    rng = random.Random(7)
    sizes = [0, 1, 249, 250, 251, 4_000, 7_930, 7_931, 40_000, 200_000]
    files = {  # half noise, half text, so that both literals and matches are written
        f"blob-{size}.bin": (rng.randbytes(size // 2) + b"wiki " * size)[:size] for size in sizes
    }
    repositories = ProjectRepositories(tmp_path / "git")
    snapshot, _ = repositories.create_snapshot("p", "u", "s", "m", files)
    repo = repositories.path("p")
    bare(repo, "fsck", "--full", "--strict")
    for name, data in files.items():
        assert blob(repo, f"{snapshot.commit}:{name}") == data, name
    [pack] = packs(repo)
    windows = {}
    for line in bare(repo, "verify-pack", "-v", str(pack.with_suffix(".idx"))).splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[1] == "blob":
            size, offset = int(fields[2]), int(fields[4])
            stream = pack.read_bytes()[offset:]
            header = 1
            while stream[header - 1] & 0x80:
                header += 1
            windows[size] = (stream[header] >> 4) + 8  # CINFO: log2(window) - 8
    assert windows == {size: min(15, max(9, (size + 262).bit_length())) for size in sizes}
    assert windows[4_000] == 13
    assert windows[200_000] == 15


def test_a_new_repository_is_laid_out_as_git_init_would(tmp_path: Path) -> None:
    """The repository a first snapshot creates without running git init is a bare
    repository on main with the service's settings, which git reads and clones."""
    repositories = ProjectRepositories(tmp_path / "git")
    snapshot, _ = repositories.create_snapshot("p", "u", "s", "m", {"a.md": b"a\n"})
    repo = repositories.path("p")
    assert bare(repo, "rev-parse", "--is-bare-repository") == "true"
    assert bare(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
    assert bare(repo, "rev-parse", "HEAD") == snapshot.commit
    assert bare(repo, "rev-parse", "--show-object-format") == "sha1"
    for key, value in (
        ("uploadpack.hideRefs", "refs/wikisaga"),
        ("receive.denyNonFastForwards", "true"),
        ("receive.denyDeletes", "true"),
        ("core.logAllRefUpdates", "always"),
    ):
        assert bare(repo, "config", "--get", key) == value, key
    assert bare(repo, "reflog", "show", "--format=%H", "refs/tags/s") == snapshot.commit
    git("clone", "--quiet", repo, tmp_path / "clone")
    assert (tmp_path / "clone" / "a.md").read_bytes() == b"a\n"


def test_more_packs_than_the_limit_are_merged_into_one(tmp_path: Path) -> None:
    """Each snapshot adds a pack; the one that makes more than PACK_LIMIT merges them into
    one pack, and every snapshot still reads back whole."""
    repositories = ProjectRepositories(tmp_path)
    limit = housekeeping.PACK_LIMIT
    for i in range(limit):
        repositories.create_snapshot(
            "p", "u", f"s{i}", "m", {"same.md": b"same", "n.md": b"%d" % i}
        )
    repo = repositories.path("p")
    assert len(packs(repo)) == limit
    repositories.create_snapshot("p", "u", "last", "m", {"same.md": b"same", "n.md": b"last"})
    assert len(packs(repo)) == 1
    assert loose_objects(repo) == []
    for i in range(limit):
        assert bare(repo, "show", f"s{i}:n.md") == str(i)
    bare(repo, "fsck", "--full", "--strict")


def test_files_are_gathered_only_when_a_snapshot_is_to_be_made(tmp_path: Path) -> None:
    """Given a function that gathers the files (the service's export), create_snapshot
    calls it once for a new snapshot, and never for a repeat, a conflicting or deleted id
    or another user, whose answers come from the refs and the owner alone."""
    repositories = ProjectRepositories(tmp_path, owners={"p": "u"}.get)
    calls: list[str] = []

    def gather() -> dict[str, bytes]:
        calls.append("export")
        return {"a.md": b"a"}

    snapshot, created = repositories.create_snapshot("p", "u", "s", "m", gather)
    assert created
    assert calls == ["export"]
    assert bare(repositories.path("p"), "show", "s:a.md") == "a"
    assert repositories.create_snapshot("p", "u", "s", "m", gather) == (snapshot, False)
    with pytest.raises(SnapshotConflict):
        repositories.create_snapshot("p", "u", "s", "other", gather)
    with pytest.raises(NotProjectOwner):
        repositories.create_snapshot("p", "intruder", "t", "m", gather)
    repositories.delete_snapshot("p", "u", "s")
    with pytest.raises(SnapshotDeleted):
        repositories.create_snapshot("p", "u", "s", "m", gather)
    assert calls == ["export"]
