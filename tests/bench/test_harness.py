"""The benchmark harness (bench/_harness.py): orders, rounds, figures and the report.

The harness is loaded from its file, as the benchmarks load it as a sibling module.
Nothing here measures anything: the scenarios are stubs.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "bench" / "_harness.py"


@pytest.fixture(scope="module")
def harness() -> Iterator[ModuleType]:
    """``_harness``, registered as a top-level module while the tests run, as in a script."""
    spec = importlib.util.spec_from_file_location("_harness", HARNESS)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        yield module


def _command(harness: ModuleType, *, seed: bool) -> Any:
    return harness.Command(
        "A benchmark.\n\nMore.",
        quick="1 round",
        rounds=harness.Default(1, 30, "rounds"),
        warmup=harness.Default(0, 2, "untimed rounds"),
        data="the files",
        seed=seed,
    )


def test_random_order_is_fresh_each_round_and_the_same_for_one_seed(harness: ModuleType) -> None:
    systems = ["a", "b", "c", "d"]
    first, second = harness.random_order(7), harness.random_order(7)
    orders = [first(number, systems) for number in range(20)]
    assert orders == [second(number, systems) for number in range(20)]
    assert all(sorted(order) == systems for order in orders)
    assert len({tuple(order) for order in orders}) > 1


def test_random_order_draws_as_random_sample_does(harness: ModuleType) -> None:
    """The orders of a seed are the ones the saga benchmark drew before the harness."""
    systems = ["sqlite-full", "sqlite-normal", "memory", "dbos", "floor"]
    order, draw = harness.random_order(0), random.Random(0)
    for number in range(10):
        assert order(number, systems) == draw.sample(systems, len(systems))


def test_alternating_order_puts_each_system_first_in_turn(harness: ModuleType) -> None:
    sides = ("ours", "naive")
    assert harness.alternating_order(0, sides) == ["ours", "naive"]
    assert harness.alternating_order(1, sides) == ["naive", "ours"]
    assert harness.alternating_order(harness.WARMUP_ROUND, sides) == ["ours", "naive"]
    assert harness.alternating_order(4, ["a", "b", "c"]) == ["b", "c", "a"]


def test_run_rounds_warms_up_untimed_then_records_each_round(
    harness: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    played: list[tuple[int, list[str]]] = []
    warmed: list[str] = []

    def play(number: int, order: list[str], samples: Any) -> None:
        played.append((number, order))
        for position, system in enumerate(order):
            samples.add(system, float(number * 10 + position))

    samples = harness.run_rounds(
        ["a", "b"],
        play,
        rounds=3,
        order=harness.alternating_order,
        warm_up=warmed.append,
        warmup_rounds=2,
        progress=lambda samples: f": a {samples.last('a'):g}",
    )

    assert warmed == ["a", "b"]
    warmup = harness.WARMUP_ROUND
    assert [number for number, _ in played] == [warmup, warmup + 1, 0, 1, 2]
    assert samples["a"] == [0.0, 11.0, 20.0]  # warm-up rounds recorded nothing
    assert samples["b"] == [1.0, 10.0, 21.0]
    assert capsys.readouterr().err.splitlines()[-1] == "round 3/3: a 20"


def test_run_rounds_with_no_rounds_only_warms_up(harness: ModuleType) -> None:
    played: list[int] = []
    samples = harness.run_rounds(
        ["a"],
        lambda number, order, samples: played.append(number),
        rounds=0,
        order=harness.alternating_order,
        warmup_rounds=1,
    )
    assert played == [harness.WARMUP_ROUND]
    assert "a" not in samples


def test_ratio_is_of_medians_and_paired_is_the_median_of_round_ratios(
    harness: ModuleType,
) -> None:
    samples = harness.Samples()
    for ours, theirs in ((1.0, 10.0), (2.0, 40.0), (4.0, 12.0)):
        samples.add("ours", ours)
        samples.add("theirs", theirs)
    assert samples.median("theirs") == 12.0
    assert samples.ratio("theirs", "ours") == 6.0  # 12 / 2
    assert samples.paired("theirs", "ours") == 10.0  # median of 10, 20, 3


def test_timed_parts_counts_outermost_calls_and_puts_the_originals_back(
    harness: ModuleType,
) -> None:
    class Client:
        def outer(self) -> int:
            return self.inner() + 1

        def inner(self) -> int:
            return 1

    original = Client.outer
    parts = [(Client, "outer", "outer"), (Client, "inner", "inner"), (Client, "absent", "x")]
    with harness.timed_parts(parts) as spent:
        assert Client().outer() == 2
        assert Client().inner() == 1
        assert Client().outer() == 2
    assert spent["outer"][1] == 2
    assert spent["inner"][1] == 1  # the calls inside outer() are outer's time
    assert "x" not in spent
    assert Client.outer is original


def test_print_table_makes_each_column_as_wide_as_its_widest_cell(
    harness: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.print_table(("name", "n"), [("a", "1"), ("longer", "100")], "<>")
    assert capsys.readouterr().out.splitlines() == [
        "name      n",
        "-----------",
        "a         1",
        "longer  100",
    ]


def test_print_headline_checks_each_target_in_its_direction(
    harness: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = {
        "machine": harness.machine(0.5),
        "up": 6.0,
        "up_paired": 5.5,
        "down": 2.0,
        "absent": None,
    }
    targets = {"up": 5.0, "down": 1.5, "absent": 1.0}
    harness.print_headline(summary, targets, at_most={"down"})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "up = 6.00 (target >= 5: met); median of per-round ratios 5.50"
    assert lines[1] == "down = 2.00 (target <= 1.5: NOT met)"
    assert lines[2].startswith("machine: ")
    assert len(lines) == 3


def test_command_fills_in_quick_or_full_defaults(harness: ModuleType) -> None:
    command = _command(harness, seed=False)
    quick = command.parse(["--quick"])
    assert (quick.rounds, quick.warmup) == (1, 0)
    full = command.parse(["--warmup", "0"])
    assert (full.rounds, full.warmup) == (30, 0)
    with pytest.raises(SystemExit):
        command.parse(["--rounds", "-1"])


def test_seed_is_an_option_and_in_the_summary_only_where_orders_are_random(
    harness: ModuleType,
) -> None:
    seeded = _command(harness, seed=True).parse(["--seed", "3"])
    assert harness.summary("x", seeded)["seed"] == 3
    unseeded = _command(harness, seed=False)
    assert "seed" not in harness.summary("x", unseeded.parse([]))
    with pytest.raises(SystemExit):
        unseeded.parse(["--seed", "3"])


def test_run_prints_one_json_object_last_and_removes_its_directory(
    harness: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _command(harness, seed=True).parse(["--dir", str(tmp_path / "data")])

    def scenario(workdir: Path) -> dict[str, Any]:
        (workdir / "file").write_text("x")
        print("a table")
        return harness.summary("stub", args) | {"ratio": 2.0}

    assert harness.run(args, "stub-", scenario) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "a table"
    summary = json.loads(lines[-1])
    assert summary["benchmark"] == "stub"
    assert summary["ratio"] == 2.0
    assert set(summary["machine"]) == {"cpus", "platform", "python", "sqlite", "load_average_1m"}
    assert list((tmp_path / "data").iterdir()) == []


def test_run_prints_no_json_when_the_scenario_returns_none(
    harness: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _command(harness, seed=False).parse(["--dir", str(tmp_path)])
    assert harness.run(args, "stub-", lambda workdir: None) == 0
    assert capsys.readouterr().out == ""
    assert list(tmp_path.iterdir()) == []
