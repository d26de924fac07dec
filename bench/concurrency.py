"""Concurrent two-step sagas per second: 1, 4 and 16 threads, and 4 processes, per log.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/concurrency.py              # everything, two to three minutes
    .venv/bin/python bench/concurrency.py --quick      # a few seconds, for a smoke test
    .venv/bin/python bench/concurrency.py --url postgresql://user:pw@host/db
    .venv/bin/python bench/concurrency.py --systems pg-t1,pg-t16 --rounds 10 --sagas 320

Systems (``--systems``; default all): ``<log>-t<N>`` runs the saga on ``N`` threads sharing
one opened log, ``<log>-p4`` on 4 processes with a log each, where ``<log>`` is

``sqlite``  ``sqlite:///...?synchronous=FULL`` (WAL), a file per system; threads share the
            log's one connection, and their writes go in group-commit batches, except
            ``sqlite-t16-alone``, which turns group commit off (``group_commit=False``:
            every write its own transaction and sync, as before group commit)
``pg``      ``postgresql://``, a database (or schema) per system on one server: the one
            ``--url`` names, or a throwaway cluster started for the run; threads get a
            pool of one connection each (``pool_size=N``), except ``pg-t16-pool4``, which
            keeps the engine's default pool of 4 for its 16 threads, and
            ``pg-t16-alone``, which turns group commit off (``group_commit=False``: every
            write its own transaction, as before group commit), and ``pg-t16-b1``, which
            sends one batch at a time (``batches_in_flight=1``) instead of the default two

The saga is ``saga_engine.py``'s (two steps with durable compensations, then commit). Each
round runs every system once, in a fresh random order (``--seed``), each doing ``--sagas``
sagas shared out among its threads or processes, all started at once; the figure is
sagas per second of the round's wall time. Worker processes are started, and open their
log, before the rounds. Each round also records where the CPU went (``_cpu.py``): how busy
the machine's CPUs were, and the CPU of the client (this process and its workers) and of
the PostgreSQL server, per second.

After the timed rounds one more round per system is played, untimed, to say what the
threads waited for (``_waits.py``): the share of their time spent waiting for the log's
lock (SQLite: one connection behind a lock, which batched writers wait for in the group
commit's queue instead) or a pooled connection (PostgreSQL), how many writes each commit
carried (group commit), and, on PostgreSQL, what the backends were doing (sampled from
``pg_stat_activity``).

The last line of standard output is one JSON object (progress goes to standard error):
``pg_16_vs_1`` is PostgreSQL's 16-thread throughput over its 1-thread throughput (group
commit lets concurrent commits share a WAL flush), with the same ratios for SQLite, and
``pg_16_group_vs_alone`` (and ``sqlite_16_group_vs_alone``) is 16 threads with group
commit over 16 without, and ``pg_16_two_batches_vs_one`` two batches on their way at once
over one at a time.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import _cpu
import _harness
import _postgres
import _waits
from _saga_workers import Round, WorkerPool, run_threads

from distributed_saga.log import open_saga_log

TARGETS = {"pg_16_vs_1": 3.0}
RATIOS = {  # headline name: (numerator, denominator)
    "pg_16_vs_1": ("pg-t16", "pg-t1"),
    "pg_4_vs_1": ("pg-t4", "pg-t1"),
    "pg_p4_vs_1": ("pg-p4", "pg-t1"),
    "pg_16_pool4_vs_1": ("pg-t16-pool4", "pg-t1"),
    "pg_16_group_vs_alone": ("pg-t16", "pg-t16-alone"),
    "pg_16_two_batches_vs_one": ("pg-t16", "pg-t16-b1"),
    "sqlite_16_vs_1": ("sqlite-t16", "sqlite-t1"),
    "sqlite_16_group_vs_alone": ("sqlite-t16", "sqlite-t16-alone"),
    "sqlite_4_vs_1": ("sqlite-t4", "sqlite-t1"),
    "sqlite_p4_vs_1": ("sqlite-p4", "sqlite-t1"),
}
CPU_FIGURES = ("machine_busy", "client_cpu", "server_cpu")


@dataclass(frozen=True)
class Shape:
    """How a system runs its sagas: on which log, how many workers, threads or processes."""

    name: str
    backend: str
    workers: int
    processes: bool = False
    pool_size: int | None = None
    """PostgreSQL threads: the log's pool (default: one connection per thread)."""
    group_commit: bool = True
    """PostgreSQL threads: whether concurrent writes are committed together."""
    batches_in_flight: int | None = None
    """PostgreSQL threads: how many group-commit batches may be on their way at once
    (default: the log's, two)."""


SHAPES = {
    shape.name: shape
    for shape in (
        Shape("sqlite-t1", "sqlite", 1),
        Shape("sqlite-t4", "sqlite", 4),
        Shape("sqlite-t16", "sqlite", 16),
        Shape("sqlite-t16-alone", "sqlite", 16, group_commit=False),
        Shape("sqlite-p4", "sqlite", 4, processes=True),
        Shape("pg-t1", "pg", 1),
        Shape("pg-t4", "pg", 4),
        Shape("pg-t16", "pg", 16),
        Shape("pg-t16-pool4", "pg", 16, pool_size=4),
        Shape("pg-t16-alone", "pg", 16, group_commit=False),
        Shape("pg-t16-b1", "pg", 16, batches_in_flight=1),
        Shape("pg-p4", "pg", 4, processes=True),
    )
}


class Load:
    """One system, ready to play rounds: its log opened, its worker processes started."""

    def __init__(self, shape: Shape, url: str, options: dict[str, Any], database: str | None):
        self.shape = shape
        self.database = database
        self.url = url
        self.log = None
        self.pool = None
        if shape.processes:
            self.pool = WorkerPool(shape.workers, url, options)
        else:
            if not shape.group_commit:
                options = {**options, "group_commit": False}
            if shape.backend == "pg":
                options = {**options, "pool_size": shape.pool_size or shape.workers}
                if shape.batches_in_flight:
                    options["batches_in_flight"] = shape.batches_in_flight
            self.log = open_saga_log(url, **options)

    def run(self, prefix: str, total: int) -> Round:
        if self.pool is not None:
            return self.pool.run(prefix, total)
        assert self.log is not None
        return Round(run_threads(self.log, prefix, total, self.shape.workers), 0.0)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        if self.log is not None:
            self.log.close()


def build(names: list[str], workdir: Path, server: _postgres.Server | None) -> dict[str, Load]:
    loads: dict[str, Load] = {}
    try:
        for name in names:
            shape = SHAPES[name]
            if shape.backend == "sqlite":
                url = f"sqlite:///{workdir / name}.db?synchronous=FULL"
                loads[name] = Load(shape, url, {}, None)
            else:
                assert server is not None
                space = server.create_space(name)
                database = urlsplit(space.url).path.lstrip("/")
                loads[name] = Load(shape, space.url, space.log_options(), database)
    except BaseException:
        for load in loads.values():
            load.close()
        raise
    return loads


def measure(
    loads: dict[str, Load], args: argparse.Namespace, server: _postgres.Server | None
) -> _harness.Samples:
    """Warm-up, then ``--rounds`` rounds; sagas/s and CPU figures by system."""
    meters = {
        name: _cpu.CpuMeter(server.pids if server and load.shape.backend == "pg" else list)
        for name, load in loads.items()
    }

    def warm_up(name: str) -> None:
        loads[name].run(f"{name}-warm", args.warmup)

    def play(number: int, order: list[str], samples: _harness.Samples) -> None:
        for name in order:
            meters[name].start()
            played = loads[name].run(f"{name}-r{number}", args.sagas)
            cpu = meters[name].stop(played.worker_cpu)
            samples.add(name, args.sagas / played.seconds)
            for figure in CPU_FIGURES:
                if cpu[figure] is not None:
                    samples.add(f"{name}/{figure}", cpu[figure])

    def progress(samples: _harness.Samples) -> str:
        return ": " + ", ".join(f"{name} {samples.last(name):,.0f}/s" for name in loads)

    return _harness.run_rounds(
        list(loads),
        play,
        rounds=args.rounds,
        order=_harness.random_order(args.seed),
        warm_up=warm_up if args.warmup else None,
        progress=progress,
    )


def explain(
    loads: dict[str, Load], args: argparse.Namespace, server: _postgres.Server | None
) -> dict[str, dict[str, Any]]:
    """One untimed round per system with its waits measured (see the module docstring)."""
    found: dict[str, dict[str, Any]] = {}
    for name, load in loads.items():
        entry: dict[str, Any] = {
            "waiting_for_log": None,
            "backends": None,
            "writes_per_commit": None,
        }
        group = getattr(load.log, "group_commit", None)
        counted = (group.batches, group.writes) if group is not None else (0, 0)
        sampler = None
        with ExitStack() as stack:
            wait = None
            if load.log is not None:
                wait = stack.enter_context(_waits.timed_waits(load.log))
            if server is not None and load.database is not None:
                sampler = stack.enter_context(_waits.ActivitySampler(server.url, load.database))
            played = load.run(f"{name}-explain", args.sagas)
        if wait is not None:
            entry["waiting_for_log"] = wait.waited / (load.shape.workers * played.seconds)
        if sampler is not None:
            entry["backends"] = {k: round(v, 3) for k, v in sampler.shares().items()}
        if group is not None and group.batches > counted[0]:
            entry["writes_per_commit"] = (group.writes - counted[1]) / (group.batches - counted[0])
        found[name] = entry
    return found


def thread_wakeup_us(exchanges: int = 4000, repeats: int = 5) -> float:
    """Microseconds for one thread to wake another here (median of ``repeats``).

    Two threads hand a pair of locks back and forth, each sleeping until the other wakes
    it; an exchange is two wake-ups. Every write a waiting thread hands to group commit
    costs at least one such wake-up (and often a second, for the interpreter lock), so
    this machine's figure bounds how many writes a batch cycle can turn around."""
    ping, pong = threading.Lock(), threading.Lock()
    ping.acquire()
    pong.acquire()

    def answer() -> None:
        for _ in range(exchanges * repeats):
            ping.acquire()
            pong.release()

    other = threading.Thread(target=answer, daemon=True)
    other.start()
    figures = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(exchanges):
            ping.release()
            pong.acquire()
        figures.append((time.perf_counter() - started) / (2 * exchanges) * 1e6)
    other.join()
    return statistics.median(figures)


def _median(samples: _harness.Samples, key: str) -> float | None:
    return samples.median(key) if key in samples else None


def stops_growing(samples: _harness.Samples, backend: str) -> str | None:
    """The first thread count that gains less than 10 % over the one before, if any."""
    names = (f"{backend}-t1", f"{backend}-t4", f"{backend}-t16")
    steps = [name for name in names if name in samples]
    for before, after in itertools.pairwise(steps):
        if samples.median(after) < 1.1 * samples.median(before):
            return after
    return None


def report(
    loads: dict[str, Load],
    samples: _harness.Samples,
    waits: dict[str, dict[str, Any]],
    args: argparse.Namespace,
    server: _postgres.Server | None,
    wakeup_us: float,
) -> dict[str, Any]:
    cpus = os.cpu_count() or 1

    def cores(value: float | None, scale: float = 1.0) -> str:
        return "-" if value is None else f"{value * scale:.2f}"

    rows = []
    for name, load in loads.items():
        rate = samples.median(name)
        single = _median(samples, f"{load.shape.backend}-t1")
        wait = waits.get(name, {}).get("waiting_for_log")
        rows.append(
            (
                name,
                f"{load.shape.workers} {'processes' if load.shape.processes else 'threads'}",
                f"{rate:,.1f}",
                "-" if single is None else f"{rate / single:.2f}",
                f"{1000.0 * load.shape.workers / rate:.2f}",
                cores(_median(samples, f"{name}/machine_busy"), cpus),
                cores(_median(samples, f"{name}/client_cpu")),
                cores(_median(samples, f"{name}/server_cpu")),
                "-" if wait is None else f"{100 * wait:.0f} %",
            )
        )
    print()
    header = (
        "system",
        "workers",
        "sagas/s",
        "vs t1",
        "ms/saga each",
        "CPUs busy",
        "client CPU",
        "server CPU",
        "waiting for log",
    )
    _harness.print_table(header, rows, "<<>>>>>>>")
    print(
        f"(CPUs busy: of {cpus}, anyone's work; client and server CPU in cores; "
        "waiting for log: share of thread time spent waiting for the log's lock or a "
        "pooled connection, from an extra untimed round)"
    )
    for name, entry in waits.items():
        if entry["backends"]:
            top = ", ".join(f"{k} {100 * v:.0f} %" for k, v in list(entry["backends"].items())[:4])
            print(f"  {name} backends: {top}")
    for name, entry in waits.items():
        if entry.get("writes_per_commit"):
            print(f"  {name}: {entry['writes_per_commit']:.1f} writes per commit (group commit)")
    print(f"  one thread waking another here: {wakeup_us:.1f} us (lock hand-off, median)")
    print()

    ratios: dict[str, float | None] = {}
    for key, (numerator, denominator) in RATIOS.items():
        present = numerator in samples and denominator in samples
        ratios[key] = samples.ratio(numerator, denominator) if present else None
        ratios[f"{key}_paired"] = samples.paired(numerator, denominator) if present else None
    for key in RATIOS:
        if key not in TARGETS and ratios[key] is not None:
            paired = ratios[f"{key}_paired"]
            print(f"{key} = {ratios[key]:.2f}; median of per-round ratios {paired:.2f}")
    growth = {backend: stops_growing(samples, backend) for backend in ("sqlite", "pg")}
    for backend, where in growth.items():
        if where is not None:
            print(f"{backend}: throughput stops growing (< +10 %) at {where}")

    summary = _harness.summary("concurrency", args)
    summary |= ratios
    summary |= {
        "targets": TARGETS,
        "sagas_per_round": args.sagas,
        "warmup": args.warmup,
        "sagas_per_s": {name: samples.median(name) for name in loads},
        "stops_growing_at": growth,
        "thread_wakeup_us": wakeup_us,
        "server": None
        if server is None
        else {"throwaway_cluster": server.owned, **server.settings()},
        "systems": {
            name: {
                "workers": load.shape.workers,
                "processes": load.shape.processes,
                "per_s": samples.median(name),
                "round_rates": [round(r, 2) for r in samples[name]],
                **{figure: _median(samples, f"{name}/{figure}") for figure in CPU_FIGURES},
                **waits.get(name, {}),
            }
            for name, load in loads.items()
        },
    }
    for name in loads:
        summary[f"{name.replace('-', '_')}_sagas_per_s"] = samples.median(name)
    _harness.print_headline(summary, TARGETS)
    return summary


COMMAND = _harness.Command(
    __doc__,
    quick="2 rounds x 32 sagas",
    rounds=_harness.Default(2, 15, "rounds"),
    warmup=_harness.Default(16, 64, "sagas per system before timing"),
    data="the SQLite files and the throwaway cluster",
    seed=True,
)
COMMAND.parser.add_argument("--url", help="a PostgreSQL server to use (default: a throwaway one)")
COMMAND.parser.add_argument(
    "--sagas", type=int, help="sagas per system per round, shared by its workers (default 192)"
)
COMMAND.parser.add_argument(
    "--systems",
    default=",".join(SHAPES),
    help=f"comma-separated subset of {','.join(SHAPES)} (default: all)",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = COMMAND.parse(argv)
    args.sagas = args.sagas or (32 if args.quick else 192)
    names = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SHAPES))
    if unknown or not names:
        COMMAND.error(f"unknown systems {unknown}; choose from {','.join(SHAPES)}")
    args.names = list(dict.fromkeys(names))
    if args.sagas < max(SHAPES[name].workers for name in args.names):
        COMMAND.error("--sagas must give every worker at least one saga")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def scenario(workdir: Path) -> dict[str, Any]:
        needs_pg = any(SHAPES[name].backend == "pg" for name in args.names)
        if not needs_pg:
            return play_all(workdir, None)
        with _postgres.server(args.url, workdir) as server:
            return play_all(workdir, server)

    def play_all(workdir: Path, server: _postgres.Server | None) -> dict[str, Any]:
        loads = build(args.names, workdir, server)
        try:
            samples = measure(loads, args, server)
            waits = explain(loads, args, server)
        finally:
            for load in loads.values():
                load.close()
        return report(loads, samples, waits, args, server, thread_wakeup_us())

    return _harness.run(args, "concurrency-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
