"""``wikisaga sagas ...`` and ``wikisaga recover`` on a real saga log and real services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from distributed_saga import RetryPolicy, SagaState, open_saga_log
from wikisaga.pipeline.publish import WikiGenerationSaga
from wikisaga.testing.chaos import USER as CHAOS_USER
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.testing.stack import ServiceStack

USER = "admin-user"
NO_PATIENCE = RetryPolicy(attempts=1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("admin-stack")) as running:
        yield running


def wikisaga(*args: str, stack: ServiceStack, log_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WIKISAGA_INTERNAL_TOKEN": stack.token, "WIKISAGA_SAGA_LOG_URL": log_url}
    return subprocess.run(
        [sys.executable, "-m", "wikisaga", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def failed_generation(stack: ServiceStack, project_id: str, log_url: str) -> str:
    """A generation whose snapshot and whose undo both fail: it ends ``failed``."""
    stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_BEFORE))
    stack.filesystem_proxy.add_rule(FaultRule("POST", r"/restore", FaultKind.ERROR_BEFORE))
    saga = WikiGenerationSaga(
        project_id=project_id,
        user_id=USER,
        filesystem_url=stack.filesystem_proxy.url,
        git_url=stack.git_proxy.url,
        internal_headers={"X-INTERNAL-TOKEN": stack.token},
        saga_log=log_url,
        step_retry=NO_PATIENCE,
        compensation_retry=NO_PATIENCE,
    )
    result = saga.execute_with_consistency({"wiki/a.md": "a"})
    stack.clear_faults()
    assert result["saga_status"]["state"] == "failed"
    return saga.saga_id


def test_list_show_and_retry_a_failed_generation(stack: ServiceStack, tmp_path: Path) -> None:
    """An operator finds the failed saga, sees what is left, and retries it to rolled_back:
    the page it wrote is gone."""
    log_url = f"sqlite:///{tmp_path / 'sagas.db'}"
    saga_id = failed_generation(stack, "admin-p1", log_url)

    listed = wikisaga("sagas", "list", "--state", "failed", "--json", stack=stack, log_url=log_url)
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert entry["saga_id"] == saga_id
    assert entry["remaining_compensations"] == ["Save 1 wiki files to filesystem"]

    shown = wikisaga("sagas", "show", saga_id, stack=stack, log_url=log_url)
    assert shown.returncode == 0, shown.stderr
    assert "state    failed" in shown.stdout
    assert "left to undo: Save 1 wiki files to filesystem" in shown.stdout

    retried = wikisaga("sagas", "retry", saga_id, stack=stack, log_url=log_url)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"{saga_id}: rolled_back" in retried.stdout
    with open_saga_log(log_url) as log:
        assert log.get_saga(saga_id).state is SagaState.ROLLED_BACK
    with stack.direct_filesystem() as filesystem:
        assert filesystem.list_files("admin-p1", user_id=USER) == []


def test_resolve_records_a_hand_made_undo_and_needs_a_note(
    stack: ServiceStack, tmp_path: Path
) -> None:
    """``resolve`` without ``--note`` is a usage error; with one, the saga is rolled back."""
    log_url = f"sqlite:///{tmp_path / 'sagas.db'}"
    saga_id = failed_generation(stack, "admin-p2", log_url)

    refused = wikisaga("sagas", "resolve", saga_id, stack=stack, log_url=log_url)
    assert refused.returncode == 2
    assert "--note" in refused.stderr

    resolved = wikisaga(
        "sagas", "resolve", saga_id, "--note", "restored by hand", stack=stack, log_url=log_url
    )
    assert resolved.returncode == 0, resolved.stderr
    with open_saga_log(log_url) as log:
        assert log.get_saga(saga_id).state is SagaState.ROLLED_BACK


def test_show_of_an_unknown_saga_is_a_clear_error(stack: ServiceStack, tmp_path: Path) -> None:
    """Asking for a saga that is not in the log names it and exits non-zero."""
    log_url = f"sqlite:///{tmp_path / 'sagas.db'}"
    shown = wikisaga("sagas", "show", "nope", stack=stack, log_url=log_url)
    assert shown.returncode == 1
    assert "no saga 'nope'" in shown.stderr
    assert "Traceback" not in shown.stderr


def test_recover_rolls_back_a_generation_whose_process_died(
    stack: ServiceStack, tmp_path: Path
) -> None:
    """A generation killed after its files step is rolled back by ``wikisaga recover``."""
    log_url = f"sqlite:///{tmp_path / 'sagas.db'}"
    spec = {
        "urls": {"filesystem": stack.filesystem_proxy.url, "git": stack.git_proxy.url},
        "project_id": "admin-p3",
        "saga_id": "admin-p3-g1",
        "log_url": log_url,
        "files": {"wiki/a.md": "a"},
    }
    child = subprocess.run(
        [sys.executable, "-m", "wikisaga.testing.chaos", "child"],
        input=json.dumps(spec),
        text=True,
        env={**os.environ, **stack.env, "DISTRIBUTED_SAGA_CRASH_AT": "after_step:0"},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -9
    with stack.direct_filesystem() as filesystem:
        assert [f["path"] for f in filesystem.list_files("admin-p3", user_id=CHAOS_USER)] == [
            "wiki/a.md"
        ]
    with open_saga_log(log_url) as log:
        record = log.get_saga("admin-p3-g1")
        assert record.lease_expires_at is not None
    time.sleep(max(0.0, record.lease_expires_at - time.time() + 0.1))
    recovered = wikisaga("recover", stack=stack, log_url=log_url)
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "admin-p3-g1: rolled_back" in recovered.stdout
    with stack.direct_filesystem() as filesystem:
        assert filesystem.list_files("admin-p3", user_id=CHAOS_USER) == []
