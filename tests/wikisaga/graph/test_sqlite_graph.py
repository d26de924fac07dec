"""What is particular to the SQLite graph: its file, its URL, its schema, its errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from wikisaga.errors import GraphError, GraphUnavailable
from wikisaga.graph import Entity, SQLiteGraphStore, open_graph_store
from wikisaga.graph._sql import SCHEMA_VERSION


def test_the_graph_file_is_in_wal_mode(tmp_path: Path) -> None:
    with SQLiteGraphStore(tmp_path / "graph.db"):
        conn = sqlite3.connect(tmp_path / "graph.db")
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            conn.close()


def test_relative_and_absolute_urls_name_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_graph_store("sqlite:///data/graph.db") as store:
        assert isinstance(store, SQLiteGraphStore)
        assert store.path == Path("data/graph.db")
        assert store.url == "sqlite:///data/graph.db"
    assert (tmp_path / "data" / "graph.db").is_file()
    with open_graph_store(f"sqlite:///{tmp_path}/abs.db") as store:
        assert isinstance(store, SQLiteGraphStore)
        assert store.path == tmp_path / "abs.db"


def test_url_options_are_read_and_keyword_options_win(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/g.db?batch_size=7&busy_timeout=0.5"
    with open_graph_store(url) as store:
        assert store.batch_size == 7
    with open_graph_store(url, batch_size=9) as store:
        assert store.batch_size == 9


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://host/graph.db",
        "sqlite:///",
        "sqlite:///g.db?journal=off",
        "sqlite:///g.db?batch_size=many",
        "sqlite:///:memory:",
        "sqlite:///file:graph",
    ],
)
def test_a_malformed_url_is_refused(url: str) -> None:
    with pytest.raises(GraphError):
        open_graph_store(url)


def test_the_schema_version_is_recorded_and_a_newer_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "graph.db"
    SQLiteGraphStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version FROM graph_schema_version").fetchall() == [
            (SCHEMA_VERSION,)
        ]
        with conn:
            conn.execute("UPDATE graph_schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    finally:
        conn.close()
    with pytest.raises(GraphError, match="newer"):
        SQLiteGraphStore(path)


def test_reopening_keeps_the_graph(tmp_path: Path) -> None:
    with SQLiteGraphStore(tmp_path / "graph.db") as store:
        store.stage("p", "g1", [Entity("a", "A")])
        store.make_current("p", "g1")
    with SQLiteGraphStore(tmp_path / "graph.db") as store:
        assert store.entities("p") == [Entity("a", "A")]


def test_a_write_lock_held_too_long_is_unavailable_then_the_store_recovers(
    tmp_path: Path,
) -> None:
    with SQLiteGraphStore(tmp_path / "graph.db", busy_timeout=0.05) as store:
        blocker = sqlite3.connect(tmp_path / "graph.db", isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(GraphUnavailable) as raised:
                store.stage("p", "g1", [Entity("a", "A")])
            assert isinstance(raised.value.__cause__, sqlite3.OperationalError)
            assert store.generations("p") == []  # readers are not blocked
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        store.stage("p", "g1", [Entity("a", "A")])
        assert len(store.entities("p", generation="g1")) == 1


def test_a_directory_where_the_file_should_be_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "graph.db").mkdir()
    with pytest.raises(GraphUnavailable):
        SQLiteGraphStore(tmp_path / "graph.db")


def test_a_parent_that_is_a_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(GraphUnavailable):
        SQLiteGraphStore(tmp_path / "file" / "graph.db")


def test_a_file_that_is_not_a_database_is_a_graph_error_with_its_cause(tmp_path: Path) -> None:
    (tmp_path / "graph.db").write_bytes(b"not a database " * 100)
    with pytest.raises(GraphError) as raised:
        SQLiteGraphStore(tmp_path / "graph.db")
    assert not isinstance(raised.value, GraphUnavailable)
    assert isinstance(raised.value.__cause__, sqlite3.DatabaseError)


def test_a_closed_store_refuses_calls_and_closes_twice(tmp_path: Path) -> None:
    store = SQLiteGraphStore(tmp_path / "graph.db")
    store.close()
    store.close()
    with pytest.raises(GraphError, match="closed"):
        store.generations("p")
