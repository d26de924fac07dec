"""The backend killed mid-generation and restarted, on the SQLite and the PostgreSQL saga log.

Each scenario: a backend process publishes a project's wiki; it is stopped and a backend
that ``DISTRIBUTED_SAGA_CRASH_AT`` kills (SIGKILL, no cleanup) at one point of the saga
regenerates the project from changed documents; a backend restarted on the same log and
services recovers. Then, on the real stores (DESIGN §9): the saga is settled and the job
says how (``failed`` with the rolled-back message and the saga's status, or ``succeeded``
when the kill came after the commit); a rolled-back regeneration left the files, the git
history and the graph exactly as before, and the previous wiki is served; a committed one
has its files, its snapshot at the head of ``main`` and its graph generation current.

A kill after the commit is not a point of the engine: the test holds the backend's first
request after it (the listing of the committed files, through the fault proxy) and kills
the backend there with ``os.kill``.

By default each step and the commit are hit once, on one log or the other (six scenarios);
``--run-slow`` runs every step before and after its action, and the commit, on both.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from test_backend_api import USER, Backend

from distributed_saga import SagaLog, SagaNotFoundError, SagaState, open_saga_log
from distributed_saga.faults import CRASH_AT_ENV
from postgres_support import create_schema, drop_schema
from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.graph import open_graph_store
from wikisaga.launcher import ServiceProcess
from wikisaga.services.backend.runner import ROLLED_BACK_BY_RECOVERY
from wikisaga.testing.invariants import (
    WikiState,
    check_committed,
    check_settled,
    check_unchanged,
    read_state,
)
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.testing.stack import ServiceStack

COMMITTED = "after_commit"
"""Killed by the test once the saga has committed, before the job is finished."""

_BEFORE = [f"after_intent:{step}" for step in range(4)]
_AFTER = [f"after_action:{step}" for step in range(4)]
# By default each step is hit once, on one log or the other: stage_graph (0) before its
# action, save_files (1) and create_snapshot (2) after theirs (files to restore, a snapshot
# to delete), make_graph_current (3) after its action (all four undone); the commit, just
# before it and just after it.
_DEFAULT = {
    "sqlite": [_AFTER[1], _AFTER[3], COMMITTED],
    "postgres": [_BEFORE[0], _AFTER[2], "before_commit"],
}
SCENARIOS = [
    pytest.param(
        log,
        point,
        id=f"{log}-{point}",
        marks=[pytest.mark.postgres] * (log == "postgres")
        + [pytest.mark.slow] * (point not in _DEFAULT[log]),
    )
    for log in ("sqlite", "postgres")
    for point in [*_BEFORE, *_AFTER, "before_commit", COMMITTED]
]

DOCUMENTS = {
    "chroma": "Chroma is a vector database. Chroma uses SQLite.",
    "neo4j": "Neo4j is a graph database. Neo4j uses Java.",
    "git": "Git is a version control system. Git uses SHA-1.",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("backend-crash")) as running:
        yield running


class Log:
    """One saga log with its backend, stopped and started by the tests."""

    def __init__(self, stack: ServiceStack, url: str) -> None:
        self.url = url
        self.env = backend_env(stack, url)
        self.process = ServiceProcess(
            "backend", env=self.env, log_dir=stack.root, startup_timeout=60
        )
        self.backend = Backend(stack, self.process)
        self.saga_log: SagaLog = open_saga_log(url)

    def close(self) -> None:
        self.process.stop()
        self.backend.client.close()
        self.saga_log.close()


class Logs:
    """The module's saga logs, opened when a test first needs one: SQLite in a temporary
    directory, PostgreSQL in a schema of its own (dropped at the end)."""

    def __init__(self, stack: ServiceStack, root: Path) -> None:
        self.stack = stack
        self.root = root
        self.opened: dict[str, Log] = {}
        self.schemas: list[tuple[str, str]] = []

    def get(self, name: str, postgres_url: str | None) -> Log:
        if name not in self.opened:
            if postgres_url is None:
                url = f"sqlite:///{(self.root / 'sagas.db').as_posix()}"
            else:
                schema = f"crash_{uuid.uuid4().hex[:12]}"
                url = create_schema(postgres_url, schema)
                self.schemas.append((postgres_url, schema))
            self.opened[name] = Log(self.stack, url)
        return self.opened[name]

    def close(self) -> None:
        for log in self.opened.values():
            log.close()
        for base, schema in self.schemas:
            drop_schema(base, schema)


def backend_env(stack: ServiceStack, log_url: str, **extra: str) -> dict[str, str]:
    """A backend on the stack's services (through their proxies) and ``log_url``, with a
    1 s lease and quick recovery passes, so that a dead backend is taken over at once."""
    return {
        **stack.env,
        "WIKISAGA_FILESYSTEM_SERVER_URL": stack.filesystem_proxy.url,
        "WIKISAGA_GIT_SERVER_URL": stack.git_proxy.url,
        "WIKISAGA_PAGE_GENERATOR": "local",
        "WIKISAGA_FILESYSTEM_TIMEOUT": "5",
        "WIKISAGA_GIT_TIMEOUT": "5",
        "WIKISAGA_SAGA_LOG_URL": log_url,
        "WIKISAGA_SAGA_LEASE_SECONDS": "1",
        "WIKISAGA_RECOVERY_INTERVAL": "0.25",
        "WIKISAGA_JOB_POLL_INTERVAL": "0.25",
        **extra,
    }


@pytest.fixture(scope="module")
def logs(stack: ServiceStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logs]:
    opened = Logs(stack, tmp_path_factory.mktemp("logs"))
    yield opened
    opened.close()


@pytest.fixture
def log(logs: Logs, log_name: str, request: pytest.FixtureRequest) -> Log:
    """The ``log_name`` log, with its backend running."""
    postgres = request.getfixturevalue("postgres_url") if log_name == "postgres" else None
    opened = logs.get(log_name, postgres)
    if not opened.process.alive:
        opened.process.start()
    return opened


def add_documents(stack: ServiceStack, project_id: str, documents: dict[str, str]) -> None:
    folder = stack.root / "docs" / project_id / uuid.uuid4().hex[:6]
    folder.mkdir(parents=True)
    for name, text in documents.items():
        (folder / f"{name}.md").write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
    settings = Settings(data_dir=stack.data_dir, internal_token=SecretStr(stack.token))
    with document_store_for(settings) as store:
        ingest(store, project_id=project_id, user_id=USER, paths=[folder])


def state_of(stack: ServiceStack, project_id: str) -> WikiState:
    with stack.direct_filesystem() as filesystem:
        return read_state(filesystem, stack.repository(project_id), project_id, USER)


def graph_of(stack: ServiceStack, project_id: str) -> tuple[str | None, list[str]]:
    """The project's current graph generation and every generation the store holds."""
    with open_graph_store(None, settings=Settings(data_dir=stack.data_dir)) as graph:
        current = graph.current_generation(project_id)
        return current, [info.generation for info in graph.generations(project_id)]


def wait_dead(process: ServiceProcess, timeout: float = 60) -> int | None:
    deadline = time.monotonic() + timeout
    while process.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    return process.returncode


def wait_committed(log: SagaLog, saga_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if log.get_saga(saga_id).state is SagaState.COMMITTED:
                return
        except SagaNotFoundError:
            pass
        time.sleep(0.01)
    raise AssertionError(f"saga {saga_id} did not commit")


@pytest.mark.parametrize(("log_name", "point"), SCENARIOS)
def test_a_backend_killed_mid_saga_is_recovered_after_its_restart(
    stack: ServiceStack, log: Log, log_name: str, point: str
) -> None:
    """Killed at ``point`` of a regeneration, restarted: the job ends as the saga did, and
    the stores are as the saga's end says (see the module docstring)."""
    backend = log.backend
    project = f"crash-{log_name[:2]}-{point.replace('_', '').replace(':', '')}"
    add_documents(stack, project, DOCUMENTS)
    accepted = backend.call("POST", "/generate_wiki", json={"project_id": project}).json()
    baseline = backend.wait(accepted["job_id"])
    assert baseline["status"] == "succeeded", baseline
    before = state_of(stack, project)
    before_wiki = backend.call("GET", f"/projects/{project}/wiki").json()
    log.process.stop()
    add_documents(stack, project, {"sqlite": "SQLite is a database engine. SQLite uses C."})

    crash_env = {} if point == COMMITTED else {CRASH_AT_ENV: point}
    dying = ServiceProcess(
        "backend", env={**log.env, **crash_env}, log_dir=stack.root, startup_timeout=60
    )
    try:
        dying.start()
        if point == COMMITTED:
            # Hold every listing of the project's files: the first after the commit is the
            # manifest of the committed files, and the backend is killed while it waits.
            stack.filesystem_proxy.add_rule(
                FaultRule("GET", f"/files/{project}", FaultKind.DELAY_BEFORE, delay=2.0)
            )
        client = Backend(stack, dying)
        answer = client.call("POST", "/generate_wiki", json={"project_id": project}).json()
        client.client.close()
        job_id, saga_id = answer["job_id"], answer["saga_id"]
        if point == COMMITTED:
            wait_committed(log.saga_log, saga_id)
            os.kill(dying.pid or 0, signal.SIGKILL)
        assert wait_dead(dying) == -signal.SIGKILL, dying.log_tail()
    finally:
        dying.kill()
        stack.clear_faults()

    log.process.start()
    job = backend.wait(job_id, timeout=60)
    record = log.saga_log.get_saga(saga_id)
    after = state_of(stack, project)
    current, generations = graph_of(stack, project)
    assert check_settled(record) == []
    if point == COMMITTED:
        assert job["status"] == "succeeded", job
        assert record.state is SagaState.COMMITTED
        snapshot = job["result"]["snapshot_id"]
        assert check_committed(after, stack.repository(project), after.files, snapshot) == []
        assert set(after.refs) - set(before.refs) == {f"refs/tags/{snapshot}"}
        assert job["result"]["manifest"] == {
            path: hashlib.sha256(content.encode()).hexdigest()
            for path, content in after.files.items()
        }
        assert after.files != before.files
        # The generations before it are pruned, by the generation or, if the kill came
        # first, by the recovery that finished the job.
        assert (current, generations) == (saga_id, [saga_id])
        wiki = backend.call("GET", f"/projects/{project}/wiki").json()
        assert (wiki["job_id"], wiki["snapshot_id"]) == (job_id, snapshot)
    else:
        assert job["status"] == "failed", job
        assert job["error"] == ROLLED_BACK_BY_RECOVERY
        assert job["saga_status"]["state"] == "rolled_back"
        assert record.state is SagaState.ROLLED_BACK
        assert check_unchanged(before, after) == []
        assert (current, generations) == (baseline["saga_id"], [baseline["saga_id"]])
        assert backend.call("GET", f"/projects/{project}/wiki").json() == before_wiki
    first = sorted(after.files)[0]
    page = backend.call("GET", f"/projects/{project}/wiki/{first}")
    assert page.status_code == 200
    assert page.json()["content"] == after.files[first]
