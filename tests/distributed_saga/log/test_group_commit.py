"""Group commit: concurrent writes committed together, each with its own outcome.

The first tests drive :class:`GroupCommit` with a batch runner of their own; the rest run
real sagas on a real PostgreSQL, where a table lock held by another connection keeps the
first batch waiting inside the server while the next writes queue up behind it, so that a
batch of several writes is certain, not a matter of timing, and on a real SQLite file,
where another connection holding the database's write lock does the same.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from distributed_saga import (
    Compensation,
    DistributedSaga,
    SagaLockedError,
    SagaLogError,
    SagaNotFoundError,
    SagaState,
    compensation,
)
from distributed_saga.log._base import SagaLog
from distributed_saga.log._group_commit import GroupCommit, Write
from distributed_saga.log.postgres import PostgresSagaLog
from distributed_saga.log.sqlite import SQLiteSagaLog

WAIT = 10.0
UNDO = "tests.group_commit.undo"


@compensation(UNDO)
def _undo(args: Any) -> None:
    del args


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class Gate:
    """A batch runner whose first batch waits until the test opens the gate."""

    def __init__(self, run: Callable[[Write[str]], None]) -> None:
        self.run = run
        self.opened = threading.Event()
        self.sizes: list[int] = []

    def __call__(self, batch: list[Write[str]]) -> None:
        if not self.sizes:
            self.sizes.append(len(batch))
            self.opened.wait(WAIT)
        else:
            self.sizes.append(len(batch))
        for write in batch:
            self.run(write)


class Held:
    """A batch runner whose first ``count`` batches each wait until the test releases
    them (``release[i]``), signalling ``inside`` as they start; ``sizes`` of every batch."""

    def __init__(self, count: int) -> None:
        self.inside = threading.Semaphore(0)
        self.release = [threading.Event() for _ in range(count)]
        self.sizes: list[int] = []

    def __call__(self, batch: list[Write[str]]) -> None:
        call = len(self.sizes)
        self.sizes.append(len(batch))
        if call < len(self.release):
            self.inside.release()
            self.release[call].wait(WAIT)
        for write in batch:
            echo(write)


def start(target: Callable[[], Any], results: dict[int, Any], key: int) -> threading.Thread:
    def work() -> None:
        try:
            results[key] = target()
        except Exception as exc:  # noqa: BLE001 - the test reads it
            results[key] = exc

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def echo(write: Write[str]) -> None:
    if write.query == "boom":
        write.fail(ValueError(f"refused {write.params[0]}"))
    else:
        write.succeed(f"{write.query}:{write.params[0]}")


def test_writes_queued_behind_a_batch_go_in_the_next_one_each_with_its_own_outcome() -> None:
    gate = Gate(echo)
    group: GroupCommit[str] = GroupCommit(gate)
    results: dict[int, Any] = {}
    threads = [start(lambda: group.submit("first", [0]), results, 0)]
    wait_for(lambda: gate.sizes == [1], "the first batch")
    for i in range(1, 6):
        query = "boom" if i == 3 else "w"
        threads.append(start(lambda q=query, i=i: group.submit(q, [i]), results, i))
    wait_for(lambda: group.waiting == 5, "five queued writes")
    gate.opened.set()
    for thread in threads:
        thread.join(WAIT)
    assert gate.sizes == [1, 5]
    assert (group.batches, group.writes) == (2, 6)
    assert results[0] == "first:0"
    assert [results[i] for i in (1, 2, 4, 5)] == ["w:1", "w:2", "w:4", "w:5"]
    assert isinstance(results[3], ValueError)
    assert str(results[3]) == "refused 3"


@pytest.mark.parametrize("fails", [False, True])
def test_a_write_run_alone_is_a_batch_to_those_queued_behind_it(fails: bool) -> None:
    """``alone`` runs a write in its own thread when nothing is under way, with no batch
    built for it; writes arriving meanwhile queue and go together in the next batch, as
    behind any batch, whether the lone write returned or raised."""
    sizes: list[int] = []

    def run_batch(batch: list[Write[str]]) -> None:
        sizes.append(len(batch))
        echo_batch(batch)

    group: GroupCommit[str] = GroupCommit(run_batch)
    inside, release = threading.Event(), threading.Event()

    def lone() -> str:
        inside.set()
        release.wait(WAIT)
        if fails:
            raise ValueError("the lone write failed")
        return "alone"

    results: dict[int, Any] = {}
    threads = [start(lambda: group.submit("x", [0], alone=lone), results, 0)]
    inside.wait(WAIT)
    assert group.under_way == 1
    for i in (1, 2, 3):
        threads.append(start(lambda i=i: group.submit("w", [i], alone=lone), results, i))
    wait_for(lambda: group.waiting == 3, "three writes queued behind the lone one")
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert sizes == [3]  # the lone write was no batch; the three went in one
    assert (group.batches, group.writes) == (2, 4)
    assert group.under_way == 0
    if fails:
        assert isinstance(results[0], ValueError)
    else:
        assert results[0] == "alone"
    assert [results[i] for i in (1, 2, 3)] == ["w:1", "w:2", "w:3"]


def test_a_failed_batch_fails_its_writes_only_and_the_next_batch_runs() -> None:
    calls: list[int] = []

    def flaky(batch: list[Write[str]]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise ConnectionError("the server went away")
        for write in batch:
            echo(write)

    group: GroupCommit[str] = GroupCommit(flaky)
    with pytest.raises(ConnectionError, match="went away"):
        group.submit("w", [1])
    assert group.submit("w", [2]) == "w:2"
    assert calls == [1, 1]


def test_a_batch_never_carries_more_than_its_limit() -> None:
    gate = Gate(echo)
    group: GroupCommit[str] = GroupCommit(gate, max_batch=2)
    results: dict[int, Any] = {}
    threads = [start(lambda: group.submit("w", [0]), results, 0)]
    wait_for(lambda: gate.sizes == [1], "the first batch")
    threads += [start(lambda i=i: group.submit("w", [i]), results, i) for i in range(1, 6)]
    wait_for(lambda: group.waiting == 5, "five queued writes")
    gate.opened.set()
    for thread in threads:
        thread.join(WAIT)
    assert max(gate.sizes) == 2
    assert sum(gate.sizes) == 6
    assert results == {i: f"w:{i}" for i in range(6)}


def test_a_writer_interrupted_while_queued_leaves_the_queue_and_the_rest_go_on() -> None:
    """Ctrl-C in the main thread while its write waits behind a batch: the write leaves
    the queue unrun, and the writes queued behind it still run, led by the next one."""
    gate = Gate(echo)
    group: GroupCommit[str] = GroupCommit(gate)
    results: dict[int, Any] = {}
    threads = [start(lambda: group.submit("w", [0]), results, 0)]
    wait_for(lambda: gate.sizes == [1], "the first batch")
    main = threading.get_ident()

    def queue_behind_then_interrupt() -> None:
        wait_for(lambda: group.waiting == 1, "the main thread's write queued")
        threads.extend(start(lambda i=i: group.submit("w", [i]), results, i) for i in (2, 3))
        wait_for(lambda: group.waiting == 3, "two writes queued behind it")
        signal.pthread_kill(main, signal.SIGINT)

    helper = threading.Thread(target=queue_behind_then_interrupt)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        group.submit("w", [1])
    helper.join(WAIT)
    assert group.waiting == 2
    gate.opened.set()
    for thread in threads:
        thread.join(WAIT)
    assert results == {0: "w:0", 2: "w:2", 3: "w:3"}
    assert gate.sizes == [1, 2]
    assert group.submit("w", [4]) == "w:4"  # and the group still works


def test_two_batches_run_at_once_and_writes_queue_for_either() -> None:
    """With two places, a second write runs beside the first batch instead of waiting for
    it; writes arriving while both run queue, and go together in the next batch, as soon
    as either place is free."""
    held = Held(2)
    inside, release, sizes = held.inside, held.release, held.sizes
    group: GroupCommit[str] = GroupCommit(held, in_flight=2)
    results: dict[int, Any] = {}
    threads = [start(lambda: group.submit("w", [0]), results, 0)]
    assert inside.acquire(timeout=WAIT)
    threads.append(start(lambda: group.submit("w", [1]), results, 1))
    assert inside.acquire(timeout=WAIT), "the second batch did not run beside the first"
    threads += [start(lambda i=i: group.submit("w", [i]), results, i) for i in (2, 3)]
    wait_for(lambda: group.waiting == 2, "two writes queued behind both batches")
    assert sizes == [1, 1]
    release[1].set()  # the second batch ends first: its place goes to the queued writes
    wait_for(lambda: len(sizes) == 3, "the next batch")
    for i in (1, 2, 3):
        threads[i].join(WAIT)
    assert results == {i: f"w:{i}" for i in (1, 2, 3)}  # while the first batch still runs
    release[0].set()
    threads[0].join(WAIT)
    assert sizes == [1, 1, 2]
    assert results[0] == "w:0"
    assert (group.batches, group.writes) == (3, 4)


def test_a_second_batch_waits_until_as_many_writes_queue_as_the_last_batch_took() -> None:
    """A free place beside a batch under way goes to the writes queued only once there are
    as many of them as the batch taken last carried: where a commit is synced quickly, a
    lone write taking the place would thin the batches out (more commits for the same
    writes); where it is synced slowly, enough writes queue meanwhile."""
    held = Held(3)
    inside, release, sizes = held.inside, held.release, held.sizes
    group: GroupCommit[str] = GroupCommit(held, in_flight=2)
    results: dict[int, Any] = {}

    def submit(i: int) -> threading.Thread:
        return start(lambda: group.submit("w", [i]), results, i)

    threads = [submit(0)]
    assert inside.acquire(timeout=WAIT)
    threads.append(submit(1))  # a batch of one under way: a lone write takes the place
    assert inside.acquire(timeout=WAIT)
    threads += [submit(i) for i in (2, 3, 4)]
    wait_for(lambda: group.waiting == 3, "three writes queued behind both batches")
    release[1].set()  # its place goes to the three queued writes, as one batch
    assert inside.acquire(timeout=WAIT)
    assert sizes == [1, 1, 3]
    release[0].set()  # a place is free beside the batch of three ...
    threads[0].join(WAIT)
    threads += [submit(i) for i in (5, 6)]
    wait_for(lambda: group.waiting == 2, "two writes queued though a place is free")
    assert sizes == [1, 1, 3]  # ... but two writes are fewer than the last batch took
    threads.append(submit(7))
    wait_for(lambda: len(sizes) == 4, "the batch of the third write")
    for i in (5, 6, 7):
        threads[i].join(WAIT)
    assert sizes == [1, 1, 3, 3]
    assert all(results[i] == f"w:{i}" for i in (0, 1, 5, 6, 7))
    release[2].set()
    for thread in threads:
        thread.join(WAIT)
    assert results == {i: f"w:{i}" for i in range(8)}
    assert (group.batches, group.writes) == (4, 8)


def test_in_flight_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(echo_batch, in_flight=0)


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        GroupCommit(echo_batch, max_batch=0)


def echo_batch(batch: list[Write[str]]) -> None:
    for write in batch:
        echo(write)


# -- on PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def pg_log(postgres_url: str, postgres_schema: str) -> Iterator[PostgresSagaLog]:
    with PostgresSagaLog(postgres_url, schema=postgres_schema, pool_size=8) as log:
        yield log


class TableLock:
    """``LOCK TABLE saga`` held by another connection: every write to it waits."""

    def __init__(self, postgres_url: str, schema: str) -> None:
        import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

        self.url = postgres_url
        self.conn = psycopg.connect(postgres_url)
        self.conn.execute(f'LOCK TABLE "{schema}".saga IN EXCLUSIVE MODE')

    def waiters(self) -> int:
        """Connections waiting for a lock (here: for this one)."""
        import psycopg  # noqa: PLC0415

        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()
        return int(row[0]) if row else 0

    def __enter__(self) -> TableLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.commit()
        self.conn.close()


def assert_whole(log: SagaLog, saga_ids: list[str]) -> None:
    """Each saga committed, with both of :func:`two_steps`'s steps completed."""
    for saga_id in saga_ids:
        record = log.get_saga(saga_id)
        assert record.state is SagaState.COMMITTED
        assert [(s.name, s.state.value, s.compensation_args) for s in record.steps] == [
            ("a", "completed", {"i": 1}),
            ("b", "completed", {"i": 2}),
        ]


def two_steps(log: SagaLog, saga_id: str, lock_key: str | None = None) -> None:
    saga = DistributedSaga(saga_id=saga_id, user_id="u", log=log, lock_key=lock_key)
    saga.execute_step(name="a", action=lambda: 1, rollback=Compensation(UNDO, {"i": 1}))
    saga.execute_step(name="b", action=lambda: 2, rollback=Compensation(UNDO, {"i": 2}))
    saga.commit()


def behind_a_waiting_batch(
    log: PostgresSagaLog,
    postgres_url: str,
    schema: str,
    queued: list[Callable[[], Any]],
    first: str = "first",
) -> dict[int, Any]:
    """Run saga ``first`` until its creation waits in the server on a table lock, holding
    a batch's place, and as many more sagas (``first-1``, ...) as the group has other
    places, each waiting too; start ``queued``, each in a thread, and wait until all their
    writes are queued behind them; then let the server go. Each one's result or exception:
    0 for ``first``, then 1, 2, ... for ``queued``. The other holders must commit."""
    group = log.group_commit
    assert group is not None
    results: dict[int, Any] = {}
    holders: dict[int, Any] = {}
    with TableLock(postgres_url, schema) as lock:
        threads = [start(lambda: two_steps(log, first), results, 0)]
        wait_for(lambda: lock.waiters() == 1, "the first creation waiting in the server")
        for n in range(1, group.in_flight):
            threads.append(start(lambda n=n: two_steps(log, f"{first}-{n}"), holders, n))
            wait_for(lambda n=n: lock.waiters() == n + 1, f"batch {n + 1} waiting too")
        threads += [start(write, results, i) for i, write in enumerate(queued, start=1)]
        wait_for(lambda: group.waiting == len(queued), "every write queued behind them")
    for thread in threads:
        thread.join(WAIT)
    assert holders == dict.fromkeys(range(1, group.in_flight))
    return results


@pytest.mark.postgres
def test_sagas_written_at_once_share_commits_and_each_is_whole(
    pg_log: PostgresSagaLog, postgres_url: str, postgres_schema: str
) -> None:
    results = behind_a_waiting_batch(
        pg_log,
        postgres_url,
        postgres_schema,
        [lambda i=i: two_steps(pg_log, f"s{i}") for i in range(1, 8)],
    )
    group = pg_log.group_commit
    assert group is not None
    assert results == dict.fromkeys(range(8))
    assert group.in_flight == 2  # the default: a second batch held a place too
    assert group.writes == (8 + 1) * 3
    assert group.batches < group.writes
    assert_whole(pg_log, ["first", *(f"s{i}" for i in range(1, 8))])


@pytest.mark.postgres
def test_two_sagas_asking_for_one_lock_in_one_batch_one_gets_it(
    pg_log: PostgresSagaLog, postgres_url: str, postgres_schema: str
) -> None:
    results = behind_a_waiting_batch(
        pg_log,
        postgres_url,
        postgres_schema,
        [lambda i=i: first_step(pg_log, f"want{i}", "k") for i in (1, 2)],
    )
    assert_one_holds_the_lock(pg_log, results)
    assert pg_log.get_saga("first").state is SagaState.COMMITTED


def assert_one_holds_the_lock(log: SagaLog, results: dict[int, Any]) -> int:
    """Of sagas ``want1`` and ``want2`` (results 1 and 2), both after lock ``k``, one holds
    it and the other was told who does; the loser's number."""
    assert results[0] is None
    outcomes = sorted(type(results[i]).__name__ for i in (1, 2))
    assert outcomes == ["NoneType", "SagaLockedError"]
    winner = next(i for i in (1, 2) if results[i] is None)
    loser = 3 - winner
    assert isinstance(results[loser], SagaLockedError)
    assert results[loser].holder_saga_id == f"want{winner}"
    holders = log.list_sagas(lock_key="k")
    assert [(s.saga_id, s.state) for s in holders] == [(f"want{winner}", SagaState.EXECUTING)]
    return loser


def first_step(log: SagaLog, saga_id: str, lock_key: str) -> None:
    saga = DistributedSaga(saga_id=saga_id, user_id="u", log=log, lock_key=lock_key)
    saga.execute_step(name="a", action=lambda: 1, rollback=Compensation(UNDO, {}))


@pytest.mark.postgres
def test_two_batches_wait_in_the_server_at_once(
    pg_log: PostgresSagaLog, postgres_url: str, postgres_schema: str
) -> None:
    """By default two batches are on their way at once, each on its own connection: two
    creations wait in the server on a lock, and the third saga's creation queues."""
    group = pg_log.group_commit
    assert group is not None
    assert group.in_flight == 2
    results: dict[int, Any] = {}
    with TableLock(postgres_url, postgres_schema) as lock:
        threads = [start(lambda i=i: two_steps(pg_log, f"at-once-{i}"), results, i) for i in (0, 1)]
        wait_for(lambda: lock.waiters() == 2, "both creations waiting in the server")
        threads.append(start(lambda: two_steps(pg_log, "at-once-2"), results, 2))
        wait_for(lambda: group.waiting == 1, "the third creation queued")
    for thread in threads:
        thread.join(WAIT)
    assert results == dict.fromkeys(range(3))
    for i in range(3):
        assert pg_log.get_saga(f"at-once-{i}").state is SagaState.COMMITTED


@pytest.mark.postgres
def test_batches_in_flight_is_bounded_by_the_pool(postgres_url: str, postgres_schema: str) -> None:
    with pytest.raises(ValueError, match="batches_in_flight must be at least 1"):
        PostgresSagaLog(postgres_url, schema=postgres_schema, batches_in_flight=0)
    with PostgresSagaLog(postgres_url, schema=postgres_schema, pool_size=1) as log:
        assert log.group_commit is not None
        assert log.group_commit.in_flight == 1  # a batch needs a connection of its own
    with PostgresSagaLog(postgres_url, schema=postgres_schema, batches_in_flight=1) as log:
        assert log.group_commit is not None
        assert log.group_commit.in_flight == 1
        two_steps(log, "one-at-a-time")
        assert log.get_saga("one-at-a-time").state is SagaState.COMMITTED


@pytest.mark.postgres
def test_group_commit_can_be_turned_off(postgres_url: str, postgres_schema: str) -> None:
    with PostgresSagaLog(postgres_url, schema=postgres_schema, group_commit=False) as log:
        assert log.group_commit is None
        two_steps(log, "alone")
        assert log.get_saga("alone").state is SagaState.COMMITTED


@pytest.mark.postgres
def test_a_write_the_server_refuses_fails_alone_and_its_batch_mates_land_once(
    pg_log: PostgresSagaLog, postgres_url: str, postgres_schema: str
) -> None:
    import psycopg  # noqa: PLC0415

    group = pg_log.group_commit
    assert group is not None
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{postgres_schema}".probe (n INTEGER)')
    insert = f'INSERT INTO "{postgres_schema}".probe VALUES (%s)'
    results = behind_a_waiting_batch(
        pg_log,
        postgres_url,
        postgres_schema,
        [
            lambda: group.submit(insert, [1]),
            lambda: group.submit("SELECT 1 / %s", [0]),
            lambda: group.submit(insert, [3]),
        ],
    )
    assert results[0] is None
    assert results[1] is True
    assert results[3] is True
    assert isinstance(results[2], SagaLogError)
    assert "division by zero" in str(results[2])
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        rows = conn.execute(f'SELECT n FROM "{postgres_schema}".probe ORDER BY n').fetchall()
    assert rows == [(1,), (3,)]


HOSTILE = [
    "it's",
    "back\\slash \\' and \\\\",
    "'); DELETE FROM saga; --",
    "$1 %s %% {now}",
    "line\nbreak\ttab",
    "ünïcødé ☃ 𝄞",
    "E'\\x41'",
]


def hostile_saga(log: PostgresSagaLog, saga_id: str, text: str) -> None:
    saga = DistributedSaga(saga_id=saga_id, user_id=text, log=log, metadata={"note": text})
    saga.execute_step(
        name=text, action=lambda: {"out": text}, rollback=Compensation(UNDO, {"t": text})
    )
    saga.execute_step(name="b", action=lambda: 2, rollback=Compensation(UNDO, {"t": [text]}))
    saga.commit()


@pytest.mark.postgres
def test_values_bound_into_a_batch_come_back_exactly(
    pg_log: PostgresSagaLog, postgres_url: str, postgres_schema: str
) -> None:
    """A batch is sent as one query text with its values bound on this side: quotes,
    backslashes, placeholders and SQL in the values are stored as the values they are."""
    results = behind_a_waiting_batch(
        pg_log,
        postgres_url,
        postgres_schema,
        [lambda i=i, t=t: hostile_saga(pg_log, f"h{i}", t) for i, t in enumerate(HOSTILE)],
    )
    group = pg_log.group_commit
    assert group is not None
    assert results == dict.fromkeys(range(len(HOSTILE) + 1))
    assert group.batches < group.writes  # the writes did go in batches
    for i, text in enumerate(HOSTILE):
        record = pg_log.get_saga(f"h{i}")
        assert record.state is SagaState.COMMITTED
        assert (record.user_id, record.metadata) == (text, {"note": text})
        assert [(s.name, s.compensation_args) for s in record.steps] == [
            (text, {"t": text}),
            ("b", {"t": [text]}),
        ]


def prepared_names(log: PostgresSagaLog) -> set[str]:
    """The log's statements prepared on its (one) pooled connection."""
    with log._connection() as conn:
        rows = conn.execute("SELECT name FROM pg_prepared_statements").fetchall()
    return {row[0] for row in rows if row[0].startswith("saga_log_")}


@pytest.mark.postgres
def test_a_batch_whose_statements_the_session_lost_lands_and_prepares_them_again(
    postgres_url: str, postgres_schema: str
) -> None:
    """Batches run prepared statements of their connection. One dropped from the session
    (as a pooler's DISCARD would) fails its batch (the queued creations), which is rolled
    back, and each of its writes runs alone, once; the next batch prepares it again."""
    with PostgresSagaLog(postgres_url, schema=postgres_schema, pool_size=1) as log:
        group = log.group_commit
        assert group is not None

        def sagas_behind(first: str, *saga_ids: str) -> dict[int, Any]:
            queued = [lambda s=s: two_steps(log, s) for s in saga_ids]
            return behind_a_waiting_batch(log, postgres_url, postgres_schema, queued, first)

        assert prepared_names(log) == set()
        sagas_behind("f1", "p1", "p2")
        everything = prepared_names(log)
        assert "saga_log_next_intent" in everything
        assert "saga_log_create_with_intent" in everything
        with log._connection() as conn:
            conn.execute("DEALLOCATE saga_log_create_with_intent")
        assert "saga_log_create_with_intent" not in prepared_names(log)
        batches = group.batches
        assert sagas_behind("f2", "q1", "q2", "q3") == dict.fromkeys(range(4))
        assert group.batches - batches < 4 * 3
        for saga_id in ["f1", "p1", "p2", "f2", "q1", "q2", "q3"]:
            record = log.get_saga(saga_id)
            assert record.state is SagaState.COMMITTED
            assert [s.state.value for s in record.steps] == ["completed", "completed"]
        sagas_behind("f3", "r1", "r2")
        assert prepared_names(log) == everything


@pytest.mark.postgres
def test_each_write_of_a_batch_gets_whether_it_wrote(
    postgres_url: str, postgres_schema: str
) -> None:
    """A batch's writes learn each its own row count from the one query that carried them:
    a write that matched nothing is told so (its caller then explains why), the others
    that they wrote. One batch in flight, so that the three writes queued behind it are
    certainly carried by one batch: with two, the other place can free while the first
    takes them, and the held sagas' later writes split them (8 batches instead of 7)."""
    import psycopg  # noqa: PLC0415

    with PostgresSagaLog(
        postgres_url, schema=postgres_schema, pool_size=8, batches_in_flight=1
    ) as pg_log:
        _each_write_gets_whether_it_wrote(pg_log, postgres_url, postgres_schema, psycopg)


def _each_write_gets_whether_it_wrote(
    pg_log: PostgresSagaLog, postgres_url: str, postgres_schema: str, psycopg: Any
) -> None:
    group = pg_log.group_commit
    assert group is not None
    assert group.in_flight == 1
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{postgres_schema}".counted (n INTEGER)')
    table = f'"{postgres_schema}".counted'
    batches = group.batches
    results = behind_a_waiting_batch(
        pg_log,
        postgres_url,
        postgres_schema,
        [
            lambda: group.submit(f"INSERT INTO {table} VALUES (%s)", [1]),
            lambda: group.submit(f"UPDATE {table} SET n = n WHERE n = %s", [-1]),
            lambda: group.submit(f"INSERT INTO {table} VALUES (%s), (%s)", [2, 3]),
        ],
    )
    assert results == {0: None, 1: True, 2: False, 3: True}
    # The three writes of each saga holding a place, then one batch for the three queued.
    assert group.batches - batches <= 3 * group.in_flight + 1
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        rows = conn.execute(f"SELECT n FROM {table} ORDER BY n").fetchall()
    assert rows == [(1,), (2,), (3,)]


# -- on SQLite ----------------------------------------------------------------------------


@pytest.fixture
def sqlite_log(tmp_path: Path) -> Iterator[SQLiteSagaLog]:
    log = SQLiteSagaLog(tmp_path / "log.db", busy_timeout=WAIT)
    try:
        yield log
    finally:
        log.close()


class WriteLock:
    """SQLite's write lock, held by another connection: every write transaction waits."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("BEGIN IMMEDIATE")

    def __enter__(self) -> WriteLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


def behind_a_waiting_write(
    log: SQLiteSagaLog, queued: list[Callable[[], Any]], first: str = "first"
) -> dict[int, Any]:
    """Run saga ``first`` until its creation waits for SQLite's write lock, held by another
    connection; start ``queued``, each in a thread, and wait until all their writes are
    queued behind it; then let SQLite go. Each one's result or exception: 0 for ``first``,
    then 1, 2, ... for ``queued``."""
    group = log.group_commit
    assert group is not None
    results: dict[int, Any] = {}
    with WriteLock(log.path):
        threads = [start(lambda: two_steps(log, first), results, 0)]
        wait_for(lambda: group.under_way == 1, "the first creation waiting for SQLite")
        threads += [start(write, results, i) for i, write in enumerate(queued, start=1)]
        wait_for(lambda: group.waiting == len(queued), "every write queued behind it")
    for thread in threads:
        thread.join(WAIT)
    return results


def test_a_lone_sqlite_writer_commits_each_write_at_once(sqlite_log: SQLiteSagaLog) -> None:
    group = sqlite_log.group_commit
    assert group is not None
    writes, batches = group.writes, group.batches
    two_steps(sqlite_log, "alone")
    assert group.writes - writes == 3  # creation with the first intent, the second, commit
    assert group.batches - batches == 3  # each committed on its own
    assert sqlite_log.get_saga("alone").state is SagaState.COMMITTED


def test_sqlite_sagas_written_at_once_share_commits_and_each_is_whole(
    sqlite_log: SQLiteSagaLog,
) -> None:
    results = behind_a_waiting_write(
        sqlite_log, [lambda i=i: two_steps(sqlite_log, f"s{i}") for i in range(1, 8)]
    )
    group = sqlite_log.group_commit
    assert group is not None
    assert results == dict.fromkeys(range(8))
    assert group.writes == 1 + 8 * 3  # opening the log (its schema), then three per saga
    assert group.batches < group.writes
    assert_whole(sqlite_log, ["first", *(f"s{i}" for i in range(1, 8))])


def test_two_sqlite_sagas_asking_for_one_lock_in_one_batch_one_gets_it(
    sqlite_log: SQLiteSagaLog,
) -> None:
    results = behind_a_waiting_write(
        sqlite_log, [lambda i=i: first_step(sqlite_log, f"want{i}", "k") for i in (1, 2)]
    )
    loser = assert_one_holds_the_lock(sqlite_log, results)
    with pytest.raises(SagaNotFoundError):
        sqlite_log.get_saga(f"want{loser}")  # its creation was rolled back, alone


def test_a_sqlite_write_that_fails_in_a_batch_is_rolled_back_alone(
    sqlite_log: SQLiteSagaLog,
) -> None:
    """Each write of a batch runs in a savepoint of its own: one that raises, after
    writing, is undone to it and gets its error; one that SQLite refuses gets a
    :class:`SagaLogError`; the others are committed, each with its own result."""
    group = sqlite_log.group_commit
    assert group is not None
    setup = sqlite3.connect(sqlite_log.path)
    setup.execute("CREATE TABLE probe (n INTEGER)")
    setup.commit()
    setup.close()

    def insert(n: int, then: Exception | None = None) -> Callable[[Any], str]:
        def work(cur: Any) -> str:
            cur.execute("INSERT INTO probe VALUES (?)", (n,))
            if then is not None:
                raise then
            return f"wrote {n}"

        return work

    def refused(cur: Any) -> str:
        cur.execute("INSERT INTO no_such_table VALUES (3)")
        return "unreachable"

    batches = group.batches
    results = behind_a_waiting_write(
        sqlite_log,
        [
            lambda: group.submit("one", (), insert(1)),
            lambda: group.submit("two", (), insert(2, ValueError("refused two"))),
            lambda: group.submit("three", (), refused),
            lambda: group.submit("four", (), insert(4)),
        ],
    )
    assert results[0] is None
    assert results[1] == "wrote 1"
    assert isinstance(results[2], ValueError)
    assert str(results[2]) == "refused two"
    assert isinstance(results[3], SagaLogError)
    assert "no_such_table" in str(results[3])
    assert isinstance(results[3].__cause__, sqlite3.OperationalError)
    assert results[4] == "wrote 4"
    # The first saga's three writes, each alone or with the four, which went in one batch.
    assert group.batches - batches <= 4
    check = sqlite3.connect(sqlite_log.path)
    try:
        assert check.execute("SELECT n FROM probe ORDER BY n").fetchall() == [(1,), (4,)]
    finally:
        check.close()


def test_sqlite_group_commit_can_be_turned_off(tmp_path: Path) -> None:
    log = SQLiteSagaLog(tmp_path / "log.db", group_commit=False)
    try:
        assert log.group_commit is None
        two_steps(log, "alone")
        assert log.get_saga("alone").state is SagaState.COMMITTED
    finally:
        log.close()
