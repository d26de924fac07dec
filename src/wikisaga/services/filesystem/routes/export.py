"""Every current file of a project with its content (the git service snapshots this)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from wikisaga import json_codec
from wikisaga.services._common import ERROR_RESPONSES, UserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services.filesystem.deps import ProjectId, Store
from wikisaga.services.filesystem.schemas import ExportResponse

__all__ = ["router"]

router = APIRouter(
    tags=["export"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES
)


@router.get("/export/{project_id}", response_model=ExportResponse)
def export(project_id: ProjectId, user_id: UserId, store: Store) -> Response:
    """Every current file, sorted by path, with its UTF-8 content, version and sha256."""
    # Written directly (``json_codec``), not through the response model: a wiki's worth
    # of text is the whole answer, and building and serialising a model per file cost
    # more than reading the files. The model still documents the answer.
    body = {
        "project_id": project_id,
        "files": [
            {
                "path": record.path,
                "content": data.decode("utf-8"),
                "version": record.version,
                "sha256": record.sha256,
            }
            for record, data in store.export(project_id, user_id)
        ],
    }
    return Response(json_codec.dumps(body), media_type="application/json")
