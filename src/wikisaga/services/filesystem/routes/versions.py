"""Versions: what is current now (to plan a rollback) and putting files back, by version
or by undoing a batch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from wikisaga.ids import validate_file_path, validate_project_id
from wikisaga.services._common import ERROR_RESPONSES, BadRequest, IdempotencyKey, UserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services.filesystem._writes import (
    check_count,
    check_unique,
    results_renderer,
    undo,
    write,
)
from wikisaga.services.filesystem.config import FilesystemLimits
from wikisaga.services.filesystem.deps import Limits, ProjectId, Store
from wikisaga.services.filesystem.schemas import (
    PathVersion,
    RestoreRequest,
    RestoreResponse,
    RestoreResult,
    VersionsRequest,
    VersionsResponse,
)
from wikisaga.services.filesystem.store import Change, FileStore

__all__ = ["router"]

router = APIRouter(
    tags=["versions"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES
)


def _versions(
    store: FileStore, limits: FilesystemLimits, project_id: str, user_id: str, paths: list[str]
) -> VersionsResponse:
    check_count(len(paths), limits)
    valid = [validate_file_path(path) for path in paths]
    current = store.current_versions(project_id, user_id, valid)
    return VersionsResponse(
        project_id=project_id,
        files=[PathVersion(path=path, version=version) for path, version in current],
    )


@router.get("/versions/{project_id}", response_model=VersionsResponse)
def get_versions(
    *,
    project_id: ProjectId,
    user_id: UserId,
    store: Store,
    limits: Limits,
    paths: Annotated[list[str], Query(description="Paths to look up (repeatable).")],
) -> VersionsResponse:
    """The current version (null: absent) of each path, in the order asked.

    The answer's ``files`` is a valid ``/restore`` body: ask before writing, restore
    with it to undo the write.
    """
    return _versions(store, limits, project_id, user_id, paths)


@router.post("/versions/{project_id}", response_model=VersionsResponse)
def post_versions(
    *,
    project_id: ProjectId,
    body: VersionsRequest,
    user_id: UserId,
    store: Store,
    limits: Limits,
) -> VersionsResponse:
    """Same as ``GET /versions/{project_id}``, for path lists too long for a URL."""
    return _versions(store, limits, project_id, user_id, body.paths)


@router.post("/restore", response_model=RestoreResponse)
def restore(
    *,
    body: RestoreRequest,
    request: Request,
    user_id: UserId,
    store: Store,
    limits: Limits,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Put each file back to a version of it, or to absent (``version: null``); or undo
    a batch by its ``Idempotency-Key``. The body holds exactly one of ``files`` and
    ``undo_idempotency_key`` (400 ``restore_needs_files_or_undo_key`` otherwise).

    ``files``: all or nothing, and idempotent: restoring what is already restored changes
    nothing and succeeds (action ``unchanged``). A version that is not a version of that
    path is 404 ``version_not_found`` and nothing is changed. No new version is created: a
    restored file's version is the id it had before.

    ``undo_idempotency_key``: if the acting user's key answered a ``POST /batch`` of this
    project, every path that batch changed goes back to its ``previous_version``, read
    from the batch's stored answer in the restore's own transaction (paths it left
    ``absent`` are not touched); if the key was never used, nothing changes. Either way
    the key is revoked in the same transaction, so that the batch, should it arrive later,
    is refused (409 ``idempotency_key_revoked``). Repeating the undo changes nothing. A
    key that answered another request (a ``save_file``, a ``DELETE /file``, a restore
    that restored a version) or a batch of another project is 409
    ``idempotency_key_not_a_batch`` and nothing is changed.

    ``revoke_idempotency_keys`` names the requests this restore undoes; one of them that
    arrives later (delayed in the network, or retried) is refused with 409
    ``idempotency_key_revoked`` instead of taking effect after its own rollback.
    """
    project_id = validate_project_id(body.project_id)
    render = results_renderer(RestoreResponse, RestoreResult, project_id)
    if (body.files is None) == (body.undo_idempotency_key is None):
        raise BadRequest(
            "a restore names either 'files' or 'undo_idempotency_key', and not both",
            code="restore_needs_files_or_undo_key",
        )
    if body.undo_idempotency_key is not None:
        return undo(
            store,
            request,
            project_id=project_id,
            user_id=user_id,
            key=body.undo_idempotency_key,
            render=render,
            idempotency_key=idempotency_key,
            fingerprint_body=body.model_dump(exclude={"files"}),
            revoke=body.revoke_idempotency_keys,
        )
    assert body.files is not None
    check_count(len(body.files), limits)
    changes = [
        Change("restore", validate_file_path(item.path), version=item.version)
        for item in body.files
    ]
    check_unique([change.path for change in changes])

    return write(
        store,
        request,
        project_id=project_id,
        user_id=user_id,
        changes=changes,
        render=render,
        idempotency_key=idempotency_key,
        # Hashed as it was before the undo form existed, so a key answered then replays.
        fingerprint_body=body.model_dump(exclude={"undo_idempotency_key"}),
        revoke=body.revoke_idempotency_keys,
    )
