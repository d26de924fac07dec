"""Typed client for the backend service (port 6000): start generations, follow jobs,
upload documents, and the saga admin API (``user_id=None``: as the service's operator)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import quote

from wikisaga.clients._http import ServiceClient

__all__ = ["BackendClient"]


class BackendClient(ServiceClient):
    """Wiki generation jobs. Every call acts as ``user_id``."""

    service = "backend"

    def generate_wiki(
        self,
        project_id: str,
        *,
        user_id: str,
        force: bool = False,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """``POST /generate_wiki``: the 202 answer ``{job_id, saga_id, status}``.

        A project with a generation in flight is a
        :class:`~wikisaga.errors.ServiceRejected` with status 409 (its ``detail`` names
        the job); another user's project 403.
        """
        response = self._request(
            "POST",
            "/generate_wiki",
            user_id=user_id,
            json={"project_id": project_id, "force": force},
            idempotency_key=idempotency_key,
        )
        return dict(response.json())

    def get_job(self, job_id: str, *, user_id: str) -> dict[str, Any]:
        """``GET /jobs/{job_id}``: its status, each step's state and counts, its
        ``result`` or ``error``."""
        response = self._request("GET", f"/jobs/{quote(job_id, safe='')}", user_id=user_id)
        return dict(response.json())

    def upload_documents(
        self,
        project_id: str,
        documents: Mapping[str, str],
        *,
        user_id: str,
        prune: bool = False,
    ) -> dict[str, Any]:
        """``POST /projects/{id}/documents`` with the JSON body (path -> text): the report
        of the ingest (added, updated, unchanged, removed, skipped)."""
        response = self._request(
            "POST",
            f"/projects/{quote(project_id, safe='')}/documents",
            user_id=user_id,
            params={"prune": "true"} if prune else None,
            json={"documents": [{"path": p, "content": c} for p, c in documents.items()]},
        )
        return dict(response.json())

    def list_documents(self, project_id: str, *, user_id: str) -> list[dict[str, Any]]:
        """``GET /projects/{id}/documents``: id, path, hash and chunk count of each."""
        response = self._request(
            "GET", f"/projects/{quote(project_id, safe='')}/documents", user_id=user_id
        )
        return list(response.json()["documents"])

    # -- the saga admin API -------------------------------------------------------------

    def list_sagas(
        self,
        *,
        user_id: str | None = None,
        states: Collection[str] = (),
        project_id: str | None = None,
        lock_key: str | None = None,
        limit: int = 50,
        before: str | None = None,
    ) -> dict[str, Any]:
        """One page of ``GET /sagas``, newest first: ``{sagas, next_before}``."""
        params: dict[str, Any] = {"limit": limit}
        if states:
            params["state"] = list(states)
        for name, value in (
            ("project_id", project_id),
            ("lock_key", lock_key),
            ("before", before),
        ):
            if value is not None:
                params[name] = value
        response = self._request("GET", "/sagas", user_id=user_id, params=params)
        return dict(response.json())

    def sagas(
        self,
        *,
        limit: int,
        user_id: str | None = None,
        states: Collection[str] = (),
        project_id: str | None = None,
        lock_key: str | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``limit`` sagas, newest first, following ``next_before`` page by page."""
        found: list[dict[str, Any]] = []
        before: str | None = None
        while len(found) < limit:
            page = self.list_sagas(
                user_id=user_id,
                states=states,
                project_id=project_id,
                lock_key=lock_key,
                limit=min(limit - len(found), 1000),
                before=before,
            )
            found.extend(page["sagas"])
            before = page.get("next_before")
            if before is None:
                break
        return found[:limit]

    def get_saga(self, saga_id: str, *, user_id: str | None = None) -> dict[str, Any]:
        """``GET /sagas/{id}``: the saga with its steps (404 ``saga_not_found``)."""
        response = self._request("GET", f"/sagas/{quote(saga_id, safe='')}", user_id=user_id)
        return dict(response.json())

    def retry_saga(self, saga_id: str, *, user_id: str | None = None) -> dict[str, Any]:
        """``POST /sagas/{id}/retry``: ``{saga_id, state, undone, remaining}``; a saga
        that is not ``failed`` is a :class:`~wikisaga.errors.ServiceRejected` 409."""
        response = self._request("POST", f"/sagas/{quote(saga_id, safe='')}/retry", user_id=user_id)
        return dict(response.json())

    def resolve_saga(
        self, saga_id: str, *, reason: str, user_id: str | None = None
    ) -> dict[str, Any]:
        """``POST /sagas/{id}/resolve`` ``{reason}``: ``{saga_id, state, undone, remaining}``."""
        response = self._request(
            "POST",
            f"/sagas/{quote(saga_id, safe='')}/resolve",
            user_id=user_id,
            json={"reason": reason},
        )
        return dict(response.json())
