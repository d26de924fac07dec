"""Sequential two-step sagas per second: this engine, DBOS, and SQLite's own commit rate.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/saga_engine.py              # everything, one to two minutes
    .venv/bin/python bench/saga_engine.py --quick      # a few seconds, for a smoke test
    .venv/bin/python bench/saga_engine.py --systems sqlite-full,floor --rounds 3 --sagas 100
    .venv/bin/python bench/saga_engine.py --profile sqlite-full   # where one system's time goes

Systems (``--systems``, comma-separated; default all of them):

``sqlite-full``    this engine on ``sqlite:///...?synchronous=FULL`` (WAL)
``sqlite-normal``  this engine on ``sqlite:///...?synchronous=NORMAL`` (WAL)
``memory``         this engine on ``memory://`` (nothing durable)
``dbos``           DBOS (``pip install dbos``) with a SQLite system database, otherwise its
                   defaults: a ``@DBOS.workflow()`` calling two ``@DBOS.step()`` functions
``floor``          SQLite alone: one small ``INSERT`` + ``COMMIT`` per transaction on a
                   fresh WAL/FULL file; no durable engine can commit faster than this

A saga is ``DistributedSaga(...)``, two ``execute_step`` calls with a trivial action and a
durable :class:`~distributed_saga.Compensation` each, then ``commit()``. Every system first
runs a warm-up, then ``--rounds`` rounds of ``--sagas`` sagas (``floor``: as many commits
as that many sagas of ours make); each round runs every system once, in a fresh random
order (``--seed``), so machine noise hits them all. Many short rounds keep the systems of
one round seconds apart.
Each system's median round is reported; ``vs_*_paired`` are the medians of the same ratios
taken round by round. The warm-up of ``floor`` runs past SQLite's first automatic checkpoint,
so that it is timed in the steady state (a WAL being rewritten, not growing), as ours is.

Commits per saga are counted, not assumed: a separate pass runs a few sagas with a
``sqlite3`` trace callback on every connection and counts ``COMMIT`` statements. The same
connection reports the ``journal_mode`` and ``synchronous`` actually in force.

The last line of standard output is one JSON object (progress goes to standard error):
``vs_dbos`` is our FULL throughput over DBOS's, ``vs_floor`` our FULL time per saga over
(commits per saga x the raw commit time).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import importlib.util
import json
import os
import platform
import pstats
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed_saga import Compensation, DistributedSaga, compensation
from distributed_saga.log import SagaLog, open_saga_log

ALL_SYSTEMS = ("sqlite-full", "sqlite-normal", "memory", "dbos", "floor")
OURS = ("sqlite-full", "sqlite-normal", "memory")
TARGETS = {"vs_dbos": 5.0, "vs_floor": 1.5}
COUNT_SAGAS = 5  # sagas (or workflows) run with the commit counter on

_COMMIT = re.compile(r"\s*(COMMIT|END)\b", re.IGNORECASE)
_SYNCHRONOUS_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


# -- the saga under test ----------------------------------------------------------------


@compensation("bench.release")
def _release(args: Any) -> None:
    del args


@compensation("bench.refund")
def _refund(args: Any) -> None:
    del args


def _reserve() -> int:
    return 1


def _charge() -> int:
    return 2


def run_sagas(log: SagaLog, prefix: str, count: int) -> None:
    """``count`` sequential two-step sagas with durable compensations on ``log``."""
    for i in range(count):
        saga = DistributedSaga(saga_id=f"{prefix}-{i}", user_id="bench", log=log)
        saga.execute_step(
            name="reserve", action=_reserve, rollback=Compensation("bench.release", {"n": i})
        )
        saga.execute_step(
            name="charge", action=_charge, rollback=Compensation("bench.refund", {"n": i})
        )
        saga.commit()


# -- counting commits --------------------------------------------------------------------


class CommitCounter:
    """Counts ``COMMIT`` statements on every ``sqlite3`` connection opened while installed.

    Both ``sqlite3.connect`` and ``sqlite3.dbapi2.connect`` are wrapped, so connections
    opened by SQLAlchemy (DBOS) are seen as well as ours. Counting happens only between
    :meth:`start` and :meth:`stop`; :meth:`detach` removes the callbacks afterwards.
    """

    def __init__(self) -> None:
        self.commits = 0
        self.connections: list[sqlite3.Connection] = []
        self._active = False

    def _trace(self, statement: str) -> None:
        if self._active and _COMMIT.match(statement):
            self.commits += 1

    @contextmanager
    def installed(self) -> Iterator[CommitCounter]:
        originals = (sqlite3.connect, sqlite3.dbapi2.connect)
        connect = originals[0]

        def traced_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection = connect(*args, **kwargs)
            connection.set_trace_callback(self._trace)
            self.connections.append(connection)
            return connection

        sqlite3.connect = sqlite3.dbapi2.connect = traced_connect
        try:
            yield self
        finally:
            sqlite3.connect, sqlite3.dbapi2.connect = originals

    def start(self) -> None:
        self.commits = 0
        self._active = True

    def stop(self) -> int:
        self._active = False
        return self.commits

    def detach(self) -> None:
        """Take the trace callback off the connections that are still open."""
        for connection in self.connections:
            # A closed connection, or one owned by another thread, keeps an idle callback.
            with suppress(sqlite3.Error):
                connection.set_trace_callback(None)
        self.connections.clear()

    def settings(self) -> dict[str, str]:
        """``journal_mode`` and ``synchronous`` in force on the first open connection."""
        for connection in self.connections:
            try:
                journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
                sync = connection.execute("PRAGMA synchronous").fetchone()[0]
            except sqlite3.Error:
                continue
            return {
                "journal_mode": str(journal).upper(),
                "synchronous": _SYNCHRONOUS_NAMES.get(int(sync), str(sync)),
            }
        return {"journal_mode": "?", "synchronous": "?"}


# -- systems -----------------------------------------------------------------------------


@dataclass
class System:
    """One thing being measured: ``run(n)`` does n sagas (or commits) and takes the time."""

    name: str
    label: str
    unit_ops: int = 1  # operations per saga-equivalent (the floor runs commits)
    min_warmup: int = 0  # operations the warm-up runs at least
    durability: str = ""
    commits_per_op: float | None = None
    settings: dict[str, str] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)  # saga-equivalents per second, by round
    _run: Callable[[str, int], None] | None = None
    _close: Callable[[], None] | None = None

    def run(self, tag: str, count: int) -> float:
        assert self._run is not None
        started = time.perf_counter()
        self._run(tag, count)
        return time.perf_counter() - started

    def close(self) -> None:
        if self._close is not None:
            self._close()

    @property
    def median_rate(self) -> float:
        return statistics.median(self.rates)


def _sqlite_url(path: Path, synchronous: str) -> str:
    return f"sqlite:///{path}?synchronous={synchronous}"


def our_system(name: str, workdir: Path) -> System:
    """This engine on the log ``name`` names, with its commits per saga counted."""
    if name == "memory":
        url = "memory://"
        count_url = None
    else:
        synchronous = "FULL" if name == "sqlite-full" else "NORMAL"
        url = _sqlite_url(workdir / f"{name}.db", synchronous)
        count_url = _sqlite_url(workdir / f"{name}-count.db", synchronous)
    system = System(name=name, label=f"distributed_saga {name}")

    if count_url is None:
        system.commits_per_op = 0.0
        system.settings = {"journal_mode": "-", "synchronous": "-"}
        system.durability = "none: process memory only"
    else:
        counter = CommitCounter()
        with counter.installed():
            log = open_saga_log(count_url)
            try:
                run_sagas(log, "count-warm", 2)
                counter.start()
                run_sagas(log, "count", COUNT_SAGAS)
                system.commits_per_op = counter.stop() / COUNT_SAGAS
                system.settings = counter.settings()
            finally:
                counter.detach()
                log.close()
        system.durability = "WAL, synchronous={synchronous}".format(**system.settings)
        if system.settings["journal_mode"] != "WAL":
            system.durability = "{journal_mode}, synchronous={synchronous}".format(
                **system.settings
            )

    log = open_saga_log(url)
    system._run = lambda tag, count: run_sagas(log, f"{name}-{tag}", count)
    system._close = log.close
    return system


def floor_system(workdir: Path, commits_per_saga: float, *, quick: bool) -> System:
    """SQLite's raw commit rate: small INSERT + COMMIT transactions in WAL, FULL.

    The warm-up runs past the first automatic checkpoint (1000 WAL pages): until then every
    commit grows the WAL file, which makes its sync slower than in the steady state, where
    the WAL is rewritten from its start after each checkpoint.
    """
    path = workdir / "floor.db"
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
    journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    sync = connection.execute("PRAGMA synchronous").fetchone()[0]
    per_saga = max(1, round(commits_per_saga))
    row = "x" * 64

    def commit_loop(tag: str, count: int) -> None:
        del tag
        execute = connection.execute
        for _ in range(count * per_saga):
            execute("BEGIN IMMEDIATE")
            execute("INSERT INTO t (v) VALUES (?)", (row,))
            execute("COMMIT")

    settings = {
        "journal_mode": str(journal).upper(),
        "synchronous": _SYNCHRONOUS_NAMES.get(int(sync), str(sync)),
    }
    return System(
        name="floor",
        label="sqlite3 INSERT+COMMIT (floor)",
        unit_ops=per_saga,
        durability="{journal_mode}, synchronous={synchronous}".format(**settings),
        commits_per_op=1.0,
        settings=settings,
        min_warmup=0 if quick else 1200,
        _run=commit_loop,
        _close=connection.close,
    )


def dbos_system(workdir: Path) -> System:
    """DBOS on a SQLite system database in ``workdir``, its defaults otherwise."""
    from dbos import DBOS  # noqa: PLC0415 - optional, imported only when measured

    counter = CommitCounter()
    with counter.installed():
        DBOS(config={"name": "saga-bench", "system_database_url": f"sqlite:///{workdir}/dbos.db"})

        @DBOS.step()
        def reserve() -> int:
            return _reserve()

        @DBOS.step()
        def charge() -> int:
            return _charge()

        @DBOS.workflow()
        def two_steps(n: int) -> int:
            del n
            return reserve() + charge()

        DBOS.launch()
        for i in range(2):
            two_steps(i)
        counter.start()
        for i in range(COUNT_SAGAS):
            two_steps(i)
        commits = counter.stop()
        settings = counter.settings()
        counter.detach()

    def workflows(tag: str, count: int) -> None:
        del tag
        for i in range(count):
            two_steps(i)

    return System(
        name="dbos",
        label="DBOS (SQLite system database)",
        durability="{journal_mode} journal, synchronous={synchronous}".format(**settings),
        commits_per_op=commits / COUNT_SAGAS,
        settings=settings,
        _run=workflows,
        _close=DBOS.destroy,
    )


# -- running -----------------------------------------------------------------------------


def measure(systems: list[System], *, rounds: int, sagas: int, warmup: int, seed: int = 0) -> None:
    """Warm every system up, then run ``rounds`` rounds of ``sagas`` each.

    Each round runs the systems in a fresh random order (from ``seed``, so a run can be
    repeated). A rotation would keep every system behind the same neighbour, and what one
    system leaves behind (dirty pages still being written back, a busy disk queue) would
    then always land on the same next one.
    """
    order = random.Random(seed)
    for system in systems:
        system.run("warmup", max(warmup, -(-system.min_warmup // system.unit_ops)))
    for number in range(rounds):
        for system in order.sample(systems, len(systems)):
            seconds = system.run(f"r{number}", sagas)
            system.rates.append(sagas / seconds)
        if (number + 1) % max(1, rounds // 10) == 0 or number + 1 == rounds:
            progress = ", ".join(f"{s.name} {s.rates[-1]:,.0f}/s" for s in systems)
            print(f"round {number + 1}/{rounds}: {progress}", file=sys.stderr, flush=True)


def build(names: list[str], workdir: Path, *, quick: bool) -> list[System]:
    systems: list[System] = []
    by_name: dict[str, System] = {}
    # Ours first: the floor needs our commits per saga.
    for name in names:
        if name in OURS:
            by_name[name] = our_system(name, workdir)
    if "floor" in names:
        reference = by_name.get("sqlite-full") or by_name.get("sqlite-normal")
        if reference is None:
            reference = our_system("sqlite-full", workdir)
            reference.close()
        assert reference.commits_per_op is not None
        by_name["floor"] = floor_system(workdir, reference.commits_per_op, quick=quick)
    if "dbos" in names:
        by_name["dbos"] = dbos_system(workdir)
    for name in names:
        systems.append(by_name[name])
    return systems


def report(systems: list[System], args: argparse.Namespace) -> dict[str, Any]:
    by_name = {system.name: system for system in systems}
    floor = by_name.get("floor")
    floor_ms_per_commit = None
    if floor is not None:
        floor_ms_per_commit = 1000.0 / (floor.median_rate * floor.unit_ops)

    print()
    header = f"{'system':<32} {'durability':<34} {'sagas/s':>9} {'ms/saga':>8} {'commits/saga':>12}"
    print(header)
    print("-" * len(header))
    for system in systems:
        if system is floor:
            continue
        rate = system.median_rate
        commits = system.commits_per_op or 0.0
        print(
            f"{system.label:<32} {system.durability:<34} {rate:>9,.1f} "
            f"{1000.0 / rate:>8.3f} {commits:>12g}"
        )
    if floor is not None and floor_ms_per_commit is not None:
        commits_s = 1000.0 / floor_ms_per_commit
        print(
            f"{floor.label:<32} {floor.durability:<34} {commits_s:>9,.1f} "
            f"{floor_ms_per_commit:>8.3f} {'(per commit)':>12}"
        )
        print(
            f"{'  floor for one saga of ours':<32} {'':<34} "
            f"{commits_s / floor.unit_ops:>9,.1f} {floor_ms_per_commit * floor.unit_ops:>8.3f} "
            f"{floor.unit_ops:>12}"
        )
    print()
    print("Median of the rounds; each round runs every system once, in a random order.")
    print("What each mode survives:")
    print("  WAL + synchronous=FULL     process crash and power loss: a commit that returned")
    print("                             is on disk (one fsync of the WAL per commit).")
    print("  WAL + synchronous=NORMAL   process crash; on power loss or an OS crash the last")
    print("                             transactions may be lost (never corrupted): the WAL is")
    print("                             synced only at checkpoints.")
    print("  DELETE journal + FULL      (DBOS's SQLite default) process crash and power loss;")
    print("                             each commit writes and syncs a rollback journal, then")
    print("                             the database, then deletes the journal.")
    print("  memory                     nothing: the log dies with the process.")
    print()

    def rate(name: str) -> float | None:
        system = by_name.get(name)
        return None if system is None else system.median_rate

    full = by_name.get("sqlite-full")
    dbos = by_name.get("dbos")
    vs_dbos = None
    if full is not None and dbos is not None:
        vs_dbos = full.median_rate / dbos.median_rate
    vs_floor = None
    if full is not None and floor_ms_per_commit is not None and full.commits_per_op:
        vs_floor = (1000.0 / full.median_rate) / (full.commits_per_op * floor_ms_per_commit)
    # The same ratios round by round (systems measured seconds apart), then their median:
    # less sensitive to the machine's load drifting during the run.
    paired_dbos = paired_floor = None
    if full is not None and dbos is not None:
        paired_dbos = statistics.median(f / d for f, d in zip(full.rates, dbos.rates, strict=True))
    if full is not None and floor is not None and full.commits_per_op:
        scale = floor.unit_ops / full.commits_per_op
        paired_floor = statistics.median(
            scale * c / f for f, c in zip(full.rates, floor.rates, strict=True)
        )

    summary: dict[str, Any] = {
        "benchmark": "saga_engine",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "load_average_1m": [round(args.load_before, 2), round(os.getloadavg()[0], 2)],
        },
        "rounds": args.rounds,
        "seed": args.seed,
        "sagas_per_round": args.sagas,
        "warmup": args.warmup,
        "vs_dbos": vs_dbos,
        "vs_floor": vs_floor,
        "vs_dbos_paired": paired_dbos,
        "vs_floor_paired": paired_floor,
        "targets": TARGETS,
        "full_sagas_per_s": rate("sqlite-full"),
        "normal_sagas_per_s": rate("sqlite-normal"),
        "memory_sagas_per_s": rate("memory"),
        "dbos_workflows_per_s": rate("dbos"),
        "floor_commits_per_s": None if floor_ms_per_commit is None else 1000 / floor_ms_per_commit,
        "floor_ms_per_commit": floor_ms_per_commit,
        "commits_per_saga": None if full is None else full.commits_per_op,
        "dbos_commits_per_workflow": None if dbos is None else dbos.commits_per_op,
        "systems": {
            system.name: {
                "durability": system.durability,
                "journal_mode": system.settings.get("journal_mode"),
                "synchronous": system.settings.get("synchronous"),
                "per_s": system.median_rate * (system.unit_ops if system is floor else 1),
                "unit": "commit" if system is floor else "saga",
                "commits_per_unit": 1.0 if system is floor else system.commits_per_op,
                "round_rates": [
                    round(r * (system.unit_ops if system is floor else 1), 2) for r in system.rates
                ],
            }
            for system in systems
        },
    }
    for key in ("vs_dbos", "vs_floor"):
        value = summary[key]
        if value is not None:
            ok = value >= TARGETS[key] if key == "vs_dbos" else value <= TARGETS[key]
            target = f"{'>=' if key == 'vs_dbos' else '<='} {TARGETS[key]:g}"
            paired = summary[f"{key}_paired"]
            print(
                f"{key} = {value:.2f} (target {target}: {'met' if ok else 'NOT met'}); "
                f"median of per-round ratios {paired:.2f}"
            )
    load = summary["machine"]["load_average_1m"]
    print(f"load average (1 min) before/after: {load[0]} / {load[1]} on {os.cpu_count()} CPUs")
    return summary


def profile(name: str, workdir: Path, sagas: int) -> None:
    """Print where ``sagas`` sagas of one of our systems spend their time."""
    if name not in OURS:
        raise SystemExit(f"--profile takes one of {', '.join(OURS)}")
    system = our_system(name, workdir)
    try:
        system.run("warm", 20)
        profiler = cProfile.Profile()
        profiler.enable()
        seconds = system.run("profiled", sagas)
        profiler.disable()
    finally:
        system.close()
    print(f"{name}: {sagas} sagas in {seconds:.3f}s under the profiler", file=sys.stderr)
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(25)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (3 rounds x 20)")
    parser.add_argument("--rounds", type=int, help="rounds (default 80)")
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of each round's random order (default 0)"
    )
    parser.add_argument("--sagas", type=int, help="sagas per system per round (default 30)")
    parser.add_argument("--warmup", type=int, help="sagas per system before timing (default 100)")
    parser.add_argument(
        "--systems",
        default=",".join(ALL_SYSTEMS),
        help=f"comma-separated subset of {','.join(ALL_SYSTEMS)} (default: all)",
    )
    parser.add_argument("--dir", type=Path, help="where the database files go (default: /tmp)")
    parser.add_argument(
        "--profile", metavar="SYSTEM", help="profile one of our systems instead of comparing"
    )
    args = parser.parse_args(argv)
    defaults = (3, 20, 5) if args.quick else (80, 30, 100)
    args.rounds = args.rounds or defaults[0]
    args.sagas = args.sagas or defaults[1]
    args.warmup = defaults[2] if args.warmup is None else args.warmup
    if args.rounds < 1 or args.sagas < 1 or args.warmup < 0:
        parser.error("--rounds and --sagas must be positive, --warmup not negative")
    names = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = sorted(set(names) - set(ALL_SYSTEMS))
    if unknown or not names:
        parser.error(f"unknown systems {unknown}; choose from {','.join(ALL_SYSTEMS)}")
    args.names = list(dict.fromkeys(names))
    if "dbos" in args.names and importlib.util.find_spec("dbos") is None:
        parser.error(
            "dbos is not installed: `.venv/bin/pip install dbos` (the `bench` extra), "
            "or leave it out with --systems sqlite-full,sqlite-normal,memory,floor"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_before = os.getloadavg()[0]
    parent = args.dir
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="saga-bench-", dir=parent))
    try:
        if args.profile:
            profile(args.profile, workdir, args.sagas)
            return 0
        systems = build(args.names, workdir, quick=args.quick)
        try:
            measure(
                systems, rounds=args.rounds, sagas=args.sagas, warmup=args.warmup, seed=args.seed
            )
        finally:
            for system in systems:
                system.close()
        summary = report(systems, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
