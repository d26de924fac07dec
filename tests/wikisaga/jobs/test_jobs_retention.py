"""``wikisaga sagas prune --older-than`` prunes the backend's jobs with the sagas, on SQLite
and PostgreSQL: finished jobs older than the age go; queued and running ones never; nor each
project's newest succeeded job, nor (without ``--include-failed``) a failed saga's job."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributed_saga import DistributedSaga, RetryPolicy, SagaState, open_saga_log
from postgres_support import fresh_schema
from wikisaga.jobs import JobStatus, open_job_store


def _fail(message: str) -> None:
    raise RuntimeError(message)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def log_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}"
        return
    with fresh_schema(request.getfixturevalue("postgres_url"), "prune") as url:
        yield url


def prune(log_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wikisaga", "sagas", "prune", *extra, "--log-url", log_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_prune_takes_the_finished_jobs_with_their_sagas(log_url: str) -> None:
    """Two committed generations, one rolled back, one failed saga, one running and one
    queued job: pruning at age 0 leaves the newest committed job (the wiki's), the failed
    saga's job and the active ones; ``--include-failed`` then takes the failed one too."""
    with open_saga_log(log_url) as log, open_job_store(log_url) as jobs:
        ids: dict[str, str] = {}
        for name, outcome in [
            ("old", "commit"),
            ("new", "commit"),
            ("undone", "roll back"),
            ("stuck", "fail"),
        ]:
            saga_id = f"wiki-p-{name}"
            project = "p" if name != "stuck" else "q"
            job, _ = jobs.create(project, "u", saga_id=saga_id)
            jobs.claim(job.job_id, owner="b")
            ids[name] = job.job_id
            saga = DistributedSaga(
                saga_id=saga_id, user_id="u", log=log, compensation_retry=RetryPolicy(attempts=1)
            )
            undo = (lambda: _fail("undo")) if outcome == "fail" else (lambda: None)
            saga.execute_step(name="a", action=lambda: 1, rollback=undo)
            if outcome == "commit":
                saga.commit()
                jobs.finish(job.job_id, JobStatus.SUCCEEDED, result={"snapshot_id": name})
            else:
                with pytest.raises(RuntimeError):
                    saga.execute_step(name="b", action=lambda: _fail("b"), rollback=lambda: None)
                jobs.finish(job.job_id, JobStatus.FAILED, error=outcome)
            time.sleep(0.01)  # created_at orders the two committed jobs
        running, _ = jobs.create("r", "u", saga_id="wiki-r-1")
        jobs.claim(running.job_id, owner="b", lease_seconds=600)
        queued, _ = jobs.create("s", "u", saga_id="wiki-s-1")
        assert log.get_saga("wiki-p-stuck").state is SagaState.FAILED

    kept = prune(log_url, "--older-than", "1d")
    assert kept.returncode == 0, kept.stderr
    assert kept.stdout.startswith("pruned 0 saga(s) and 0 job(s)")

    done = prune(log_url, "--older-than", "0")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("pruned 3 saga(s) and 2 job(s)")
    with open_job_store(log_url) as jobs:
        left = {job.job_id for job in jobs.list_jobs(limit=100)}
        assert left == {ids["new"], ids["stuck"], running.job_id, queued.job_id}
        assert jobs.last_succeeded("p") == jobs.get(ids["new"])

    also_failed = prune(log_url, "--older-than", "0", "--include-failed")
    assert also_failed.returncode == 0, also_failed.stderr
    with open_job_store(log_url) as jobs:
        left = {job.job_id for job in jobs.list_jobs(limit=100)}
    assert left == {ids["new"], running.job_id, queued.job_id}
