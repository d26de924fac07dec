"""Fixtures of the graph tests: one real Neo4j server for the session, a fresh project id.

The Neo4j tests run against ``WIKISAGA_TEST_NEO4J_URI`` when it is set (credentials from
``WIKISAGA_NEO4J_USER`` / ``WIKISAGA_NEO4J_PASSWORD``), else against a server built from
``tools/neo4j-test-server`` and started once per session. Without Java or Maven they skip,
except in CI (env ``CI`` set), where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from wikisaga.testing.neo4j_server import Neo4jTestServer, missing_tools

NEO4J_URI_ENV = "WIKISAGA_TEST_NEO4J_URI"


@pytest.fixture(scope="session")
def neo4j_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Bolt URL of a real Neo4j shared by the session; tests isolate by project id."""
    given = os.environ.get(NEO4J_URI_ENV)
    if given:
        yield given
        return
    missing = missing_tools()
    if missing:
        message = f"{' and '.join(missing)} not found: cannot run the Neo4j test server"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (Neo4j tests must not be skipped in CI)")
        pytest.skip(f"{message}; or set {NEO4J_URI_ENV}")
    with Neo4jTestServer(tmp_path_factory.mktemp("neo4j")) as server:
        yield server.url


@pytest.fixture
def project() -> str:
    """A project id no other test uses (the Neo4j database is shared by the session)."""
    return f"p-{uuid.uuid4().hex[:12]}"
