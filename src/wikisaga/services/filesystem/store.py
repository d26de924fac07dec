"""The filesystem service's storage: versioned files per project, owned by one user.

Metadata lives in SQLite (WAL, ``synchronous=FULL``) at ``<root>/meta.db``; contents are
immutable blobs (see ``_blobs``): small ones inline in the same database, larger ones as
files. Tables:

- ``projects(project_id, owner_id)`` — the user who first changed the project owns it.
  This table is the one record of who owns a project, for every service: a row is only
  ever added (by a write that changes a file, or by :meth:`FileStore.claim`, which an
  ingest calls before it stores documents), never changed or removed, and reads,
  deletes of absent files and restores that change nothing never add one. Other services
  read it through ``GET /projects/{project_id}`` (:meth:`FileStore.project`);
- ``versions(version_id, project_id, path, sha256, size)`` — every save is a new row and
  is never deleted, so any earlier content stays retrievable and restorable;
- ``files(project_id, path, version_id)`` — which version is current; absent = no row;
- ``idempotency(user_id, key, fingerprint, status_code, body)`` — the first answer to each
  ``Idempotency-Key``, recorded in the same transaction as the change it answered;
- ``blobs(project_id, sha256, data)`` — contents of at most 256 KiB (added to an existing
  data dir at start).

**A project's files form one tree**, as a snapshot's git tree and a checkout do: no path is
ever both a file and a directory (``a`` and ``a/b``). A write after which one would be,
with the files stored or within the write itself, is refused with
:class:`~wikisaga.errors.PathClash` before anything is written.

**A batch may replace the whole project** (``replace``): every current file it does not
save is deleted by the same transaction, which reads what was there, so its answer names
each path's ``previous_version`` without the caller listing the files first. **A write
is undone by its key** (:meth:`FileStore.undo`): the stored answer of a batch already holds
each changed path's previous version, so undoing it reads that answer and restores those
versions in one transaction, and revokes the key in the same one; a key never used is
only revoked, so the batch it names is refused if it arrives later.

**A write is all or nothing, even under SIGKILL.** :meth:`FileStore.apply` validates
everything, writes and fsyncs the new large blobs as files (they are invisible until
referenced), then in **one** SQLite transaction inserts the new small blobs, switches
every affected path and records the idempotency answer; its commit is the request's one
sync of everything small. A crash before the commit leaves every file at its old version
(orphaned blob files are swept at the next start); after it, every file is at its new one.

Writes to one project are serialised by a per-project lock; different projects write
their large blobs in parallel and meet only for the metadata transaction. That
transaction also inserts the small contents, so a huge batch of small files holds the
database's write lock for a while (2000 × 64 KB: about 1 s, as long as writing them as
files took) and other projects' commits wait for it. Reads never lock: SQLite gives them
a consistent snapshot and blobs never change.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from wikisaga import json_codec
from wikisaga.errors import (
    ConfigError,
    IdempotencyKeyReused,
    IdempotencyKeyRevoked,
    ItemNotFound,
    NotProjectOwner,
    PathClash,
    StateConflict,
    UnsafeStorage,
)
from wikisaga.services._common import ProjectLocks
from wikisaga.services.filesystem._blobs import INLINE_SCHEMA, BlobStore

__all__ = [
    "Action",
    "Change",
    "ChangeResult",
    "FileRecord",
    "FileStore",
    "Idempotency",
    "ProjectRecord",
    "WriteOutcome",
]

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS projects (
    project_id TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    version_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(project_id),
    path       TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    size       INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS versions_by_path ON versions(project_id, path);
CREATE TABLE IF NOT EXISTS files (
    project_id TEXT NOT NULL REFERENCES projects(project_id),
    path       TEXT NOT NULL,
    version_id TEXT NOT NULL REFERENCES versions(version_id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (project_id, path)
);
CREATE TABLE IF NOT EXISTS idempotency (
    user_id     TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
"""
    + INLINE_SCHEMA
)


_REVOKED = "revoked"
"""The fingerprint of a revoked key (a real fingerprint is a hex digest)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _directories(path: str) -> list[str]:
    """The directories ``path`` lies in: ``a/b/c`` -> ``a``, ``a/b``."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _clash(path: str, other: str, why: str) -> PathClash:
    """``path`` would be present with ``other``, which is a file in a directory of it or
    lies below it."""
    directory = other if other in _directories(path) else path
    return PathClash(
        f"path {path!r} clashes with {other!r}, which {why}: {directory!r} cannot be both "
        "a file and a directory"
    )


_BATCH_ANSWER_KEYS = frozenset({"status", "project_id", "results"})
_BATCH_RESULT_KEYS = frozenset({"path", "action", "version", "previous_version"})
_BATCH_ACTIONS = frozenset({"saved", "deleted", "absent"})


def _batch_results(answer: Any) -> list[dict[str, Any]] | None:
    """The results of a stored batch answer, or ``None`` when ``answer`` has another shape
    (a ``save_file``, a ``DELETE /file``, a restore that restored a version)."""
    if not isinstance(answer, dict) or answer.keys() != _BATCH_ANSWER_KEYS:
        return None
    results = answer["results"]
    if answer["status"] != "success" or not isinstance(answer["project_id"], str):
        return None
    if not isinstance(results, list):
        return None
    for result in results:
        if (
            not isinstance(result, dict)
            or result.keys() != _BATCH_RESULT_KEYS
            or result["action"] not in _BATCH_ACTIONS
            or not isinstance(result["path"], str)
            or not isinstance(result["previous_version"], str | None)
        ):
            return None
    return results


def _new_version_id() -> str:
    # Time first so ids sort by creation; random tail so two saves never collide.
    return f"v{time.time_ns():016x}{secrets.token_hex(4)}"


Action = Literal["saved", "deleted", "absent", "restored", "unchanged"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """The current version of one file."""

    path: str
    version: str
    sha256: str
    size: int
    updated_at: str


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """A project of the registry: its owner and when the owner first wrote to it."""

    project_id: str
    owner: str
    created_at: str


@dataclass(frozen=True, slots=True)
class Change:
    """One change a write request asks for.

    ``save``: ``data`` becomes a new version. ``delete``: the file becomes absent.
    ``restore``: the file becomes version ``version`` again, or absent when ``None``.
    """

    kind: Literal["save", "delete", "restore"]
    path: str
    data: bytes | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeResult:
    """What a change did.

    ``action`` is ``saved``, ``deleted``, ``absent`` (deleting what was not there),
    ``restored`` or ``unchanged`` (restoring what already was). ``version`` is the current
    version afterwards (``None``: absent); ``previous_version`` the one before.
    """

    path: str
    action: Action
    version: str | None
    previous_version: str | None
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Idempotency:
    """An ``Idempotency-Key`` and the fingerprint of the request that carries it."""

    key: str
    fingerprint: str

    @staticmethod
    def fingerprint_of(method: str, path: str, body: Any) -> str:
        """A stable hash of a request: method, URL path and canonical JSON body."""
        canonical = json_codec.canonical({"method": method, "path": path, "body": body})
        return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """The answer to a write; ``replayed`` when it is a stored answer to the same key."""

    status_code: int
    body: dict[str, Any]
    replayed: bool


class FileStore:
    """Versioned, owned, durable files of every project (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._claim_root()
        self._db_path = self.root / "meta.db"
        if self._db_path.is_symlink():
            raise ConfigError(f"refusing to open {self._db_path}: it is a symlink")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_guard = threading.Lock()
        self._locks = ProjectLocks()
        try:
            self.blobs = BlobStore(self.root)
        except UnsafeStorage as e:
            raise ConfigError(f"{self.root}: {e.message}") from e
        self._connection().executescript(_SCHEMA)

    def _claim_root(self) -> int:
        path = self.root / ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise ConfigError(
                    f"another filesystem service is using {self.root}; "
                    "give each service process its own WIKISAGA_DATA_DIR"
                ) from e
            raise
        return fd

    def close(self) -> None:
        """Close every database connection and release the data dir."""
        with self._connections_guard:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self.blobs.close()
        os.close(self._lock_file)

    # -- connections and transactions -------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._db_path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._connections_guard:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- startup ------------------------------------------------------------------------

    def sweep(self) -> int:
        """Remove temporary files and unreferenced blobs left by a crash; return how many.

        Only safe while no write is under way (at startup).
        """
        with self._transaction(write=True) as conn:
            rows = conn.execute("SELECT DISTINCT project_id, sha256 FROM versions").fetchall()
            removed = self.blobs.sweep_inline(conn, {(row[0], row[1]) for row in rows})
        for project_id in self.blobs.project_ids():

            def referenced(project_id: str = project_id) -> set[str]:
                with self._transaction(write=False) as conn:
                    rows = conn.execute(
                        "SELECT DISTINCT sha256 FROM versions WHERE project_id = ?",
                        (project_id,),
                    ).fetchall()
                return {row[0] for row in rows}

            with self._locks.hold(project_id):
                removed += self.blobs.sweep(project_id, referenced)
        return removed

    # -- ownership ----------------------------------------------------------------------

    @staticmethod
    def _owner(conn: sqlite3.Connection, project_id: str) -> str | None:
        row = conn.execute(
            "SELECT owner_id FROM projects WHERE project_id = ?", (project_id,)
        ).fetchone()
        return None if row is None else str(row[0])

    @classmethod
    def _check_access(cls, conn: sqlite3.Connection, project_id: str, user_id: str) -> bool:
        """Raise NotProjectOwner for another user's project; return whether it exists."""
        owner = cls._owner(conn, project_id)
        if owner is not None and owner != user_id:
            raise NotProjectOwner(f"project {project_id!r} belongs to another user")
        return owner is not None

    def claim(self, project_id: str, user_id: str) -> ProjectRecord:
        """Make ``user_id`` the owner of a project nobody owns yet, and return the record;
        a project ``user_id`` owns already is left as it is. Raises NotProjectOwner, and
        adds nothing, for another user's project.

        The claim of a user about to put documents into the project (an ingest), so that
        the registry names its owner before any file is written; it is the only change to
        the registry besides a write that changes a file.
        """
        with self._locks.hold(project_id), self._transaction(write=True) as conn:
            if not self._check_access(conn, project_id, user_id):
                conn.execute("INSERT INTO projects VALUES (?, ?, ?)", (project_id, user_id, _now()))
            row = conn.execute(
                "SELECT project_id, owner_id, created_at FROM projects WHERE project_id = ?",
                (project_id,),
            ).fetchone()
        return ProjectRecord(*row)

    def project(self, project_id: str) -> ProjectRecord | None:
        """The project's owner record, or ``None`` when nobody has written to it yet."""
        with self._transaction(write=False) as conn:
            row = conn.execute(
                "SELECT project_id, owner_id, created_at FROM projects WHERE project_id = ?",
                (project_id,),
            ).fetchone()
        return None if row is None else ProjectRecord(*row)

    # -- reads --------------------------------------------------------------------------

    @staticmethod
    def _current(conn: sqlite3.Connection, project_id: str, path: str) -> FileRecord | None:
        row = conn.execute(
            "SELECT f.path, f.version_id, v.sha256, v.size, f.updated_at "
            "FROM files f JOIN versions v ON v.version_id = f.version_id "
            "WHERE f.project_id = ? AND f.path = ?",
            (project_id, path),
        ).fetchone()
        return None if row is None else FileRecord(*row)

    @staticmethod
    def _current_versions(
        conn: sqlite3.Connection, project_id: str, paths: Sequence[str]
    ) -> dict[str, str]:
        """The current version of each of ``paths`` that exists, in one query."""
        rows = conn.execute(
            "SELECT path, version_id FROM files "
            "WHERE project_id = ? AND path IN (SELECT value FROM json_each(?))",
            (project_id, json.dumps(list(paths))),
        )
        return {str(path): str(version) for path, version in rows}

    def read_file(self, project_id: str, user_id: str, path: str) -> tuple[FileRecord, bytes]:
        """The current version of ``path`` and its bytes; ItemNotFound when absent."""
        with self._transaction(write=False) as conn:
            self._check_access(conn, project_id, user_id)
            record = self._current(conn, project_id, path)
            if record is None:
                raise ItemNotFound(f"file {path!r} not found in project {project_id!r}")
            return record, self.blobs.read(conn, project_id, record.sha256)

    def list_files(self, project_id: str, user_id: str, prefix: str = "") -> list[FileRecord]:
        """Current files whose path starts with ``prefix``, sorted by path."""
        with self._transaction(write=False) as conn:
            return self._list(conn, project_id, user_id, prefix)

    def _list(
        self, conn: sqlite3.Connection, project_id: str, user_id: str, prefix: str = ""
    ) -> list[FileRecord]:
        self._check_access(conn, project_id, user_id)
        rows = conn.execute(
            "SELECT f.path, f.version_id, v.sha256, v.size, f.updated_at "
            "FROM files f JOIN versions v ON v.version_id = f.version_id "
            "WHERE f.project_id = ? AND substr(f.path, 1, ?) = ? ORDER BY f.path",
            (project_id, len(prefix), prefix),
        ).fetchall()
        return [FileRecord(*row) for row in rows]

    def current_versions(
        self, project_id: str, user_id: str, paths: Sequence[str]
    ) -> list[tuple[str, str | None]]:
        """``(path, current version or None)`` for each path, in the order given."""
        with self._transaction(write=False) as conn:
            self._check_access(conn, project_id, user_id)
            result = []
            for path in paths:
                record = self._current(conn, project_id, path)
                result.append((path, None if record is None else record.version))
        return result

    def export(self, project_id: str, user_id: str) -> list[tuple[FileRecord, bytes]]:
        """Every current file with its bytes, sorted by path."""
        with self._transaction(write=False) as conn:
            records = self._list(conn, project_id, user_id)
            contents = self.blobs.read_many(conn, project_id, sorted({r.sha256 for r in records}))
        return [(record, contents[record.sha256]) for record in records]

    # -- writes -------------------------------------------------------------------------

    def apply(
        self,
        project_id: str,
        user_id: str,
        changes: Sequence[Change],
        *,
        render: Callable[[list[ChangeResult]], dict[str, Any]],
        idempotency: Idempotency | None = None,
        revoke: Sequence[str] = (),
        replace: bool = False,
    ) -> WriteOutcome:
        """Apply ``changes`` all or nothing and return ``render(results)`` (status 200).

        With ``replace`` (``changes`` are then saves only), every current file the changes
        do not save is deleted in the same transaction, which is the one that reads what
        is current: its result (``deleted``, with its ``previous_version``) follows the
        saves', by path, and afterwards the project's files are exactly those saved.
        With ``idempotency``, a key already answered returns the stored answer and changes
        nothing; the same key with another fingerprint raises IdempotencyKeyReused.
        ``revoke`` names keys of requests this one undoes: in the same transaction, each
        key not yet used is recorded as revoked, so that the request it names is refused
        (IdempotencyKeyRevoked) if it arrives later. A key already answered keeps its
        answer: replaying it changes nothing anyway.
        Raises NotProjectOwner for another user's project, ItemNotFound for a restore to a
        version that is not a version of that path, and PathClash for changes after which a
        path would be both a file and a directory, before anything is written.
        """
        if replace and any(change.kind != "save" for change in changes):
            raise ValueError("a write that replaces the project's files holds saves only")
        with self._locks.hold(project_id):
            with self._transaction(write=False) as conn:
                replay = self._replay(conn, user_id, idempotency)
                if replay is not None:
                    return replay
                self._check_access(conn, project_id, user_id)
                self._check_restore_targets(conn, project_id, changes)
                self._check_clashes(conn, project_id, changes, replace=replace)
            digests = [
                hashlib.sha256(change.data).hexdigest() if change.data is not None else None
                for change in changes
            ]
            blobs = {
                digest: change.data
                for digest, change in zip(digests, changes, strict=True)
                if digest is not None and change.data is not None
            }
            inline, files = self.blobs.partition(blobs)
            count = self.blobs.counter()
            self.blobs.write_files(project_id, files, count)
            with self._transaction(write=True) as conn:
                replay = self._replay(conn, user_id, idempotency)
                if replay is not None:
                    return replay
                self.blobs.write_inline(conn, project_id, inline, count)
                if replace:
                    dropped = self._not_saved(conn, project_id, changes)
                    changes = [*changes, *dropped]
                    digests = [*digests, *(None for _ in dropped)]
                results = self._apply(conn, project_id, user_id, changes, digests)
                body = render(results)
                self._revoke(conn, user_id, revoke)
                self._record(conn, user_id, idempotency, body)
        return WriteOutcome(200, body, replayed=False)

    def undo(
        self,
        project_id: str,
        user_id: str,
        key: str,
        *,
        render: Callable[[list[ChangeResult]], dict[str, Any]],
        idempotency: Idempotency | None = None,
        revoke: Sequence[str] = (),
    ) -> WriteOutcome:
        """Undo the batch that ``user_id``'s ``key`` answered in this project, and revoke
        ``key`` (and ``revoke``), all in one transaction; return ``render(results)``.

        Every path the batch changed (``saved`` or ``deleted``) is put back to its
        ``previous_version``, read from the batch's stored answer, or made absent; paths
        it left ``absent`` are not touched. A key never used changes nothing: it is only
        revoked, so that the batch it names is refused if it arrives later. A key already
        revoked changes nothing either. Repeating an undo changes nothing (every result
        ``unchanged``), since an answered key keeps its answer.

        Raises NotProjectOwner for another user's project, StateConflict
        ``idempotency_key_not_a_batch`` when ``key`` answered a request that is not a
        batch of this project (a restore that only deleted files has a batch's answer, and
        its undo is its inverse too), and PathClash when a path to restore is now a
        directory of files written since; in every case nothing is written.
        """
        with self._locks.hold(project_id), self._transaction(write=True) as conn:
            replay = self._replay(conn, user_id, idempotency)
            if replay is not None:
                return replay
            self._check_access(conn, project_id, user_id)
            changes = self._undo_changes(conn, project_id, user_id, key)
            self._check_restore_targets(conn, project_id, changes)
            self._check_clashes(conn, project_id, changes)
            results = self._apply(conn, project_id, user_id, changes, [None] * len(changes))
            body = render(results)
            self._revoke(conn, user_id, [key, *revoke])
            self._record(conn, user_id, idempotency, body)
        return WriteOutcome(200, body, replayed=False)

    @staticmethod
    def _not_saved(
        conn: sqlite3.Connection, project_id: str, changes: Sequence[Change]
    ) -> list[Change]:
        """A delete of every current file of the project that ``changes`` do not name."""
        named = {change.path for change in changes}
        rows = conn.execute(
            "SELECT path FROM files WHERE project_id = ? ORDER BY path", (project_id,)
        ).fetchall()
        return [Change("delete", str(row[0])) for row in rows if row[0] not in named]

    @staticmethod
    def _undo_changes(
        conn: sqlite3.Connection, project_id: str, user_id: str, key: str
    ) -> list[Change]:
        """The restores that undo the batch ``key`` answered; none for an unused key."""
        row = conn.execute(
            "SELECT fingerprint, body FROM idempotency WHERE user_id = ? AND key = ?",
            (user_id, key),
        ).fetchone()
        if row is None or row[0] == _REVOKED:
            return []
        answer = json.loads(row[1])
        results = _batch_results(answer)
        if results is None:
            raise StateConflict(
                f"Idempotency-Key {key!r} answered a request that is not a batch",
                code="idempotency_key_not_a_batch",
            )
        if answer["project_id"] != project_id:
            raise StateConflict(
                f"Idempotency-Key {key!r} answered a batch of another project",
                code="idempotency_key_not_a_batch",
            )
        return [
            Change("restore", result["path"], version=result["previous_version"])
            for result in results
            if result["action"] != "absent"
        ]

    @staticmethod
    def _revoke(conn: sqlite3.Connection, user_id: str, keys: Sequence[str]) -> None:
        for key in keys:
            conn.execute(
                "INSERT OR IGNORE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, key, _REVOKED, 409, "{}", _now()),
            )

    @staticmethod
    def _record(
        conn: sqlite3.Connection,
        user_id: str,
        idempotency: Idempotency | None,
        body: dict[str, Any],
    ) -> None:
        if idempotency is not None:
            conn.execute(
                "INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, idempotency.key, idempotency.fingerprint, 200, json.dumps(body), _now()),
            )

    @staticmethod
    def _replay(
        conn: sqlite3.Connection, user_id: str, idempotency: Idempotency | None
    ) -> WriteOutcome | None:
        if idempotency is None:
            return None
        row = conn.execute(
            "SELECT fingerprint, status_code, body FROM idempotency WHERE user_id = ? AND key = ?",
            (user_id, idempotency.key),
        ).fetchone()
        if row is None:
            return None
        fingerprint, status_code, body = row
        if fingerprint == _REVOKED:
            raise IdempotencyKeyRevoked(
                f"Idempotency-Key {idempotency.key!r} names a request that was rolled back"
            )
        if fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {idempotency.key!r} was already used for a different request"
            )
        return WriteOutcome(int(status_code), json.loads(body), replayed=True)

    @staticmethod
    def _check_restore_targets(
        conn: sqlite3.Connection, project_id: str, changes: Sequence[Change]
    ) -> None:
        for change in changes:
            if change.kind != "restore" or change.version is None:
                continue
            row = conn.execute(
                "SELECT 1 FROM versions WHERE version_id = ? AND project_id = ? AND path = ?",
                (change.version, project_id, change.path),
            ).fetchone()
            if row is None:
                raise ItemNotFound(
                    f"version {change.version!r} is not a version of {change.path!r}",
                    code="version_not_found",
                )

    @staticmethod
    def _check_clashes(
        conn: sqlite3.Connection,
        project_id: str,
        changes: Sequence[Change],
        *,
        replace: bool = False,
    ) -> None:
        """Refuse ``changes`` if afterwards a path would be both a file and a directory.

        Only a path the changes make present can create a clash: with a directory of it
        that is (or becomes) a file, or with a file that stays below it. Runs under the
        project's lock, so the files read here are those the changes will meet. With
        ``replace`` no stored file stays besides those the changes make present, so only
        the changes themselves can clash.
        """
        present = {
            change.path
            for change in changes
            if change.kind == "save" or (change.kind == "restore" and change.version is not None)
        }
        removed = {change.path for change in changes} - present
        for path in sorted(present):
            for directory in _directories(path):
                if directory in present:
                    raise _clash(path, directory, "is written by the same request")
        if replace:
            return
        directories = sorted({d for path in present for d in _directories(path)} - removed)
        row = conn.execute(
            "SELECT path FROM files WHERE project_id = ? "
            "AND path IN (SELECT value FROM json_each(?)) ORDER BY path LIMIT 1",
            (project_id, json.dumps(directories)),
        ).fetchone()
        if row is not None:
            stored = str(row[0])
            path = min(p for p in present if p.startswith(stored + "/"))
            raise _clash(path, stored, "is a file")
        for path in sorted(present):
            # Every path below ``path/`` sorts between ``path/`` and ``path0`` ('0' follows
            # '/'), so this is a range scan of the primary key.
            below = conn.execute(
                "SELECT path FROM files WHERE project_id = ? AND path >= ? AND path < ? "
                "ORDER BY path",
                (project_id, path + "/", path + "0"),
            )
            for (stored,) in below:
                if stored not in removed:
                    raise _clash(path, str(stored), "is a file")

    def _apply(
        self,
        conn: sqlite3.Connection,
        project_id: str,
        user_id: str,
        changes: Sequence[Change],
        digests: Sequence[str | None],
    ) -> list[ChangeResult]:
        now = _now()
        owned = self._check_access(conn, project_id, user_id)
        current = self._current_versions(conn, project_id, [change.path for change in changes])
        results = []
        new_versions: list[tuple[str, str, str, str, int, str]] = []
        new_files: list[tuple[str, str, str, str]] = []
        gone: list[tuple[str, str]] = []
        for change, content_digest in zip(changes, digests, strict=True):
            previous = current.get(change.path)
            target: str | None
            if change.kind == "save":
                assert change.data is not None
                target = _new_version_id()
            elif change.kind == "delete":
                target = None
            else:
                target = change.version
            action: Action
            if target == previous:
                action = "absent" if change.kind == "delete" else "unchanged"
                results.append(ChangeResult(change.path, action, previous, previous))
                continue
            if not owned:
                conn.execute("INSERT INTO projects VALUES (?, ?, ?)", (project_id, user_id, now))
                owned = True
            if target is None:
                gone.append((project_id, change.path))
                results.append(ChangeResult(change.path, "deleted", None, previous))
                continue
            if change.kind == "save":
                assert change.data is not None
                assert content_digest is not None
                digest, size = content_digest, len(change.data)
                new_versions.append((target, project_id, change.path, digest, size, now))
            else:
                digest, size = conn.execute(
                    "SELECT sha256, size FROM versions WHERE version_id = ?", (target,)
                ).fetchone()
            new_files.append((project_id, change.path, target, now))
            action = "saved" if change.kind == "save" else "restored"
            results.append(ChangeResult(change.path, action, target, previous, digest, size))
        # One statement each for all the paths (each path is changed once), versions
        # before the files that name them.
        conn.executemany("DELETE FROM files WHERE project_id = ? AND path = ?", gone)
        conn.executemany("INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?)", new_versions)
        conn.executemany(
            "INSERT INTO files VALUES (?, ?, ?, ?) ON CONFLICT (project_id, path) "
            "DO UPDATE SET version_id = excluded.version_id, updated_at = excluded.updated_at",
            new_files,
        )
        return results
