"""``wikisaga doctor`` against a real stack (filesystem, git, orchestrator and backend
processes on loopback, SQLite log and graph, embedded Chroma), then one fault at a time:
each is found, with its fix, and the exit status says so. Closed ports stand for servers
that are down; nothing is faked."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import wikisaga
from distributed_saga import Compensation, CompensationRegistry, DistributedSaga, RetryPolicy
from distributed_saga.log import SCHEMA_VERSION, open_saga_log
from distributed_saga.log._sql import _MIGRATIONS
from distributed_saga.log.sqlite import SQLiteSagaLog
from postgres_support import schema_url
from wikisaga.cli.app import main
from wikisaga.graph import open_graph_store
from wikisaga.launcher import ServiceProcess, free_port

SERVICES = ("filesystem", "git", "orchestrator", "backend")
URL_SETTINGS = {
    "filesystem": "WIKISAGA_FILESYSTEM_SERVER_URL",
    "git": "WIKISAGA_GIT_SERVER_URL",
    "orchestrator": "WIKISAGA_ORCHESTRATOR_URL",
    "backend": "WIKISAGA_BACKEND_URL",
}


@pytest.fixture(scope="module")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The four services sharing one data directory and token, and the environment a
    client of theirs has (as ``wikisaga up`` sets it)."""
    root = tmp_path_factory.mktemp("doctor-stack")
    data_dir = root / "data"
    processes = {name: ServiceProcess(name, log_dir=root / "logs") for name in SERVICES}
    env = {
        "WIKISAGA_INTERNAL_TOKEN": secrets.token_urlsafe(24),
        "WIKISAGA_DATA_DIR": str(data_dir),
        **{URL_SETTINGS[name]: process.url for name, process in processes.items()},
    }
    started: list[ServiceProcess] = []
    try:
        for name in SERVICES:
            process = processes[name]
            process.env.update(env)
            process.startup_timeout = 60
            started.append(process.start())
        # The stores a first ingest and generation would have made.
        (data_dir / "chroma").mkdir()
        with open_graph_store(f"sqlite:///{(data_dir / 'graph.db').as_posix()}"):
            pass
        yield env
    finally:
        for process in reversed(started):
            process.stop()


@pytest.fixture
def doctor(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``doctor(env, *args)``: run ``wikisaga doctor --json`` with exactly ``env`` as its
    WIKISAGA_* settings; returns (exit status, {check: [findings]})."""

    def run(env: dict[str, str], *args: str) -> tuple[int, dict[str, list[dict[str, Any]]]]:
        for name in [name for name in os.environ if name.startswith("WIKISAGA_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        status = main(["doctor", "--json", "--timeout", "2", *args])
        body = json.loads(capsys.readouterr().out)
        run.body = body  # type: ignore[attr-defined]
        assert body["ok"] is (status == 0)
        found: dict[str, list[dict[str, Any]]] = {}
        for finding in body["checks"]:
            found.setdefault(finding["check"], []).append(finding)
        return status, found

    return run


def closed_url(scheme: str = "http") -> str:
    """A loopback URL on which nothing listens."""
    return f"{scheme}://127.0.0.1:{free_port()}"


def statuses(found: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    return {check: [f["status"] for f in findings] for check, findings in found.items()}


def only(found: dict[str, list[dict[str, Any]]], check: str) -> dict[str, Any]:
    (finding,) = found[check]
    return finding


def test_a_healthy_stack_passes_every_check(doctor: Any, stack_env: dict[str, str]) -> None:
    status, found = doctor(stack_env)
    assert statuses(found) == {
        "filesystem service": ["ok"],
        "git service": ["ok"],
        "orchestrator service": ["ok"],
        "backend service": ["ok"],
        "saga log": ["ok"],
        "sagas needing intervention": ["ok"],
        "jobs store": ["ok"],
        "document store": ["ok"],
        "graph": ["ok"],
        "data dir": ["ok"],
    }
    assert status == 0
    assert only(found, "backend service")["message"].endswith(
        f"answers, token accepted, version {wikisaga.__version__}"
    )
    assert f"schema version {SCHEMA_VERSION}" in only(found, "saga log")["message"]


def test_the_report_is_one_line_per_check_with_a_fix_under_each_problem(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stack_env: dict[str, str],
) -> None:
    for name, value in {**stack_env, "WIKISAGA_GIT_SERVER_URL": closed_url()}.items():
        monkeypatch.setenv(name, value)
    assert main(["doctor", "--timeout", "2"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ok   filesystem service")
    assert lines[1].startswith("FAIL git service")
    assert lines[2].split() == [
        "fix:",
        "start",
        "it",
        "(`wikisaga",
        "up`",
        "starts",
        "every",
        "service)",
        "or",
        "set",
        "WIKISAGA_GIT_SERVER_URL",
        "to",
        "where",
        "it",
        "runs",
    ]
    assert lines[-1] == "1 check(s) failed, 0 warning(s)"


def test_a_service_that_is_down_fails_naming_the_setting_to_fix(
    doctor: Any, stack_env: dict[str, str]
) -> None:
    down = closed_url()
    status, found = doctor({**stack_env, "WIKISAGA_ORCHESTRATOR_URL": down})
    finding = only(found, "orchestrator service")
    assert finding["status"] == "fail"
    assert finding["message"] == f"not reachable at {down}: ConnectError"
    assert "WIKISAGA_ORCHESTRATOR_URL" in finding["fix"]
    assert only(found, "backend service")["status"] == "ok"
    assert status == 1


def test_a_url_that_answers_as_another_service_fails(
    doctor: Any, stack_env: dict[str, str]
) -> None:
    """A swapped port: the backend's URL points at the git service."""
    env = {**stack_env, "WIKISAGA_BACKEND_URL": stack_env["WIKISAGA_GIT_SERVER_URL"]}
    status, found = doctor(env)
    finding = only(found, "backend service")
    assert finding["status"] == "fail"
    assert finding["message"].endswith("answered 200 as 'git', not as the backend service")
    assert finding["fix"] == "set WIKISAGA_BACKEND_URL to the backend service's URL"
    assert status == 1


def test_a_wrong_token_fails_every_service_with_the_token_fix(
    doctor: Any, stack_env: dict[str, str]
) -> None:
    status, found = doctor({**stack_env, "WIKISAGA_INTERNAL_TOKEN": "not-the-services-token"})
    for name in SERVICES:
        finding = only(found, f"{name} service")
        assert finding["status"] == "fail"
        assert finding["message"].endswith("refused the internal token (401)")
        assert finding["fix"].startswith("set WIKISAGA_INTERNAL_TOKEN to the services' token")
    assert status == 1


def test_no_token_at_all_says_so(doctor: Any, stack_env: dict[str, str]) -> None:
    env = {k: v for k, v in stack_env.items() if k != "WIKISAGA_INTERNAL_TOKEN"}
    status, found = doctor(env)
    assert only(found, "git service")["message"].startswith("WIKISAGA_INTERNAL_TOKEN is not set")
    assert doctor.body["next_step"].startswith("export WIKISAGA_INTERNAL_TOKEN")
    assert status == 1


def test_a_new_user_with_nothing_running_is_told_to_run_wikisaga_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """No configuration at all: a fresh data dir, no token, nothing listening. Besides each
    check's fix, the report ends with the one thing to do first, `wikisaga up`, and the
    JSON says it as next_step; nothing is created."""
    fresh = tmp_path / "fresh"
    for name in [name for name in os.environ if name.startswith("WIKISAGA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("WIKISAGA_DATA_DIR", str(fresh))
    for setting in URL_SETTINGS.values():  # the default ports may be taken on this machine
        monkeypatch.setenv(setting, closed_url())
    capsys.readouterr()
    assert main(["doctor", "--timeout", "2"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2] == "6 check(s) failed, 2 warning(s)"
    assert lines[-1].startswith(
        f"next: no service is running and {fresh} does not exist yet: start them all with "
        "`wikisaga up`"
    ), lines[-1]
    assert "WIKISAGA_INTERNAL_TOKEN" in lines[-1]
    assert main(["doctor", "--json", "--timeout", "2"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["next_step"] == lines[-1].removeprefix("next: ")
    assert not fresh.exists()


def test_a_healthy_stack_has_no_next_step(doctor: Any, stack_env: dict[str, str]) -> None:
    status, _ = doctor(stack_env)
    assert status == 0
    assert doctor.body["next_step"] is None
    status, _ = doctor({**stack_env, "WIKISAGA_GIT_SERVER_URL": closed_url()})
    assert status == 1
    assert doctor.body["next_step"] is None  # one service down: its own fix says it


def test_an_unreachable_neo4j_fails_with_the_graph_fix(
    doctor: Any, stack_env: dict[str, str]
) -> None:
    url = closed_url("bolt")
    status, found = doctor({**stack_env, "WIKISAGA_GRAPH_URL": url})
    finding = only(found, "graph")
    assert finding["status"] == "fail"
    assert finding["message"].startswith(f"Neo4j at {url} is not reachable")
    assert "WIKISAGA_GRAPH_URL" in finding["fix"]
    assert status == 1


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A real ``chroma run`` server on a free loopback port."""
    binary = Path(sys.executable).parent / "chroma"
    if not binary.exists():
        pytest.skip("the chroma command is not installed")
    url = closed_url()
    port = url.rpartition(":")[2]
    command = [str(binary), "run", "--path", str(tmp_path / "chroma")]
    with (tmp_path / "chroma.log").open("wb") as log:
        server = subprocess.Popen(
            [*command, "--host", "127.0.0.1", "--port", port],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "chroma run did not start"
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_chroma_server_that_answers_is_ok_with_its_version(
    doctor: Any, stack_env: dict[str, str], chroma_server: str
) -> None:
    status, found = doctor({**stack_env, "WIKISAGA_CHROMA_URL": chroma_server})
    finding = only(found, "document store")
    assert finding["status"] == "ok"
    assert re.fullmatch(
        rf"Chroma server {chroma_server}, version \d+\.\d+\.\d+", finding["message"]
    )
    assert status == 0


def test_an_unreachable_chroma_server_fails_with_its_fix(
    doctor: Any, stack_env: dict[str, str]
) -> None:
    url = closed_url()
    status, found = doctor({**stack_env, "WIKISAGA_CHROMA_URL": url})
    finding = only(found, "document store")
    assert finding["status"] == "fail"
    assert finding["message"] == f"Chroma server {url} is not reachable: ConnectError"
    assert "chroma run" in finding["fix"]
    assert "WIKISAGA_CHROMA_URL" in finding["fix"]
    assert status == 1


def _registry() -> CompensationRegistry:
    registry = CompensationRegistry()

    def broken(args: Any) -> None:
        raise RuntimeError("the service refused the undo")

    registry.register("tests.doctor.broken_undo", broken)
    return registry


def _log_url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"


def test_failed_sagas_and_expired_leases_need_intervention(
    doctor: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    url = _log_url(tmp_path / "sagas.db")
    env = {**stack_env, "WIKISAGA_SAGA_LOG_URL": url, "WIKISAGA_RECOVERY_INTERVAL": "0.01"}
    with open_saga_log(url) as log:
        status, found = doctor(env)
        assert statuses(found)["sagas needing intervention"] == ["ok"]
        assert status == 0
        saga = DistributedSaga(
            "wiki-stuck",
            "alice",
            log=log,
            registry=_registry(),
            compensation_retry=RetryPolicy.never(),
        )
        saga.execute_step(
            "Save 3 wiki files", lambda: None, Compensation("tests.doctor.broken_undo")
        )
        saga.abort("the git service is down")
        log.create_saga("wiki-orphan", "alice", owner="a-dead-process", lease_seconds=0.01)
        time.sleep(0.1)
    status, found = doctor(env)
    failed, stuck = found["sagas needing intervention"]
    assert (failed["status"], stuck["status"]) == ("fail", "fail")
    assert failed["message"].startswith("1 failed saga(s)")
    assert "wikisaga sagas retry <id>" in failed["fix"]
    assert "wikisaga sagas resolve <id>" in failed["fix"]
    assert stuck["message"].startswith("1 saga(s) in flight whose owner's lease expired")
    assert "wikisaga recover" in stuck["fix"]
    assert "2 saga(s)" in only(found, "saga log")["message"]
    assert status == 1


def _schema_version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        (version,) = conn.execute("SELECT max(version) FROM saga_schema_version").fetchone()
    conn.close()
    return int(version)


def test_a_log_of_an_older_schema_is_reported_and_not_upgraded(
    doctor: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        for statement in _MIGRATIONS[0]:
            conn.execute(SQLiteSagaLog._render(statement))
        conn.execute("CREATE TABLE saga_schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO saga_schema_version VALUES (1)")
    conn.close()
    status, found = doctor({**stack_env, "WIKISAGA_SAGA_LOG_URL": _log_url(path)})
    finding = only(found, "saga log")
    assert finding["status"] == "fail"
    assert finding["message"] == f"schema version 1, older than this code's {SCHEMA_VERSION}"
    assert "upgrades it in place" in finding["fix"]
    assert "sagas needing intervention" not in found
    assert _schema_version(path) == 1  # the doctor read it; it did not upgrade it
    assert status == 1


def test_a_log_newer_than_this_code_is_reported(
    doctor: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "new.db"
    open_saga_log(_log_url(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE saga_schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    conn.close()
    status, found = doctor({**stack_env, "WIKISAGA_SAGA_LOG_URL": _log_url(path)})
    finding = only(found, "saga log")
    assert finding["status"] == "fail"
    assert finding["message"] == (
        f"schema version {SCHEMA_VERSION + 1} is newer than this code's {SCHEMA_VERSION}"
    )
    assert finding["fix"] == "upgrade wikisaga here to the version that wrote the log"
    assert status == 1


def test_low_disk_fails_below_the_threshold(doctor: Any, stack_env: dict[str, str]) -> None:
    free = shutil.disk_usage(stack_env["WIKISAGA_DATA_DIR"]).free
    status, found = doctor(stack_env, "--min-free", f"{free + 2**40}B")
    finding = only(found, "data dir")
    assert finding["status"] == "fail"
    assert f"below --min-free {free + 2**40}B" in finding["message"]
    assert "wikisaga sagas prune" in finding["fix"]
    assert status == 1
    status, found = doctor(stack_env, "--min-free", "100%")
    assert only(found, "data dir")["status"] == "fail"
    status, found = doctor(stack_env, "--min-free", "0%")
    assert (only(found, "data dir")["status"], status) == ("ok", 0)


def test_a_bad_threshold_is_a_usage_error(doctor: Any, stack_env: dict[str, str]) -> None:
    assert main(["doctor", "--min-free", "lots"]) == 2
    assert main(["doctor", "--min-free", "120%"]) == 2


def test_a_missing_data_dir_is_reported_and_not_created(
    doctor: Any, stack_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere"
    status, found = doctor({**stack_env, "WIKISAGA_DATA_DIR": str(missing)})
    data_dir = only(found, "data dir")
    assert data_dir["status"] == "fail"
    assert data_dir["message"] == f"{missing} does not exist"
    assert only(found, "saga log")["message"] == f"{missing / 'sagas.db'} does not exist"
    assert only(found, "document store")["status"] == "warn"
    assert only(found, "graph")["status"] == "warn"
    assert not missing.exists()
    assert list(tmp_path.iterdir()) == []
    assert status == 1


@pytest.mark.postgres
def test_a_postgres_log_is_checked_through_read_only_connections(
    doctor: Any, stack_env: dict[str, str], postgres_url: str, postgres_schema: str
) -> None:
    import psycopg  # noqa: PLC0415 - only this test needs the driver

    url = schema_url(postgres_url, postgres_schema)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{postgres_schema}"')
    env = {**stack_env, "WIKISAGA_SAGA_LOG_URL": url}
    status, found = doctor(env)
    assert only(found, "saga log")["message"].endswith("holds no saga log")
    assert status == 1
    with open_saga_log(url) as log:
        log.create_saga("wiki-orphan", "alice", owner="a-dead-process", lease_seconds=30)
    status, found = doctor(env)
    assert f"schema version {SCHEMA_VERSION}, 1 saga(s)" in only(found, "saga log")["message"]
    assert statuses(found)["sagas needing intervention"] == ["ok"]
    jobs = only(found, "jobs store")
    assert (jobs["status"], jobs["message"]) == (
        "warn",
        "no jobs table yet in the saga log's database",
    )
    assert status == 0
