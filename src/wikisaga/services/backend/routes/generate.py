"""``POST /generate_wiki``: start a generation of a project's wiki."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from wikisaga.services._common import ERROR_RESPONSES, IdempotencyKey, UserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services.backend.deps import Runner
from wikisaga.services.backend.schemas import GenerateRequest, JobAccepted

__all__ = ["router"]

router = APIRouter(
    tags=["generation"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES
)


@router.post("/generate_wiki", status_code=202, response_model=JobAccepted)
def generate_wiki(
    body: GenerateRequest, user_id: UserId, runner: Runner, idempotency_key: IdempotencyKey
) -> JSONResponse:
    """Queue a generation: 202 ``{job_id, saga_id, status}``. A repeated
    ``Idempotency-Key`` answers the job it made (``Idempotent-Replayed: true``); a project
    with a generation in flight is 409 naming its job and saga; another user's project 403."""
    job, created = runner.submit(
        body.project_id, user_id, force=body.force, idempotency_key=idempotency_key
    )
    accepted = JobAccepted(job_id=job.job_id, saga_id=job.saga_id, status=job.status.value)
    headers = {} if created else {"Idempotent-Replayed": "true"}
    return JSONResponse(accepted.model_dump(), status_code=202, headers=headers)
