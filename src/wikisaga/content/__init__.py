"""Content: what a generation is made of (DESIGN §11).

This room holds the pure parts of a generation, functions of their inputs: the documents
and their store (``documents/``, a ``DocumentStore`` contract with a Chroma backend),
parsing, the page generator (``generator/``) and relation extraction (``relations/``). It
imports no service; the layer contracts in ``pyproject.toml`` check that. Nothing lives
here yet.
"""

from __future__ import annotations

__all__: list[str] = []
