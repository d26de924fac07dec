"""``wikisaga chaos``: random fault schedules against real services, invariants checked.

The scenarios and their checks live in :mod:`wikisaga.testing.chaos`; this module is only
their command line.
"""

from __future__ import annotations

import contextlib
import random
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import typer

from wikisaga.testing.chaos import FAULTS, ScenarioResult, random_scenario, run_chaos

__all__ = ["register"]


def chaos(
    runs: Annotated[int, typer.Option(min=1, help="how many scenarios to run")] = 20,
    seed: Annotated[int, typer.Option(help="the schedule's random seed (reproducible)")] = 1,
    fault: Annotated[
        list[str] | None,
        typer.Option(help=f"only these faults (repeatable): {', '.join(FAULTS)}"),
    ] = None,
    log_url: Annotated[
        str | None, typer.Option(help="saga log URL (default: SQLite in the run's directory)")
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="where to keep services' data and logs (default: a temp dir)"),
    ] = None,
    graph: Annotated[
        Literal["sqlite", "neo4j", "none"],
        typer.Option(
            help="the whole pipeline with the graph in SQLite or Neo4j, or none: the "
            "publish saga alone (files and snapshot)"
        ),
    ] = "sqlite",
    neo4j_url: Annotated[
        str | None,
        typer.Option(
            help="bolt:// URL of the Neo4j to use with --graph neo4j (default: start the "
            "test server of tools/neo4j-test-server in the run's directory)"
        ),
    ] = None,
) -> int:
    """Start a filesystem and a git service behind fault proxies (and, for the whole
    pipeline, a graph: a SQLite file, or Neo4j behind a TCP fault proxy), run random fault
    scenarios (a fault, a saga step, first generation or regeneration), and check every
    invariant of DESIGN section 9 after each, the graph's included. Exit status 1 on any
    violation, 2 on a usage error."""
    faults = fault or list(FAULTS)
    for name in faults:
        if name not in FAULTS:
            print(f"unknown fault {name!r}; one of: {', '.join(FAULTS)}", file=sys.stderr)
            return 2
    backend = None if graph == "none" else graph
    try:
        random_scenario(random.Random(seed), faults, backend)  # noqa: S311 - a check only
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if neo4j_url and backend != "neo4j":
        print("--neo4j-url goes with --graph neo4j", file=sys.stderr)
        return 2
    root = directory or Path(tempfile.mkdtemp(prefix="wikisaga-chaos-"))
    saga = "the publish saga" if backend is None else f"the whole pipeline, {backend} graph"
    print(f"chaos: {runs} runs of {saga}, seed {seed}, services and data in {root}")
    violations = 0

    def report(result: ScenarioResult) -> None:
        nonlocal violations
        violations += len(result.violations)
        mark = "ok  " if not result.violations else "FAIL"
        print(
            f"{mark} {result.scenario.label:<52} {result.outcome:<12} -> {result.final:<12} "
            f"{result.seconds:5.1f}s",
            flush=True,
        )
        for violation in result.violations:
            print(f"       violation: {violation}", flush=True)

    with _neo4j(backend, neo4j_url, root) as bolt:
        results = run_chaos(
            runs=runs,
            seed=seed,
            root=root,
            log_url=log_url,
            report=report,
            faults=faults,
            graph=backend,
            neo4j_url=bolt,
        )
    outcomes: dict[str, int] = {}
    for result in results:
        outcomes[result.final] = outcomes.get(result.final, 0) + 1
    summary = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items()))
    print(f"\n{len(results)} runs: {summary}; {violations} invariant violations")
    return 1 if violations else 0


@contextlib.contextmanager
def _neo4j(backend: str | None, url: str | None, root: Path) -> Iterator[str | None]:
    """The Neo4j to use: the one given, else a test server started for the run."""
    if backend != "neo4j" or url:
        yield url
        return
    from wikisaga.testing.neo4j_server import Neo4jTestServer  # noqa: PLC0415 - only here

    print("starting a Neo4j test server (tools/neo4j-test-server) ...", flush=True)
    with Neo4jTestServer(root / "neo4j") as server:
        yield server.url


def register(app: typer.Typer) -> None:
    """Add ``chaos`` to the command line."""
    app.command(help=chaos.__doc__)(chaos)
