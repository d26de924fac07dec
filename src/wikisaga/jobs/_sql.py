"""The job store in SQL, written once for SQLite and PostgreSQL.

:class:`SqlJobStore` holds the schema and every query; a backend supplies the dialect
hooks (:attr:`_PARAM`, :attr:`_SKIP_LOCKED`), :meth:`_run` (one unit of work in one
transaction, driver errors translated), :meth:`_is_unique_violation`, :meth:`_columns`
(for migrations) and, when the database has a better clock than this process,
:meth:`_clock`. Public methods own the transaction; ``_name(cur, ...)`` helpers do the
work inside it.

Migrations are additive: a table made by an older version gets the columns it lacks
(``_ADDED_COLUMNS``) when a store opens it.
"""

# Queries are built from this module's constants and enum values; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import abc
import json
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from distributed_saga.log._sql import Cursor
from wikisaga.errors import IdempotencyKeyReused, JobConflict, JobNotFound
from wikisaga.jobs._base import (
    ACTIVE_STATUSES,
    DEFAULT_LEASE_SECONDS,
    FINISHED_STATUSES,
    Job,
    JobStatus,
    JobStore,
)

__all__ = ["SqlJobStore"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_ACTIVE = ", ".join(f"'{status.value}'" for status in sorted(ACTIVE_STATUSES))
_FINISHED = ", ".join(f"'{status.value}'" for status in sorted(FINISHED_STATUSES))
_COLUMNS = (
    "job_id, project_id, user_id, saga_id, status, force, idempotency_key, steps, result, "
    "error, saga_status, created_at, started_at, finished_at, updated_at, claimed_by, "
    "lease_expires_at"
)
_ADDED_COLUMNS = (
    ("claimed_by", "TEXT"),
    ("lease_expires_at", "DOUBLE PRECISION"),
)
"""Columns added after the first version of the table, added to old tables on open."""
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
        claimed_by TEXT,
        lease_expires_at DOUBLE PRECISION,
        UNIQUE (user_id, idempotency_key)
    )""",
    # The one-generation-per-project rule, kept by the database itself.
    f"""CREATE UNIQUE INDEX IF NOT EXISTS wiki_job_one_active
        ON wiki_job (project_id) WHERE status IN ({_ACTIVE})""",
    "CREATE INDEX IF NOT EXISTS wiki_job_by_project ON wiki_job (project_id, created_at)",
    "CREATE INDEX IF NOT EXISTS wiki_job_by_status ON wiki_job (status, created_at)",
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

    @abc.abstractmethod
    def _columns(self, cur: Cursor) -> set[str]:
        """The names of the columns ``wiki_job`` has."""

    def _clock(self, cur: Cursor) -> float:
        """Now, in epoch seconds, on the clock every store of this database shares."""
        return time.time()

    def _q(self, query: str) -> str:
        return query.replace("?", self._PARAM)

    def _migrate(self, cur: Cursor) -> None:
        cur.execute(_SCHEMA[0])
        present = self._columns(cur)
        for name, kind in _ADDED_COLUMNS:
            if name not in present:
                cur.execute(f"ALTER TABLE wiki_job ADD COLUMN {name} {kind}")
        for statement in _SCHEMA[1:]:
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

    def claim(
        self,
        job_id: str | None = None,
        *,
        owner: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Job | None:
        if not lease_seconds > 0:
            raise ValueError(f"a claim's lease must be positive, not {lease_seconds!r}")
        return self._run(self._claim, job_id, owner, float(lease_seconds))

    def renew(self, owner: str, job_ids: Collection[str], lease_seconds: float) -> set[str]:
        ids = sorted(set(job_ids))
        if not ids:
            return set()
        return self._run(self._renew, owner, ids, float(lease_seconds))

    def list_expired(self, *, stale_seconds: float, limit: int = 100) -> list[Job]:
        return self._run(self._expired, float(stale_seconds), limit)

    def record_step(
        self,
        job_id: str,
        step: str,
        state: str,
        details: Mapping[str, Any] | None = None,
        *,
        owner: str | None = None,
    ) -> bool:
        return self._run(self._record_step, job_id, step, state, dict(details or {}), owner)

    def prune(
        self,
        older_than_seconds: float,
        *,
        keep_sagas: Collection[str] = (),
        batch_size: int = 500,
    ) -> int:
        if not older_than_seconds >= 0:
            raise ValueError("older_than_seconds cannot be negative")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        cutoff = time.time() - older_than_seconds
        keep = tuple(sorted(set(keep_sagas)))
        pruned = 0
        while True:
            batch = self._run(self._prune_batch, cutoff, keep, batch_size)
            pruned += batch
            if batch < batch_size:
                return pruned

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

    def record_saga_outcome(
        self, job_id: str, *, saga_status: Mapping[str, Any], error: str | None
    ) -> Job:
        return self._run(self._record_saga_outcome, job_id, saga_status, error)

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

    def _claim(
        self, cur: Cursor, job_id: str | None, owner: str | None, lease_seconds: float
    ) -> Job | None:
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
                "UPDATE wiki_job SET status = ?, started_at = ?, updated_at = ?, "
                "claimed_by = ?, lease_expires_at = ? WHERE job_id = ? AND status = ?"
            ),
            (
                JobStatus.RUNNING.value,
                now,
                now,
                owner,
                self._clock(cur) + lease_seconds,
                row[0],
                JobStatus.QUEUED.value,
            ),
        )
        return self._get(cur, row[0]) if cur.rowcount == 1 else None

    def _renew(self, cur: Cursor, owner: str, job_ids: list[str], lease_seconds: float) -> set[str]:
        marks = ", ".join("?" for _ in job_ids)
        held = f"status = ? AND claimed_by = ? AND job_id IN ({marks})"
        params = (JobStatus.RUNNING.value, owner, *job_ids)
        cur.execute(
            self._q(f"UPDATE wiki_job SET lease_expires_at = ? WHERE {held}"),
            (self._clock(cur) + lease_seconds, *params),
        )
        cur.execute(self._q(f"SELECT job_id FROM wiki_job WHERE {held}"), params)
        return {str(row[0]) for row in cur.fetchall()}

    def _expired(self, cur: Cursor, stale_seconds: float, limit: int) -> list[Job]:
        now = self._clock(cur)
        cur.execute(
            self._q(
                f"SELECT {_COLUMNS} FROM wiki_job WHERE status = ? AND "
                "(lease_expires_at < ? OR (lease_expires_at IS NULL AND updated_at < ?)) "
                "ORDER BY created_at, job_id LIMIT ?"
            ),
            (JobStatus.RUNNING.value, now, time.time() - stale_seconds, int(limit)),
        )
        return [self._job(row) for row in cur.fetchall()]

    def _prune_batch(self, cur: Cursor, cutoff: float, keep: tuple[str, ...], limit: int) -> int:
        kept = f" AND saga_id NOT IN ({', '.join('?' for _ in keep)})" if keep else ""
        # Each project's newest succeeded job (as last_succeeded orders them) stays: the
        # read API serves the committed wiki from it.
        cur.execute(
            self._q(
                f"SELECT job_id FROM wiki_job AS j WHERE status IN ({_FINISHED}) "
                f"AND finished_at < ?{kept} AND NOT (status = ? AND NOT EXISTS ("
                "SELECT 1 FROM wiki_job AS k WHERE k.project_id = j.project_id "
                "AND k.status = ? AND (k.created_at > j.created_at OR "
                "(k.created_at = j.created_at AND k.job_id < j.job_id)))) "
                "ORDER BY finished_at, job_id LIMIT ?"
            ),
            (cutoff, *keep, JobStatus.SUCCEEDED.value, JobStatus.SUCCEEDED.value, int(limit)),
        )
        doomed = [str(row[0]) for row in cur.fetchall()]
        if doomed:
            cur.execute(
                self._q(f"DELETE FROM wiki_job WHERE job_id IN ({', '.join('?' for _ in doomed)})"),
                tuple(doomed),
            )
        return len(doomed)

    def _record_step(
        self,
        cur: Cursor,
        job_id: str,
        step: str,
        state: str,
        details: dict[str, Any],
        owner: str | None,
    ) -> bool:
        job = self._get(cur, job_id)
        if owner is not None and (job.status is not JobStatus.RUNNING or job.claimed_by != owner):
            return False
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
        return True

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

    def _record_saga_outcome(
        self, cur: Cursor, job_id: str, saga_status: Mapping[str, Any], error: str | None
    ) -> Job:
        cur.execute(
            self._q(
                "UPDATE wiki_job SET saga_status = ?, error = ?, updated_at = ? "
                f"WHERE job_id = ? AND status IN ({_FINISHED})"
            ),
            (_dump(saga_status), error, time.time(), job_id),
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
            claimed_by=row[15],
            lease_expires_at=None if row[16] is None else float(row[16]),
        )
