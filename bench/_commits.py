"""Counting the commits SQLite connections make, and reading the settings they run with.

Commits per saga are counted, not assumed: :class:`CommitCounter` sees every ``sqlite3``
connection opened while it is installed, ours and those SQLAlchemy opens for DBOS alike.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

_COMMIT = re.compile(r"\s*(COMMIT|END)\b", re.IGNORECASE)
_SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def settings(connection: sqlite3.Connection) -> dict[str, str]:
    """The ``journal_mode`` and ``synchronous`` in force on ``connection``, by name."""
    journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    sync = connection.execute("PRAGMA synchronous").fetchone()[0]
    return {
        "journal_mode": str(journal).upper(),
        "synchronous": _SYNCHRONOUS_NAMES.get(int(sync), str(sync)),
    }


class CommitCounter:
    """Counts ``COMMIT`` statements on every ``sqlite3`` connection opened while installed.

    Both ``sqlite3.connect`` and ``sqlite3.dbapi2.connect`` are wrapped, so connections
    opened by SQLAlchemy (DBOS) are seen as well as ours. Counting happens only between
    :meth:`start` and :meth:`stop`; :meth:`detach` removes the callbacks afterwards.
    """

    def __init__(self) -> None:
        self.commits = 0
        self.connections: list[sqlite3.Connection] = []
        self._active = False

    def _trace(self, statement: str) -> None:
        if self._active and _COMMIT.match(statement):
            self.commits += 1

    @contextmanager
    def installed(self) -> Iterator[CommitCounter]:
        originals = (sqlite3.connect, sqlite3.dbapi2.connect)
        connect = originals[0]

        def traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection = connect(*args, **kwargs)
            connection.set_trace_callback(self._trace)
            self.connections.append(connection)
            return connection

        sqlite3.connect = sqlite3.dbapi2.connect = traced_connect
        try:
            yield self
        finally:
            sqlite3.connect, sqlite3.dbapi2.connect = originals

    def start(self) -> None:
        self.commits = 0
        self._active = True

    def stop(self) -> int:
        self._active = False
        return self.commits

    def detach(self) -> None:
        """Take the trace callback off the connections that are still open."""
        for connection in self.connections:
            # A closed connection, or one owned by another thread, keeps an idle callback.
            with suppress(sqlite3.Error):
                connection.set_trace_callback(None)
        self.connections.clear()

    def settings(self) -> dict[str, str]:
        """``journal_mode`` and ``synchronous`` in force on the first open connection."""
        for connection in self.connections:
            with suppress(sqlite3.Error):
                return settings(connection)
        return {"journal_mode": "?", "synchronous": "?"}
