"""Saga logs: one contract (:class:`SagaLog`), three backends, opened from a URL.

=====================================  ==============================================
URL                                    backend
=====================================  ==============================================
``memory://``                          :class:`MemorySagaLog` (this process only)
``sqlite:///relative/or/abs/path.db``  ``SQLiteSagaLog`` (WAL; one machine)
``postgresql://user:pw@host/db``       ``PostgresSagaLog`` (several processes/machines)
=====================================  ==============================================

Backends other than memory are imported only when their URL is opened, so the engine needs
no database driver until one is used. :func:`read_schema_version` reads the schema version
a log records without opening it (opening upgrades it), for health checks.
:data:`shared_saga_logs` lends every saga of a process that names a log by URL the same
opened log (``_shared``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from distributed_saga._errors import SagaLogError
from distributed_saga.log._base import SagaLog
from distributed_saga.log._schema import SCHEMA_VERSION, read_schema_version
from distributed_saga.log._shared import SharedSagaLogs, shared_saga_logs
from distributed_saga.log.memory import MemorySagaLog

if TYPE_CHECKING:
    from distributed_saga.log.postgres import PostgresSagaLog
    from distributed_saga.log.sqlite import SQLiteSagaLog

__all__ = [
    "SCHEMA_VERSION",
    "MemorySagaLog",
    "PostgresSagaLog",
    "SQLiteSagaLog",
    "SagaLog",
    "SharedSagaLogs",
    "open_saga_log",
    "read_schema_version",
    "shared_saga_logs",
]


def open_saga_log(url: str, **options: Any) -> SagaLog:
    """Open the saga log named by ``url``; ``options`` go to the backend's constructor.

    ``sqlite:///data/sagas.db`` is a path relative to the working directory and
    ``sqlite:////var/lib/sagas.db`` an absolute one (SQLAlchemy's convention).
    """
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise SagaLogError(
            f"saga log URL {url!r} has no scheme (memory://, sqlite:///, postgresql://)"
        )
    scheme = scheme.lower()
    if scheme == "memory":
        return MemorySagaLog(url, **options)
    if scheme == "sqlite":
        from distributed_saga.log.sqlite import SQLiteSagaLog  # noqa: PLC0415 - lazy by design

        return SQLiteSagaLog.from_url(url, **options)
    if scheme in ("postgresql", "postgres"):
        from distributed_saga.log.postgres import PostgresSagaLog  # noqa: PLC0415 - lazy by design

        return PostgresSagaLog.from_url(url, **options)
    raise SagaLogError(f"unsupported saga log URL scheme {scheme!r} in {url!r}")


def __getattr__(name: str) -> Any:
    if name == "SQLiteSagaLog":
        from distributed_saga.log.sqlite import SQLiteSagaLog  # noqa: PLC0415

        return SQLiteSagaLog
    if name == "PostgresSagaLog":
        from distributed_saga.log.postgres import PostgresSagaLog  # noqa: PLC0415

        return PostgresSagaLog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
