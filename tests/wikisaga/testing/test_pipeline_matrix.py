"""The whole pipeline's fault matrix: a fault at each saga step (graph stage, files,
snapshot, graph flip) of a first generation and of a regeneration, with the saga log in
SQLite or PostgreSQL and the graph in SQLite or a real Neo4j, against real services;
DESIGN §9 checked on the files, the history and the graph after recovery (and after an
operator's retry where the saga ended ``failed``).

CI runs a covering set (:func:`~wikisaga.testing.chaos.covering_scenarios`: every fault at
every step it fits, every log × graph pair, both kinds of generation); ``--run-slow`` runs
the whole product.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_support import fresh_schema
from wikisaga.graph import Entity, GenerationState, Relation
from wikisaga.testing.chaos import (
    GRAPH_STEPS,
    GRAPHS,
    PIPELINE_STEPS,
    GraphUnderTest,
    Scenario,
    all_scenarios,
    covering_scenarios,
    fits,
    run_scenario,
)
from wikisaga.testing.invariants import GraphState, check_graph_committed, check_graph_unchanged
from wikisaga.testing.stack import ServiceStack

_counter = itertools.count()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def sqlite_log(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite-log") / "sagas.db"
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture(scope="module")
def postgres_log(postgres_url: str) -> Iterator[str]:
    """The test database, seen through a schema of its own (created and dropped here)."""
    with fresh_schema(postgres_url, "pipeline") as url:
        yield url


@pytest.fixture(scope="module")
def sqlite_graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphUnderTest]:
    with GraphUnderTest("sqlite", tmp_path_factory.mktemp("graph")) as graph:
        yield graph


@pytest.fixture(scope="module")
def neo4j_graph(
    neo4j_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GraphUnderTest]:
    with GraphUnderTest("neo4j", tmp_path_factory.mktemp("graph"), neo4j_url=neo4j_url) as graph:
        yield graph


def _param(log: str, scenario: Scenario) -> object:
    marks = [pytest.mark.postgres] if log == "postgres" else []
    return pytest.param(log, scenario, marks=marks, id=f"{log}-log:{scenario.label}")


COVERING = covering_scenarios()
EVERYTHING = [
    (log, scenario)
    for log in ("sqlite", "postgres")
    for graph in GRAPHS
    for scenario in all_scenarios(graph)
]


def test_the_covering_set_has_every_fault_at_every_step_and_every_log_and_graph() -> None:
    """Every (fault, step) that fits some graph is in the covering set; every log × graph
    pair runs both a first generation and a regeneration; labels are unique."""
    wanted = {(s.fault, s.step) for graph in GRAPHS for s in all_scenarios(graph)}
    assert {(s.fault, s.step) for _, s in COVERING} == wanted
    assert {step for _, s in COVERING for step in [s.step]} == set(PIPELINE_STEPS)
    pairs = {(log, s.graph, s.regenerate) for log, s in COVERING}
    assert pairs == set(itertools.product(("sqlite", "postgres"), GRAPHS, (False, True)))
    labels = [f"{log}:{s.label}" for log, s in COVERING]
    assert len(labels) == len(set(labels))
    assert len(COVERING) < len(EVERYTHING) / 4


def test_graph_faults_fit_only_where_they_can_happen() -> None:
    """A cut Bolt connection needs Neo4j; a failing undo of the graph is the stage's; the
    HTTP faults never hit a graph step; the publish saga has no graph step."""
    assert fits("drop_after", "graph_flip", "neo4j") is None
    assert fits("drop_after", "graph_flip", "sqlite") is not None
    assert fits("undo_fails", "graph_stage", "sqlite") is None
    assert fits("undo_fails", "graph_flip", "neo4j") is not None
    assert fits("error_after", "graph_stage", "neo4j") is not None
    assert fits("crash:before_commit", "graph_flip", "sqlite") is None
    assert fits("crash:before_commit", "snapshot", "sqlite") is not None
    with pytest.raises(ValueError, match="unknown step 'graph_stage'"):
        Scenario("down", "graph_stage", regenerate=False)
    with pytest.raises(ValueError, match="unknown graph 'oracle'"):
        Scenario("down", "files", regenerate=False, graph="oracle")
    labels = [s.label for s in all_scenarios("sqlite") if s.fault == "crash:before_commit"]
    assert labels == ["crash:before_commit/first+sqlite", "crash:before_commit/regenerate+sqlite"]


def _state(current: str | None, **generations: GenerationState) -> GraphState:
    entity = Entity(key=f"e-{current}", name="E")
    return GraphState(
        current=current,
        generations=generations,
        entities=(entity,) if current else (),
        relations=(),
    )


def test_graph_checks_report_a_left_generation_and_a_wrong_current_one() -> None:
    """After a rollback the previous generation must be current and the new one gone;
    after a commit the new one current, alone, with what was staged."""
    before = _state("g1", g1=GenerationState.CURRENT)
    assert check_graph_unchanged(before, before, "g2") == []
    staged = _state("g1", g1=GenerationState.CURRENT, g2=GenerationState.STAGED)
    assert check_graph_unchanged(before, staged, "g2") == [
        "rolled-back graph generation g2 is still there (staged)"
    ]
    flipped = _state("g2", g1=GenerationState.RETIRED, g2=GenerationState.CURRENT)
    assert check_graph_unchanged(before, flipped, "g2")[0] == (
        "graph's current generation changed by a rolled-back generation: g1 -> g2"
    )
    entity = Entity(key="e-g2", name="E")
    done = _state("g2", g2=GenerationState.CURRENT)
    assert check_graph_committed(done, "g2", [entity], []) == []
    assert check_graph_committed(flipped, "g2", [entity], []) == [
        "graph generations left after the commit: ['g1 (retired)']"
    ]
    relation = Relation(subject="e-g2", predicate="p", object="e-g2")
    assert check_graph_committed(before, "g2", [entity], [relation]) == [
        "graph generation g2 is not current (current: g1)",
        "the current graph's entities differ from the generation's (1 read, 1 staged)",
        "the current graph's relations differ from the generation's (0 read, 1 staged)",
    ]


def _run(request: pytest.FixtureRequest, log: str, scenario: Scenario) -> None:
    stack: ServiceStack = request.getfixturevalue("stack")
    log_url: str = request.getfixturevalue(f"{log}_log")
    graph: GraphUnderTest = request.getfixturevalue(f"{scenario.graph}_graph")
    project_id = f"pm{log[0]}{uuid.uuid4().hex[:8]}{next(_counter)}"
    result = run_scenario(stack, scenario, log_url=log_url, project_id=project_id, graph=graph)
    assert result.violations == [], (
        f"{scenario.label}: outcome {result.outcome}, final {result.final}"
    )
    fault, step = scenario.fault, scenario.step
    if fault in ("none", "late_once") or (fault == "down_briefly" and step in GRAPH_STEPS):
        # A graph down for 0.4 s is ridden out by the store itself (the driver's retries,
        # SQLite's busy wait); an HTTP service's by the step's retries, which may give up.
        assert result.final == "committed"
    if fault in ("error_before", "error_after", "late", "file_fails", "service_dies"):
        assert result.final == "rolled_back"
    if fault == "down" and step in ("graph_stage", "graph_flip"):
        # The graph's compensations fail as long as it is down: an operator's retry
        # finished the rollback.
        assert (result.outcome, result.final) == ("failed", "rolled_back")
    if fault == "undo_fails_hard":
        assert (result.outcome, result.final) == ("failed", "rolled_back")
    if fault == "crash:before_intent" and step == PIPELINE_STEPS[0]:
        # The first intent creates the saga: killed before it, the generation never
        # started, and nothing changed (checked by the run's invariants).
        assert result.final == "pending"
    elif fault.startswith("crash:"):
        assert result.final == "rolled_back"


@pytest.mark.parametrize(("log", "scenario"), [_param(log, s) for log, s in COVERING])
def test_pipeline_fault(request: pytest.FixtureRequest, log: str, scenario: Scenario) -> None:
    """Every invariant holds after this fault, the graph's included."""
    _run(request, log, scenario)


@pytest.mark.slow
@pytest.mark.parametrize(("log", "scenario"), [_param(log, s) for log, s in EVERYTHING])
def test_pipeline_fault_exhaustive(
    request: pytest.FixtureRequest, log: str, scenario: Scenario
) -> None:
    """The whole product: every fault × step × kind of generation × log × graph."""
    _run(request, log, scenario)
