"""The metrics of issue 13 from a real backend that ran a real generation (filesystem and
git services on loopback, pages made in the backend): the saga's start, outcome and the
guide's counters, step durations, jobs by status and pipeline stage durations, all in one
scrape that promtool accepts."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest
from observability_support import PromtoolRun

from wikisaga.launcher import ServiceProcess
from wikisaga.pipeline.generation import STEPS
from wikisaga.testing.stack import ServiceStack

USER = "alice"
PROJECT = "metrics-demo"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServiceStack, str]]:
    with ServiceStack(tmp_path_factory.mktemp("metrics-stack")) as stack:
        env = {
            **stack.env,
            "WIKISAGA_FILESYSTEM_SERVER_URL": stack.filesystem.url,
            "WIKISAGA_GIT_SERVER_URL": stack.git.url,
            "WIKISAGA_PAGE_GENERATOR": "local",
            "WIKISAGA_RECOVERY_INTERVAL": "0.2",
        }
        with ServiceProcess("backend", env=env, log_dir=stack.root, startup_timeout=60) as svc:
            yield stack, svc.url


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the series ``name{labels}`` in a Prometheus text page."""
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        metric, _, rest = series.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if found == labels:
            return float(value)
    return None


def test_a_generation_shows_in_the_backends_metrics(
    backend: tuple[ServiceStack, str], promtool: PromtoolRun
) -> None:
    stack, url = backend
    headers = {"X-INTERNAL-TOKEN": stack.token, "X-User-ID": USER}
    documents = [
        {"path": "chroma.md", "content": "# Chroma\n\nChroma is a vector database.\n"},
        {"path": "neo4j.md", "content": "# Neo4j\n\nNeo4j is a graph database.\n"},
    ]
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        uploaded = client.post(f"/projects/{PROJECT}/documents", json={"documents": documents})
        assert uploaded.status_code == 200, uploaded.text
        accepted = client.post("/generate_wiki", json={"project_id": PROJECT})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        deadline = time.monotonic() + 90
        while (job := client.get(f"/jobs/{job_id}").json())["status"] not in (
            "succeeded",
            "failed",
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert job["status"] == "succeeded", job
        # Jobs by status are counted on the backend's reconcile pass (its recovery interval).
        while True:
            text = client.get("/metrics").text
            if _sample(text, "wikisaga_jobs", status="succeeded") == 1 or (
                time.monotonic() > deadline
            ):
                break
            time.sleep(0.1)

    assert _sample(text, "wikisaga_jobs", status="succeeded") == 1
    assert _sample(text, "wikisaga_sagas_started_total") == 1
    assert _sample(text, "wikisaga_sagas_finished_total", outcome="committed") == 1
    assert _sample(text, "wikisaga_wiki_generation_successes_total") == 1
    assert _sample(text, "wikisaga_sagas_in_flight") == 0
    completed = [
        float(value)
        for value in re.findall(
            r'wikisaga_saga_step_duration_seconds_count\{outcome="completed",step="[^"]+"\} (\S+)',
            text,
        )
    ]
    assert sum(completed) == 4  # the saga's four steps
    for stage in STEPS:
        assert _sample(text, "wikisaga_pipeline_stage_duration_seconds_count", stage=stage) == 1
    done = promtool("check", "metrics", stdin=text)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
