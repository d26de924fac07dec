"""Fixtures shared by the test suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from ci_support import unavailable

# -- PostgreSQL -------------------------------------------------------------------------
#
# Tests marked ``postgres`` need a server: run scripts/provision-postgres and export
#   WIKISAGA_TEST_POSTGRES_URL=postgresql://wikisaga:wikisaga@127.0.0.1:5432/wikisaga_test
# Without it they skip, except in CI (env CI set), where a missing server is a failure.

POSTGRES_URL_ENV = "WIKISAGA_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the test PostgreSQL database (skips locally when unset, fails in CI)."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        unavailable(
            f"{POSTGRES_URL_ENV} is not set; run scripts/provision-postgres", "PostgreSQL tests"
        )
    return url


@pytest.fixture
def postgres_schema(postgres_url: str) -> Iterator[str]:
    """A schema name no other test uses; the schema is dropped after the test."""
    from postgres_support import drop_schema  # noqa: PLC0415

    name = f"test_{uuid.uuid4().hex[:16]}"
    yield name
    drop_schema(postgres_url, name)


# -- Neo4j ------------------------------------------------------------------------------
#
# The Neo4j tests run against WIKISAGA_TEST_NEO4J_URI when it is set (credentials from
# WIKISAGA_NEO4J_USER / WIKISAGA_NEO4J_PASSWORD), else against a server built from
# tools/neo4j-test-server and started once per session. Without Java or Maven they skip,
# except in CI (env CI set), where that is a failure.

NEO4J_URI_ENV = "WIKISAGA_TEST_NEO4J_URI"


@pytest.fixture(scope="session")
def neo4j_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Bolt URL of a real Neo4j shared by the session; tests isolate by project id."""
    from wikisaga.testing.neo4j_server import Neo4jTestServer, missing_tools  # noqa: PLC0415

    given = os.environ.get(NEO4J_URI_ENV)
    if given:
        yield given
        return
    missing = missing_tools()
    if missing:
        unavailable(
            f"{' and '.join(missing)} not found: cannot run the Neo4j test server",
            "Neo4j tests",
            hint=f"; or set {NEO4J_URI_ENV}",
        )
    with Neo4jTestServer(tmp_path_factory.mktemp("neo4j")) as server:
        yield server.url


# -- slow tests ---------------------------------------------------------------------------
#
# Tests marked ``slow`` (long chaos or soak runs) are skipped unless pytest is given
# --run-slow. CI (env CI set) skips them too: a job that wants them passes the option.


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the tests marked slow (long chaos or soak runs)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="a slow test: run it with --run-slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)
