"""File contents on disk: immutable, content-addressed blobs, one directory per project.

Layout under the service's root (``<data_dir>/filesystem``)::

    projects/<project_id>/objects/<sha256 of the content>

A blob never changes once written, so writing a new version of a file never touches the
bytes an older version (or a concurrent reader) uses: the metadata database decides which
blob is current. A blob is written to a temporary name, fsynced, renamed into place with
``os.replace``, and the directory is fsynced once per write request. A crash leaves at
worst temporary files and unreferenced blobs, both removed by :meth:`BlobStore.sweep`.

No symlink is ever followed below the root: every directory and blob is opened relative
to its parent's descriptor with ``O_NOFOLLOW``, so a symlink planted anywhere in the tree
(in place of a project directory, the objects directory or a blob) is refused with
:class:`~wikisaga.services._common.errors.UnsafeStorage` instead of being read or written
through. User-supplied paths never become disk paths; only validated project ids and
hex digests do.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

from wikisaga.services._common.errors import ServiceError, UnsafeStorage

__all__ = ["BlobStore", "CorruptStorage"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TMP_PREFIX = ".tmp-"
# Flushes of different files overlap well on real disks: a 2000-file batch writes ~4x
# faster with a few writers than with one. Small batches stay on the calling thread.
_WRITERS = 16
_PARALLEL_FROM = 8
# fdatasync also flushes the size of a new file, which is all a blob needs; the rename
# is made durable by the directory fsync.
_sync_data = getattr(os, "fdatasync", os.fsync)


class CorruptStorage(ServiceError):
    """A blob the metadata refers to is missing or does not hash to its name."""

    code = "corrupt_storage"


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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class BlobStore:
    """Content-addressed blobs per project, written durably, read without symlinks."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        # The root itself is the operator's choice (it may be a symlink); below it, no.
        self._root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        projects = _open_dir(self._root_fd, "projects", create=True, what="the projects dir")
        assert projects is not None
        self._projects_fd = projects
        self._writers = ThreadPoolExecutor(_WRITERS, thread_name_prefix="blob-writer")
        self.after_blob: Callable[[int], None] | None = None
        """Test hook: called with the ordinal of each blob a write has put on disk."""

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

    def write(self, project_id: str, blobs: Mapping[str, bytes]) -> None:
        """Durably store ``blobs`` (sha256 hex -> bytes) of ``project_id``.

        Each new blob is fsynced and renamed into place; the directory is fsynced once at
        the end, so when this returns every blob survives a crash. Blobs already present
        as regular files of the right size are kept as they are.
        """
        if not blobs:
            return
        write_one: Callable[[int, str, bytes], None] = self._write_one
        if self.after_blob is not None:
            write_one = self._counting(self.after_blob)
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

    def _counting(self, hook: Callable[[int], None]) -> Callable[[int, str, bytes], None]:
        """``_write_one`` that calls ``hook`` with each blob's ordinal in this request."""
        lock = threading.Lock()
        written = [0]

        def write_one(objects_fd: int, digest: str, data: bytes) -> None:
            self._write_one(objects_fd, digest, data)
            with lock:
                written[0] += 1
                ordinal = written[0]
            hook(ordinal)

        return write_one

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

    def read(self, project_id: str, digest: str) -> bytes:
        """The bytes of blob ``digest``, checked against their hash."""
        with self._objects(project_id, create=False) as objects_fd:
            if objects_fd is None:
                raise CorruptStorage(f"objects of project {project_id!r} are missing")
            return self._read_one(objects_fd, digest)

    def read_many(self, project_id: str, digests: list[str]) -> dict[str, bytes]:
        """The bytes of each blob in ``digests``, checked against their hashes."""
        if not digests:
            return {}
        with self._objects(project_id, create=False) as objects_fd:
            if objects_fd is None:
                raise CorruptStorage(f"objects of project {project_id!r} are missing")
            return {digest: self._read_one(objects_fd, digest) for digest in digests}

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
        data = b"".join(chunks)
        if hashlib.sha256(data).hexdigest() != digest:
            raise CorruptStorage(f"blob {digest} does not match its hash")
        return data

    def project_ids(self) -> list[str]:
        """Names of the project directories (for :meth:`sweep`)."""
        return sorted(
            entry.name
            for entry in os.scandir(self._projects_fd)
            if entry.is_dir(follow_symlinks=False)
        )

    def sweep(self, project_id: str, referenced: Callable[[], set[str]]) -> int:
        """Remove temporary files and blobs not in ``referenced()``; return how many.

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
