"""Request and response bodies of the backend service.

:func:`saga_body` is the one JSON form of a saga: the saga API serves it and
``wikisaga sagas ... --json`` prints it, whether it read the log itself or asked the API.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wikisaga.ids import PROJECT_ID_PATTERN, validate_project_id

if TYPE_CHECKING:
    from distributed_saga import SagaRecord

_NOT_TEXT = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories a one-line text must not hold: controls (line breaks among them),
format characters, surrogates, private use, unassigned, line and paragraph separators."""

__all__ = [
    "DocumentInfoBody",
    "DocumentList",
    "DocumentUpload",
    "GenerateRequest",
    "IngestAnswer",
    "JobAccepted",
    "JobBody",
    "JobList",
    "ResolveRequest",
    "SagaBody",
    "SagaList",
    "SagaOutcome",
    "SagaStepBody",
    "UploadedDocument",
    "WikiFile",
    "WikiListing",
    "saga_body",
]


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


# -- documents -----------------------------------------------------------------------------


class UploadedDocument(BaseModel):
    """One document of a JSON upload: its path in the project and its text."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=2048)
    content: str


class DocumentUpload(BaseModel):
    """The JSON form of ``POST /projects/{id}/documents`` (multipart is the primary one)."""

    model_config = ConfigDict(extra="forbid")
    documents: list[UploadedDocument] = Field(min_length=1, max_length=1000)


class SkippedBody(BaseModel):
    path: str
    reason: str


class IngestAnswer(BaseModel):
    """What the upload's ingest did, as ``wikisaga ingest --json`` prints it."""

    project_id: str
    counts: dict[str, int]
    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    skipped: list[SkippedBody]
    repaired: int


class DocumentInfoBody(BaseModel):
    """One stored document: its id, source path, content hash and chunk count."""

    doc_id: str
    path: str
    title: str
    format: str
    content_hash: str
    chunk_count: int
    revision: int
    ingest_version: str


class DocumentList(BaseModel):
    project_id: str
    documents: list[DocumentInfoBody]


# -- sagas -----------------------------------------------------------------------------------


class SagaStepBody(BaseModel):
    """One step of a saga as the log holds it."""

    index: int
    name: str
    state: str
    compensation: str | None
    attempts: int
    seconds: float | None
    error: str | None
    compensation_attempts: int
    compensation_error: str | None


class SagaBody(BaseModel):
    """A saga: the guide's status, its lock and lease owner, times, metadata, what is
    left to undo and every step."""

    saga_id: str
    user_id: str | None
    state: str
    total_steps: int
    completed_steps: int
    failed_at: str | None
    error: str | None
    lock_key: str | None
    owner: str | None
    created_at: float | None
    updated_at: float | None
    metadata: dict[str, Any]
    remaining_compensations: list[str]
    steps: list[SagaStepBody]


def saga_body(record: SagaRecord) -> SagaBody:
    """The JSON form of ``record``."""
    return SagaBody(
        **record.status(),
        lock_key=record.lock_key,
        owner=record.owner,
        created_at=record.created_at,
        updated_at=record.updated_at,
        metadata=dict(record.metadata),
        remaining_compensations=[step.name for step in record.remaining_compensations],
        steps=[
            SagaStepBody(
                index=step.index,
                name=step.name,
                state=step.state.value,
                compensation=step.compensation,
                attempts=step.attempts,
                seconds=step.duration,
                error=step.error,
                compensation_attempts=step.compensation_attempts,
                compensation_error=step.compensation_error,
            )
            for step in record.steps
        ],
    )


class SagaList(BaseModel):
    """A page of sagas, newest first; ``next_before`` continues after the last one (``None``:
    there are no more)."""

    sagas: list[SagaBody]
    next_before: str | None


class SagaOutcome(BaseModel):
    """How a retry or a resolve ended: ``rolled_back``, or ``failed`` with steps left."""

    saga_id: str
    state: str
    undone: int
    remaining: int


class ResolveRequest(BaseModel):
    """``POST /sagas/{id}/resolve``: what was undone by hand, and by whom: one line of
    printable text (it is written to the backend's log, where a line break or a control
    character could forge another entry)."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)

    @field_validator("reason")
    @classmethod
    def _said_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say what was done by hand: resolving needs a reason")
        odd = next((c for c in value if unicodedata.category(c) in _NOT_TEXT), None)
        if odd is not None:
            raise ValueError(
                f"a reason is one line of printable text, without U+{ord(odd):04X} "
                f"({unicodedata.name(odd, 'a control character')})"
            )
        return value
