"""One lock per project id: writes to one project run one at a time, projects in parallel.

:class:`ProjectLocks` is for blocking code (sync route handlers run in a thread pool);
:class:`AsyncProjectLocks` for coroutines. A lock exists only while someone holds or waits
for it, so the tables do not grow with the number of projects ever seen.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

__all__ = ["AsyncProjectLocks", "ProjectLocks"]


class ProjectLocks:
    """Per-project mutual exclusion for threads."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, project_id: str) -> Iterator[None]:
        """Hold the lock of ``project_id`` for the duration of the ``with`` block."""
        with self._guard:
            lock, users = self._locks.get(project_id, (None, 0))
            if lock is None:
                lock = threading.Lock()
            self._locks[project_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                _, users = self._locks[project_id]
                if users == 1:
                    del self._locks[project_id]
                else:
                    self._locks[project_id] = (lock, users - 1)

    def __len__(self) -> int:
        """How many projects have a holder or a waiter right now."""
        with self._guard:
            return len(self._locks)


class AsyncProjectLocks:
    """Per-project mutual exclusion for coroutines of one event loop."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, project_id: str) -> AsyncIterator[None]:
        """Hold the lock of ``project_id`` for the duration of the ``async with`` block."""
        lock, users = self._locks.get(project_id, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[project_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            _, users = self._locks[project_id]
            if users == 1:
                del self._locks[project_id]
            else:
                self._locks[project_id] = (lock, users - 1)

    def __len__(self) -> int:
        """How many projects have a holder or a waiter right now."""
        return len(self._locks)
