"""The last committed generation of a project: its pages and its graph."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from wikisaga.ids import validate_file_path
from wikisaga.services._common import ERROR_RESPONSES, UserId
from wikisaga.services._common.deps import internal_token
from wikisaga.services.backend.deps import ProjectId, Runner
from wikisaga.services.backend.schemas import WikiFile, WikiListing

__all__ = ["router"]

router = APIRouter(tags=["wiki"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES)


@router.get("/projects/{project_id}/wiki", response_model=WikiListing)
def wiki(project_id: ProjectId, user_id: UserId, runner: Runner) -> WikiListing:
    """The files of the committed generation's snapshot, read from the git service."""
    job = runner.committed(project_id, user_id)
    result = dict(job.result or {})
    with runner.git() as git:
        snapshot = git.get_snapshot(project_id, str(result["snapshot_id"]), user_id=user_id)
    files = sorted(snapshot["files"]) if snapshot else sorted(result.get("manifest") or {})
    return WikiListing(
        project_id=project_id,
        job_id=job.job_id,
        saga_id=job.saga_id,
        snapshot_id=str(result["snapshot_id"]),
        graph_generation=str(result.get("graph_generation") or job.saga_id),
        files=files,
    )


@router.get("/projects/{project_id}/wiki/{path:path}", response_model=WikiFile)
def wiki_file(project_id: ProjectId, path: str, user_id: UserId, runner: Runner) -> WikiFile:
    """One page as the committed generation has it (503 while a generation in flight has
    rewritten it)."""
    path = validate_file_path(path)
    job = runner.committed(project_id, user_id)
    content = runner.read_file(job, path)
    snapshot_id = str((job.result or {})["snapshot_id"])
    return WikiFile(project_id=project_id, path=path, snapshot_id=snapshot_id, content=content)


@router.get("/projects/{project_id}/graph")
def graph(project_id: ProjectId, user_id: UserId, runner: Runner) -> dict[str, Any]:
    """The committed generation's graph: counts and every relation with its provenance."""
    job = runner.committed(project_id, user_id)
    summary, relations = runner.graph_of(job)
    return {
        "project_id": project_id,
        "graph_generation": str((job.result or {}).get("graph_generation") or job.saga_id),
        "entities": summary.entities,
        "relations": [relation.to_json() for relation in relations],
    }
