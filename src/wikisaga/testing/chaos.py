"""Fault scenarios against real services, and the invariants checked after each.

A :class:`Scenario` names one fault, the saga step it hits, whether the generation is the
project's first or a regeneration over an existing wiki, and which saga runs:

- ``graph=None``: the publish saga alone (:class:`~wikisaga.pipeline.publish.
  WikiGenerationSaga`), steps ``files`` → ``snapshot``;
- ``graph="sqlite"`` or ``"neo4j"``: the whole pipeline (:func:`~wikisaga.pipeline.
  generation.generate_project_wiki`), steps ``graph_stage`` → ``files`` → ``snapshot`` →
  ``graph_flip`` → commit, with the graph in a SQLite file or a real Neo4j server
  (:class:`GraphUnderTest`).

:func:`run_scenario` sets the fault up (through the fault proxies, a lock on the graph's
database, or by killing the process running the saga at a named point), runs a
generation, clears the fault, lets recovery and an operator retry do their work, and
checks DESIGN §9 on the real stores — the graph included. ``wikisaga chaos`` runs random
scenarios (``wikisaga.cli.chaos`` is its command line); ``tests/wikisaga/testing/
test_fault_matrix.py`` runs every publish scenario, ``test_pipeline_matrix.py`` the
pipeline's (a covering set; the whole product with ``--run-slow``).

Faults at the files and snapshot steps (HTTP, through :mod:`wikisaga.testing.proxy`):

==================  =====================================================================
``none``            no fault: the generation must commit
``down``            the step's service stops answering (connections refused) just as the
                    step starts, and stays down until the fault is cleared
``down_briefly``    the same, but the service comes back after 0.4 s
``error_before``    the step's request gets 500 without reaching the service (every try)
``error_after``     the step's request is applied, then answered 500 (every try)
``late``            applied, then answered after the client's timeout (every try)
``late_once``       the same, once: the retry must find the applied request and commit
``drop_after``      applied, then the connection is closed without an answer
``undo_fails``      the snapshot fails (500), and the rollback's requests fail twice
``undo_fails_hard`` the snapshot fails, and every rollback request fails until cleared:
                    the saga is ``failed`` and an operator's retry must finish it
``file_fails``      (files step only) writing the 3rd file of the batch fails inside the
                    filesystem service (an I/O error): the batch must change nothing
``service_dies``    (files step only) the filesystem service is SIGKILLed once the 3rd
                    file of the batch is on disk; it is restarted when the fault clears
==================  =====================================================================

Faults at the graph steps (``graph_stage``, ``graph_flip``), through a seam of the graph
store: a TCP fault proxy in front of Neo4j's Bolt port (:mod:`wikisaga.testing.
tcp_proxy`), a write lock held on the SQLite graph file by another connection:

==================  =====================================================================
``none``            no fault: the generation must commit
``down``            the graph stops answering just as the step starts, until the fault is
                    cleared: Neo4j refuses connections and its open ones are cut; the
                    SQLite file is write-locked (every write waits, then fails ``busy``).
                    The rollback's graph compensations fail too: an operator's retry
                    finishes it
``down_briefly``    the same for 0.4 s, which the store rides out (the driver retries,
                    SQLite waits for the lock): the generation commits
``drop_after``      (Neo4j only) the next request of the step reaches the server, then its
                    connection is cut before the answer
``undo_fails``      (graph_stage only) the snapshot fails, and the graph goes down for
                    0.3 s as the stage's compensation starts: its first tries fail
``undo_fails_hard`` (graph_stage only) the same, down until cleared: the saga is
                    ``failed`` and an operator's retry must finish it
==================  =====================================================================

At every step, ``crash:<point>``: the process running the saga is killed with SIGKILL at
that fault point of the step (``distributed_saga.faults.CRASH_AT_ENV``; a point of
compensation: while undoing the step, after the snapshot failed — or, at ``graph_flip``,
after the flip itself failed); recovery in another process finishes it.
``crash:before_commit`` belongs to no step: it is one scenario, at the commit after the
last step (labelled without a step). A child that was not killed by SIGKILL is a
violation: the crash never happened, so the scenario tested an ordinary rollback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from distributed_saga import (
    IN_FLIGHT_STATES,
    CompensationRegistry,
    FaultPlan,
    FaultPoint,
    RetryPolicy,
    SagaLog,
    SagaNotFoundError,
    SagaRecord,
    SagaState,
    StepState,
    open_saga_log,
    recover_sagas,
    retry_saga,
)
from distributed_saga.faults import CRASH_AT_ENV
from wikisaga.auth import get_internal_headers
from wikisaga.clients import is_transient
from wikisaga.config import Settings
from wikisaga.content.records import Document, document_id
from wikisaga.errors import GenerationError
from wikisaga.graph import GraphStore, open_graph_store
from wikisaga.ids import snapshot_id_for
from wikisaga.pipeline.compensations import publish_compensations
from wikisaga.pipeline.generation import GeneratedPages, generate_project_wiki
from wikisaga.pipeline.graph_step import graph_records
from wikisaga.pipeline.publish import WikiGenerationSaga, normalize_files
from wikisaga.testing.invariants import (
    GraphState,
    WikiState,
    check_committed,
    check_graph_committed,
    check_graph_unchanged,
    check_replays,
    check_settled,
    check_unchanged,
    read_graph,
    read_state,
)
from wikisaga.testing.proxy import FaultKind, FaultProxy, FaultRule
from wikisaga.testing.stack import ServiceStack
from wikisaga.testing.tcp_proxy import TcpFaultProxy

__all__ = [
    "FAULTS",
    "GRAPHS",
    "GRAPH_FAULTS",
    "PIPELINE_STEPS",
    "PUBLISH_STEPS",
    "STEPS",
    "GraphUnderTest",
    "Scenario",
    "ScenarioResult",
    "all_scenarios",
    "check_killed",
    "covering_scenarios",
    "fits",
    "run_chaos",
    "run_scenario",
]

PUBLISH_STEPS = ("files", "snapshot")
"""The publish saga's steps (``graph=None``)."""
PIPELINE_STEPS = ("graph_stage", "files", "snapshot", "graph_flip")
"""The whole pipeline's saga steps, in order (index = the engine's step index)."""
STEPS = PIPELINE_STEPS
GRAPH_STEPS = frozenset({"graph_stage", "graph_flip"})
GRAPHS = ("sqlite", "neo4j")
"""The graph backends a pipeline scenario runs on."""

PROXY_FAULTS = (
    "none",
    "down",
    "down_briefly",
    "error_before",
    "error_after",
    "late",
    "late_once",
    "drop_after",
    "undo_fails",
    "undo_fails_hard",
    "file_fails",
    "service_dies",
)
FILES_ONLY = frozenset({"file_fails", "service_dies"})
"""Faults inside a batch of files: they exist only at the files step."""
CRASH_FAULTS = tuple(f"crash:{point.value}" for point in FaultPoint)
FAULTS = PROXY_FAULTS + CRASH_FAULTS
GRAPH_FAULTS = (
    "none",
    "down",
    "down_briefly",
    "drop_after",
    "undo_fails",
    "undo_fails_hard",
    *CRASH_FAULTS,
)
"""The faults that fit a graph step."""
NEO4J_ONLY = frozenset({"drop_after"})
"""Graph faults only a network between the saga and the graph can produce."""
STAGE_ONLY = frozenset({"undo_fails", "undo_fails_hard"})
"""Graph faults of the stage's compensation (the flip is the last step: nothing after it
fails to start a rollback that the flip's compensation could then fail in)."""
AT_COMMIT = frozenset({f"crash:{FaultPoint.BEFORE_COMMIT.value}"})
"""Faults at the commit, which belongs to no step: scenarios put them after the last one."""

USER = "chaos-user"
CLIENT_TIMEOUT = 1.0
LEASE_SECONDS = 1.0
SQLITE_BUSY_TIMEOUT = 1.0
"""How long a SQLite graph write waits for a lock: longer than ``down_briefly``."""
FAST_STEP_RETRY = RetryPolicy(attempts=3, base_delay=0.05, max_delay=0.2, retry_on=is_transient)
FAST_UNDO_RETRY = RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.2, retry_on=lambda e: True)


def _steps_for(graph: str | None) -> tuple[str, ...]:
    return PUBLISH_STEPS if graph is None else PIPELINE_STEPS


def fits(fault: str, step: str, graph: str | None) -> str | None:
    """Why ``fault`` cannot hit ``step`` of the saga ``graph`` names, or ``None`` if it can."""
    if graph is not None and graph not in GRAPHS:
        return f"unknown graph {graph!r}; one of {', '.join(GRAPHS)} (or none)"
    if fault not in FAULTS:
        return f"unknown fault {fault!r}; one of {', '.join(FAULTS)}"
    steps = _steps_for(graph)
    graph_step = step in GRAPH_STEPS
    rules = (
        (step not in steps, f"unknown step {step!r}; one of {', '.join(steps)}"),
        (
            fault in AT_COMMIT and step != steps[-1],
            f"fault {fault!r} belongs to no step; it comes after the last step, {steps[-1]!r}",
        ),
        (graph_step and fault not in GRAPH_FAULTS, f"fault {fault!r} is not one of a graph step"),
        (
            graph_step and fault in NEO4J_ONLY and graph != "neo4j",
            f"fault {fault!r} happens only between the saga and Neo4j",
        ),
        (
            graph_step and fault in STAGE_ONLY and step != "graph_stage",
            f"fault {fault!r} happens at a graph step only at graph_stage",
        ),
        (
            not graph_step and fault in FILES_ONLY and step != "files",
            f"fault {fault!r} happens only at the files step",
        ),
    )
    return next((why for broken, why in rules if broken), None)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One fault at one step of one kind of generation, of one saga (see the module)."""

    fault: str
    step: str
    regenerate: bool
    graph: str | None = None
    """``None``: the publish saga alone; ``sqlite`` / ``neo4j``: the whole pipeline."""

    def __post_init__(self) -> None:
        problem = fits(self.fault, self.step, self.graph)
        if problem is not None:
            raise ValueError(problem)

    @property
    def steps(self) -> tuple[str, ...]:
        """The steps of this scenario's saga."""
        return _steps_for(self.graph)

    @property
    def index(self) -> int:
        """The engine's index of the step the fault hits."""
        return self.steps.index(self.step)

    @property
    def label(self) -> str:
        kind = "regenerate" if self.regenerate else "first"
        where = self.fault if self.fault in AT_COMMIT else f"{self.fault}@{self.step}"
        return f"{where}/{kind}" + (f"+{self.graph}" if self.graph else "")


@dataclass
class ScenarioResult:
    """What happened, and every invariant that did not hold."""

    scenario: Scenario
    project_id: str
    saga_id: str
    outcome: str
    """The saga's state right after the generation (and recovery, for a crash)."""
    final: str
    """The state after faults were cleared and an operator retried, if it was needed."""
    violations: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _steps_of(fault: str, graph: str | None) -> tuple[str, ...]:
    """The steps ``fault`` can hit in the saga ``graph`` names."""
    steps = _steps_for(graph)
    if fault in AT_COMMIT:
        return (steps[-1],)
    return tuple(step for step in steps if fits(fault, step, graph) is None)


def all_scenarios(graph: str | None = None) -> list[Scenario]:
    """Every fault × every step it can hit × {first generation, regeneration}, of the
    publish saga (``graph=None``) or of the pipeline on that graph; a fault at the commit,
    which belongs to no step, once per kind of generation."""
    return [
        Scenario(fault, step, regenerate, graph)
        for fault in FAULTS
        for step in _steps_of(fault, graph)
        for regenerate in (False, True)
    ]


def covering_scenarios(logs: Sequence[str] = ("sqlite", "postgres")) -> list[tuple[str, Scenario]]:
    """A covering set of pipeline scenarios, each with the log it runs on: every fault at
    every step it fits (on SQLite or Neo4j) at least once, every ``log × graph`` pair and
    both kinds of generation spread over them in turn (each pair sees both kinds)."""
    pairs = list(itertools.product(logs, GRAPHS))
    both = {(scenario.fault, scenario.step) for scenario in all_scenarios("neo4j")}
    ordered = sorted(both, key=lambda fs: (PIPELINE_STEPS.index(fs[1]), FAULTS.index(fs[0])))
    chosen: list[tuple[str, Scenario]] = []
    for number, (fault, step) in enumerate(ordered):
        log, graph = pairs[number % len(pairs)]
        if fits(fault, step, graph) is not None:
            graph = "neo4j"
        regenerate = (number // len(pairs)) % 2 == 1
        chosen.append((log, Scenario(fault, step, regenerate, graph)))
    return chosen


def generation(seed: int, number: int) -> dict[str, str]:
    """Pages of generation ``number``: later ones rewrite some, add some, drop some."""
    rng = random.Random(seed * 1000 + number)  # noqa: S311 - test data, not secrets
    names = [f"wiki/page-{i:02d}.md" for i in range(number * 3, number * 3 + 8)]
    files = {name: f"# {name}\n\ngeneration {number}\n\n{rng.random()}\n" for name in names}
    files["wiki/index.md"] = "# Index\n\n" + "".join(f"- {name}\n" for name in names)
    return files


def graph_of(seed: int, number: int) -> dict[str, Any]:
    """The relations JSON of generation ``number`` (the extractor's shape): later ones
    keep some entities, add some, and relate them differently."""
    rng = random.Random(seed * 1000 + number + 500)  # noqa: S311 - test data, not secrets
    keys = [f"entity-{i:02d}" for i in range(number * 2, number * 2 + 6)]
    entities = [{"key": key, "name": key.title(), "type": "library"} for key in keys]
    triples = []
    for position, subject in enumerate(keys[:-1]):
        obj = keys[position + 1 + rng.randrange(len(keys) - position - 1)]
        sentence = f"{subject} depends on {obj} (generation {number})."
        triples.append(
            {
                "subject": subject,
                "predicate": "depends_on",
                "object": obj,
                "method": "pattern",
                "confidence": round(0.5 + rng.random() / 2, 3),
                "doc_id": f"doc-{number}",
                "source": f"docs/gen-{number}.md",
                "sentence": sentence,
                "start": 0,
                "end": len(sentence),
            }
        )
    return {"entities": entities, "triples": triples}


# -- the graph of a pipeline scenario ---------------------------------------------------


class GraphUnderTest:
    """The graph a pipeline scenario publishes to, and the seam its faults go through.

    ``sqlite``: a file in ``root``, opened with a short busy timeout
    (:data:`SQLITE_BUSY_TIMEOUT`); :meth:`set_down` holds its write lock from another
    connection, so every write waits and then fails ``busy`` (reads go on: WAL).
    ``neo4j``: the server at ``neo4j_url``, reached through a :class:`TcpFaultProxy`;
    :meth:`set_down` refuses connections and cuts the open ones, :meth:`drop_after` cuts
    the next request's connection before its answer. Checks read it directly.
    """

    def __init__(self, kind: str, root: Path, *, neo4j_url: str | None = None) -> None:
        if kind not in GRAPHS:
            raise ValueError(f"unknown graph {kind!r}; one of {', '.join(GRAPHS)}")
        if kind == "neo4j" and not neo4j_url:
            raise ValueError("a Neo4j graph needs the server's bolt:// URL")
        self.kind = kind
        self.root = Path(root)
        self._neo4j_url = neo4j_url
        self._proxy: TcpFaultProxy | None = None
        self._lock_conn: sqlite3.Connection | None = None
        self._locked = False
        self.url = ""
        """The URL the saga and its compensations use (the proxy's, for Neo4j)."""
        self.direct_url = ""
        """The URL the checks use (bypassing the proxy)."""

    def start(self) -> GraphUnderTest:
        """Create the SQLite file, or start the proxy in front of Neo4j."""
        if self.kind == "sqlite":
            path = (self.root / "graph.db").resolve()
            self.direct_url = f"sqlite:///{path.as_posix()}"
            self.url = f"{self.direct_url}?busy_timeout={SQLITE_BUSY_TIMEOUT:g}"
            with open_graph_store(self.direct_url):
                pass  # creates the file and its schema, in WAL mode
            self._lock_conn = sqlite3.connect(
                path, timeout=SQLITE_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        else:
            assert self._neo4j_url is not None
            parts = urlsplit(self._neo4j_url)
            self._proxy = TcpFaultProxy(parts.hostname or "127.0.0.1", parts.port or 7687)
            self._proxy.start()
            self.direct_url = self._neo4j_url
            self.url = self._proxy.url(parts.scheme.replace("neo4j", "bolt"))
        return self

    def stop(self) -> None:
        """Release the lock or stop the proxy."""
        if self._lock_conn is not None:
            self._lock_conn.close()
            self._lock_conn = None
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None

    def __enter__(self) -> GraphUnderTest:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def open(self) -> GraphStore:
        """The store a generation writes through (short driver retries for Neo4j)."""
        return open_store(self.url)

    def open_direct(self) -> GraphStore:
        """A store for checks, bypassing every fault."""
        return open_graph_store(self.direct_url, **_neo4j_options(self.direct_url))

    def set_down(self, down: bool) -> None:
        """Make the graph stop (``True``) or resume (``False``) answering writes."""
        if self._proxy is not None:
            self._proxy.set_down(down)
            return
        assert self._lock_conn is not None
        if down and not self._locked:
            self._lock_conn.execute("BEGIN IMMEDIATE")
            self._locked = True
        elif not down and self._locked:
            self._lock_conn.execute("ROLLBACK")
            self._locked = False

    def drop_after(self, times: int = 1) -> None:
        """Cut the connection of the next ``times`` requests once sent (Neo4j only)."""
        if self._proxy is None:
            raise ValueError("drop_after needs a network in front of the graph (Neo4j)")
        self._proxy.drop_after(times)

    def clear(self) -> None:
        """Undo every fault."""
        if self._proxy is not None:
            self._proxy.clear()
        self.set_down(False)


def _neo4j_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite:"):
        return {}
    return {"connection_timeout": 2.0, "max_transaction_retry_time": 2.0}


def open_store(url: str) -> GraphStore:
    """Open the graph at ``url`` as a scenario's generation does (short Neo4j retries:
    they ride out ``down_briefly``, and give up on ``down`` within seconds)."""
    return open_graph_store(url, **_neo4j_options(url))


# -- running one scenario ---------------------------------------------------------------


def _wiki_saga(
    stack_urls: dict[str, str],
    token: str,
    project_id: str,
    saga_id: str,
    log_url: str,
    faults: FaultPlan | None = None,
) -> WikiGenerationSaga:
    return WikiGenerationSaga(
        project_id=project_id,
        user_id=USER,
        filesystem_url=stack_urls["filesystem"],
        git_url=stack_urls["git"],
        internal_headers=get_internal_headers(settings=Settings(internal_token=SecretStr(token))),
        saga_id=saga_id,
        saga_log=log_url,
        filesystem_timeout=CLIENT_TIMEOUT,
        git_timeout=CLIENT_TIMEOUT,
        step_retry=FAST_STEP_RETRY,
        compensation_retry=FAST_UNDO_RETRY,
        lease_seconds=LEASE_SECONDS,
        faults=faults,
        message=f"generation {saga_id}",
    )


def _pipeline_message(saga_id: str, number: int, seed: int) -> str:
    """The snapshot message :func:`generate_project_wiki` gives generation ``number``."""
    _, relations = graph_records(graph_of(seed, number))
    return (
        f"Auto-generated wiki with {len(generation(seed, number))} files and "
        f"{len(relations)} relationships. Graph generation: {saga_id}"
    )


def _run_pipeline(
    stack_urls: dict[str, str],
    token: str,
    project_id: str,
    saga_id: str,
    log_url: str,
    store: GraphStore,
    *,
    seed: int,
    number: int,
    faults: FaultPlan | None = None,
) -> str | None:
    """One generation through :func:`generate_project_wiki`; its error, or ``None``."""
    settings = Settings(
        internal_token=SecretStr(token),
        filesystem_server_url=stack_urls["filesystem"],
        git_server_url=stack_urls["git"],
        filesystem_timeout=CLIENT_TIMEOUT,
        git_timeout=CLIENT_TIMEOUT,
        page_generator="local",
    )
    files, relations = generation(seed, number), graph_of(seed, number)
    text = f"# Generation {number}\n\nThe documents of generation {number}.\n"
    documents = [
        Document(
            project_id=project_id,
            doc_id=document_id(project_id, f"docs/gen-{number}.md"),
            source_path=f"docs/gen-{number}.md",
            title=f"Generation {number}",
            format="markdown",
            content_hash=f"{number:064x}",
            text=text,
        )
    ]

    def pages(project_id: str, user_id: str, documents: Sequence[Document]) -> GeneratedPages:
        return GeneratedPages(files=normalize_files(files), relations=relations)

    try:
        generate_project_wiki(
            project_id,
            USER,
            settings=settings,
            internal_headers=get_internal_headers(settings=settings),
            saga_id=saga_id,
            force=True,
            pages=pages,
            documents=lambda project: documents,
            graph=store,
            saga_log=log_url,
            faults=faults,
            lease_seconds=LEASE_SECONDS,
        )
    except GenerationError as exc:
        return str(exc)
    return None


def _proxy_for(stack: ServiceStack, step: str) -> FaultProxy:
    return stack.filesystem_proxy if step == "files" else stack.git_proxy


_REQUEST = {"files": ("POST", r"/batch"), "snapshot": ("POST", r"/snapshot/[^/]+")}
_UNDO = (("POST", r"/restore"), ("DELETE", r"/snapshot/[^/]+/[^/]+"))


def _install(
    stack: ServiceStack, graph: GraphUnderTest | None, scenario: Scenario
) -> FaultPlan | None:
    """Set up a fault; return a fault plan for faults timed by the saga itself."""
    if scenario.step in GRAPH_STEPS:
        assert graph is not None
        return _install_graph(stack, graph, scenario)
    fault, step = scenario.fault, scenario.step
    proxy = _proxy_for(stack, step)
    method, path = _REQUEST[step]
    late = CLIENT_TIMEOUT + 0.5
    rules = {
        "error_before": FaultRule(method, path, FaultKind.ERROR_BEFORE),
        "error_after": FaultRule(method, path, FaultKind.ERROR_AFTER),
        "late": FaultRule(method, path, FaultKind.LATE_AFTER, delay=late),
        "late_once": FaultRule(method, path, FaultKind.LATE_AFTER, delay=late, times=1),
        "drop_after": FaultRule(method, path, FaultKind.DROP_AFTER),
    }
    if fault in rules:
        proxy.add_rule(rules[fault])
    elif fault in ("undo_fails", "undo_fails_hard"):
        _fail_snapshot(stack)
        times = 2 if fault == "undo_fails" else None
        for target in (stack.filesystem_proxy, stack.git_proxy):
            for undo_method, undo_path in _UNDO:
                target.add_rule(
                    FaultRule(undo_method, undo_path, FaultKind.ERROR_BEFORE, times=times)
                )
    elif fault == "file_fails":
        stack.set_filesystem_fault("fail_at_file:3")
    elif fault == "service_dies":
        stack.set_filesystem_fault("kill_at_file:3")
    elif fault in ("down", "down_briefly"):

        def take_down() -> None:
            proxy.set_down(True)
            if fault == "down_briefly":
                stack.later(0.4, lambda: proxy.set_down(False))

        return FaultPlan(FaultPoint.AFTER_INTENT, step=scenario.index, action=take_down)
    return None


def _install_graph(
    stack: ServiceStack, graph: GraphUnderTest, scenario: Scenario
) -> FaultPlan | None:
    fault = scenario.fault
    if fault in ("down", "down_briefly"):

        def take_down() -> None:
            graph.set_down(True)
            if fault == "down_briefly":
                stack.later(0.4, lambda: graph.set_down(False))

        return FaultPlan(FaultPoint.AFTER_INTENT, step=scenario.index, action=take_down)
    if fault == "drop_after":
        return FaultPlan(
            FaultPoint.AFTER_INTENT, step=scenario.index, action=lambda: graph.drop_after(1)
        )
    if fault in ("undo_fails", "undo_fails_hard"):
        _fail_snapshot(stack)

        def fail_undo() -> None:
            graph.set_down(True)
            if fault == "undo_fails":
                stack.later(0.3, lambda: graph.set_down(False))

        return FaultPlan(FaultPoint.BEFORE_COMPENSATION, step=scenario.index, action=fail_undo)
    return None


def _fail_snapshot(stack: ServiceStack) -> None:
    stack.git_proxy.add_rule(FaultRule(*_REQUEST["snapshot"], FaultKind.ERROR_BEFORE))


def _crash_env(scenario: Scenario) -> str:
    point = FaultPoint(scenario.fault.split(":", 1)[1])
    if point is FaultPoint.BEFORE_COMMIT:
        return point.value  # the commit belongs to no step
    return f"{point.value}:{scenario.index}"


def _needs_failure(scenario: Scenario) -> bool:
    """Compensation crash points need a failure to start compensating."""
    return scenario.fault in ("crash:before_compensation", "crash:after_compensation")


@contextlib.contextmanager
def _cleared(stack: ServiceStack, graph: GraphUnderTest | None) -> Iterator[Callable[[], None]]:
    def clear() -> None:
        stack.clear_faults()
        if graph is not None:
            graph.clear()

    clear()
    try:
        yield clear
    finally:
        clear()


def run_scenario(
    stack: ServiceStack,
    scenario: Scenario,
    *,
    log_url: str,
    project_id: str,
    seed: int = 0,
    graph: GraphUnderTest | None = None,
) -> ScenarioResult:
    """Run one scenario end to end and check every invariant (a pipeline scenario needs
    the ``graph`` of its kind)."""
    if scenario.graph is not None and (graph is None or graph.kind != scenario.graph):
        raise ValueError(f"scenario {scenario.label} needs a {scenario.graph} GraphUnderTest")
    clock = time.monotonic()
    urls = {"filesystem": stack.filesystem_proxy.url, "git": stack.git_proxy.url}
    violations: list[str] = []
    saga_id = f"{project_id}-g2"
    checker = graph.open_direct() if graph is not None else None
    try:
        with _cleared(stack, graph) as clear, stack.direct_filesystem() as filesystem:
            if scenario.regenerate:
                first = f"{project_id}-g1"
                error = _generate(stack, urls, graph, project_id, first, log_url, 1, seed)
                if error is not None:
                    violations.append(f"setup generation failed: {error}")
            before = read_state(filesystem, stack.repository(project_id), project_id, USER)
            graph_before = _read_graph(checker, project_id, violations)
            if scenario.fault.startswith("crash:"):
                violations += _crash(stack, graph, scenario, urls, project_id, log_url, seed)
            else:
                plan = _install(stack, graph, scenario)
                _generate(stack, urls, graph, project_id, saga_id, log_url, 2, seed, plan)
            outcome, final, started, found = _settle_and_retry(stack, log_url, saga_id, clear)
            violations += found
            violations += _check_end(
                stack,
                scenario,
                final,
                project_id=project_id,
                seed=seed,
                before=before,
                graph_before=graph_before,
                checker=checker,
                started=started,
            )
    finally:
        if checker is not None:
            checker.close()
    return ScenarioResult(
        scenario=scenario,
        project_id=project_id,
        saga_id=saga_id,
        outcome=outcome.value,
        final=final.value,
        violations=violations,
        seconds=time.monotonic() - clock,
    )


def _crash(
    stack: ServiceStack,
    graph: GraphUnderTest | None,
    scenario: Scenario,
    urls: dict[str, str],
    project_id: str,
    log_url: str,
    seed: int,
) -> list[str]:
    """Run generation 2 in a child that the scenario's crash point kills."""
    if _needs_failure(scenario) and scenario.step != "graph_flip":
        _fail_snapshot(stack)
    crash_at = _crash_env(scenario)
    spec: dict[str, Any] = {
        "urls": urls,
        "project_id": project_id,
        "saga_id": f"{project_id}-g2",
        "log_url": log_url,
        "files": generation(seed, 2),
    }
    if graph is not None:
        spec["pipeline"] = {
            "graph_url": graph.url,
            "seed": seed,
            "number": 2,
            # Nothing after the flip can fail: the flip itself must, so that its
            # compensation runs (and the crash point in it is reached).
            "fail_flip": _needs_failure(scenario) and scenario.step == "graph_flip",
        }
    return check_killed(_run_child(stack, spec, crash_at), crash_at)


def _check_end(
    stack: ServiceStack,
    scenario: Scenario,
    final: SagaState,
    *,
    project_id: str,
    seed: int,
    before: WikiState,
    graph_before: GraphState | None,
    checker: GraphStore | None,
    started: set[int],
) -> list[str]:
    """Every invariant of the end state, once the saga is settled."""
    filesystem, git = stack.direct_filesystem(), stack.direct_git()
    repository = stack.repository(project_id)
    saga_id = f"{project_id}-g2"
    snapshot_id = snapshot_id_for(saga_id)
    generated = generation(seed, 2)
    violations: list[str] = []
    try:
        after = read_state(filesystem, repository, project_id, USER)
        graph_after = _read_graph(checker, project_id, violations)
        if final is SagaState.COMMITTED:
            violations += check_committed(after, repository, generated, snapshot_id)
            if graph_after is not None:
                entities, relations = graph_records(graph_of(seed, 2))
                violations += check_graph_committed(graph_after, saga_id, entities, relations)
        elif final in (SagaState.ROLLED_BACK, SagaState.PENDING):
            # PENDING: the saga never reached the log (killed before its first intent,
            # which creates it), so nothing may have changed either.
            violations += check_unchanged(before, after)
            if graph_before is not None and graph_after is not None:
                violations += check_graph_unchanged(graph_before, graph_after, saga_id)
        else:
            violations.append(f"saga ended {final.value} after the operator's retry")
        if scenario.fault == "none" and final is not SagaState.COMMITTED:
            violations.append("a generation without faults did not commit")
        # The replays are the files and snapshot requests: the graph steps send none with
        # an idempotency key (a retried stage rewrites, a retried flip changes nothing).
        pipeline = scenario.graph is not None
        offset = 1 if pipeline else 0
        violations += check_replays(
            filesystem=filesystem,
            git=git,
            repository=repository,
            project_id=project_id,
            user_id=USER,
            saga_id=saga_id,
            snapshot_id=snapshot_id,
            message=_pipeline_message(saga_id, 2, seed) if pipeline else f"generation {saga_id}",
            generated=generated,
            started={index - offset for index in started if index - offset in (0, 1)},
        )
    finally:
        filesystem.close()
        git.close()
    return violations


def _generate(
    stack: ServiceStack,
    urls: dict[str, str],
    graph: GraphUnderTest | None,
    project_id: str,
    saga_id: str,
    log_url: str,
    number: int,
    seed: int,
    plan: FaultPlan | None = None,
) -> str | None:
    """Run generation ``number`` in this process; its error, or ``None`` if it committed."""
    if graph is None:
        done = _wiki_saga(urls, stack.token, project_id, saga_id, log_url, plan)
        result = done.execute_with_consistency(generation(seed, number))
        return None if result["status"] == "success" else str(result["error"])
    with graph.open() as store:
        return _run_pipeline(
            urls,
            stack.token,
            project_id,
            saga_id,
            log_url,
            store,
            seed=seed,
            number=number,
            faults=plan or FaultPlan(),
        )


def _read_graph(
    store: GraphStore | None, project_id: str, violations: list[str]
) -> GraphState | None:
    if store is None:
        return None
    try:
        return read_graph(store, project_id)
    except Exception as exc:  # noqa: BLE001 - an unreadable graph is the violation
        violations.append(f"the graph of {project_id} is not readable: {exc}")
        return None


def _settle_and_retry(
    stack: ServiceStack, log_url: str, saga_id: str, clear: Callable[[], None]
) -> tuple[SagaState, SagaState, set[int], list[str]]:
    """Recover the saga if its owner died, clear the faults, and retry it if it failed.

    Returns the outcome before the retry, the final state, the started steps, violations.
    A saga the log never heard of (its process died before the first intent) is
    ``pending`` with no step started.
    """
    registry = publish_compensations(stack.headers)
    with open_saga_log(log_url) as log:
        try:
            record = _settle(log, saga_id, registry)
        except SagaNotFoundError:
            clear()
            return SagaState.PENDING, SagaState.PENDING, set(), []
        outcome = record.state
        violations = check_settled(record)
        clear()
        if record.state is SagaState.FAILED:
            retry_saga(log, saga_id, registry=registry, compensation_retry=FAST_UNDO_RETRY)
            record = log.get_saga(saga_id)
            violations += check_settled(record)
    # A rejected step provably sent nothing, so there is no request of it to replay.
    sent = {step.index for step in record.steps if step.state is not StepState.REJECTED}
    return outcome, record.state, sent, violations


def _settle(log: SagaLog, saga_id: str, registry: CompensationRegistry) -> SagaRecord:
    """Wait out a dead owner's lease and run recovery until the saga is settled."""
    deadline = time.monotonic() + 30
    record = log.get_saga(saga_id)
    while record.state in IN_FLIGHT_STATES:
        if time.monotonic() > deadline:
            break
        time.sleep(LEASE_SECONDS / 4)
        recover_sagas(
            log,
            registry=registry,
            lease_seconds=LEASE_SECONDS,
            compensation_retry=FAST_UNDO_RETRY,
        )
        record = log.get_saga(saga_id)
    return record


def _run_child(
    stack: ServiceStack, spec: dict[str, Any], crash_at: str
) -> subprocess.CompletedProcess[str]:
    """Run the generation in a child process that ``crash_at`` kills (or freezes)."""
    return subprocess.run(
        [sys.executable, "-m", "wikisaga.testing.chaos", "child"],
        input=json.dumps(spec),
        text=True,
        env={**os.environ, **stack.env, CRASH_AT_ENV: crash_at},
        capture_output=True,
        timeout=120,
        check=False,
    )


def check_killed(child: subprocess.CompletedProcess[str], crash_at: str) -> list[str]:
    """A planned crash happened: the child running the saga died of SIGKILL.

    Anything else (it exited, with any status, or died of another signal) means the crash
    point was never reached, and the end state came from an ordinary rollback or commit.
    """
    if child.returncode == -signal.SIGKILL:
        return []
    if child.returncode < 0:
        how = f"died of {signal.Signals(-child.returncode).name}"
    else:
        how = f"exited with status {child.returncode}"
    tail = child.stderr.strip()[-1500:] or "(nothing)"
    return [f"the child planned to crash at {crash_at} {how}, not of SIGKILL; stderr tail: {tail}"]


@dataclass(frozen=True, slots=True)
class _FailThenCrash(FaultPlan):
    """The crash of ``CRASH_AT_ENV``, and ``fail`` run first at its own point."""

    fail: FaultPlan = field(default_factory=FaultPlan)

    def at(self, point: FaultPoint, step: int | None) -> None:
        self.fail.at(point, step)
        FaultPlan.at(self, point, step)


def _child_main() -> int:
    spec = json.loads(sys.stdin.read())
    token = os.environ["WIKISAGA_INTERNAL_TOKEN"]
    pipeline = spec.get("pipeline")
    if pipeline is None:
        saga = _wiki_saga(spec["urls"], token, spec["project_id"], spec["saga_id"], spec["log_url"])
        result = saga.execute_with_consistency(spec["files"])
        return 0 if result["status"] == "success" else 1
    with open_store(pipeline["graph_url"]) as store:
        faults: FaultPlan | None = None
        if pipeline["fail_flip"]:
            # Closing the store makes the flip raise: the graph store failing, at once.
            crash = FaultPlan.from_env()
            flip = PIPELINE_STEPS.index("graph_flip")
            fail = FaultPlan(FaultPoint.AFTER_INTENT, step=flip, action=store.close)
            faults = _FailThenCrash(
                point=crash.point, step=crash.step, action=crash.action, fail=fail
            )
        error = _run_pipeline(
            spec["urls"],
            token,
            spec["project_id"],
            spec["saga_id"],
            spec["log_url"],
            store,
            seed=int(pipeline["seed"]),
            number=int(pipeline["number"]),
            faults=faults,
        )
    return 0 if error is None else 1


# -- many random scenarios ----------------------------------------------------------------


def random_scenario(rng: random.Random, faults: Sequence[str], graph: str | None) -> Scenario:
    """A random scenario of one of ``faults`` at a step it fits, of the saga ``graph`` names."""
    choices = [(f, s) for f in faults for s in _steps_of(f, graph)]
    if not choices:
        raise ValueError(f"none of the faults {list(faults)} fits the saga of graph {graph!r}")
    fault, step = rng.choice(choices)
    return Scenario(fault, step, rng.random() < 0.5, graph)


def run_chaos(
    *,
    runs: int,
    seed: int,
    root: Path,
    log_url: str | None = None,
    report: Callable[[ScenarioResult], None] | None = None,
    faults: Sequence[str] = FAULTS,
    graph: str | None = None,
    neo4j_url: str | None = None,
) -> list[ScenarioResult]:
    """Run ``runs`` random scenarios (reproducible from ``seed``) on one service stack:
    of the publish saga (``graph=None``) or of the whole pipeline on that graph (a Neo4j
    graph at ``neo4j_url``)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible schedules, not secrets
    url = log_url or f"sqlite:///{(root / 'sagas.db').resolve().as_posix()}"
    results = []
    with contextlib.ExitStack() as running:
        stack = running.enter_context(ServiceStack(root))
        under_test = None
        if graph is not None:
            under_test = running.enter_context(GraphUnderTest(graph, root, neo4j_url=neo4j_url))
        for run in range(runs):
            scenario = random_scenario(rng, faults, graph)
            result = run_scenario(
                stack,
                scenario,
                log_url=url,
                project_id=f"chaos-{seed}-{run}",
                seed=seed + run,
                graph=under_test,
            )
            results.append(result)
            if report is not None:
                report(result)
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m wikisaga.testing.chaos child`` runs one generation from a JSON spec."""
    parser = argparse.ArgumentParser(prog="python -m wikisaga.testing.chaos")
    parser.add_argument("mode", choices=["child"])
    parser.parse_args(argv)
    return _child_main()


if __name__ == "__main__":
    raise SystemExit(main())
