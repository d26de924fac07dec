"""``wikisaga generate`` against a real backend process (with real filesystem and git
services, local pages), after ``wikisaga ingest`` into the same data directory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from wikisaga.launcher import ServiceProcess
from wikisaga.testing.stack import ServiceStack

USER = "alice"
_projects = iter(range(10_000))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("generate-stack")) as running:
        yield running


@pytest.fixture(scope="module")
def backend(stack: ServiceStack) -> Iterator[ServiceProcess]:
    env = {
        **stack.env,
        "WIKISAGA_FILESYSTEM_SERVER_URL": stack.filesystem.url,
        "WIKISAGA_GIT_SERVER_URL": stack.git.url,
        "WIKISAGA_PAGE_GENERATOR": "local",
    }
    with ServiceProcess("backend", env=env, log_dir=stack.root, startup_timeout=60) as process:
        yield process


def wikisaga(
    stack: ServiceStack, backend: ServiceProcess, *args: str, token: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIKISAGA_")}
    env["WIKISAGA_DATA_DIR"] = str(stack.data_dir)
    env["WIKISAGA_BACKEND_URL"] = backend.url
    env["WIKISAGA_FILESYSTEM_SERVER_URL"] = stack.filesystem.url
    if token:
        env["WIKISAGA_INTERNAL_TOKEN"] = stack.token
    return subprocess.run(
        [sys.executable, "-m", "wikisaga", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project_id(stack: ServiceStack, backend: ServiceProcess, tmp_path: Path) -> str:
    """A project ingested with ``wikisaga ingest`` into the stack's data directory."""
    project = f"gen-{next(_projects)}"
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in {
        "chroma": "Chroma is a vector database. Chroma uses SQLite.",
        "neo4j": "Neo4j is a graph database. Neo4j uses Java.",
        "git": "Git is a version control system. Git uses SHA-1.",
    }.items():
        (folder / f"{name}.md").write_text(f"# {name}\n\n{text}\n", encoding="utf-8")
    done = wikisaga(stack, backend, "ingest", str(folder), "--project", project, "--user", USER)
    assert done.returncode == 0, done.stdout + done.stderr
    return project


def job(stack: ServiceStack, backend: ServiceProcess, job_id: str) -> dict[str, object]:
    headers = {"X-INTERNAL-TOKEN": stack.token, "X-User-ID": USER}
    deadline = time.monotonic() + 60
    while True:
        body: dict[str, object] = httpx.get(
            f"{backend.url}/jobs/{job_id}", headers=headers, timeout=10
        ).json()
        if body["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def test_without_wait_it_prints_the_job_and_saga_ids(
    stack: ServiceStack, backend: ServiceProcess, project_id: str
) -> None:
    done = wikisaga(stack, backend, "generate", "--project", project_id, "--user", USER)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("job  job-")
    assert lines[1].startswith("saga ")
    job_id, saga_id = lines[0].split()[1], lines[1].split()[1]
    finished = job(stack, backend, job_id)
    assert finished["saga_id"] == saga_id
    assert finished["status"] == "succeeded", finished


def test_wait_shows_each_step_and_exits_0_on_success(
    stack: ServiceStack, backend: ServiceProcess, project_id: str
) -> None:
    done = wikisaga(stack, backend, "generate", "--project", project_id, "--user", USER, "--wait")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    steps = [
        "fetch_documents",
        "generate_pages",
        "extract_relations",
        "stage_graph",
        "save_files",
        "create_snapshot",
        "make_graph_current",
        "commit",
    ]
    succeeded = [
        line.split()[0]
        for line in out.splitlines()
        if line.startswith("  ") and line.split()[1:2] == ["succeeded"]
    ]
    assert succeeded == steps, out  # each step once, in the order they run
    job_id = out.splitlines()[0].split()[1]
    assert f"{job_id} succeeded" in out
    assert "snapshot_id: snap-" in out
    assert "\x1b[" not in out  # plain lines when not a terminal


def test_wait_on_a_failed_job_exits_non_zero_with_its_error(
    stack: ServiceStack, backend: ServiceProcess
) -> None:
    """A project with no documents: the job fails, and its error is the one line."""
    empty = f"gen-empty-{next(_projects)}"
    done = wikisaga(stack, backend, "generate", "--project", empty, "--user", USER, "--wait")
    assert done.returncode == 1, done.stdout + done.stderr
    errors = done.stderr.strip().splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("wikisaga: error: job-")
    assert " failed: " in errors[0]


def test_without_a_token_it_says_so_in_one_line(
    stack: ServiceStack, backend: ServiceProcess
) -> None:
    done = wikisaga(stack, backend, "generate", "--project", "p", "--user", USER, token=False)
    assert done.returncode == 2
    assert done.stderr.startswith("wikisaga: error: ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_refusal_from_the_backend_is_one_line(
    stack: ServiceStack, backend: ServiceProcess, project_id: str
) -> None:
    """Another user's project (owned once its first generation saved files) is 403 from
    the backend: exit 1, one line, nothing queued."""
    first = wikisaga(stack, backend, "generate", "--project", project_id, "--user", USER, "--wait")
    assert first.returncode == 0, first.stdout + first.stderr
    done = wikisaga(stack, backend, "generate", "--project", project_id, "--user", "mallory")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("wikisaga: error: backend: POST ")
    assert " 403 " in done.stderr
