"""Opening a graph store from a URL, or from the settings when none is given."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from wikisaga.config import Settings
from wikisaga.errors import GraphError, GraphUnavailable, InvalidId, InvalidProjectId
from wikisaga.graph import SQLiteGraphStore, default_graph_url, open_graph_store


def test_the_default_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert default_graph_url(settings) == f"sqlite:///{tmp_path}/data/graph.db"
    with open_graph_store(settings=settings) as store:
        assert isinstance(store, SQLiteGraphStore)
    assert (tmp_path / "data" / "graph.db").is_file()


def test_a_neo4j_uri_in_the_settings_is_the_default() -> None:
    settings = Settings(neo4j_uri="neo4j://graph.example:7687")
    assert default_graph_url(settings) == "neo4j://graph.example:7687"


def test_neo4j_credentials_come_from_the_settings_and_never_show_in_errors() -> None:
    settings = Settings(neo4j_user="reader", neo4j_password=SecretStr("hunter2"))
    with pytest.raises(GraphUnavailable) as raised:
        open_graph_store("bolt://127.0.0.1:1", settings=settings, connection_timeout=2)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("url", ["graph.db", "postgresql://x/y", "memory://"])
def test_an_unknown_or_missing_scheme_is_refused(url: str) -> None:
    with pytest.raises(GraphError, match="scheme"):
        open_graph_store(url)


@pytest.mark.parametrize("project", ["", "../etc", "a/b", "a b", "a..b", "x" * 129])
def test_project_ids_follow_the_one_rule(tmp_path: Path, project: str) -> None:
    with open_graph_store(f"sqlite:///{tmp_path}/g.db") as store:
        with pytest.raises(InvalidProjectId):
            store.stage(project, "g1")
        with pytest.raises(InvalidProjectId):
            store.entities(project)


@pytest.mark.parametrize("generation", ["", " padded ", "new\nline", "x" * 257])
def test_generation_ids_follow_the_saga_id_rule(tmp_path: Path, generation: str) -> None:
    with open_graph_store(f"sqlite:///{tmp_path}/g.db") as store:
        with pytest.raises(InvalidId):
            store.stage("p", generation)
        with pytest.raises(InvalidId):
            store.make_current("p", generation)


def test_importing_the_graph_package_loads_no_backend() -> None:
    code = (
        "import sys, wikisaga.graph\n"
        "print(sorted(m for m in ('neo4j', 'sqlite3', 'wikisaga.graph.neo4j',"
        " 'wikisaga.graph.sqlite') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "neo4j" not in done.stdout
    assert "wikisaga.graph.sqlite" not in done.stdout
