"""Typed client for the backend service (port 6000): start generations, follow jobs."""

from __future__ import annotations

from typing import Any

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
        response = self._request("GET", f"/jobs/{job_id}", user_id=user_id)
        return dict(response.json())
