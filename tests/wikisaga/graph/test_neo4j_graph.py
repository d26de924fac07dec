"""What is particular to the Neo4j graph: its schema, its batched deletes, the state a cut
off discard leaves, and how the driver's errors are translated."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import neo4j
import neo4j.exceptions
import pytest

from wikisaga.errors import (
    GenerationConflict,
    GenerationNotFound,
    GraphError,
    GraphUnavailable,
)
from wikisaga.graph import Entity, GenerationState, Relation
from wikisaga.graph._cypher import DELETE_BATCH, Q
from wikisaga.graph.neo4j import Neo4jGraphStore, _without_password

pytestmark = pytest.mark.timeout(600)  # the first test may build and start the server


@pytest.fixture
def store(neo4j_url: str) -> Iterator[Neo4jGraphStore]:
    with Neo4jGraphStore(neo4j_url, warn_notifications=True) as store:
        yield store


def test_the_schema_is_composite_uniqueness_on_project_generation_and_key(
    store: Neo4jGraphStore,
) -> None:
    rows = store._read(lambda tx: list(tx.run("SHOW CONSTRAINTS YIELD name, properties")))
    constraints = {row["name"]: row["properties"] for row in rows}
    assert constraints["wikisaga_graph_entity"] == ["project_id", "generation", "key"]
    assert constraints["wikisaga_graph_generation"] == ["project_id", "generation"]


def test_opening_twice_keeps_one_schema(neo4j_url: str, store: Neo4jGraphStore) -> None:
    with Neo4jGraphStore(neo4j_url):
        pass
    rows = store._read(lambda tx: list(tx.run("SHOW CONSTRAINTS YIELD name")))
    assert sum(row["name"].startswith("wikisaga_graph_") for row in rows) == 3


def test_a_duplicate_entity_is_refused_by_the_database(
    store: Neo4jGraphStore, project: str
) -> None:
    store.stage(project, "g1", [Entity("a", "A")])
    create = "CREATE (:Entity {project_id: $p, generation: 'g1', key: 'a'})"
    with pytest.raises(GraphError) as raised:
        store._write(lambda tx: tx.run(create, p=project).consume())
    assert isinstance(raised.value.__cause__, neo4j.exceptions.ConstraintError)


def test_discard_deletes_more_than_one_inner_transaction_of_rows(
    store: Neo4jGraphStore, project: str
) -> None:
    count = DELETE_BATCH * 2 + 500
    entities = [Entity(f"e{n}", "E") for n in range(count)]
    relations = [Relation(f"e{n}", "next", f"e{(n + 1) % count}") for n in range(count)]
    store.stage(project, "big", entities, relations)
    store.discard(project, "big")
    left = store._read(
        lambda tx: tx.run(
            "MATCH (n:Entity {project_id: $p}) RETURN count(n) AS n", p=project
        ).single(strict=True)["n"]
    )
    assert left == 0
    assert store.generations(project) == []


def test_a_discard_cut_off_halfway_is_listed_refused_and_finished_by_discarding_again(
    store: Neo4jGraphStore, project: str
) -> None:
    store.stage(project, "g1", [Entity("a", "A"), Entity("b", "B")], [Relation("a", "r", "b")])
    # What a discard does before its deletes; as if the process died right after it.
    store._write(lambda tx: tx.run(Q.MARK_DISCARDING, project=project, generation="g1").consume())
    assert [g.state for g in store.generations(project)] == [GenerationState.DISCARDING]
    with pytest.raises(GenerationNotFound):
        store.make_current(project, "g1")
    with pytest.raises(GenerationNotFound):
        store.entities(project, generation="g1")
    with pytest.raises(GenerationConflict, match="being discarded"):
        store.stage(project, "g1", [Entity("c", "C")])
    store.discard(project, "g1")
    assert store.generations(project) == []
    store.stage(project, "g1", [Entity("c", "C")])  # and the id is free again
    assert store.entities(project, generation="g1") == [Entity("c", "C")]


def test_predicates_are_properties_never_relationship_types(
    store: Neo4jGraphStore, project: str
) -> None:
    store.stage(
        project, "g1", [Entity("a", "A"), Entity("b", "B")], [Relation("a", "x`]->() //", "b")]
    )
    types = store._read(
        lambda tx: [
            row["t"] for row in tx.run("CALL db.relationshipTypes() YIELD relationshipType AS t")
        ]
    )
    assert "x`]->() //" not in types
    assert "RELATES" in types


def test_our_queries_raise_no_server_warnings(store: Neo4jGraphStore, project: str) -> None:
    """Deprecated syntax or a scanning plan would be a Python warning, here an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store.stage(project, "g1", [Entity("a", "A")], [Relation("a", "r", "a")])
        store.make_current(project, "g1")
        store.summary(project)
        store.neighbourhood(project, "a")
        store.make_current(project, None)
        store.discard(project, "g1")


def test_an_unreachable_server_is_unavailable_with_the_drivers_error() -> None:
    with pytest.raises(GraphUnavailable) as raised:
        Neo4jGraphStore("bolt://127.0.0.1:1", connection_timeout=2)
    assert isinstance(raised.value.__cause__, neo4j.exceptions.ServiceUnavailable)


def test_a_query_the_server_refuses_is_a_graph_error_with_its_cause(
    store: Neo4jGraphStore,
) -> None:
    with pytest.raises(GraphError) as raised:
        store._read(lambda tx: tx.run("THIS IS NOT CYPHER").consume())
    assert isinstance(raised.value.__cause__, neo4j.exceptions.CypherSyntaxError)


def test_a_closed_store_refuses_calls_and_leaves_no_unclosed_driver(neo4j_url: str) -> None:
    store = Neo4jGraphStore(neo4j_url)
    store.close()
    store.close()
    with pytest.raises(GraphError, match="closed"):
        store.generations("p")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del store
        gc.collect()


def test_the_url_it_reports_has_no_password() -> None:
    assert _without_password("neo4j://u:secret@host:7687/x") == "neo4j://u@host:7687/x"
    assert _without_password("bolt://host:7687") == "bolt://host:7687"
    assert _without_password("bolt+s://:secret@host") == "bolt+s://host"
