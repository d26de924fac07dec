"""The fault matrix: every fault × every publish step × {first generation, regeneration}
× {SQLite log, PostgreSQL log}, against real services, checking DESIGN §9 on the real
stores after recovery (and after an operator's retry where the saga ended ``failed``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres_support import fresh_schema
from wikisaga.testing.chaos import Scenario, all_scenarios, run_scenario
from wikisaga.testing.stack import ServiceStack

_counter = itertools.count()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="module")
def sqlite_log_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite-log") / "sagas.db"
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture(scope="module")
def postgres_log_url(postgres_url: str) -> Iterator[str]:
    """The test database, seen through a schema of its own (created and dropped here)."""
    with fresh_schema(postgres_url, "matrix") as url:
        yield url


SCENARIOS = all_scenarios()


def test_each_scenario_is_listed_once_and_the_commit_crash_without_a_step() -> None:
    """No two scenarios share a label; a crash before the commit, which belongs to no
    step, is one scenario per kind of generation, not one per step."""
    labels = [s.label for s in SCENARIOS]
    assert len(labels) == len(set(labels))
    assert [s.label for s in SCENARIOS if s.fault == "crash:before_commit"] == [
        "crash:before_commit/first",
        "crash:before_commit/regenerate",
    ]
    per_step = [s for s in SCENARIOS if s.fault == "crash:before_compensation"]
    assert {(s.step, s.regenerate) for s in per_step} == {
        ("files", False),
        ("files", True),
        ("snapshot", False),
        ("snapshot", True),
    }


def _run(stack: ServiceStack, scenario: Scenario, log_url: str, tag: str) -> None:
    project_id = f"m{tag}{next(_counter)}"
    result = run_scenario(stack, scenario, log_url=log_url, project_id=project_id)
    assert result.violations == [], (
        f"{scenario.label}: outcome {result.outcome}, final {result.final}"
    )
    if scenario.fault == "none":
        assert result.final == "committed"
    if scenario.fault in (
        "error_before",
        "error_after",
        "late",
        "drop_after",
        "file_fails",
        "service_dies",
    ):
        # The step never succeeds, so the generation must not be published.
        assert result.final == "rolled_back"
    if scenario.fault == "undo_fails_hard":
        assert result.outcome == "failed"  # the operator's retry then rolled it back
    if scenario.fault == "crash:before_intent" and scenario.step == "files":
        # The first intent creates the saga: killed before it, the generation never
        # started, and nothing changed (checked by the run's invariants).
        assert result.final == "pending"
    elif scenario.fault.startswith("crash:"):
        assert result.final == "rolled_back"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.label for s in SCENARIOS])
def test_fault_with_sqlite_log(
    stack: ServiceStack, sqlite_log_url: str, scenario: Scenario
) -> None:
    """Every invariant holds after this fault, with the saga log in SQLite."""
    _run(stack, scenario, sqlite_log_url, "s")


@pytest.mark.postgres
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.label for s in SCENARIOS])
def test_fault_with_postgres_log(
    stack: ServiceStack, postgres_log_url: str, scenario: Scenario
) -> None:
    """Every invariant holds after this fault, with the saga log in PostgreSQL."""
    _run(stack, scenario, postgres_log_url, "p")
