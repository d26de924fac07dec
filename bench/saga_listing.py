"""A saga log that keeps a million finished sagas: listing, reading, counting, pruning.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/saga_listing.py             # 1,000,000 sagas per log, minutes
    .venv/bin/python bench/saga_listing.py --quick     # 100,000 sagas, 5 repetitions
    .venv/bin/python bench/saga_listing.py --systems sqlite --sagas 300000
    .venv/bin/python bench/saga_listing.py --url postgresql://user:pw@host/db

Systems (``--systems``; default both): ``sqlite`` (``sqlite:///...``, WAL) and ``pg``
(``postgresql://``, on the server ``--url`` names or a throwaway cluster, in a database or
schema of its own).

Each log is opened (which creates the schema), then filled directly in its tables, not
through the engine: ``--sagas`` finished sagas of two steps each, created evenly over 120
days, nine in ten ``committed`` and one in ten ``rolled_back``, on 1,000 projects (the lock
key ``wiki:project-<n>``) and 97 users (but for one saga in 10,000, run by ``user-rare``, a
user with few sagas), plus one ``failed`` saga per thousand (each on a
project of its own: a failed saga keeps its lock) and 20 sagas in flight whose lease
expired (their process died). SQLite is filled with ``executemany`` in one transaction,
PostgreSQL with ``COPY`` and then ``ANALYZE`` (as autovacuum would soon do); the log's own
indexes are in place during the fill.

Then each operation runs ``--rounds`` times through the log's public API, and its median
is reported in milliseconds:

=======================  ==============================================================
``list_first_page``      ``list_sagas(limit=50)``: the newest 50, with their steps
``deep_page``            ``list_sagas(limit=50, before=...)`` from nine tenths of the way
                         down (keyset paging: it should cost what the first page does)
``failed_page``          ``list_sagas(states={failed})``: what needs an operator
``rolled_back_page``     ``list_sagas(states={rolled_back})``
``project_page``         ``list_sagas(lock_key="wiki:project-8")``: one project's sagas
``project_deep_page``    the same from the middle of that project's history
``user_page``            ``list_sagas(user_id="user-8")``: one user's newest 50 (one saga
                         in 97), through the index of each user's sagas (schema v3)
``user_deep_page``       the same from nine tenths of the way down
``rare_user_page``       ``list_sagas(user_id="user-rare")``: a user with few sagas
``rare_user_scan``       what the backend did before schema v3 for that user: pages of 200
                         of everyone's sagas, filtered, 2,000 at most (and none found)
``get_saga``             ``get_saga`` of a saga picked at random (a different one each time)
``count_failed``         ``count_sagas(states={failed})``
``count_expired``        ``count_sagas(lease_expired_for=0)``: in flight, nobody renewing
``count_all``            ``count_sagas()``: every saga (a scan of an index at best)
``prune_batch``          ``prune_batch(older_than_seconds=30 days, limit=500)``: the 500
                         oldest finished sagas and their steps deleted, batch after batch
=======================  ==============================================================

Each operation's statements are captured once (SQLite's trace callback, psycopg's cursor)
and their plans read with ``EXPLAIN QUERY PLAN`` / ``EXPLAIN``: ``uses_index`` says that
no statement scans a table whole (``SCAN saga`` without an index, ``Seq Scan on saga``),
``sorts`` that one sorts every matching saga rather than reading a page in index order.
``count_all`` may scan: it counts everything. ``user_index`` says that the by-user pages'
plans read ``saga_user_history``.

The last line of standard output is one JSON object: ``<system>_<operation>_ms`` for every
operation, ``<system>_fill_seconds``, and under ``systems`` the same with each operation's
plan.
"""

from __future__ import annotations

import argparse
import itertools
import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _harness
import _postgres
import psycopg

from distributed_saga import FINISHED_STATES, SagaState
from distributed_saga.log import SagaLog
from distributed_saga.log.postgres import PostgresSagaLog
from distributed_saga.log.sqlite import SQLiteSagaLog

SYSTEMS = ("sqlite", "pg")
PAGE = 50
PROJECTS = 1000
USERS = 97
RARE_USER = "user-rare"
RARE_EVERY = 10_000
"""One saga in RARE_EVERY (i % RARE_EVERY == 11) is RARE_USER's."""
OLD_SCAN_LIMIT, OLD_READ_PAGE = 2000, 200
"""How the backend listed a user's sagas before schema version 3 (filtering pages)."""
IN_FLIGHT = 20
SPAN = 120 * 86400.0
"""The sagas were created over the last 120 days."""
PRUNE_AGE = 30 * 86400.0
CLOCK_SLACK = 60.0
"""How far this clock and the log's (a PostgreSQL server's) may disagree, in seconds."""
FILL_CHUNK = 20_000

SAGA_COLUMNS = (
    "saga_id, user_id, state, lock_key, owner, lease_expires_at, lease_seconds,"
    " created_at, updated_at, failed_at, error, metadata"
)
STEP_COLUMNS = (
    "saga_id, step_index, name, state, compensation, compensation_args, in_process_rollback,"
    " idempotency_key, attempts, error, started_at, finished_at, compensation_attempts,"
    " compensation_error, compensated_at"
)

# -- the sagas --------------------------------------------------------------------------


def synthetic(count: int, now: float, seed: int) -> Iterator[tuple[tuple[Any, ...], ...]]:
    """``count`` finished sagas (and a few others), oldest first: (saga row, step rows)."""
    rng = random.Random(seed)  # made-up data
    failed = 0
    total = count + IN_FLIGHT
    for i in range(total):
        saga_id = f"{rng.getrandbits(128):032x}"
        created = now - SPAN + SPAN * i / total
        user = RARE_USER if i % RARE_EVERY == 11 else f"user-{i % USERS}"
        project = f"project-{i % PROJECTS}"
        lock_key: str | None = f"wiki:{project}"
        owner = lease = None
        failed_at = error = None
        if i >= count:
            state, lock_key, owner, lease = "executing", None, "crashed-host:1", now - 60.0
            created = now - 120.0 + i - count
        elif i % 1000 == 7:
            state, failed_at, error = "failed", "publish", "the snapshot service refused"
            lock_key = f"wiki:stuck-{failed}"  # a failed saga keeps its lock: one each
            failed += 1
        elif i % 10 == 3:
            state, failed_at, error = "rolled_back", "publish", "the snapshot service refused"
        else:
            state = "committed"
        updated = created + 2.5
        metadata = f'{{"project_id": "{project}"}}'
        saga = (saga_id, user, state, lock_key, owner, lease, 30.0, created, updated)
        saga += (failed_at, error, metadata)
        steps = []
        for index, name in enumerate(("files", "publish")):
            if state == "committed":
                step_state, undone = "completed", None
            elif state == "executing":
                step_state, undone = ("completed" if index == 0 else "started"), None
            elif index == 0:
                failed_step = state == "failed"
                step_state = "compensation_failed" if failed_step else "compensated"
                undone = None if failed_step else updated
            else:
                step_state, undone = "failed", None
            finished = None if step_state == "started" else created + 1.0 + index
            steps.append(
                (
                    *(saga_id, index, name, step_state, f"wikisaga.{name}.restore"),
                    *(f'{{"project": "{project}"}}', False, f"{saga_id}:{name}", 1, None),
                    *(created + 0.5 + index, finished, 0 if undone is None else 1, None, undone),
                )
            )
        yield saga, *steps


# -- filling the logs -------------------------------------------------------------------


def _chunks(rows: Iterator[tuple[tuple[Any, ...], ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[tuple[Any, ...], ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == FILL_CHUNK:
            yield chunk  # type: ignore[misc]
            chunk = []
    if chunk:
        yield chunk  # type: ignore[misc]


def fill_sqlite(path: Path, count: int, seed: int) -> float:
    """Fill the SQLite log at ``path`` (schema already created); the seconds it took."""
    started = time.perf_counter()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("BEGIN")
        sagas = f"INSERT INTO saga ({SAGA_COLUMNS}) VALUES ({', '.join('?' * 12)})"
        steps = f"INSERT INTO saga_step ({STEP_COLUMNS}) VALUES ({', '.join('?' * 15)})"
        for chunk in _chunks(synthetic(count, time.time(), seed)):
            conn.executemany(sagas, [rows[0] for rows in chunk])
            conn.executemany(steps, [step for rows in chunk for step in rows[1:]])
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - started


def fill_postgres(space: _postgres.Space, count: int, seed: int) -> float:
    """Fill the PostgreSQL log in ``space`` by ``COPY``, then ``ANALYZE``; the seconds."""
    started = time.perf_counter()
    with space.connect(autocommit=False) as conn:
        now = conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()
        assert now is not None
        cur = conn.cursor()
        # Two COPYs cannot run at once on one connection: sagas first, then their steps
        # (the same seed makes the same sagas again).
        with cur.copy(f"COPY saga ({SAGA_COLUMNS}) FROM STDIN") as sagas:
            for rows in synthetic(count, now[0], seed):
                sagas.write_row(rows[0])
        with cur.copy(f"COPY saga_step ({STEP_COLUMNS}) FROM STDIN") as steps:
            for rows in synthetic(count, now[0], seed):
                for step in rows[1:]:
                    steps.write_row(step)
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE saga")
        conn.execute("ANALYZE saga_step")
    return time.perf_counter() - started


# -- what the log sends, and how the database plans it ------------------------------------


class Capture:
    """The statements a log sends while :meth:`capturing`, with their parameters."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.active = False

    def sqlite_trace(self, statement: str) -> None:
        """A ``sqlite3`` trace callback (the statement comes with its values in place)."""
        if self.active:
            self.statements.append((statement, None))

    @contextmanager
    def sqlite_connections(self) -> Iterator[None]:
        """Trace every ``sqlite3`` connection opened meanwhile (the log's)."""
        connect = sqlite3.connect

        def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection = connect(*args, **kwargs)
            connection.set_trace_callback(self.sqlite_trace)
            return connection

        sqlite3.connect = traced
        try:
            yield
        finally:
            sqlite3.connect = connect

    @contextmanager
    def capturing(self) -> Iterator[list[tuple[str, Any]]]:
        """Collect the statements sent meanwhile (psycopg's, and traced SQLite ones)."""
        execute = psycopg.Cursor.execute
        statements = self.statements = []

        def captured(cur: psycopg.Cursor[Any], query: Any, params: Any = None, **kw: Any) -> Any:
            statements.append((str(query), params))
            return execute(cur, query, params, **kw)

        psycopg.Cursor.execute = captured  # type: ignore[method-assign]
        self.active = True
        try:
            yield statements
        finally:
            self.active = False
            psycopg.Cursor.execute = execute  # type: ignore[method-assign]


_PLANNED = re.compile(r"\s*(SELECT|WITH|DELETE|UPDATE|INSERT)\b", re.IGNORECASE)
_SQLITE_TABLE_SCAN = re.compile(r"SCAN (saga|saga_step)$")
_PG_TABLE_SCAN = re.compile(r"Seq Scan on (saga|saga_step)\b")


def plan(
    explain: Callable[[str, Any], list[str]], statements: list[tuple[str, Any]]
) -> dict[str, Any]:
    """The plans of the statements that read or write tables, and what they say.

    ``sorts`` is about the sagas' order: every matching saga sorted to keep a page (a Sort
    under the Limit on PostgreSQL, a temporary b-tree for the ORDER BY on SQLite), rather
    than a page read in index order; sorting one page's rows is not counted.
    Statements that SQLite's trace repeats (a foreign key's cascade, row after row) are
    planned once, and each plan line is cut at 160 characters (IN lists of 50 ids)."""
    lines: list[str] = []
    seen: set[str] = set()
    for query, params in statements:
        key = f"{query} {params!r}" if params is None else query
        if _PLANNED.match(query) and key not in seen:
            seen.add(key)
            lines.extend(line[:160] for line in explain(query, params))
            lines.append("--")
    scans = [
        line for line in lines if _SQLITE_TABLE_SCAN.search(line) or _PG_TABLE_SCAN.search(line)
    ]
    # PostgreSQL: a Sort right under a Limit sorts every matching saga to keep a page (a
    # sort above it, of one page's rows joined with their steps, costs a page).
    sorts = any(
        line.lstrip("-> ").startswith("Limit") and "Sort" in after
        for line, after in itertools.pairwise(lines)
    )
    return {
        "uses_index": not scans,
        "sorts": sorts or any("TEMP B-TREE FOR ORDER BY" in line for line in lines),
        "plan": lines[:-1],
    }


def sqlite_explainer(path: Path) -> Callable[[str, Any], list[str]]:
    def explain(query: str, params: Any) -> list[str]:
        del params  # the trace gave the statement with its values
        conn = sqlite3.connect(path)
        try:
            rows = conn.execute(f"EXPLAIN QUERY PLAN {query}").fetchall()
        finally:
            conn.close()
        return [str(row[3]) for row in rows]

    return explain


def pg_explainer(space: _postgres.Space) -> Callable[[str, Any], list[str]]:
    def explain(query: str, params: Any) -> list[str]:
        with space.connect(autocommit=True) as conn:
            rows = conn.execute(f"EXPLAIN {query}", params).fetchall()
        return [str(row[0]).strip() for row in rows]

    return explain


# -- the operations ---------------------------------------------------------------------


class CheckFailed(Exception):
    """An operation returned something other than what the log holds."""


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise CheckFailed(what)


def positions(log: SagaLog, count: int) -> dict[str, Any]:
    """Where the deep pages start, which sagas get_saga reads: found through the log."""
    newest = log.list_sagas(limit=1)[0].created_at or 0.0
    oldest = newest - SPAN
    # Nine tenths of the way down by creation time is nine tenths of the sagas: they were
    # created evenly (the keyset position is any (created_at, saga_id) pair).
    deep = (oldest + SPAN * 0.1, "~")
    middle = (oldest + SPAN * 0.5, "~")
    return {"deep": deep, "middle": middle, "count": count}


def operations(
    count: int, rounds: int, seed: int
) -> dict[str, Callable[[SagaLog, dict[str, Any]], Any]]:
    rng = random.Random(seed + 1)  # which sagas to read
    failed = len(range(7, count, 1000))
    rolled_back = len(range(3, count, 10))
    # wiki:project-8's sagas are i = 8, 1008, ...: all committed (project-7 would lose
    # its i = 7, 1007, ... to the failed sagas' own lock keys).
    project, in_project = "wiki:project-8", len(range(8, count, PROJECTS))
    # user-8's sagas are i = 8, 105, ... (user-rare's are i = 11, 10011, ...).
    total = count + IN_FLIGHT
    user, rare = "user-8", len(range(11, total, RARE_EVERY))
    in_user = sum(1 for i in range(8, total, USERS) if i % RARE_EVERY != 11)

    def first_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(limit=PAGE)
        _check(len(page) == PAGE and all(len(s.steps) == 2 for s in page), "first page")

    def deep_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(limit=PAGE, before=at["deep"])
        _check(len(page) == PAGE and (page[0].created_at or 0) < at["deep"][0], "deep page")

    def failed_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(states={SagaState.FAILED}, limit=PAGE)
        _check(len(page) == min(PAGE, failed), "failed page")
        _check(all(s.state is SagaState.FAILED for s in page), "failed page states")

    def rolled_back_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(states={SagaState.ROLLED_BACK}, limit=PAGE)
        _check(len(page) == min(PAGE, rolled_back), "rolled_back page")

    def project_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(lock_key=project, limit=PAGE)
        _check(len(page) == min(PAGE, in_project), "project page")
        _check(all(s.lock_key == project for s in page), "project page keys")

    def project_deep_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(lock_key=project, limit=PAGE, before=at["middle"])
        _check(0 < len(page) <= PAGE, "project deep page")
        _check(all((s.created_at or 0) < at["middle"][0] for s in page), "project deep page")

    def user_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(user_id=user, limit=PAGE)
        _check(len(page) == min(PAGE, in_user), "user page")
        _check(all(s.user_id == user for s in page), "user page users")

    def user_deep_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(user_id=user, limit=PAGE, before=at["deep"])
        _check(0 < len(page) <= PAGE and all(s.user_id == user for s in page), "user deep")
        _check(all((s.created_at or 0) < at["deep"][0] for s in page), "user deep page")

    def rare_user_page(log: SagaLog, at: dict[str, Any]) -> None:
        page = log.list_sagas(user_id=RARE_USER, limit=PAGE)
        _check(len(page) == min(PAGE, rare), "rare user page")
        _check(all(s.user_id == RARE_USER for s in page), "rare user page users")

    def rare_user_scan(log: SagaLog, at: dict[str, Any]) -> None:
        found: list[str] = []
        before: tuple[float, str] | None = None
        for _ in range(OLD_SCAN_LIMIT // OLD_READ_PAGE):
            batch = log.list_sagas(limit=OLD_READ_PAGE, before=before)
            found += [s.saga_id for s in batch if s.user_id == RARE_USER]
            if len(batch) < OLD_READ_PAGE:
                break
            before = (batch[-1].created_at or 0.0, batch[-1].saga_id)
        _check(len(found) <= rare, "rare user scan")

    def get_saga(log: SagaLog, at: dict[str, Any]) -> None:
        # A saga created at a random time: the first one at or before it.
        when = at["deep"][0] + rng.random() * SPAN * 0.85
        (found,) = log.list_sagas(limit=1, before=(when, "~"))
        started = time.perf_counter()
        record = log.get_saga(found.saga_id)
        at["timed"] = time.perf_counter() - started
        _check(record.saga_id == found.saga_id and len(record.steps) == 2, "get_saga")

    def count_failed(log: SagaLog, at: dict[str, Any]) -> None:
        _check(log.count_sagas(states={SagaState.FAILED}) == failed, "count failed")

    def count_expired(log: SagaLog, at: dict[str, Any]) -> None:
        _check(log.count_sagas(lease_expired_for=0) == IN_FLIGHT, "count expired")

    def count_all(log: SagaLog, at: dict[str, Any]) -> None:
        _check(log.count_sagas() == count + IN_FLIGHT, "count all")

    def prune_batch(log: SagaLog, at: dict[str, Any]) -> None:
        # Sagas grow old while the benchmark runs (one is created every SPAN / count
        # seconds), so a second prune_batch could find one that has just come of age. What
        # the batch must have taken is every saga already old when it started, give or take
        # a minute between this clock and the log's.
        old = time.time() - PRUNE_AGE - CLOCK_SLACK
        started = time.perf_counter()
        pruned = log.prune_batch(PRUNE_AGE, limit=500)
        at["timed"] = time.perf_counter() - started
        _check(0 <= pruned <= 500, f"prune_batch deleted {pruned}")
        if pruned < 500:  # a short batch only once nothing old is left (a small --sagas)
            left = log.list_sagas(states=FINISHED_STATES, limit=PAGE, before=(old, ""))
            _check(
                all((s.updated_at or 0.0) >= old for s in left),
                f"prune_batch deleted {pruned} and left old sagas",
            )

    del rounds
    return {
        "list_first_page": first_page,
        "deep_page": deep_page,
        "failed_page": failed_page,
        "rolled_back_page": rolled_back_page,
        "project_page": project_page,
        "project_deep_page": project_deep_page,
        "user_page": user_page,
        "user_deep_page": user_deep_page,
        "rare_user_page": rare_user_page,
        "rare_user_scan": rare_user_scan,
        "get_saga": get_saga,
        "count_failed": count_failed,
        "count_expired": count_expired,
        "count_all": count_all,
        "prune_batch": prune_batch,
    }


def measure(
    log: SagaLog,
    explain: Callable[[str, Any], list[str]],
    capture: Capture,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Each operation: its plan (captured once, untimed), then ``--rounds`` timed runs."""
    at = positions(log, args.sagas)
    results: dict[str, Any] = {}
    for name, operation in operations(args.sagas, args.rounds, args.seed).items():
        with capture.capturing() as statements:
            operation(log, at)
        planned = plan(explain, statements)
        times = []
        for _ in range(args.rounds):
            at.pop("timed", None)
            started = time.perf_counter()
            operation(log, at)
            times.append(at.get("timed", time.perf_counter() - started))
        results[name] = {"ms": 1000 * statistics.median(times), **planned}
        print(f"  {name}: {results[name]['ms']:.3f} ms", file=sys.stderr)
    return results


# -- the systems ------------------------------------------------------------------------


def run_sqlite(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    path = workdir / "sagas.db"
    SQLiteSagaLog(path).close()  # the schema
    print(f"sqlite: filling {args.sagas:,} sagas", file=sys.stderr)
    fill = fill_sqlite(path, args.sagas, args.seed)
    capture = Capture()
    with capture.sqlite_connections():
        log = SQLiteSagaLog(path)
    try:
        results = measure(log, sqlite_explainer(path), capture, args)
    finally:
        log.close()
    return {"fill_seconds": fill, "operations": results}


def run_postgres(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    with _postgres.server(args.url, workdir) as server:
        space = server.create_space("listing")
        log = PostgresSagaLog(space.url, **space.log_options())
        try:
            print(f"pg: filling {args.sagas:,} sagas", file=sys.stderr)
            fill = fill_postgres(space, args.sagas, args.seed)
            results = measure(log, pg_explainer(space), Capture(), args)
        finally:
            log.close()
        return {"fill_seconds": fill, "operations": results, "server": server.settings()}


# -- the report -------------------------------------------------------------------------


USER_PAGES = ("user_page", "user_deep_page", "rare_user_page")


def reads_user_index(op: dict[str, Any]) -> bool:
    """Whether an operation's plan reads the index of each user's sagas."""
    return any("saga_user_history" in line for line in op["plan"])


def report(measured: dict[str, dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    names = list(next(iter(measured.values()))["operations"])
    rows = []
    for name in names:
        row = [name]
        for system in measured:
            op = measured[system]["operations"][name]
            how = ("index" if op["uses_index"] else "SCAN") + (", sorts" if op["sorts"] else "")
            if name in USER_PAGES:
                how += ", user index" if reads_user_index(op) else ", NOT user index"
            row += [f"{op['ms']:.3f}", how]
        rows.append(row)
    header = ["operation"]
    for system in measured:
        header += [f"{system} ms", f"{system} plan"]
    print()
    print(f"{args.sagas:,} finished sagas (+{IN_FLIGHT} in flight), median of {args.rounds}")
    _harness.print_table(header, rows, "<" + ">>" * len(measured))
    for system, result in measured.items():
        print(f"{system}: filled in {result['fill_seconds']:.1f} s")
    summary = _harness.summary("saga_listing", args) | {"sagas": args.sagas, "page": PAGE}
    for system, result in measured.items():
        summary[f"{system}_fill_seconds"] = result["fill_seconds"]
        for name, op in result["operations"].items():
            summary[f"{system}_{name}_ms"] = op["ms"]
        summary[f"{system}_plans_use_indexes"] = all(
            op["uses_index"] for name, op in result["operations"].items() if name != "count_all"
        )
        summary[f"{system}_user_pages_use_user_index"] = all(
            reads_user_index(result["operations"][name]) for name in USER_PAGES
        )
        # The rare user's page before schema version 3 (a filtered scan) against now.
        ops = result["operations"]
        summary[f"{system}_rare_user_scan_vs_page"] = (
            ops["rare_user_scan"]["ms"] / ops["rare_user_page"]["ms"]
        )
    summary["systems"] = measured
    _harness.print_headline(summary, {})
    return summary


COMMAND = _harness.Command(
    __doc__,
    quick="100,000 sagas, 5 repetitions",
    rounds=_harness.Default(5, 20, "repetitions of each operation"),
    warmup=_harness.Default(0, 0, "unused"),
    data="the SQLite file and the throwaway cluster",
    seed=True,
)
COMMAND.parser.add_argument("--url", help="a PostgreSQL server to use (default: a throwaway one)")
COMMAND.parser.add_argument(
    "--sagas", type=int, help="finished sagas per log (default 1,000,000; --quick 100,000)"
)
COMMAND.parser.add_argument(
    "--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = COMMAND.parse(argv)
    args.sagas = args.sagas or (100_000 if args.quick else 1_000_000)
    if args.sagas < 2 * PROJECTS:
        COMMAND.error(f"--sagas must be at least {2 * PROJECTS}")
    args.names = COMMAND.choose(args.systems, SYSTEMS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def scenario(workdir: Path) -> dict[str, Any]:
        runs = {"sqlite": run_sqlite, "pg": run_postgres}
        measured = {}
        for name in args.names:
            try:
                measured[name] = runs[name](workdir, args)
            except CheckFailed as exc:
                raise SystemExit(f"{name}: {exc} is wrong") from exc
        return report(measured, args)

    return _harness.run(args, "saga-listing-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
