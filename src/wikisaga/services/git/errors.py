r"""The errors of the git service's repository layer, all :class:`~wikisaga.errors.StoreError`\ s
(``deps.ERRORS`` maps them to HTTP)::

    GitRepositoryError             root of every error of the repository layer
    ├── ProjectNotFound            nobody owns the project, or it has no repository
    ├── NotProjectOwner            the project belongs to another user
    ├── SnapshotNotFound           no snapshot with this id
    ├── SnapshotConflict           the snapshot id exists with a different message
    ├── SnapshotDeleted            the snapshot id was deleted and cannot be reused
    ├── InvalidSnapshotFiles       the files cannot form a git tree (bad or clashing paths)
    └── GitCommandFailed           git exited with an error or did not finish in time
"""

from __future__ import annotations

from collections.abc import Iterable

from wikisaga.errors import StoreError

__all__ = [
    "GitCommandFailed",
    "GitRepositoryError",
    "InvalidSnapshotFiles",
    "NotProjectOwner",
    "ProjectNotFound",
    "SnapshotConflict",
    "SnapshotDeleted",
    "SnapshotNotFound",
]


class GitRepositoryError(StoreError):
    """Root of every error raised by the repository layer."""

    code = "git_failed"


class ProjectNotFound(GitRepositoryError):
    """Nobody owns the project yet, or it has no repository (it was never snapshotted)."""

    code = "project_not_found"

    def __init__(self, project_id: str, reason: str = "has no snapshots repository") -> None:
        super().__init__(f"project {project_id!r} {reason}")
        self.project_id = project_id


class NotProjectOwner(GitRepositoryError):
    """The project belongs to another user."""

    code = "forbidden"

    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id!r} belongs to another user")
        self.project_id = project_id


class SnapshotNotFound(GitRepositoryError):
    """The project has no snapshot with this id."""

    code = "snapshot_not_found"

    def __init__(self, project_id: str, snapshot_id: str) -> None:
        super().__init__(f"project {project_id!r} has no snapshot {snapshot_id!r}")
        self.project_id = project_id
        self.snapshot_id = snapshot_id


class SnapshotConflict(GitRepositoryError):
    """The snapshot id is taken by a snapshot with a different message."""

    code = "snapshot_conflict"

    def __init__(self, project_id: str, snapshot_id: str) -> None:
        super().__init__(
            f"snapshot {snapshot_id!r} of project {project_id!r} already exists "
            "with a different message"
        )
        self.project_id = project_id
        self.snapshot_id = snapshot_id


class SnapshotDeleted(GitRepositoryError):
    """The snapshot id was deleted; ids are never reused."""

    code = "snapshot_deleted"

    def __init__(self, project_id: str, snapshot_id: str) -> None:
        super().__init__(
            f"snapshot {snapshot_id!r} of project {project_id!r} was deleted; "
            "a deleted snapshot id cannot be created again"
        )
        self.project_id = project_id
        self.snapshot_id = snapshot_id


class InvalidSnapshotFiles(GitRepositoryError):
    """The files cannot be stored as one git tree."""

    code = "filesystem_bad_export"


class GitCommandFailed(GitRepositoryError):
    """A git command exited with an error or ran past its timeout."""

    def __init__(self, args: Iterable[str], detail: str) -> None:
        command = " ".join(args)
        super().__init__(f"git {command} failed: {detail}")
        self.command = command
        self.detail = detail
