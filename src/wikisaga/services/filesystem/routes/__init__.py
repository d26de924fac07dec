"""Routers of the filesystem service, one module per resource."""

from __future__ import annotations

from wikisaga.services.filesystem.routes import batch, export, files, projects, versions

__all__ = ["batch", "export", "files", "projects", "versions"]
