"""A process frozen inside a saga-log transaction on PostgreSQL does not block the others.

A child process opens a :class:`PostgresSagaLog` on the test database, locks and updates a
saga's row inside one of the log's transactions (``_run``, as the shared SQL's
multi-statement writes do) and stops itself (SIGSTOP) before the ``COMMIT``, holding the
row's lock. The server ends its session once it has been idle in that transaction for
``idle_transaction_timeout``, so this process's log, claiming that saga, goes on. Woken
up, the child's next statement or its ``COMMIT`` raises :class:`SagaLogUnavailable`
saying the transaction was ended for idling and not committed, its update is not in the
log, and its next call works on a new session. Real server, real processes.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import frozen_support
from distributed_saga import SagaRecord, SagaState
from distributed_saga.log.postgres import PostgresSagaLog
from frozen_support import in_thread, resume

JOIN_TIMEOUT = 30.0
"""How long a blocked operation may take before the test calls it hung (the frozen
session is ended after about a second)."""
CREATOR, RECOVERER = "backend-a", "backend-b"

_CHILD = r"""
import json, os, signal, sys

from distributed_saga import SagaLogError
from distributed_saga.log.postgres import PostgresSagaLog

url, schema, saga_id, timeout, then = sys.argv[1:]
log = PostgresSagaLog(url, schema=schema, idle_transaction_timeout=float(timeout))


def session(cur):
    cur.execute(
        "SELECT pg_backend_pid(), current_setting('idle_in_transaction_session_timeout')"
    )
    return list(cur.fetchone())


def hold(cur):
    cur.execute("SELECT saga_id FROM saga WHERE saga_id = %s FOR UPDATE", (saga_id,))
    cur.execute("UPDATE saga SET error = 'child' WHERE saga_id = %s", (saga_id,))
    print("frozen", session(cur)[0], flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
    if then == "statement":
        cur.execute("SELECT 1")


outcome = {}
try:
    log._run(hold)
    outcome["run"] = "committed"
except SagaLogError as exc:
    outcome["run"] = type(exc).__name__
    outcome["message"] = str(exc)
outcome["next_session"] = log._run(session)
saga = log.get_saga(saga_id)
outcome["read"] = [saga.owner, saga.error]
log.close()
print(json.dumps(outcome), flush=True)
"""


def start_frozen_child(
    url: str, schema: str, saga_id: str, *, timeout: float, then: str
) -> tuple[subprocess.Popen[str], int]:
    """A child holding ``saga_id``'s row in an open log transaction, stopped (SIGSTOP),
    and the process id of its server session.

    Woken up, it returns from the transaction's work (``then="commit"``) or runs one more
    statement in it (``then="statement"``), then reads the saga on its next session, and
    prints what happened as one JSON line."""
    return frozen_support.start_frozen_child(_CHILD, url, schema, saga_id, str(timeout), then)


def abandoned_saga(log: PostgresSagaLog) -> str:
    """A pending saga whose owner's lease has already run out: another process may claim
    it, and recovery's ``claim_expired`` finds it."""
    saga_id = f"frozen-{uuid.uuid4().hex[:12]}"
    log.create_saga(saga_id, "alice", owner=CREATOR, lease_seconds=0.001)
    deadline = time.monotonic() + 10
    while log.count_sagas(lease_expired_for=0.0) == 0:
        assert time.monotonic() < deadline, "the saga's lease did not run out"
        time.sleep(0.01)
    return saga_id


def claim(log: PostgresSagaLog, saga_id: str) -> Callable[[], SagaRecord]:
    """Another process's claim of ``saga_id``: an UPDATE of its row, which waits on the
    row's lock."""
    return lambda: log.claim_saga(saga_id, RECOVERER, 60.0, from_states={SagaState.PENDING})


def child_outcome(child: subprocess.Popen[str], out: str, err: str) -> dict[str, Any]:
    assert child.returncode == 0, err
    outcome: dict[str, Any] = json.loads(out.splitlines()[-1])
    return outcome


def rolled_back_outcome(child: subprocess.Popen[str], out: str, err: str) -> dict[str, Any]:
    """The woken child's outcome, checked to say what every frozen transaction's end
    says: its write was not committed, and it reads the saga as the recoverer left it."""
    outcome = child_outcome(child, out, err)
    print(json.dumps(outcome))
    assert outcome["run"] == "SagaLogUnavailable", outcome
    assert "not committed" in outcome["message"]
    assert outcome["read"] == [RECOVERER, None]
    return outcome


@pytest.mark.postgres
@pytest.mark.parametrize("then", ["commit", "statement"])
def test_a_log_frozen_inside_a_transaction_does_not_block_a_claim(
    postgres_url: str, postgres_schema: str, then: str
) -> None:
    """Another process claims the saga whose row the frozen child holds; the claim goes on
    once the server has ended the child's idle transaction. Woken, the child's ``COMMIT``
    (``commit``) or its next statement (``statement``) fails: the call raises
    SagaLogUnavailable saying the transaction was ended and not committed, the child's
    update is not in the log, and its next call works on a new session."""
    with PostgresSagaLog(postgres_url, schema=postgres_schema) as log:
        saga_id = abandoned_saga(log)
        child, frozen_session = start_frozen_child(
            postgres_url, postgres_schema, saga_id, timeout=1.0, then=then
        )
        try:
            thread, box = in_thread(claim(log, saga_id))
            thread.join(JOIN_TIMEOUT)
            assert not thread.is_alive(), "the claim still waits on the frozen process's row"
            assert "error" not in box, box
            claimed = box["value"]
            assert (claimed.owner, claimed.error) == (RECOVERER, None)
        finally:
            out, err = resume(child)
        outcome = rolled_back_outcome(child, out, err)
        assert "ended this session for idling" in outcome["message"]
        next_session, next_timeout = outcome["next_session"]
        assert next_session != frozen_session
        assert next_timeout == "1s"
        saga = log.get_saga(saga_id)
        assert (saga.owner, saga.error) == (RECOVERER, None)


@pytest.mark.postgres
def test_a_recoverer_claims_the_frozen_process_s_saga_after_the_timeout(
    postgres_url: str, postgres_schema: str
) -> None:
    """``claim_expired`` skips locked rows, so it does not wait on the frozen child: it
    finds the saga once the server has ended the child's transaction."""
    with PostgresSagaLog(postgres_url, schema=postgres_schema) as log:
        saga_id = abandoned_saga(log)
        child, _ = start_frozen_child(
            postgres_url, postgres_schema, saga_id, timeout=1.0, then="commit"
        )
        try:
            deadline = time.monotonic() + JOIN_TIMEOUT
            while (claimed := log.claim_expired(RECOVERER, 60.0)) == []:
                assert time.monotonic() < deadline, "the saga never became claimable"
                time.sleep(0.1)
            assert claimed == [saga_id]
        finally:
            out, err = resume(child)
        rolled_back_outcome(child, out, err)


@pytest.mark.postgres
def test_without_the_timeout_the_frozen_process_blocks_the_saga(
    postgres_url: str, postgres_schema: str
) -> None:
    """The control: with a timeout far longer than the test, the claim waits on the row
    and recovery cannot claim the saga for as long as the child is frozen; both go on
    once it is killed."""
    with PostgresSagaLog(postgres_url, schema=postgres_schema) as log:
        saga_id = abandoned_saga(log)
        child, _ = start_frozen_child(
            postgres_url, postgres_schema, saga_id, timeout=3600.0, then="commit"
        )
        try:
            thread, box = in_thread(claim(log, saga_id))
            thread.join(3.0)
            assert thread.is_alive(), "the claim did not wait on the row the child holds"
            assert log.claim_expired(RECOVERER, 60.0) == []
            child.kill()
            child.communicate(timeout=30)
            thread.join(JOIN_TIMEOUT)
            assert not thread.is_alive()
            assert "error" not in box, box
        finally:
            resume(child)
        saga = log.get_saga(saga_id)
        assert (saga.owner, saga.error) == (RECOVERER, None)


def _settings(cur: Any) -> tuple[int, str, str]:
    cur.execute(
        "SELECT pg_backend_pid(), current_setting('idle_in_transaction_session_timeout'),"
        " current_schema()"
    )
    pid, timeout, schema = cur.fetchone()
    return int(pid), str(timeout), str(schema)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(2.5, "2500ms"), (1.1, "1100ms"), (2.0005, "2001ms"), (1e9, "2147483647ms")],
)
def test_every_pooled_session_sets_the_idle_timeout(
    postgres_url: str, postgres_schema: str, seconds: float, shown: str
) -> None:
    """Each connection of the pool has the timeout in milliseconds, rounded up and capped
    at the server's maximum, and the log's schema first on its path."""
    together = threading.Barrier(2, timeout=10)

    def both(cur: Any) -> tuple[int, str, str]:
        together.wait()  # the other call runs meanwhile, on another connection
        return _settings(cur)

    with PostgresSagaLog(
        postgres_url, schema=postgres_schema, pool_size=2, idle_transaction_timeout=seconds
    ) as log:
        threads = [in_thread(lambda: log._run(both)) for _ in range(2)]
        for thread, _ in threads:
            thread.join(JOIN_TIMEOUT)
        results = [box.get("value", box.get("error")) for _, box in threads]
        assert {result[1:] for result in results} == {(shown, postgres_schema)}, results
        assert len({result[0] for result in results}) == 2


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf"), True])
def test_an_idle_transaction_timeout_must_be_a_positive_number(timeout: float) -> None:
    """Refused before any connection is tried (nothing listens on that port)."""
    with pytest.raises(ValueError, match="idle_transaction_timeout must be a positive"):
        PostgresSagaLog("postgresql://nobody@127.0.0.1:9/none", idle_transaction_timeout=timeout)
