"""``WikiGenerationSaga``: publish a generation's files and snapshot all or nothing.

The guide's API, on the durable engine::

    saga = WikiGenerationSaga(
        project_id="proj-123",
        user_id="user-456",
        filesystem_url="http://localhost:6001",
        git_url="http://localhost:6003",
        internal_headers={"X-INTERNAL-TOKEN": "token123"},
    )
    result = saga.execute_with_consistency(generated_files)

What it adds to the guide:

- **Durable.** The steps and their compensations go to the configured saga log
  (``WIKISAGA_SAGA_LOG_URL``, SQLite in the data directory by default) before anything is
  written, so a crash of this process is undone by recovery in another one. Only registered
  compensations are used (:mod:`wikisaga.pipeline.compensations`); the saga runs them with
  the internal headers it was given, through a registry of its own.
- **One generation per project.** The saga's lock key is the project id; a second
  concurrent generation raises :class:`~distributed_saga.SagaLockedError` naming the first.
- **Overwrite-safe.** The files are one batch that replaces the project's files
  (``replace``): pages of the previous generation that the new one no longer has are
  deleted in the same atomic request, and the filesystem service, which reads what each
  path was in the transaction that changes it, stores every path's previous version with
  the batch's answer under its idempotency key. The rollback undoes the batch by that key
  (``POST /restore`` with ``undo_idempotency_key``): each file goes back to exactly its
  version before, or away if it did not exist, and dropped pages come back, with nothing
  listed beforehand; a batch that never arrived changes nothing and is refused should it
  arrive later. Dropped pages are gone for good only when the generation commits, and the
  snapshot's tree always equals the files.
- **Extra steps.** ``prepend_steps`` run before the files (staging a graph generation),
  ``append_steps`` after the snapshot and before the commit (making that generation
  current), each a :class:`PublishStep` whose compensation is recorded before it runs.
- **Batched and idempotent.** One batch request for all files (idempotency key
  ``{saga_id}:files``), a snapshot id chosen here (``snap-{saga_id}``), so that retrying a
  request that timed out after being applied changes nothing, and so that the compensation
  is known before the action runs. Transient failures (refused, timed out, 5xx) are retried
  with backoff before the saga gives up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from distributed_saga import (
    DEFAULT_COMPENSATION_RETRY,
    Compensation,
    DistributedSaga,
    FaultPlan,
    RetryPolicy,
    SagaExistsError,
    SagaLockedError,
    SagaLog,
    SagaObserver,
)
from distributed_saga.log import shared_saga_logs
from wikisaga.auth import USER_ID_HEADER, get_internal_headers
from wikisaga.clients import FilesystemClient, GitClient, is_transient, was_not_applied
from wikisaga.config import Settings
from wikisaga.ids import (
    new_saga_id,
    snapshot_id_for,
    validate_file_path,
    validate_project_id,
    validate_saga_id,
    validate_user_id,
)
from wikisaga.pipeline.compensations import (
    FILES_RESTORE,
    SNAPSHOT_DELETE,
    publish_compensations,
)

__all__ = ["DEFAULT_STEP_RETRY", "PublishStep", "WikiGenerationSaga", "normalize_files"]

logger = logging.getLogger("wikisaga.pipeline.publish")

DEFAULT_STEP_RETRY = RetryPolicy(attempts=3, base_delay=0.2, max_delay=2.0, retry_on=is_transient)


@dataclass(frozen=True, slots=True)
class PublishStep:
    """An extra durable step: run before the files (``prepend_steps``, the graph stage plugs
    in here) or after the snapshot (``append_steps``, making the graph current)."""

    name: str
    action: Callable[[], object]
    compensation: Compensation
    idempotency_key: str | None = None


# -- the saga -----------------------------------------------------------------------------


def normalize_files(generated_files: object) -> list[tuple[str, str]]:
    """``[{"file_path", "content"}]`` or ``{path: content}`` → sorted ``(path, content)``.

    Raises :class:`ValueError` on anything else, on a path the filesystem service would
    refuse (:func:`wikisaga.ids.validate_file_path`), on a duplicate path, or on non-text
    content, before anything is written.
    """
    items: list[tuple[object, object]]
    if isinstance(generated_files, Mapping):
        items = list(generated_files.items())
    elif isinstance(generated_files, Sequence) and not isinstance(generated_files, str | bytes):
        items = []
        for position, entry in enumerate(generated_files):
            if not isinstance(entry, Mapping) or "file_path" not in entry:
                raise ValueError(
                    f"generated_files[{position}] must be a mapping with 'file_path' and 'content'"
                )
            items.append((entry["file_path"], entry.get("content")))
    else:
        raise ValueError(
            "generated_files must be a list of {'file_path', 'content'} or a mapping "
            "path -> content"
        )
    files: dict[str, str] = {}
    for raw_path, content in items:
        if not isinstance(raw_path, str) or not raw_path:
            raise ValueError(f"file path {raw_path!r} must be a non-empty string")
        path = validate_file_path(raw_path)
        if not isinstance(content, str):
            raise ValueError(f"content of {path!r} must be text, not {type(content).__name__}")
        if path in files:
            raise ValueError(f"file path {path!r} appears twice")
        files[path] = content
    return sorted(files.items())


def _removed(answer: Mapping[str, Any]) -> list[str]:
    """The paths a replacing batch's answer says it deleted: the previous generation's
    pages the new one no longer has."""
    results = answer.get("results")
    if not isinstance(results, list):
        raise ValueError("the filesystem's batch answer has no 'results' list")
    return [
        str(result["path"])
        for result in results
        if isinstance(result, Mapping) and result.get("action") == "deleted"
    ]


class WikiGenerationSaga:
    """The guide's wiki publishing saga: save files, then snapshot them; all or nothing."""

    def __init__(
        self,
        project_id: str,
        user_id: str,
        filesystem_url: str,
        git_url: str,
        internal_headers: Mapping[str, str] | None = None,
        *,
        saga_id: str | None = None,
        saga_log: SagaLog | str | None = None,
        settings: Settings | None = None,
        filesystem_timeout: float | None = None,
        git_timeout: float | None = None,
        step_retry: RetryPolicy = DEFAULT_STEP_RETRY,
        compensation_retry: RetryPolicy = DEFAULT_COMPENSATION_RETRY,
        lease_seconds: float = 30.0,
        faults: FaultPlan | None = None,
        observer: SagaObserver | None = None,
        prepend_steps: Sequence[PublishStep] = (),
        append_steps: Sequence[PublishStep] = (),
        message: str | None = None,
    ) -> None:
        if not project_id or not user_id:
            raise ValueError("a wiki generation needs a project_id and a user_id")
        # The services' own rules, checked before the saga starts: a refused id must fail
        # here, not half-way through a publication.
        self.project_id = validate_project_id(project_id)
        self.user_id = validate_user_id(user_id)
        self._settings = settings or Settings.from_env()
        self.filesystem_url = filesystem_url.rstrip("/")
        self.git_url = git_url.rstrip("/")
        self.saga_id = validate_saga_id(saga_id) if saga_id else new_saga_id(project_id)
        self.snapshot_id = snapshot_id_for(self.saga_id)
        self._headers = dict(
            internal_headers if internal_headers is not None else get_internal_headers()
        )
        self._headers.pop(USER_ID_HEADER, None)
        self._saga_log = saga_log
        self._filesystem_timeout = filesystem_timeout or self._settings.filesystem_timeout
        self._git_timeout = git_timeout or self._settings.git_timeout
        self._step_retry = step_retry
        self._compensation_retry = compensation_retry
        self._lease_seconds = lease_seconds
        self._faults = faults
        self._observer = observer
        self._prepend_steps = tuple(prepend_steps)
        self._append_steps = tuple(append_steps)
        self._message = message
        self._saga: DistributedSaga | None = None

    def execute_with_consistency(self, generated_files: object) -> dict[str, Any]:
        """Publish ``generated_files``; return the guide's success or failure dictionary.

        Success: ``{"status": "success", "files_created", "snapshot_id", "message",
        "saga_id"}``. Failure (everything rolled back): ``{"status": "failed", "error",
        "saga_status"}``. Invalid input raises :class:`ValueError` before anything is
        written; a concurrent generation of the same project raises
        :class:`~distributed_saga.SagaLockedError`.
        """
        files = normalize_files(generated_files)
        with self._opened_log() as log:
            saga = DistributedSaga(
                saga_id=self.saga_id,
                user_id=self.user_id,
                log=log,
                lock_key=f"wiki:{self.project_id}",
                lease_seconds=self._lease_seconds,
                faults=self._faults,
                observer=self._observer,
                compensation_retry=self._compensation_retry,
                registry=publish_compensations(self._headers),
                metadata={
                    "kind": "wiki_generation",
                    "project_id": self.project_id,
                    "files": len(files),
                    "snapshot_id": self.snapshot_id,
                },
            )
            self._saga = saga
            return self._publish(saga, files)

    def get_status(self) -> dict[str, Any]:
        """The guide's status dictionary of the underlying saga."""
        if self._saga is None:
            return {
                "saga_id": self.saga_id,
                "user_id": self.user_id,
                "state": "pending",
                "total_steps": 0,
                "completed_steps": 0,
                "failed_at": None,
                "error": None,
            }
        return self._saga.get_status()

    # -- internals ------------------------------------------------------------------------

    def _publish(self, saga: DistributedSaga, files: list[tuple[str, str]]) -> dict[str, Any]:
        filesystem = FilesystemClient(
            self.filesystem_url, headers=self._headers, timeout=self._filesystem_timeout
        )
        git = GitClient(self.git_url, headers=self._headers, timeout=self._git_timeout)
        try:
            base = {
                "saga_id": self.saga_id,
                "project_id": self.project_id,
                "user_id": self.user_id,
            }
            try:
                for extra in self._prepend_steps:
                    self._extra_step(saga, extra)
                files_key = f"{self.saga_id}:files"
                # The pages the batch deleted, from its answer: those of the previous
                # generation that this one no longer has.
                dropped = saga.execute_step(
                    name=f"Save {len(files)} wiki files to filesystem",
                    action=lambda: _removed(
                        filesystem.batch(
                            self.project_id,
                            save=files,
                            replace=True,
                            user_id=self.user_id,
                            idempotency_key=files_key,
                        )
                    ),
                    rollback=Compensation(
                        FILES_RESTORE,
                        {
                            **base,
                            "filesystem_url": self.filesystem_url,
                            "timeout": self._filesystem_timeout,
                            "idempotency_key": files_key,
                            "undo": True,
                        },
                    ),
                    idempotency_key=files_key,
                    retry=self._step_retry,
                    not_applied=was_not_applied,
                )
                message = self._message or (
                    f"Auto-generated wiki with {len(files)} files"
                    + (f" ({len(dropped)} removed)." if dropped else ".")
                )
                snapshot = saga.execute_step(
                    name="Create git snapshot of wiki files",
                    action=lambda: git.create_snapshot(
                        self.project_id,
                        user_id=self.user_id,
                        message=message,
                        snapshot_id=self.snapshot_id,
                    ),
                    rollback=Compensation(
                        SNAPSHOT_DELETE,
                        {
                            **base,
                            "git_url": self.git_url,
                            "timeout": self._git_timeout,
                            "snapshot_id": self.snapshot_id,
                        },
                    ),
                    idempotency_key=self.snapshot_id,
                    retry=self._step_retry,
                    not_applied=was_not_applied,
                )
                for extra in self._append_steps:
                    self._extra_step(saga, extra)
                saga.commit()
            except (SagaLockedError, SagaExistsError):
                # Refused with the first intent, before any action ran: this generation
                # never started, so the caller hears of the one that holds the project.
                raise
            except Exception as exc:  # noqa: BLE001 - the guide reports any failure as a result
                logger.error("Saga failed: %s", exc)
                logger.debug("Saga status: %s", saga.get_status())
                return self._failed(saga, exc)
        finally:
            filesystem.close()
            git.close()
        return {
            "status": "success",
            "files_created": len(files),
            "files_removed": len(dropped),
            "snapshot_id": snapshot.get("snapshot_id", self.snapshot_id),
            "message": f"Saved {len(files)} wiki files and created snapshot "
            f"{snapshot.get('snapshot_id', self.snapshot_id)}",
            "saga_id": self.saga_id,
        }

    def _extra_step(self, saga: DistributedSaga, extra: PublishStep) -> None:
        saga.execute_step(
            name=extra.name,
            action=extra.action,
            rollback=extra.compensation,
            idempotency_key=extra.idempotency_key,
            retry=self._step_retry if extra.idempotency_key else None,
        )

    @staticmethod
    def _failed(saga: DistributedSaga, exc: BaseException) -> dict[str, Any]:
        return {"status": "failed", "error": str(exc), "saga_status": saga.get_status()}

    @contextmanager
    def _opened_log(self) -> Iterator[SagaLog]:
        if isinstance(self._saga_log, SagaLog):
            yield self._saga_log
            return
        # A URL's log is this process's shared one: opened by the first publish, kept open
        # for the next (no connection, schema check or WAL checkpoint per publish).
        url = self._saga_log or self._settings.effective_saga_log_url
        with shared_saga_logs.lease(url) as log:
            yield log
