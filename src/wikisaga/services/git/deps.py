"""Dependencies of the git service's routes, and how its domain errors become HTTP.

Repository and source errors are translated by the shared handler through :data:`ERRORS`
(this service's one table, consulted before the shared rules), and rendered as
``{"error", "detail"}``::

    ProjectNotFound          404 project_not_found      (nobody owns it, or no repository)
    SnapshotNotFound         404 snapshot_not_found
    NotProjectOwner          403 forbidden
    SnapshotConflict         409 snapshot_conflict
    SnapshotDeleted          409 snapshot_deleted
    InvalidSnapshotFiles     502 filesystem_bad_export   (the files came from the filesystem)
    FilesystemBadExport      502 filesystem_bad_export
    FilesystemUnavailable    502 filesystem_unavailable
    FilesystemTimeout        504 filesystem_timeout
    GitCommandFailed         500 git_failed (and any other repository error)

The dependencies are ``async def``, as every service's are (``_common.deps`` says why).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, ParamSpec, TypeVar

from anyio import to_thread
from fastapi import Depends, Path, Request

from wikisaga.ids import (
    PROJECT_ID_PATTERN,
    SNAPSHOT_ID_PATTERN,
    validate_project_id,
    validate_snapshot_id,
)
from wikisaga.services._common.errors import (
    BadGateway,
    Conflict,
    Forbidden,
    GatewayTimeout,
    NotFound,
    ServiceError,
    Translations,
    with_code,
)
from wikisaga.services._common.locks import AsyncProjectLocks
from wikisaga.services.git.errors import (
    GitRepositoryError,
    InvalidSnapshotFiles,
    NotProjectOwner,
    ProjectNotFound,
    SnapshotConflict,
    SnapshotDeleted,
    SnapshotNotFound,
)
from wikisaga.services.git.repository import ProjectRepositories
from wikisaga.services.git.source import (
    FilesystemSource,
    FilesystemTimeout,
    FilesystemUnavailable,
)

__all__ = [
    "ERRORS",
    "SNAPSHOT_ID_PATTERN",
    "Locks",
    "ProjectId",
    "Repositories",
    "SnapshotId",
    "Source",
    "in_thread",
]

P = ParamSpec("P")
T = TypeVar("T")


def _bad_files(error: InvalidSnapshotFiles) -> ServiceError:
    return BadGateway(
        f"the filesystem's files cannot be snapshotted: {error.message}", code=error.code
    )


ERRORS: Translations = (
    (ProjectNotFound, with_code(NotFound)),
    (SnapshotNotFound, with_code(NotFound)),
    (NotProjectOwner, with_code(Forbidden)),
    (SnapshotConflict, with_code(Conflict)),
    (SnapshotDeleted, with_code(Conflict)),
    (InvalidSnapshotFiles, _bad_files),
    (FilesystemTimeout, with_code(GatewayTimeout)),
    (FilesystemUnavailable, with_code(BadGateway)),
    (GitRepositoryError, with_code(ServiceError)),
)
"""The git service's translations; the rest are ``COMMON_TRANSLATIONS``."""


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking repository call in a worker thread (its errors reach the handler)."""
    return await to_thread.run_sync(partial(function, *args, **kwargs))


async def _project_id(
    project_id: Annotated[
        str,
        Path(
            description="The project; `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`, no `..` "
            "(else 400 `invalid_path`).",
            # Documented, not enforced by the framework: the validator answers 400 with
            # the shared `invalid_path` code rather than a generic 422.
            json_schema_extra={"pattern": PROJECT_ID_PATTERN},
        ),
    ],
) -> str:
    return validate_project_id(project_id)


async def _snapshot_id(
    snapshot_id: Annotated[
        str,
        Path(
            description="The snapshot; `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`, no `..`, "
            "not ending in `.` or `.lock` (else 400 `invalid_snapshot_id`).",
            json_schema_extra={"pattern": SNAPSHOT_ID_PATTERN},
        ),
    ],
) -> str:
    return validate_snapshot_id(snapshot_id)


async def _repositories(request: Request) -> ProjectRepositories:
    repositories: ProjectRepositories = request.app.state.repositories
    return repositories


async def _source(request: Request) -> FilesystemSource:
    source: FilesystemSource = request.app.state.source
    return source


async def _locks(request: Request) -> AsyncProjectLocks:
    locks: AsyncProjectLocks = request.app.state.locks
    return locks


ProjectId = Annotated[str, Depends(_project_id)]
SnapshotId = Annotated[str, Depends(_snapshot_id)]
Repositories = Annotated[ProjectRepositories, Depends(_repositories)]
Source = Annotated[FilesystemSource, Depends(_source)]
Locks = Annotated[AsyncProjectLocks, Depends(_locks)]
