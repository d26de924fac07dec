"""The dashboard: the backend's web pages for people, served at ``/`` and ``/ui/``.

:func:`mount_dashboard` puts it in front of the backend's API: requests for ``/``,
``/ui`` and ``/ui/...`` go to the dashboard's own app (its sign-in sessions, CSRF checks
and HTML errors), everything else to the API behind its internal-token gate. See
``docs/dashboard.md``.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wikisaga.services.backend.dashboard.app import CSP, PREFIX, create_dashboard
from wikisaga.services.backend.runner import JobRunner

__all__ = ["CSP", "PREFIX", "create_dashboard", "mount_dashboard"]


def is_dashboard_path(path: str) -> bool:
    return path in ("/", PREFIX) or path.startswith(f"{PREFIX}/")


class _Dispatch:
    """Send the dashboard's paths to it, and every other request on to the API.

    A dashboard request body over ``limit`` bytes (an upload) is refused with 413 before
    it is read, or as soon as it grows past the limit."""

    def __init__(self, app: ASGIApp, dashboard: ASGIApp, limit: int) -> None:
        self.app = app
        self.dashboard = dashboard
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_dashboard_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await _too_large(self.limit)(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413, "too large")
            return message

        await self.dashboard(scope, counted, send)


def _too_large(limit: int) -> Response:
    return HTMLResponse(
        f"<!doctype html><title>Too large</title><p>The upload is larger than {limit} bytes.",
        status_code=413,
        headers={"Content-Security-Policy": CSP},
    )


def mount_dashboard(app: FastAPI, runner: JobRunner) -> FastAPI:
    """Serve the dashboard from ``app`` (the backend's API app); returns the dashboard."""
    dashboard = create_dashboard(runner)
    limit = runner.settings.backend_upload_max_bytes
    app.add_middleware(_Dispatch, dashboard=dashboard, limit=limit)
    app.state.dashboard = dashboard
    return dashboard
