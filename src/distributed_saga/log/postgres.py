"""``postgresql://`` — a saga log in PostgreSQL, shared by processes on several machines.

Needs psycopg 3 (``pip install 'wikisaga[postgres]'``), imported when a log is opened.
Lease times come from the server's clock; concurrent recoverers claim with
``FOR UPDATE SKIP LOCKED``, so no two receive the same saga.

Round trips
    Each write a saga makes on its way (its creation with the first intent, the next
    intents with the previous step's outcome, the commit with the last step's, every
    compensation's record) is **one statement in autocommit**: one round trip, its own
    transaction, no ``BEGIN`` and ``COMMIT`` of its own. Where the shared SQL takes several
    statements, a data-modifying CTE does the same in one: the fenced ``UPDATE saga``
    carries every condition the write depends on (owner, state, the step count, the step
    to update existing), and the step writes read the saga id from its ``RETURNING``, so
    the statement writes everything or, when any condition fails, nothing. Nothing written
    means nothing to undo: the call then runs the shared multi-statement transaction,
    which either succeeds (a condition changed meanwhile) or raises what the in-memory log
    would. Statements are prepared by psycopg after a few uses (``prepare_threshold``).

Group commit
    Threads sharing one opened log write through a :class:`~._group_commit.GroupCommit`: a
    write made while a batch is on its way queues, unless a second place
    (``batches_in_flight``) is free and as many writes are queued as the last batch carried,
    in which case it leads them at once. Queued writes go together in the next batch, as one
    transaction sent in one message (one round trip, one commit): ``BEGIN``, an ``EXECUTE``
    of each write's statement, prepared once per connection, with its values bound by
    psycopg's client-side binding, then ``COMMIT``. Each caller returns only once its own
    write is committed, with its own result; a batch the server refuses (a deadlock, an
    error in one statement) is rolled back whole and each of its writes runs again on its
    own. A lone write runs at once, as before. Batched writes cost the server about half the
    CPU of the same writes one by one. With two batches on their way, on two connections,
    the server executes one while the other's commit is being synced: about a sixth more
    sagas a second at 16 threads than one batch at a time where a commit's sync is slow, as
    many where it is quick (``bench/concurrency.py``); ``batches_in_flight=1`` sends one at
    a time, ``group_commit=False`` turns batching off. While both batches wait on row locks
    in the server, the writes queued behind them wait too.

Frozen processes
    A call the shared SQL runs as a transaction of several statements (a write whose
    one-statement form wrote nothing, a claim, a lease renewal, a prune) holds its rows'
    locks from its first statement to its ``COMMIT``, several round trips apart. A
    process frozen in between (a stopped process, a paused VM, a network partition) would
    keep them for as long as it stays frozen: no other process sharing the database could
    recover or claim those sagas (``claim_expired`` skips locked rows, ``claim_saga`` and
    writes wait on them).
    Log transactions take milliseconds, so every pooled session sets
    ``idle_in_transaction_session_timeout`` (``idle_transaction_timeout``, 10 s by
    default): the server ends a session idle inside a transaction that long, rolling the
    transaction back and releasing its locks. Woken up, the process finds its next
    statement or its ``COMMIT`` refused (SQLSTATE 25P03): the call raises
    :class:`~distributed_saga.SagaLogUnavailable` saying the server ended the transaction
    for idling and that it was not committed, and is not run again (the engine above
    handles it as any unavailable log; another process may have claimed the saga
    meanwhile, which its next fenced write tells it). The broken connection is closed,
    never pooled again, and the next call opens a new one. One-statement writes and
    group-commit batches leave no transaction open between round trips.
"""

# Queries are assembled from the shared SQL's constants and enum values, never from caller
# text; every value travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from distributed_saga._errors import SagaLogError, SagaLogUnavailable, SagaNotFoundError
from distributed_saga._records import (
    STEP_RESULT_STATES,
    NewSaga,
    SagaRecord,
    SagaState,
    StepOutcome,
    StepState,
    check_outcome,
)
from distributed_saga.compensations import Compensation
from distributed_saga.log._group_commit import GroupCommit, Write
from distributed_saga.log._sql import (
    _COMPENSATE_FROM,
    _FENCE,
    _FINISH_FROM,
    _NEXT_STEP_FROM,
    _QUERIES,
    _RESULT_FROM,
    _SAGA_COLUMNS,
    _STEP_COLUMNS,
    _TOUCH,
    _UNDO_RESULT_FROM,
    Cursor,
    _saga_row,
    _SqlSagaLog,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresSagaLog"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

# SQLSTATE classes meaning "the server did not answer": connection exception (08),
# insufficient resources such as too many connections (53), operator intervention
# such as shutdown or a statement timeout (57).
_UNAVAILABLE_CLASSES = ("08", "53", "57")
# Serialises schema creation between processes opening a new database at once.
_SCHEMA_LOCK = 0x5A6A_5A6A
# The largest idle_in_transaction_session_timeout the server takes, in milliseconds.
_MAX_IDLE_TIMEOUT_MS = 2**31 - 1

# One statement per write (see the module docstring). Each fenced UPDATE of the saga row
# holds every condition of the write, and the step writes depend on its RETURNING, so a
# statement writes all or nothing.
_STEP_EXISTS = "EXISTS (SELECT 1 FROM saga_step WHERE saga_id = ? AND step_index = ?)"
_INSERT_STEP = """INSERT INTO saga_step (saga_id, step_index, name, state, compensation,
        compensation_args, in_process_rollback, idempotency_key, started_at)
    SELECT saga_id, ?, ?, 'started', ?, {json_param}, ?, ?, {now} FROM fenced"""
_OUTCOME = """outcome AS (UPDATE saga_step
        SET state = ?, attempts = ?, error = ?, finished_at = {now}
        WHERE saga_id = (SELECT saga_id FROM fenced) AND step_index = ? RETURNING 1)"""


def _columns(table: str, columns: str) -> str:
    return ", ".join(f"{table}.{column.strip()}" for column in columns.split(","))


# Sagas with their steps in one statement: one row per step (a saga without steps: one
# row of NULL step columns), the saga's columns first, a saga's rows together.
_WITH_STEPS = f"""SELECT {_columns("s", _SAGA_COLUMNS)}, {_columns("st", _STEP_COLUMNS)}
    FROM {{saga}} s LEFT JOIN saga_step st ON st.saga_id = s.saga_id{{where}}
    ORDER BY {{order}}st.step_index"""
_SAGA_WIDTH = len(_SAGA_COLUMNS.split(","))

_ONE_STATEMENT: dict[str, str] = {
    "get_saga": _WITH_STEPS.format(saga="saga", where=" WHERE s.saga_id = ?", order=""),
    # Recovery's first write, returning the saga as written with its steps.
    "begin_recovery": f"""WITH fenced AS (UPDATE saga
            SET state = 'compensating', error = COALESCE(error, ?), {_TOUCH}
            {_FENCE} ({_COMPENSATE_FROM}) RETURNING {_SAGA_COLUMNS})
        """
    + _WITH_STEPS.format(saga="fenced", where="", order=""),
    "create_with_intent": """WITH fenced AS (
            INSERT INTO saga (saga_id, user_id, state, lock_key, owner, lease_expires_at,
                lease_seconds, created_at, updated_at, metadata)
            VALUES (?, ?, 'executing', ?, ?, {now} + ?, ?, {now}, {now}, {json_param})
            ON CONFLICT DO NOTHING RETURNING saga_id)
        """
    + _INSERT_STEP,
    # The next intent: the step count is checked on the saga's fence, which keeps the
    # state column untouched (see next_step in the shared SQL).
    "next_intent": f"""WITH fenced AS (UPDATE saga SET {_TOUCH} {_FENCE} ({_NEXT_STEP_FROM})
            AND (SELECT count(*) FROM saga_step WHERE saga_id = ?) = ? RETURNING saga_id)
        """
    + _INSERT_STEP,
    "next_intent_after": f"""WITH fenced AS (UPDATE saga SET {_TOUCH} {_FENCE} ({_NEXT_STEP_FROM})
            AND (SELECT count(*) FROM saga_step WHERE saga_id = ?) = ? AND {_STEP_EXISTS}
            RETURNING saga_id),
        {_OUTCOME}
        """
    + _INSERT_STEP,
    "step_result": f"""WITH fenced AS (UPDATE saga SET {_TOUCH} {_FENCE} ({_RESULT_FROM})
            AND {_STEP_EXISTS} RETURNING saga_id)
        UPDATE saga_step SET state = ?, attempts = ?, error = ?, finished_at = {{now}}
        WHERE saga_id = (SELECT saga_id FROM fenced) AND step_index = ?""",
    "step_compensation": f"""WITH fenced AS (UPDATE saga SET {_TOUCH} {_FENCE} ({_UNDO_RESULT_FROM})
            AND {_STEP_EXISTS} RETURNING saga_id)
        UPDATE saga_step SET state = ?,
            compensation_attempts = compensation_attempts + ?, compensation_error = ?,
            compensated_at = CASE WHEN ? THEN {{now}} ELSE compensated_at END
        WHERE saga_id = (SELECT saga_id FROM fenced) AND step_index = ?""",
    "begin_compensation": _QUERIES["begin_compensation"],
    **{f"finish_{state.value}": _QUERIES[f"finish_{state.value}"] for state in _FINISH_FROM},
    **{
        f"finish_{state.value}_after": f"""WITH fenced AS (UPDATE saga
                SET state = '{state.value}', owner = NULL, lease_expires_at = NULL,
                    updated_at = {{now}}
                {_FENCE} ({allowed}) AND {_STEP_EXISTS} RETURNING saga_id)
            UPDATE saga_step SET state = ?, attempts = ?, error = ?, finished_at = {{now}}
            WHERE saga_id = (SELECT saga_id FROM fenced) AND step_index = ?"""
        for state, allowed in _FINISH_FROM.items()
    },
}
_ONE_STATEMENT_WRITES = tuple(
    name for name in _ONE_STATEMENT if name not in ("get_saga", "begin_recovery")
)
"""The one-statement writes, which go through group commit (the other two are reads)."""


class PostgresSagaLog(_SqlSagaLog):
    """A saga log in the PostgreSQL database named by ``conninfo`` (a URL or ``key=value``).

    ``schema``, when given, is created if absent and holds the log's tables (it is put
    first on each connection's ``search_path``). Up to ``pool_size`` connections are
    opened, one per concurrent call; a connection that breaks is replaced on the next call.
    ``connect_timeout`` (seconds) applies unless ``conninfo`` sets its own.
    ``idle_transaction_timeout`` (seconds, positive and finite) is how long the server
    lets a session of this log sit idle inside a transaction before it ends the session,
    rolling the transaction back: the bound on how long a frozen process's row locks can
    block the others (module docstring, "Frozen processes"). Each pooled session sets it,
    in whole milliseconds rounded up, at most the server's 2147483647.
    ``group_commit`` commits concurrent one-statement writes together (module docstring),
    up to ``batches_in_flight`` batches at a time (at most ``pool_size``; default 2).
    """

    _PARAM = "%s"
    _NOW = "CAST(extract(epoch FROM clock_timestamp()) AS DOUBLE PRECISION)"
    _JSON = "JSONB"
    _JSON_PARAM = "CAST(? AS JSONB)"
    _SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str | None = None,
        pool_size: int = 4,
        connect_timeout: float = 10.0,
        idle_transaction_timeout: float = 10.0,
        group_commit: bool = True,
        batches_in_flight: int = 2,
    ) -> None:
        self._idle_timeout_ms = _idle_timeout_ms(idle_transaction_timeout)
        try:
            import psycopg  # noqa: PLC0415 - optional dependency, needed only here
            from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: PLC0415
        except ImportError as exc:
            raise SagaLogError(
                "a PostgreSQL saga log needs psycopg 3: pip install 'wikisaga[postgres]'"
            ) from exc
        if pool_size < 1:
            raise ValueError(f"pool_size must be at least 1, not {pool_size}")
        if batches_in_flight < 1:
            raise ValueError(f"batches_in_flight must be at least 1, not {batches_in_flight}")
        self._psycopg = psycopg
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.Error:
            # Not chained: the driver's message may quote the conninfo, password and all.
            raise SagaLogError("invalid PostgreSQL conninfo (URL or key=value)") from None
        if "://" in conninfo:
            self.url = _redact_url(conninfo)
        else:
            self.url = make_conninfo("", **{k: v for k, v in params.items() if k != "password"})
        if "connect_timeout" not in params:
            conninfo = make_conninfo(conninfo, connect_timeout=max(1, round(connect_timeout)))
        self._conninfo = conninfo
        self._schema_name = schema
        self._schema = None if schema is None else _quote(schema)
        self._prepare_queries()
        self._sql.update(
            {f"pg_{name}": self._render(query) for name, query in _ONE_STATEMENT.items()}
        )
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._slots = threading.BoundedSemaphore(pool_size)
        self._closed = False
        self._group: GroupCommit[bool] | None = (
            GroupCommit(self._write_batch, in_flight=min(batches_in_flight, pool_size))
            if group_commit
            else None
        )
        # Group commit's statements, prepared by name on each connection that runs a
        # batch (its first batch prepares them).
        self._batch_names = {
            self._sql[f"pg_{name}"]: f"saga_log_{name}" for name in _ONE_STATEMENT_WRITES
        }
        self._prepared: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
        try:
            self._run(self._setup)
        except BaseException:
            self.close()
            raise

    @classmethod
    def from_url(cls, url: str, **options: Any) -> PostgresSagaLog:
        """Open ``postgresql://user:password@host:port/dbname``; ``options`` as for the class."""
        return cls(url, **options)

    def _setup(self, cur: Cursor) -> None:
        cur.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        if self._schema is not None:
            # Looked up first: CREATE SCHEMA IF NOT EXISTS needs the database's CREATE
            # privilege even when the schema exists, which an application role may lack.
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema_name,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE SCHEMA {self._schema}")
        self._migrate(cur)

    def _load_json(self, value: Any) -> Any:
        return value  # psycopg decodes JSONB itself

    # -- connections ------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        # Autocommit: a one-statement write is its own transaction; _run begins its own.
        # The session's settings in one round trip: the idle timeout ends a transaction
        # this process leaves open while frozen (module docstring), the schema first on
        # the search path.
        conn = self._psycopg.connect(self._conninfo, autocommit=True)
        settings = [("idle_in_transaction_session_timeout", str(self._idle_timeout_ms))]
        if self._schema is not None:
            settings.append(("search_path", self._schema))
        try:
            conn.execute(
                "SELECT " + ", ".join(["set_config(%s, %s, false)"] * len(settings)),
                [value for setting in settings for value in setting],
            )
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection, returned to the pool afterwards; driver errors translated.

        On an error, a transaction left open is rolled back (the connection is closed
        when even that fails: its state is unknown, and the next call connects afresh).
        A broken connection (lost, or its session ended by the server, as for idling in
        a transaction) is closed by :meth:`_release`, never pooled again."""
        psycopg = self._psycopg
        self._slots.acquire()
        conn = None
        try:
            with self._lock:
                if self._closed:
                    raise SagaLogError(f"saga log {self.url} is closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                conn = self._connect()
            yield conn
        except BaseException as exc:
            if conn is not None and not conn.broken and not conn.closed:
                try:
                    conn.rollback()
                except psycopg.Error:
                    conn.close()
            if isinstance(exc, psycopg.Error):
                raise self._translate(exc) from exc
            raise
        finally:
            if conn is not None:
                self._release(conn)
            self._slots.release()

    def _run(
        self,
        work: Callable[Concatenate[Cursor, _P], _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> _T:
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute("BEGIN")
            result = work(cur, *args, **kwargs)
            conn.commit()
            return result

    def _write_once(self, query: str, params: Sequence[Any]) -> bool:
        """Run the one-statement write ``query`` as its own transaction; whether it wrote.

        ``False`` means it wrote nothing (a condition of the write failed): the caller
        then runs the shared transaction, which explains why or, if things changed
        meanwhile, succeeds."""
        if self._group is None:
            return self._write_alone(self._sql[query], params)
        return self._group.submit(self._sql[query], params)

    @property
    def group_commit(self) -> GroupCommit[bool] | None:
        """The batching of concurrent writes (``None`` when opened with
        ``group_commit=False``): its ``batches`` and ``writes`` say how many writes each
        commit carried, its ``waiting`` how many are queued now."""
        return self._group

    def _write_alone(self, query: str, params: Sequence[Any]) -> bool:
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.rowcount > 0

    def _write_batch(self, writes: list[Write[bool]]) -> None:
        """Run concurrent one-statement writes as one transaction (group commit).

        The statements go in one message (:meth:`_run_prepared`): one round trip, one
        commit. They are independent conditional writes (each fenced on its own saga), so
        the transaction's outcome is each one's as if it had run alone. When the server
        refuses one (a unique key, a deadlock), the transaction is rolled back, nothing of
        it is written, and each write runs again on its own, getting its own result or
        error. A connection lost on the way leaves the outcome unknown, as it would for a
        single write: every write of the batch raises :class:`SagaLogUnavailable`.
        """
        if len(writes) == 1:
            self._settle_alone(writes[0])
            return
        psycopg = self._psycopg
        counts: list[int] | None = None
        with self._connection() as conn:
            try:
                counts = self._run_prepared(conn, writes)
            except psycopg.Error as exc:
                if conn.broken or conn.closed:
                    raise
                if isinstance(exc, psycopg.errors.InvalidSqlStatementName):
                    # Something ended the session's prepared statements (DISCARD ALL,
                    # as a transaction pooler sends): prepared again on the next batch.
                    with self._lock:
                        self._prepared.pop(conn, None)
                counts = None
                conn.rollback()  # the server ended the block in error: nothing was written
        if counts is None:
            for write in writes:
                self._settle_alone(write)
            return
        for write, count in zip(writes, counts, strict=True):
            write.succeed(count > 0)

    def _run_prepared(self, conn: Any, writes: list[Write[bool]]) -> list[int]:
        """Run ``writes`` as one simple query, ``BEGIN; EXECUTE ...; COMMIT``, of the
        statements prepared on ``conn``; the rows each wrote.

        One message carries the whole batch, its values bound on this side by psycopg's
        client-side binding (its escaping), and the server runs each statement's prepared
        plan. A pipeline sends the same batch one message per statement, each from
        Python, and between two of them the leading thread may wait for the interpreter
        behind every thread its last batch has just woken: under load that made a batch
        take about twice as long."""
        names = self._batch_names
        with self._lock:
            prepared = conn in self._prepared
        if not prepared:
            self._prepare(conn)
        mogrify = self._psycopg.ClientCursor(conn).mogrify
        calls = [
            mogrify(f"EXECUTE {name}({', '.join(['%s'] * len(write.params))})", write.params)
            if (name := names.get(write.query))
            else mogrify(write.query, write.params)  # not one of the log's: sent as it is
            for write in writes
        ]
        with conn.cursor() as cur:
            cur.execute("BEGIN;" + ";".join(calls) + ";COMMIT")
            counts = []
            for _ in writes:
                cur.nextset()  # past BEGIN, then past each write
                counts.append(cur.rowcount)
        return counts

    def _prepare(self, conn: Any) -> None:
        """Prepare on ``conn`` the batch statements it does not have yet."""
        rows = conn.execute(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE 'saga\\_log\\_%'"
        ).fetchall()
        have = {row[0] for row in rows}
        missing = [(q, n) for q, n in self._batch_names.items() if n not in have]
        if missing:
            conn.execute(";".join(f"PREPARE {n} AS {_numbered(q)}" for q, n in missing))
        with self._lock:
            self._prepared[conn] = True

    def _settle_alone(self, write: Write[bool]) -> None:
        try:
            write.succeed(self._write_alone(write.query, write.params))
        except Exception as exc:  # noqa: BLE001 - handed to the write's own thread
            write.fail(exc)

    def _query_once(self, query: str, params: Sequence[Any]) -> list[Any]:
        """Run the one statement ``query`` as its own transaction; its rows."""
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute(self._sql[query], params)
            return cur.fetchall()

    def _with_steps(self, rows: list[Any]) -> SagaRecord:
        """The saga of :data:`_WITH_STEPS` rows (at least one)."""
        steps = tuple(self._step(row[_SAGA_WIDTH:]) for row in rows if row[_SAGA_WIDTH] is not None)
        return self._saga(rows[0][:_SAGA_WIDTH], steps)

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
        page, params = self._page_query(values, lock_key, user_id, limit, before)
        # The page and its steps in one statement (one snapshot, one round trip).
        order = "s.created_at DESC, s.saga_id DESC, "
        query = self._dynamic(
            f"WITH page AS ({page}) " + _WITH_STEPS.format(saga="page", where="", order=order)
        )
        with self._connection() as conn, conn.cursor() as cur:
            cur.execute(query, params)
            rows = cur.fetchall()
        sagas: dict[str, list[Any]] = {}
        for row in rows:
            sagas.setdefault(row[0], []).append(row)
        return [self._with_steps(saga_rows) for saga_rows in sagas.values()]

    def get_saga(self, saga_id: str) -> SagaRecord:
        rows = self._query_once("pg_get_saga", (saga_id,))
        if not rows:
            raise SagaNotFoundError(saga_id)
        return self._with_steps(rows)

    # -- one statement per write ------------------------------------------------------

    def begin_recovery(self, saga_id: str, owner: str, *, error: str | None) -> SagaRecord:
        rows = self._query_once("pg_begin_recovery", (error, saga_id, owner))
        if rows:
            return self._with_steps(rows)
        return super().begin_recovery(saga_id, owner, error=error)

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
        step = (index, name, undo, args, in_process_rollback, idempotency_key)
        if create is not None:
            if index == 0 and completed is None:
                written = self._write_once(
                    "pg_create_with_intent", (*_saga_row(saga_id, owner, create), *step)
                )
            else:
                written = False  # the shared code raises the ValueError
        elif index == 0:
            written = False  # a pending saga's first step: the state column changes
        elif completed is None:
            written = self._write_once("pg_next_intent", (saga_id, owner, saga_id, index, *step))
        else:
            check_outcome(completed)
            done = completed.step_index
            outcome = (completed.state.value, completed.attempts, completed.error, done)
            written = self._write_once(
                "pg_next_intent_after",
                (saga_id, owner, saga_id, index, saga_id, done, *outcome, *step),
            )
        if not written:
            super().record_intent(
                saga_id,
                owner,
                index=index,
                name=name,
                compensation=compensation,
                in_process_rollback=in_process_rollback,
                idempotency_key=idempotency_key,
                completed=completed,
                create=create,
            )

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
        if state in STEP_RESULT_STATES and self._write_once(
            "pg_step_result",
            (saga_id, owner, saga_id, index, StepState(state).value, attempts, error, index),
        ):
            return
        super().record_step_result(
            saga_id, owner, index=index, state=state, attempts=attempts, error=error
        )

    def begin_compensation(
        self, saga_id: str, owner: str, *, failed_at: str | None, error: str | None
    ) -> None:
        if not self._write_once("pg_begin_compensation", (failed_at, error, saga_id, owner)):
            super().begin_compensation(saga_id, owner, failed_at=failed_at, error=error)

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
        if not self._write_once(
            "pg_step_compensation", (saga_id, owner, saga_id, index, *changes, index)
        ):
            super().record_compensation(
                saga_id, owner, index=index, succeeded=succeeded, attempts=attempts, error=error
            )

    def finish_saga(
        self,
        saga_id: str,
        owner: str,
        state: SagaState,
        *,
        completed: StepOutcome | None = None,
    ) -> None:
        written = False
        if state in _FINISH_FROM:
            final = SagaState(state).value
            if completed is None:
                written = self._write_once(f"pg_finish_{final}", (saga_id, owner))
            else:
                check_outcome(completed)
                done = completed.step_index
                outcome = (completed.state.value, completed.attempts, completed.error, done)
                written = self._write_once(
                    f"pg_finish_{final}_after", (saga_id, owner, saga_id, done, *outcome)
                )
        if not written:
            super().finish_saga(saga_id, owner, state, completed=completed)

    def _release(self, conn: psycopg.Connection[Any]) -> None:
        with self._lock:
            keep = not (self._closed or conn.closed or conn.broken)
            if keep:
                self._idle.append(conn)
        if not keep:
            conn.close()

    def _translate(self, exc: psycopg.Error) -> SagaLogError:
        if isinstance(exc, self._psycopg.errors.IdleInTransactionSessionTimeout):
            # The server ended the session before it read the COMMIT (a process frozen
            # or stalled inside _run), and rolled the transaction back: certainly not
            # written. Not run again here: the engine decides, as for an unavailable log.
            return SagaLogUnavailable(
                f"saga log {self.url}: the server ended this session for idling in its "
                f"transaction longer than idle_transaction_timeout "
                f"({self._idle_timeout_ms} ms) and rolled the transaction back; "
                f"it was not committed: {exc}"
            )
        sqlstate = exc.sqlstate
        if isinstance(exc, self._psycopg.OperationalError) and (
            sqlstate is None or sqlstate[:2] in _UNAVAILABLE_CLASSES
        ):
            return SagaLogUnavailable(f"saga log {self.url} did not answer: {exc}")
        return SagaLogError(f"saga log {self.url} failed: {exc}")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _idle_timeout_ms(seconds: float) -> int:
    """``idle_transaction_timeout`` in whole milliseconds, rounded up and capped at the
    server's maximum; refused unless a positive, finite number of seconds."""
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise ValueError(
            "idle_transaction_timeout must be a positive, finite number of seconds, "
            f"not {seconds!r}"
        )
    # Through the decimal text: 1.1 s is 1100 ms, not the 1101 of 1.1 * 1000 rounded up.
    return min(math.ceil(Decimal(repr(seconds)) * 1000), _MAX_IDLE_TIMEOUT_MS)


def _numbered(query: str) -> str:
    """``query`` with its ``%s`` placeholders numbered ``$1``, ``$2``, ... (for PREPARE)."""
    if "%%" in query or query.count("%") != query.count("%s"):
        raise ValueError("a prepared statement takes plain %s placeholders only")
    parts = query.split("%s")
    return "".join(f"{part}${i}" for i, part in enumerate(parts[:-1], start=1)) + parts[-1]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _redact_url(url: str) -> str:
    """``url`` without its password, fit to show in logs and errors."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    netloc = f"{userinfo.partition(':')[0]}{at}{hostport}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit(parts._replace(netloc=netloc, query=query))
