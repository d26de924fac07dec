"""wikisaga — turn a project's documents into a wiki, a knowledge graph and a git history,
and publish each generation all or nothing through a durable saga.

The rooms (DESIGN §10): ``config``, ``errors`` (one root, :class:`WikisagaError`),
``auth``, ``ids``, ``cli/``, ``content/``, ``graph/``, ``pipeline/`` (the publishing saga),
``clients/``, ``services/<name>/`` and ``testing/`` (fault injection, for tests only).
"""

from __future__ import annotations

from wikisaga.errors import WikisagaError

__all__ = ["WikisagaError", "__version__"]

__version__ = "0.1.0"
