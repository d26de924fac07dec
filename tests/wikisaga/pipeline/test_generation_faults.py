"""A fault at each step of the generation saga, on a first generation and on a
regeneration: after the rollback the previous wiki, its snapshot history and its current
graph generation are exactly as before, and no staged generation is left behind.

Two kinds of fault: a step that fails (its action ran, then it reported an error: a graph
store that raises after writing, a service answering 500 after applying), undone in
process; and a crash at each fault point of the engine, undone by recovery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from generation_support import USER, ingest_documents, raising, read_everything, settings_for

from distributed_saga import FaultPlan, FaultPoint, open_saga_log, recover_sagas
from wikisaga.auth import get_internal_headers
from wikisaga.config import Settings
from wikisaga.errors import GenerationRolledBack
from wikisaga.graph import SQLiteGraphStore, default_graph_url
from wikisaga.pipeline.compensations import publish_compensations
from wikisaga.pipeline.generation import SAGA_STEPS, local_pages
from wikisaga.services.backend.app import _run_wiki_generation_task
from wikisaga.testing.invariants import check_settled
from wikisaga.testing.proxy import FaultKind, FaultRule
from wikisaga.testing.stack import ServiceStack

_projects = iter(range(10_000))


class FailingGraph(SQLiteGraphStore):
    """A SQLite graph whose ``stage`` or ``make_current`` fails after doing its work."""

    fail_in: str | None = None

    def stage(self, *args: Any, **kwargs: Any) -> None:
        super().stage(*args, **kwargs)
        if self.fail_in == "stage":
            raise RuntimeError("graph failed after staging")

    def make_current(self, project_id: str, generation: str | None) -> str | None:
        previous = super().make_current(project_id, generation)
        if self.fail_in == "make_current":
            raise RuntimeError("graph failed after the flip")
        return previous


def _graph_fault(method: str) -> Callable[[ServiceStack, FailingGraph], None]:
    def arm(_stack: ServiceStack, graph: FailingGraph) -> None:
        graph.fail_in = method

    return arm


def _proxy_fault(service: str, method: str, path: str) -> Callable[[ServiceStack, Any], None]:
    def arm(stack: ServiceStack, _graph: Any) -> None:
        proxy = stack.filesystem_proxy if service == "filesystem" else stack.git_proxy
        proxy.add_rule(FaultRule(method, path, FaultKind.ERROR_AFTER))

    return arm


STEP_FAULTS = [
    pytest.param(_graph_fault("stage"), id="stage_graph"),
    pytest.param(_proxy_fault("filesystem", "POST", "/batch"), id="save_files"),
    pytest.param(_proxy_fault("git", "POST", r"/snapshot/.+"), id="create_snapshot"),
    pytest.param(_graph_fault("make_current"), id="make_graph_current"),
]

CRASHES = [
    pytest.param(FaultPoint.AFTER_ACTION, index, id=f"after-{name}")
    for index, name in enumerate(SAGA_STEPS)
] + [
    pytest.param(FaultPoint.AFTER_INTENT, 0, id="intent-of-stage_graph"),
    pytest.param(FaultPoint.BEFORE_COMMIT, None, id="before-commit"),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceStack]:
    with ServiceStack(tmp_path_factory.mktemp("generation-faults")) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_faults_left(stack: ServiceStack) -> Iterator[None]:
    yield
    stack.clear_faults()


@pytest.fixture
def project_id() -> str:
    return f"fault-{next(_projects)}"


@pytest.fixture
def settings(stack: ServiceStack, tmp_path: Path) -> Settings:
    return settings_for(stack, tmp_path / "data")


@pytest.fixture
def graph(settings: Settings) -> Iterator[FailingGraph]:
    store = FailingGraph(default_graph_url(settings).removeprefix("sqlite:///"))
    yield store
    store.close()


def _settled(settings: Settings, saga_id: str) -> str:
    with open_saga_log(settings.effective_saga_log_url) as log:
        record = log.get_saga(saga_id)
    assert check_settled(record) == []
    return record.state.value


def _fail_step(
    stack: ServiceStack,
    settings: Settings,
    graph: FailingGraph,
    project_id: str,
    arm: Callable[[ServiceStack, FailingGraph], None],
) -> None:
    arm(stack, graph)
    saga_id = f"wiki-{project_id}-failing"
    with pytest.raises(
        GenerationRolledBack, match=r"^Wiki generation failed and was rolled back: "
    ):
        _run_wiki_generation_task(
            project_id, USER, settings=settings, pages=local_pages, graph=graph, saga_id=saga_id
        )
    graph.fail_in = None
    stack.clear_faults()
    assert _settled(settings, saga_id) == "rolled_back"


def _crash_and_recover(
    settings: Settings, project_id: str, point: FaultPoint, step: int | None
) -> None:
    saga_id = f"wiki-{project_id}-crashed"
    with pytest.raises(GenerationRolledBack):
        _run_wiki_generation_task(
            project_id,
            USER,
            settings=settings,
            pages=local_pages,
            faults=FaultPlan(point=point, step=step, action=raising("crash")),
            saga_id=saga_id,
            lease_seconds=0.5,
        )
    time.sleep(0.6)
    registry = publish_compensations(get_internal_headers(settings=settings))
    with open_saga_log(settings.effective_saga_log_url) as log:
        outcomes = recover_sagas(log, registry=registry, lease_seconds=5.0)
    assert [(o.saga_id, o.state.value) for o in outcomes] == [(saga_id, "rolled_back")]
    assert _settled(settings, saga_id) == "rolled_back"


def _first_generation(settings: Settings, project_id: str, tmp_path: Path) -> dict[str, Any]:
    ingest_documents(settings, project_id, tmp_path, ["chroma", "neo4j", "git"])
    first = _run_wiki_generation_task(project_id, USER, settings=settings, pages=local_pages)
    ingest_documents(settings, project_id, tmp_path, ["chroma", "neo4j", "fastapi"])
    return first


def _then_a_generation_commits(stack: ServiceStack, settings: Settings, project_id: str) -> None:
    result = _run_wiki_generation_task(project_id, USER, settings=settings, pages=local_pages)
    after = read_everything(stack, settings, project_id)
    assert after.graph_current == result["graph_generation"]
    assert after.graph_generations == (result["graph_generation"],)
    assert len(after.wiki.files) == result["files_created"]
    assert f"refs/tags/{result['snapshot_id']}" in after.wiki.refs


def _nothing(stack: ServiceStack, settings: Settings, project_id: str) -> None:
    everything = read_everything(stack, settings, project_id)
    assert everything.wiki.files == {}
    assert not [ref for ref in everything.wiki.refs if ref.startswith("refs/tags/")]
    assert everything.graph_current is None
    assert everything.graph_generations == ()


@pytest.mark.parametrize("arm", STEP_FAULTS)
def test_a_failing_step_of_a_first_generation_leaves_nothing(
    stack: ServiceStack,
    settings: Settings,
    graph: FailingGraph,
    project_id: str,
    tmp_path: Path,
    arm: Callable[[ServiceStack, FailingGraph], None],
) -> None:
    """No files, no snapshot, no graph generation after a rolled-back first generation;
    the next one commits with all three."""
    ingest_documents(settings, project_id, tmp_path, ["chroma", "neo4j"])
    _fail_step(stack, settings, graph, project_id, arm)
    _nothing(stack, settings, project_id)
    _then_a_generation_commits(stack, settings, project_id)


@pytest.mark.parametrize("arm", STEP_FAULTS)
def test_a_failing_step_of_a_regeneration_keeps_the_previous_generation(
    stack: ServiceStack,
    settings: Settings,
    graph: FailingGraph,
    project_id: str,
    tmp_path: Path,
    arm: Callable[[ServiceStack, FailingGraph], None],
) -> None:
    """The previous wiki, history and current graph generation are exactly as before."""
    first = _first_generation(settings, project_id, tmp_path)
    before = read_everything(stack, settings, project_id)
    assert before.graph_current == first["graph_generation"]
    _fail_step(stack, settings, graph, project_id, arm)
    assert read_everything(stack, settings, project_id) == before
    _then_a_generation_commits(stack, settings, project_id)


@pytest.mark.parametrize(("point", "step"), CRASHES)
def test_a_crash_in_a_first_generation_is_undone_by_recovery(
    stack: ServiceStack,
    settings: Settings,
    project_id: str,
    tmp_path: Path,
    point: FaultPoint,
    step: int | None,
) -> None:
    """Crashed at any fault point, then recovered: nothing is left."""
    ingest_documents(settings, project_id, tmp_path, ["chroma", "neo4j"])
    _crash_and_recover(settings, project_id, point, step)
    _nothing(stack, settings, project_id)


@pytest.mark.parametrize(("point", "step"), CRASHES)
def test_a_crash_in_a_regeneration_is_undone_by_recovery(
    stack: ServiceStack,
    settings: Settings,
    project_id: str,
    tmp_path: Path,
    point: FaultPoint,
    step: int | None,
) -> None:
    """Crashed at any fault point, then recovered: the previous generation is intact,
    and the next generation commits."""
    _first_generation(settings, project_id, tmp_path)
    before = read_everything(stack, settings, project_id)
    _crash_and_recover(settings, project_id, point, step)
    assert read_everything(stack, settings, project_id) == before
    _then_a_generation_commits(stack, settings, project_id)
