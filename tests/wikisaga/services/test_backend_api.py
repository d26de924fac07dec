"""The backend service as a real process, with real filesystem and git services, embedded
Chroma and a SQLite graph: jobs, their progress, the committed wiki, and refusals
(Idempotency-Key replay, 409, 403, 401, invalid input), with the saga log and the jobs on
SQLite and on PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from postgres_support import create_schema, drop_schema
from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.launcher import ServiceProcess
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.testing.stack import ServiceStack

USER = "alice"
OTHER = "bob"
_projects = iter(range(10_000))


class Backend:
    def __init__(self, stack: ServiceStack, process: ServiceProcess) -> None:
        self.stack = stack
        self.process = process
        self.client = httpx.Client(base_url=process.url, timeout=30)

    def call(
        self, method: str, path: str, *, user: str | None = USER, token: bool = True, **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["X-INTERNAL-TOKEN"] = self.stack.token
        if user is not None:
            headers["X-User-ID"] = user
        return self.client.request(method, path, headers=headers, **kw)

    def wait(self, job_id: str, user: str = USER, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.call("GET", f"/jobs/{job_id}", user=user).json()
            if job["status"] in ("succeeded", "failed"):
                return dict(job)
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("backend-stack")) as running:
        yield running


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def backend(stack: ServiceStack, request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The backend with its saga log and jobs on SQLite (the data directory's default) or
    on PostgreSQL (a schema of its own): every test runs on both."""
    log: dict[str, str] = {}
    schemas: list[tuple[str, str]] = []
    if request.param == "postgres":
        base = request.getfixturevalue("postgres_url")
        schema = f"api_{uuid.uuid4().hex[:12]}"
        log["WIKISAGA_SAGA_LOG_URL"] = create_schema(base, schema)
        schemas.append((base, schema))
    env = {
        **stack.env,
        **log,
        "WIKISAGA_FILESYSTEM_SERVER_URL": stack.filesystem_proxy.url,
        "WIKISAGA_GIT_SERVER_URL": stack.git_proxy.url,
        "WIKISAGA_PAGE_GENERATOR": "local",
        "WIKISAGA_FILESYSTEM_TIMEOUT": "3",
        "WIKISAGA_GIT_TIMEOUT": "3",
    }
    with ServiceProcess("backend", env=env, log_dir=stack.root, startup_timeout=60) as process:
        running = Backend(stack, process)
        yield running
        running.client.close()
    for base, schema in schemas:
        drop_schema(base, schema)


@pytest.fixture(autouse=True)
def _no_faults_left(stack: ServiceStack) -> Iterator[None]:
    yield
    stack.clear_faults()


@pytest.fixture
def project_id(stack: ServiceStack, tmp_path: Path) -> str:
    """A project with three documents in the stack's embedded Chroma."""
    project = f"api-{next(_projects)}"
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in {
        "chroma": "Chroma is a vector database. Chroma uses SQLite.",
        "neo4j": "Neo4j is a graph database. Neo4j uses Java.",
        "git": "Git is a version control system. Git uses SHA-1.",
    }.items():
        (folder / f"{name}.md").write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
    settings = Settings(data_dir=stack.data_dir, internal_token=SecretStr(stack.token))
    with document_store_for(settings) as store:
        ingest(store, project_id=project, user_id=USER, paths=[folder])
    return project


def test_a_generation_runs_to_a_committed_wiki(backend: Backend, project_id: str) -> None:
    """202 with job and saga ids; the job succeeds with every step; the read API serves
    the snapshot's files, each page and the graph."""
    answer = backend.call("POST", "/generate_wiki", json={"project_id": project_id})
    assert answer.status_code == 202
    accepted = answer.json()
    assert set(accepted) == {"job_id", "saga_id", "status"}
    job = backend.wait(accepted["job_id"])
    assert job["status"] == "succeeded", job
    assert job["saga_id"] == accepted["saga_id"]
    assert all(step["state"] == "succeeded" for step in job["steps"].values())
    assert len(job["steps"]) == 8
    result = job["result"]
    assert result["files_created"] > 0

    wiki = backend.call("GET", f"/projects/{project_id}/wiki").json()
    assert wiki["snapshot_id"] == result["snapshot_id"]
    assert len(wiki["files"]) == result["files_created"]
    page = backend.call("GET", f"/projects/{project_id}/wiki/{wiki['files'][0]}")
    assert page.status_code == 200
    assert page.json()["content"]
    graph = backend.call("GET", f"/projects/{project_id}/graph").json()
    assert graph["graph_generation"] == accepted["saga_id"]
    assert len(graph["relations"]) == result["relationships_extracted"]
    listed = backend.call("GET", "/jobs", params={"project_id": project_id}).json()["jobs"]
    assert [j["job_id"] for j in listed] == [accepted["job_id"]]


def test_idempotency_key_replays_the_same_job(backend: Backend, project_id: str) -> None:
    """The same key answers the same job (marked as a replay), even after it finished."""
    body = {"project_id": project_id}
    first = backend.call("POST", "/generate_wiki", json=body, headers={"Idempotency-Key": "k1"})
    backend.wait(first.json()["job_id"])
    again = backend.call("POST", "/generate_wiki", json=body, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 202
    assert again.json() == {**first.json(), "status": "succeeded"}
    assert again.headers["Idempotent-Replayed"] == "true"
    jobs = backend.call("GET", "/jobs", params={"project_id": project_id}).json()["jobs"]
    assert len(jobs) == 1


def test_a_generation_in_flight_is_409_naming_it(
    backend: Backend, stack: ServiceStack, project_id: str
) -> None:
    """While a generation is held at its snapshot, a second is 409 with the first's job
    and saga ids, and starts nothing."""
    stack.git_proxy.add_rule(
        FaultRule("POST", r"/snapshot/.+", FaultKind.DELAY_BEFORE, delay=1.5, times=1)
    )
    first = backend.call("POST", "/generate_wiki", json={"project_id": project_id}).json()
    time.sleep(0.5)
    second = backend.call("POST", "/generate_wiki", json={"project_id": project_id})
    assert second.status_code == 409
    body = second.json()
    assert body["error"] == "generation_in_progress"
    assert (body["job_id"], body["saga_id"]) == (first["job_id"], first["saga_id"])
    assert backend.wait(first["job_id"])["status"] == "succeeded"


def test_a_rolled_back_generation_fails_its_job_and_keeps_the_wiki(
    backend: Backend, stack: ServiceStack, project_id: str
) -> None:
    """The snapshot fails: the job is failed with the guide's message and a rolled-back
    saga; the committed wiki is still the previous one."""
    done = backend.wait(
        backend.call("POST", "/generate_wiki", json={"project_id": project_id}).json()["job_id"]
    )
    before = backend.call("GET", f"/projects/{project_id}/wiki").json()
    stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_BEFORE))
    failed = backend.wait(
        backend.call("POST", "/generate_wiki", json={"project_id": project_id}).json()["job_id"]
    )
    assert failed["status"] == "failed"
    assert failed["error"].startswith("Wiki generation failed and was rolled back: ")
    assert failed["saga_status"]["state"] == "rolled_back"
    assert failed["steps"]["create_snapshot"]["state"] == "failed"
    assert backend.call("GET", f"/projects/{project_id}/wiki").json() == before
    assert before["job_id"] == done["job_id"]


def test_another_users_project_is_403_and_no_token_is_401(
    backend: Backend, project_id: str
) -> None:
    """Once alice owns the project, bob is refused; without the token everyone is."""
    backend.wait(
        backend.call("POST", "/generate_wiki", json={"project_id": project_id}).json()["job_id"]
    )
    refused = backend.call("POST", "/generate_wiki", json={"project_id": project_id}, user=OTHER)
    assert refused.status_code == 403
    assert backend.call("GET", f"/projects/{project_id}/wiki", user=OTHER).status_code == 403
    no_token = backend.call("POST", "/generate_wiki", json={"project_id": project_id}, token=False)
    assert no_token.status_code == 401
    assert (
        backend.call("GET", "/jobs", params={"project_id": project_id}, token=False).status_code
        == 401
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"project_id": "../etc"},
        {"project_id": "ok", "force": "maybe"},
        {"project_id": "ok", "extra": 1},
        {"project_id": "a" * 200},
    ],
)
def test_invalid_requests_are_refused_and_write_nothing(backend: Backend, body: Any) -> None:
    """400/422 for a bad body; no job is recorded."""
    answer = backend.call("POST", "/generate_wiki", json=body)
    assert answer.status_code in (400, 422), answer.text
    assert backend.call("GET", "/jobs", params={"project_id": "ok"}).json()["jobs"] == []


def test_missing_user_is_400_and_metrics_need_the_token(backend: Backend) -> None:
    """No X-User-ID is 400; /metrics serves the saga metrics with the token."""
    assert (
        backend.call("POST", "/generate_wiki", json={"project_id": "x"}, user=None).status_code
        == 400
    )
    metrics = backend.call("GET", "/metrics", user=None)
    assert metrics.status_code == 200
    assert "saga" in metrics.text
