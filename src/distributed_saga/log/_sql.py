"""The saga log in SQL, written once for SQLite and PostgreSQL.

:class:`_SqlSagaLog` holds the schema and every query. A backend supplies a few dialect
hooks (placeholder style, the database clock, column types, row locking for claims) and
:meth:`_SqlSagaLog._run`, which runs one unit of work in one transaction and translates
driver errors. Public methods own the transaction; the ``_name(cur, ...)`` helpers do the
work inside it, so "insert the step, move the saga to executing, renew the lease" is a
single commit.

Fenced writes are ``UPDATE ... WHERE saga_id = ? AND owner = ? AND state IN (...)``, the
list being the states :mod:`distributed_saga._transitions` allows the write from; when no
row matches, :meth:`_SqlSagaLog._refuse` reads the row inside the same transaction to
raise what the in-memory log would: :class:`SagaNotFoundError`, :class:`LeaseLostError`
or :class:`SagaStateError`.
"""

# Queries are assembled from this module's constants and enum values, never from caller
# text; every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Concatenate, NoReturn, ParamSpec, Protocol, TypeVar

from distributed_saga._errors import (
    LeaseLostError,
    SagaExistsError,
    SagaLockedError,
    SagaLogError,
    SagaNotFoundError,
    SagaStateError,
)
from distributed_saga._records import (
    FINISHED_STATES,
    IN_FLIGHT_STATES,
    STEP_RESULT_STATES,
    NewSaga,
    SagaRecord,
    SagaState,
    StepOutcome,
    StepRecord,
    StepState,
    check_outcome,
    check_prunable,
)
from distributed_saga._transitions import (
    BEGIN_COMPENSATION_FROM,
    FINISH_FROM,
    RECORD_COMPENSATION_FROM,
    RECORD_INTENT_FROM,
    RECORD_STEP_RESULT_FROM,
)
from distributed_saga.compensations import Compensation
from distributed_saga.log._base import SagaLog

__all__ = ["SCHEMA_VERSION", "Cursor"]

_P = ParamSpec("_P")
_T = TypeVar("_T")


class Cursor(Protocol):
    """The part of a DB-API cursor the queries use (``sqlite3`` and ``psycopg`` both fit)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


def _saga_row(saga_id: str, owner: str, new: NewSaga) -> tuple[Any, ...]:
    """The parameters of an ``insert_*_saga`` query."""
    text = json.dumps(dict(new.metadata)) if new.metadata else "{}"
    lease = float(new.lease_seconds)
    return (saga_id, new.user_id, new.lock_key, owner, lease, lease, text)


def _states(states: Iterable[SagaState]) -> str:
    """A SQL list of state literals (enum values only, never caller text)."""
    return ", ".join(f"'{SagaState(state).value}'" for state in sorted(states))


_IN_FLIGHT = _states(IN_FLIGHT_STATES)
_FINISHED = _states(FINISHED_STATES)
# The transition table (distributed_saga._transitions) as the fenced writes' IN lists.
_INTENT_FROM = _states(RECORD_INTENT_FROM)
# record_intent moves a saga to executing: first_step from the other states, next_step
# for a saga already there.
_FIRST_STEP_FROM = _states(RECORD_INTENT_FROM - {SagaState.EXECUTING})
_NEXT_STEP_FROM = _states(RECORD_INTENT_FROM & {SagaState.EXECUTING})
_RESULT_FROM = _states(RECORD_STEP_RESULT_FROM)
_COMPENSATE_FROM = _states(BEGIN_COMPENSATION_FROM)
_UNDO_RESULT_FROM = _states(RECORD_COMPENSATION_FROM)
_FINISH_FROM = {state: _states(allowed) for state, allowed in FINISH_FROM.items()}

# Keeps IN lists well under every driver's parameter limit (SQLite's default is 32766).
_CHUNK = 500

# Migrations: entry ``v`` takes a database from schema version ``v`` to ``v + 1``. Append,
# never edit: a database records the version it reached in ``saga_schema_version``.
# ``{real}``, ``{json}``, ``{bool}`` and ``{table_options}`` are dialect hooks.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE saga (
            saga_id TEXT NOT NULL PRIMARY KEY,
            user_id TEXT,
            state TEXT NOT NULL,
            lock_key TEXT,
            owner TEXT,
            lease_expires_at {real},
            lease_seconds {real} NOT NULL,
            created_at {real} NOT NULL,
            updated_at {real} NOT NULL,
            failed_at TEXT,
            error TEXT,
            metadata {json} NOT NULL
        ){table_options}""",
        # The lock key rule is the database's: check and insert are one atomic write.
        f"""CREATE UNIQUE INDEX saga_lock_key ON saga (lock_key)
            WHERE lock_key IS NOT NULL AND state NOT IN ({_FINISHED})""",
        "CREATE INDEX saga_created ON saga (created_at, saga_id)",
        # Recovery scans only owned sagas (every saga in flight has an owner), however many
        # finished ones the log keeps. Keyed on owner rather than state, the index changes
        # only when a saga is created, claimed or finished, not on every step.
        "CREATE INDEX saga_owned ON saga (created_at, saga_id) WHERE owner IS NOT NULL",
        """CREATE TABLE saga_step (
            saga_id TEXT NOT NULL REFERENCES saga (saga_id) ON DELETE CASCADE,
            step_index INTEGER NOT NULL,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            compensation TEXT,
            compensation_args {json},
            in_process_rollback {bool} NOT NULL,
            idempotency_key TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            started_at {real},
            finished_at {real},
            compensation_attempts INTEGER NOT NULL DEFAULT 0,
            compensation_error TEXT,
            compensated_at {real},
            PRIMARY KEY (saga_id, step_index)
        ){table_options}""",
    ),
    (
        # Unfinished sagas (in flight, or failed) replace owned ones in the index recovery
        # scans: it changes exactly when saga_owned did on a saga that commits (created,
        # finished), and it also serves listing the failed or in-flight sagas of a log that
        # keeps many finished ones.
        "DROP INDEX saga_owned",
        f"""CREATE INDEX saga_unfinished ON saga (created_at, saga_id)
            WHERE state NOT IN ({_FINISHED})""",
        # Each lock key's sagas, newest first, finished ones included (list_sagas by lock
        # key, page after page). Written once per saga: neither column ever changes.
        """CREATE INDEX saga_lock_history ON saga (lock_key, created_at, saga_id)
            WHERE lock_key IS NOT NULL""",
    ),
    (
        # Each user's sagas, newest first (list_sagas by user, page after page), so that
        # a user with few sagas is not found by reading everyone's. Written once per saga:
        # none of its columns ever changes. Sagas of no user are left out.
        """CREATE INDEX saga_user_history ON saga (user_id, created_at, saga_id)
            WHERE user_id IS NOT NULL""",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema version this code writes; opening a newer database is refused."""

_SAGA_COLUMNS = (
    "saga_id, user_id, state, lock_key, owner, lease_expires_at, lease_seconds,"
    " created_at, updated_at, failed_at, error, metadata"
)
_STEP_COLUMNS = (
    "saga_id, step_index, name, state, compensation, compensation_args, in_process_rollback,"
    " idempotency_key, attempts, error, started_at, finished_at, compensation_attempts,"
    " compensation_error, compensated_at"
)
# Every fenced write renews the lease from the saga's own lease_seconds.
_TOUCH = "updated_at = {now}, lease_expires_at = {now} + lease_seconds"
_FENCE = "WHERE saga_id = ? AND owner = ? AND state IN"
# The NOT IN term adds nothing to the IN but names saga_unfinished's condition, so that
# the planner may scan that index.
_EXPIRED = (
    f"owner IS NOT NULL AND state IN ({_IN_FLIGHT}) AND state NOT IN ({_FINISHED})"
    " AND (lease_expires_at IS NULL OR lease_expires_at < {now})"
)

# The states each fenced write is allowed from, by query name (for error messages).
_FENCED_FROM: dict[str, str] = {
    "first_step": _INTENT_FROM,
    "touch_for_step_result": _RESULT_FROM,
    "begin_compensation": _COMPENSATE_FROM,
    "begin_recovery": _COMPENSATE_FROM,
    "touch_for_step_compensation": _UNDO_RESULT_FROM,
    **{f"finish_{state.value}": allowed for state, allowed in _FINISH_FROM.items()},
}

# Oldest first by creation, which is never later than the last write: the range on
# created_at lets saga_created bound the scan. The batch is chosen once, as for claims
# (a subquery run again per deleted row would go on to the next few: all of them).
# {states} is filled in per call.
_PRUNE = """WITH batch AS MATERIALIZED (
        SELECT saga_id FROM saga
        WHERE created_at < ? AND updated_at < ? AND state IN ({states})
        ORDER BY created_at, saga_id LIMIT ?{skip_locked})
    DELETE FROM saga WHERE saga_id IN (SELECT saga_id FROM batch)
        AND updated_at < ? AND state IN ({states})
    RETURNING saga_id"""

_QUERIES: dict[str, str] = {
    # A saga is inserted pending (create_saga) or executing (by its first intent).
    **{
        f"insert_{state.value}_saga": f"""INSERT INTO saga (saga_id, user_id, state, lock_key,
            owner, lease_expires_at, lease_seconds, created_at, updated_at, metadata)
        VALUES (?, ?, '{state.value}', ?, ?, {{now}} + ?, ?, {{now}}, {{now}}, {{json_param}})
        ON CONFLICT DO NOTHING"""
        for state in (SagaState.PENDING, SagaState.EXECUTING)
    },
    "saga_exists": "SELECT 1 FROM saga WHERE saga_id = ?",
    "lock_holder": f"""SELECT saga_id FROM saga
        WHERE lock_key = ? AND state NOT IN ({_FINISHED})""",
    "owner_state": "SELECT owner, state FROM saga WHERE saga_id = ?",
    # A saga already executing keeps its state column untouched: assigning it would rewrite
    # the lock key index entry too (its condition reads state), one more page per commit.
    "next_step": f"UPDATE saga SET {_TOUCH} {_FENCE} ({_NEXT_STEP_FROM})",
    "first_step": f"UPDATE saga SET state = 'executing', {_TOUCH} {_FENCE} ({_FIRST_STEP_FROM})",
    "insert_step": """INSERT INTO saga_step (saga_id, step_index, name, state, compensation,
            compensation_args, in_process_rollback, idempotency_key, started_at)
        SELECT ?, ?, ?, 'started', ?, {json_param}, ?, ?, {now}
        WHERE (SELECT count(*) FROM saga_step WHERE saga_id = ?) = ?""",
    # The first step of a saga inserted in the same transaction: there is no count to check.
    "insert_first_step": """INSERT INTO saga_step (saga_id, step_index, name, state,
            compensation, compensation_args, in_process_rollback, idempotency_key, started_at)
        VALUES (?, ?, ?, 'started', ?, {json_param}, ?, ?, {now})""",
    "step_count": "SELECT count(*) FROM saga_step WHERE saga_id = ?",
    "touch_for_step_result": f"UPDATE saga SET {_TOUCH} {_FENCE} ({_RESULT_FROM})",
    "step_result": """UPDATE saga_step SET state = ?, attempts = ?, error = ?, finished_at = {now}
        WHERE saga_id = ? AND step_index = ?""",
    "begin_compensation": f"""UPDATE saga SET state = 'compensating',
            failed_at = COALESCE(?, failed_at), error = COALESCE(?, error), {_TOUCH}
        {_FENCE} ({_COMPENSATE_FROM})""",
    "touch_for_step_compensation": f"UPDATE saga SET {_TOUCH} {_FENCE} ({_UNDO_RESULT_FROM})",
    # begin_recovery: the error is recorded only where none is.
    "begin_recovery": f"""UPDATE saga SET state = 'compensating', error = COALESCE(error, ?),
            {_TOUCH}
        {_FENCE} ({_COMPENSATE_FROM})""",
    "step_compensation": """UPDATE saga_step SET state = ?,
            compensation_attempts = compensation_attempts + ?, compensation_error = ?,
            compensated_at = CASE WHEN ? THEN {now} ELSE compensated_at END
        WHERE saga_id = ? AND step_index = ?""",
    **{
        f"finish_{state.value}": f"""UPDATE saga SET state = '{state.value}', owner = NULL,
            lease_expires_at = NULL, updated_at = {{now}}
        {_FENCE} ({allowed})"""
        for state, allowed in _FINISH_FROM.items()
    },
    # The batch is chosen once (MATERIALIZED): as a subquery of the UPDATE, PostgreSQL may
    # run it again for every row it updates, and each run would lock the next few rows.
    "claim_expired": f"""WITH batch AS MATERIALIZED (
            SELECT saga_id FROM saga WHERE {_EXPIRED}
            ORDER BY created_at, saga_id LIMIT ?{{skip_locked}})
        UPDATE saga SET owner = ?, lease_seconds = ?,
            lease_expires_at = {{now}} + ?, updated_at = {{now}}
        WHERE saga_id IN (SELECT saga_id FROM batch)
        RETURNING saga_id, created_at""",
    "now": "SELECT {now}",
    "get_saga": f"SELECT {_SAGA_COLUMNS} FROM saga WHERE saga_id = ?",
    "get_steps": f"SELECT {_STEP_COLUMNS} FROM saga_step WHERE saga_id = ? ORDER BY step_index",
}


class _SqlSagaLog(SagaLog):
    """A saga log kept in SQL tables ``saga`` and ``saga_step``; see the module docstring."""

    # -- dialect hooks ----------------------------------------------------------------

    _PARAM: ClassVar[str] = "?"
    """The driver's placeholder; queries are written with ``?``."""
    _NOW: ClassVar[str]
    """SQL for the database clock's current time in epoch seconds (a float)."""
    _REAL: ClassVar[str] = "DOUBLE PRECISION"
    _JSON: ClassVar[str] = "TEXT"
    _JSON_PARAM: ClassVar[str] = "?"
    """How a JSON text parameter is written into a JSON column."""
    _BOOL: ClassVar[str] = "BOOLEAN"
    _TABLE_OPTIONS: ClassVar[str] = ""
    _SKIP_LOCKED: ClassVar[str] = ""
    """Row locking for the claim subquery, so concurrent claimers skip each other's rows."""

    @abc.abstractmethod
    def _run(
        self,
        work: Callable[Concatenate[Cursor, _P], _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Run ``work(cursor, ...)`` in one transaction: commit on return, roll back on error.

        Driver errors leave as :class:`SagaLogUnavailable` (connection-level) or
        :class:`SagaLogError`; the work's own :class:`SagaError` passes through unchanged.
        """

    def _read(
        self,
        work: Callable[Concatenate[Cursor, _P], _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        """Like :meth:`_run` for work that only reads (a backend may take lighter locks)."""
        return self._run(work, *args, **kwargs)

    def _load_json(self, value: Any) -> Any:
        """Decode a JSON column as the driver returns it (text unless overridden)."""
        return None if value is None else json.loads(value)

    # -- setup ------------------------------------------------------------------------

    @classmethod
    def _render(cls, query: str) -> str:
        sql = query.format(
            now=cls._NOW,
            json_param=cls._JSON_PARAM,
            skip_locked=cls._SKIP_LOCKED,
            real=cls._REAL,
            json=cls._JSON,
            bool=cls._BOOL,
            table_options=cls._TABLE_OPTIONS,
        )
        return sql.replace("?", cls._PARAM)

    def _prepare_queries(self) -> None:
        """Render every query for this dialect once, so a call only looks its text up."""
        self._sql = {name: self._render(query) for name, query in _QUERIES.items()}

    def _dynamic(self, query: str) -> str:
        """Render a query built per call (IN lists), keeping it for the next call."""
        sql = self._sql.get(query)
        if sql is None:
            sql = self._sql[query] = self._render(query)
        return sql

    def _migrate(self, cur: Cursor) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION` (call inside a write transaction)."""
        cur.execute("CREATE TABLE IF NOT EXISTS saga_schema_version (version INTEGER NOT NULL)")
        cur.execute("SELECT max(version) FROM saga_schema_version")
        found = cur.fetchone()[0]
        version = 0 if found is None else int(found)
        if version > SCHEMA_VERSION:
            raise SagaLogError(
                f"saga log schema version {version} is newer than this code's "
                f"{SCHEMA_VERSION}; upgrade the software before opening {self.url}"
            )
        for migration in _MIGRATIONS[version:]:
            for statement in migration:
                cur.execute(self._render(statement))
        if version < SCHEMA_VERSION:
            cur.execute("DELETE FROM saga_schema_version")
            cur.execute(
                self._render("INSERT INTO saga_schema_version (version) VALUES (?)"),
                (SCHEMA_VERSION,),
            )

    # -- creating and advancing a saga ------------------------------------------------

    def create_saga(
        self,
        saga_id: str,
        user_id: str | None,
        *,
        owner: str,
        lease_seconds: float,
        lock_key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        row = _saga_row(saga_id, owner, NewSaga(user_id, lease_seconds, lock_key, metadata))
        self._creating(self._create_saga, row)

    def _creating(
        self, work: Callable[..., bool], row: Sequence[Any], *rest: Sequence[Any]
    ) -> None:
        """Run ``work(cursor, row, *rest)``, a transaction inserting the saga ``row``, until
        it does not return ``False``.

        On PostgreSQL a conflicting holder can finish between our insert and our look-up;
        then nothing explains the conflict and the insert is simply tried again."""
        for _ in range(3):
            if self._run(work, row, *rest):
                return
        raise SagaLogError(f"could not create saga {row[0]!r}: lock {row[2]!r} kept changing")

    def _create_saga(self, cur: Cursor, row: Sequence[Any]) -> bool:
        """Insert the saga ``row`` pending; see :meth:`_insert_saga`."""
        return self._insert_saga(cur, "insert_pending_saga", row)

    def _insert_saga(self, cur: Cursor, query: str, row: Sequence[Any]) -> bool:
        """Insert the saga ``row``; ``False`` if a conflict vanished before it was explained."""
        cur.execute(self._sql[query], row)
        if cur.rowcount == 1:
            return True
        # ON CONFLICT DO NOTHING covers both unique rules; the id is checked first, as the
        # in-memory log does.
        saga_id, _, lock_key = row[:3]
        if cur.execute(self._sql["saga_exists"], (saga_id,)).fetchone() is not None:
            raise SagaExistsError(saga_id)
        holder = cur.execute(self._sql["lock_holder"], (lock_key,)).fetchone()
        if holder is not None and lock_key is not None:
            raise SagaLockedError(lock_key, holder[0])
        return False

    def record_intent(
        self,
        saga_id: str,
        owner: str,
        *,
        index: int,
        name: str,
        compensation: Compensation | None,
        in_process_rollback: bool,
        idempotency_key: str | None,
        completed: StepOutcome | None = None,
        create: NewSaga | None = None,
    ) -> None:
        undo, args = (compensation.name, compensation.args_json) if compensation else (None, None)
        step = (saga_id, index, name, undo, args, in_process_rollback, idempotency_key)
        if create is None:
            self._run(self._record_intent, saga_id, owner, index, step, completed)
            return
        if index != 0 or completed is not None:
            raise ValueError("the intent that creates a saga is step 0's, with no outcome")
        self._creating(self._create_with_intent, _saga_row(saga_id, owner, create), step)

    def _create_with_intent(self, cur: Cursor, row: Sequence[Any], step: Sequence[Any]) -> bool:
        """Insert the saga ``row`` executing, with its first ``step``, or insert nothing."""
        if not self._insert_saga(cur, "insert_executing_saga", row):
            return False
        cur.execute(self._sql["insert_first_step"], step)
        return True

    def _record_intent(
        self,
        cur: Cursor,
        saga_id: str,
        owner: str,
        index: int,
        step: Sequence[Any],
        completed: StepOutcome | None,
    ) -> None:
        if index == 0:
            # The first step moves the saga out of pending; later ones leave the state
            # column alone (see next_step), so each needs one fenced UPDATE, not two.
            self._fenced(cur, "first_step", saga_id, owner)
        else:
            cur.execute(self._sql["next_step"], (saga_id, owner))
            if cur.rowcount == 0:
                self._fenced(cur, "first_step", saga_id, owner)
        if completed is not None:
            self._record_outcome(cur, saga_id, completed)
        cur.execute(self._sql["insert_step"], (*step, saga_id, index))
        if cur.rowcount == 0:
            steps = cur.execute(self._sql["step_count"], (saga_id,)).fetchone()[0]
            raise SagaStateError(f"saga {saga_id!r} has {steps} steps; cannot record step {index}")

    def record_step_result(
        self,
        saga_id: str,
        owner: str,
        *,
        index: int,
        state: StepState,
        attempts: int,
        error: str | None = None,
    ) -> None:
        if state not in STEP_RESULT_STATES:
            raise ValueError(f"a step's result is completed, failed or rejected, not {state}")
        changes = (StepState(state).value, attempts, error)
        self._run(self._update_step, "step_result", saga_id, owner, index=index, changes=changes)

    def begin_compensation(
        self, saga_id: str, owner: str, *, failed_at: str | None, error: str | None
    ) -> None:
        self._run(self._fenced, "begin_compensation", saga_id, owner, failed_at, error)

    def begin_recovery(self, saga_id: str, owner: str, *, error: str | None) -> SagaRecord:
        return self._run(self._begin_recovery, saga_id, owner, error)

    def _begin_recovery(
        self, cur: Cursor, saga_id: str, owner: str, error: str | None
    ) -> SagaRecord:
        self._fenced(cur, "begin_recovery", saga_id, owner, error)
        return self._get_saga(cur, saga_id)

    def record_compensation(
        self,
        saga_id: str,
        owner: str,
        *,
        index: int,
        succeeded: bool,
        attempts: int,
        error: str | None = None,
    ) -> None:
        state = StepState.COMPENSATED if succeeded else StepState.COMPENSATION_FAILED
        changes = (state.value, attempts, None if succeeded else error, succeeded)
        self._run(
            self._update_step, "step_compensation", saga_id, owner, index=index, changes=changes
        )

    def _update_step(
        self,
        cur: Cursor,
        query: str,
        saga_id: str,
        owner: str,
        *,
        index: int,
        changes: Sequence[Any],
    ) -> None:
        """Renew the saga's lease (fenced), then apply ``changes`` to step ``index``."""
        self._fenced(cur, f"touch_for_{query}", saga_id, owner)
        cur.execute(self._sql[query], (*changes, saga_id, index))
        if cur.rowcount == 0:
            raise SagaStateError(f"saga {saga_id!r} has no step {index}")

    def finish_saga(
        self,
        saga_id: str,
        owner: str,
        state: SagaState,
        *,
        completed: StepOutcome | None = None,
    ) -> None:
        if state not in _FINISH_FROM:
            raise ValueError(f"a saga finishes committed, rolled_back or failed, not {state}")
        self._run(self._finish_saga, saga_id, owner, SagaState(state), completed)

    def _finish_saga(
        self,
        cur: Cursor,
        saga_id: str,
        owner: str,
        state: SagaState,
        completed: StepOutcome | None,
    ) -> None:
        self._fenced(cur, f"finish_{state.value}", saga_id, owner)
        if completed is not None:
            self._record_outcome(cur, saga_id, completed)

    def _record_outcome(self, cur: Cursor, saga_id: str, outcome: StepOutcome) -> None:
        """Write a step's outcome (the caller has fenced and touched the saga)."""
        check_outcome(outcome)
        values = (outcome.state.value, outcome.attempts, outcome.error, saga_id, outcome.step_index)
        cur.execute(self._sql["step_result"], values)
        if cur.rowcount == 0:
            raise SagaStateError(f"saga {saga_id!r} has no step {outcome.step_index}")

    def _fenced(self, cur: Cursor, query: str, saga_id: str, owner: str, *params: Any) -> None:
        """Run the fenced ``UPDATE`` named ``query``: ``params``, then saga id and owner."""
        cur.execute(self._sql[query], (*params, saga_id, owner))
        if cur.rowcount == 0:
            self._refuse(cur, saga_id, owner, _FENCED_FROM[query])

    def _refuse(self, cur: Cursor, saga_id: str, owner: str, allowed: str) -> NoReturn:
        """Explain why a fenced write matched no row, in the in-memory log's order."""
        row = cur.execute(self._sql["owner_state"], (saga_id,)).fetchone()
        if row is None:
            raise SagaNotFoundError(saga_id)
        if row[0] != owner:
            raise LeaseLostError(saga_id, owner)
        raise SagaStateError(f"saga {saga_id!r} is {row[1]}, not one of {allowed}")

    # -- leases -----------------------------------------------------------------------

    def renew_leases(self, owner: str, saga_ids: Collection[str]) -> int:
        ids = list(dict.fromkeys(saga_ids))
        if not ids:
            return 0
        return self._run(self._renew_leases, owner, ids)

    def _renew_leases(self, cur: Cursor, owner: str, ids: list[str]) -> int:
        renewed = 0
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            cur.execute(
                self._dynamic(
                    f"UPDATE saga SET {_TOUCH} WHERE owner = ? AND state IN ({_IN_FLIGHT})"
                    f" AND saga_id IN ({', '.join('?' * len(chunk))})"
                ),
                (owner, *chunk),
            )
            renewed += cur.rowcount
        return renewed

    def claim_expired(self, owner: str, lease_seconds: float, *, limit: int = 100) -> list[str]:
        if limit <= 0:
            return []
        return self._run(self._claim_expired, owner, lease_seconds, limit)

    def _claim_expired(
        self, cur: Cursor, owner: str, lease_seconds: float, limit: int
    ) -> list[str]:
        cur.execute(self._sql["claim_expired"], (limit, owner, lease_seconds, lease_seconds))
        # RETURNING follows no ORDER BY, so the order is restored here.
        claimed = sorted(cur.fetchall(), key=lambda row: (row[1], row[0]))
        return [row[0] for row in claimed]

    def claim_saga(
        self,
        saga_id: str,
        owner: str,
        lease_seconds: float,
        *,
        from_states: Collection[SagaState],
    ) -> SagaRecord:
        states = sorted({SagaState(state).value for state in from_states})
        return self._run(self._claim_saga, saga_id, owner, lease_seconds, states)

    def _claim_saga(
        self, cur: Cursor, saga_id: str, owner: str, lease_seconds: float, states: list[str]
    ) -> SagaRecord:
        if states:
            cur.execute(
                self._dynamic(
                    "UPDATE saga SET owner = ?, lease_seconds = ?, lease_expires_at = {now} + ?,"
                    " updated_at = {now}"
                    f" WHERE saga_id = ? AND state IN ({', '.join('?' * len(states))})"
                    f" AND NOT (state IN ({_IN_FLIGHT}) AND lease_expires_at IS NOT NULL"
                    " AND lease_expires_at >= {now} AND (owner IS NULL OR owner <> ?))"
                ),
                (owner, lease_seconds, lease_seconds, saga_id, *states, owner),
            )
        if not states or cur.rowcount == 0:
            row = cur.execute(self._sql["owner_state"], (saga_id,)).fetchone()
            if row is None:
                raise SagaNotFoundError(saga_id)
            if row[1] not in states:
                raise SagaStateError(f"saga {saga_id!r} is {row[1]}, not claimable")
            raise SagaStateError(f"saga {saga_id!r} is still leased by {row[0]!r}")
        return self._get_saga(cur, saga_id)

    # -- reading ----------------------------------------------------------------------

    def get_saga(self, saga_id: str) -> SagaRecord:
        return self._read(self._get_saga, saga_id)

    def _get_saga(self, cur: Cursor, saga_id: str) -> SagaRecord:
        row = cur.execute(self._sql["get_saga"], (saga_id,)).fetchone()
        if row is None:
            raise SagaNotFoundError(saga_id)
        steps = cur.execute(self._sql["get_steps"], (saga_id,)).fetchall()
        return self._saga(row, tuple(self._step(step) for step in steps))

    def list_sagas(
        self,
        *,
        states: Collection[SagaState] | None = None,
        lock_key: str | None = None,
        user_id: str | None = None,
        limit: int = 100,
        before: tuple[float, str] | None = None,
    ) -> list[SagaRecord]:
        values = None if states is None else sorted({SagaState(s).value for s in states})
        if limit <= 0 or values == []:
            return []
        return self._read(self._list_sagas, values, lock_key, user_id, limit, before)

    def _list_sagas(
        self,
        cur: Cursor,
        states: list[str] | None,
        lock_key: str | None,
        user_id: str | None,
        limit: int,
        before: tuple[float, str] | None,
    ) -> list[SagaRecord]:
        query, params = self._page_query(states, lock_key, user_id, limit, before)
        cur.execute(self._dynamic(query), params)
        rows = cur.fetchall()
        steps: dict[str, list[StepRecord]] = {row[0]: [] for row in rows}
        ids = list(steps)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            cur.execute(
                self._dynamic(
                    f"SELECT {_STEP_COLUMNS} FROM saga_step"
                    f" WHERE saga_id IN ({', '.join('?' * len(chunk))})"
                    " ORDER BY saga_id, step_index"
                ),
                chunk,
            )
            for step_row in cur.fetchall():
                steps[step_row[0]].append(self._step(step_row))
        return [self._saga(row, tuple(steps[row[0]])) for row in rows]

    @staticmethod
    def _page_query(
        states: list[str] | None,
        lock_key: str | None,
        user_id: str | None,
        limit: int,
        before: tuple[float, str] | None,
    ) -> tuple[str, tuple[Any, ...]]:
        """The ``SELECT`` of one :meth:`list_sagas` page of saga rows, and its parameters."""
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(states)
            if not set(states) & {state.value for state in FINISHED_STATES}:
                where.append(f"state NOT IN ({_FINISHED})")  # saga_unfinished may serve
        if lock_key is not None:
            where.append("lock_key = ?")
            params.append(lock_key)
        if user_id is not None:
            where.append("user_id = ?")  # saga_user_history may serve
            params.append(user_id)
        if before is not None:
            # A row value, which both dialects turn into a range on the index: each page
            # starts where the last one ended instead of skipping the pages before it.
            where.append("(created_at, saga_id) < (?, ?)")
            params.extend((float(before[0]), str(before[1])))
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        query = (
            f"SELECT {_SAGA_COLUMNS} FROM saga{clause}"
            " ORDER BY created_at DESC, saga_id DESC LIMIT ?"
        )
        return query, (*params, limit)

    def count_sagas(
        self,
        *,
        states: Collection[SagaState] | None = None,
        lease_expired_for: float | None = None,
    ) -> int:
        if lease_expired_for is not None and lease_expired_for < 0:
            raise ValueError("lease_expired_for cannot be negative")
        values = None if states is None else sorted({SagaState(s).value for s in states})
        if values == []:
            return 0
        return self._read(self._count_sagas, values, lease_expired_for)

    def _count_sagas(
        self, cur: Cursor, states: list[str] | None, lease_expired_for: float | None
    ) -> int:
        where: list[str] = []
        params: list[Any] = []
        if states is not None:
            where.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(states)
        if lease_expired_for is not None:
            # claim_expired's condition, its clock moved back by lease_expired_for.
            where.append(_EXPIRED.replace("{now}", "{now} - ?"))
            params.append(float(lease_expired_for))
        elif states is not None and not set(states) & {s.value for s in FINISHED_STATES}:
            where.append(f"state NOT IN ({_FINISHED})")  # saga_unfinished may serve
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        cur.execute(self._dynamic(f"SELECT count(*) FROM saga{clause}"), params)
        return int(cur.fetchone()[0])

    # -- retention --------------------------------------------------------------------

    def prune_batch(
        self,
        older_than_seconds: float,
        *,
        states: Collection[SagaState] = FINISHED_STATES,
        limit: int = 500,
    ) -> int:
        chosen = check_prunable(states)
        if older_than_seconds < 0:
            raise ValueError("older_than_seconds cannot be negative")
        if limit <= 0 or not chosen:
            return 0
        return self._run(self._prune, float(older_than_seconds), _states(chosen), limit)

    def _prune(self, cur: Cursor, older_than_seconds: float, states: str, limit: int) -> int:
        # One cutoff for the whole batch, on the log's clock; the steps go with their saga
        # (ON DELETE CASCADE).
        cutoff = cur.execute(self._sql["now"]).fetchone()[0] - older_than_seconds
        query = self._dynamic(_PRUNE.replace("{states}", states))
        cur.execute(query, (cutoff, cutoff, limit, cutoff))
        return len(cur.fetchall())

    def _saga(self, row: Sequence[Any], steps: tuple[StepRecord, ...]) -> SagaRecord:
        return SagaRecord(
            saga_id=row[0],
            user_id=row[1],
            state=SagaState(row[2]),
            lock_key=row[3],
            owner=row[4],
            lease_expires_at=row[5],
            lease_seconds=row[6],
            created_at=row[7],
            updated_at=row[8],
            failed_at=row[9],
            error=row[10],
            metadata=self._load_json(row[11]),
            steps=steps,
        )

    def _step(self, row: Sequence[Any]) -> StepRecord:
        return StepRecord(
            saga_id=row[0],
            index=row[1],
            name=row[2],
            state=StepState(row[3]),
            compensation=row[4],
            compensation_args=self._load_json(row[5]),
            in_process_rollback=bool(row[6]),
            idempotency_key=row[7],
            attempts=row[8],
            error=row[9],
            started_at=row[10],
            finished_at=row[11],
            compensation_attempts=row[12],
            compensation_error=row[13],
            compensated_at=row[14],
        )
