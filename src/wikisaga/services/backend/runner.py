"""The backend's job runner: accepts generations, runs them on a bounded pool, recovers.

- :meth:`JobRunner.submit` checks the project's owner (the filesystem service's registry),
  records a ``queued`` job under a fresh saga id (the job store refuses a second active
  job of the project, and answers a repeated ``Idempotency-Key`` with the first job),
  then hands it to one of ``WIKISAGA_BACKEND_WORKERS`` threads.
- A worker claims the job, runs :func:`~wikisaga.pipeline.generation.generate_project_wiki`
  with the job's saga id, writing each step's progress to the job, and finishes it
  ``succeeded`` (with the result and the manifest of committed files) or ``failed``.
- :meth:`JobRunner.recover` runs one :class:`~distributed_saga.SagaRecoverer` pass with
  the backend's own token, then :meth:`reconcile`: a job this process is not running whose
  saga recovery ended is finished to match (``failed``, saying the saga was rolled back by
  recovery), and one left without a saga past :data:`STALE_SECONDS` fails too.
- Readers get the last committed generation: the snapshot of the newest succeeded job,
  each file checked against the manifest recorded at its commit, so a page being
  rewritten by a generation in flight is never served (:class:`GenerationInProgress`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from distributed_saga import (
    FINISHED_STATES,
    SagaLog,
    SagaNotFoundError,
    SagaRecoverer,
    SagaState,
)
from wikisaga.clients import FilesystemClient, GitClient
from wikisaga.config import Settings
from wikisaga.errors import (
    GenerationRolledBack,
    NotProjectOwner,
    ProjectNotFound,
    WikisagaError,
)
from wikisaga.graph import GraphStore, GraphSummary, Relation, open_graph_store
from wikisaga.ids import new_saga_id
from wikisaga.jobs import ACTIVE_STATUSES, Job, JobStatus, JobStore
from wikisaga.observability import SagaMetrics, log_context
from wikisaga.pipeline.compensations import publish_compensations
from wikisaga.pipeline.generation import generate_project_wiki

__all__ = ["STALE_SECONDS", "GenerationInProgress", "JobRunner"]

logger = logging.getLogger("wikisaga.services.backend")

STALE_SECONDS = 300.0
"""A job no process has touched for this long, with no saga to show, was abandoned."""


class GenerationInProgress(WikisagaError):
    """A read met a file that a generation in flight has rewritten; retry after it."""


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
        self._pool = ThreadPoolExecutor(settings.backend_workers, thread_name_prefix="wiki-job")
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self.recoverer = SagaRecoverer(
            saga_log,
            interval=settings.recovery_interval,
            registry=publish_compensations(headers),
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
        """Refuse (:class:`NotProjectOwner`) a project that another user owns; a project
        nobody has written to yet is the caller's to create."""
        with self.filesystem() as filesystem:
            owner = filesystem.project_owner(project_id)
        if owner is not None and owner != user_id:
            raise NotProjectOwner(f"project {project_id!r} belongs to another user")

    # -- jobs -------------------------------------------------------------------------

    def submit(
        self, project_id: str, user_id: str, *, force: bool, idempotency_key: str | None
    ) -> tuple[Job, bool]:
        """Record a job (or find the one its key made) and start it if new."""
        self.check_owner(project_id, user_id)
        job, created = self.jobs.create(
            project_id,
            user_id,
            saga_id=new_saga_id(project_id),
            force=force,
            idempotency_key=idempotency_key,
        )
        if created:
            with self._lock:
                self._running.add(job.job_id)
            self._pool.submit(self._run, job.job_id)
        return job, created

    def _run(self, job_id: str) -> None:
        try:
            job = self.jobs.claim(job_id)
            if job is None:
                return
            with log_context(project_id=job.project_id, job_id=job.job_id, saga_id=job.saga_id):
                self._generate(job)
        except Exception:  # a worker thread must never die silently
            logger.exception("job %s could not be run", job_id)
        finally:
            with self._lock:
                self._running.discard(job_id)

    def _generate(self, job: Job) -> None:
        def progress(step: str, state: str, details: Any) -> None:
            self.jobs.record_step(job.job_id, step, state, details)

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
            )
            result["manifest"] = self._manifest(job.project_id, job.user_id)
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
        """Finish the jobs whose saga ended without their worker (see module docstring)."""
        active = self.jobs.list_jobs(statuses=frozenset(ACTIVE_STATUSES), limit=1000)
        with self._lock:
            mine = set(self._running)
        for job in active:
            if job.job_id in mine:
                continue
            try:
                record = self.saga_log.get_saga(job.saga_id)
            except SagaNotFoundError:
                if time.time() - job.updated_at > STALE_SECONDS:
                    self.jobs.finish(
                        job.job_id,
                        JobStatus.FAILED,
                        error="the backend running this job stopped before its saga started; "
                        "nothing was changed",
                    )
                continue
            if record.state not in FINISHED_STATES:
                continue
            status = {"state": record.state.value, "error": record.error}
            if record.state is SagaState.COMMITTED:
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
                continue
            self.jobs.finish(
                job.job_id,
                JobStatus.FAILED,
                error=f"the backend running this job stopped; saga recovery ended it "
                f"{record.state.value}"
                + (" and it needs an operator" if record.state is SagaState.FAILED else ""),
                saga_status=status,
            )
        counts = Counter(
            job.status.value for job in self.jobs.list_jobs(statuses=None, limit=10_000)
        )
        self.metrics.set_jobs(dict(counts))

    def start(self) -> None:
        """Recover once now (in the background) and then every ``recovery_interval``."""

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.recover()
                except Exception:
                    logger.exception("recovery pass failed")
                self._stop.wait(self.settings.recovery_interval)

        self._stop = threading.Event()
        self._thread = threading.Thread(target=loop, name="saga-recovery", daemon=True)
        self._thread.start()

    def close(self) -> None:
        stop = getattr(self, "_stop", None)
        if stop is not None:
            stop.set()
            self._thread.join(10)
        self._pool.shutdown(wait=True, cancel_futures=False)

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
