"""The filesystem service's in-process fault hooks, used by the fault matrix."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from service_support import headers, service_env

from wikisaga.launcher import ServiceProcess, ServiceStartError
from wikisaga.services.filesystem._faults import FAULT_ENV


def _batch(count: int, tag: str) -> dict[str, object]:
    return {
        "project_id": "p",
        "save": [{"file_path": f"wiki/{i}.md", "content": f"{tag} {i}"} for i in range(count)],
    }


def test_fail_at_file_fails_the_whole_batch_and_changes_nothing(tmp_path: Path) -> None:
    """``fail_at_file:N``: the batch answers 500 and no file of it is visible."""
    env = service_env(tmp_path / "data", **{FAULT_ENV: "fail_at_file:2"})
    with (
        ServiceProcess("filesystem", env=env, log_dir=tmp_path) as service,
        httpx.Client(base_url=service.url, headers=headers(), timeout=10) as client,
    ):
        assert (
            client.post(
                "/save_file", json={"project_id": "p", "file_path": "wiki/0.md", "content": "old"}
            ).status_code
            == 200
        )
        response = client.post("/batch", json=_batch(3, "new"))
        assert response.status_code == 500
        files = client.get("/export/p").json()["files"]
        assert [(f["path"], f["content"]) for f in files] == [("wiki/0.md", "old")]


def test_kill_at_file_kills_the_service_and_the_batch_is_not_applied(tmp_path: Path) -> None:
    """``kill_at_file:N``: the service dies mid-batch; after a restart nothing of it shows."""
    env = service_env(tmp_path / "data", **{FAULT_ENV: "kill_at_file:3"})
    service = ServiceProcess("filesystem", env=env, log_dir=tmp_path)
    with service:
        with (
            httpx.Client(base_url=service.url, headers=headers(), timeout=10) as client,
            pytest.raises(httpx.TransportError),
        ):
            client.post("/batch", json=_batch(12, "new"))
        service.stop()
        assert service.returncode == -9
        del service.env[FAULT_ENV]
        service.start()
        with httpx.Client(base_url=service.url, headers=headers(), timeout=10) as client:
            assert client.get("/files/p").json()["files"] == []


def test_a_malformed_fault_setting_stops_the_service_from_starting(tmp_path: Path) -> None:
    """A typo in the fault setting is refused at start, not silently ignored."""
    env = service_env(tmp_path / "data", **{FAULT_ENV: "kill_at_file:zero"})
    with pytest.raises(ServiceStartError, match="kill_at_file:N"):
        ServiceProcess("filesystem", env=env, log_dir=tmp_path, startup_timeout=10).start()
