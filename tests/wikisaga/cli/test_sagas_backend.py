"""``wikisaga sagas list|show|retry|resolve --backend URL`` against a live backend: the same
output as reading the log, the backend running the retry, each user kept to their own
sagas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from distributed_saga import DistributedSaga, RetryPolicy, SagaState, open_saga_log
from wikisaga.config import Settings
from wikisaga.launcher import ServiceProcess
from wikisaga.pipeline.publish import WikiGenerationSaga
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.testing.stack import ServiceStack

USER = "alice"
OTHER = "bob"
NO_PATIENCE = RetryPolicy(attempts=1)


class Live:
    def __init__(self, stack: ServiceStack, backend: ServiceProcess) -> None:
        self.stack = stack
        self.url = backend.url
        settings = Settings(data_dir=stack.data_dir, internal_token=SecretStr(stack.token))
        self.log_url = settings.effective_saga_log_url

    def wikisaga(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "WIKISAGA_INTERNAL_TOKEN": self.stack.token,
            "WIKISAGA_DATA_DIR": str(self.stack.root / "cli-data"),
        }
        env.pop("WIKISAGA_SAGA_LOG_URL", None)
        return subprocess.run(
            [sys.executable, "-m", "wikisaga", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def failed_generation(self, project: str) -> str:
        """A generation of ``USER`` whose snapshot and whose undo both fail: ``failed``."""
        self.stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_BEFORE))
        self.stack.filesystem_proxy.add_rule(FaultRule("POST", r"/restore", FaultKind.ERROR_BEFORE))
        saga = WikiGenerationSaga(
            project_id=project,
            user_id=USER,
            filesystem_url=self.stack.filesystem_proxy.url,
            git_url=self.stack.git_proxy.url,
            internal_headers={"X-INTERNAL-TOKEN": self.stack.token},
            saga_log=self.log_url,
            step_retry=NO_PATIENCE,
            compensation_retry=NO_PATIENCE,
        )
        result = saga.execute_with_consistency({"wiki/a.md": "a"})
        self.stack.clear_faults()
        assert result["saga_status"]["state"] == "failed"
        return saga.saga_id


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with ServiceStack(tmp_path_factory.mktemp("sagas-cli")) as stack:
        env = {
            **stack.env,
            "WIKISAGA_FILESYSTEM_SERVER_URL": stack.filesystem_proxy.url,
            "WIKISAGA_GIT_SERVER_URL": stack.git_proxy.url,
            "WIKISAGA_PAGE_GENERATOR": "local",
        }
        with ServiceProcess("backend", env=env, log_dir=stack.root, startup_timeout=60) as proc:
            yield Live(stack, proc)


def _project() -> str:
    return f"cli-{uuid.uuid4().hex[:10]}"


def test_list_and_show_print_what_the_log_says(live: Live) -> None:
    """Through the backend, ``list --json`` and ``show`` print exactly what reading the log
    prints, filtered by state and project."""
    project = _project()
    saga_id = live.failed_generation(project)
    filters = ["--state", "failed", "--project", project]
    via_api = live.wikisaga("sagas", "list", *filters, "--json", "--backend", live.url)
    via_log = live.wikisaga("sagas", "list", *filters, "--json", "--log-url", live.log_url)
    assert via_api.returncode == 0, via_api.stderr
    assert via_log.returncode == 0, via_log.stderr
    [entry] = json.loads(via_api.stdout)
    assert entry["saga_id"] == saga_id
    assert entry["remaining_compensations"] == ["Save 1 wiki files to filesystem"]
    assert via_api.stdout == via_log.stdout

    shown = live.wikisaga("sagas", "show", saga_id, "--backend", live.url)
    assert shown.returncode == 0, shown.stderr
    assert "state    failed" in shown.stdout
    assert "left to undo: Save 1 wiki files to filesystem" in shown.stdout
    assert shown.stdout == live.wikisaga("sagas", "show", saga_id, "--log-url", live.log_url).stdout


def test_retry_and_resolve_through_the_backend(live: Live) -> None:
    """``retry --backend`` rolls the saga back on the backend (the page it wrote is gone);
    ``resolve --backend --note`` ends another; a second retry is refused with the API's
    409, a non-zero exit."""
    project = _project()
    saga_id = live.failed_generation(project)
    with live.stack.direct_filesystem() as filesystem:
        assert filesystem.get_file(project, "wiki/a.md", user_id=USER) is not None
    retried = live.wikisaga("sagas", "retry", saga_id, "--backend", live.url)
    assert retried.returncode == 0, (retried.stdout, retried.stderr)
    assert f"{saga_id}: rolled_back" in retried.stdout, (retried.stdout, retried.stderr)
    with live.stack.direct_filesystem() as filesystem:
        assert filesystem.get_file(project, "wiki/a.md", user_id=USER) is None
    log = open_saga_log(live.log_url)
    try:
        assert log.get_saga(saga_id).state is SagaState.ROLLED_BACK
    finally:
        log.close()
    again = live.wikisaga("sagas", "retry", saga_id, "--backend", live.url)
    assert again.returncode != 0, (again.stdout, again.stderr)
    assert "409 saga_state" in again.stderr, (again.stdout, again.stderr)

    other = live.failed_generation(_project())
    resolved = live.wikisaga(
        "sagas", "resolve", other, "--note", "deleted by hand (ops)", "--backend", live.url
    )
    assert resolved.returncode == 0, (resolved.stdout, resolved.stderr)
    assert f"{other}: rolled_back" in resolved.stdout, (resolved.stdout, resolved.stderr)
    shown = json.loads(
        live.wikisaga("sagas", "show", other, "--json", "--backend", live.url).stdout
    )
    assert shown["state"] == "rolled_back"


def test_as_a_user_only_their_sagas(live: Live) -> None:
    """``--user bob`` lists only Bob's sagas and cannot see or retry Alice's (404)."""
    alices = live.failed_generation(_project())
    log = open_saga_log(live.log_url)
    try:
        bobs = f"wiki-{_project()}-b"
        saga = DistributedSaga(bobs, OTHER, log=log, lock_key=f"wiki:{_project()}")
        saga.execute_step(name="Touch", action=lambda: None)
        saga.commit()
    finally:
        log.close()
    listed = live.wikisaga(
        "sagas", "list", "--json", "--limit", "500", "--backend", live.url, "--user", OTHER
    )
    assert listed.returncode == 0, listed.stderr
    ids = [entry["saga_id"] for entry in json.loads(listed.stdout)]
    assert bobs in ids
    assert alices not in ids
    for command in (("show", alices), ("retry", alices)):
        refused = live.wikisaga("sagas", *command, "--backend", live.url, "--user", OTHER)
        assert refused.returncode != 0
        assert "404 saga_not_found" in refused.stderr


def test_options_that_do_not_go_together(live: Live) -> None:
    """``--backend`` with ``--log-url``, and ``--user`` without ``--backend``, are usage
    errors; a backend that does not answer is one line and a non-zero exit."""
    both = live.wikisaga("sagas", "list", "--backend", live.url, "--log-url", live.log_url)
    assert both.returncode == 2
    assert "not both" in both.stderr
    lone_user = live.wikisaga("sagas", "list", "--user", OTHER, "--log-url", live.log_url)
    assert lone_user.returncode == 2
    assert "--user needs --backend" in lone_user.stderr
    down = live.wikisaga("sagas", "list", "--backend", "http://127.0.0.1:9")
    assert down.returncode != 0
    assert "backend" in down.stderr
    not_a_url = live.wikisaga("sagas", "list", "--backend", "backend:6000")
    assert not_a_url.returncode == 2
    assert "--backend 'backend:6000' must be an http:// or https:// URL" in not_a_url.stderr
    assert "WIKISAGA_BACKEND_URL=" not in not_a_url.stderr  # not the setting it did not read


def test_a_resolve_note_is_checked_before_anything_is_opened(live: Live) -> None:
    """A blank note, or one that is not one line of printable text, is a usage error
    (exit 2) naming --note, as the backend refuses such a reason; the log is not opened
    (it used to end in a traceback, after creating the log file)."""
    log_file = live.stack.root / f"never-{uuid.uuid4().hex[:6]}.db"
    for note in ("   ", "done\nWARNING forged", "x" * 2001):
        refused = live.wikisaga(
            "sagas", "resolve", "wiki-x-1", "--note", note, "--log-url", f"sqlite:///{log_file}"
        )
        assert refused.returncode == 2, (note, refused.stderr)
        assert "--note: " in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not log_file.exists()
