"""The graph store contract as tests, for every backend to pass.

Subclass :class:`GraphStoreContract` (its name has no ``Test`` prefix, so it is collected
only through a subclass) and give it a ``store_url`` fixture: a URL that
:func:`~wikisaga.graph.open_graph_store` opens, in this process and in a child. The
``store`` fixture opens it; tests isolate themselves by the ``project`` fixture's id, so a
backend may share one database across the session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from wikisaga.errors import GenerationConflict, GenerationNotFound, InvalidGraphData
from wikisaga.graph import (
    Entity,
    GenerationState,
    GraphStore,
    Provenance,
    Relation,
    open_graph_store,
)

HOSTILE = [
    "it's",
    'say "hi"',
    "back`tick`",
    "line\nbreak\r\nand\ttab",
    "}) DETACH DELETE n //",
    "'}) MATCH (n) DETACH DELETE n RETURN '",
    "'); DROP TABLE graph_entity; --",
    "$project",
    "{rows}",
    "\\ back\\slash \\\\",
    "NUL \x00 byte",
    "Ünïcödé – 中文 – עברית – 🧪",
    "\u202eright-to-left override",
    "é" * 1024,  # exactly MAX_KEY_BYTES of UTF-8
    "x" * 1999 + "\n" + "y" * 48,  # exactly MAX_KEY_BYTES, with a newline
]
"""Names that would break a query built from data, or a store that mangles text."""

HOSTILE_GENERATION = "g`'\"}) MATCH (n) DETACH DELETE n //"
"""A generation id (printable, so a valid saga id) that is a Cypher fragment too."""


def provenance(n: int = 0) -> Provenance:
    return Provenance(f"doc-{n}", f"docs/{n}.md", f"Sentence {n} says so.", 10 * n, 10 * n + 9)


def small_graph(tag: str) -> tuple[list[Entity], list[Relation]]:
    """Three entities and three relations, their names marked with ``tag``."""
    entities = [
        Entity("fastapi", f"FastAPI {tag}", "framework"),
        Entity("starlette", f"Starlette {tag}", "toolkit"),
        Entity("pydantic", f"Pydantic {tag}", None),
    ]
    relations = [
        Relation("fastapi", "uses", "starlette", 3.0, "pattern", 0.9, (provenance(1),)),
        Relation("fastapi", "depends_on", "pydantic", 2.0, "pattern", 0.8, (provenance(2),)),
        Relation("starlette", "related_to", "pydantic", 0.5, f"cooccurrence {tag}", 0.4),
    ]
    return entities, relations


def published(store: GraphStore, project: str, generation: str, tag: str) -> None:
    """Stage ``small_graph(tag)`` as ``generation`` and make it current."""
    store.stage(project, generation, *small_graph(tag))
    store.make_current(project, generation)


def snapshot(store: GraphStore, project: str) -> tuple[object, ...]:
    """Everything a reader of the project's current generation sees."""
    return (
        store.current_generation(project),
        store.entities(project),
        store.relations(project),
        store.summary(project),
    )


class GraphStoreContract:
    """Tests every :class:`~wikisaga.graph.GraphStore` backend must pass."""

    @pytest.fixture
    def store(self, store_url: str) -> Iterator[GraphStore]:
        with open_graph_store(store_url) as store:
            yield store

    # -- staging is invisible -----------------------------------------------------------

    def test_a_staged_generation_is_invisible_to_readers(
        self, store: GraphStore, project: str
    ) -> None:
        store.stage(project, "g1", *small_graph("one"))
        assert store.current_generation(project) is None
        assert store.entities(project) == []
        assert store.relations(project) == []
        assert store.summary(project).entities == 0
        assert store.neighbourhood(project, "fastapi") is None
        assert len(store.entities(project, generation="g1")) == 3  # only when named

    def test_staged_records_read_back_exactly(self, store: GraphStore, project: str) -> None:
        entities, relations = small_graph("one")
        store.stage(project, "g1", entities, relations)
        assert store.entities(project, generation="g1") == sorted(entities, key=lambda e: e.key)
        assert store.relations(project, generation="g1") == sorted(
            relations, key=lambda r: r.triple
        )

    def test_an_empty_stage_is_a_generation(self, store: GraphStore, project: str) -> None:
        store.stage(project, "empty")
        assert store.make_current(project, "empty") is None
        assert store.summary(project).generation == "empty"
        assert store.entities(project) == []

    def test_staging_the_same_records_again_changes_nothing(
        self, store: GraphStore, project: str
    ) -> None:
        store.stage(project, "g1", *small_graph("one"))
        before = (
            store.entities(project, generation="g1"),
            store.relations(project, generation="g1"),
        )
        store.stage(project, "g1", *small_graph("one"))
        after = (
            store.entities(project, generation="g1"),
            store.relations(project, generation="g1"),
        )
        assert after == before

    def test_staging_a_key_or_triple_again_replaces_it(
        self, store: GraphStore, project: str
    ) -> None:
        store.stage(project, "g1", *small_graph("one"))
        store.stage(
            project,
            "g1",
            [Entity("fastapi", "FastAPI again", None)],
            [
                Relation(
                    "fastapi",
                    "uses",
                    "starlette",
                    7.0,
                    "again",
                    0.5,
                    (provenance(5), provenance(6)),
                )
            ],
        )
        entity = next(e for e in store.entities(project, generation="g1") if e.key == "fastapi")
        assert entity == Entity("fastapi", "FastAPI again", None)
        uses = [r for r in store.relations(project, generation="g1") if r.predicate == "uses"]
        assert uses == [
            Relation(
                "fastapi", "uses", "starlette", 7.0, "again", 0.5, (provenance(5), provenance(6))
            )
        ]

    def test_a_triple_twice_in_one_stage_keeps_the_last(
        self, store: GraphStore, project: str
    ) -> None:
        entities, _ = small_graph("one")
        first = Relation("fastapi", "uses", "starlette", 1.0, "first", 0.1, (provenance(1),))
        last = Relation("fastapi", "uses", "starlette", 2.0, "last", 0.2, (provenance(2),))
        store.stage(project, "g1", entities, [first, last])
        assert store.relations(project, generation="g1") == [last]

    def test_stage_writes_every_batch_of_a_generator(self, store: GraphStore, project: str) -> None:
        store.batch_size = 7
        entities = (Entity(f"e{n:03d}", f"E{n}") for n in range(50))
        relations = (Relation(f"e{n:03d}", "next", f"e{n + 1:03d}", n) for n in range(49))
        store.stage(project, "g1", entities, relations)
        summary = store.summary(project, generation="g1", strongest=2)
        assert (summary.entities, summary.relations) == (50, 49)
        assert [r.weight for r in summary.strongest] == [48.0, 47.0]

    def test_relations_may_join_entities_of_an_earlier_stage(
        self, store: GraphStore, project: str
    ) -> None:
        entities, relations = small_graph("one")
        store.stage(project, "g1", entities)
        store.stage(project, "g1", relations=relations)
        assert len(store.relations(project, generation="g1")) == 3

    def test_a_relation_to_an_unstaged_entity_is_refused_with_its_batch(
        self, store: GraphStore, project: str
    ) -> None:
        entities, relations = small_graph("one")
        store.stage(project, "g1", entities)
        dangling = Relation("fastapi", "uses", "no-such-entity")
        with pytest.raises(InvalidGraphData, match="no-such-entity"):
            store.stage(project, "g1", relations=[*relations, dangling])
        assert store.relations(project, generation="g1") == []

    # -- make_current, flip back ----------------------------------------------------------

    def test_make_current_shows_the_generation_and_returns_the_previous(
        self, store: GraphStore, project: str
    ) -> None:
        store.stage(project, "g1", *small_graph("one"))
        assert store.make_current(project, "g1") is None
        assert store.current_generation(project) == "g1"
        assert store.entities(project)[0].name == "FastAPI one"
        store.stage(project, "g2", *small_graph("two"))
        assert store.make_current(project, "g2") == "g1"
        assert store.entities(project)[0].name == "FastAPI two"

    def test_flipping_back_to_the_previous_generation_undoes_make_current(
        self, store: GraphStore, project: str
    ) -> None:
        published(store, project, "g1", "one")
        before = snapshot(store, project)
        store.stage(project, "g2", *small_graph("two"))
        previous = store.make_current(project, "g2")
        assert snapshot(store, project) != before
        assert store.make_current(project, previous) == "g2"
        assert snapshot(store, project) == before
        store.discard(project, "g2")  # then the saga discards its stage
        assert snapshot(store, project) == before

    def test_flipping_back_from_a_first_generation_leaves_no_current(
        self, store: GraphStore, project: str
    ) -> None:
        store.stage(project, "g1", *small_graph("one"))
        previous = store.make_current(project, "g1")
        assert store.make_current(project, previous) == "g1"
        assert store.current_generation(project) is None
        assert store.summary(project).generation is None
        assert store.make_current(project, None) is None  # again: still nothing

    def test_make_current_twice_changes_nothing(self, store: GraphStore, project: str) -> None:
        published(store, project, "g1", "one")
        assert store.make_current(project, "g1") == "g1"
        assert store.current_generation(project) == "g1"

    @pytest.mark.parametrize("discarded", [False, True], ids=["never-staged", "discarded"])
    def test_make_current_refuses_a_generation_that_is_not_there(
        self, store: GraphStore, project: str, discarded: bool
    ) -> None:
        published(store, project, "g1", "one")
        if discarded:
            store.stage(project, "g2", *small_graph("two"))
            store.discard(project, "g2")
        with pytest.raises(GenerationNotFound, match="g2"):
            store.make_current(project, "g2")
        assert store.current_generation(project) == "g1"

    @pytest.mark.parametrize("retired", [False, True], ids=["current", "retired"])
    def test_a_published_generation_is_never_staged_into_again(
        self, store: GraphStore, project: str, retired: bool
    ) -> None:
        published(store, project, "g1", "one")
        if retired:
            published(store, project, "g2", "two")
        with pytest.raises(GenerationConflict, match="g1"):
            store.stage(project, "g1", [Entity("new", "New")])
        assert "new" not in {e.key for e in store.entities(project, generation="g1")}

    # -- discard, prune --------------------------------------------------------------------

    def test_discard_removes_exactly_that_generation_and_twice_is_fine(
        self, store: GraphStore, project: str
    ) -> None:
        published(store, project, "g1", "one")
        before = snapshot(store, project)
        store.stage(project, "g2", *small_graph("two"))
        store.discard(project, "g2")
        store.discard(project, "g2")
        assert snapshot(store, project) == before
        assert [g.generation for g in store.generations(project)] == ["g1"]
        with pytest.raises(GenerationNotFound):
            store.entities(project, generation="g2")

    def test_discarding_what_never_existed_succeeds(self, store: GraphStore, project: str) -> None:
        store.discard(project, "never")
        assert store.generations(project) == []

    def test_discard_refuses_the_current_generation(self, store: GraphStore, project: str) -> None:
        published(store, project, "g1", "one")
        with pytest.raises(GenerationConflict, match="current"):
            store.discard(project, "g1")
        assert len(store.entities(project)) == 3

    def test_a_discarded_generation_id_can_be_staged_anew(
        self, store: GraphStore, project: str
    ) -> None:
        store.stage(project, "g1", *small_graph("one"))
        store.discard(project, "g1")
        store.stage(project, "g1", [Entity("only", "Only")])
        assert store.entities(project, generation="g1") == [Entity("only", "Only")]

    def test_generations_are_listed_in_staging_order_with_their_states(
        self, store: GraphStore, project: str
    ) -> None:
        published(store, project, "g1", "one")
        published(store, project, "g2", "two")
        store.stage(project, "g3", *small_graph("three"))
        listed = [(g.generation, g.state) for g in store.generations(project)]
        assert listed == [
            ("g1", GenerationState.RETIRED),
            ("g2", GenerationState.CURRENT),
            ("g3", GenerationState.STAGED),
        ]
        sequences = [g.sequence for g in store.generations(project)]
        assert sequences == sorted(sequences)

    def test_prune_removes_older_generations_but_the_kept_and_the_newer(
        self, store: GraphStore, project: str
    ) -> None:
        for n in range(1, 5):
            published(store, project, f"g{n}", str(n))
        store.stage(project, "abandoned", *small_graph("x"))  # older than g5
        published(store, project, "g5", "5")
        store.stage(project, "in-flight", *small_graph("y"))
        current = snapshot(store, project)
        assert store.prune(project, keep=2) == ["g1", "g2", "abandoned"]
        assert [g.generation for g in store.generations(project)] == ["g3", "g4", "g5", "in-flight"]
        assert store.prune(project, keep=0) == ["g3", "g4"]
        assert store.prune(project, keep=0) == []
        assert snapshot(store, project) == current
        assert len(store.entities(project, generation="in-flight")) == 3

    def test_prune_without_a_current_generation_removes_nothing(
        self, store: GraphStore, project: str
    ) -> None:
        store.stage(project, "g1", *small_graph("one"))
        assert store.prune(project, keep=0) == []
        assert len(store.generations(project)) == 1

    # -- projects ----------------------------------------------------------------------------

    def test_two_projects_never_see_each_others_data(self, store: GraphStore, project: str) -> None:
        other = f"{project}-other"
        published(store, project, "g1", "mine")
        store.stage(other, "g1", *small_graph("theirs"))
        assert store.current_generation(other) is None
        assert store.entities(other) == []
        store.make_current(other, "g1")
        assert {e.name for e in store.entities(project)} == {
            "FastAPI mine",
            "Starlette mine",
            "Pydantic mine",
        }
        assert {e.name for e in store.entities(other)} == {
            "FastAPI theirs",
            "Starlette theirs",
            "Pydantic theirs",
        }
        store.make_current(other, None)
        store.discard(other, "g1")
        assert store.current_generation(project) == "g1"
        assert len(store.relations(project)) == 3
        with pytest.raises(GenerationNotFound):
            store.entities(other, generation="g1")

    def test_a_generation_of_another_project_cannot_be_named(
        self, store: GraphStore, project: str
    ) -> None:
        published(store, project, "g1", "mine")
        with pytest.raises(GenerationNotFound):
            store.make_current(f"{project}-other", "g1")
        with pytest.raises(GenerationNotFound):
            store.relations(f"{project}-other", generation="g1")

    # -- readers ----------------------------------------------------------------------------

    def test_summary_counts_and_orders_the_strongest_relations(
        self, store: GraphStore, project: str
    ) -> None:
        published(store, project, "g1", "one")
        summary = store.summary(project, strongest=2)
        assert (summary.generation, summary.entities, summary.relations) == ("g1", 3, 3)
        assert summary.predicates == {"uses": 1, "depends_on": 1, "related_to": 1}
        assert [r.triple for r in summary.strongest] == [
            ("fastapi", "uses", "starlette"),
            ("fastapi", "depends_on", "pydantic"),
        ]
        assert summary.strongest[0].provenance == (provenance(1),)

    def test_neighbourhood_has_relations_both_ways_and_the_other_ends(
        self, store: GraphStore, project: str
    ) -> None:
        published(store, project, "g1", "one")
        around = store.neighbourhood(project, "starlette")
        assert around is not None
        assert around.entity == Entity("starlette", "Starlette one", "toolkit")
        assert [r.triple for r in around.relations] == [
            ("fastapi", "uses", "starlette"),
            ("starlette", "related_to", "pydantic"),
        ]
        assert [e.key for e in around.neighbours] == ["fastapi", "pydantic"]
        assert store.neighbourhood(project, "absent") is None

    def test_reading_a_generation_that_is_not_there_is_refused(
        self, store: GraphStore, project: str
    ) -> None:
        with pytest.raises(GenerationNotFound):
            store.summary(project, generation="nope")
        with pytest.raises(GenerationNotFound):
            store.neighbourhood(project, "x", generation="nope")

    def test_a_reader_during_flips_sees_one_whole_generation(
        self, store: GraphStore, store_url: str, project: str
    ) -> None:
        published(store, project, "g1", "one")
        store.stage(project, "g2", *small_graph("two"))
        seen = {"g1": store.relations(project, generation="g1")}
        seen["g2"] = store.relations(project, generation="g2")
        stop = threading.Event()

        def flip() -> None:
            while not stop.is_set():
                store.make_current(project, "g2")
                store.make_current(project, "g1")

        flipper = threading.Thread(target=flip)
        flipper.start()
        try:
            with open_graph_store(store_url) as reader:
                for _ in range(40):
                    summary = reader.summary(project, strongest=3)
                    assert summary.generation is not None
                    assert (
                        sorted(summary.strongest, key=lambda r: r.triple)
                        == seen[summary.generation]
                    )
                    assert reader.relations(project) in (seen["g1"], seen["g2"])
        finally:
            stop.set()
            flipper.join()

    def test_another_store_on_the_same_url_sees_what_was_written(
        self, store: GraphStore, store_url: str, project: str
    ) -> None:
        published(store, project, "g1", "one")
        with open_graph_store(store_url) as again:
            assert snapshot(again, project) == snapshot(store, project)

    # -- hostile names -------------------------------------------------------------------------

    @pytest.mark.parametrize("name", HOSTILE, ids=[f"hostile-{n}" for n in range(len(HOSTILE))])
    def test_hostile_names_are_stored_and_read_back_exactly(
        self, store: GraphStore, project: str, name: str
    ) -> None:
        published(store, project, "g0", "bystander")
        other = f"{project}-bystander"
        published(store, other, "g0", "bystander")
        entities = [Entity(name, name, name), Entity("plain", "Plain", None)]
        relation = Relation(
            name, name, "plain", 1.5, name, 0.5, (Provenance(name, name, name, 0, len(name)),)
        )
        generation = HOSTILE_GENERATION
        store.stage(project, generation, entities, [relation])
        assert store.entities(project, generation=generation) == sorted(
            entities, key=lambda e: e.key
        )
        assert store.relations(project, generation=generation) == [relation]
        store.make_current(project, generation)
        around = store.neighbourhood(project, name)
        assert around is not None
        assert around.relations == (relation,)
        # Nothing was executed: the bystanders are whole.
        assert len(store.entities(other)) == 3
        assert len(store.relations(project, generation="g0")) == 3

    def test_very_long_names_predicates_and_sentences_are_stored_whole(
        self, store: GraphStore, project: str
    ) -> None:
        long = "Ω" + "long name, " * 10_000
        entities = [Entity("a", long, long), Entity("b", "B")]
        relation = Relation(
            "a", long[:20_000], "b", 1.0, long, 1.0, (Provenance(long, long, long, 0, 10**9),)
        )
        store.stage(project, "g1", entities, [relation])
        assert store.entities(project, generation="g1") == entities
        assert store.relations(project, generation="g1") == [relation]

    # -- a writer killed mid-stage ------------------------------------------------------------

    def test_a_writer_killed_mid_stage_leaves_the_current_generation_intact(
        self, store: GraphStore, store_url: str, project: str
    ) -> None:
        published(store, project, "g1", "one")
        before = snapshot(store, project)
        child = subprocess.Popen(
            [sys.executable, "-c", ENDLESS_STAGE, store_url, project, "killed"],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stderr=subprocess.PIPE,
        )
        try:
            written = wait_for_relations(store, project, "killed", at_least=300, child=child)
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            assert child.stderr is not None
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL
        assert written >= 300  # it had started, and was cut off while writing
        assert snapshot(store, project) == before
        states = {g.generation: g.state for g in store.generations(project)}
        assert states == {"g1": GenerationState.CURRENT, "killed": GenerationState.STAGED}
        store.discard(project, "killed")
        assert [g.generation for g in store.generations(project)] == ["g1"]
        assert snapshot(store, project) == before


ENDLESS_STAGE = """
import itertools, sys
from wikisaga.graph import Entity, Provenance, Relation, open_graph_store

url, project, generation = sys.argv[1:4]
entities = [Entity(f"e{n:03d}", f"E{n}") for n in range(100)]
relations = (
    Relation(f"e{n % 100:03d}", f"p{n}", f"e{(n * 7) % 100:03d}", 1.0, "endless", 1.0,
             (Provenance("d", "d.md", "s", 0, 1),))
    for n in itertools.count()
)
with open_graph_store(url, batch_size=100) as store:
    store.stage(project, generation, entities, relations)
"""
"""A child that stages a generation that never ends, 100 rows per transaction."""


def wait_for_relations(
    store: GraphStore,
    project: str,
    generation: str,
    *,
    at_least: int,
    child: subprocess.Popen[bytes],
) -> int:
    """How many relations the child's stage has committed, once at least ``at_least``."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if child.poll() is not None:
            assert child.stderr is not None
            pytest.fail(f"the writer exited early: {child.stderr.read().decode()}")
        try:
            count = store.summary(project, generation=generation, strongest=0).relations
        except GenerationNotFound:
            count = 0
        if count >= at_least:
            return count
        time.sleep(0.05)
    pytest.fail(f"the writer did not commit {at_least} relations in time")
