"""The effect ledger: the outside world a crashing child writes to, and how it is undone.

The *effect ledger* is a small SQLite file, separate from the saga log, that stands for the
outside world a saga publishes to. It holds ``key -> value`` rows, some of them written
before the saga runs (the *previous generation*). A saga of ``N`` steps publishes one key
per step, overwriting the previous generation where there is one:

* before step ``i`` runs, its intent plans the compensation ``{key, prior, value}`` — the
  value found in the ledger (``None``: absent) and the value the step is about to write;
* the action writes ``value`` and journals an ``apply`` row;
* the compensation puts ``prior`` back (or deletes the key) and journals an ``undo`` row
  *only if it changed something*. Run again, or for an action that never ran, it changes
  nothing. It refuses to clobber a value that is neither ``prior`` nor ``value``.

Every write is one SQLite transaction, so a process killed with ``SIGKILL`` leaves either
the whole effect and its journal row or neither. Counting journal rows therefore counts
*effects*, not calls; calls are kept apart (``calls``) to tell which process ran them.

Order is checked where it happens. Before it does anything, each step's action asks an
:data:`IntentCheck` whether the saga log *already* records the step, started, with the
compensation planned for it, and writes the answer down (``intent_checks``). Looking at the
log only once the saga is over could not tell an intent written before the action from one
written after it.

A *ledger saga* publishes :func:`planned_steps`: :func:`seed_previous_generation` writes
the previous generation, and :func:`ledger_step` makes each step's action (told to fail or
not, see :data:`FailMode`) and the compensation planned for it.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from distributed_saga.compensations import Compensation, CompensationRegistry, compensation

__all__ = [
    "LEDGER_COMPENSATION",
    "LEDGER_COMPENSATION_CONCURRENT",
    "REGISTRY",
    "CompensationBrokenError",
    "EffectLedger",
    "FailMode",
    "IntentCheck",
    "JournalRow",
    "LedgerConflictError",
    "PlannedStep",
    "StepFailedError",
    "StepRefusedError",
    "close_ledgers",
    "ledger_step",
    "planned_steps",
    "proves_no_effect",
    "restore_entry",
    "seed_previous_generation",
]

LEDGER_COMPENSATION = "ledger.restore"
"""Name of the durable compensation that restores a ledger key."""

LEDGER_COMPENSATION_CONCURRENT = "ledger.restore.concurrent"
"""The same compensation, registered as safe to run in parallel (keys are independent)."""

REGISTRY = CompensationRegistry()
"""The registry holding the two ledger compensations (and nothing else)."""

FailMode = Literal["before", "after", "refused"]
"""A failing step raises ``before`` writing its effect, ``after`` (it partly happened), or
is ``refused``: it raises :class:`StepRefusedError` before writing, an error the step
declares (``not_applied=``) as proof of no effect, so the engine records it ``rejected``
and does not compensate it."""

IntentCheck = Callable[[int, Compensation], str | None]
"""Asked by step ``index``'s action the moment it runs, with the compensation planned for
it: what is wrong with the saga log's record of that step, or ``None`` when the log already
holds its intent (see :func:`~distributed_saga.testing.crashing.checks.log_intent_check`)."""

_BUSY_TIMEOUT = 30.0


class StepFailedError(RuntimeError):
    """The failure injected into a step's action."""


class StepRefusedError(StepFailedError):
    """The injected failure that proves the action had no effect (it was refused)."""


def proves_no_effect(error: BaseException) -> bool:
    """The ledger steps' ``not_applied``: only a refusal proves nothing was written."""
    return isinstance(error, StepRefusedError)


class LedgerConflictError(RuntimeError):
    """A compensation found a value it neither planned nor wrote: it will not clobber it."""


class CompensationBrokenError(RuntimeError):
    """The ledger was told to make this step's compensation fail (see ``break_step``)."""


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """What step ``index`` of a ledger saga publishes."""

    index: int
    key: str
    value: str
    previous: str | None
    """The previous generation's value of ``key`` (``None``: the step creates the key)."""

    @property
    def name(self) -> str:
        return f"publish-{self.index}"


def planned_steps(saga_id: str, steps: int) -> list[PlannedStep]:
    """The ``steps`` steps of saga ``saga_id``: even ones overwrite, odd ones create."""
    return [
        PlannedStep(
            index=i,
            key=f"{saga_id}/k{i}",
            value=f"new:{saga_id}:{i}",
            previous=f"old:{saga_id}:{i}" if i % 2 == 0 else None,
        )
        for i in range(steps)
    ]


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One effect on the ledger: an action's ``apply`` or a compensation's ``undo``."""

    seq: int
    saga_id: str
    step: int
    kind: str
    key: str
    before: str | None
    after: str | None
    pid: int


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS entry (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        saga_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('apply', 'undo')),
        key TEXT NOT NULL,
        before TEXT,
        after TEXT,
        pid INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS call (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        saga_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        pid INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS intent_check (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        saga_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        problem TEXT,
        pid INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS broken (
        saga_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        PRIMARY KEY (saga_id, step)
    )""",
)


class EffectLedger:
    """The outside world of a crash test, in the SQLite file at ``path``.

    Open one per process (the connection is not shared across ``fork``); it is safe to
    use from several threads and alongside other processes on the same file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        self._conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives a killed process; only a power cut could lose commits.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        with self._transaction() as cur:
            for statement in _SCHEMA:
                cur.execute(statement)

    # -- writing ----------------------------------------------------------------------

    def put(self, key: str, value: str) -> None:
        """Write ``key`` without journaling it (setting up the previous generation)."""
        with self._transaction() as cur:
            cur.execute(_UPSERT, (key, value))

    def apply(self, saga_id: str, step: int, key: str, value: str) -> None:
        """An action's effect: write ``value`` and journal it, in one transaction."""
        with self._transaction() as cur:
            before = _value(cur, key)
            cur.execute(_UPSERT, (key, value))
            _journal(cur, saga_id, step, "apply", (key, before, value))

    def restore(self, saga_id: str, step: int, key: str, prior: str | None, value: str) -> bool:
        """A compensation's effect: put ``prior`` back where the step wrote ``value``.

        Returns whether anything changed (and was journaled as ``undo``). Idempotent: when
        the key already holds ``prior`` it does nothing. Raises
        :class:`LedgerConflictError` for any other value rather than overwrite it, and
        :class:`CompensationBrokenError` while :meth:`break_step` is in force.
        """
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO call (saga_id, step, pid) VALUES (?, ?, ?)",
                (saga_id, step, os.getpid()),
            )
            broken = cur.execute(
                "SELECT 1 FROM broken WHERE saga_id = ? AND step = ?", (saga_id, step)
            ).fetchone()
            current = _value(cur, key)
            if broken is None and current != prior and current == value:
                if prior is None:
                    cur.execute("DELETE FROM entry WHERE key = ?", (key,))
                else:
                    cur.execute(_UPSERT, (key, prior))
                _journal(cur, saga_id, step, "undo", (key, current, prior))
                return True
        if broken is not None:
            raise CompensationBrokenError(f"compensation of {saga_id} step {step} is broken")
        if current != prior:
            raise LedgerConflictError(
                f"{key!r} holds {current!r}: neither its prior {prior!r} nor {value!r}"
            )
        return False

    def record_intent_check(self, saga_id: str, step: int, problem: str | None) -> None:
        """Note what step ``step``'s action found in the saga log as it began: ``problem``,
        or ``None`` when the log already held the step's intent."""
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO intent_check (saga_id, step, problem, pid) VALUES (?, ?, ?, ?)",
                (saga_id, step, problem, os.getpid()),
            )

    def break_step(self, saga_id: str, step: int) -> None:
        """Make the compensation of ``saga_id``'s step ``step`` fail until :meth:`repair`."""
        with self._transaction() as cur:
            cur.execute("INSERT OR IGNORE INTO broken VALUES (?, ?)", (saga_id, step))

    def repair(self, saga_id: str | None = None) -> None:
        """Let compensations succeed again (of one saga, or of all)."""
        with self._transaction() as cur:
            if saga_id is None:
                cur.execute("DELETE FROM broken")
            else:
                cur.execute("DELETE FROM broken WHERE saga_id = ?", (saga_id,))

    # -- reading ----------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        """The value of ``key``, or ``None`` if absent."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM entry WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def snapshot(self, prefix: str = "") -> dict[str, str]:
        """Every ``key -> value`` whose key starts with ``prefix``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, value FROM entry WHERE substr(key, 1, ?) = ? ORDER BY key",
                (len(prefix), prefix),
            ).fetchall()
        return {str(key): str(value) for key, value in rows}

    def journal(self, saga_id: str | None = None) -> list[JournalRow]:
        """The journal (of one saga, or all), oldest first."""
        query = "SELECT seq, saga_id, step, kind, key, before, after, pid FROM journal"
        params: tuple[str, ...] = ()
        if saga_id is not None:
            query += " WHERE saga_id = ?"
            params = (saga_id,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY seq", params).fetchall()
        return [JournalRow(*row) for row in rows]

    def effects(self, saga_id: str, kind: str) -> Counter[int]:
        """How many ``kind`` effects each step of ``saga_id`` had."""
        return Counter(row.step for row in self.journal(saga_id) if row.kind == kind)

    def calls(self, saga_id: str | None = None) -> list[tuple[str, int, int]]:
        """Every compensation call as ``(saga_id, step, pid)``, oldest first."""
        query = "SELECT saga_id, step, pid FROM call"
        params: tuple[str, ...] = ()
        if saga_id is not None:
            query += " WHERE saga_id = ?"
            params = (saga_id,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY seq", params).fetchall()
        return [(str(s), int(step), int(pid)) for s, step, pid in rows]

    def intent_checks(self, saga_id: str) -> list[tuple[int, str | None]]:
        """Every intent check of ``saga_id``'s actions as ``(step, problem)``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT step, problem FROM intent_check WHERE saga_id = ? ORDER BY seq",
                (saga_id,),
            ).fetchall()
        return [(int(step), None if problem is None else str(problem)) for step, problem in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> EffectLedger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._lock, self._conn)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK``) under the ledger's lock."""

    def __init__(self, lock: threading.Lock, conn: sqlite3.Connection) -> None:
        self._lock = lock
        self._conn = conn

    def __enter__(self) -> sqlite3.Cursor:
        self._lock.acquire()
        try:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return cur

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        try:
            self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()


_UPSERT = (
    "INSERT INTO entry (key, value) VALUES (?, ?)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


_Change = tuple[str, str | None, str | None]
"""``(key, before, after)`` of one journaled effect."""


def _value(cur: sqlite3.Cursor, key: str) -> str | None:
    row = cur.execute("SELECT value FROM entry WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _journal(cur: sqlite3.Cursor, saga_id: str, step: int, kind: str, change: _Change) -> None:
    key, before, after = change
    cur.execute(
        "INSERT INTO journal (saga_id, step, kind, key, before, after, pid)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (saga_id, step, kind, key, before, after, os.getpid()),
    )


# -- the durable compensation ---------------------------------------------------------

_ledgers: dict[tuple[int, str], EffectLedger] = {}
_ledgers_lock = threading.Lock()


def _ledger_at(path: str) -> EffectLedger:
    """This process's connection to the ledger at ``path`` (opened on first use)."""
    key = (os.getpid(), path)
    with _ledgers_lock:
        ledger = _ledgers.get(key)
        if ledger is None:
            ledger = _ledgers[key] = EffectLedger(path)
        return ledger


def close_ledgers() -> None:
    """Close the connections the compensation opened in this process."""
    with _ledgers_lock:
        for ledger in _ledgers.values():
            ledger.close()
        _ledgers.clear()


@compensation(LEDGER_COMPENSATION_CONCURRENT, registry=REGISTRY, concurrent=True)
@compensation(LEDGER_COMPENSATION, registry=REGISTRY)
def restore_entry(args: Mapping[str, Any]) -> None:
    """Undo one published key: ``{ledger, saga_id, step, key, prior, value}``."""
    prior = args["prior"]
    _ledger_at(str(args["ledger"])).restore(
        str(args["saga_id"]),
        int(args["step"]),
        str(args["key"]),
        None if prior is None else str(prior),
        str(args["value"]),
    )


# -- the ledger saga's steps ------------------------------------------------------------


def seed_previous_generation(ledger: EffectLedger, saga_id: str, steps: int) -> dict[str, str]:
    """Write the previous generation for ``saga_id`` and return the saga's initial state.

    Besides the keys the even steps overwrite, one key no step touches is written, so
    that a compensation undoing too much would show.
    """
    for step in planned_steps(saga_id, steps):
        if step.previous is not None:
            ledger.put(step.key, step.previous)
    ledger.put(f"{saga_id}/untouched", f"old:{saga_id}:untouched")
    return ledger.snapshot(f"{saga_id}/")


class _Action:
    def __init__(
        self,
        ledger: EffectLedger,
        saga_id: str,
        step: PlannedStep,
        fail: FailMode | None,
        rollback: Compensation,
        check: IntentCheck,
    ) -> None:
        self._ledger = ledger
        self._saga_id = saga_id
        self._step = step
        self._fail = fail
        self._rollback = rollback
        self._check = check

    def __call__(self) -> str:
        # First of all, even for an action about to fail: a failed step may have partly
        # happened, so its intent must be in the log as surely as a completed one's.
        problem = self._check(self._step.index, self._rollback)
        self._ledger.record_intent_check(self._saga_id, self._step.index, problem)
        if self._fail == "refused":
            raise StepRefusedError(f"step {self._step.index} was refused")
        if self._fail == "before":
            raise StepFailedError(f"step {self._step.index} failed before writing")
        self._ledger.apply(self._saga_id, self._step.index, self._step.key, self._step.value)
        if self._fail == "after":
            raise StepFailedError(f"step {self._step.index} failed after writing")
        return self._step.value


def ledger_step(
    ledger: EffectLedger,
    saga_id: str,
    step: PlannedStep,
    *,
    check_intent: IntentCheck,
    fail: FailMode | None = None,
    concurrent: bool = False,
) -> tuple[Callable[[], str], Compensation]:
    """Step ``step``'s action and its durable compensation, planned now (before the action
    runs) from the value the ledger holds. The action first asks ``check_intent`` whether
    the saga log already holds the step's intent and notes the answer in the ledger.
    ``fail``: the action raises :class:`StepFailedError` before or after writing, or
    :class:`StepRefusedError`. Pass :func:`proves_no_effect` as the step's
    ``not_applied``."""
    rollback = Compensation(
        LEDGER_COMPENSATION_CONCURRENT if concurrent else LEDGER_COMPENSATION,
        {
            "ledger": str(ledger.path),
            "saga_id": saga_id,
            "step": step.index,
            "key": step.key,
            "prior": ledger.get(step.key),
            "value": step.value,
        },
    )
    return _Action(ledger, saga_id, step, fail, rollback, check_intent), rollback
