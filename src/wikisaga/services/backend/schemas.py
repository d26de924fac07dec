"""Request and response bodies of the backend service."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wikisaga.ids import PROJECT_ID_PATTERN, validate_project_id

__all__ = ["GenerateRequest", "JobAccepted", "JobBody", "JobList", "WikiFile", "WikiListing"]


class GenerateRequest(BaseModel):
    """``POST /generate_wiki``: which project, and whether to pass the shrink guard."""

    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(json_schema_extra={"pattern": PROJECT_ID_PATTERN}, max_length=128)
    force: bool = False

    @field_validator("project_id")
    @classmethod
    def _valid(cls, value: str) -> str:
        return validate_project_id(value)


class JobAccepted(BaseModel):
    """The 202 answer: the job, its saga and its status."""

    job_id: str
    saga_id: str
    status: str


class JobBody(BaseModel):
    """One job, as the job store keeps it."""

    model_config = ConfigDict(extra="allow")
    job_id: str
    project_id: str
    user_id: str
    saga_id: str
    status: str
    steps: dict[str, dict[str, Any]]
    result: dict[str, Any] | None
    error: str | None
    saga_status: dict[str, Any] | None


class JobList(BaseModel):
    jobs: list[JobBody]


class WikiListing(BaseModel):
    """The last committed generation of a project."""

    project_id: str
    job_id: str
    saga_id: str
    snapshot_id: str
    graph_generation: str
    files: list[str]


class WikiFile(BaseModel):
    project_id: str
    path: str
    snapshot_id: str
    content: str
