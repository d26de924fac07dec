"""Fixtures of the graph tests: a fresh project id (the real Neo4j server of the session,
``neo4j_url``, is in ``tests/conftest.py``: the pipeline's fault matrix shares it)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def project() -> str:
    """A project id no other test uses (the Neo4j database is shared by the session)."""
    return f"p-{uuid.uuid4().hex[:12]}"
