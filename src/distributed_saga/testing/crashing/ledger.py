"""Crash-test kit: an effect ledger, the durable compensation that undoes it, a saga runner.

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

Run as a program, the module is the process a crash test kills::

    python -m distributed_saga.testing.crashing --log-url sqlite:////tmp/sagas.db \\
        --ledger /tmp/ledger.db --saga-id s1 --steps 3 --fail-at 2 --seed

It runs one saga (optionally failing step ``K`` before or after it wrote) and prints one
JSON line; with ``DISTRIBUTED_SAGA_CRASH_AT=point:step`` in its environment the engine
kills it at that point. With ``--recover`` it runs recovery passes instead (until one
claims nothing), and the same variable kills it at a compensation point.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from distributed_saga._errors import UnknownCompensationError
from distributed_saga._records import SagaRecord, SagaState, StepState
from distributed_saga.compensations import Compensation, CompensationRegistry, compensation
from distributed_saga.faults import CRASH_AT_ENV, FaultPlan, FaultPoint
from distributed_saga.log import SagaLog, open_saga_log
from distributed_saga.recovery import RecoveryOutcome, recover_sagas
from distributed_saga.retry import RetryPolicy
from distributed_saga.saga import DistributedSaga

__all__ = [
    "LEDGER_COMPENSATION",
    "LEDGER_COMPENSATION_CONCURRENT",
    "REGISTRY",
    "CompensationBrokenError",
    "EffectLedger",
    "FailMode",
    "JournalRow",
    "LedgerConflictError",
    "PlannedStep",
    "StepFailedError",
    "StepRefusedError",
    "child_command",
    "child_env",
    "close_ledgers",
    "fast_compensation_retry",
    "fault_reached",
    "ledger_step",
    "main",
    "open_log",
    "planned_steps",
    "proves_no_effect",
    "run_recovery",
    "run_saga",
    "saga_problems",
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

_BUSY_TIMEOUT = 30.0
_MODULE = "distributed_saga.testing.crashing"


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


def _retry_unless_unknown(error: BaseException) -> bool:
    return not isinstance(error, UnknownCompensationError)


def fast_compensation_retry(attempts: int = 3) -> RetryPolicy:
    """Compensation retries with millisecond waits, so a broken one fails the saga quickly."""
    return RetryPolicy(
        attempts=attempts, base_delay=0.005, max_delay=0.02, retry_on=_retry_unless_unknown
    )


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


# -- running sagas ----------------------------------------------------------------------


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
        self, ledger: EffectLedger, saga_id: str, step: PlannedStep, fail: FailMode | None
    ) -> None:
        self._ledger = ledger
        self._saga_id = saga_id
        self._step = step
        self._fail = fail

    def __call__(self) -> str:
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
    fail: FailMode | None = None,
    concurrent: bool = False,
) -> tuple[Callable[[], str], Compensation]:
    """Step ``step``'s action and its durable compensation, planned now (before the action
    runs) from the value the ledger holds. ``fail``: the action raises
    :class:`StepFailedError` before or after writing, or :class:`StepRefusedError`. Pass
    :func:`proves_no_effect` as the step's ``not_applied``."""
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
    return _Action(ledger, saga_id, step, fail), rollback


def run_saga(
    log: SagaLog,
    ledger: EffectLedger,
    *,
    saga_id: str,
    steps: int,
    fail_at: int | None = None,
    fail_mode: FailMode = "after",
    lease_seconds: float = 1.0,
    faults: FaultPlan | None = None,
    owner: str | None = None,
    compensation_retry: RetryPolicy | None = None,
    concurrent: bool = False,
    abort: bool = False,
    lock_key: str | None = None,
) -> SagaState:
    """Run one ledger saga of ``steps`` steps to its end and return how it ended.

    Step ``fail_at`` (if any) fails as ``fail_mode`` says (see :data:`FailMode`), which
    rolls the saga back. ``faults`` defaults to ``DISTRIBUTED_SAGA_CRASH_AT``. A fault that raises
    a ``BaseException`` (a simulated crash) propagates out of this function. With
    ``concurrent`` the steps use the compensation registered as concurrent, so the engine
    undoes them in parallel. With ``abort``, a saga whose steps all succeeded is aborted
    (rolled back) instead of committed. ``lock_key`` is held by the saga until it ends.
    """
    saga = DistributedSaga(
        saga_id,
        user_id="crash-test",
        log=log,
        lock_key=lock_key,
        registry=REGISTRY,
        lease_seconds=lease_seconds,
        owner=owner,
        faults=faults,
        compensation_retry=compensation_retry or fast_compensation_retry(),
    )
    for step in planned_steps(saga_id, steps):
        fail = fail_mode if step.index == fail_at else None
        action, rollback = ledger_step(ledger, saga_id, step, fail=fail, concurrent=concurrent)
        try:
            saga.execute_step(step.name, action, rollback, not_applied=proves_no_effect)
        except StepFailedError:
            return saga.state
    if abort:
        saga.abort("the crash test aborts this saga")
    else:
        saga.commit()
    return saga.state


def fault_reached(
    point: FaultPoint,
    step: int | None,
    *,
    steps: int,
    fail_at: int | None,
    fail_mode: FailMode = "after",
    abort: bool = False,
) -> bool:
    """Whether a ledger saga of ``steps`` steps, step ``fail_at`` failing (or none), meets
    ``point`` at ``step`` (``None``: any step; ``before_commit`` has no step) before it ends.

    Going forward, every point of every step up to the failing one is met, except that a
    failing action never returns (no ``after_action``/``after_step`` for it). Going back,
    every step up to the failing one is compensated, itself included unless it was
    ``refused`` (recorded rejected); with ``abort`` and no failure, every step is.
    """
    if point is FaultPoint.BEFORE_COMMIT:
        return fail_at is None and not abort and step is None
    backward = point in (FaultPoint.BEFORE_COMPENSATION, FaultPoint.AFTER_COMPENSATION)
    if backward and fail_at is None and not abort:
        return False
    # A returning action meets after_action/after_step; a rejected step is not compensated.
    short = point in (FaultPoint.AFTER_ACTION, FaultPoint.AFTER_STEP) or (
        backward and fail_mode == "refused"
    )
    # The last step that meets the point: the failing one, or the one before it.
    last = steps - 1 if fail_at is None else fail_at - (1 if short else 0)
    return last >= 0 if step is None else 0 <= step <= last


def run_recovery(
    log: SagaLog,
    *,
    owner: str | None = None,
    lease_seconds: float = 30.0,
    limit: int = 100,
    until_empty: bool = True,
    compensation_retry: RetryPolicy | None = None,
    faults: FaultPlan | None = None,
) -> list[RecoveryOutcome]:
    """Recover expired sagas with the ledger's registry; with ``until_empty``, pass after
    pass until one claims nothing."""
    outcomes: list[RecoveryOutcome] = []
    while True:
        batch = recover_sagas(
            log,
            registry=REGISTRY,
            owner=owner,
            lease_seconds=lease_seconds,
            limit=limit,
            compensation_retry=compensation_retry or fast_compensation_retry(),
            faults=faults,
        )
        outcomes.extend(batch)
        if not batch or not until_empty:
            return outcomes


def open_log(url: str, schema: str | None = None) -> SagaLog:
    """Open a saga log URL, in PostgreSQL ``schema`` when one is given."""
    return open_saga_log(url, schema=schema) if schema else open_saga_log(url)


# -- checking outcomes ----------------------------------------------------------------


def saga_problems(
    record: SagaRecord,
    ledger: EffectLedger,
    *,
    steps: int,
    initial: Mapping[str, str],
    allow: Sequence[SagaState] = (SagaState.COMMITTED, SagaState.ROLLED_BACK),
) -> list[str]:
    """Everything wrong with a finished ledger saga; empty when it is all or nothing.

    * it ended in one of ``allow``;
    * no step has an effect without an intent in the log (intent is written first), and
      no effect happened or was undone twice;
    * a ``rejected`` step had no effect (the engine trusted it not to need undoing);
    * ``committed``: every step completed and every key holds the new value, nothing undone;
    * ``rolled_back``: every compensable step is ``compensated`` (or ``rejected``); each
      step's effect was undone exactly as often as it happened, so nothing that never
      happened was undone; the saga's keys are exactly ``initial`` again (new keys gone,
      old values back).
    """
    problems: list[str] = []
    if record.state not in allow:
        problems.append(f"saga is {record.state.value}, expected one of {[*allow]}")
    applied = ledger.effects(record.saga_id, "apply")
    undone = ledger.effects(record.saga_id, "undo")
    logged = {step.index for step in record.steps}
    problems.extend(
        f"step {index} had {count} effect(s) but no intent in the log"
        for index, count in sorted(applied.items())
        if index not in logged
    )
    problems.extend(
        f"step {index} {kind} {count} times"
        for kind, counts in (("applied", applied), ("undone", undone))
        for index, count in sorted(counts.items())
        if count > 1
    )
    problems.extend(
        f"step {step.index} is rejected but had {applied[step.index]} effect(s)"
        for step in record.steps
        if step.state is StepState.REJECTED and applied[step.index]
    )
    current = ledger.snapshot(f"{record.saga_id}/")
    if record.state is SagaState.COMMITTED:
        problems.extend(_commit_problems(record, steps, initial, current, undone))
    elif record.state is SagaState.ROLLED_BACK:
        problems.extend(_rollback_problems(record, initial, current, applied, undone))
    return problems


def _commit_problems(
    record: SagaRecord,
    steps: int,
    initial: Mapping[str, str],
    current: Mapping[str, str],
    undone: Counter[int],
) -> list[str]:
    problems: list[str] = []
    if len(record.steps) != steps or any(s.state is not StepState.COMPLETED for s in record.steps):
        problems.append(f"committed with steps {[s.state.value for s in record.steps]}")
    plan = planned_steps(record.saga_id, steps)
    expected = {**initial, **{step.key: step.value for step in plan}}
    if dict(current) != expected:
        problems.append(f"committed but the ledger is {dict(current)}, expected {expected}")
    if undone:
        problems.append(f"committed but undone: {dict(undone)}")
    return problems


def _rollback_problems(
    record: SagaRecord,
    initial: Mapping[str, str],
    current: Mapping[str, str],
    applied: Counter[int],
    undone: Counter[int],
) -> list[str]:
    problems = [
        f"rolled back but step {step.index} is {step.state.value}"
        for step in record.steps
        if step.has_compensation and step.state not in (StepState.COMPENSATED, StepState.REJECTED)
    ]
    problems.extend(
        f"step {index}: {applied[index]} effect(s), {undone[index]} undo effect(s)"
        for index in sorted(set(applied) | set(undone))
        if applied[index] != undone[index]
    )
    if dict(current) != dict(initial):
        problems.append(f"rolled back but the ledger is {dict(current)}, expected {dict(initial)}")
    return problems


# -- the process a crash test kills ---------------------------------------------------


def child_command(
    log_url: str,
    ledger: str | os.PathLike[str],
    *,
    schema: str | None = None,
    saga_id: str | None = None,
    steps: int = 3,
    fail_at: int | None = None,
    fail_mode: FailMode = "after",
    seed: bool = False,
    concurrent: bool = False,
    abort: bool = False,
    lock_key: str | None = None,
    lease_seconds: float = 1.0,
    recover: bool = False,
    limit: int = 100,
    barrier: tuple[str | os.PathLike[str], int] | None = None,
) -> list[str]:
    """The command line that runs :func:`main` in a child process with these options."""
    argv = [sys.executable, "-m", _MODULE, "--log-url", log_url, "--ledger", str(ledger)]
    argv += ["--steps", str(steps), "--fail-mode", fail_mode, "--lease-seconds", str(lease_seconds)]
    argv += ["--limit", str(limit)]
    if schema is not None:
        argv += ["--schema", schema]
    if saga_id is not None:
        argv += ["--saga-id", saga_id]
    if fail_at is not None:
        argv += ["--fail-at", str(fail_at)]
    if seed:
        argv.append("--seed")
    if concurrent:
        argv.append("--concurrent")
    if abort:
        argv.append("--abort")
    if lock_key is not None:
        argv += ["--lock-key", lock_key]
    if recover:
        argv.append("--recover")
    if barrier is not None:
        argv += ["--barrier", str(barrier[0]), "--parties", str(barrier[1])]
    return argv


def child_env(crash_at: str | None = None) -> dict[str, str]:
    """This process's environment with ``DISTRIBUTED_SAGA_CRASH_AT`` set to ``crash_at``
    (``point`` or ``point:step``), or removed."""
    env = {name: value for name, value in os.environ.items() if name != CRASH_AT_ENV}
    if crash_at:
        env[CRASH_AT_ENV] = crash_at
    return env


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m distributed_saga.testing.crashing",
        description="Run one ledger saga (or recovery passes) for a crash test.",
    )
    parser.add_argument("--log-url", required=True, help="saga log URL")
    parser.add_argument("--schema", help="PostgreSQL schema of the saga log")
    parser.add_argument("--ledger", required=True, help="path of the effect ledger file")
    parser.add_argument("--saga-id", help="the saga to run")
    parser.add_argument("--steps", type=int, default=3, help="number of steps (default 3)")
    parser.add_argument("--fail-at", type=int, help="index of the step whose action fails")
    parser.add_argument(
        "--fail-mode",
        choices=("before", "after", "refused"),
        default="after",
        help="fail before or after the step wrote, or be refused (default: after)",
    )
    parser.add_argument("--seed", action="store_true", help="write the previous generation first")
    parser.add_argument("--concurrent", action="store_true", help="use the concurrent compensation")
    parser.add_argument("--abort", action="store_true", help="abort instead of committing")
    parser.add_argument("--lock-key", help="the lock key the saga holds")
    parser.add_argument("--lease-seconds", type=float, default=1.0, help="lease (default 1 s)")
    parser.add_argument(
        "--recover", action="store_true", help="run recovery passes instead of a saga"
    )
    parser.add_argument("--limit", type=int, default=100, help="sagas claimed per pass")
    parser.add_argument(
        "--barrier", help="a directory where PARTIES processes meet before they start"
    )
    parser.add_argument("--parties", type=int, default=1, help="processes at the barrier")
    return parser


def _meet(directory: str, parties: int, timeout: float = 120.0) -> None:
    """Wait until ``parties`` processes (this one included) are ready in ``directory``,
    however long each took to import and connect, so that they really start together."""
    folder = Path(directory)
    (folder / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + timeout
    while len(list(folder.glob("ready-*"))) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only some of {parties} processes reached the barrier")
        time.sleep(0.005)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the child process; print one JSON line with the outcome."""
    args = _parser().parse_args(argv)
    log = open_log(args.log_url, args.schema)
    ledger = EffectLedger(args.ledger)
    if args.barrier is not None:
        _meet(args.barrier, args.parties)
    report: dict[str, Any] = {"pid": os.getpid()}
    if args.recover:
        # Recovery takes no fault plan from the environment on its own; a crash test of
        # the recoverer passes DISTRIBUTED_SAGA_CRASH_AT through here.
        outcomes = run_recovery(
            log, lease_seconds=args.lease_seconds, limit=args.limit, faults=FaultPlan.from_env()
        )
        report["recovered"] = [
            {
                "saga_id": o.saga_id,
                "state": o.state.value,
                "undone": o.undone,
                "remaining": o.remaining,
            }
            for o in outcomes
        ]
    else:
        if not args.saga_id:
            _parser().error("--saga-id is required to run a saga")
        if args.seed:
            seed_previous_generation(ledger, args.saga_id, args.steps)
        state = run_saga(
            log,
            ledger,
            saga_id=args.saga_id,
            steps=args.steps,
            fail_at=args.fail_at,
            fail_mode=args.fail_mode,
            lease_seconds=args.lease_seconds,
            concurrent=args.concurrent,
            abort=args.abort,
            lock_key=args.lock_key,
        )
        report.update(saga_id=args.saga_id, state=state.value)
    print(json.dumps(report), flush=True)
    ledger.close()
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
