"""wikisaga — turn a project's documents into a wiki, a knowledge graph and a git history,
and publish each generation all or nothing through a durable saga."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
