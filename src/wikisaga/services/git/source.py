"""The git service's view of the filesystem service, through its client: who owns a
project, and a snapshot's files.

- :meth:`FilesystemSource.owner_of` reads the project's owner from the filesystem
  service's registry (:meth:`~wikisaga.clients.FilesystemClient.project_owner`), the one
  record of who owns a project: the git service keeps no owner of its own.
- :meth:`FilesystemSource.export` reads a project's current files
  (:meth:`~wikisaga.clients.FilesystemClient.export`, ``GET /export/{project_id}``, as the
  acting user) and checks what it got before anything is written. The filesystem service
  refuses another user's project (403, :class:`NotProjectOwner`) before it reads a file,
  so an export is an owner check too; a project nobody owns exports as no files.

The client's errors become this service's domain errors here, at the boundary;
``deps.ERRORS`` maps them to HTTP::

    ServiceRejected 403        → NotProjectOwner         403 forbidden
    ServiceRejected 404        → ProjectNotFound         404 project_not_found
    ServiceTimeout             → FilesystemTimeout       504 filesystem_timeout
    any other ServiceCallError → FilesystemUnavailable   502 filesystem_unavailable
    an unusable answer         → FilesystemBadExport     502 filesystem_bad_export
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

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
    "FilesystemSource",
    "FilesystemTimeout",
    "FilesystemUnavailable",
]

T = TypeVar("T")


class FilesystemUnavailable(StoreError):
    """The filesystem service could not give us the project's files."""

    code = "filesystem_unavailable"


class FilesystemBadExport(FilesystemUnavailable):
    """The filesystem service answered, but not with a usable export or owner record."""

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


class FilesystemSource:
    """The filesystem service, as the git service needs it: owners and exports."""

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

    def owner_of(self, project_id: str) -> str | None:
        """The project's owner in the filesystem's registry, ``None`` if nobody owns it.

        Blocking: repository calls run it in their worker thread.
        """
        return self._call(
            lambda: self._client.project_owner(project_id),
            project_id,
            "could not say who owns the project",
        )

    async def export(self, project_id: str, user_id: str) -> dict[str, bytes]:
        """The project's files, path to bytes, as the filesystem service holds them now."""
        return await to_thread.run_sync(self.export_sync, project_id, user_id)

    def export_sync(self, project_id: str, user_id: str) -> dict[str, bytes]:
        """:meth:`export`, in the calling thread."""
        entries = self._call(
            lambda: self._client.export(project_id, user_id=user_id),
            project_id,
            "no snapshot was created",
        )
        return _parse_export(entries)

    def _call(self, call: Callable[[], T], project_id: str, consequence: str) -> T:
        with self._translated(project_id, consequence):
            return call()

    @contextmanager
    def _translated(self, project_id: str, consequence: str) -> Iterator[None]:
        """Turn the client's errors into this service's domain errors (module docstring)."""
        where = f"the filesystem service at {self.base_url}"
        try:
            yield
        except ServiceRejected as exc:
            if exc.status == 403:
                raise NotProjectOwner(f"{where} refused: {exc.detail}") from exc
            if exc.status == 404:
                raise ProjectNotFound(
                    f"{where} has no project {project_id!r}: {exc.detail}"
                ) from exc
            raise FilesystemUnavailable(
                f"{where} answered {exc.status}: {exc.detail}; {consequence}"
            ) from exc
        except ServiceTimeout as exc:
            raise FilesystemTimeout(
                f"{where} did not answer within {self.settings.filesystem_timeout:g}s; "
                f"{consequence}"
            ) from exc
        except ServiceUnreachable as exc:
            raise FilesystemUnavailable(f"{where} is unreachable ({exc}); {consequence}") from exc
        except ServiceCallError as exc:
            raise FilesystemUnavailable(f"{exc}; {consequence}") from exc
        except ValueError as exc:  # not JSON, or not an answer about this project
            raise FilesystemBadExport(f"{where} answered with something unusable: {exc}") from exc
