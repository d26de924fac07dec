"""Generation jobs: one contract (:class:`JobStore`), SQLite and PostgreSQL backends, in the
saga log's database, opened from its URL.

============================  ==================================================
URL                           backend
============================  ==================================================
``sqlite:///path``            ``SQLiteJobStore`` (``BEGIN IMMEDIATE`` claims)
``postgresql://...``          ``PostgresJobStore`` (``FOR UPDATE SKIP LOCKED`` claims)
============================  ==================================================

:func:`open_job_store` takes the saga log URL: jobs live next to the sagas they run (a
``memory://`` log keeps its jobs in a SQLite file in the data directory). The contract is
documented in :mod:`wikisaga.jobs._base`.
"""

from __future__ import annotations

from pathlib import Path

from wikisaga.errors import JobStoreError
from wikisaga.jobs._base import ACTIVE_STATUSES, Job, JobStatus, JobStore

__all__ = ["ACTIVE_STATUSES", "Job", "JobStatus", "JobStore", "open_job_store"]


def open_job_store(
    saga_log_url: str, *, data_dir: Path | None = None, **options: object
) -> JobStore:
    """The job store in the database of the saga log at ``saga_log_url``."""
    scheme = saga_log_url.partition("://")[0].lower()
    if scheme == "sqlite":
        from wikisaga.jobs.sqlite import SQLiteJobStore  # noqa: PLC0415 - lazy by design

        return SQLiteJobStore.from_url(saga_log_url)
    if scheme in ("postgresql", "postgres"):
        from wikisaga.jobs.postgres import PostgresJobStore  # noqa: PLC0415

        return PostgresJobStore(saga_log_url, **options)  # type: ignore[arg-type]
    if scheme == "memory":
        from wikisaga.jobs.sqlite import SQLiteJobStore  # noqa: PLC0415

        return SQLiteJobStore((data_dir or Path(".wikisaga")) / "jobs.db")
    raise JobStoreError(f"no job store for saga log URL {saga_log_url!r}")
