"""Starting and stopping the service: no token refused, --dev works, one process per data dir."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from service_support import TOKEN, headers, service_env

from wikisaga.launcher import ServiceProcess, ServiceStartError, free_port


def _env_without_token(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIKISAGA_")}
    env["WIKISAGA_DATA_DIR"] = str(data_dir)
    return env


def test_without_a_token_the_service_refuses_to_start_with_a_clear_message(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wikisaga", "serve", "filesystem", "--port", str(free_port())],
        env=_env_without_token(tmp_path / "data"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wikisaga: error: ")
    assert "WIKISAGA_INTERNAL_TOKEN" in lines[0]
    assert "--dev" in lines[0]


def test_dev_mode_starts_and_prints_the_generated_token_it_accepts(tmp_path: Path) -> None:
    service = ServiceProcess(
        "filesystem",
        env=_env_without_token(tmp_path / "data"),
        log_dir=tmp_path / "logs",
        extra_args=["--dev"],
    )
    with service:
        match = re.search(r"^export WIKISAGA_INTERNAL_TOKEN=(\S+)$", service.log_tail(), re.M)
        assert match, service.log_tail()
        token = match.group(1)
        good = httpx.get(f"{service.url}/files/p", headers=headers("u", token))
        bad = httpx.get(f"{service.url}/files/p", headers=headers("u", TOKEN))
    assert (good.status_code, bad.status_code) == (200, 401)


def test_a_second_service_on_the_same_data_dir_refuses_to_start(
    fresh_filesystem: ServiceProcess, tmp_path: Path
) -> None:
    second = ServiceProcess(
        "filesystem",
        env=fresh_filesystem.env,
        log_dir=tmp_path / "second-logs",
    )
    with pytest.raises(ServiceStartError, match="another filesystem service"):
        second.start()
    assert second.returncode == 2
    assert httpx.get(f"{fresh_filesystem.url}/health").status_code == 200


def test_stop_is_graceful_and_restart_keeps_the_url_and_the_data(
    fresh_filesystem: ServiceProcess,
) -> None:
    url = fresh_filesystem.url
    body = {"project_id": "p", "file_path": "a.md", "content": "kept"}
    assert httpx.post(f"{url}/save_file", json=body, headers=headers()).status_code == 200

    # uvicorn finishes its shutdown, then re-raises the SIGTERM it caught.
    assert fresh_filesystem.stop() in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in fresh_filesystem.log_tail()
    assert not fresh_filesystem.alive
    fresh_filesystem.restart()

    assert fresh_filesystem.url == url
    response = httpx.get(f"{url}/file/p/a.md", headers=headers())
    assert response.json()["content"] == "kept"


def test_kill_ends_the_process_with_sigkill(fresh_filesystem: ServiceProcess) -> None:
    assert fresh_filesystem.kill() == -9
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{fresh_filesystem.url}/health", timeout=2)


def test_a_service_that_dies_at_start_reports_its_log_tail(tmp_path: Path) -> None:
    service = ServiceProcess(
        "filesystem", env=_env_without_token(tmp_path / "data"), log_dir=tmp_path / "logs"
    )
    with pytest.raises(ServiceStartError, match=r"exited with status 2[\s\S]*INTERNAL_TOKEN"):
        service.start()


def test_the_services_log_goes_to_a_file_in_the_log_dir(tmp_path: Path) -> None:
    service = ServiceProcess(
        "filesystem", env=service_env(tmp_path / "data"), log_dir=tmp_path / "logs"
    )
    with service:
        httpx.get(f"{service.url}/health")
    assert service.log_path.parent == tmp_path / "logs"
    assert "GET /health" in service.log_path.read_text()
