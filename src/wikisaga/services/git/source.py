"""Where a snapshot's files come from: the filesystem service, through its client.

The git service reads a project's current files with
:meth:`~wikisaga.clients.FilesystemClient.export` (``GET /export/{project_id}``, as the
project's owner) and checks what it got before anything is written. The client's errors
become this service's domain errors here, at the boundary; ``deps.ERRORS`` maps them to
HTTP::

    ServiceRejected 403        → NotProjectOwner         403 forbidden
    ServiceRejected 404        → ProjectNotFound         404 project_not_found
    ServiceTimeout             → FilesystemTimeout       504 filesystem_timeout
    any other ServiceCallError → FilesystemUnavailable   502 filesystem_unavailable
    an unusable answer         → FilesystemBadExport     502 filesystem_bad_export
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from anyio import to_thread

from wikisaga.auth import get_internal_headers
from wikisaga.clients import FilesystemClient
from wikisaga.config import Settings
from wikisaga.errors import (
    InvalidFilePath,
    NotProjectOwner,
    ProjectNotFound,
    ServiceCallError,
    ServiceRejected,
    ServiceTimeout,
    ServiceUnreachable,
    StoreError,
)
from wikisaga.ids import validate_file_path

__all__ = [
    "FilesystemBadExport",
    "FilesystemExportSource",
    "FilesystemTimeout",
    "FilesystemUnavailable",
]


class FilesystemUnavailable(StoreError):
    """The filesystem service could not give us the project's files."""

    code = "filesystem_unavailable"


class FilesystemBadExport(FilesystemUnavailable):
    """The filesystem service answered, but not with a usable export."""

    code = "filesystem_bad_export"


class FilesystemTimeout(StoreError):
    """The filesystem service did not answer within the configured timeout."""

    code = "filesystem_timeout"


def _parse_export(entries: Any) -> dict[str, bytes]:
    if not isinstance(entries, list):
        raise FilesystemBadExport("the filesystem export has no 'files' list")
    files: dict[str, bytes] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise FilesystemBadExport("a filesystem export entry is not an object")
        path, content = entry.get("path"), entry.get("content")
        if not isinstance(path, str) or not isinstance(content, str):
            raise FilesystemBadExport("a filesystem export entry lacks 'path' or 'content'")
        try:
            if validate_file_path(path) != path:
                raise InvalidFilePath("not in NFC form")
        except InvalidFilePath as exc:
            raise FilesystemBadExport(
                f"the filesystem export holds an unusable path {path!r}: {exc.message}"
            ) from exc
        if path in files:
            raise FilesystemBadExport(f"the filesystem export lists {path!r} twice")
        data = content.encode("utf-8")
        digest = entry.get("sha256")
        if digest is not None and digest != hashlib.sha256(data).hexdigest():
            raise FilesystemBadExport(f"the content of {path!r} does not match its sha256")
        files[path] = data
    return files


class FilesystemExportSource:
    """Reads a project's current files from the filesystem service."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        self.base_url = settings.filesystem_server_url
        self._client = FilesystemClient(
            self.base_url,
            headers=get_internal_headers(settings=settings),
            timeout=settings.filesystem_timeout,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    async def export(self, project_id: str, user_id: str) -> dict[str, bytes]:
        """The project's files, path to bytes, as the filesystem service holds them now."""
        return await to_thread.run_sync(self.export_sync, project_id, user_id)

    def export_sync(self, project_id: str, user_id: str) -> dict[str, bytes]:
        """:meth:`export`, in the calling thread."""
        where = f"the filesystem service at {self.base_url}"
        try:
            entries = self._client.export(project_id, user_id=user_id)
        except ServiceRejected as exc:
            if exc.status == 403:
                raise NotProjectOwner(f"{where} refused: {exc.detail}") from exc
            if exc.status == 404:
                raise ProjectNotFound(
                    f"{where} has no project {project_id!r}: {exc.detail}"
                ) from exc
            raise FilesystemUnavailable(
                f"{where} answered {exc.status}: {exc.detail}; no snapshot was created"
            ) from exc
        except ServiceTimeout as exc:
            raise FilesystemTimeout(
                f"{where} did not answer within {self.settings.filesystem_timeout:g}s; "
                "no snapshot was created"
            ) from exc
        except ServiceUnreachable as exc:
            raise FilesystemUnavailable(
                f"{where} is unreachable ({exc}); no snapshot was created"
            ) from exc
        except ServiceCallError as exc:
            raise FilesystemUnavailable(f"{exc}; no snapshot was created") from exc
        except ValueError as exc:  # not JSON, or not an export of this project
            raise FilesystemBadExport(f"{where} answered with an unusable export: {exc}") from exc
        return _parse_export(entries)
