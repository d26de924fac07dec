"""Request and response bodies of the filesystem service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from wikisaga.ids import MAX_PATH_BYTES, PROJECT_ID_PATTERN

__all__ = [
    "BatchRequest",
    "BatchResponse",
    "BatchResult",
    "DeleteFileResponse",
    "ExportResponse",
    "ExportedFile",
    "FileContent",
    "FileInfo",
    "FileListing",
    "PathVersion",
    "ProjectInfo",
    "RestoreRequest",
    "RestoreResponse",
    "RestoreResult",
    "SaveFileRequest",
    "SaveFileResponse",
    "SaveItem",
    "VersionsRequest",
    "VersionsResponse",
]


# Documented in the schema so generated clients and property tests use valid ids; the
# route's validator enforces it (400 invalid_path), with the full path rules.
def _project_id_field() -> Any:
    return Field(
        description="Project id: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, no '..'.",
        json_schema_extra={"pattern": PROJECT_ID_PATTERN},
    )


def _file_path_field() -> Any:
    return Field(
        description="Relative '/'-separated path; see the path rules in the service docs.",
        json_schema_extra={"minLength": 1, "maxLength": MAX_PATH_BYTES},
    )


class SaveFileRequest(BaseModel):
    """The guide's ``POST /save_file`` body."""

    project_id: str = _project_id_field()
    file_path: str = _file_path_field()
    content: str = Field(description="UTF-8 text, at most 1 MiB encoded.")


class SaveFileResponse(BaseModel):
    """The guide's answer plus the version created and the one it replaced."""

    status: Literal["success"] = "success"
    file_id: str = Field(description="Id of the stored version (same as ``version``).")
    path: str
    version: str
    previous_version: str | None
    sha256: str
    size: int


class DeleteFileResponse(BaseModel):
    """The guide's answer; ``deleted`` is false when the file was already absent."""

    status: Literal["success"] = "success"
    path: str
    deleted: bool
    previous_version: str | None


class FileContent(BaseModel):
    """One file with its content."""

    project_id: str
    path: str
    content: str
    version: str
    sha256: str
    size: int
    updated_at: str


class FileInfo(BaseModel):
    """One current file, without content."""

    path: str
    version: str
    size: int
    sha256: str
    updated_at: str


class FileListing(BaseModel):
    """Current files of a project (empty for a project nobody wrote to)."""

    project_id: str
    files: list[FileInfo]


class SaveItem(BaseModel):
    """One file to save in a batch."""

    file_path: str = _file_path_field()
    content: str


class BatchRequest(BaseModel):
    """Saves and deletes applied all or nothing; a path may appear once."""

    project_id: str = _project_id_field()
    save: list[SaveItem] = Field(default_factory=list)
    delete: list[str] = Field(
        default_factory=list, description="Paths to delete; must be empty with ``replace``."
    )
    replace: bool = Field(
        default=False,
        description="After the batch the project's files are exactly ``save``: every other "
        "current file is deleted in the same all-or-nothing transaction, and its result "
        "(``deleted``, with its ``previous_version``) follows the saves', by path. "
        "``delete`` must then be empty (400 ``replace_with_delete``).",
    )


class BatchResult(BaseModel):
    """What happened to one path of a batch."""

    path: str
    action: Literal["saved", "deleted", "absent"]
    version: str | None
    previous_version: str | None


class BatchResponse(BaseModel):
    """Results in request order: saves first, then deletes (with ``replace``: every file
    it deleted, by path)."""

    status: Literal["success"] = "success"
    project_id: str
    results: list[BatchResult]


class PathVersion(BaseModel):
    """A path and a version of it (null: absent)."""

    path: str = _file_path_field()
    version: str | None = Field(description="A version id, or null for 'absent'.")


class VersionsRequest(BaseModel):
    """Paths whose current versions are wanted."""

    paths: list[str]


class VersionsResponse(BaseModel):
    """Current version of each path asked for, in order; feed ``files`` to /restore."""

    project_id: str
    files: list[PathVersion]


IdempotencyKeyValue = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
"""An ``Idempotency-Key`` named in a body: 1-200 printable ASCII, as the header."""


class RestoreRequest(BaseModel):
    """Put each file back to a version, or to absent (``files``); or undo the batch an
    ``Idempotency-Key`` answered (``undo_idempotency_key``). Exactly one of the two."""

    project_id: str = _project_id_field()
    files: list[PathVersion] | None = Field(
        default=None, description="Each path and the version to put back (null: absent)."
    )
    undo_idempotency_key: IdempotencyKeyValue | None = Field(
        default=None,
        description="Undo the batch of this project that the acting user's key answered: "
        "every path it changed goes back to its ``previous_version`` (from the batch's "
        "stored answer, read in the restore's own transaction). A key never used changes "
        "nothing. Either way the key is revoked, so that the batch is refused (409 "
        "``idempotency_key_revoked``) if it arrives later. A key that answered something "
        "else than a batch of this project is 409 ``idempotency_key_not_a_batch``.",
    )
    revoke_idempotency_keys: list[IdempotencyKeyValue] = Field(
        default_factory=list,
        max_length=100,
        description="Keys of the requests this restore undoes: a request carrying one of "
        "them that arrives later is refused with 409 idempotency_key_revoked.",
    )


class RestoreResult(BaseModel):
    """What happened to one path of a restore."""

    path: str
    action: Literal["restored", "deleted", "unchanged"]
    version: str | None
    previous_version: str | None


class RestoreResponse(BaseModel):
    """Results in request order."""

    status: Literal["success"] = "success"
    project_id: str
    results: list[RestoreResult]


class ExportedFile(BaseModel):
    """One current file with its content, for snapshots."""

    path: str
    content: str
    version: str
    sha256: str


class ExportResponse(BaseModel):
    """Every current file of a project, sorted by path."""

    project_id: str
    files: list[ExportedFile]


class ProjectInfo(BaseModel):
    """A project of the registry: who owns it, since when."""

    project_id: str
    owner: str = Field(description="The user who first wrote files to the project.")
    created_at: str = Field(description="When that first write happened (UTC, ISO 8601).")
