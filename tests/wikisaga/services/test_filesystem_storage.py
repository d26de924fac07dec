"""Where contents are stored: small ones inline in the metadata database, large ones as files."""

from __future__ import annotations

import errno
import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from wikisaga.errors import CorruptStorage
from wikisaga.services.filesystem._blobs import INLINE_MAX_BYTES
from wikisaga.services.filesystem.store import Change, ChangeResult, FileStore

USER = "owner"
SMALL = b"# A page\n\nsmall enough to live in the database\n"
LARGE = b"L" * (INLINE_MAX_BYTES + 1)


def _render(results: list[ChangeResult]) -> dict[str, Any]:
    return {"results": [result.path for result in results]}


def _save(store: FileStore, project: str, files: dict[str, bytes]) -> None:
    changes = [Change("save", path, data) for path, data in files.items()]
    store.apply(project, USER, changes, render=_render)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inline_rows(root: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(root / "meta.db") as conn:
        rows = conn.execute("SELECT project_id, sha256 FROM blobs ORDER BY 1, 2").fetchall()
    conn.close()
    return [(str(project), str(digest)) for project, digest in rows]


def _blob_files(root: Path, project: str) -> list[str]:
    objects = root / "projects" / project / "objects"
    return sorted(p.name for p in objects.iterdir()) if objects.exists() else []


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "filesystem"


@pytest.fixture
def store(root: Path) -> Iterator[FileStore]:
    store = FileStore(root)
    yield store
    store.close()


def test_a_small_content_is_stored_inline_and_read_back(store: FileStore, root: Path) -> None:
    _save(store, "p", {"wiki/a.md": SMALL})

    record, data = store.read_file("p", USER, "wiki/a.md")
    assert data == SMALL
    assert record.sha256 == _digest(SMALL)
    assert store.export("p", USER)[0][1] == SMALL
    assert _inline_rows(root) == [("p", _digest(SMALL))]
    assert not (root / "projects" / "p").exists(), "a small content made a project dir"


def test_a_content_of_exactly_the_limit_is_inline_and_one_byte_more_is_a_file(
    store: FileStore, root: Path
) -> None:
    at_limit = b"x" * INLINE_MAX_BYTES
    _save(store, "p", {"at-limit.md": at_limit, "over.md": LARGE})

    assert _inline_rows(root) == [("p", _digest(at_limit))]
    assert _blob_files(root, "p") == [_digest(LARGE)]
    assert store.read_file("p", USER, "over.md")[1] == LARGE
    exported = {record.path: data for record, data in store.export("p", USER)}
    assert exported == {"at-limit.md": at_limit, "over.md": LARGE}


def test_equal_contents_are_stored_once_per_project(store: FileStore, root: Path) -> None:
    _save(store, "p", {"a.md": SMALL, "b.md": SMALL})
    _save(store, "p", {"c.md": SMALL, "big-1.md": LARGE, "big-2.md": LARGE})
    _save(store, "q", {"a.md": SMALL})

    assert _inline_rows(root) == [("p", _digest(SMALL)), ("q", _digest(SMALL))]
    assert _blob_files(root, "p") == [_digest(LARGE)]
    assert [data for _, data in store.export("p", USER)] == [SMALL, SMALL, LARGE, LARGE, SMALL]


def test_the_database_syncs_every_commit(store: FileStore) -> None:
    """Inline contents are only as durable as the commit: synchronous must be FULL."""
    conn = store._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_sweep_deletes_unreferenced_inline_blobs_and_keeps_referenced_ones(
    store: FileStore, root: Path
) -> None:
    _save(store, "p", {"a.md": SMALL})
    stray = b"left behind"
    with sqlite3.connect(root / "meta.db") as conn:
        conn.execute("INSERT INTO blobs VALUES (?, ?, ?)", ("p", _digest(stray), stray))
        conn.execute("INSERT INTO blobs VALUES (?, ?, ?)", ("gone", _digest(stray), stray))
    conn.close()

    assert store.sweep() == 2
    assert _inline_rows(root) == [("p", _digest(SMALL))]
    assert store.read_file("p", USER, "a.md")[1] == SMALL
    assert store.sweep() == 0


def test_an_older_version_keeps_its_inline_content_through_a_sweep(store: FileStore) -> None:
    _save(store, "p", {"a.md": SMALL})
    first = store.read_file("p", USER, "a.md")[0].version
    _save(store, "p", {"a.md": b"second"})
    store.apply("p", USER, [Change("delete", "a.md")], render=_render)

    assert store.sweep() == 0
    store.apply("p", USER, [Change("restore", "a.md", version=first)], render=_render)
    assert store.read_file("p", USER, "a.md")[1] == SMALL


def test_a_damaged_inline_content_is_reported_not_served(store: FileStore, root: Path) -> None:
    _save(store, "p", {"a.md": SMALL})
    with sqlite3.connect(root / "meta.db") as conn:
        conn.execute("UPDATE blobs SET data = ?", (b"tampered",))
    conn.close()

    with pytest.raises(CorruptStorage, match="does not match its hash"):
        store.read_file("p", USER, "a.md")
    with pytest.raises(CorruptStorage):
        store.export("p", USER)


# -- fault hooks ------------------------------------------------------------------------


def test_the_hook_counts_every_content_of_a_request_inline_or_file(store: FileStore) -> None:
    _save(store, "p", {"old.md": SMALL})
    seen: list[int] = []
    store.blobs.after_blob = seen.append
    _save(store, "p", {"a.md": SMALL, "b.md": b"b", "c.md": b"c", "d.md": LARGE})
    assert sorted(seen) == [1, 2, 3, 4]
    seen.clear()
    _save(store, "p", {"e.md": b"e"})
    assert seen == [1], "each request counts from 1"


@pytest.mark.parametrize("at", [1, 3, 5])
def test_a_failure_at_the_nth_content_changes_nothing(
    store: FileStore, root: Path, at: int
) -> None:
    _save(store, "p", {"a.md": b"old a"})

    def fail(ordinal: int) -> None:
        if ordinal == at:
            raise OSError(errno.EIO, "injected")

    store.blobs.after_blob = fail
    files = {"a.md": b"new a", "b.md": b"new b", "c.md": b"new c", "big.md": LARGE, "e.md": b"e"}
    with pytest.raises(OSError, match="injected"):
        _save(store, "p", files)
    store.blobs.after_blob = None

    assert [(r.path, d) for r, d in store.export("p", USER)] == [("a.md", b"old a")]
    assert _inline_rows(root) == [("p", _digest(b"old a"))]
    store.sweep()
    assert _blob_files(root, "p") == []


# -- data dirs written before inline contents existed -----------------------------------

_PREVIOUS_SCHEMA = """
CREATE TABLE projects (
    project_id TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE versions (
    version_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(project_id),
    path       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX versions_by_path ON versions(project_id, path);
CREATE TABLE files (
    project_id TEXT NOT NULL REFERENCES projects(project_id),
    path       TEXT NOT NULL,
    version_id TEXT NOT NULL REFERENCES versions(version_id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, path)
);
CREATE TABLE idempotency (
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
"""

_NOW = "2026-11-01T00:00:00.000000Z"


def _previous_data_dir(root: Path, files: Sequence[tuple[str, bytes]]) -> None:
    """A data dir as the previous code left it: every content a file, no blobs table."""
    objects = root / "projects" / "p" / "objects"
    objects.mkdir(parents=True)
    with sqlite3.connect(root / "meta.db") as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(_PREVIOUS_SCHEMA)
        conn.execute("INSERT INTO projects VALUES ('p', ?, ?)", (USER, _NOW))
        for i, (path, data) in enumerate(files):
            digest = _digest(data)
            (objects / digest).write_bytes(data)
            version = f"v{i:020d}"
            conn.execute(
                "INSERT INTO versions VALUES (?, 'p', ?, ?, ?, ?)",
                (version, path, digest, len(data), _NOW),
            )
            conn.execute("INSERT INTO files VALUES ('p', ?, ?, ?)", (path, version, _NOW))
    conn.close()


def test_a_data_dir_of_the_previous_layout_is_migrated_and_keeps_its_files(root: Path) -> None:
    _previous_data_dir(root, [("old.md", SMALL), ("big.md", LARGE)])

    store = FileStore(root)
    try:
        assert store.sweep() == 0, "a small content stored as a file was swept"
        assert store.read_file("p", USER, "old.md")[1] == SMALL
        assert {r.path: d for r, d in store.export("p", USER)} == {
            "big.md": LARGE,
            "old.md": SMALL,
        }
        _save(store, "p", {"new.md": b"new", "again.md": SMALL})
        assert _inline_rows(root) == sorted([("p", _digest(b"new")), ("p", _digest(SMALL))])
        assert {r.path: d for r, d in store.export("p", USER)} == {
            "again.md": SMALL,
            "big.md": LARGE,
            "new.md": b"new",
            "old.md": SMALL,
        }
    finally:
        store.close()
    assert _blob_files(root, "p") == sorted([_digest(SMALL), _digest(LARGE)])

    reopened = FileStore(root)
    try:
        assert reopened.read_file("p", USER, "new.md")[1] == b"new"
    finally:
        reopened.close()
