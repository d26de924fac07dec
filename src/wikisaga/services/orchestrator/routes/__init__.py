"""Routers of the orchestrator service, one module per resource."""

from __future__ import annotations

from wikisaga.services.orchestrator.routes import generate

__all__ = ["generate"]
