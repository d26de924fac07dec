"""Making what the git service wrote survive a power loss, not only a crash of the process.

A file's bytes reach the disk with ``fsync`` of the file; its name (a new file, a rename)
only with ``fsync`` of the directory that holds it. Both are needed before an answer says
that something was made: the saga that asked records the step as done, and a snapshot
the log calls done must still be there after the machine restarts.

Several syncs that do not depend on one another are made at once (:func:`fsync_all`), by
a few threads: a journaling filesystem then commits them together, where one after the
other each would wait for a commit of its own.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["ProcessThreads", "create_file", "fsync_all", "fsync_built"]


class ProcessThreads:
    """A thread pool of this process, made when first needed. A forked child has none of
    its parent's threads: it makes a pool of its own, under a lock of its own (the
    parent's may have been held by a thread that is not there), instead of queueing work
    for threads that do not exist and waiting for ever."""

    def __init__(self, workers: int, name: str) -> None:
        self._workers, self._name = workers, name
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=self._name)
            return self._pool


_syncers = ProcessThreads(4, "git-fsync")


def _fsync(path: Path) -> None:
    """Sync the file or directory ``path``. A directory that is gone (git removes a ref's
    directory once it is empty) is synced as the removal it is: in the nearest directory
    above it that still exists."""
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            if path.parent == path:
                raise
            path = path.parent
            continue
        break
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_all(paths: Iterable[Path]) -> None:
    """Sync each of ``paths`` (files, or directories for the names in them) once, at the
    same time; return when all are synced, raising the first error if one failed."""
    unique = list(dict.fromkeys(paths))
    if len(unique) < 2:
        for path in unique:
            _fsync(path)
        return
    pool = _syncers.get()
    later = [pool.submit(_fsync, path) for path in unique[1:]]
    try:
        _fsync(unique[0])
    finally:
        errors = [future.exception() for future in later]
    for error in errors:
        if error is not None:
            raise error


def fsync_built(root: Path, paths: Iterable[Path]) -> None:
    """Sync ``paths`` (files and directories below ``root``) and every directory from
    ``root`` down to each of them, all at once: what a directory built privately needs
    on disk before the one rename that makes it visible. Only what is named is synced,
    and its ancestors (a whole tree is more syncs than it needs)."""
    wanted = [root]
    for path in paths:
        wanted += [path, *(root / above for above in path.relative_to(root).parents[:-1])]
    fsync_all(wanted)


def create_file(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Create ``path`` (it must not exist) holding ``data``, not synced: the caller syncs
    it with whatever else must reach the disk at the same time (:func:`fsync_all`)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
