"""Many saves and deletes in one all-or-nothing request."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from wikisaga.ids import validate_file_path, validate_project_id
from wikisaga.services._common import ERROR_RESPONSES, BadRequest, IdempotencyKey, UserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services.filesystem._writes import (
    check_count,
    check_unique,
    encode_content,
    results_renderer,
    write,
)
from wikisaga.services.filesystem.deps import Limits, Store
from wikisaga.services.filesystem.schemas import BatchRequest, BatchResponse, BatchResult
from wikisaga.services.filesystem.store import Change

__all__ = ["router"]

router = APIRouter(
    tags=["batch"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES
)


@router.post("/batch", response_model=BatchResponse)
def batch(
    *,
    body: BatchRequest,
    request: Request,
    user_id: UserId,
    store: Store,
    limits: Limits,
    idempotency_key: IdempotencyKey,
) -> JSONResponse:
    """Save and delete files all or nothing.

    Everything is validated before anything is written, and the change becomes visible
    in one step: a refused request, or a crash at any moment, leaves every file as it was.
    Results come in request order (saves, then deletes) with action ``saved``,
    ``deleted`` or ``absent`` (deleting a file that was not there), each with the
    ``previous_version`` it replaced.

    ``replace: true`` publishes a whole generation in one request: afterwards the
    project's files are exactly ``save``; every other current file is deleted in the
    same transaction (results ``deleted`` after the saves, by path), so no listing is
    needed first, and the answer (stored under the ``Idempotency-Key``) names every
    path's previous version: ``POST /restore`` with ``undo_idempotency_key`` undoes it.
    With ``replace``, ``delete`` must be empty (400 ``replace_with_delete``).
    """
    project_id = validate_project_id(body.project_id)
    if body.replace and body.delete:
        raise BadRequest(
            "a batch with replace deletes every file it does not save; 'delete' must be empty",
            code="replace_with_delete",
        )
    check_count(len(body.save) + len(body.delete), limits)
    changes = []
    for item in body.save:
        path = validate_file_path(item.file_path)
        changes.append(Change("save", path, data=encode_content(item.content, path, limits)))
    changes.extend(Change("delete", validate_file_path(path)) for path in body.delete)
    check_unique([change.path for change in changes])

    render = results_renderer(BatchResponse, BatchResult, project_id)

    return write(
        store,
        request,
        project_id=project_id,
        user_id=user_id,
        changes=changes,
        render=render,
        idempotency_key=idempotency_key,
        # Without replace, the body hashes as it did before the field existed, so a key
        # answered then still replays.
        fingerprint_body=body.model_dump(exclude=None if body.replace else {"replace"}),
        replace=body.replace,
    )
