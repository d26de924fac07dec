"""WikiGenerationSaga against real services: the guide's tests, overwrite-safe rollback
(one batch replacing the files, undone by its key), one generation per project, and input
validation."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from distributed_saga import (
    Compensation,
    RetryPolicy,
    SagaLockedError,
    SagaState,
    compensation,
    open_saga_log,
)
from distributed_saga.log import shared_saga_logs
from wikisaga.errors import ServiceRejected
from wikisaga.pipeline.compensations import FILES_RESTORE, publish_compensations
from wikisaga.pipeline.publish import PublishStep, WikiGenerationSaga
from wikisaga.testing.invariants import read_state
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.testing.stack import ServiceStack

USER = "user-456"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("wiki-stack")) as running:
        yield running


@pytest.fixture
def log_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}"


@pytest.fixture(autouse=True)
def _no_faults_left(stack: ServiceStack) -> Iterator[None]:
    yield
    stack.clear_faults()


_projects = iter(range(10_000))


@pytest.fixture
def project_id() -> str:
    return f"proj-{next(_projects)}"


def make_saga(
    stack: ServiceStack, project_id: str, log_url: str, **options: Any
) -> WikiGenerationSaga:
    """The guide's constructor, pointed at the stack's fault proxies."""
    return WikiGenerationSaga(
        project_id=project_id,
        user_id=USER,
        filesystem_url=stack.filesystem_proxy.url,
        git_url=stack.git_proxy.url,
        internal_headers={"X-INTERNAL-TOKEN": stack.token},
        saga_log=log_url,
        filesystem_timeout=2.0,
        git_timeout=2.0,
        **options,
    )


def pages(count: int, tag: str) -> list[dict[str, str]]:
    return [
        {"file_path": f"wiki/page-{i}.md", "content": f"# Page {i}\n\n{tag}\n"}
        for i in range(count)
    ]


def state(stack: ServiceStack, project_id: str) -> Any:
    with stack.direct_filesystem() as filesystem:
        return read_state(filesystem, stack.repository(project_id), project_id, USER)


def test_successful_saga_execution(stack: ServiceStack, project_id: str, log_url: str) -> None:
    """Guide test 1 (and its integration test): files and snapshot exist afterwards."""
    saga = make_saga(stack, project_id, log_url)
    result = saga.execute_with_consistency(pages(45, "first"))

    assert result["status"] == "success"
    assert result["files_created"] == 45
    assert result["snapshot_id"] == saga.snapshot_id
    with stack.direct_filesystem() as filesystem, stack.direct_git() as git:
        files = filesystem.list_files(project_id, user_id=USER, prefix="wiki/")
        assert len(files) == result["files_created"]
        snapshot = git.get_snapshot(project_id, result["snapshot_id"], user_id=USER)
    assert snapshot is not None
    assert sorted(snapshot["files"]) == sorted(p["file_path"] for p in pages(45, "x"))
    assert saga.get_status()["state"] == "committed"
    assert saga.get_status()["total_steps"] == 2
    tree = subprocess.run(
        [
            "git",
            "--git-dir",
            str(stack.repository(project_id)),
            "ls-tree",
            "-r",
            "--name-only",
            result["snapshot_id"],
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(tree) == 45


def test_rollback_on_step_failure(stack: ServiceStack, project_id: str, log_url: str) -> None:
    """Guide test 2: the git service errors; the saved files are rolled back."""
    stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_BEFORE))
    result = make_saga(stack, project_id, log_url).execute_with_consistency(pages(5, "x"))

    assert result["status"] == "failed"
    assert result["saga_status"]["state"] == "rolled_back"
    assert result["saga_status"]["failed_at"] == "Create git snapshot of wiki files"
    assert state(stack, project_id).files == {}


def test_rollback_failure_handling(stack: ServiceStack, project_id: str, log_url: str) -> None:
    """Guide test 3: the undo fails too; the saga is ``failed`` and says what is left."""
    stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_BEFORE))
    stack.filesystem_proxy.add_rule(FaultRule("POST", r"/restore", FaultKind.ERROR_BEFORE))
    saga = make_saga(
        stack,
        project_id,
        log_url,
        compensation_retry=RetryPolicy(attempts=2, base_delay=0.01, retry_on=lambda e: True),
    )
    result = saga.execute_with_consistency(pages(3, "x"))

    assert result["status"] == "failed"
    assert result["saga_status"]["state"] == "failed"
    with open_saga_log(log_url) as log:
        left = [s.name for s in log.get_saga(saga.saga_id).remaining_compensations]
    assert left == ["Save 3 wiki files to filesystem"]


def test_regeneration_rollback_restores_the_previous_wiki(
    stack: ServiceStack, project_id: str, log_url: str
) -> None:
    """Overwrite-safe: a failed regeneration puts overwritten pages back, removes new ones,
    brings back dropped ones, and leaves the history as it was."""
    first = {"wiki/a.md": "a1", "wiki/b.md": "b1", "wiki/gone.md": "old page"}
    assert make_saga(stack, project_id, log_url).execute_with_consistency(first)["status"] == (
        "success"
    )
    before = state(stack, project_id)

    stack.git_proxy.add_rule(FaultRule("POST", r"/snapshot/.+", FaultKind.ERROR_AFTER))
    second = {"wiki/a.md": "a2", "wiki/b.md": "b1", "wiki/new.md": "new"}
    result = make_saga(stack, project_id, log_url).execute_with_consistency(second)

    assert result["status"] == "failed"
    after = state(stack, project_id)
    assert after.files == before.files == first
    assert after.refs == before.refs


def test_regeneration_commit_removes_dropped_pages(
    stack: ServiceStack, project_id: str, log_url: str
) -> None:
    """Pages the new generation no longer has are gone once it commits, and the
    snapshot's tree equals the files."""
    make_saga(stack, project_id, log_url).execute_with_consistency({"wiki/old.md": "o"})
    result = make_saga(stack, project_id, log_url).execute_with_consistency({"wiki/new.md": "n"})
    assert result["status"] == "success"
    assert result["files_removed"] == 1
    assert state(stack, project_id).files == {"wiki/new.md": "n"}


@compensation("tests.wiki.nothing_to_undo")
def _nothing_to_undo(args: Mapping[str, Any]) -> None:
    """The held step below changes nothing, so undoing it does nothing."""


def test_a_second_concurrent_generation_is_refused(
    stack: ServiceStack, project_id: str, log_url: str
) -> None:
    """One generation per project: while the first is running (held inside a step), the
    second raises SagaLockedError naming it and writes nothing."""
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        assert release.wait(30)

    first = make_saga(
        stack,
        project_id,
        log_url,
        prepend_steps=[PublishStep("Hold", hold, Compensation("tests.wiki.nothing_to_undo"))],
    )
    results: list[dict[str, Any]] = []
    runner = threading.Thread(
        target=lambda: results.append(first.execute_with_consistency({"wiki/a.md": "a"}))
    )
    runner.start()
    try:
        assert inside.wait(30)
        second = make_saga(stack, project_id, log_url)
        with pytest.raises(SagaLockedError, match=first.saga_id):
            second.execute_with_consistency({"wiki/b.md": "b"})
    finally:
        release.set()
        runner.join(30)
    assert results[0]["status"] == "success"
    assert state(stack, project_id).files == {"wiki/a.md": "a"}


def test_mapping_input_is_accepted(stack: ServiceStack, project_id: str, log_url: str) -> None:
    """``generated_files`` may be a mapping path -> content."""
    result = make_saga(stack, project_id, log_url).execute_with_consistency({"wiki/x.md": "x"})
    assert result["status"] == "success"
    assert state(stack, project_id).files == {"wiki/x.md": "x"}


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        [{"content": "no path"}],
        [{"file_path": "a.md", "content": b"bytes"}],
        [{"file_path": "a.md", "content": "x"}, {"file_path": "a.md", "content": "y"}],
        {"": "empty path"},
    ],
)
def test_invalid_input_raises_before_anything_is_written(
    stack: ServiceStack, project_id: str, log_url: str, bad: Any
) -> None:
    """Bad input is a ValueError, and no saga is even recorded."""
    with pytest.raises(ValueError, match=r"generated_files|file path|content of"):
        make_saga(stack, project_id, log_url).execute_with_consistency(bad)
    with open_saga_log(log_url) as log:
        assert log.list_sagas() == []
    assert state(stack, project_id).files == {}


def test_a_service_down_rolls_back_without_an_operator(
    stack: ServiceStack, project_id: str, log_url: str
) -> None:
    """With git down (connections refused), the snapshot provably never happened: the
    saga rolls back by itself instead of waiting for an operator."""
    stack.git_proxy.set_down(True)
    result = make_saga(stack, project_id, log_url).execute_with_consistency({"wiki/a.md": "a"})
    assert result["status"] == "failed"
    assert result["saga_status"]["state"] == SagaState.ROLLED_BACK.value
    assert state(stack, project_id).files == {}


def test_guide_import_path() -> None:
    """``from distributed_saga import WikiGenerationSaga`` is the guide's import."""
    from distributed_saga import WikiGenerationSaga as FromGuide  # noqa: PLC0415

    assert FromGuide is WikiGenerationSaga


def test_snapshot_ids_stay_valid_for_long_project_ids() -> None:
    """The snapshot id derived from a long saga id is still a valid snapshot id."""
    from wikisaga.ids import snapshot_id_for  # noqa: PLC0415

    assert snapshot_id_for("wiki-p-1") == "snap-wiki-p-1"
    long_id = snapshot_id_for("wiki-" + "p" * 128 + "-20261125T000000-abcdef")
    assert len(long_id) <= 128
    assert long_id.startswith("snap-")
    assert snapshot_id_for("wiki-x" * 40) != snapshot_id_for("wiki-y" * 40)


# -- one request for the files, undone by its key -------------------------------------------


def versions(stack: ServiceStack, project_id: str) -> dict[str, str]:
    with stack.direct_filesystem() as filesystem:
        return {f["path"]: f["version"] for f in filesystem.list_files(project_id, user_id=USER)}


def test_the_files_are_one_request_and_their_undo_is_logged_by_key(
    stack: ServiceStack, project_id: str, log_url: str
) -> None:
    """The saga reads nothing before writing: its one filesystem request is the batch that
    replaces the files, and the compensation it logs names the batch's key, no file list."""
    make_saga(stack, project_id, log_url).execute_with_consistency({"wiki/old.md": "o"})
    stack.filesystem_proxy.clear_requests()
    saga = make_saga(stack, project_id, log_url)

    result = saga.execute_with_consistency({"wiki/new.md": "n"})

    assert result["status"] == "success"
    assert [(r.method, r.path) for r in stack.filesystem_proxy.requests] == [("POST", "/batch")]
    with open_saga_log(log_url) as log:
        files_step = log.get_saga(saga.saga_id).steps[0]
    assert files_step.compensation == FILES_RESTORE
    assert files_step.compensation_args == {
        "saga_id": saga.saga_id,
        "project_id": project_id,
        "user_id": USER,
        "filesystem_url": stack.filesystem_proxy.url,
        "timeout": 2.0,
        "idempotency_key": f"{saga.saga_id}:files",
        "undo": True,
    }


def test_the_snapshot_message_counts_the_pages_the_batch_removed(
    stack: ServiceStack, project_id: str, log_url: str
) -> None:
    first = {"wiki/a.md": "a", "wiki/b.md": "b", "wiki/c.md": "c"}
    make_saga(stack, project_id, log_url).execute_with_consistency(first)

    result = make_saga(stack, project_id, log_url).execute_with_consistency({"wiki/a.md": "a2"})

    assert result["status"] == "success"
    assert result["files_removed"] == 2
    with stack.direct_git() as git:
        snapshot = git.get_snapshot(project_id, result["snapshot_id"], user_id=USER)
    assert snapshot is not None
    assert snapshot["message"] == "Auto-generated wiki with 1 files (2 removed)."


def test_a_lost_batch_answer_is_undone_by_its_key(
    stack: ServiceStack, project_id: str, log_url: str
) -> None:
    """The batch lands every try but its answer never comes back: the rollback, which knows
    only the key, puts every page back at its old version, dropped ones included."""
    first = {"wiki/a.md": "a1", "wiki/b.md": "b1", "wiki/gone.md": "old page"}
    make_saga(stack, project_id, log_url).execute_with_consistency(first)
    before = versions(stack, project_id)
    stack.filesystem_proxy.add_rule(FaultRule("POST", r"/batch", FaultKind.DROP_AFTER))

    result = make_saga(stack, project_id, log_url).execute_with_consistency(
        {"wiki/a.md": "a2", "wiki/new.md": "new"}
    )

    assert result["status"] == "failed"
    assert result["saga_status"]["state"] == SagaState.ROLLED_BACK.value
    assert versions(stack, project_id) == before
    assert state(stack, project_id).files == first


def test_a_batch_that_arrives_after_its_rollback_is_refused(
    stack: ServiceStack, project_id: str, log_url: str
) -> None:
    """The batch never reached the service (refused before it); the rollback undoes the key
    anyway, so the same batch arriving late is refused and changes nothing."""
    make_saga(stack, project_id, log_url).execute_with_consistency({"wiki/a.md": "a1"})
    stack.filesystem_proxy.add_rule(FaultRule("POST", r"/batch", FaultKind.ERROR_BEFORE))
    saga = make_saga(stack, project_id, log_url)

    result = saga.execute_with_consistency({"wiki/a.md": "a2"})

    assert result["status"] == "failed"
    stack.clear_faults()
    with stack.direct_filesystem() as filesystem, pytest.raises(ServiceRejected) as refused:
        filesystem.batch(
            project_id,
            save=[("wiki/a.md", "a2")],
            replace=True,
            user_id=USER,
            idempotency_key=f"{saga.saga_id}:files",
        )
    assert refused.value.status == 409
    assert refused.value.error == "idempotency_key_revoked"
    assert state(stack, project_id).files == {"wiki/a.md": "a1"}


@pytest.mark.parametrize("batch_arrived", [True, False])
def test_compensation_args_of_the_earlier_form_still_restore(
    stack: ServiceStack, project_id: str, log_url: str, batch_arrived: bool
) -> None:
    """A saga logged by an earlier version (a file list planned from a listing, the batch
    with explicit deletes) is still rolled back by the registered compensation."""
    first = {"wiki/a.md": "a1", "wiki/gone.md": "old page"}
    make_saga(stack, project_id, log_url).execute_with_consistency(first)
    before = versions(stack, project_id)
    key = f"wiki-{project_id}-earlier:files"
    if batch_arrived:
        with stack.direct_filesystem() as filesystem:
            filesystem.batch(
                project_id,
                save=[("wiki/a.md", "a2"), ("wiki/new.md", "n")],
                delete=["wiki/gone.md"],
                user_id=USER,
                idempotency_key=key,
            )
    args = {
        "saga_id": f"wiki-{project_id}-earlier",
        "project_id": project_id,
        "user_id": USER,
        "filesystem_url": stack.filesystem.url,
        "timeout": 2.0,
        "idempotency_key": key,
        "files": [{"path": p, "version": before.get(p)} for p in sorted({*before, "wiki/new.md"})],
    }

    publish_compensations(stack.headers).get(FILES_RESTORE)(args)

    assert versions(stack, project_id) == before
    assert state(stack, project_id).files == first
    if not batch_arrived:  # the key was revoked: the batch arriving now is refused
        with stack.direct_filesystem() as filesystem, pytest.raises(ServiceRejected):
            filesystem.batch(
                project_id, save=[("wiki/a.md", "late")], user_id=USER, idempotency_key=key
            )
        assert state(stack, project_id).files == first


def test_publishes_naming_one_log_url_share_one_opened_log(
    stack: ServiceStack, log_url: str
) -> None:
    """The log a URL names is opened by the first publish of the process and lent to the
    next, which writes its saga through the very same log."""
    first, second = f"proj-{next(_projects)}", f"proj-{next(_projects)}"
    shared_saga_logs.close_all()  # the idle logs of earlier tests: none is in use
    assert (
        make_saga(stack, first, log_url).execute_with_consistency(pages(3, "a"))["status"]
        == "success"
    )
    assert shared_saga_logs.open_count() == 1
    with shared_saga_logs.lease(log_url) as lent:
        log = lent
    assert (
        make_saga(stack, second, log_url).execute_with_consistency(pages(3, "b"))["status"]
        == "success"
    )
    assert shared_saga_logs.open_count() == 1
    with shared_saga_logs.lease(log_url) as lent:
        assert lent is log
    assert {record.lock_key for record in log.list_sagas()} == {f"wiki:{first}", f"wiki:{second}"}
