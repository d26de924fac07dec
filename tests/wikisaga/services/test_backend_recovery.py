"""The backend's recovery pass: a job whose saga was cut off is failed once recovery has
rolled the saga back, and says so."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from distributed_saga import (
    Compensation,
    DistributedSaga,
    FaultPlan,
    FaultPoint,
    compensation,
    open_saga_log,
)
from wikisaga.config import Settings
from wikisaga.jobs import JobStatus, open_job_store
from wikisaga.observability import SagaMetrics
from wikisaga.services.backend.runner import JobRunner

_undone: list[str] = []


@compensation("tests.backend.undo")
def _undo(args: Mapping[str, Any]) -> None:
    """Remember the undo."""
    _undone.append(str(args["what"]))


def _crash() -> None:
    raise RuntimeError("the process running the saga died")


def test_a_job_whose_saga_recovery_rolled_back_is_failed(tmp_path: Path) -> None:
    """The saga stopped after its step (as a crash leaves it); the recovery pass rolls it
    back and the job, which no worker of this process runs, becomes failed saying so."""
    url = f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}"
    settings = Settings(data_dir=tmp_path, internal_token=SecretStr("t"), saga_log_url=url)
    log = open_saga_log(url)
    jobs = open_job_store(url)
    job, _ = jobs.create("rec-1", "alice", saga_id="wiki-rec-1-x")
    jobs.claim(job.job_id)
    saga = DistributedSaga(
        saga_id="wiki-rec-1-x",
        user_id="alice",
        log=log,
        lease_seconds=0.2,
        faults=FaultPlan(point=FaultPoint.AFTER_ACTION, step=0, action=_crash),
    )
    with pytest.raises(RuntimeError):
        saga.execute_step(
            name="Write",
            action=lambda: None,
            rollback=Compensation("tests.backend.undo", {"what": "w"}),
        )
    time.sleep(0.3)
    runner = JobRunner(
        settings, saga_log=log, jobs=jobs, metrics=SagaMetrics(), headers={"X-INTERNAL-TOKEN": "t"}
    )
    try:
        runner.recover()
        finished = jobs.get(job.job_id)
    finally:
        runner.close()
        jobs.close()
        log.close()
    assert _undone == ["w"]
    assert finished.status is JobStatus.FAILED
    assert "saga recovery ended it rolled_back" in (finished.error or "")
    assert (finished.saga_status or {})["state"] == "rolled_back"
