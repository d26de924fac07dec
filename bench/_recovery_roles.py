"""The processes of ``recovery.py``: starters that get killed, recoverers, and the ledger.

Run as ``python bench/_recovery_roles.py ROLE ...`` (``recovery.py`` builds the command):

``start``    opens the saga log and starts ``--sagas`` sagas, one thread each, with
             ``--lease`` seconds of lease: step ``reserve`` runs, then step ``charge``
             records its intent and its action blocks forever. Once every saga is inside
             ``charge``'s action it prints ``ready`` and waits to be killed (should its
             parent die first, it exits when its standard input closes).
``recover``  opens the log and the ledger, prints ``armed``, waits for a line on standard
             input, then runs ``recover_sagas`` passes of ``--batch`` until one claims
             nothing, and prints one JSON line: its seconds and the sagas it recovered.

Both steps' compensation is :data:`UNDO`, registered here, which appends one row to the
ledger (a table that stands for the outside world): the saga, the step and the process.
The ledger has no unique key, so a compensation run twice shows as two rows. It is a
SQLite file (WAL, ``synchronous=FULL``) beside a SQLite log, or a table beside a
PostgreSQL log (in the same database or schema).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import logging
import os
import sqlite3
import sys
import threading
import time
from collections import Counter
from typing import Any

from distributed_saga import Compensation, DistributedSaga, compensation, recover_sagas
from distributed_saga.log import SagaLog, open_saga_log

UNDO = "bench.recovery.undo"
LEDGER_TABLE = "recovery_ledger"
_ledger: Ledger | None = None


class Ledger:
    """The rows compensations append: a SQLite file, or a PostgreSQL table. Each thread
    that records gets a connection of its own (a recoverer compensates several sagas at
    once with ``--threads``)."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.sqlite = url.startswith("sqlite:///")
        if self.sqlite:
            self._insert = f"INSERT INTO {LEDGER_TABLE} VALUES (?, ?, ?)"
        else:
            self._insert = f"INSERT INTO {LEDGER_TABLE} VALUES (%s, %s, %s)"
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    @property
    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def _connect(self) -> Any:
        if self.sqlite:
            # Used by the thread that opened it only; closed by whichever thread closes
            # the ledger.
            conn = sqlite3.connect(
                self.url.removeprefix("sqlite:///"),
                isolation_level=None,
                timeout=30.0,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            return conn
        import psycopg  # noqa: PLC0415 - only a PostgreSQL ledger needs it

        options = {} if self.schema is None else {"options": f"-c search_path={self.schema}"}
        return psycopg.connect(self.url, autocommit=True, **options)

    def create(self) -> None:
        self._conn.execute(
            f"CREATE TABLE {LEDGER_TABLE} (saga_id TEXT NOT NULL, step INTEGER NOT NULL,"
            " pid INTEGER NOT NULL)"
        )

    def record(self, saga_id: str, step: int) -> None:
        """One row, one commit (autocommit): the effect of one compensation."""
        self._conn.execute(self._insert, (saga_id, step, os.getpid()))

    def runs(self) -> Counter[tuple[str, int]]:
        """How many times each (saga, step) was compensated."""
        rows = self._conn.execute(f"SELECT saga_id, step FROM {LEDGER_TABLE}").fetchall()
        return Counter((saga_id, int(step)) for saga_id, step in rows)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()


@compensation(UNDO)
def _undo(args: Any) -> None:
    if _ledger is None:
        raise RuntimeError("no ledger in this process: only a recoverer compensates")
    _ledger.record(args["saga"], args["step"])


def _open_log(args: argparse.Namespace) -> SagaLog:
    options = {} if args.schema is None else {"schema": args.schema}
    return open_saga_log(args.log, **options)


def start(args: argparse.Namespace) -> int:
    """Start ``--sagas`` sagas, leave each blocked inside its second step, wait for death."""
    threading.stack_size(256 * 1024)  # hundreds of threads that only wait
    log = _open_log(args)
    inside = threading.Semaphore(0)
    forever = threading.Event()
    failed: list[BaseException] = []

    def blocked() -> int:
        inside.release()
        forever.wait()
        return 2

    def one_saga(k: int) -> None:
        saga_id = f"{args.prefix}-{k}"
        try:
            saga = DistributedSaga(saga_id, "bench", log=log, lease_seconds=args.lease)
            saga.execute_step(
                name="reserve",
                action=lambda: 1,
                rollback=Compensation(UNDO, {"saga": saga_id, "step": 0}),
            )
            saga.execute_step(
                name="charge",
                action=blocked,
                rollback=Compensation(UNDO, {"saga": saga_id, "step": 1}),
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failed.append(exc)
            inside.release()

    for k in range(args.sagas):
        threading.Thread(target=one_saga, args=(k,), daemon=True).start()
    for _ in range(args.sagas):
        if not inside.acquire(timeout=300):
            print("starter: sagas did not reach their second step", file=sys.stderr)
            return 1
    if failed:
        print(f"starter: {len(failed)} sagas failed: {failed[0]!r}", file=sys.stderr)
        return 1
    print("ready", flush=True)
    # Killed by the parent; if the parent dies first, its end of the pipe closes.
    sys.stdin.read()
    return 1


def recover(args: argparse.Namespace) -> int:
    """Recover until a pass claims nothing; print the seconds and the sagas recovered."""
    global _ledger  # noqa: PLW0603 - the compensation's outside world, one per process
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    statements: Counter[str] = Counter()
    if args.profile:
        _count_statements(statements)
    log = _open_log(args)
    _ledger = Ledger(args.ledger, args.schema)
    print("armed", flush=True)
    sys.stdin.readline()
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:
        statements.clear()
        profiler.enable()
    started = time.perf_counter()
    recovered: list[str] = []
    states: Counter[str] = Counter()
    passes = 0
    while True:
        passes += 1
        outcomes = recover_sagas(
            log, limit=args.batch, lease_seconds=args.lease, concurrency=args.threads
        )
        if not outcomes:
            break
        for outcome in outcomes:
            recovered.append(outcome.saga_id)
            states[outcome.state.value] += 1
    seconds = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{args.profile}/recover-{os.getpid()}.prof")
    log.close()
    _ledger.close()
    result = {
        "seconds": seconds,
        "passes": passes,
        "recovered": recovered,
        "states": states,
        "statements": statements,
    }
    print(json.dumps(result), flush=True)
    return 0


def _count_statements(statements: Counter[str]) -> None:
    """Count every statement this process sends, by its first 60 characters (``--profile``)."""

    def count(query: object) -> None:
        statements[" ".join(str(query).split()).split(" VALUES (")[0][:60]] += 1

    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(count)
        return conn

    sqlite3.connect = traced  # type: ignore[assignment]
    try:
        import psycopg  # noqa: PLC0415 - only a PostgreSQL log needs it
    except ImportError:
        return
    execute, commit = psycopg.Cursor.execute, psycopg.Connection.commit

    def counted_execute(cur: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        count(query)
        return execute(cur, query, *args, **kwargs)

    def counted_commit(conn: Any) -> None:
        count("COMMIT")
        commit(conn)

    psycopg.Cursor.execute = counted_execute  # type: ignore[method-assign]
    psycopg.Connection.commit = counted_commit  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("role", choices=("start", "recover"))
    parser.add_argument("--log", required=True, help="the saga log's URL")
    parser.add_argument("--schema", help="PostgreSQL: the schema of the log (and ledger)")
    parser.add_argument("--ledger", help="recover: the ledger (sqlite:///path or the log's URL)")
    parser.add_argument("--prefix", default="s", help="start: saga ids are PREFIX-k")
    parser.add_argument("--sagas", type=int, default=250, help="start: how many sagas")
    parser.add_argument("--lease", type=float, default=5.0, help="lease seconds")
    parser.add_argument("--batch", type=int, default=100, help="recover: sagas per pass")
    parser.add_argument("--threads", type=int, default=1, help="recover: sagas compensated at once")
    parser.add_argument("--profile", help="recover: write cProfile stats into this directory")
    args = parser.parse_args(argv)
    if args.role == "recover" and not args.ledger:
        parser.error("recover needs --ledger")
    return start(args) if args.role == "start" else recover(args)


if __name__ == "__main__":
    sys.exit(main())
