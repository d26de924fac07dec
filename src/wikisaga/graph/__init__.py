"""The knowledge graph: a ``GraphStore`` contract and its backends (embedded SQLite, Neo4j),
opened from a URL, with generations staged invisibly and made current in one step (DESIGN
§6, §11).

It imports no service; the layer contracts in ``pyproject.toml`` check that. Nothing lives
here yet.
"""

from __future__ import annotations

__all__: list[str] = []
