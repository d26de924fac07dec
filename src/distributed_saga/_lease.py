"""Who we are to the saga log, and the heartbeat that keeps our leases alive."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
import weakref
from typing import ClassVar

from distributed_saga._errors import SagaLogError
from distributed_saga.log._base import SagaLog

__all__ = ["LeaseKeeper", "process_owner"]

logger = logging.getLogger("distributed_saga")

_owner_lock = threading.Lock()
_owner: tuple[int, str] | None = None


def process_owner() -> str:
    """A name for this process in the saga log: ``host:pid:random``.

    The random part makes a reused pid (after a restart) a different owner. A forked
    child gets its own name.
    """
    global _owner  # noqa: PLW0603 - one name per process, recomputed after fork
    with _owner_lock:
        pid = os.getpid()
        if _owner is None or _owner[0] != pid:
            _owner = (pid, f"{socket.gethostname()}:{pid}:{uuid.uuid4().hex[:8]}")
        return _owner[1]


class LeaseKeeper:
    """Renews, in one background thread per (log, owner), the leases of live sagas.

    A saga registers itself while it runs and unregisters when it finishes, is dropped, or
    its process is interrupted; a saga that is no longer renewed becomes claimable by
    recovery once its lease expires. Renewal is one statement for all the sagas.
    """

    _keepers: ClassVar[weakref.WeakKeyDictionary[SagaLog, dict[str, LeaseKeeper]]] = (
        weakref.WeakKeyDictionary()
    )
    _keepers_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, log: SagaLog, owner: str, interval: float) -> None:
        self._log = log
        self._owner = owner
        self._interval = interval
        self._saga_ids: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_log(cls, log: SagaLog, owner: str, lease_seconds: float) -> LeaseKeeper:
        """The keeper shared by every saga of ``owner`` on ``log``."""
        with cls._keepers_lock:
            by_owner = cls._keepers.setdefault(log, {})
            keeper = by_owner.get(owner)
            if keeper is None:
                keeper = by_owner[owner] = cls(log, owner, lease_seconds / 3.0)
            elif lease_seconds / 3.0 < keeper._interval:
                keeper._interval = lease_seconds / 3.0
                keeper._wake.set()  # a shorter lease: do not sleep out the longer interval
            return keeper

    def add(self, saga_id: str) -> None:
        """Start renewing ``saga_id``'s lease."""
        with self._lock:
            self._saga_ids.add(saga_id)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"saga-lease-{self._owner}", daemon=True
                )
                self._thread.start()

    def discard(self, saga_id: str) -> None:
        """Stop renewing ``saga_id``'s lease."""
        with self._lock:
            self._saga_ids.discard(saga_id)

    def _run(self) -> None:
        # The thread outlives its last saga by up to one interval, so that a process
        # running sagas one after another starts it once, not once per saga.
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            with self._lock:
                saga_ids = list(self._saga_ids)
                if not saga_ids:
                    self._thread = None
                    return
            try:
                self._log.renew_leases(self._owner, saga_ids)
            except SagaLogError as exc:
                # The next fenced write will tell the saga whether it still owns itself.
                logger.warning("could not renew saga leases for %s: %s", self._owner, exc)
