"""Snapshots: create (the guide's ``POST /snapshot``), read, list, delete (the guide's
``DELETE /snapshot``).

Writes to one project run one at a time (a lock per project); different projects proceed
in parallel. Creating reads the project's files from the filesystem service inside that
lock, so a snapshot always holds the files as they were when it was committed, and only
after the owner and the snapshot id are checked, so a repeated or refused request reads
none. For a new snapshot the owner is checked by the export itself (the filesystem service
refuses, with 403 and before it reads any file, another user's project); the registry is
asked first whenever the answer would come from the repository (a repeat, a conflict, a
deleted id), and after an empty export, which is how a project nobody owns exports.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Response, status
from pydantic import BaseModel, Field, field_validator

from wikisaga.errors import InvalidUserId
from wikisaga.ids import MAX_ID_LENGTH, validate_snapshot_id, validate_user_id
from wikisaga.services._common.app import ERROR_RESPONSES, ErrorBody
from wikisaga.services._common.deps import OptionalUserId, UserId
from wikisaga.services._common.errors import BadRequest
from wikisaga.services.git.deps import (
    SNAPSHOT_ID_PATTERN,
    Locks,
    ProjectId,
    Repositories,
    SnapshotId,
    Source,
    in_thread,
)
from wikisaga.services.git.repository import Snapshot

__all__ = [
    "SnapshotCreated",
    "SnapshotDeleted",
    "SnapshotDetail",
    "SnapshotList",
    "SnapshotRequest",
    "SnapshotSummary",
    "router",
]

MAX_MESSAGE_LENGTH = 10_000

router = APIRouter(tags=["snapshots"])

_UPSTREAM_ERRORS: dict[int | str, dict[str, Any]] = {
    500: {"model": ErrorBody, "description": "git failed"},
    502: {"model": ErrorBody, "description": "The filesystem service failed or is unreachable"},
    504: {"model": ErrorBody, "description": "The filesystem service did not answer in time"},
}


def iso_utc(moment: datetime) -> str:
    """``2024-01-15T10:30:00Z``: the guide's timestamp form."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SnapshotRequest(BaseModel):
    """The guide's request body, plus an optional client-chosen snapshot id."""

    user_id: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        description="The acting user; must be the project's owner. Printable, without "
        "surrounding spaces; compared in NFC form, as X-User-ID is.",
    )
    message: str = Field(max_length=MAX_MESSAGE_LENGTH, description="The commit message.")
    snapshot_id: str | None = Field(
        default=None,
        max_length=128,
        pattern=SNAPSHOT_ID_PATTERN,
        description="Chosen by the client to make the request idempotent; "
        "`snap-<uuid>` when absent. Also must not contain `..` or end in `.` or `.lock`.",
    )

    @field_validator("user_id")
    @classmethod
    def _valid_user(cls, value: str) -> str:
        try:
            return validate_user_id(value)
        except InvalidUserId as exc:
            raise ValueError(exc.message) from None

    @field_validator("message")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\0" in value:
            raise ValueError("message must not contain NUL")
        return value


class SnapshotCreated(BaseModel):
    """The guide's response, plus the commit id."""

    snapshot_id: str
    project_id: str
    created_at: str = Field(description="Commit time, UTC, whole seconds: `...T10:30:00Z`.")
    commit: str = Field(description="The commit id (40 hex digits).")


class SnapshotSummary(BaseModel):
    """One snapshot, without its files."""

    snapshot_id: str
    project_id: str
    commit: str
    message: str
    created_at: str


class SnapshotDetail(SnapshotSummary):
    """One snapshot with the paths of its files, sorted."""

    files: list[str]


class SnapshotList(BaseModel):
    """A project's snapshots, newest first."""

    project_id: str
    snapshots: list[SnapshotSummary]


class SnapshotDeleted(BaseModel):
    """The guide's delete response."""

    status: Literal["success"]


def _summary(snapshot: Snapshot) -> SnapshotSummary:
    return SnapshotSummary(
        snapshot_id=snapshot.snapshot_id,
        project_id=snapshot.project_id,
        commit=snapshot.commit,
        message=snapshot.message,
        created_at=iso_utc(snapshot.created_at),
    )


def _created(snapshot: Snapshot) -> SnapshotCreated:
    return SnapshotCreated(
        snapshot_id=snapshot.snapshot_id,
        project_id=snapshot.project_id,
        created_at=iso_utc(snapshot.created_at),
        commit=snapshot.commit,
    )


@router.post(
    "/snapshot/{project_id}",
    status_code=status.HTTP_201_CREATED,
    response_model=SnapshotCreated,
    responses={
        200: {"model": SnapshotCreated, "description": "Repeated request: the same snapshot"},
        **ERROR_RESPONSES,
        **_UPSTREAM_ERRORS,
    },
)
async def create_snapshot(
    *,
    project_id: ProjectId,
    body: Annotated[SnapshotRequest, Body()],
    response: Response,
    repositories: Repositories,
    source: Source,
    locks: Locks,
    header_user: OptionalUserId,
) -> SnapshotCreated:
    """Commit the project's current files (from the filesystem service) as a snapshot.

    The commit on `main` holds exactly the project's files and is tagged with the snapshot
    id; it is made even when the files did not change (a snapshot records an event).
    Repeating the request with the same `snapshot_id` and message returns the first
    snapshot with 200 and creates nothing; the same id with another message is 409
    `snapshot_conflict`, a deleted id is 409 `snapshot_deleted`. Only the project's owner
    (who first wrote files to it, in the filesystem service's registry) may snapshot it:
    another user gets 403, and a project nobody owns yet is 404 `project_not_found`, so a
    snapshot never claims a project. If the filesystem service is unreachable (502) or
    slow (504), nothing is created.
    """
    user = body.user_id
    if header_user is not None and header_user != user:
        raise BadRequest("X-User-ID and the body's user_id differ", code="user_mismatch")
    snapshot_id = validate_snapshot_id(body.snapshot_id or f"snap-{uuid.uuid4()}")
    async with locks.hold(project_id):
        # One worker thread: the owner and the id are checked once, and the files are
        # exported (in the same thread) only when a snapshot is to be made; the export
        # checks the owner itself, so a new snapshot needs no separate owner lookup.
        snapshot, created = await in_thread(
            repositories.create_snapshot,
            project_id,
            user,
            snapshot_id,
            body.message,
            partial(source.export_sync, project_id, user),
            export_checks_owner=True,
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    return _created(snapshot)


@router.get(
    "/snapshot/{project_id}/{snapshot_id}",
    response_model=SnapshotDetail,
    responses={**ERROR_RESPONSES, 500: _UPSTREAM_ERRORS[500]},
)
async def get_snapshot(
    *,
    project_id: ProjectId,
    snapshot_id: SnapshotId,
    user: UserId,
    repositories: Repositories,
) -> SnapshotDetail:
    """One snapshot: its commit, message, creation time and file paths."""
    snapshot = await in_thread(repositories.get_snapshot, project_id, user, snapshot_id)
    return SnapshotDetail(**_summary(snapshot).model_dump(), files=list(snapshot.files or ()))


@router.get(
    "/snapshots/{project_id}",
    response_model=SnapshotList,
    responses={**ERROR_RESPONSES, 500: _UPSTREAM_ERRORS[500]},
)
async def list_snapshots(
    *,
    project_id: ProjectId,
    user: UserId,
    repositories: Repositories,
) -> SnapshotList:
    """Every snapshot of the project, newest first; 404 if it was never snapshotted or
    nobody owns it."""
    snapshots = await in_thread(repositories.list_snapshots, project_id, user)
    return SnapshotList(project_id=project_id, snapshots=[_summary(s) for s in snapshots])


@router.delete(
    "/snapshot/{project_id}/{snapshot_id}",
    response_model=SnapshotDeleted,
    responses={**ERROR_RESPONSES, 500: _UPSTREAM_ERRORS[500]},
)
async def delete_snapshot(
    *,
    project_id: ProjectId,
    snapshot_id: SnapshotId,
    user: UserId,
    repositories: Repositories,
    locks: Locks,
) -> SnapshotDeleted:
    """Delete a snapshot (the guide's compensation); deleting an absent one succeeds.

    The tag goes; if the snapshot is the head of `main`, `main` moves back to its parent
    (or is removed when it was the first commit). Older history is never rewritten, so
    deleting an older snapshot removes only its tag. The id can never be created again:
    a create request that arrives late, after this delete, is refused with 409. To
    remember that, the owner's delete in a project that was never snapshotted creates the
    project's empty repository. In a project nobody owns yet it succeeds and changes
    nothing (no repository, no owner); another user's project is 403.
    """
    async with locks.hold(project_id):
        await in_thread(repositories.delete_snapshot, project_id, user, snapshot_id)
    return SnapshotDeleted(status="success")
