"""Sequential two-step sagas per second on PostgreSQL: this engine, DBOS, and a raw commit.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/saga_postgres.py            # everything, about a minute
    .venv/bin/python bench/saga_postgres.py --quick    # a few seconds, for a smoke test
    .venv/bin/python bench/saga_postgres.py --url postgresql://user:pw@host/db
    .venv/bin/python bench/saga_postgres.py --systems pg,floor --rounds 20 --sagas 50
    .venv/bin/python bench/saga_postgres.py --profile --sagas 300   # where ours spends it

Systems (``--systems``, comma-separated; default all three):

``pg``     this engine on a ``postgresql://`` saga log
``dbos``   DBOS (``pip install dbos``) with its system database on the same server: a
           ``@DBOS.workflow()`` calling two ``@DBOS.step()`` functions, its defaults
           otherwise
``floor``  psycopg alone: ``INSERT`` one small row, ``COMMIT``, on one connection; no
           engine that writes to PostgreSQL at every step can commit faster than this

The saga is ``saga_engine.py``'s: ``DistributedSaga(...)``, two ``execute_step`` calls with
a trivial action and a durable :class:`~distributed_saga.Compensation` each, ``commit()``.
Each system has a database of its own on one server: the one ``--url`` names (the role
must be allowed to create databases), or a throwaway cluster started for the run
(``_postgres.py``). Each system is warmed up, then ``--rounds`` rounds of ``--sagas``
sagas (the floor: as many commits as that many sagas of ours make), every round in a
fresh random order (``--seed``).

Commits are counted, not assumed: a separate pass runs a few sagas (workflows) with every
psycopg connection's ``commit`` counted, and reads ``synchronous_commit``, ``fsync`` and
``wal_sync_method`` on a connection that committed. On a throwaway cluster the pass also
reads how far the transaction counter moved (transactions that wrote, hence flushed WAL).

The last line of standard output is one JSON object (progress goes to standard error):
``vs_dbos_pg`` is our sagas/s over DBOS's workflows/s (target >= 4), ``vs_floor_pg`` our ms
per saga over (commits per saga x the floor's ms per commit). ``--profile`` prints the
statements one saga sends (each one round trip) and where cProfile finds the time.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import sys
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _harness
import _postgres
import psycopg
from saga_engine import COUNT_SAGAS, System, measure, run_sagas

from distributed_saga.log import open_saga_log

ALL_SYSTEMS = ("pg", "dbos", "floor")
TARGETS = {"vs_dbos_pg": 4.0}


# -- counting ---------------------------------------------------------------------------


class Count:
    """Commits (client side) and transaction ids (server side) over a few sagas."""

    def __init__(self, server: _postgres.Server) -> None:
        self.server = server
        self.counter = _postgres.CommitCounter()

    @contextmanager
    def counting(self) -> Any:
        with self.counter.installed():
            yield self

    def measure(self, run: Callable[[str, int], None]) -> dict[str, Any]:
        """Run a few untimed, then :data:`COUNT_SAGAS` counted; commits, round trips and
        xids per saga."""
        # Past psycopg's prepare_threshold (5), so that its one-off Parse round trips fall
        # before the count.
        run("count-warm", 6)
        xid = self.server.next_xid() if self.server.owned else None
        self.counter.start()
        run("count", COUNT_SAGAS)
        commits = self.counter.stop()
        xids = None if xid is None else (self.server.next_xid() - xid) / COUNT_SAGAS
        return {
            "commits": commits / COUNT_SAGAS,
            "round_trips": self.counter.round_trips / COUNT_SAGAS,
            "write_transactions": xids,
            "settings": self.counter.settings(),
        }


@dataclass
class PgSystem(System):
    """A system of ``saga_engine.py``'s kind, with the transactions that wrote counted too."""

    write_transactions: float | None = None
    """Transaction ids taken per saga: commits that wrote (throwaway cluster only)."""
    round_trips: float | None = None
    """Waits for the server per saga (each ``ReadyForQuery`` in the protocol trace)."""


def _system(name: str, label: str, counted: dict[str, Any], **fields: Any) -> PgSystem:
    settings = counted["settings"]
    return PgSystem(
        name=name,
        label=label,
        commits_per_op=counted["commits"],
        write_transactions=counted["write_transactions"],
        round_trips=counted["round_trips"],
        settings=settings,
        durability="synchronous_commit={synchronous_commit}, fsync={fsync}".format(**settings),
        **fields,
    )


# -- systems ----------------------------------------------------------------------------


def our_system(server: _postgres.Server) -> PgSystem:
    """This engine on a ``postgresql://`` saga log in a database of its own."""
    space = server.create_space("ours")
    log = open_saga_log(space.url, **space.log_options())
    with Count(server).counting() as count:
        counted = count.measure(lambda tag, n: run_sagas(log, f"pg-{tag}", n))
    return _system(
        "pg",
        "distributed_saga postgresql://",
        counted,
        _run=lambda tag, n: run_sagas(log, f"pg-{tag}", n),
        _close=log.close,
    )


def floor_system(server: _postgres.Server, commits_per_saga: float, *, quick: bool) -> PgSystem:
    """PostgreSQL's commit rate for one client: small ``INSERT`` + ``COMMIT`` transactions."""
    conn = server.create_space("floor").connect(autocommit=False)
    conn.execute("CREATE TABLE t (id BIGSERIAL PRIMARY KEY, v TEXT NOT NULL)")
    conn.commit()
    per_saga = max(1, round(commits_per_saga))
    row = ("x" * 64,)

    def commits(tag: str, count: int) -> None:
        del tag
        execute, commit = conn.execute, conn.commit
        for _ in range(count):
            execute("INSERT INTO t (v) VALUES (%s)", row)
            commit()

    def commit_loop(tag: str, sagas: int) -> None:
        commits(tag, sagas * per_saga)

    with Count(server).counting() as count:
        counted = count.measure(commits)
    return _system(
        "floor",
        "psycopg INSERT+COMMIT (floor)",
        counted,
        unit_ops=per_saga,
        min_warmup=0 if quick else 400,
        _run=commit_loop,
        _close=conn.close,
    )


def dbos_system(server: _postgres.Server) -> PgSystem:
    """DBOS with its system database in a database of its own on the same server."""
    from dbos import DBOS  # noqa: PLC0415 - optional, imported only when measured

    space = server.create_space("dbos")
    config: dict[str, Any] = {"name": "saga-bench-pg", "system_database_url": space.url}
    if space.schema is not None:
        config["dbos_system_schema"] = space.schema
    with Count(server).counting() as count:
        DBOS(config=config)  # type: ignore[arg-type]

        @DBOS.step()
        def reserve() -> int:
            return 1

        @DBOS.step()
        def charge() -> int:
            return 2

        @DBOS.workflow()
        def two_steps(n: int) -> int:
            del n
            return reserve() + charge()

        DBOS.launch()

        def workflows(tag: str, n: int) -> None:
            del tag
            for i in range(n):
                two_steps(i)

        counted = count.measure(workflows)
    return _system(
        "dbos",
        "DBOS (PostgreSQL system database)",
        counted,
        _run=workflows,
        _close=DBOS.destroy,
    )


def build(names: list[str], server: _postgres.Server, *, quick: bool) -> list[PgSystem]:
    by_name: dict[str, PgSystem] = {}
    # Ours first: the floor commits as often per saga as ours does.
    reference = our_system(server)
    by_name["pg"] = reference
    if "floor" in names:
        assert reference.commits_per_op is not None
        by_name["floor"] = floor_system(server, reference.commits_per_op, quick=quick)
    if "dbos" in names:
        by_name["dbos"] = dbos_system(server)
    if "pg" not in names:
        reference.close()
    return [by_name[name] for name in names]


# -- the report -------------------------------------------------------------------------


def report(
    systems: list[PgSystem],
    samples: _harness.Samples,
    args: argparse.Namespace,
    server: _postgres.Server,
) -> dict[str, Any]:
    """Print the table and the headline ratios; returns the JSON summary."""
    by_name = {system.name: system for system in systems}
    floor, ours, dbos = by_name.get("floor"), by_name.get("pg"), by_name.get("dbos")

    def per_unit(system: System) -> int:
        return system.unit_ops if system is floor else 1

    def writes(system: PgSystem) -> str:
        value = system.write_transactions
        return "-" if value is None else f"{value:g}"

    rows = []
    for system in sorted(systems, key=lambda system: system.name == "floor"):
        per_s = samples.median(system.name) * per_unit(system)
        commits = "1 (per commit)" if system is floor else f"{system.commits_per_op:g}"
        unit = " commits/s" if system is floor else ""
        rows.append(
            (
                system.label,
                system.durability,
                f"{per_s:,.1f}{unit}",
                f"{1000 / per_s:.3f}",
                commits,
                writes(system),
                f"{system.round_trips or 0:g}",
            )
        )
    print()
    header = (
        "system",
        "durability",
        "sagas/s",
        "ms/saga",
        "commits/saga",
        "writing xacts",
        "round trips",
    )
    _harness.print_table(header, rows, "<<>>>>>")
    print()

    vs_dbos = paired_dbos = vs_floor = paired_floor = floor_ms = None
    if ours is not None and dbos is not None:
        vs_dbos = samples.ratio("pg", "dbos")
        paired_dbos = samples.paired("pg", "dbos")
    if floor is not None:
        floor_ms = 1000.0 / (samples.median("floor") * floor.unit_ops)
    if ours is not None and floor is not None and ours.commits_per_op:
        scale = floor.unit_ops / ours.commits_per_op
        vs_floor = scale * samples.ratio("floor", "pg")
        paired_floor = scale * samples.paired("floor", "pg")

    summary = _harness.summary("saga_postgres", args)
    summary |= {
        "sagas_per_round": args.sagas,
        "warmup": args.warmup,
        "server": {
            "throwaway_cluster": server.owned,
            **server.settings(),
        },
        "vs_dbos_pg": vs_dbos,
        "vs_floor_pg": vs_floor,
        "vs_dbos_pg_paired": paired_dbos,
        "vs_floor_pg_paired": paired_floor,
        "targets": TARGETS,
        "pg_sagas_per_s": samples.median("pg") if ours is not None else None,
        "dbos_workflows_per_s": samples.median("dbos") if dbos is not None else None,
        "floor_commits_per_s": None if floor_ms is None else 1000.0 / floor_ms,
        "floor_ms_per_commit": floor_ms,
        "commits_per_saga": None if ours is None else ours.commits_per_op,
        "dbos_commits_per_workflow": None if dbos is None else dbos.commits_per_op,
        "round_trips_per_saga": None if ours is None else ours.round_trips,
        "dbos_round_trips_per_workflow": None if dbos is None else dbos.round_trips,
        "floor_round_trips_per_commit": None if floor is None else floor.round_trips,
        "synchronous_commit": {s.name: s.settings.get("synchronous_commit") for s in systems},
        "systems": {
            system.name: {
                "durability": system.durability,
                **system.settings,
                "per_s": samples.median(system.name) * per_unit(system),
                "unit": "commit" if system is floor else "saga",
                "commits_per_unit": 1.0 if system is floor else system.commits_per_op,
                "write_transactions_per_unit": system.write_transactions,
                "round_trips_per_unit": system.round_trips,
                "round_rates": [round(r * per_unit(system), 2) for r in samples[system.name]],
            }
            for system in systems
        },
    }
    if vs_floor is not None:
        # No target of its own here; saga_engine.py's SQLite one is <= 1.3.
        print(f"vs_floor_pg = {vs_floor:.2f}; median of per-round ratios {paired_floor:.2f}")
    _harness.print_headline(summary, TARGETS)
    return summary


# -- where our time goes ----------------------------------------------------------------


def profile(server: _postgres.Server, sagas: int) -> None:
    """cProfile over ``sagas`` of our sagas, and the statements one saga sends."""
    statements: Counter[str] = Counter()
    original, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def counted(cur: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        statements[" ".join(str(query).split())[:70]] += 1
        return original(cur, query, *args, **kwargs)

    def counted_commit(conn: psycopg.Connection[Any]) -> None:
        statements["COMMIT"] += 1
        commit(conn)

    space = server.create_space("profile")
    log = open_saga_log(space.url, **space.log_options())
    try:
        run_sagas(log, "warm", 20)
        psycopg.Cursor.execute = counted  # type: ignore[method-assign]
        psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]
        try:
            run_sagas(log, "counted", COUNT_SAGAS)
        finally:
            psycopg.Cursor.execute = original  # type: ignore[method-assign]
            psycopg.Connection.commit = commit  # type: ignore[method-assign]
        profiler = cProfile.Profile()
        profiler.enable()
        seconds = _harness.timed(run_sagas, log, "profiled", sagas)
        profiler.disable()
    finally:
        log.close()
    print(f"{sagas} sagas in {seconds:.3f}s under the profiler", file=sys.stderr)
    # Each statement, and each COMMIT, is one round trip to the server.
    trips = sum(statements.values()) / COUNT_SAGAS
    print(f"statements per saga, COMMIT included ({trips:g} round trips in all):")
    for text, n in statements.most_common():
        print(f"  {n / COUNT_SAGAS:4g}  {text}")
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(20)


# -- the command ------------------------------------------------------------------------

COMMAND = _harness.Command(
    __doc__,
    quick="3 rounds x 10",
    rounds=_harness.Default(3, 40, "rounds"),
    warmup=_harness.Default(5, 100, "sagas per system before timing"),
    data="the throwaway cluster's files",
    seed=True,
)
COMMAND.parser.add_argument("--url", help="a PostgreSQL server to use (default: a throwaway one)")
COMMAND.parser.add_argument("--sagas", type=int, help="sagas per system per round (default 30)")
COMMAND.parser.add_argument(
    "--systems",
    default=",".join(ALL_SYSTEMS),
    help=f"comma-separated subset of {','.join(ALL_SYSTEMS)} (default: all)",
)
COMMAND.parser.add_argument(
    "--profile", action="store_true", help="profile our saga instead of comparing"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = COMMAND.parse(argv)
    args.sagas = args.sagas or (10 if args.quick else 30)
    if args.sagas < 1:
        COMMAND.error("--sagas must be positive")
    args.names = COMMAND.choose(args.systems, ALL_SYSTEMS)
    if "dbos" in args.names and importlib.util.find_spec("dbos") is None:
        COMMAND.error(
            "dbos is not installed: `.venv/bin/pip install dbos` (the `bench` extra), "
            "or leave it out with --systems pg,floor"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def scenario(workdir: Path) -> dict[str, Any] | None:
        with _postgres.server(args.url, workdir) as server:
            if args.profile:
                profile(server, args.sagas)
                return None
            systems = build(args.names, server, quick=args.quick)
            try:
                samples = measure(systems, args)
            finally:
                for system in systems:
                    system.close()
            return report(systems, samples, args, server)

    return _harness.run(args, "saga-pg-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
