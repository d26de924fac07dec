"""``append_steps`` of WikiGenerationSaga: run after the snapshot, before the commit, and
undone (with everything before them) when they fail."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from distributed_saga import Compensation, compensation, open_saga_log
from wikisaga.ids import snapshot_id_for
from wikisaga.pipeline.publish import PublishStep, WikiGenerationSaga
from wikisaga.testing.stack import ServiceStack

USER = "user-hooks"
_undone: list[str] = []


@compensation("tests.generation.record_undo")
def _record_undo(args: Mapping[str, Any]) -> None:
    """Remember which step was undone."""
    _undone.append(str(args["name"]))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("hooks-stack")) as running:
        yield running


def _saga(stack: ServiceStack, project_id: str, tmp_path: Path, **options: Any) -> Any:
    return WikiGenerationSaga(
        project_id=project_id,
        user_id=USER,
        filesystem_url=stack.filesystem.url,
        git_url=stack.git.url,
        internal_headers={"X-INTERNAL-TOKEN": stack.token},
        saga_log=f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}",
        **options,
    )


def test_append_steps_run_after_the_snapshot(stack: ServiceStack, tmp_path: Path) -> None:
    """An appended step sees the snapshot already made, and the saga has three steps."""
    seen: list[Any] = []
    snapshot_id = snapshot_id_for("wiki-hooks-a-1")

    def after() -> None:
        with stack.direct_git() as git:
            seen.append(git.get_snapshot("hooks-a", snapshot_id, user_id=USER))

    saga = _saga(
        stack,
        "hooks-a",
        tmp_path,
        saga_id="wiki-hooks-a-1",
        append_steps=[
            PublishStep("After", after, Compensation("tests.generation.record_undo", {"name": "a"}))
        ],
    )
    result = saga.execute_with_consistency({"wiki/a.md": "a"})
    assert result["status"] == "success"
    assert len(seen) == 1
    assert seen[0] is not None
    assert saga.get_status()["total_steps"] == 3


def test_a_failing_appended_step_rolls_back_everything(stack: ServiceStack, tmp_path: Path) -> None:
    """The appended step fails: it is compensated (its intent was recorded), then the
    snapshot and the files; nothing is left."""
    _undone.clear()

    def boom() -> None:
        raise RuntimeError("cannot flip")

    saga = _saga(
        stack,
        "hooks-b",
        tmp_path,
        append_steps=[
            PublishStep("Flip", boom, Compensation("tests.generation.record_undo", {"name": "f"}))
        ],
    )
    result = saga.execute_with_consistency({"wiki/b.md": "b"})
    assert result["status"] == "failed"
    assert "cannot flip" in result["error"]
    assert _undone == ["f"]
    with stack.direct_filesystem() as fs, stack.direct_git() as git:
        assert fs.list_files("hooks-b", user_id=USER) == []
        assert git.get_snapshot("hooks-b", saga.snapshot_id, user_id=USER) is None
    log = open_saga_log(f"sqlite:///{(tmp_path / 'sagas.db').as_posix()}")
    try:
        assert log.get_saga(saga.saga_id).state.value == "rolled_back"
    finally:
        log.close()
