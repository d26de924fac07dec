"""The backend's recovery pass: a job whose backend died is failed once recovery has rolled
its saga back, and says so; a job whose backend died before its saga started fails after its
saga id is spent; a job whose claim is live is never touched."""

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
    SagaExistsError,
    SagaState,
    compensation,
    open_saga_log,
)
from wikisaga.config import Settings
from wikisaga.jobs import JobStatus, open_job_store
from wikisaga.observability import SagaMetrics
from wikisaga.services.backend.runner import ROLLED_BACK_BY_RECOVERY, JobRunner

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
    jobs.claim(job.job_id, owner="dead-backend", lease_seconds=0.2)
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
    assert finished.error == ROLLED_BACK_BY_RECOVERY
    assert (finished.saga_status or {})["state"] == "rolled_back"


def _runner(tmp_path: Path, url: str) -> tuple[JobRunner, Any, Any]:
    settings = Settings(data_dir=tmp_path, internal_token=SecretStr("t"), saga_log_url=url)
    log, jobs = open_saga_log(url), open_job_store(url)
    runner = JobRunner(
        settings, saga_log=log, jobs=jobs, metrics=SagaMetrics(), headers={"X-INTERNAL-TOKEN": "t"}
    )
    return runner, log, jobs


def test_a_job_whose_backend_died_before_its_saga_fails_and_its_saga_id_is_spent(
    tmp_path: Path,
) -> None:
    """Claimed, lease lapsed, no saga: the job fails saying nothing changed, and its saga
    id is recorded rolled back with no step, so that its backend, if it only paused,
    cannot start the saga later. A job whose claim is live is left alone."""
    runner, log, jobs = _runner(tmp_path, f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}")
    try:
        dead, _ = jobs.create("rec-2", "alice", saga_id="wiki-rec-2-x")
        jobs.claim(dead.job_id, owner="dead-backend", lease_seconds=0.1)
        live, _ = jobs.create("rec-3", "alice", saga_id="wiki-rec-3-x")
        jobs.claim(live.job_id, owner="live-backend", lease_seconds=60)
        time.sleep(0.2)
        runner.recover()
        failed, untouched = jobs.get(dead.job_id), jobs.get(live.job_id)
        spent = log.get_saga("wiki-rec-2-x")
        with pytest.raises(SagaExistsError):
            log.create_saga("wiki-rec-2-x", "alice", owner="dead-backend", lease_seconds=1)
    finally:
        runner.close()
        jobs.close()
        log.close()
    assert failed.status is JobStatus.FAILED
    assert "stopped before its saga started; nothing was changed" in (failed.error or "")
    assert spent.state is SagaState.ROLLED_BACK
    assert spent.steps == ()
    assert untouched.status is JobStatus.RUNNING
    assert untouched.claimed_by == "live-backend"
