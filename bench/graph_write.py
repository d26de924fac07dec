"""Staging a graph generation: one MERGE per relation against our batched write, in Neo4j.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/graph_write.py            # about a minute
    .venv/bin/python bench/graph_write.py --quick    # a few seconds (a smaller graph)
    WIKISAGA_NEO4J_URI=bolt://host:7687 .venv/bin/python bench/graph_write.py

The graph is 10,000 relations among 2,000 entities (``--relations``, ``--entities``), each
relation with one provenance entry, written into a new generation of a new project every
round. Neo4j is ``WIKISAGA_NEO4J_URI`` (credentials from ``WIKISAGA_NEO4J_USER`` and
``_PASSWORD``) or, when that is unset, the test server of ``tools/neo4j-test-server``,
started for the run. Three systems:

``neo4j-batched``  ours: ``Neo4jGraphStore.stage`` — the entities, then the relations, as
                   ``UNWIND $rows ... MERGE`` in managed write transactions of 5,000 rows,
                   relationship endpoints matched by label and key.
``neo4j-single``   what a first version writes: one auto-commit query per relation that
                   MERGEs both endpoints (setting their names), then the relationship with
                   its properties. It runs on the first ``--single-sample`` relations only
                   (default 1,000) and its time is scaled by relations / sample: each query
                   is one round trip and one commit, so its cost per relation does not
                   depend on how many came before.
``sqlite``         ours on the embedded backend, ``SQLiteGraphStore.stage`` (WAL).

Discarding the generation afterwards is not timed, except Neo4j's (``neo4j-discard``:
deletes in inner transactions of 2,000 rows), which the table shows too. Each round runs
every system once in a seeded random order, after untimed warm-up rounds; figures are
medians over the rounds. The last line of standard output is one JSON object with
``batched_vs_single`` (target >= 20), its paired form, and ``neo4j_relations_per_s``.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import _harness
import neo4j

from wikisaga.graph import Entity, GraphStore, Provenance, Relation, open_graph_store
from wikisaga.graph.neo4j import Neo4jGraphStore
from wikisaga.testing.neo4j_server import Neo4jTestServer

TARGETS = {"batched_vs_single": 20.0}
PREDICATES = ("uses", "depends_on", "part_of", "provides", "extends", "implements")
SYSTEMS = ("neo4j-batched", "neo4j-single", "sqlite")

SINGLE_MERGE = """MERGE (s:Entity {project_id: $project, generation: $generation, key: $subject})
SET s.name = $subject_name
MERGE (o:Entity {project_id: $project, generation: $generation, key: $object})
SET o.name = $object_name
MERGE (s)-[r:RELATES {predicate: $predicate}]->(o)
SET r.project_id = $project, r.generation = $generation, r.weight = $weight,
    r.method = $method, r.confidence = $confidence,
    r.provenance_document_ids = [$document_id], r.provenance_source_paths = [$source_path],
    r.provenance_sentences = [$sentence], r.provenance_starts = [$start],
    r.provenance_ends = [$end]"""


def make_graph(entities: int, relations: int) -> tuple[list[Entity], list[Relation]]:
    """``entities`` entities and ``relations`` distinct relations, the same every run."""
    nodes = [Entity(f"entity-{n:05d}", f"Entity {n}", "concept") for n in range(entities)]
    edges = []
    for n in range(relations):
        subject, layer = n % entities, n // entities
        target = (subject + 1 + layer * 37) % entities
        sentence = f"Entity {subject} {PREDICATES[layer % len(PREDICATES)]} entity {target}."
        edges.append(
            Relation(
                nodes[subject].key,
                f"{PREDICATES[layer % len(PREDICATES)]}-{layer}",
                nodes[target].key,
                weight=1.0 + (n * 7919) % 100 / 10,
                method="pattern",
                confidence=0.9,
                provenance=(Provenance(f"doc-{n % 50}", f"docs/{n % 50}.md", sentence, 0, 40),),
            )
        )
    return nodes, edges


def single_merges(
    driver: neo4j.Driver, project: str, generation: str, sample: list[Relation]
) -> None:
    """One auto-commit MERGE query per relation of ``sample``."""
    with driver.session() as session:
        for r in sample:
            p = r.provenance[0]
            session.run(
                SINGLE_MERGE,
                project=project,
                generation=generation,
                subject=r.subject,
                subject_name=r.subject,
                object=r.object,
                object_name=r.object,
                predicate=r.predicate,
                weight=r.weight,
                method=r.method,
                confidence=r.confidence,
                document_id=p.document_id,
                source_path=p.source_path,
                sentence=p.sentence,
                start=p.start,
                end=p.end,
            ).consume()


@contextmanager
def neo4j_url(workdir: Path) -> Iterator[str]:
    """``WIKISAGA_NEO4J_URI``, or a test server started for the run."""
    given = os.environ.get("WIKISAGA_NEO4J_URI")
    if given:
        yield given
        return
    print("starting the Neo4j test server ...", file=sys.stderr, flush=True)
    # The optimising JIT too (a slower start): the batches are long, and it is the server's
    # steady state that is compared, not its first seconds.
    with Neo4jTestServer(workdir / "neo4j", heap="512m", quick_start=False) as server:
        yield server.url


def measure(args: argparse.Namespace, neo: Neo4jGraphStore, lite: GraphStore) -> _harness.Samples:
    entities, relations = make_graph(args.entities, args.relations)
    sample = relations[: args.single_sample]
    scale = len(relations) / len(sample)
    driver = neo._driver  # the naive side uses the store's own connection pool
    assert driver is not None

    def write(system: str) -> tuple[float, float]:
        """Seconds to write the graph with ``system`` (scaled for the naive side), and to
        discard it afterwards."""
        store = lite if system == "sqlite" else neo
        project, generation = f"bench-{uuid.uuid4().hex[:12]}", "g1"
        store.stage(project, generation)  # the generation record, so discard finds it
        if system == "neo4j-single":
            seconds = scale * _harness.timed(single_merges, driver, project, generation, sample)
        else:
            seconds = _harness.timed(store.stage, project, generation, entities, relations)
        return seconds, _harness.timed(store.discard, project, generation)

    def play(number: int, order: list[str], samples: _harness.Samples) -> None:
        for system in order:
            seconds, discard = write(system)
            samples.add(system, seconds)
            if system == "neo4j-batched":
                samples.add("neo4j-discard", discard)

    def progress(samples: _harness.Samples) -> str:
        return "".join(f", {s} {samples.last(s):.2f}s" for s in SYSTEMS)

    return _harness.run_rounds(
        list(SYSTEMS),
        play,
        rounds=args.rounds,
        order=_harness.random_order(args.seed),
        warmup_rounds=args.warmup,
        progress=progress,
    )


def report(args: argparse.Namespace, samples: _harness.Samples, server: str) -> dict[str, Any]:
    relations = args.relations
    rows = []
    for system, what in (
        ("neo4j-batched", "stage: UNWIND ... MERGE, 5,000 rows per transaction"),
        ("neo4j-single", f"one auto-commit MERGE per relation (scaled from {args.single_sample})"),
        ("sqlite", "stage on the SQLite backend (WAL)"),
        ("neo4j-discard", "discard the generation (inner transactions of 2,000)"),
    ):
        median = samples.median(system)
        rows.append([system, what, f"{median:.3f}", f"{relations / median:,.0f}"])
    print(f"{relations:,} relations among {args.entities:,} entities, Neo4j at {server}")
    _harness.print_table(["system", "what", "median s", "relations/s"], rows, "<<>>")
    summary = _harness.summary("graph_write", args)
    summary.update(
        {
            "entities": args.entities,
            "relations": relations,
            "single_sample": args.single_sample,
            "seconds": {s: samples.median(s) for s in (*SYSTEMS, "neo4j-discard")},
            "batched_vs_single": samples.ratio("neo4j-single", "neo4j-batched"),
            "batched_vs_single_paired": samples.paired("neo4j-single", "neo4j-batched"),
            "neo4j_relations_per_s": relations / samples.median("neo4j-batched"),
            "sqlite_relations_per_s": relations / samples.median("sqlite"),
            "neo4j_discard_relations_per_s": relations / samples.median("neo4j-discard"),
        }
    )
    _harness.print_headline(summary, TARGETS)
    return summary


COMMAND = _harness.Command(
    __doc__,
    quick="1 round, 1,000 relations among 200 entities",
    rounds=_harness.Default(1, 5, "rounds"),
    warmup=_harness.Default(0, 1, "untimed rounds before timing"),
    data="the SQLite graph and the test server's data",
    seed=True,
)
COMMAND.parser.add_argument("--entities", type=int, help="entities (default 2,000)")
COMMAND.parser.add_argument("--relations", type=int, help="relations (default 10,000)")
COMMAND.parser.add_argument(
    "--single-sample", type=int, help="relations the one-MERGE-each side writes (default 1,000)"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = COMMAND.parse(argv)
    args.entities = args.entities or (200 if args.quick else 2000)
    args.relations = args.relations or (1000 if args.quick else 10_000)
    args.single_sample = min(args.single_sample or (100 if args.quick else 1000), args.relations)
    if min(args.entities, args.relations, args.single_sample) < 1:
        COMMAND.error("--entities, --relations and --single-sample must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def scenario(workdir: Path) -> dict[str, Any]:
        with ExitStack() as stack:
            url = stack.enter_context(neo4j_url(workdir))
            neo = stack.enter_context(open_graph_store(url))
            lite = stack.enter_context(open_graph_store(f"sqlite:///{workdir}/graph.db"))
            assert isinstance(neo, Neo4jGraphStore)
            samples = measure(args, neo, lite)
            return report(args, samples, neo.url)

    return _harness.run(args, "graph-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
