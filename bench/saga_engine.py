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
import importlib.util
import pstats
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _commits
import _harness

from distributed_saga import Compensation, DistributedSaga, compensation
from distributed_saga.log import SagaLog, open_saga_log

ALL_SYSTEMS = ("sqlite-full", "sqlite-normal", "memory", "dbos", "floor")
OURS = ("sqlite-full", "sqlite-normal", "memory")
TARGETS = {"vs_dbos": 5.0, "vs_floor": 1.3}
COUNT_SAGAS = 5  # sagas (or workflows) run with the commit counter on


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
    _run: Callable[[str, int], None] | None = None
    _close: Callable[[], None] | None = None

    def run(self, tag: str, count: int) -> float:
        """Seconds that ``count`` sagas (saga-equivalents) took."""
        assert self._run is not None
        return _harness.timed(self._run, tag, count)

    def close(self) -> None:
        if self._close is not None:
            self._close()


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
        counter = _commits.CommitCounter()
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
    settings = _commits.settings(connection)
    per_saga = max(1, round(commits_per_saga))
    row = "x" * 64

    def commit_loop(tag: str, count: int) -> None:
        del tag
        execute = connection.execute
        for _ in range(count * per_saga):
            execute("BEGIN IMMEDIATE")
            execute("INSERT INTO t (v) VALUES (?)", (row,))
            execute("COMMIT")

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

    counter = _commits.CommitCounter()
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


# -- the scenario ------------------------------------------------------------------------


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


def measure(systems: list[System], args: argparse.Namespace) -> _harness.Samples:
    """Warm every system up, then ``--rounds`` rounds of ``--sagas`` each, in random order.

    Samples are saga-equivalents per second, by system name.
    """

    def warm_up(system: System) -> None:
        system.run("warmup", max(args.warmup, -(-system.min_warmup // system.unit_ops)))

    def play(number: int, order: list[System], samples: _harness.Samples) -> None:
        for system in order:
            samples.add(system.name, args.sagas / system.run(f"r{number}", args.sagas))

    def progress(samples: _harness.Samples) -> str:
        return ": " + ", ".join(f"{s.name} {samples.last(s.name):,.0f}/s" for s in systems)

    return _harness.run_rounds(
        systems,
        play,
        rounds=args.rounds,
        order=_harness.random_order(args.seed),
        warm_up=warm_up,
        progress=progress,
    )


_DURABILITY = """\
Median of the rounds; each round runs every system once, in a random order.
What each mode survives:
  WAL + synchronous=FULL     process crash and power loss: a commit that returned
                             is on disk (one fsync of the WAL per commit).
  WAL + synchronous=NORMAL   process crash; on power loss or an OS crash the last
                             transactions may be lost (never corrupted): the WAL is
                             synced only at checkpoints.
  DELETE journal + FULL      (DBOS's SQLite default) process crash and power loss;
                             each commit writes and syncs a rollback journal, then
                             the database, then deletes the journal.
  memory                     nothing: the log dies with the process.
"""


def print_figures(systems: list[System], samples: _harness.Samples) -> None:
    """Each system's median round; the floor last, per commit and per saga of ours."""

    def row(label: str, durability: str, per_s: float, commits: str) -> tuple[str, ...]:
        return (label, durability, f"{per_s:,.1f}", f"{1000.0 / per_s:.3f}", commits)

    rows = []
    for system in sorted(systems, key=lambda system: system.name == "floor"):
        per_s = samples.median(system.name)
        if system.name != "floor":
            commits = f"{system.commits_per_op or 0.0:g}"
            rows.append(row(system.label, system.durability, per_s, commits))
            continue
        rows.append(row(system.label, system.durability, per_s * system.unit_ops, "(per commit)"))
        rows.append(row("  floor for one saga of ours", "", per_s, str(system.unit_ops)))
    print()
    header = ("system", "durability", "sagas/s", "ms/saga", "commits/saga")
    _harness.print_table(header, rows, "<<>>>")
    print()
    print(_DURABILITY)


def report(
    systems: list[System], samples: _harness.Samples, args: argparse.Namespace
) -> dict[str, Any]:
    """Print the figures and the headline ratios; returns the JSON summary."""
    print_figures(systems, samples)
    by_name = {system.name: system for system in systems}
    floor = by_name.get("floor")
    full = by_name.get("sqlite-full")
    dbos = by_name.get("dbos")

    def rate(name: str) -> float | None:
        return samples.median(name) if name in by_name else None

    def per_unit(system: System) -> int:
        return system.unit_ops if system is floor else 1

    floor_ms_per_commit = None
    if floor is not None:
        floor_ms_per_commit = 1000.0 / (samples.median("floor") * floor.unit_ops)
    vs_dbos = paired_dbos = vs_floor = paired_floor = None
    if full is not None and dbos is not None:
        vs_dbos = samples.ratio("sqlite-full", "dbos")
        paired_dbos = samples.paired("sqlite-full", "dbos")
    if full is not None and floor is not None and full.commits_per_op:
        # Our ms per saga over (commits per saga x the floor's ms per commit).
        scale = floor.unit_ops / full.commits_per_op
        vs_floor = scale * samples.ratio("floor", "sqlite-full")
        paired_floor = scale * samples.paired("floor", "sqlite-full")

    summary = _harness.summary("saga_engine", args)
    summary |= {
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
                "per_s": samples.median(system.name) * per_unit(system),
                "unit": "commit" if system is floor else "saga",
                "commits_per_unit": 1.0 if system is floor else system.commits_per_op,
                "round_rates": [round(r * per_unit(system), 2) for r in samples[system.name]],
            }
            for system in systems
        },
    }
    _harness.print_headline(summary, TARGETS, at_most={"vs_floor"})
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


COMMAND = _harness.Command(
    __doc__,
    quick="3 rounds x 20",
    rounds=_harness.Default(3, 80, "rounds"),
    warmup=_harness.Default(5, 100, "sagas per system before timing"),
    data="the database files",
    seed=True,
)
COMMAND.parser.add_argument("--sagas", type=int, help="sagas per system per round (default 30)")
COMMAND.parser.add_argument(
    "--systems",
    default=",".join(ALL_SYSTEMS),
    help=f"comma-separated subset of {','.join(ALL_SYSTEMS)} (default: all)",
)
COMMAND.parser.add_argument(
    "--profile", metavar="SYSTEM", help="profile one of our systems instead of comparing"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = COMMAND.parse(argv)
    args.sagas = args.sagas or (20 if args.quick else 30)
    if args.sagas < 1:
        COMMAND.error("--sagas must be positive")
    args.names = COMMAND.choose(args.systems, ALL_SYSTEMS)
    if "dbos" in args.names and importlib.util.find_spec("dbos") is None:
        COMMAND.error(
            "dbos is not installed: `.venv/bin/pip install dbos` (the `bench` extra), "
            "or leave it out with --systems sqlite-full,sqlite-normal,memory,floor"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def scenario(workdir: Path) -> dict[str, Any] | None:
        if args.profile:
            profile(args.profile, workdir, args.sagas)
            return None
        systems = build(args.names, workdir, quick=args.quick)
        try:
            samples = measure(systems, args)
        finally:
            for system in systems:
                system.close()
        return report(systems, samples, args)

    return _harness.run(args, "saga-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
