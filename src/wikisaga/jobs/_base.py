"""The job store contract: what every backend must do, and nothing about how.

A **job** is one request to generate a project's wiki (``POST /generate_wiki``): who asked,
for which project, under which saga id (chosen when the job is created, so the answer can
name it before anything runs), and how far it got::

    queued ──claim──▶ running ──finish──▶ succeeded
       │                 │                  failed
       └──── finish ─────┘   (a job refused or abandoned before it ran fails too)

Rules every backend keeps:

- **One generation per project.** At most one job of a project is ``queued`` or
  ``running``; :meth:`JobStore.create` for a project that has one raises
  :class:`~wikisaga.errors.JobConflict` naming that job and its saga. The database keeps
  the rule (a unique index on the project of active jobs), so two backends sharing one
  database cannot both create one.
- **Idempotency keys.** A key is a user's: creating with a key that user already used
  returns the job it made (``created`` is ``False``), whatever happened to it since; the
  same key for another project raises :class:`~wikisaga.errors.IdempotencyKeyReused`.
- **Claims.** :meth:`JobStore.claim` moves a queued job to ``running`` for exactly one
  caller (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), so two
  workers never run the same job. ``claim(None)`` takes the oldest queued job, whichever
  backend queued it: the queue is the database, shared by every backend on it.
- **Claim leases.** A claim names its ``owner`` (the backend process) and holds a lease
  until ``lease_expires_at``; the owner renews it (:meth:`JobStore.renew`) while it runs
  the job. A running job whose lease has expired (:meth:`JobStore.list_expired`) has lost
  its backend; a live one never has. Lease times are the database's clock on PostgreSQL,
  so backends on different hosts agree on them. :meth:`JobStore.record_step` with an
  ``owner`` writes only while that owner holds the job, which fences an owner that was
  paused past its lease.
- **Retention.** :meth:`JobStore.prune` deletes jobs that finished before a cutoff, never
  an active job and never a project's newest succeeded job (the read API serves the
  committed wiki from it).
- **A saga ended later.** A job whose saga was left ``failed`` follows the saga when an
  operator's retry or resolve ends it (:meth:`JobStore.follow_saga`): its ``saga_status``
  and ``error`` change, nothing else.
- **Steps.** Each job keeps, per pipeline step, its state, start and end times and
  details (counts, messages), written as the step goes.

Every failure of the database is a :class:`~wikisaga.errors.JobStoreError` with the
driver's error as its ``__cause__``. Public methods own their transaction.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACTIVE_STATUSES",
    "DEFAULT_LEASE_SECONDS",
    "FINISHED_STATUSES",
    "Job",
    "JobStatus",
    "JobStore",
]

DEFAULT_LEASE_SECONDS = 30.0
"""How long a claim holds without renewal unless the caller says otherwise."""


class JobStatus(enum.StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
"""A project has at most one job in these."""

FINISHED_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})
"""A job in these is history: only :meth:`JobStore.prune` and, when an operator ends its
saga later, :meth:`JobStore.record_saga_outcome` touch it."""


@dataclass(frozen=True, slots=True)
class Job:
    """One generation request and what became of it."""

    job_id: str
    project_id: str
    user_id: str
    saga_id: str
    status: JobStatus
    force: bool = False
    idempotency_key: str | None = None
    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Step name → ``{"state", "started_at", "finished_at", ...details}``."""
    result: Mapping[str, Any] | None = None
    error: str | None = None
    saga_status: Mapping[str, Any] | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    updated_at: float = 0.0
    claimed_by: str | None = None
    """The backend process that claimed the job (its saga owner name)."""
    lease_expires_at: float | None = None
    """Until when its claim holds unless renewed (epoch seconds, the database's clock)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "project_id": self.project_id,
            "user_id": self.user_id,
            "saga_id": self.saga_id,
            "status": self.status.value,
            "force": self.force,
            "idempotency_key": self.idempotency_key,
            "steps": {name: dict(step) for name, step in self.steps.items()},
            "result": None if self.result is None else dict(self.result),
            "error": self.error,
            "saga_status": None if self.saga_status is None else dict(self.saga_status),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "updated_at": self.updated_at,
            "claimed_by": self.claimed_by,
            "lease_expires_at": self.lease_expires_at,
        }


class JobStore(abc.ABC):
    """Generation jobs, in the saga log's database."""

    url: str

    @abc.abstractmethod
    def create(
        self,
        project_id: str,
        user_id: str,
        *,
        saga_id: str,
        force: bool = False,
        idempotency_key: str | None = None,
    ) -> tuple[Job, bool]:
        """A new ``queued`` job, and ``True``; or the job ``idempotency_key`` already
        made for this user, and ``False``. Raises :class:`~wikisaga.errors.JobConflict`
        when the project has an active job (checked after the key: a replay of the
        running job's own request is answered with that job)."""

    @abc.abstractmethod
    def claim(
        self,
        job_id: str | None = None,
        *,
        owner: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Job | None:
        """Move the job (or the oldest queued one) from ``queued`` to ``running`` for
        ``owner``, with a lease of ``lease_seconds``, and return it; ``None`` when it is
        not queued (someone else claimed it) or, for ``None``, when nothing is queued."""

    @abc.abstractmethod
    def renew(self, owner: str, job_ids: Collection[str], lease_seconds: float) -> set[str]:
        """Extend the leases of those of ``job_ids`` that ``owner`` still runs; return
        their ids (a missing one was finished or taken over by someone else)."""

    @abc.abstractmethod
    def list_expired(self, *, stale_seconds: float, limit: int = 100) -> list[Job]:
        """Running jobs whose claim lease has expired, oldest first; a job claimed with no
        lease (by a backend older than leases) counts once it is ``stale_seconds`` old."""

    @abc.abstractmethod
    def record_step(
        self,
        job_id: str,
        step: str,
        state: str,
        details: Mapping[str, Any] | None = None,
        *,
        owner: str | None = None,
    ) -> bool:
        """Set the step's state and details; ``running`` stamps its start, any other
        state its end. With ``owner``, only while that owner holds the running job:
        ``False`` (and nothing written) when it does not."""

    @abc.abstractmethod
    def prune(
        self,
        older_than_seconds: float,
        *,
        keep_sagas: Collection[str] = (),
        batch_size: int = 500,
    ) -> int:
        """Delete the jobs that finished more than ``older_than_seconds`` ago, in batches;
        return how many. Active jobs, each project's newest succeeded job, and the jobs of
        ``keep_sagas`` are kept."""

    @abc.abstractmethod
    def finish(
        self,
        job_id: str,
        status: JobStatus,
        *,
        result: Mapping[str, Any] | None = None,
        error: str | None = None,
        saga_status: Mapping[str, Any] | None = None,
    ) -> Job:
        """End an active job as ``succeeded`` or ``failed``. Finishing a finished job
        changes nothing and returns it as it is (the first ending stands)."""

    @abc.abstractmethod
    def record_saga_outcome(
        self, job_id: str, *, saga_status: Mapping[str, Any], error: str | None
    ) -> Job:
        """Set a finished job's ``saga_status`` and ``error``: its saga ended after the job
        did, through an operator's retry or resolve. Nothing else of the job changes, and
        an active job is returned as it is (its runner finishes it)."""

    def follow_saga(self, saga_id: str, saga_status: Mapping[str, Any], *, how: str) -> Job | None:
        """After an operator's retry or resolve of ``saga_id``: its failed job takes the
        saga's status (the guide's ``get_status()``) and, once the saga is rolled back, an
        error that says so, ending with ``how`` (who finished the rollback). ``None`` when
        the saga has no failed job."""
        job = self.find_by_saga(saga_id)
        if job is None or job.status is not JobStatus.FAILED:
            return None
        error = job.error
        if saga_status.get("state") == "rolled_back":
            cause = saga_status.get("error") or "a step failed"
            error = f"Wiki generation failed and was rolled back: {cause} ({how})"
        return self.record_saga_outcome(job.job_id, saga_status=saga_status, error=error)

    @abc.abstractmethod
    def get(self, job_id: str) -> Job:
        """The job; :class:`~wikisaga.errors.JobNotFound` when there is none."""

    @abc.abstractmethod
    def find_by_saga(self, saga_id: str) -> Job | None:
        """The job of ``saga_id``, or ``None``."""

    @abc.abstractmethod
    def list_jobs(
        self,
        *,
        project_id: str | None = None,
        statuses: frozenset[JobStatus] | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Jobs, newest first, of one project and in some statuses if given."""

    def last_succeeded(self, project_id: str) -> Job | None:
        """The project's newest succeeded job: its generation is the committed one."""
        found = self.list_jobs(
            project_id=project_id, statuses=frozenset({JobStatus.SUCCEEDED}), limit=1
        )
        return found[0] if found else None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
