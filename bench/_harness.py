"""What every benchmark here shares: its command line, its rounds, its figures, its report.

A benchmark is a scenario on this harness: the systems it compares, what one round of each
does, and which ratios are its headline. The harness does the rest the same way for all:

* the command line (:class:`Command`): ``--quick``, ``--rounds``, ``--warmup``, ``--dir``
  and, where the order of a round is random, ``--seed``; each scenario adds its own;
* the rounds (:func:`run_rounds`): warm-up first, untimed; then every round plays every
  system once, in that round's order (:func:`random_order`, seeded, or
  :func:`alternating_order`), so that the machine's load falls on all of them;
* the figures (:class:`Samples`): one value per system and round, their medians, ratios of
  medians, and paired ratios (the median of the ratios taken round by round, steadier when
  the load drifts during a run); :func:`timed` takes a time, :func:`timed_parts` the time
  spent in named calls, for a benchmark's ``--profile``;
* the report: a table (:func:`print_table`), each headline ratio against its target and the
  machine (:func:`print_headline`), and, as the last line of standard output, exactly one
  JSON object (:func:`run`; :func:`summary` starts it). Progress goes to standard error.

Benchmarks import this module as a sibling (``import _harness``): ``python bench/<name>.py``
puts ``bench/`` first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

Order = Callable[[int, Sequence[T]], list[T]]
"""The systems of round ``number``, in the order that round plays them."""

WARMUP_ROUND = 10_000
"""The number of the first warm-up round, far from those of the timed rounds."""


# -- the command line --------------------------------------------------------------------


@dataclass(frozen=True)
class Default:
    """An option's value with ``--quick`` and without, and what it counts (its help)."""

    quick: int
    full: int
    help: str


class Command:
    """The options every benchmark takes, with the scenario's defaults; add its own to
    :attr:`parser`, then :meth:`parse`."""

    def __init__(
        self,
        doc: str,
        *,
        quick: str,
        rounds: Default,
        warmup: Default,
        data: str,
        seed: bool = False,
    ) -> None:
        self.rounds = rounds
        self.warmup = warmup
        parser = argparse.ArgumentParser(description=doc.split("\n\n", maxsplit=1)[0])
        parser.add_argument("--quick", action="store_true", help=f"a few seconds ({quick})")
        parser.add_argument("--rounds", type=int, help=f"{rounds.help} (default {rounds.full})")
        if seed:
            parser.add_argument(
                "--seed", type=int, default=0, help="seed of each round's random order (default 0)"
            )
        parser.add_argument("--warmup", type=int, help=f"{warmup.help} (default {warmup.full})")
        parser.add_argument("--dir", type=Path, help=f"where {data} go (default: /tmp)")
        self.parser = parser

    def parse(self, argv: list[str] | None) -> argparse.Namespace:
        """The options, ``--quick`` or the full defaults filled in; the load noted."""
        args = self.parser.parse_args(argv)
        quick = args.quick
        args.rounds = args.rounds or (self.rounds.quick if quick else self.rounds.full)
        if args.warmup is None:
            args.warmup = self.warmup.quick if quick else self.warmup.full
        if args.rounds < 1 or args.warmup < 0:
            self.parser.error("--rounds must be positive, --warmup not negative")
        args.load_before = os.getloadavg()[0]
        return args

    def error(self, message: str) -> NoReturn:
        """Refuse the command line (exits with status 2)."""
        self.parser.error(message)

    def choose(self, spec: str, choices: Sequence[str]) -> list[str]:
        """The systems a comma-separated ``--systems`` names, in order, each once; refuses
        an empty list or an unknown name."""
        names = [name.strip() for name in spec.split(",") if name.strip()]
        unknown = sorted(set(names) - set(choices))
        if unknown or not names:
            self.error(f"unknown systems {unknown}; choose from {','.join(choices)}")
        return list(dict.fromkeys(names))


# -- the rounds --------------------------------------------------------------------------


def random_order(seed: int) -> Order[Any]:
    """A fresh random order every round, the same every run for one ``seed``.

    A fixed or rotated order would keep every system behind the same neighbour, and what
    one system leaves behind (dirty pages still being written back, a busy disk queue)
    would then always land on the same next one.
    """
    draw = random.Random(seed)

    def order(number: int, systems: Sequence[T]) -> list[T]:
        del number
        return draw.sample(systems, len(systems))

    return order


def alternating_order(number: int, systems: Sequence[T]) -> list[T]:
    """Each system first in turn: with two, the one going first alternates every round."""
    turn = number % len(systems)
    return [*systems[turn:], *systems[:turn]]


class Samples:
    """Values by key (a system, or a system's operation), one per timed round."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}

    def add(self, key: str, value: float) -> None:
        self.values.setdefault(key, []).append(value)

    def __getitem__(self, key: str) -> list[float]:
        return self.values[key]

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def last(self, key: str) -> float:
        return self.values[key][-1]

    def median(self, key: str) -> float:
        return statistics.median(self.values[key])

    def ratio(self, numerator: str, denominator: str) -> float:
        """Median over median."""
        return self.median(numerator) / self.median(denominator)

    def paired(self, numerator: str, denominator: str) -> float:
        """The median of the ratios taken round by round (systems seconds apart)."""
        pairs = zip(self.values[numerator], self.values[denominator], strict=True)
        return statistics.median(n / d for n, d in pairs)


def timed(action: Callable[..., object], *args: Any) -> float:
    """Seconds that ``action(*args)`` took."""
    started = time.perf_counter()
    action(*args)
    return time.perf_counter() - started


def run_rounds(
    systems: Sequence[T],
    play: Callable[[int, list[T], Samples], None],
    *,
    rounds: int,
    order: Order[T],
    warm_up: Callable[[T], None] | None = None,
    warmup_rounds: int = 0,
    progress: Callable[[Samples], str] | None = None,
) -> Samples:
    """Warm up, then play ``rounds`` rounds; returns what the timed rounds recorded.

    ``warm_up`` is called once per system, in the order given, and ``warmup_rounds``
    rounds are played into samples that are thrown away, numbered from
    :data:`WARMUP_ROUND`. ``play(number, systems in order, samples)`` plays one round and
    records its figures. About ten times in a run, and after the last round, the round
    number and ``progress(samples)`` go to standard error. ``rounds=0`` only warms up.
    """
    if warm_up is not None:
        for system in systems:
            warm_up(system)
    for number in range(WARMUP_ROUND, WARMUP_ROUND + warmup_rounds):
        play(number, order(number, systems), Samples())
    samples = Samples()
    for number in range(rounds):
        play(number, order(number, systems), samples)
        done = number + 1
        if progress is not None and (done % max(1, rounds // 10) == 0 or done == rounds):
            print(f"round {done}/{rounds}{progress(samples)}", file=sys.stderr, flush=True)
    return samples


# -- where the time goes -----------------------------------------------------------------


@contextmanager
def timed_parts(
    parts: Iterable[tuple[Any, str, str]],
) -> Iterator[dict[str, list[float]]]:
    """Timers around ``(owner, attribute, label)`` callables for the block.

    Yields ``label -> [milliseconds, calls]``, filled as the block runs. Only the main
    thread's outermost timed call counts, so a part called inside another is not counted
    twice, and background threads (lease renewals) are left out. Missing attributes are
    skipped; the originals are put back afterwards.
    """
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    local = threading.local()
    main = threading.main_thread()
    originals = []

    def timer(function: Callable[..., Any], label: str) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            # Only the calling thread's outermost timed call counts (not lease renewals).
            if threading.current_thread() is not main or getattr(local, "busy", False):
                return function(*args, **kwargs)
            local.busy = True
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                local.busy = False
                entry = spent[label]
                entry[0] += (time.perf_counter() - started) * 1000.0
                entry[1] += 1

        return timed_call

    for owner, name, label in parts:
        original = getattr(owner, name, None)
        if original is not None:
            originals.append((owner, name, original))
            setattr(owner, name, timer(original, label))
    try:
        yield spent
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


# -- the report --------------------------------------------------------------------------


def print_table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str) -> None:
    """Columns as wide as their widest cell, ``align`` one ``<`` or ``>`` per column."""
    cells = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            f"{cell:{side}{width}}" for cell, side, width in zip(row, align, widths, strict=True)
        )
        for row in cells
    ]
    print(lines[0].rstrip())
    print("-" * max(len(line.rstrip()) for line in lines))
    for line in lines[1:]:
        print(line.rstrip())


def machine(load_before: float) -> dict[str, Any]:
    """The machine: CPUs, platform, Python, SQLite, and the 1-minute load before and now."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def summary(benchmark: str, args: argparse.Namespace) -> dict[str, Any]:
    """The start of every JSON summary: what ran, when, on what, how many rounds."""
    head: dict[str, Any] = {
        "benchmark": benchmark,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(args.load_before),
        "rounds": args.rounds,
    }
    if "seed" in vars(args):
        head["seed"] = args.seed
    return head


def print_headline(
    summary: dict[str, Any], targets: dict[str, float], *, at_most: Collection[str] = ()
) -> None:
    """Each headline ratio against its target (at least it, or at most for ``at_most``),
    with its paired form, then the machine it ran on."""
    for key, target in targets.items():
        value = summary.get(key)
        if value is None:
            continue
        upper = key in at_most
        met = value <= target if upper else value >= target
        line = f"{key} = {value:.2f} (target {'<=' if upper else '>='} {target:g}: "
        line += "met)" if met else "NOT met)"
        paired = summary.get(f"{key}_paired")
        if paired is not None:
            line += f"; median of per-round ratios {paired:.2f}"
        print(line)
    host = summary["machine"]
    before, after = host["load_average_1m"]
    print(
        f"machine: {host['cpus']} CPUs, load average (1 min) before/after {before} / {after}, "
        f"Python {host['python']}, SQLite {host['sqlite']}, {host['platform']}"
    )


def run(
    args: argparse.Namespace, prefix: str, scenario: Callable[[Path], dict[str, Any] | None]
) -> int:
    """``scenario(workdir)`` in a fresh temporary directory (under ``--dir``, if given),
    removed afterwards; then the summary it returns, if any, as the last line of output."""
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=args.dir))
    try:
        result = scenario(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if result is not None:
        sys.stderr.flush()
        print(json.dumps(result, sort_keys=True), flush=True)
    return 0
