"""``postgresql://`` — a saga log in PostgreSQL, shared by processes on several machines.

Needs psycopg 3 (``pip install 'wikisaga[postgres]'``), imported when a log is opened.
Lease times come from the server's clock; concurrent recoverers claim with
``FOR UPDATE SKIP LOCKED``, so no two receive the same saga.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from distributed_saga._errors import SagaLogError, SagaLogUnavailable
from distributed_saga.log._sql import Cursor, _SqlSagaLog

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresSagaLog"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

# SQLSTATE classes meaning "the server did not answer": connection exception (08),
# insufficient resources such as too many connections (53), operator intervention
# such as shutdown or a statement timeout (57).
_UNAVAILABLE_CLASSES = ("08", "53", "57")
# Serialises schema creation between processes opening a new database at once.
_SCHEMA_LOCK = 0x5A6A_5A6A


class PostgresSagaLog(_SqlSagaLog):
    """A saga log in the PostgreSQL database named by ``conninfo`` (a URL or ``key=value``).

    ``schema``, when given, is created if absent and holds the log's tables (it is put
    first on each connection's ``search_path``). Up to ``pool_size`` connections are
    opened, one per concurrent call; a connection that breaks is replaced on the next call.
    ``connect_timeout`` (seconds) applies unless ``conninfo`` sets its own.
    """

    _PARAM = "%s"
    _NOW = "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)"
    _JSON = "JSONB"
    _JSON_PARAM = "CAST(? AS JSONB)"
    _SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
    ) -> None:
        try:
            import psycopg  # noqa: PLC0415 - optional dependency, needed only here
            from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: PLC0415
        except ImportError as exc:
            raise SagaLogError(
                "a PostgreSQL saga log needs psycopg 3: pip install 'wikisaga[postgres]'"
            ) from exc
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        self._psycopg = psycopg
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.Error:
            # Not chained: the driver's message may quote the conninfo, password and all.
            raise SagaLogError("invalid PostgreSQL conninfo (URL or key=value)") from None
        if "://" in conninfo:
            self.url = _redact_url(conninfo)
        else:
            self.url = make_conninfo("", **{k: v for k, v in params.items() if k != "password"})
        if "connect_timeout" not in params:
            conninfo = make_conninfo(conninfo, connect_timeout=max(1, round(connect_timeout)))
        self._conninfo = conninfo
        self._schema_name = schema
        self._schema = None if schema is None else _quote(schema)
        self._prepare_queries()
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._slots = threading.BoundedSemaphore(pool_size)
        self._closed = False
        try:
            self._run(self._setup)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresSagaLog:
        """Open ``postgresql://user:password@host:port/dbname``; ``options`` as for the class."""
        return cls(url, **options)

    def _setup(self, cur: Cursor) -> None:
        cur.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        if self._schema is not None:
            # Looked up first: CREATE SCHEMA IF NOT EXISTS needs the database's CREATE
            # privilege even when the schema exists, which an application role may lack.
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema_name,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE SCHEMA {self._schema}")
        self._migrate(cur)

    def _load_json(self, value: Any) -> Any:
        return value  # psycopg decodes JSONB itself

    # -- connections ------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        conn = self._psycopg.connect(self._conninfo, autocommit=False)
        try:
            if self._schema is not None:
                conn.execute("SELECT set_config('search_path', %s, false)", (self._schema,))
                conn.commit()
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(
        self,
        work: Callable[Concatenate[Cursor, _P], _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        psycopg = self._psycopg
        self._slots.acquire()
        conn = None
        try:
            with self._lock:
                if self._closed:
                    raise SagaLogError(f"saga log {self.url} is closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = self._connect()
            with conn.cursor() as cur:
                result = work(cur, *args, **kwargs)
            conn.commit()
            return result
        except BaseException as exc:
            if conn is not None and not conn.broken and not conn.closed:
                try:
                    conn.rollback()
                except psycopg.Error:
                    conn.close()  # its state is unknown; the next call connects afresh
            if isinstance(exc, psycopg.Error):
                raise self._translate(exc) from exc
            raise
        finally:
            if conn is not None:
                self._release(conn)
            self._slots.release()

    def _release(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            keep = not (self._closed or conn.closed or conn.broken)
            if keep:
                self._idle.append(conn)
        if not keep:
            conn.close()

    def _translate(self, exc: psycopg.Error) -> SagaLogError:
        sqlstate = exc.sqlstate
        if isinstance(exc, self._psycopg.OperationalError) and (
            sqlstate is None or sqlstate[:2] in _UNAVAILABLE_CLASSES
        ):
            return SagaLogUnavailable(f"saga log {self.url} did not answer: {exc}")
        return SagaLogError(f"saga log {self.url} failed: {exc}")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _redact_url(url: str) -> str:
    """``url`` without its password, fit to show in logs and errors."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}{at}{hostport}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit(parts._replace(netloc=netloc, query=query))
