"""``GET /jobs/{job_id}`` and ``GET /jobs?project_id=``: what became of a generation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from wikisaga.errors import JobNotFound
from wikisaga.ids import PROJECT_ID_PATTERN, validate_project_id
from wikisaga.services._common import ERROR_RESPONSES, UserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services.backend.deps import Runner
from wikisaga.services.backend.schemas import JobBody, JobList

__all__ = ["router"]

router = APIRouter(tags=["jobs"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES)


@router.get("/jobs/{job_id}", response_model=JobBody)
def get_job(
    job_id: Annotated[str, Path(max_length=64, pattern=r"^job-[0-9a-f]{1,60}$")],
    user_id: UserId,
    runner: Runner,
) -> JobBody:
    """One job with its steps; another user's job is 404, as an unknown one is."""
    job = runner.jobs.get(job_id)
    if job.user_id != user_id:
        raise JobNotFound(f"no job {job_id!r}")
    return JobBody(**job.to_json())


@router.get("/jobs", response_model=JobList)
def list_jobs(
    user_id: UserId,
    runner: Runner,
    project_id: Annotated[
        str, Query(max_length=128, json_schema_extra={"pattern": PROJECT_ID_PATTERN})
    ],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JobList:
    """The project's jobs, newest first (403 for another user's project)."""
    project_id = validate_project_id(project_id)
    runner.check_owner(project_id, user_id)
    jobs = runner.jobs.list_jobs(project_id=project_id, limit=limit)
    return JobList(jobs=[JobBody(**job.to_json()) for job in jobs if job.user_id == user_id])
