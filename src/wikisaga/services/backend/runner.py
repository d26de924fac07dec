"""The backend's job runner: accepts generations, runs them from a shared queue, recovers.

- :meth:`JobRunner.submit` checks the project's owner (the filesystem service's registry
  and the stored documents' owners, :mod:`wikisaga.content.ownership`),
  records a ``queued`` job under a fresh saga id (the job store refuses a second active
  job of the project, and answers a repeated ``Idempotency-Key`` with the first job),
  and wakes one of this backend's ``WIKISAGA_BACKEND_WORKERS`` threads.
- The queue is the job store, shared by every backend on the saga log's database: a
  worker claims the oldest queued job, whoever queued it (``claim(None)``), and otherwise
  looks again every ``WIKISAGA_JOB_POLL_INTERVAL`` seconds. A job queued on a backend that
  died is run by another. A claim names this process (:attr:`JobRunner.owner`, its saga
  owner name) and holds a lease of ``WIKISAGA_SAGA_LEASE_SECONDS``, renewed every third of
  it by a heartbeat thread while the job runs.
- A worker runs :func:`~wikisaga.pipeline.generation.generate_project_wiki` with the job's
  saga id and lease, writing each step's progress to the job, and finishes it
  ``succeeded`` (with the result and the manifest of committed files) or ``failed``. A
  worker that finds it no longer holds its job before the saga starts (it was paused past
  its lease and another backend ended the job) stops there: :class:`JobLost`.
- :meth:`JobRunner.recover` runs one :class:`~distributed_saga.SagaRecoverer` pass with
  the backend's own token, then :meth:`reconcile`, which looks only at running jobs whose
  claim lease has expired (their backend died; a live backend's jobs are never touched):
  one whose saga ended is finished to match (``failed`` with the guide's rolled-back
  message and the saga's status, or ``succeeded`` when it committed, after pruning the
  graph generations before it as the generation would have); one whose saga is
  still in flight waits for recovery; one that never started its saga fails, after its
  saga id is spent (recorded as an empty rolled-back saga) so that a backend waking up
  late cannot start it.
- Readers get the last committed generation: the snapshot of the newest succeeded job,
  each file checked against the manifest recorded at its commit, so a page being
  rewritten by a generation in flight is never served (:class:`GenerationInProgress`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from distributed_saga import (
    FINISHED_STATES,
    SagaError,
    SagaExistsError,
    SagaLog,
    SagaNotFoundError,
    SagaRecoverer,
    SagaState,
    process_owner,
)
from wikisaga.clients import FilesystemClient, GitClient
from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ownership import check_project_owner, document_writers
from wikisaga.errors import (
    GenerationRolledBack,
    ProjectNotFound,
    WikisagaError,
)
from wikisaga.graph import GraphStore, GraphSummary, Relation, open_graph_store
from wikisaga.ids import new_saga_id
from wikisaga.jobs import Job, JobStatus, JobStore
from wikisaga.observability import SagaMetrics, log_context
from wikisaga.pipeline.compensations import publish_compensations
from wikisaga.pipeline.generation import STEPS, generate_project_wiki

__all__ = [
    "ROLLED_BACK_BY_RECOVERY",
    "STALE_SECONDS",
    "GenerationInProgress",
    "JobLost",
    "JobRunner",
]

logger = logging.getLogger("wikisaga.services.backend")

STALE_SECONDS = 300.0
"""A running job claimed without a lease (by a backend older than claim leases) that no
process has touched for this long was abandoned."""

ROLLED_BACK_BY_RECOVERY = (
    "Wiki generation failed and was rolled back: the backend running it stopped, "
    "and saga recovery rolled the saga back"
)
"""The error of a job whose backend died mid-saga, once recovery has undone the saga."""

_FENCED_STEPS = frozenset(STEPS[:4])
"""Steps whose start is reported before the saga starts: a worker that lost its job
stops there, before anything is written."""


class GenerationInProgress(WikisagaError):
    """A read met a file that a generation in flight has rewritten; retry after it."""


class JobLost(WikisagaError):
    """This backend no longer holds the job it was running (its claim lapsed and another
    backend ended the job); it must not go on with it."""


class JobRunner:
    """Runs the backend's generation jobs; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        saga_log: SagaLog,
        jobs: JobStore,
        metrics: SagaMetrics,
        headers: dict[str, str],
    ) -> None:
        self.settings = settings
        self.saga_log = saga_log
        self.jobs = jobs
        self.metrics = metrics
        self._headers = headers
        self.owner = process_owner()
        """This process's name on its claims and sagas."""
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition()
        self._nudges = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.recoverer = SagaRecoverer(
            saga_log,
            interval=settings.recovery_interval,
            registry=publish_compensations(headers),
            lease_seconds=settings.saga_lease_seconds,
            observer=metrics,
        )

    # -- clients ----------------------------------------------------------------------

    def filesystem(self) -> FilesystemClient:
        return FilesystemClient(
            self.settings.filesystem_server_url,
            headers=self._headers,
            timeout=self.settings.filesystem_timeout,
        )

    def git(self) -> GitClient:
        return GitClient(
            self.settings.git_server_url, headers=self._headers, timeout=self.settings.git_timeout
        )

    def graph(self) -> GraphStore:
        return open_graph_store(self.settings.graph_url or None, settings=self.settings)

    def check_owner(self, project_id: str, user_id: str) -> None:
        """Refuse (:class:`~wikisaga.errors.NotProjectOwner`) another user's project, by the one
        rule of :mod:`wikisaga.content.ownership`: neither the filesystem service's
        registry nor the project's stored documents may name another user. A project
        nobody has written to yet is the caller's to create."""
        with self.filesystem() as filesystem:
            owner = filesystem.project_owner(project_id)
        check_project_owner(project_id, user_id, registry_owner=owner, writers=())
        with document_store_for(self.settings) as store:
            writers = document_writers(store.list_documents(project_id))
        check_project_owner(project_id, user_id, registry_owner=owner, writers=writers)

    # -- jobs -------------------------------------------------------------------------

    def submit(
        self, project_id: str, user_id: str, *, force: bool, idempotency_key: str | None
    ) -> tuple[Job, bool]:
        """Record a job (or find the one its key made) and, if new, wake a worker."""
        self.check_owner(project_id, user_id)
        job, created = self.jobs.create(
            project_id,
            user_id,
            saga_id=new_saga_id(project_id),
            force=force,
            idempotency_key=idempotency_key,
        )
        if created:
            with self._wake:
                self._nudges += 1
                self._wake.notify()
        return job, created

    def run_next(self) -> Job | None:
        """Claim the oldest queued job and run it to its end; ``None`` if none is queued."""
        job = self.jobs.claim(
            None, owner=self.owner, lease_seconds=self.settings.saga_lease_seconds
        )
        if job is None:
            return None
        with self._lock:
            self._running.add(job.job_id)
        try:
            with log_context(project_id=job.project_id, job_id=job.job_id, saga_id=job.saga_id):
                self._generate(job)
        except Exception:  # a worker thread must never die silently
            logger.exception("job %s could not be run", job.job_id)
        finally:
            with self._lock:
                self._running.discard(job.job_id)
        return job

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_next()
            except Exception:
                logger.exception("could not claim a job")
                ran = None
            if ran is not None:
                continue
            with self._wake:
                if not self._nudges and not self._stop.is_set():
                    self._wake.wait(self.settings.job_poll_interval)
                self._nudges = max(0, self._nudges - 1)

    def _heartbeat(self) -> None:
        lease = self.settings.saga_lease_seconds
        while not self._stop.wait(lease / 3.0):
            with self._lock:
                mine = set(self._running)
            if not mine:
                continue
            try:
                held = self.jobs.renew(self.owner, mine, lease)
            except Exception:  # the next beat tries again; the lease has slack for it
                logger.exception("could not renew the claims of %d job(s)", len(mine))
                continue
            with self._lock:
                # A job finished since the beat began is not lost, only done.
                lost = (mine - held) & self._running
            for job_id in sorted(lost):
                logger.warning("job %s is no longer held by this backend", job_id)

    def _generate(self, job: Job) -> None:
        def progress(step: str, state: str, details: Mapping[str, Any]) -> None:
            seconds = details.get("seconds")
            if state != "running" and isinstance(seconds, int | float) and seconds >= 0:
                self.metrics.record_stage(step, float(seconds))
            held = self.jobs.record_step(job.job_id, step, state, details, owner=self.owner)
            if not held and state == "running" and step in _FENCED_STEPS:
                raise JobLost(f"job {job.job_id} is no longer held by this backend")

        try:
            result = generate_project_wiki(
                job.project_id,
                job.user_id,
                settings=self.settings,
                internal_headers=self._headers,
                saga_id=job.saga_id,
                force=job.force,
                progress=progress,
                saga_log=self.saga_log,
                observer=self.metrics,
                lease_seconds=self.settings.saga_lease_seconds,
            )
            result["manifest"] = self._manifest(job.project_id, job.user_id)
        except JobLost:
            logger.warning("job %s was ended by another backend; leaving it", job.job_id)
            return
        except GenerationRolledBack as exc:
            self.jobs.finish(
                job.job_id, JobStatus.FAILED, error=str(exc), saga_status=exc.saga_status
            )
            return
        except Exception as exc:  # noqa: BLE001 - every failure is the job's answer
            self.jobs.finish(job.job_id, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            return
        self.jobs.finish(job.job_id, JobStatus.SUCCEEDED, result=result)

    def _manifest(self, project_id: str, user_id: str) -> dict[str, str]:
        # Read while the job is still running: no other generation of the project can
        # start before it finishes, so these are exactly the committed files.
        with self.filesystem() as filesystem:
            listing = filesystem.list_files(project_id, user_id=user_id)
        return {entry["path"]: entry["sha256"] for entry in listing}

    # -- recovery ---------------------------------------------------------------------

    def recover(self) -> None:
        """One recovery pass, then bring the jobs in line with their sagas."""
        self.recoverer.run_once()
        self.reconcile()

    def reconcile(self) -> None:
        """Finish the jobs whose backend died (see the module docstring)."""
        expired = self.jobs.list_expired(stale_seconds=STALE_SECONDS, limit=1000)
        with self._lock:
            mine = set(self._running)
        for job in expired:
            if job.job_id in mine:
                continue  # ours, its lease lapsed through a failed beat: we still run it
            try:
                self._reconcile_one(job)
            except Exception:  # one job's trouble must not stop the others
                logger.exception("could not reconcile job %s", job.job_id)
        counts = Counter(
            job.status.value for job in self.jobs.list_jobs(statuses=None, limit=10_000)
        )
        self.metrics.set_jobs(dict(counts))

    def _reconcile_one(self, job: Job) -> None:
        try:
            record = self.saga_log.get_saga(job.saga_id)
        except SagaNotFoundError:
            if self._spend_saga_id(job):
                self.jobs.finish(
                    job.job_id,
                    JobStatus.FAILED,
                    error="the backend running this job stopped before its saga started; "
                    "nothing was changed",
                    saga_status={"state": SagaState.ROLLED_BACK.value, "error": None},
                )
            return
        if record.state not in FINISHED_STATES:
            return  # recovery rolls it back once its lease expires; the next pass ends the job
        status = {"state": record.state.value, "error": record.error}
        if record.state is SagaState.COMMITTED:
            # What the generation does after its commit, which its backend may not have
            # reached: the graph generations before the committed one go.
            with self.graph() as graph:
                graph.prune(job.project_id, keep=0)
            self.jobs.finish(
                job.job_id,
                JobStatus.SUCCEEDED,
                result={
                    "saga_id": job.saga_id,
                    "snapshot_id": record.metadata.get("snapshot_id"),
                    "graph_generation": job.saga_id,
                    "manifest": self._manifest(job.project_id, job.user_id),
                    "message": "committed; the backend running it stopped before "
                    "reporting the result",
                },
                saga_status=status,
            )
            return
        if record.state is SagaState.ROLLED_BACK:
            error = ROLLED_BACK_BY_RECOVERY
        else:
            error = (
                "Wiki generation failed and could not be rolled back: the backend running "
                "it stopped, and saga recovery left the saga failed; it needs an operator "
                "(wikisaga sagas retry)"
            )
        self.jobs.finish(job.job_id, JobStatus.FAILED, error=error, saga_status=status)

    def _spend_saga_id(self, job: Job) -> bool:
        """Record the job's saga as begun and rolled back with no step, so that its old
        backend, if it only paused, is refused when it tries to start it. ``False`` when
        the saga was started meanwhile (the next pass looks at it)."""
        lease = self.settings.saga_lease_seconds
        try:
            self.saga_log.create_saga(
                job.saga_id,
                job.user_id,
                owner=self.owner,
                lease_seconds=lease,
                metadata={"abandoned_job": job.job_id},
            )
        except SagaExistsError:
            return False
        try:
            self.saga_log.begin_compensation(
                job.saga_id,
                self.owner,
                failed_at=None,
                error="the backend running its job stopped before the saga started",
            )
            self.saga_log.finish_saga(job.saga_id, self.owner, SagaState.ROLLED_BACK)
        except SagaError:
            # Spent all the same: the id exists, so nobody can start it; recovery ends it.
            logger.exception("could not close the spent saga %s", job.saga_id)
        return True

    def start(self) -> None:
        """Start the workers and the claims' heartbeat, and recover once now (in the
        background) and then every ``recovery_interval``."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.recover()
                except Exception:
                    logger.exception("recovery pass failed")
                self._stop.wait(self.settings.recovery_interval)

        targets = [(loop, "saga-recovery"), (self._heartbeat, "job-heartbeat")]
        targets += [(self._work, f"wiki-job-{n}") for n in range(self.settings.backend_workers)]
        for target, name in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def close(self) -> None:
        """Stop taking jobs and wait for the running ones to end."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    # -- reading the last committed generation ---------------------------------------

    def committed(self, project_id: str, user_id: str) -> Job:
        """The project's newest succeeded job; :class:`ProjectNotFound` if none."""
        self.check_owner(project_id, user_id)
        job = self.jobs.last_succeeded(project_id)
        if job is None or job.result is None:
            raise ProjectNotFound(f"project {project_id!r} has no committed wiki generation")
        return job

    def read_file(self, job: Job, path: str) -> str:
        """The content of ``path`` as the committed generation has it."""
        manifest = dict((job.result or {}).get("manifest") or {})
        if path not in manifest:
            raise ProjectNotFound(f"{path!r} is not a page of the committed generation")
        with self.filesystem() as filesystem:
            found = filesystem.get_file(job.project_id, path, user_id=job.user_id)
        content = None if found is None else str(found["content"])
        if content is None or hashlib.sha256(content.encode()).hexdigest() != manifest[path]:
            raise GenerationInProgress(
                f"{path!r} is being rewritten by a generation in flight; retry when it ends"
            )
        return content

    def graph_of(self, job: Job) -> tuple[GraphSummary, list[Relation]]:
        generation = str((job.result or {}).get("graph_generation") or job.saga_id)
        with self.graph() as graph:
            return (
                graph.summary(job.project_id, generation=generation),
                graph.relations(job.project_id, generation=generation),
            )
