"""A service's /metrics with the saga metrics joined: what Prometheus scrapes, and
``promtool check metrics`` finds nothing to complain about."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from observability_support import BROKEN, NOTHING, SNAPSHOT, PromtoolRun, undo_registry

from distributed_saga import Compensation, DistributedSaga, RetryPolicy, open_saga_log
from distributed_saga.log.memory import MemorySagaLog
from wikisaga.config import Settings
from wikisaga.launcher import ServiceProcess
from wikisaga.observability import SagaLogCollector, SagaMetrics
from wikisaga.services._common import create_service_app

TOKEN = "observability-test-token-0123456789"


def _scrape(app: FastAPI) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    return asyncio.run(go())


def _busy_app() -> FastAPI:
    """A service app serving saga metrics after a commit, a rollback and a failed saga."""
    log = MemorySagaLog()
    metrics = SagaMetrics(known_steps=["Save 45 wiki files to filesystem", SNAPSHOT])
    app = create_service_app(
        "backend",
        Settings(internal_token=TOKEN),
        collectors=[metrics, SagaLogCollector(log)],
    )
    for saga_id, undo, fails in [
        ("ok", NOTHING, False),
        ("undone", NOTHING, True),
        ("stuck", BROKEN, True),
    ]:
        saga = DistributedSaga(
            saga_id,
            "user-456",
            log=log,
            observer=metrics,
            registry=undo_registry(),
            compensation_retry=RetryPolicy.never(),
        )
        saga.execute_step("Save 45 wiki files to filesystem", lambda: None, Compensation(undo))
        if fails:
            saga.abort("the git service is down")
        else:
            saga.commit()
    metrics.set_jobs({"succeeded": 1, "failed": 2})
    metrics.record_stage("generate_pages", 3.5)
    return app


def test_a_service_serves_its_http_and_saga_metrics_together() -> None:
    response = _scrape(_busy_app())
    assert response.status_code == 200
    text = response.text
    assert 'wikisaga_sagas_finished_total{outcome="committed"} 1.0' in text
    assert 'wikisaga_sagas_finished_total{outcome="rolled_back"} 1.0' in text
    assert 'wikisaga_sagas_finished_total{outcome="failed"} 1.0' in text
    assert 'wikisaga_sagas_needing_intervention{reason="failed"} 1.0' in text
    assert "wikisaga_saga_log_up 1.0" in text
    assert "wikisaga_http_requests_total" in text


def test_collectors_can_join_after_the_app_is_built_but_not_twice() -> None:
    app = create_service_app("backend", Settings(internal_token=TOKEN))
    metrics = SagaMetrics()
    app.state.metrics.register(metrics)
    assert "wikisaga_sagas_started_total 0.0" in _scrape(app).text
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        app.state.metrics.register(SagaMetrics())


def _check_metrics(promtool: PromtoolRun, text: str) -> None:
    done = promtool("check", "metrics", stdin=text)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_promtool_check_metrics_accepts_the_saga_metrics(promtool: PromtoolRun) -> None:
    _check_metrics(promtool, _scrape(_busy_app()).text)


def test_promtool_check_metrics_accepts_a_running_services_metrics(
    promtool: PromtoolRun, tmp_path: Path
) -> None:
    """The real thing: a filesystem service process, scraped over HTTP."""
    env = {"WIKISAGA_INTERNAL_TOKEN": TOKEN, "WIKISAGA_DATA_DIR": str(tmp_path / "data")}
    with ServiceProcess("filesystem", env=env, log_dir=tmp_path / "logs") as service:
        httpx.get(f"{service.url}/health", timeout=30)
        response = httpx.get(
            f"{service.url}/metrics", headers={"X-INTERNAL-TOKEN": TOKEN}, timeout=30
        )
    assert response.status_code == 200
    assert "wikisaga_http_requests_total" in response.text
    _check_metrics(promtool, response.text)


def _scrape_until(url: str, wanted: str, timeout: float = 30.0) -> str:
    """Scrape ``url`` until its text holds ``wanted`` (the backend recovers in a thread)."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert response.status_code == 200
        if wanted in response.text or time.monotonic() > deadline:
            return response.text
        time.sleep(0.1)


def test_promtool_check_metrics_accepts_the_backends_metrics_with_sagas_in_its_log(
    promtool: PromtoolRun, tmp_path: Path
) -> None:
    """The backend process serves the saga metrics and the log's gauges: a failed saga in
    its log needs intervention, and a saga another process left behind is claimed and
    finished by the backend's recovery, and counted there. promtool is content."""
    data_dir = tmp_path / "data"
    with open_saga_log(f"sqlite:///{(data_dir / 'sagas.db').as_posix()}") as log:
        saga = DistributedSaga(
            "wiki-stuck",
            "user-456",
            log=log,
            registry=undo_registry(),
            compensation_retry=RetryPolicy.never(),
        )
        saga.execute_step(SNAPSHOT, lambda: None, Compensation(BROKEN))
        saga.abort("the git service is down")
        log.create_saga("wiki-orphan", "user-456", owner="a-dead-process", lease_seconds=0.01)
    env = {"WIKISAGA_INTERNAL_TOKEN": TOKEN, "WIKISAGA_DATA_DIR": str(data_dir)}
    with ServiceProcess("backend", env=env, log_dir=tmp_path / "logs", startup_timeout=60) as svc:
        claimed = 'wikisaga_sagas_claimed_total{reason="recovery"} 1.0'
        text = _scrape_until(f"{svc.url}/metrics", claimed)
    assert claimed in text
    assert 'wikisaga_sagas_finished_total{outcome="rolled_back"} 1.0' in text
    assert 'wikisaga_sagas_needing_intervention{reason="failed"} 1.0' in text
    assert 'wikisaga_sagas_needing_intervention{reason="lease_expired"} 0.0' in text
    assert "wikisaga_saga_log_up 1.0" in text
    assert "wikisaga_http_requests_total" in text
    _check_metrics(promtool, text)
