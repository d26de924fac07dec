"""The dashboard: the backend's web pages for people, served at ``/`` and ``/ui/``.

:func:`mount_dashboard` puts it in front of the backend's API: requests for ``/``,
``/ui`` and ``/ui/...`` go to the dashboard's own app (its sign-in sessions, CSRF checks
and HTML errors), everything else to the API behind its internal-token gate. See
``docs/dashboard.md``.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from wikisaga.services.backend.dashboard.app import CSP, PREFIX, create_dashboard
from wikisaga.services.backend.runner import JobRunner

__all__ = ["CSP", "PREFIX", "create_dashboard", "mount_dashboard"]


def is_dashboard_path(path: str) -> bool:
    return path in ("/", PREFIX) or path.startswith(f"{PREFIX}/")


class _Dispatch:
    """Send the dashboard's paths to it, and every other request on to the API."""

    def __init__(self, app: ASGIApp, dashboard: ASGIApp) -> None:
        self.app = app
        self.dashboard = dashboard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_dashboard_path(scope.get("path", "")):
            await self.dashboard(scope, receive, send)
            return
        await self.app(scope, receive, send)


def mount_dashboard(app: FastAPI, runner: JobRunner) -> FastAPI:
    """Serve the dashboard from ``app`` (the backend's API app); returns the dashboard."""
    dashboard = create_dashboard(runner)
    app.add_middleware(_Dispatch, dashboard=dashboard)
    app.state.dashboard = dashboard
    return dashboard
