"""The schema version a saga log records, read without opening it.

Opening a log brings its schema up to :data:`~distributed_saga.log._sql.SCHEMA_VERSION`
(it writes); a health check must not, so :func:`read_schema_version` only reads, through a
read-only connection.
"""

from __future__ import annotations

import sqlite3
from urllib.parse import quote, unquote, urlsplit

from distributed_saga._errors import SagaLogError, SagaLogUnavailable
from distributed_saga.log._sql import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "read_schema_version"]

_QUERY = "SELECT max(version) FROM saga_schema_version"


def read_schema_version(url: str, *, timeout: float = 10.0, schema: str | None = None) -> int:
    """The schema version the saga log at ``url`` records, read without writing anything.

    ``0`` means the database holds no saga log (yet). ``memory://`` is always current.
    Compare with :data:`SCHEMA_VERSION`: below it, opening the log upgrades it in place;
    above it, opening is refused. Raises :class:`~distributed_saga.SagaLogUnavailable`
    when the database cannot be reached (for SQLite: the file does not exist) and
    :class:`~distributed_saga.SagaLogError` for a URL it cannot read. ``schema`` is the
    PostgreSQL schema holding the log, as for ``PostgresSagaLog``.
    """
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return SCHEMA_VERSION
    if scheme == "sqlite":
        return _sqlite_version(url, timeout)
    if scheme in ("postgresql", "postgres"):
        return _postgres_version(url, timeout, schema)
    raise SagaLogError(f"unsupported saga log URL {url!r}")


def _sqlite_version(url: str, timeout: float) -> int:
    parts = urlsplit(url)
    path = unquote(parts.path[1:]) if parts.path.startswith("/") and not parts.netloc else ""
    if not path:
        raise SagaLogError(f"expected sqlite:///path, got {url!r}")
    # mode=ro never creates the file nor writes to it (a missing one fails to open).
    target = f"file:{quote(path)}?mode=ro"
    try:
        conn = sqlite3.connect(target, uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise SagaLogUnavailable(f"cannot open saga log {url} to read: {exc}") from exc
    try:
        found = conn.execute(_QUERY).fetchone()[0]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise SagaLogUnavailable(f"cannot read saga log {url}: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        raise SagaLogError(f"{url} is not a saga log: {exc}") from exc
    finally:
        conn.close()
    return 0 if found is None else int(found)


def _postgres_version(url: str, timeout: float, schema: str | None) -> int:
    try:
        import psycopg  # noqa: PLC0415 - optional dependency, needed only here
        from psycopg import errors  # noqa: PLC0415
    except ImportError as exc:
        raise SagaLogError(
            "a PostgreSQL saga log needs psycopg 3: pip install 'wikisaga[postgres]'"
        ) from exc
    try:
        conn = psycopg.connect(url, connect_timeout=max(1, round(timeout)))
    except psycopg.Error as exc:
        # Not chained: the driver's message may quote the conninfo, password and all.
        raise SagaLogUnavailable(
            f"cannot reach the saga log's PostgreSQL server: {type(exc).__name__}"
        ) from None
    try:
        conn.read_only = True
        with conn.cursor() as cur:
            if schema is not None:
                quoted = '"' + schema.replace('"', '""') + '"'
                cur.execute("SELECT set_config('search_path', %s, true)", (quoted,))
            try:
                row = cur.execute(_QUERY).fetchone()
            except errors.UndefinedTable:
                return 0
    except psycopg.Error as exc:
        raise SagaLogUnavailable(f"cannot read the saga log: {type(exc).__name__}") from None
    finally:
        conn.close()
    return 0 if row is None or row[0] is None else int(row[0])
