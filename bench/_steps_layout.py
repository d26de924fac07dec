"""Would a saga's steps in its own row make SQLite's commits cheaper? A model of both.

Run from the repository root::

    .venv/bin/python bench/_steps_layout.py            # 30 rounds of 30 sagas, a minute
    .venv/bin/python bench/_steps_layout.py --quick    # 3 rounds of 20

``saga_engine.py``'s two-step saga makes three commits on SQLite (WAL, ``synchronous=FULL``):
the saga with its first step's intent, the second intent with the first step's outcome, and
the commit with the second's. This plays exactly those writes in SQL alone, no engine
around them, in two layouts of the same data:

``rows``   the log's schema (version 2, created by opening a ``SQLiteSagaLog``): the saga
           row, and a ``saga_step`` row per step; the statements the log sends
``inline`` the steps as a JSON array in a column of the saga row (what a schema migration
           could make of them): one row written per commit, no ``saga_step`` pages
``bare``   the log's two tables without a single secondary index (no listing order, no
           unfinished-saga or per-user index): what the ``rows`` writes cost if indexes
           cost nothing, a bound on what any index work could gain
``journal`` the log's schema, untouched by the saga's own commits: each commit appends one
           row (the commit's writes, as JSON) to an append-only ``saga_journal`` table after
           reading the saga's row for the fence; every ``FOLD`` sagas one more commit plays
           the journal's writes into the log's tables (the ``rows`` statements) and empties
           it, and so does the end of every timed run (give ``--sagas 64`` for full folds).
           A model of a log whose in-flight writes are folded into its indexed tables in
           batches (as readers would have to, before reading); the fold is timed with the
           sagas it folds

next to the floor (one small ``INSERT`` per commit). Each round plays every system once in
a fresh random order; the figures are medians. WAL frames (pages) written per saga are
counted on a separate pass with automatic checkpoints off. The last line is one JSON
object: ``rows_vs_floor``, ``inline_vs_floor``, ``bare_vs_floor`` and ``journal_vs_floor``
(ms per saga over three floor commits) and ``inline_vs_rows``.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import _harness

from distributed_saga.log.sqlite import SQLiteSagaLog

_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_ROWS = {
    "create": f"""INSERT INTO saga (saga_id, user_id, state, lock_key, owner, lease_expires_at,
            lease_seconds, created_at, updated_at, metadata)
        VALUES (?, 'bench', 'executing', NULL, 'me', {_NOW} + 30, 30, {_NOW}, {_NOW}, '{{}}')
        ON CONFLICT DO NOTHING""",
    "first_step": f"""INSERT INTO saga_step (saga_id, step_index, name, state, compensation,
            compensation_args, in_process_rollback, idempotency_key, started_at)
        VALUES (?, 0, 'reserve', 'started', 'bench.undo', '{{"n": 0}}', 0, NULL, {_NOW})""",
    "touch": f"""UPDATE saga SET updated_at = {_NOW}, lease_expires_at = {_NOW} + lease_seconds
        WHERE saga_id = ? AND owner = 'me' AND state IN ('executing')""",
    "result": f"""UPDATE saga_step SET state = 'completed', attempts = 1, error = NULL,
            finished_at = {_NOW} WHERE saga_id = ? AND step_index = ?""",
    "next_step": f"""INSERT INTO saga_step (saga_id, step_index, name, state, compensation,
            compensation_args, in_process_rollback, idempotency_key, started_at)
        SELECT ?, 1, 'charge', 'started', 'bench.undo', '{{"n": 1}}', 0, NULL, {_NOW}
        WHERE (SELECT count(*) FROM saga_step WHERE saga_id = ?) = 1""",
    "finish": f"""UPDATE saga SET state = 'committed', owner = NULL, lease_expires_at = NULL,
            updated_at = {_NOW} WHERE saga_id = ? AND owner = 'me' AND state IN ('executing')""",
}
_STEP = {
    "state": "started",
    "compensation": "bench.undo",
    "attempts": 0,
    "error": None,
    "idempotency_key": None,
    "in_process_rollback": False,
    "compensation_attempts": 0,
    "compensation_error": None,
    "compensated_at": None,
    "finished_at": None,
}
_INLINE_SCHEMA = """CREATE TABLE saga (
        saga_id TEXT NOT NULL PRIMARY KEY, user_id TEXT, state TEXT NOT NULL, lock_key TEXT,
        owner TEXT, lease_expires_at REAL, lease_seconds REAL NOT NULL,
        created_at REAL NOT NULL, updated_at REAL NOT NULL, failed_at TEXT, error TEXT,
        metadata TEXT NOT NULL, steps TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX saga_lock_key ON saga (lock_key)
        WHERE lock_key IS NOT NULL AND state NOT IN ('committed', 'rolled_back');
    CREATE INDEX saga_created ON saga (created_at, saga_id);
    CREATE INDEX saga_unfinished ON saga (created_at, saga_id)
        WHERE state NOT IN ('committed', 'rolled_back');
    CREATE INDEX saga_lock_history ON saga (lock_key, created_at, saga_id)
        WHERE lock_key IS NOT NULL;"""
_INLINE = {
    "create": f"""INSERT INTO saga (saga_id, user_id, state, lock_key, owner, lease_expires_at,
            lease_seconds, created_at, updated_at, metadata, steps)
        VALUES (?, 'bench', 'executing', NULL, 'me', {_NOW} + 30, 30, {_NOW}, {_NOW}, '{{}}', ?)
        ON CONFLICT DO NOTHING""",
    # The step count is the array's length: the fence and the check in one UPDATE.
    "next": f"""UPDATE saga SET steps = ?, updated_at = {_NOW},
            lease_expires_at = {_NOW} + lease_seconds
        WHERE saga_id = ? AND owner = 'me' AND state IN ('executing')
            AND json_array_length(steps) = 1""",
    "finish": f"""UPDATE saga SET state = 'committed', owner = NULL, lease_expires_at = NULL,
            steps = ?, updated_at = {_NOW}
        WHERE saga_id = ? AND owner = 'me' AND state IN ('executing')""",
}


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _commit(conn: sqlite3.Connection, *statements: tuple[str, tuple[Any, ...]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    for sql, params in statements:
        if conn.execute(sql, params).rowcount != 1:
            raise SystemExit(f"a write matched no row: {sql.split()[0:3]}")
    conn.execute("COMMIT")


def rows_saga(conn: sqlite3.Connection) -> None:
    s = uuid.uuid4().hex
    q = _ROWS
    _commit(conn, (q["create"], (s,)), (q["first_step"], (s,)))
    _commit(conn, (q["touch"], (s,)), (q["result"], (s, 0)), (q["next_step"], (s, s)))
    _commit(conn, (q["finish"], (s,)), (q["result"], (s, 1)))


def inline_saga(conn: sqlite3.Connection) -> None:
    s = uuid.uuid4().hex
    now = time.time()
    first = {**_STEP, "name": "reserve", "args": {"n": 0}, "started_at": now}
    second = {**_STEP, "name": "charge", "args": {"n": 1}, "started_at": now}
    done = {"state": "completed", "attempts": 1, "finished_at": now}
    q = _INLINE
    _commit(conn, (q["create"], (s, json.dumps([first]))))
    _commit(conn, (q["next"], (json.dumps([{**first, **done}, second]), s)))
    _commit(conn, (q["finish"], (json.dumps([{**first, **done}, {**second, **done}]), s)))


FOLD = 64  # sagas per fold of the journal model
_JOURNAL_SCHEMA = "CREATE TABLE saga_journal (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)"
_FENCE_READ = "SELECT owner, state FROM saga WHERE saga_id = ?"


class Journal:
    """The ``journal`` layout: one appended row per commit, folded every ``FOLD`` sagas."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        conn.execute(_JOURNAL_SCHEMA)
        self.pending = 0  # sagas appended since the last fold

    def _append(self, saga_id: str, *writes: tuple[str, tuple[Any, ...]]) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        owner = conn.execute(_FENCE_READ, (saga_id,)).fetchone()
        if owner is not None:
            raise SystemExit("the journal model found a folded saga still in flight")
        body = json.dumps([[name, list(params)] for name, params in writes])
        conn.execute("INSERT INTO saga_journal (body) VALUES (?)", (body,))
        conn.execute("COMMIT")

    def play(self, sagas: int) -> None:
        for _ in range(sagas):
            self.saga()
        if self.pending:
            self.fold()

    def saga(self) -> None:
        s = uuid.uuid4().hex
        self._append(s, ("create", (s,)), ("first_step", (s,)))
        self._append(s, ("touch", (s,)), ("result", (s, 0)), ("next_step", (s, s)))
        self._append(s, ("finish", (s,)), ("result", (s, 1)))
        self.pending += 1
        if self.pending == FOLD:
            self.fold()

    def fold(self) -> None:
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        for (body,) in conn.execute("SELECT body FROM saga_journal ORDER BY seq").fetchall():
            for name, params in json.loads(body):
                if conn.execute(_ROWS[name], params).rowcount != 1:
                    raise SystemExit(f"a folded write matched no row: {name}")
        conn.execute("DELETE FROM saga_journal")
        conn.execute("COMMIT")
        self.pending = 0


def bare_tables(rows_db: Path, bare: sqlite3.Connection) -> None:
    """The tables of the log at ``rows_db``, made in ``bare`` without their indexes."""
    with sqlite3.connect(rows_db) as source:
        tables = source.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'saga%'"
        ).fetchall()
    for (sql,) in tables:
        bare.execute(sql)


def floor_commits(conn: sqlite3.Connection, commits: int) -> None:
    for _ in range(commits):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", ("x" * 64,))
        conn.execute("COMMIT")


def wal_frames(conn: sqlite3.Connection, path: Path, play: Any, sagas: int) -> float:
    """WAL frames one saga writes (automatic checkpoints off meanwhile)."""
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    play(sagas)
    size = Path(f"{path}-wal").stat().st_size
    conn.execute("PRAGMA wal_autocheckpoint = 1000")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return (size - 32) / (page + 24) / sagas


COMMAND = _harness.Command(
    __doc__,
    quick="3 rounds of 20",
    rounds=_harness.Default(3, 30, "rounds"),
    warmup=_harness.Default(20, 300, "sagas per system before timing"),
    data="the SQLite files",
    seed=True,
)
COMMAND.parser.add_argument("--sagas", type=int, help="sagas per system per round (default 30)")


def main(argv: list[str] | None = None) -> int:
    args = COMMAND.parse(argv)
    args.sagas = args.sagas or (20 if args.quick else 30)

    def scenario(workdir: Path) -> dict[str, Any]:
        SQLiteSagaLog(workdir / "rows.db").close()
        rows = _connect(workdir / "rows.db")
        inline = _connect(workdir / "inline.db")
        inline.executescript(_INLINE_SCHEMA)
        bare = _connect(workdir / "bare.db")
        bare_tables(workdir / "rows.db", bare)
        SQLiteSagaLog(workdir / "journal.db").close()
        journal = Journal(_connect(workdir / "journal.db"))
        floor = _connect(workdir / "floor.db")
        floor.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        play = {
            "rows": lambda n: [rows_saga(rows) for _ in range(n)],
            "inline": lambda n: [inline_saga(inline) for _ in range(n)],
            "bare": lambda n: [rows_saga(bare) for _ in range(n)],
            "journal": journal.play,
            "floor": lambda n: floor_commits(floor, 3 * n),
        }
        frames = {
            "rows": wal_frames(rows, workdir / "rows.db", play["rows"], 50),
            "inline": wal_frames(inline, workdir / "inline.db", play["inline"], 50),
            "bare": wal_frames(bare, workdir / "bare.db", play["bare"], 50),
            "journal": wal_frames(journal.conn, workdir / "journal.db", play["journal"], 4 * FOLD),
            "floor": wal_frames(floor, workdir / "floor.db", play["floor"], 50),
        }
        for name, run in play.items():
            run(max(args.warmup, 400 if name == "floor" else 0))
        order = _harness.random_order(args.seed)
        samples = _harness.Samples()
        for number in range(args.rounds):
            for name in order(number, list(play)):
                seconds = _harness.timed(play[name], args.sagas)
                samples.add(name, 1000 * seconds / args.sagas)
        for conn in (rows, inline, bare, journal.conn, floor):
            conn.close()
        ms = {name: samples.median(name) for name in play}
        table = [
            (name, f"{ms[name]:.3f}", f"{frames[name]:.1f}", f"{ms[name] / ms['floor']:.2f}")
            for name in play
        ]
        print()
        header = ("layout", "ms/saga (floor: 3 commits)", "WAL frames/saga", "vs floor")
        _harness.print_table(header, table, "<>>>")
        summary = _harness.summary("steps_layout", args) | {
            "sagas_per_round": args.sagas,
            "ms_per_saga": ms,
            "wal_frames_per_saga": frames,
            "rows_vs_floor": ms["rows"] / ms["floor"],
            "inline_vs_floor": ms["inline"] / ms["floor"],
            "bare_vs_floor": ms["bare"] / ms["floor"],
            "journal_vs_floor": ms["journal"] / ms["floor"],
            "inline_vs_rows": ms["inline"] / ms["rows"],
            "rows_vs_floor_paired": samples.paired("rows", "floor"),
            "inline_vs_floor_paired": samples.paired("inline", "floor"),
            "bare_vs_floor_paired": samples.paired("bare", "floor"),
            "journal_vs_floor_paired": samples.paired("journal", "floor"),
        }
        print()
        _harness.print_headline(summary, {})
        return summary

    return _harness.run(args, "steps-layout-", scenario)


if __name__ == "__main__":
    sys.exit(main())
