"""One project owner across the document store and the filesystem registry (DESIGN §3).

Real services throughout: a filesystem and a git service, the backend as a process over
HTTP, the embedded Chroma both the backend and ``wikisaga ingest`` use, and the command
line in a subprocess. A user whose documents are in a project owns it whichever record is
asked first: another user can neither generate it (403, no job, no saga, no file) nor
ingest into it, and a user cannot ingest into a project the registry gives to another.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from service_support import tree_digest

from distributed_saga import SagaNotFoundError, open_saga_log
from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ingest import ingest
from wikisaga.errors import NotProjectOwner
from wikisaga.jobs import JobStatus, open_job_store
from wikisaga.launcher import ServiceProcess
from wikisaga.observability import SagaMetrics
from wikisaga.services.backend.runner import JobRunner
from wikisaga.testing.stack import ServiceStack

ALICE = "alice"
BOB = "bob"
DOCS = {
    "chroma.md": "# Chroma\n\nChroma is a vector database. Chroma uses SQLite.\n",
    "git.md": "# Git\n\nGit is a version control system. Git uses SHA-1.\n",
}
_projects = iter(range(10_000))


class Stack:
    """The services, the backend process and what the test reads directly."""

    def __init__(self, services: ServiceStack, backend: ServiceProcess) -> None:
        self.services = services
        self.backend = backend
        self.client = httpx.Client(base_url=backend.url, timeout=60)
        self.settings = Settings(
            data_dir=services.data_dir, internal_token=SecretStr(services.token)
        )

    def call(self, method: str, path: str, *, user: str | None, **kw: Any) -> httpx.Response:
        headers = {"X-INTERNAL-TOKEN": self.services.token}
        if user is not None:
            headers["X-User-ID"] = user
        return self.client.request(method, path, headers=headers, **kw)

    def upload(self, project: str, user: str) -> httpx.Response:
        files = [("files", (path, text, "text/markdown")) for path, text in DOCS.items()]
        return self.call("POST", f"/projects/{project}/documents", user=user, files=files)

    def generate(self, project: str, user: str) -> httpx.Response:
        return self.call("POST", "/generate_wiki", user=user, json={"project_id": project})

    def wait(self, job_id: str, user: str) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job: dict[str, Any] = self.call("GET", f"/jobs/{job_id}", user=user).json()
            if job["status"] in ("succeeded", "failed"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish")

    def cli_ingest(self, folder: Path, project: str, user: str) -> subprocess.CompletedProcess[str]:
        """``wikisaga ingest`` as an operator runs it next to the services."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WIKISAGA_")}
        env.update(
            WIKISAGA_DATA_DIR=str(self.services.data_dir),
            WIKISAGA_INTERNAL_TOKEN=self.services.token,
            WIKISAGA_FILESYSTEM_SERVER_URL=self.services.filesystem.url,
        )
        command = [sys.executable, "-m", "wikisaga", "ingest", str(folder), "--json"]
        return subprocess.run(
            [*command, "--project", project, "--user", user],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def registry_owner(self, project: str) -> str | None:
        with self.services.direct_filesystem() as filesystem:
            return filesystem.project_owner(project)

    def state(self, project: str) -> dict[str, Any]:
        """Everything the services and stores hold of ``project``."""
        with document_store_for(self.settings) as store:
            documents = [
                (i.source_path, i.content_hash, i.user_id) for i in store.list_documents(project)
            ]
        jobs = open_job_store(self.settings.effective_saga_log_url, data_dir=self.settings.data_dir)
        try:
            job_ids = [job.job_id for job in jobs.list_jobs(project_id=project, limit=100)]
        finally:
            jobs.close()
        sagas = self.call("GET", "/sagas", user=None, params={"project_id": project})
        assert sagas.status_code == 200, sagas.text
        return {
            "owner": self.registry_owner(project),
            "documents": documents,
            "jobs": job_ids,
            "sagas": [saga["saga_id"] for saga in sagas.json()["sagas"]],
            "files": tree_digest(self.services.data_dir / "filesystem"),
            "git": self.services.repository(project).exists(),
        }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with ServiceStack(tmp_path_factory.mktemp("owner-documents")) as services:
        env = {
            **services.env,
            "WIKISAGA_FILESYSTEM_SERVER_URL": services.filesystem.url,
            "WIKISAGA_GIT_SERVER_URL": services.git.url,
            "WIKISAGA_PAGE_GENERATOR": "local",
        }
        with ServiceProcess("backend", env=env, log_dir=services.root, startup_timeout=60) as proc:
            running = Stack(services, proc)
            yield running
            running.client.close()


@pytest.fixture
def project() -> str:
    return f"own-{next(_projects)}"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for path, text in DOCS.items():
        (docs / path).write_text(text, encoding="utf-8")
    return docs


def _ingest_as_alice(stack: Stack, how: str, project: str, folder: Path) -> None:
    if how == "upload":
        answer = stack.upload(project, ALICE)
        assert answer.status_code == 200, answer.text
    elif how == "cli":
        done = stack.cli_ingest(folder, project, ALICE)
        assert done.returncode == 0, done.stdout + done.stderr
    else:  # an ingest with no service to ask: only the documents record the owner
        with document_store_for(stack.settings) as store:
            ingest(store, project_id=project, user_id=ALICE, paths=[folder])


@pytest.mark.parametrize("how", ["upload", "cli", "unclaimed"])
def test_another_user_cannot_generate_a_project_of_ingested_documents(
    stack: Stack, project: str, folder: Path, how: str
) -> None:
    """Alice ingests (the backend's upload, ``wikisaga ingest``, or an ingest that could
    not claim the project); Bob's POST /generate_wiki is 403 and changes nothing: no job,
    no saga, no file, no owner. Alice then generates it, and only she reads the wiki."""
    _ingest_as_alice(stack, how, project, folder)
    assert stack.registry_owner(project) == (None if how == "unclaimed" else ALICE)
    before = stack.state(project)

    refused = stack.generate(project, BOB)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "forbidden"
    assert "Chroma" not in refused.text
    assert stack.state(project) == before
    assert stack.call("GET", f"/projects/{project}/documents", user=BOB).status_code == 403

    accepted = stack.generate(project, ALICE)
    assert accepted.status_code == 202, accepted.text
    job = stack.wait(accepted.json()["job_id"], ALICE)
    assert job["status"] == "succeeded", job
    assert stack.registry_owner(project) == ALICE
    wiki = stack.call("GET", f"/projects/{project}/wiki", user=ALICE)
    assert wiki.status_code == 200, wiki.text
    assert stack.call("GET", f"/projects/{project}/wiki", user=BOB).status_code == 403


def test_no_one_can_ingest_into_a_project_the_registry_gives_to_another(
    stack: Stack, project: str, folder: Path
) -> None:
    """Bob owns the project in the registry (he wrote a file). Alice's upload, her
    ``wikisaga ingest`` and her ingest through the registry are all refused, and nothing
    is stored or claimed; Bob's file stays."""
    with stack.services.direct_filesystem() as filesystem:
        filesystem.save_file(project, "notes.md", "bob's notes", user_id=BOB)
    before = stack.state(project)

    uploaded = stack.upload(project, ALICE)
    assert uploaded.status_code == 403, uploaded.text
    assert uploaded.json()["error"] == "forbidden"
    done = stack.cli_ingest(folder, project, ALICE)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "belongs to another user" in done.stderr
    with (
        document_store_for(stack.settings) as store,
        stack.services.direct_filesystem() as registry,
        pytest.raises(NotProjectOwner),
    ):
        ingest(store, project_id=project, user_id=ALICE, paths=[folder], registry=registry)

    assert stack.state(project) == before
    with stack.services.direct_filesystem() as filesystem:
        kept = filesystem.get_file(project, "notes.md", user_id=BOB)
    assert kept is not None
    assert kept["content"] == "bob's notes"


def test_records_naming_two_users_let_neither_generate(
    stack: Stack, project: str, folder: Path
) -> None:
    """Bob owns the registry; Alice's documents got into the project by an ingest that
    could not ask it. Neither may generate: each would publish or overwrite the other's."""
    with stack.services.direct_filesystem() as filesystem:
        filesystem.save_file(project, "notes.md", "bob's notes", user_id=BOB)
    _ingest_as_alice(stack, "unclaimed", project, folder)
    before = stack.state(project)
    for user in (ALICE, BOB):
        refused = stack.generate(project, user)
        assert refused.status_code == 403, (user, refused.text)
    assert stack.state(project) == before


def test_a_job_queued_before_the_documents_changed_hands_fails_and_writes_nothing(
    stack: Stack, project: str, folder: Path, tmp_path: Path
) -> None:
    """Bob queues a generation of a project nobody owns; Alice then ingests into it
    before a worker runs the job. The job fails saying whose the project is, with no
    saga and no file; Alice's own generation then publishes her documents."""
    url = f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}"
    settings = Settings(
        data_dir=tmp_path,
        internal_token=SecretStr(stack.services.token),
        saga_log_url=url,
        filesystem_server_url=stack.services.filesystem.url,
        git_server_url=stack.services.git.url,
        page_generator="local",
    )
    log, jobs = open_saga_log(url), open_job_store(url)
    runner = JobRunner(
        settings,
        saga_log=log,
        jobs=jobs,
        metrics=SagaMetrics(),
        headers=stack.services.headers,
    )
    try:
        queued, _ = runner.submit(project, BOB, force=False, idempotency_key=None)
        with document_store_for(settings) as store:
            ingest(store, project_id=project, user_id=ALICE, paths=[folder])
        files_before = tree_digest(stack.services.data_dir / "filesystem")

        ran = runner.run_next()
        assert ran is not None
        assert ran.job_id == queued.job_id
        failed = jobs.get(queued.job_id)
        assert failed.status is JobStatus.FAILED
        assert failed.error is not None
        assert "NotProjectOwner" in failed.error
        assert "belongs to another user" in failed.error
        assert "before anything was written" in failed.error
        with pytest.raises(SagaNotFoundError):
            log.get_saga(queued.saga_id)
        assert tree_digest(stack.services.data_dir / "filesystem") == files_before
        assert stack.registry_owner(project) is None
        assert not stack.services.repository(project).exists()

        mine, _ = runner.submit(project, ALICE, force=False, idempotency_key=None)
        runner.run_next()
        assert jobs.get(mine.job_id).status is JobStatus.SUCCEEDED
        assert stack.registry_owner(project) == ALICE
    finally:
        runner.close()
        jobs.close()
        log.close()
