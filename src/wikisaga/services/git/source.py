"""Where a snapshot's files come from: the filesystem service's project export.

``GET {filesystem}/export/{project_id}`` answers ``{"project_id", "files": [{"path",
"content", "version", "sha256"}]}`` with UTF-8 text content; it needs the internal token
and the project's owner as ``X-User-ID``. Failures are translated at this boundary::

    ServiceError
    ├── Forbidden                 403  the filesystem says the project is another user's
    ├── NotFound                  404  the filesystem has no such project
    ├── FilesystemUnavailable     502  unreachable, refused our token, or answered an error
    │   └── FilesystemBadExport   502  answered something that is not a usable export
    └── FilesystemTimeout         504  did not answer in time
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from wikisaga.config import Settings
from wikisaga.auth import get_internal_headers
from wikisaga.services._common.errors import Forbidden, InvalidPath, NotFound, ServiceError
from wikisaga.ids import validate_file_path

__all__ = [
    "FilesystemBadExport",
    "FilesystemExportSource",
    "FilesystemTimeout",
    "FilesystemUnavailable",
]


class FilesystemUnavailable(ServiceError):
    """The filesystem service could not give us the project's files."""

    status_code = 502
    code = "filesystem_unavailable"


class FilesystemBadExport(FilesystemUnavailable):
    """The filesystem service answered, but not with a usable export."""

    code = "filesystem_bad_export"


class FilesystemTimeout(ServiceError):
    """The filesystem service did not answer within the configured timeout."""

    status_code = 504
    code = "filesystem_timeout"


def _upstream_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:200]
    return str(body)[:200]


def _parse_export(project_id: str, body: Any) -> dict[str, bytes]:
    if not isinstance(body, dict) or not isinstance(body.get("files"), list):
        raise FilesystemBadExport("the filesystem export has no 'files' list")
    if body.get("project_id") != project_id:
        raise FilesystemBadExport("the filesystem export is for another project")
    files: dict[str, bytes] = {}
    for entry in body["files"]:
        if not isinstance(entry, dict):
            raise FilesystemBadExport("a filesystem export entry is not an object")
        path, content = entry.get("path"), entry.get("content")
        if not isinstance(path, str) or not isinstance(content, str):
            raise FilesystemBadExport("a filesystem export entry lacks 'path' or 'content'")
        try:
            if validate_file_path(path) != path:
                raise InvalidPath("not in NFC form")
        except InvalidPath as exc:
            raise FilesystemBadExport(
                f"the filesystem export holds an unusable path {path!r}: {exc.detail}"
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

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.base_url = settings.filesystem_server_url
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=settings.filesystem_timeout,
            transport=transport,
            trust_env=False,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def export(self, project_id: str, user_id: str) -> dict[str, bytes]:
        """The project's files, path to bytes, as the filesystem service holds them now."""
        # HTTP header values are Latin-1 on the wire, and services decode X-User-ID that
        # way; sending the user's Latin-1 bytes keeps the user the same on both sides.
        headers = {
            name.encode("ascii"): value.encode("latin-1")
            for name, value in get_internal_headers(user_id, self.settings).items()
        }
        where = f"the filesystem service at {self.base_url}"
        try:
            response = await self._client.get(f"/export/{project_id}", headers=headers)
        except httpx.TimeoutException as exc:
            raise FilesystemTimeout(
                f"{where} did not answer within {self.settings.filesystem_timeout:g}s; "
                "no snapshot was created"
            ) from exc
        except httpx.HTTPError as exc:
            raise FilesystemUnavailable(
                f"{where} is unreachable ({type(exc).__name__}: {exc}); no snapshot was created"
            ) from exc
        if response.status_code == 403:
            raise Forbidden(f"{where} refused: {_upstream_detail(response)}")
        if response.status_code == 404:
            raise NotFound(
                f"{where} has no project {project_id!r}: {_upstream_detail(response)}",
                code="project_not_found",
            )
        if response.status_code != 200:
            raise FilesystemUnavailable(
                f"{where} answered {response.status_code}: {_upstream_detail(response)}; "
                "no snapshot was created"
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise FilesystemBadExport(f"{where} answered with a body that is not JSON") from exc
        return _parse_export(project_id, body)
