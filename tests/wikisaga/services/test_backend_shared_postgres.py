"""Two backend processes on one PostgreSQL saga log and one set of services.

Backend A is SIGKILLed in the middle of a generation (after its snapshot, by
``DISTRIBUTED_SAGA_CRASH_AT``) while backend B, alive all along, is busy with a job of its
own. B's recovery loop takes A's saga over once A's lease (1 s, set through
``WIKISAGA_SAGA_LEASE_SECONDS``) has expired, rolls it back and fails A's job; the job A had
queued behind it, which no worker of A will ever run, is claimed and run by B. Then: no
orphan file, snapshot or graph generation, the previous wiki served, one saga per job. And a
backend frozen past its lease before its saga starts is fenced out when it wakes.

Both backends look for queued jobs only when woken by their own submissions or when they
finish a job (``WIKISAGA_JOB_POLL_INTERVAL`` is long), so which backend claims which job is
decided by the test, not by a race.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from test_backend_api import Backend
from test_backend_crash import (
    DOCUMENTS,
    add_documents,
    backend_env,
    graph_of,
    state_of,
    wait_dead,
)

from distributed_saga import SagaLog, SagaState, open_saga_log
from distributed_saga.faults import CRASH_AT_ENV
from postgres_support import fresh_schema
from wikisaga.launcher import ServiceProcess
from wikisaga.services.backend.runner import ROLLED_BACK_BY_RECOVERY
from wikisaga.testing.invariants import check_settled, check_unchanged
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.testing.stack import ServiceStack

pytestmark = pytest.mark.postgres

QUIET = {"WIKISAGA_BACKEND_WORKERS": "1", "WIKISAGA_JOB_POLL_INTERVAL": "600"}
"""One worker each, and no polling while the test runs."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("backend-shared")) as running:
        yield running


@pytest.fixture(scope="module")
def log_url(postgres_url: str) -> Iterator[str]:
    with fresh_schema(postgres_url, "shared") as url:
        yield url


@pytest.fixture(scope="module")
def saga_log(log_url: str) -> Iterator[SagaLog]:
    with open_saga_log(log_url) as log:
        yield log


@pytest.fixture(scope="module")
def backend_b(stack: ServiceStack, log_url: str) -> Iterator[Backend]:
    env = backend_env(stack, log_url, **QUIET)
    with ServiceProcess("backend", env=env, log_dir=stack.root, startup_timeout=60) as process:
        running = Backend(stack, process)
        yield running
        running.client.close()


def wait_status(backend: Backend, job_id: str, status: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = backend.call("GET", f"/jobs/{job_id}").json()
        if job["status"] == status:
            return dict(job)
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} is {job['status']}, not {status}")


def test_a_dead_backends_saga_is_rolled_back_and_its_queue_run_by_the_other(
    stack: ServiceStack, log_url: str, saga_log: SagaLog, backend_b: Backend
) -> None:
    """A dies after P's snapshot with Q queued behind P; B, busy with R meanwhile, rolls P
    back, fails P's job saying so, and runs Q (see the module docstring)."""
    tag = uuid.uuid4().hex[:6]
    p, q, r = f"shared-p-{tag}", f"shared-q-{tag}", f"shared-r-{tag}"
    for project in (p, q, r):
        add_documents(stack, project, DOCUMENTS)
    baseline = backend_b.wait(
        backend_b.call("POST", "/generate_wiki", json={"project_id": p}).json()["job_id"]
    )
    assert baseline["status"] == "succeeded", baseline
    before = state_of(stack, p)
    before_wiki = backend_b.call("GET", f"/projects/{p}/wiki").json()
    add_documents(stack, p, {"sqlite": "SQLite is a database engine. SQLite uses C."})

    env_a = backend_env(stack, log_url, **QUIET, **{CRASH_AT_ENV: "after_action:2"})
    a = ServiceProcess("backend", env=env_a, log_dir=stack.root, startup_timeout=60)
    backend_a = Backend(stack, a)
    try:
        a.start()
        # B's only worker is held at R's snapshot long enough for A to queue, claim, die.
        stack.git_proxy.add_rule(
            FaultRule("POST", f"/snapshot/{r}", FaultKind.DELAY_BEFORE, delay=6.0, times=1)
        )
        r_job = backend_b.call("POST", "/generate_wiki", json={"project_id": r}).json()
        r_running = wait_status(backend_b, r_job["job_id"], "running")
        assert f":{backend_b.process.pid}:" in r_running["claimed_by"]
        p_job = backend_a.call("POST", "/generate_wiki", json={"project_id": p}).json()
        q_job = backend_a.call("POST", "/generate_wiki", json={"project_id": q}).json()
        assert wait_dead(a) == -signal.SIGKILL, a.log_tail()
        queued = backend_b.call("GET", f"/jobs/{q_job['job_id']}").json()
        assert queued["status"] == "queued", "B took Q before A died: the hold on R is too short"
        claimed_by_a = backend_b.call("GET", f"/jobs/{p_job['job_id']}").json()["claimed_by"]
        assert f":{a.pid}:" in claimed_by_a
    finally:
        a.kill()
        backend_a.client.close()

    p_done = backend_b.wait(p_job["job_id"])
    q_done = backend_b.wait(q_job["job_id"])
    r_done = backend_b.wait(r_job["job_id"])
    stack.clear_faults()

    # A's job: failed by B's recovery, its saga rolled back by B, nothing of it left.
    assert p_done["status"] == "failed", p_done
    assert p_done["error"] == ROLLED_BACK_BY_RECOVERY
    assert p_done["saga_status"]["state"] == "rolled_back"
    record = saga_log.get_saga(p_job["saga_id"])
    assert record.state is SagaState.ROLLED_BACK
    assert check_settled(record) == []
    assert check_unchanged(before, state_of(stack, p)) == []
    assert graph_of(stack, p) == (baseline["saga_id"], [baseline["saga_id"]])
    assert backend_b.call("GET", f"/projects/{p}/wiki").json() == before_wiki

    # The job A queued: run once, by B.
    b_pid = backend_b.process.pid
    assert (q_done["status"], r_done["status"]) == ("succeeded", "succeeded"), (q_done, r_done)
    assert f":{b_pid}:" in q_done["claimed_by"]
    assert [s.saga_id for s in saga_log.list_sagas(lock_key=f"wiki:{q}")] == [q_job["saga_id"]]
    q_state = state_of(stack, q)
    assert set(q_state.refs) == {"refs/heads/main", f"refs/tags/{q_done['result']['snapshot_id']}"}
    wiki = backend_b.call("GET", f"/projects/{q}/wiki").json()
    assert (wiki["job_id"], sorted(wiki["files"])) == (q_job["job_id"], sorted(q_state.files))


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g}s")
        time.sleep(0.02)


def test_a_backend_paused_past_its_lease_is_fenced_out(
    stack: ServiceStack, log_url: str, saga_log: SagaLog, backend_b: Backend
) -> None:
    """A is frozen (SIGSTOP) before its saga starts, while it waits for the filesystem;
    its claim lapses, B fails the job and spends its saga id. When A wakes (SIGCONT) it
    finds it no longer holds the job and stops: no saga of its own, nothing written."""
    p = f"shared-paused-{uuid.uuid4().hex[:6]}"
    add_documents(stack, p, DOCUMENTS)
    baseline = backend_b.wait(
        backend_b.call("POST", "/generate_wiki", json={"project_id": p}).json()["job_id"]
    )
    assert baseline["status"] == "succeeded", baseline
    before = state_of(stack, p)
    add_documents(stack, p, {"sqlite": "SQLite is a database engine. SQLite uses C."})

    a = ServiceProcess(
        "backend", env=backend_env(stack, log_url, **QUIET), log_dir=stack.root, startup_timeout=60
    )
    backend_a = Backend(stack, a)
    try:
        a.start()
        # The first listing of P's files (the shrink guard's, before the saga) is held.
        stack.filesystem_proxy.add_rule(
            FaultRule("GET", f"/files/{p}", FaultKind.DELAY_BEFORE, delay=2.5, times=1)
        )
        job = backend_a.call("POST", "/generate_wiki", json={"project_id": p}).json()

        def relations_done() -> bool:
            steps = backend_b.call("GET", f"/jobs/{job['job_id']}").json()["steps"]
            return "extract_relations" in steps and "finished_at" in steps["extract_relations"]

        wait_for(relations_done, "the relations step")
        os.kill(a.pid or 0, signal.SIGSTOP)
        try:
            failed = backend_b.wait(job["job_id"])
        finally:
            os.kill(a.pid or 0, signal.SIGCONT)
        wait_for(lambda: "was ended by another backend" in a.log_tail(), "A's stop")
        assert a.alive
    finally:
        a.stop()
        backend_a.client.close()
        stack.clear_faults()

    assert failed["status"] == "failed", failed
    assert "stopped before its saga started; nothing was changed" in failed["error"]
    assert f":{a.pid}:" in failed["claimed_by"]
    spent = saga_log.get_saga(job["saga_id"])
    assert (spent.state, spent.steps) == (SagaState.ROLLED_BACK, ())
    assert spent.metadata["abandoned_job"] == job["job_id"]
    assert check_unchanged(before, state_of(stack, p)) == []
    assert graph_of(stack, p) == (baseline["saga_id"], [baseline["saga_id"]])
    assert backend_b.call("GET", f"/jobs/{job['job_id']}").json()["error"] == failed["error"]
