"""The project registry: who owns each project, for every service.

The user who first writes files to a project owns it (DESIGN §3), and this registry is the
one record of that: the git service asks it before every project request, through
:meth:`~wikisaga.clients.FilesystemClient.project_owner`, instead of keeping an owner of
its own.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from wikisaga.errors import ProjectNotFound
from wikisaga.services._common import ERROR_RESPONSES
from wikisaga.services._common.deps import internal_token
from wikisaga.services.filesystem.deps import ProjectId, Store
from wikisaga.services.filesystem.schemas import ProjectInfo

__all__ = ["router"]

router = APIRouter(
    tags=["projects"], dependencies=[Depends(internal_token)], responses=ERROR_RESPONSES
)


@router.get("/projects/{project_id}", response_model=ProjectInfo)
def get_project(project_id: ProjectId, store: Store) -> ProjectInfo:
    """Who owns the project: ``{project_id, owner, created_at}``; 404 ``project_not_found``
    when nobody has written files to it yet.

    A lookup between services: it needs the internal token and no ``X-User-ID``, and it
    answers with no content of the project. A project's owner never changes.
    """
    record = store.project(project_id)
    if record is None:
        raise ProjectNotFound(f"project {project_id!r} has no owner: nobody has written to it")
    return ProjectInfo(
        project_id=record.project_id, owner=record.owner, created_at=record.created_at
    )
