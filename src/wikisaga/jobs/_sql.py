"""The job store in SQL, written once for SQLite and PostgreSQL.

:class:`SqlJobStore` holds the schema and every query; a backend supplies the dialect
hooks (:attr:`_PARAM`, :attr:`_SKIP_LOCKED`), :meth:`_run` (one unit of work in one
transaction, driver errors translated) and :meth:`_is_unique_violation`. Public methods
own the transaction; ``_name(cur, ...)`` helpers do the work inside it.
"""

# Queries are built from this module's constants and enum values; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import abc
import json
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from distributed_saga.log._sql import Cursor
from wikisaga.errors import IdempotencyKeyReused, JobConflict, JobNotFound
from wikisaga.jobs._base import ACTIVE_STATUSES, Job, JobStatus, JobStore

__all__ = ["SqlJobStore"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_ACTIVE = ", ".join(f"'{status.value}'" for status in sorted(ACTIVE_STATUSES))
_COLUMNS = (
    "job_id, project_id, user_id, saga_id, status, force, idempotency_key, steps, result, "
    "error, saga_status, created_at, started_at, finished_at, updated_at"
)
_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS wiki_job (
        job_id TEXT NOT NULL PRIMARY KEY,
        project_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        saga_id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ({", ".join(f"'{s.value}'" for s in JobStatus)})),
        force INTEGER NOT NULL DEFAULT 0,
        idempotency_key TEXT,
        steps TEXT NOT NULL DEFAULT '{{}}',
        result TEXT,
        error TEXT,
        saga_status TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        updated_at DOUBLE PRECISION NOT NULL,
        UNIQUE (user_id, idempotency_key)
    )""",
    # The one-generation-per-project rule, kept by the database itself.
    f"""CREATE UNIQUE INDEX IF NOT EXISTS wiki_job_one_active
        ON wiki_job (project_id) WHERE status IN ({_ACTIVE})""",
    "CREATE INDEX IF NOT EXISTS wiki_job_by_project ON wiki_job (project_id, created_at)",
)


def new_job_id() -> str:
    """A fresh job id: ``job-`` and 24 hex digits."""
    return f"job-{secrets.token_hex(12)}"


def _dump(value: Mapping[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(dict(value), sort_keys=True, default=str)


def _load(value: str | None) -> dict[str, Any] | None:
    return None if value is None else dict(json.loads(value))


class SqlJobStore(JobStore):
    """The queries; see the module docstring for what a backend adds."""

    _PARAM: ClassVar[str] = "?"
    _SKIP_LOCKED: ClassVar[str] = ""

    @abc.abstractmethod
    def _run(
        self, work: Callable[Concatenate[Cursor, _P], _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Run ``work(cursor, ...)`` in one write transaction; translate driver errors
        to :class:`~wikisaga.errors.JobStoreError` (unique violations pass through)."""

    @abc.abstractmethod
    def _is_unique_violation(self, exc: BaseException) -> bool: ...

    def _q(self, query: str) -> str:
        return query.replace("?", self._PARAM)

    def _migrate(self, cur: Cursor) -> None:
        for statement in _SCHEMA:
            cur.execute(statement)

    # -- the contract ---------------------------------------------------------------------

    def create(
        self,
        project_id: str,
        user_id: str,
        *,
        saga_id: str,
        force: bool = False,
        idempotency_key: str | None = None,
    ) -> tuple[Job, bool]:
        try:
            return self._run(self._create, project_id, user_id, saga_id, force, idempotency_key)
        except Exception as exc:
            if not self._is_unique_violation(exc):
                raise
        # Another process created the project's job (or this key's) between our check
        # and our insert: the second look finds it and answers as if it had been first.
        return self._run(self._create, project_id, user_id, saga_id, force, idempotency_key)

    def claim(self, job_id: str | None = None) -> Job | None:
        return self._run(self._claim, job_id)

    def record_step(
        self, job_id: str, step: str, state: str, details: Mapping[str, Any] | None = None
    ) -> None:
        self._run(self._record_step, job_id, step, state, dict(details or {}))

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        saga_status: Mapping[str, Any] | None = None,
    ) -> Job:
        if status in ACTIVE_STATUSES:
            raise ValueError(f"a job finishes as succeeded or failed, not {status.value}")
        return self._run(self._finish, job_id, status, result, error, saga_status)

    def get(self, job_id: str) -> Job:
        return self._run(self._get, job_id)

    def find_by_saga(self, saga_id: str) -> Job | None:
        rows = self._run(self._select, "saga_id = ?", (saga_id,), 1)
        return rows[0] if rows else None

    def list_jobs(
        self,
        *,
        project_id: str | None = None,
        statuses: frozenset[JobStatus] | None = None,
        limit: int = 100,
    ) -> list[Job]:
        where, params = ["1 = 1"], []
        if project_id is not None:
            where.append("project_id = ?")
            params.append(project_id)
        if statuses:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(sorted(status.value for status in statuses))
        return self._run(self._select, " AND ".join(where), tuple(params), limit)

    # -- the work, inside one transaction -------------------------------------------------

    def _create(
        self,
        cur: Cursor,
        project_id: str,
        user_id: str,
        saga_id: str,
        force: bool,
        idempotency_key: str | None,
    ) -> tuple[Job, bool]:
        if idempotency_key is not None:
            known = self._select(
                cur, "user_id = ? AND idempotency_key = ?", (user_id, idempotency_key), 1
            )
            if known:
                if known[0].project_id != project_id:
                    raise IdempotencyKeyReused(
                        f"Idempotency-Key {idempotency_key!r} was used for project "
                        f"{known[0].project_id!r}, not {project_id!r}"
                    )
                return known[0], False
        active = self._select(cur, f"project_id = ? AND status IN ({_ACTIVE})", (project_id,), 1)
        if active:
            raise JobConflict(
                f"project {project_id!r} has a generation in flight: job "
                f"{active[0].job_id} (saga {active[0].saga_id})",
                job_id=active[0].job_id,
                saga_id=active[0].saga_id,
            )
        now = time.time()
        job_id = new_job_id()
        cur.execute(
            self._q(
                "INSERT INTO wiki_job (job_id, project_id, user_id, saga_id, status, force, "
                "idempotency_key, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                job_id,
                project_id,
                user_id,
                saga_id,
                JobStatus.QUEUED.value,
                int(force),
                idempotency_key,
                now,
                now,
            ),
        )
        return self._get(cur, job_id), True

    def _claim(self, cur: Cursor, job_id: str | None) -> Job | None:
        where = "status = ?" + (" AND job_id = ?" if job_id is not None else "")
        params: tuple[Any, ...] = (JobStatus.QUEUED.value,)
        if job_id is not None:
            params += (job_id,)
        cur.execute(
            self._q(
                f"SELECT job_id FROM wiki_job WHERE {where} ORDER BY created_at "
                f"LIMIT 1{self._SKIP_LOCKED}"
            ),
            params,
        )
        row = cur.fetchone()
        if row is None:
            return None
        now = time.time()
        cur.execute(
            self._q(
                "UPDATE wiki_job SET status = ?, started_at = ?, updated_at = ? "
                "WHERE job_id = ? AND status = ?"
            ),
            (JobStatus.RUNNING.value, now, now, row[0], JobStatus.QUEUED.value),
        )
        return self._get(cur, row[0]) if cur.rowcount == 1 else None

    def _record_step(
        self, cur: Cursor, job_id: str, step: str, state: str, details: dict[str, Any]
    ) -> None:
        job = self._get(cur, job_id)
        steps = {name: dict(value) for name, value in job.steps.items()}
        now = time.time()
        entry = {**steps.get(step, {}), **details, "state": state}
        entry.setdefault("started_at", now)
        if state != "running":
            entry["finished_at"] = now
        steps[step] = entry
        cur.execute(
            self._q("UPDATE wiki_job SET steps = ?, updated_at = ? WHERE job_id = ?"),
            (json.dumps(steps, sort_keys=True, default=str), now, job_id),
        )

    def _finish(
        self,
        cur: Cursor,
        job_id: str,
        status: JobStatus,
        result: Mapping[str, Any] | None,
        error: str | None,
        saga_status: Mapping[str, Any] | None,
    ) -> Job:
        now = time.time()
        cur.execute(
            self._q(
                "UPDATE wiki_job SET status = ?, result = ?, error = ?, saga_status = ?, "
                f"finished_at = ?, updated_at = ? WHERE job_id = ? AND status IN ({_ACTIVE})"
            ),
            (status.value, _dump(result), error, _dump(saga_status), now, now, job_id),
        )
        return self._get(cur, job_id)

    def _get(self, cur: Cursor, job_id: str) -> Job:
        found = self._select(cur, "job_id = ?", (job_id,), 1)
        if not found:
            raise JobNotFound(f"no job {job_id!r}")
        return found[0]

    def _select(self, cur: Cursor, where: str, params: Sequence[Any], limit: int) -> list[Job]:
        cur.execute(
            self._q(
                f"SELECT {_COLUMNS} FROM wiki_job WHERE {where} "
                "ORDER BY created_at DESC, job_id LIMIT ?"
            ),
            (*params, int(limit)),
        )
        return [self._job(row) for row in cur.fetchall()]

    @staticmethod
    def _job(row: Sequence[Any]) -> Job:
        return Job(
            job_id=row[0],
            project_id=row[1],
            user_id=row[2],
            saga_id=row[3],
            status=JobStatus(row[4]),
            force=bool(row[5]),
            idempotency_key=row[6],
            steps=_load(row[7]) or {},
            result=_load(row[8]),
            error=row[9],
            saga_status=_load(row[10]),
            created_at=float(row[11]),
            started_at=None if row[12] is None else float(row[12]),
            finished_at=None if row[13] is None else float(row[13]),
            updated_at=float(row[14]),
        )
