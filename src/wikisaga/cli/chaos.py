"""``wikisaga chaos``: random fault schedules against real services, invariants checked.

The scenarios and their checks live in :mod:`wikisaga.testing.chaos`; this module is only
their command line.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from wikisaga.testing.chaos import FAULTS, ScenarioResult, run_chaos

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
) -> int:
    """Start a filesystem and a git service behind fault proxies, run random fault
    scenarios (a fault, a publish step, first generation or regeneration), and check every
    invariant of DESIGN section 9 after each. Exit status 1 on any violation."""
    faults = fault or list(FAULTS)
    for name in faults:
        if name not in FAULTS:
            print(f"unknown fault {name!r}; one of: {', '.join(FAULTS)}", file=sys.stderr)
            return 2
    root = directory or Path(tempfile.mkdtemp(prefix="wikisaga-chaos-"))
    print(f"chaos: {runs} runs, seed {seed}, services and data in {root}")
    violations = 0

    def report(result: ScenarioResult) -> None:
        nonlocal violations
        violations += len(result.violations)
        mark = "ok  " if not result.violations else "FAIL"
        print(
            f"{mark} {result.scenario.label:<44} {result.outcome:<12} -> {result.final:<12} "
            f"{result.seconds:5.1f}s",
            flush=True,
        )
        for violation in result.violations:
            print(f"       violation: {violation}", flush=True)

    results = run_chaos(
        runs=runs, seed=seed, root=root, log_url=log_url, report=report, faults=faults
    )
    outcomes: dict[str, int] = {}
    for result in results:
        outcomes[result.final] = outcomes.get(result.final, 0) + 1
    summary = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items()))
    print(f"\n{len(results)} runs: {summary}; {violations} invariant violations")
    return 1 if violations else 0


def register(app: typer.Typer) -> None:
    """Add ``chaos`` to the command line."""
    app.command(help=chaos.__doc__)(chaos)
