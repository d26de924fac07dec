"""File contents: immutable, content-addressed blobs per project, small ones inline.

A blob never changes once stored, so writing a new version of a file never touches the
bytes an older version (or a concurrent reader) uses: the metadata database decides which
blob is current. Blobs live in one of two places:

- **inline**, for contents of at most :data:`INLINE_MAX_BYTES`: rows of the ``blobs``
  table of the metadata database, inserted in the same transaction that makes them
  current (:meth:`BlobStore.write_inline`). A request's small contents and its metadata
  are thus made durable together by one WAL sync, instead of one sync per content file
  (45 synced 4 KB files cost 20 times one synced 180 KB write), and a crash can never
  leave one of them orphaned: the transaction commits all of them or none.
- **as files**, for larger contents (:meth:`BlobStore.write_files`), under the service's
  root (``<data_dir>/filesystem``)::

      projects/<project_id>/objects/<sha256 of the content>

  Each is written to a temporary name, fsynced, renamed into place with ``os.replace``,
  and the directory is fsynced once per write request, before the metadata commit. A
  crash leaves at worst temporary files and unreferenced blobs, both removed by
  :meth:`BlobStore.sweep`. Data dirs written before inline blobs existed hold small
  contents as files too; reads look inline first, then on disk, so both keep working.

No symlink is ever followed below the root: every directory and blob is opened relative
to its parent's descriptor with ``O_NOFOLLOW``, so a symlink planted anywhere in the tree
(in place of a project directory, the objects directory or a blob) is refused with
:class:`~wikisaga.errors.UnsafeStorage` instead of being read or written
through. User-supplied paths never become disk paths; only validated project ids and
hex digests do.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

from wikisaga.errors import CorruptStorage, UnsafeStorage

__all__ = ["INLINE_MAX_BYTES", "INLINE_SCHEMA", "BlobCounter", "BlobStore"]

INLINE_MAX_BYTES = 256 * 1024
"""Contents up to this size are stored inline in the metadata database."""

INLINE_SCHEMA = """
CREATE TABLE IF NOT EXISTS blobs (
    project_id TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (project_id, sha256)
);
"""
"""The inline blobs' table, created in an existing data dir at the next start."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TMP_PREFIX = ".tmp-"
# Flushes of different files overlap well on real disks: a 2000-file batch writes ~4x
# faster with a few writers than with one. Small batches stay on the calling thread.
_WRITERS = 16
_PARALLEL_FROM = 8
# fdatasync also flushes the size of a new file, which is all a blob needs; the rename
# is made durable by the directory fsync.
_sync_data = getattr(os, "fdatasync", os.fsync)


def _unsafe(what: str, error: OSError | None = None) -> UnsafeStorage:
    reason = f" ({error.strerror})" if error is not None and error.strerror else ""
    return UnsafeStorage(f"refusing to use {what}: not a plain file or directory{reason}")


def _open_dir(parent_fd: int, name: str, *, create: bool, what: str) -> int | None:
    """Open directory ``name`` below ``parent_fd`` without following a symlink.

    Returns ``None`` when it is absent and ``create`` is false.
    """
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            return None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _unsafe(what, e) from e
        raise
    try:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    except FileExistsError:
        pass
    else:
        os.fsync(parent_fd)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _unsafe(what, e) from e
        raise


class BlobCounter:
    """Counts the blobs one write request has stored and calls a hook with each ordinal.

    Every distinct content of the request counts once, stored now or already present,
    inline or as a file, so that a fault hook fires at the N-th content of a request
    whatever was written before.
    """

    def __init__(self, hook: Callable[[int], None] | None) -> None:
        self._hook = hook
        self._lock = threading.Lock()
        self._stored = 0

    def __call__(self) -> None:
        if self._hook is None:
            return
        with self._lock:
            self._stored += 1
            ordinal = self._stored
        self._hook(ordinal)


def _check(digest: str, data: bytes) -> bytes:
    if hashlib.sha256(data).hexdigest() != digest:
        raise CorruptStorage(f"blob {digest} does not match its hash")
    return data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class BlobStore:
    """Content-addressed blobs per project, written durably, read without symlinks."""

    def __init__(self, root: Path, *, inline_max_bytes: int = INLINE_MAX_BYTES) -> None:
        self.inline_max_bytes = inline_max_bytes
        root.mkdir(parents=True, exist_ok=True)
        # The root itself is the operator's choice (it may be a symlink); below it, no.
        self._root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        projects = _open_dir(self._root_fd, "projects", create=True, what="the projects dir")
        assert projects is not None
        self._projects_fd = projects
        self._writers = ThreadPoolExecutor(_WRITERS, thread_name_prefix="blob-writer")
        self.after_blob: Callable[[int], None] | None = None
        """Test hook: called with the ordinal of each blob a write request has stored."""

    def close(self) -> None:
        """Stop the writer threads and release the directory descriptors."""
        self._writers.shutdown()
        for fd in (self._projects_fd, self._root_fd):
            os.close(fd)

    @contextmanager
    def _objects(self, project_id: str, *, create: bool) -> Iterator[int | None]:
        project_fd = _open_dir(
            self._projects_fd, project_id, create=create, what=f"project dir {project_id!r}"
        )
        if project_fd is None:
            yield None
            return
        try:
            objects_fd = _open_dir(
                project_fd, "objects", create=create, what=f"objects dir of {project_id!r}"
            )
        finally:
            os.close(project_fd)
        if objects_fd is None:
            yield None
            return
        try:
            yield objects_fd
        finally:
            os.close(objects_fd)

    def counter(self) -> BlobCounter:
        """A fresh count of one write request's blobs, reporting to :attr:`after_blob`."""
        return BlobCounter(self.after_blob)

    def partition(self, blobs: Mapping[str, bytes]) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """``blobs`` split into those stored inline and those stored as files."""
        inline: dict[str, bytes] = {}
        files: dict[str, bytes] = {}
        for digest, data in blobs.items():
            (inline if len(data) <= self.inline_max_bytes else files)[digest] = data
        return inline, files

    @staticmethod
    def write_inline(
        conn: sqlite3.Connection,
        project_id: str,
        blobs: Mapping[str, bytes],
        count: BlobCounter,
    ) -> None:
        """Insert ``blobs`` (sha256 hex -> bytes) of ``project_id`` in the open transaction.

        They become durable when the caller's transaction commits, together with the
        metadata that refers to them. A blob already stored is kept as it is.
        """
        for digest, data in blobs.items():
            conn.execute(
                "INSERT INTO blobs (project_id, sha256, data) VALUES (?, ?, ?) "
                "ON CONFLICT (project_id, sha256) DO NOTHING",
                (project_id, digest, data),
            )
            count()

    def write_files(self, project_id: str, blobs: Mapping[str, bytes], count: BlobCounter) -> None:
        """Durably store ``blobs`` (sha256 hex -> bytes) of ``project_id`` as files.

        Each new blob is fsynced and renamed into place; the directory is fsynced once at
        the end, so when this returns every blob survives a crash. Blobs already present
        as regular files of the right size are kept as they are.
        """
        if not blobs:
            return

        def write_one(objects_fd: int, digest: str, data: bytes) -> None:
            self._write_one(objects_fd, digest, data)
            count()

        with self._objects(project_id, create=True) as objects_fd:
            assert objects_fd is not None
            if len(blobs) < _PARALLEL_FROM:
                for digest, data in blobs.items():
                    write_one(objects_fd, digest, data)
            else:
                futures = [
                    self._writers.submit(write_one, objects_fd, digest, data)
                    for digest, data in blobs.items()
                ]
                # Wait for every writer before the descriptor closes; then report a failure.
                errors = [f.exception() for f in futures]
                for error in errors:
                    if error is not None:
                        raise error
            os.fsync(objects_fd)

    def _write_one(self, objects_fd: int, digest: str, data: bytes) -> None:
        try:
            existing = os.stat(digest, dir_fd=objects_fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            if stat.S_ISREG(existing.st_mode) and existing.st_size == len(data):
                return
            if stat.S_ISDIR(existing.st_mode):
                raise _unsafe(f"blob {digest}")
            # A symlink or a short file in a blob's place is replaced, never written through.
        tmp = f"{_TMP_PREFIX}{secrets.token_hex(8)}"
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=objects_fd,
        )
        try:
            try:
                _write_all(fd, data)
                _sync_data(fd)
            finally:
                os.close(fd)
            os.replace(tmp, digest, src_dir_fd=objects_fd, dst_dir_fd=objects_fd)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=objects_fd)
            raise

    def read(self, conn: sqlite3.Connection, project_id: str, digest: str) -> bytes:
        """The bytes of blob ``digest``, inline or on disk, checked against their hash.

        ``conn`` is in the caller's read transaction, the one that found ``digest``.
        """
        return self.read_many(conn, project_id, [digest])[digest]

    def read_many(
        self, conn: sqlite3.Connection, project_id: str, digests: Iterable[str]
    ) -> dict[str, bytes]:
        """The bytes of each blob in ``digests``, inline or on disk, checked against hashes."""
        found: dict[str, bytes] = {}
        on_disk = []
        for digest in digests:
            row = conn.execute(
                "SELECT data FROM blobs WHERE project_id = ? AND sha256 = ?",
                (project_id, digest),
            ).fetchone()
            if row is None:
                on_disk.append(digest)
            else:
                found[digest] = _check(digest, bytes(row[0]))
        if not on_disk:
            return found
        with self._objects(project_id, create=False) as objects_fd:
            if objects_fd is None:
                raise CorruptStorage(f"objects of project {project_id!r} are missing")
            for digest in on_disk:
                found[digest] = self._read_one(objects_fd, digest)
        return found

    def _read_one(self, objects_fd: int, digest: str) -> bytes:
        try:
            fd = os.open(digest, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=objects_fd)
        except FileNotFoundError as e:
            raise CorruptStorage(f"blob {digest} is missing") from e
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise _unsafe(f"blob {digest}", e) from e
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _unsafe(f"blob {digest}")
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(fd)
        return _check(digest, b"".join(chunks))

    def project_ids(self) -> list[str]:
        """Names of the project directories (for :meth:`sweep`)."""
        return sorted(
            entry.name
            for entry in os.scandir(self._projects_fd)
            if entry.is_dir(follow_symlinks=False)
        )

    @staticmethod
    def sweep_inline(conn: sqlite3.Connection, referenced: set[tuple[str, str]]) -> int:
        """Delete inline blobs whose ``(project_id, sha256)`` is not in ``referenced``.

        Inline blobs are inserted with the versions that use them, so none should be
        unreferenced; this only keeps the rule "no unreferenced blob survives a start".
        ``conn`` is in the caller's write transaction, the one that read ``referenced``.
        """
        stored = conn.execute("SELECT project_id, sha256 FROM blobs").fetchall()
        unreferenced = [key for key in map(tuple, stored) if key not in referenced]
        conn.executemany("DELETE FROM blobs WHERE project_id = ? AND sha256 = ?", unreferenced)
        return len(unreferenced)

    def sweep(self, project_id: str, referenced: Callable[[], set[str]]) -> int:
        """Remove temporary files and file blobs not in ``referenced()``; return how many.

        Only safe while no write to the project is under way (at startup).
        """
        removed = 0
        with self._objects(project_id, create=False) as objects_fd:
            if objects_fd is None:
                return 0
            keep = referenced()
            for entry in os.scandir(objects_fd):
                if entry.name in keep or not entry.is_file(follow_symlinks=False):
                    continue
                os.unlink(entry.name, dir_fd=objects_fd)
                removed += 1
            if removed:
                os.fsync(objects_fd)
        return removed
