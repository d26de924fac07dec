"""Dependencies of the git service's routes, and the translation of repository errors.

Repository errors become service errors here, at the boundary, so the shared handler
renders them as ``{"error", "detail"}``::

    ProjectNotFound       404 project_not_found
    SnapshotNotFound      404 snapshot_not_found
    NotProjectOwner       403 forbidden
    SnapshotConflict      409 snapshot_conflict
    SnapshotDeleted       409 snapshot_deleted
    InvalidSnapshotFiles  502 filesystem_bad_export   (the files came from the filesystem)
    GitCommandFailed      500 git_failed
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, ParamSpec, TypeVar

from anyio import to_thread
from fastapi import Depends, Path, Request

from wikisaga.services._common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceError,
)
from wikisaga.services._common.locks import AsyncProjectLocks
from wikisaga.ids import PROJECT_ID_PATTERN, validate_project_id
from wikisaga.services.git.repository import (
    GitRepositoryError,
    InvalidSnapshotFiles,
    NotProjectOwner,
    ProjectNotFound,
    ProjectRepositories,
    SnapshotConflict,
    SnapshotDeleted,
    SnapshotNotFound,
    is_valid_snapshot_id,
)
from wikisaga.services.git.source import FilesystemBadExport, FilesystemExportSource

__all__ = [
    "SNAPSHOT_ID_PATTERN",
    "Locks",
    "ProjectId",
    "Repositories",
    "SnapshotId",
    "Source",
    "check_snapshot_id",
    "in_thread",
    "translate",
]

SNAPSHOT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
"""Snapshot ids; also not containing ``..`` and not ending in ``.`` or ``.lock``."""

P = ParamSpec("P")
T = TypeVar("T")


_TRANSLATIONS: tuple[tuple[type[GitRepositoryError], Callable[[str], ServiceError]], ...] = (
    (ProjectNotFound, lambda d: NotFound(d, code="project_not_found")),
    (SnapshotNotFound, lambda d: NotFound(d, code="snapshot_not_found")),
    (NotProjectOwner, Forbidden),
    (SnapshotConflict, lambda d: Conflict(d, code="snapshot_conflict")),
    (SnapshotDeleted, lambda d: Conflict(d, code="snapshot_deleted")),
    (
        InvalidSnapshotFiles,
        lambda d: FilesystemBadExport(f"the filesystem's files cannot be snapshotted: {d}"),
    ),
)


def translate(error: GitRepositoryError) -> ServiceError:
    """The service error that reports ``error`` to the caller (500 ``git_failed`` if unknown)."""
    for kind, make in _TRANSLATIONS:
        if isinstance(error, kind):
            return make(str(error))
    return ServiceError(str(error), code="git_failed")


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a blocking repository call in a worker thread, translating its errors."""
    try:
        return await to_thread.run_sync(partial(function, *args, **kwargs))
    except GitRepositoryError as exc:
        raise translate(exc) from exc


def _project_id(
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


def check_snapshot_id(snapshot_id: str) -> str:
    """Return ``snapshot_id`` if usable as a snapshot id, else raise 400 ``invalid_snapshot_id``."""
    if not is_valid_snapshot_id(snapshot_id):
        raise BadRequest(
            "snapshot id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}, without '..', "
            "and not end in '.' or '.lock'",
            code="invalid_snapshot_id",
        )
    return snapshot_id


def _snapshot_id(
    snapshot_id: Annotated[
        str,
        Path(
            description="The snapshot; `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`, no `..`, "
            "not ending in `.` or `.lock` (else 400 `invalid_snapshot_id`).",
            json_schema_extra={"pattern": SNAPSHOT_ID_PATTERN},
        ),
    ],
) -> str:
    return check_snapshot_id(snapshot_id)


def _repositories(request: Request) -> ProjectRepositories:
    repositories: ProjectRepositories = request.app.state.repositories
    return repositories


def _source(request: Request) -> FilesystemExportSource:
    source: FilesystemExportSource = request.app.state.source
    return source


def _locks(request: Request) -> AsyncProjectLocks:
    locks: AsyncProjectLocks = request.app.state.locks
    return locks


ProjectId = Annotated[str, Depends(_project_id)]
SnapshotId = Annotated[str, Depends(_snapshot_id)]
Repositories = Annotated[ProjectRepositories, Depends(_repositories)]
Source = Annotated[FilesystemExportSource, Depends(_source)]
Locks = Annotated[AsyncProjectLocks, Depends(_locks)]
