"""Every graph store backend against the contract, each bound in a few lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from graph_contract import GraphStoreContract


class TestSQLiteGraphStore(GraphStoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path}/graph.db"


@pytest.mark.timeout(600)  # the first test also builds and starts the server
class TestNeo4jGraphStore(GraphStoreContract):
    @pytest.fixture
    def store_url(self, neo4j_url: str) -> str:
        return neo4j_url
