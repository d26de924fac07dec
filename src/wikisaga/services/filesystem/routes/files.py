"""Single files: the guide's save and delete, plus read and list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from wikisaga.ids import validate_file_path, validate_path_prefix, validate_project_id
from wikisaga.services._common import ERROR_RESPONSES, IdempotencyKey, UserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services.filesystem._writes import encode_content, write
from wikisaga.services.filesystem.deps import Limits, ProjectId, Store
from wikisaga.services.filesystem.schemas import (
    DeleteFileResponse,
    FileContent,
    FileInfo,
    FileListing,
    SaveFileRequest,
    SaveFileResponse,
)
from wikisaga.services.filesystem.store import Change, ChangeResult

__all__ = ["router"]

router = APIRouter(
    tags=["files"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES
)


@router.post("/save_file", response_model=SaveFileResponse)
def save_file(
    *,
    body: SaveFileRequest,
    request: Request,
    user_id: UserId,
    store: Store,
    limits: Limits,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Save one file as a new version (the guide's endpoint).

    Answers ``{"status": "success", "file_id", "path", "version", "previous_version",
    "sha256", "size"}``; ``previous_version`` is null when the file did not exist.
    """
    project_id = validate_project_id(body.project_id)
    path = validate_file_path(body.file_path)
    data = encode_content(body.content, path, limits)

    def render(results: list[ChangeResult]) -> dict[str, Any]:
        (result,) = results
        assert result.version is not None
        assert result.sha256 is not None
        return SaveFileResponse(
            file_id=result.version,
            path=result.path,
            version=result.version,
            previous_version=result.previous_version,
            sha256=result.sha256,
            size=len(data),
        ).model_dump()

    return write(
        store,
        request,
        project_id=project_id,
        user_id=user_id,
        changes=[Change("save", path, data=data)],
        render=render,
        idempotency_key=idempotency_key,
        fingerprint_body=body.model_dump(),
    )


@router.get("/file/{project_id}/{path:path}", response_model=FileContent)
def get_file(project_id: ProjectId, path: str, user_id: UserId, store: Store) -> FileContent:
    """The current content and version of one file; 404 when absent."""
    valid_path = validate_file_path(path)
    record, data = store.read_file(project_id, user_id, valid_path)
    return FileContent(
        project_id=project_id,
        path=record.path,
        content=data.decode("utf-8"),
        version=record.version,
        sha256=record.sha256,
        size=record.size,
        updated_at=record.updated_at,
    )


@router.delete("/file/{project_id}/{filename:path}", response_model=DeleteFileResponse)
def delete_file(
    *,
    project_id: ProjectId,
    filename: str,
    request: Request,
    user_id: UserId,
    store: Store,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Delete one file (the guide's endpoint); deleting an absent file also succeeds.

    Answers ``{"status": "success", "path", "deleted", "previous_version"}``. Earlier
    versions stay restorable.
    """
    path = validate_file_path(filename)

    def render(results: list[ChangeResult]) -> dict[str, Any]:
        (result,) = results
        return DeleteFileResponse(
            path=result.path,
            deleted=result.action == "deleted",
            previous_version=result.previous_version,
        ).model_dump()

    return write(
        store,
        request,
        project_id=project_id,
        user_id=user_id,
        changes=[Change("delete", path)],
        render=render,
        idempotency_key=idempotency_key,
        fingerprint_body=None,
    )


@router.get("/files/{project_id}", response_model=FileListing)
def list_files(
    *,
    project_id: ProjectId,
    user_id: UserId,
    store: Store,
    prefix: Annotated[str, Query(description="Only paths starting with this.")] = "",
) -> FileListing:
    """Current files of a project, sorted by path; a project nobody wrote to has none."""
    valid_prefix = validate_path_prefix(prefix)
    records = store.list_files(project_id, user_id, valid_prefix)
    return FileListing(
        project_id=project_id,
        files=[
            FileInfo(
                path=r.path,
                version=r.version,
                size=r.size,
                sha256=r.sha256,
                updated_at=r.updated_at,
            )
            for r in records
        ],
    )
