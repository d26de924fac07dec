"""Annotated dependencies of the backend routes, and its error table.

- :data:`ProjectId` — the ``project_id`` path parameter, validated (400 ``invalid_path``);
- :data:`Runner` — the app's :class:`~wikisaga.services.backend.runner.JobRunner`;
- :data:`ERRORS` — how domain errors become HTTP, before the shared rules::

    JobConflict               409 generation_in_progress  (names job_id and saga_id)
    JobNotFound               404 job_not_found           (shared, an ItemNotFound)
    IdempotencyKeyReused      422 idempotency_key_reused
    GenerationInProgress      503 generation_in_progress  (a read met an unfinished write)
    ServiceCallError          502 upstream_error          (filesystem or git did not answer)
    DocumentStoreUnavailable  503 document_store_unavailable (Chroma did not answer)
    SagaNotFoundError         404 saga_not_found
    SagaStateError            409 saga_state              (retry or resolve in a wrong state)
    LeaseLostError            409 saga_taken              (another process took the saga)
    SagaLockedError           409 saga_locked
    SagaLogUnavailable        503 saga_log_unavailable
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from distributed_saga import (
    LeaseLostError,
    SagaLockedError,
    SagaLogUnavailable,
    SagaNotFoundError,
    SagaStateError,
)
from wikisaga.errors import (
    DocumentStoreUnavailable,
    IdempotencyKeyReused,
    JobConflict,
    ServiceCallError,
)
from wikisaga.ids import PROJECT_ID_PATTERN, validate_project_id
from wikisaga.services._common.errors import (
    BadGateway,
    Conflict,
    NotFound,
    ServiceError,
    ServiceUnavailable,
    Translations,
    Unprocessable,
    with_code,
)
from wikisaga.services.backend.runner import GenerationInProgress, JobRunner

__all__ = ["ERRORS", "ProjectId", "Runner"]


def _conflict(error: JobConflict) -> ServiceError:
    return Conflict(
        error.message,
        code=error.code,
        extra={"job_id": error.job_id, "saga_id": error.saga_id},
    )


ERRORS: Translations = (
    (JobConflict, _conflict),
    (IdempotencyKeyReused, with_code(Unprocessable)),
    (GenerationInProgress, lambda e: ServiceUnavailable(str(e), code="generation_in_progress")),
    (ServiceCallError, lambda e: BadGateway(str(e), code="upstream_error")),
    (DocumentStoreUnavailable, with_code(ServiceUnavailable)),
    (SagaNotFoundError, lambda e: NotFound(str(e), code="saga_not_found")),
    (SagaStateError, lambda e: Conflict(str(e), code="saga_state")),
    (LeaseLostError, lambda e: Conflict(str(e), code="saga_taken")),
    (SagaLockedError, lambda e: Conflict(str(e), code="saga_locked")),
    (SagaLogUnavailable, lambda e: ServiceUnavailable(str(e), code="saga_log_unavailable")),
)


async def get_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.runner
    return runner


Runner = Annotated[JobRunner, Depends(get_runner)]


async def project_id_param(
    project_id: Annotated[
        str, Path(description="Project id.", json_schema_extra={"pattern": PROJECT_ID_PATTERN})
    ],
) -> str:
    """The ``project_id`` path parameter, refused with 400 unless valid."""
    return validate_project_id(project_id)


ProjectId = Annotated[str, Depends(project_id_param)]
