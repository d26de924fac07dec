"""``postgresql://`` — jobs in the PostgreSQL database of a shared saga log.

Claims use ``FOR UPDATE SKIP LOCKED``: backends sharing the database never claim the same
job, and none waits for another's claim. Claim leases are stamped and compared on the
server's clock. Needs psycopg 3, imported when opened.

Frozen peers
    A store's transactions span several round trips. A backend frozen inside one (a
    stopped process, a paused VM, a network partition) would keep its row locks for good,
    and every other backend's store would wait on those rows, holding its own lock, so
    all that backend's job requests would hang with it. Job-store transactions take
    milliseconds, so each session sets ``idle_in_transaction_session_timeout``
    (``idle_transaction_timeout``, 5 s by default): the server ends a session idle inside
    a transaction that long, rolling it back and releasing its locks. A store whose
    session was ended (or whose connection broke) connects again on its next call; a
    call whose statements failed on a lost connection was not committed and runs once
    more on the new one, and so does one whose ``COMMIT`` found its session ended for
    idling (the server rolled it back: a frozen process woken up). A connection lost
    during the ``COMMIT`` for any other reason leaves the outcome unknown: that call
    raises :class:`~wikisaga.errors.JobStoreError`, and is not repeated.
"""

from __future__ import annotations

import math
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
_MAX_TIMEOUT_MS = 2**31 - 1  # the largest idle_in_transaction_session_timeout


class PostgresJobStore(SqlJobStore):
    """Jobs in the database named by ``url``; ``schema`` (created if absent) holds them.

    ``idle_transaction_timeout`` (seconds, > 0) is how long the server lets this store's
    session sit idle inside a transaction before ending it: the bound on how long a
    frozen backend's locks can block the others (see the module docstring).
    """

    _PARAM = "%s"
    _SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        connect_timeout: float = 10.0,
        idle_transaction_timeout: float = 5.0,
    ):
        timeout_ms = _timeout_ms(idle_transaction_timeout)
        try:
            import psycopg  # noqa: PLC0415 - optional dependency
        except ImportError as exc:
            raise JobStoreError("a PostgreSQL job store needs psycopg 3") from exc
        self._psycopg = psycopg
        self.url = url.rsplit("@", maxsplit=1)[-1] if "@" in url else url
        self._dsn = url
        self._connect_timeout = int(connect_timeout)
        self._schema = None if not schema else '"' + schema.replace('"', '""') + '"'
        self._idle_timeout_ms = timeout_ms
        self._lock = threading.Lock()
        self._closed = False
        self._conn: Any = None
        self._conn = self._connect(create_schema=True)
        try:
            self._run(self._locked_migrate)
        except BaseException:
            self.close()
            raise

    def _connect(self, *, create_schema: bool = False) -> Any:
        """A new session, set up: the schema on ``search_path``, the idle timeout set."""
        psycopg = self._psycopg
        verb = "open" if create_schema else "reconnect to"
        try:
            conn = psycopg.connect(self._dsn, connect_timeout=self._connect_timeout)
        except psycopg.Error as exc:
            raise JobStoreError(f"cannot {verb} job store {self.url}: {exc}") from exc
        try:
            if self._schema is not None:
                if create_schema:
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
                conn.execute(f"SET search_path TO {self._schema}")
            conn.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, false)",
                (str(self._idle_timeout_ms),),
            )
            conn.commit()
        except BaseException as exc:
            conn.close()
            if isinstance(exc, psycopg.Error):
                raise JobStoreError(f"cannot {verb} job store {self.url}: {exc}") from exc
            raise
        return conn

    def _session(self) -> Any:
        """The open connection, connecting again when the last one was lost."""
        conn = self._conn
        if conn is None or conn.broken or conn.closed:
            self._conn = None
            if conn is not None:
                conn.close()
            self._conn = conn = self._connect()
        return conn

    def _locked_migrate(self, cur: Cursor) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        self._migrate(cur)

    def _run(
        self, work: Callable[Concatenate[Cursor, _P], _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        psycopg = self._psycopg
        with self._lock:
            if self._closed:
                raise JobStoreError(f"job store {self.url} is closed")
            retried = False
            while True:
                conn = self._session()
                committing = False
                try:
                    with conn.cursor() as cur:
                        result = work(cur, *args, **kwargs)
                    committing = True
                    conn.commit()
                except BaseException as exc:
                    lost = conn.broken or conn.closed
                    if not lost:
                        self._rollback(conn)
                    if not isinstance(exc, psycopg.Error) or self._is_unique_violation(exc):
                        raise
                    if lost and committing and not self._ended_idle(exc):
                        raise JobStoreError(
                            f"job store {self.url} lost its connection while committing; "
                            f"whether the change was stored is unknown: {exc}"
                        ) from exc
                    if lost and not retried:
                        # Lost before the COMMIT was sent, or ended by the server for
                        # idling in the transaction: nothing was stored, so the work runs
                        # again, once, on a new session.
                        retried = True
                        continue
                    raise JobStoreError(f"job store {self.url} failed: {exc}") from exc
                return result

    def _ended_idle(self, exc: BaseException) -> bool:
        """Whether the server ended the session for idling in its transaction, which it
        then rolled back: a frozen process's COMMIT fails with this, certainly unstored."""
        return isinstance(exc, self._psycopg.errors.IdleInTransactionSessionTimeout)

    def _rollback(self, conn: Any) -> None:
        """Roll back after a failure; a connection that fails even that is closed (the
        next call connects again), so the failure raised is the first one."""
        try:
            conn.rollback()
        except self._psycopg.Error:
            conn.close()

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
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _timeout_ms(seconds: float) -> int:
    """``idle_transaction_timeout`` in whole milliseconds, refused unless positive."""
    if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
        raise ValueError(
            f"idle_transaction_timeout must be a positive number of seconds, not {seconds!r}"
        )
    return min(max(1, round(seconds * 1000)), _MAX_TIMEOUT_MS)
