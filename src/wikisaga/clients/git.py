"""Typed client for the git snapshot service (port 6003)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from wikisaga.clients._http import ServiceClient

__all__ = ["GitClient"]


class GitClient(ServiceClient):
    """Snapshots of a project's wiki. Every call acts as ``user_id``."""

    service = "git"

    def create_snapshot(
        self, project_id: str, *, user_id: str, message: str, snapshot_id: str | None = None
    ) -> dict[str, Any]:
        """The guide's ``POST /snapshot/{project_id}``; repeating a ``snapshot_id`` is safe."""
        body: dict[str, Any] = {"user_id": user_id, "message": message}
        if snapshot_id is not None:
            body["snapshot_id"] = snapshot_id
        response = self._request(
            "POST", f"/snapshot/{quote(project_id, safe='')}", user_id=user_id, json=body
        )
        return dict(response.json())

    def delete_snapshot(self, project_id: str, snapshot_id: str, *, user_id: str) -> None:
        """The guide's ``DELETE /snapshot/{project_id}/{snapshot_id}``; absent is fine."""
        self._request(
            "DELETE",
            f"/snapshot/{quote(project_id, safe='')}/{quote(snapshot_id, safe='')}",
            user_id=user_id,
        )

    def get_snapshot(
        self, project_id: str, snapshot_id: str, *, user_id: str
    ) -> dict[str, Any] | None:
        """One snapshot (commit, message, created_at, files), or ``None`` if absent."""
        response = self._request(
            "GET",
            f"/snapshot/{quote(project_id, safe='')}/{quote(snapshot_id, safe='')}",
            user_id=user_id,
            allow=(404,),
        )
        return None if response.status_code == 404 else dict(response.json())

    def list_snapshots(self, project_id: str, *, user_id: str) -> list[dict[str, Any]]:
        """A project's snapshots, newest first (none: ``[]``)."""
        response = self._request(
            "GET", f"/snapshots/{quote(project_id, safe='')}", user_id=user_id, allow=(404,)
        )
        if response.status_code == 404:
            return []
        return list(response.json()["snapshots"])
