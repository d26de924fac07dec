"""The project registry: who owns each project, for every service.

The user who first writes files to a project owns it (DESIGN §3), and this registry is the
one record of that: the git service checks every project request against it, through
:meth:`~wikisaga.clients.FilesystemClient.project_owner` (or, for a new snapshot, through
the export, which answers only the owner), instead of keeping an owner of its own. An
ingest claims the project here (``PUT /projects/{project_id}``) before it stores the
documents, so that the registry names the user whose documents a generation will publish
(the rule every caller applies: :mod:`wikisaga.content.ownership`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from wikisaga.errors import ProjectNotFound
from wikisaga.services._common import ERROR_RESPONSES, UserId
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


@router.put("/projects/{project_id}", response_model=ProjectInfo)
def claim_project(project_id: ProjectId, user_id: UserId, store: Store) -> ProjectInfo:
    """Claim the project for ``X-User-ID``: a project nobody owns becomes theirs, one they
    own already is answered as it is (a repeated claim changes nothing); another user's
    is 403 ``forbidden`` and changes nothing. Answers ``{project_id, owner, created_at}``.

    Needs the internal token and ``X-User-ID`` (trusted only with the token), like a
    write: an ingest claims the project this way before it stores documents, so that the
    registry names their owner before any file is written.
    """
    record = store.claim(project_id, user_id)
    return ProjectInfo(
        project_id=record.project_id, owner=record.owner, created_at=record.created_at
    )
