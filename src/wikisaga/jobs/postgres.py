"""``postgresql://`` — jobs in the PostgreSQL database of a shared saga log.

Claims use ``FOR UPDATE SKIP LOCKED``: backends sharing the database never claim the same
job, and none waits for another's claim. Claim leases are stamped and compared on the
server's clock. Needs psycopg 3, imported when opened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from distributed_saga.log._sql import Cursor
from wikisaga.errors import JobStoreError
from wikisaga.jobs._sql import SqlJobStore

__all__ = ["PostgresJobStore"]

_P = ParamSpec("_P")
_T = TypeVar("_T")
_SCHEMA_LOCK = 0x6A0B_5A6A  # serialises schema creation between processes


class PostgresJobStore(SqlJobStore):
    """Jobs in the database named by ``url``; ``schema`` (created if absent) holds them."""

    _PARAM = "%s"
    _SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"

    def __init__(self, url: str, *, schema: str | None = None, connect_timeout: float = 10.0):
        try:
            import psycopg  # noqa: PLC0415 - optional dependency
        except ImportError as exc:
            raise JobStoreError("a PostgreSQL job store needs psycopg 3") from exc
        self._psycopg = psycopg
        self.url = url.rsplit("@", maxsplit=1)[-1] if "@" in url else url
        self._lock = threading.Lock()
        try:
            self._conn: Any = psycopg.connect(url, connect_timeout=int(connect_timeout))
            if schema:
                quoted = '"' + schema.replace('"', '""') + '"'
                self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
                self._conn.execute(f"SET search_path TO {quoted}")
                self._conn.commit()
        except psycopg.Error as exc:
            raise JobStoreError(f"cannot open job store {self.url}: {exc}") from exc
        self._run(self._locked_migrate)

    def _locked_migrate(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        self._migrate(cur)

    def _run(
        self, work: Callable[Concatenate[Cursor, _P], _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        with self._lock:
            if self._conn is None or self._conn.closed:
                raise JobStoreError(f"job store {self.url} is closed")
            try:
                with self._conn.cursor() as cur:
                    result = work(cur, *args, **kwargs)
                self._conn.commit()
            except BaseException as exc:
                self._conn.rollback()
                if isinstance(exc, self._psycopg.Error) and not self._is_unique_violation(exc):
                    raise JobStoreError(f"job store {self.url} failed: {exc}") from exc
                raise
            return result

    def _is_unique_violation(self, exc: BaseException) -> bool:
        return isinstance(exc, self._psycopg.errors.UniqueViolation)

    def _columns(self, cur: Cursor) -> set[str]:
        cur.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'wiki_job' AND table_schema = current_schema()"
        )
        return {str(row[0]) for row in cur.fetchall()}

    def _clock(self, cur: Cursor) -> float:
        # The server's clock: backends on several hosts compare leases on one clock.
        cur.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())")
        row = cur.fetchone()
        assert row is not None
        return float(row[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
