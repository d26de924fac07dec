"""The git service app (port 6003): one bare git repository per project.

Repositories live in ``<WIKISAGA_DATA_DIR>/git/<project_id>.git``; a snapshot is a commit
on ``main`` plus the tag ``<snapshot_id>``. Files come from the filesystem service's
``GET /export/{project_id}`` (which checks the owner too), and owners from its
``GET /projects/{project_id}``. See
``repository`` for the storage rules and ``routes`` for the API. At start, leftovers of a
killed git (temporary packs and objects, stale locks) are removed and every prune a delete
left unfinished is done (see ``housekeeping``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wikisaga.config import Settings
from wikisaga.services._common.app import create_service_app
from wikisaga.services._common.locks import AsyncProjectLocks
from wikisaga.services.git.deps import ERRORS
from wikisaga.services.git.repository import ProjectRepositories
from wikisaga.services.git.routes import clone, snapshots
from wikisaga.services.git.source import FilesystemSource

__all__ = ["create_app"]

logger = logging.getLogger("wikisaga.services.git")

DESCRIPTION = """\
Snapshots of a project's wiki as commits and tags in a real git repository.

Every endpoint except `/health` needs `X-INTERNAL-TOKEN`. A project belongs to the user
who first wrote files to it, as the filesystem service's project registry records (this
service keeps no owner of its own and checks every project request against the registry:
by asking it, or, for a new snapshot, through the export of the files, which the
filesystem service refuses to anyone but the owner): every other user gets 403, and a
project nobody owns yet is 404 `project_not_found` (a delete in it succeeds and changes
nothing). Errors are
`{"error": <code>, "detail": <message>}`. Repositories can be cloned read-only:
`git -c http.extraHeader="X-INTERNAL-TOKEN: <token>" -c http.extraHeader="X-User-ID: <user>"
clone <url>/git/<project_id>.git`.
"""


def create_app(settings: Settings) -> FastAPI:
    """Build the git service app."""
    app = create_service_app("git", settings, description=DESCRIPTION, errors=ERRORS)
    effective: Settings = app.state.settings
    source = FilesystemSource(effective)
    # The filesystem's project registry is the one record of owners: every repository
    # call checks its user against it.
    repositories = ProjectRepositories(effective.data_dir / "git", owners=source.owner_of)
    swept = repositories.sweep(started_at=time.time())
    if swept:
        logger.info("removed %d leftover temporary or lock files", swept)
    app.state.repositories = repositories
    app.state.locks = AsyncProjectLocks()
    app.state.source = source

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            app.state.source.close()

    app.router.lifespan_context = lifespan
    app.include_router(snapshots.router)
    app.include_router(clone.router)
    return app
