"""A backend frozen inside a job-store transaction on PostgreSQL does not block the others.

A child process opens a :class:`PostgresJobStore` on the test database, updates a job's
row inside a job-store transaction and stops itself (SIGSTOP) before the COMMIT, holding
the row's lock. The server ends its session once it has been idle in that transaction for
``idle_transaction_timeout``, so this process's store, waiting on the row, goes on. Woken
up, the child finds its transaction was not committed and its store works again on a new
session. Real server, real processes.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import pytest

import frozen_support
from frozen_support import in_thread, resume
from wikisaga.errors import JobStoreError
from wikisaga.jobs import JobStatus
from wikisaga.jobs.postgres import PostgresJobStore

JOIN_TIMEOUT = 30.0
"""How long a blocked operation may take before the test calls it hung (the frozen
session is ended after about a second)."""

_CHILD = r"""
import json, os, signal, sys

from wikisaga.errors import JobStoreError
from wikisaga.jobs.postgres import PostgresJobStore

url, schema, job_id, timeout, then = sys.argv[1:]
store = PostgresJobStore(url, schema=schema, idle_transaction_timeout=float(timeout))
attempts = []


def hold(cur):
    attempts.append(len(attempts) + 1)
    cur.execute(
        "UPDATE wiki_job SET error = COALESCE(error, '') || %s WHERE job_id = %s",
        (f"|child-{attempts[-1]}", job_id),
    )
    if len(attempts) == 1:
        cur.execute("SELECT pg_backend_pid()")
        print("frozen", cur.fetchone()[0], flush=True)
        os.kill(os.getpid(), signal.SIGSTOP)
        if then == "statement":
            cur.execute("SELECT 1")


outcome = {}
try:
    store._run(hold)
    outcome["run"] = "committed"
except JobStoreError as exc:
    outcome["run"] = str(exc)
outcome["attempts"] = len(attempts)
job = store.get(job_id)
outcome["read"] = [job.status.value, job.error]
store.close()
print(json.dumps(outcome), flush=True)
"""


def start_frozen_child(
    url: str, schema: str, job_id: str, *, timeout: float, then: str
) -> tuple[subprocess.Popen[str], int]:
    """A child holding ``job_id``'s row in an open transaction, stopped (SIGSTOP), and
    the process id of its server session.

    Woken up, it returns from the transaction's work (``then="commit"``) or runs one more
    statement in it (``then="statement"``), then reads the job, and prints what happened
    as one JSON line."""
    return frozen_support.start_frozen_child(_CHILD, url, schema, job_id, str(timeout), then)


def running_job(store: PostgresJobStore) -> str:
    job, _ = store.create("p1", "alice", saga_id=f"wiki-p1-{uuid.uuid4().hex[:8]}")
    assert store.claim(job.job_id, owner="backend-a") is not None
    return job.job_id


@pytest.mark.postgres
@pytest.mark.parametrize("then", ["commit", "statement"])
def test_a_store_frozen_inside_a_transaction_does_not_block_another(
    postgres_url: str, postgres_schema: str, then: str
) -> None:
    """Another store fails the job the frozen child holds; it finishes once the server has
    ended the child's idle transaction. Woken, the child's COMMIT (``commit``) or its next
    statement (``statement``) finds its session ended for idling, which the server rolled
    back: the work runs again on a new session. Its first attempt's update is never
    stored, and its next call works."""
    with PostgresJobStore(postgres_url, schema=postgres_schema) as store:
        job_id = running_job(store)
        child, _ = start_frozen_child(postgres_url, postgres_schema, job_id, timeout=1.0, then=then)
        try:
            thread, box = in_thread(lambda: store.finish(job_id, JobStatus.FAILED, error="parent"))
            thread.join(JOIN_TIMEOUT)
            assert not thread.is_alive(), "finish still waits on the frozen process's row"
            assert "error" not in box, box
            finished = store.get(job_id)
            assert (finished.status, finished.error) == (JobStatus.FAILED, "parent")
        finally:
            out, err = resume(child)
        assert child.returncode == 0, err
        outcome = json.loads(out.splitlines()[-1])
        assert (outcome["attempts"], outcome["run"]) == (2, "committed")
        assert outcome["read"] == ["failed", "parent|child-2"]
        assert store.get(job_id).error == "parent|child-2"


@pytest.mark.postgres
def test_a_session_lost_at_its_commit_for_another_reason_is_an_unknown_outcome(
    postgres_url: str, postgres_schema: str
) -> None:
    """The frozen child's session is ended by an administrator, not for idling: its COMMIT
    then cannot tell whether the server committed, so the store says so and does not run
    the work again; its next call works on a new session."""
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    with PostgresJobStore(postgres_url, schema=postgres_schema) as store:
        job_id = running_job(store)
        child, session = start_frozen_child(
            postgres_url, postgres_schema, job_id, timeout=3600.0, then="commit"
        )
        try:
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                query = "SELECT pg_terminate_backend(%s, 5000)"
                row = admin.execute(query, (session,)).fetchone()
                assert row == (True,)
        finally:
            out, err = resume(child)
        assert child.returncode == 0, err
        outcome = json.loads(out.splitlines()[-1])
        assert outcome["attempts"] == 1
        assert "whether the change was stored is unknown" in outcome["run"]
        assert outcome["read"] == ["running", None]


@pytest.mark.postgres
def test_without_the_timeout_the_frozen_process_blocks_the_row(
    postgres_url: str, postgres_schema: str
) -> None:
    """The control: with a timeout far longer than the test, the other store's finish
    waits on the row for as long as the child is frozen, and goes on once it is killed."""
    with PostgresJobStore(postgres_url, schema=postgres_schema) as store:
        job_id = running_job(store)
        child, _ = start_frozen_child(
            postgres_url, postgres_schema, job_id, timeout=3600.0, then="commit"
        )
        try:
            thread, box = in_thread(lambda: store.finish(job_id, JobStatus.FAILED, error="parent"))
            thread.join(3.0)
            assert thread.is_alive(), "finish did not wait on the row the child holds"
            child.kill()
            child.communicate(timeout=30)
            thread.join(JOIN_TIMEOUT)
            assert not thread.is_alive()
            assert "error" not in box, box
        finally:
            resume(child)
        job = store.get(job_id)
        assert (job.status, job.error) == (JobStatus.FAILED, "parent")


def _backend_pid(cur: Any) -> int:
    cur.execute("SELECT pg_backend_pid()")
    return int(cur.fetchone()[0])


def _session_settings(cur: Any) -> tuple[str, str]:
    cur.execute("SELECT current_setting('idle_in_transaction_session_timeout'), current_schema()")
    row = cur.fetchone()
    return str(row[0]), str(row[1])


@pytest.mark.postgres
def test_a_session_the_server_ended_is_replaced_with_the_same_settings(
    postgres_url: str, postgres_schema: str
) -> None:
    """The server ends an idle store's session; the store's next call runs on a new one,
    with the schema and the idle timeout set again."""
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    with PostgresJobStore(
        postgres_url, schema=postgres_schema, idle_transaction_timeout=2.5
    ) as store:
        job_id = running_job(store)
        before = store._run(_backend_pid)
        assert store._run(_session_settings) == ("2500ms", postgres_schema)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            row = admin.execute("SELECT pg_terminate_backend(%s, 5000)", (before,)).fetchone()
            assert row == (True,)
        assert store.get(job_id).status is JobStatus.RUNNING
        assert store._run(_backend_pid) != before
        assert store._run(_session_settings) == ("2500ms", postgres_schema)


@pytest.mark.postgres
def test_a_closed_store_refuses_calls_and_does_not_reconnect(
    postgres_url: str, postgres_schema: str
) -> None:
    """After close(), calls raise JobStoreError and open no session."""
    import psycopg  # noqa: PLC0415 - only PostgreSQL tests need the driver

    name = f"jobs-closed-{uuid.uuid4().hex[:12]}"
    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}application_name={name}"

    def sessions() -> int:
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchone()
        assert row is not None
        return int(row[0])

    store = PostgresJobStore(url, schema=postgres_schema)
    assert sessions() == 1
    store.close()
    deadline = time.monotonic() + 10
    while sessions():
        assert time.monotonic() < deadline, "the closed store's session did not end"
        time.sleep(0.05)
    with pytest.raises(JobStoreError, match="is closed"):
        store.get("job-0")
    with pytest.raises(JobStoreError, match="is closed"):
        store.create("p1", "alice", saga_id="wiki-p1-1")
    assert sessions() == 0


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf")])
def test_an_idle_transaction_timeout_must_be_positive(timeout: float) -> None:
    """Refused before any connection is tried."""
    with pytest.raises(ValueError, match="idle_transaction_timeout must be a positive"):
        PostgresJobStore("postgresql://nobody@127.0.0.1:9/none", idle_transaction_timeout=timeout)
