"""One wiki generation, from a project's documents to a published wiki (DESIGN §1).

:func:`generate_project_wiki` runs the steps in order and reports each through a
``progress`` callback (``progress(step, state, details)``, steps named in :data:`STEPS`)::

    1 fetch_documents     the project's documents, from the document store
    2 generate_pages      the pages, from the orchestrator (``POST /generate``)
    3 extract_relations   the orchestrator's relations, else the offline extractor's
    ---- one durable saga (WikiGenerationSaga), each compensation recorded first ----------
    4 stage_graph         a new graph generation, id = the saga id    undo: discard it
    5 save_files          one batch; pages the plan drops are deleted undo: restore versions
    6 create_snapshot     snap-{saga_id}                               undo: delete it
    7 make_graph_current  flip the project's pointer                  undo: flip back
    8 commit              then the graph generations before it are pruned

Failure rules:

- steps 1-2 fail → :class:`~wikisaga.errors.GenerationFailed`; the saga never starts and
  nothing changes;
- step 3 fails → the wiki is published without relations (the guide's graceful
  degradation); the result's ``warnings`` say why, the step's state is ``degraded``;
- a saga step fails → everything before it is undone in reverse, and
  :class:`~wikisaga.errors.GenerationRolledBack` says "Wiki generation failed and was
  rolled back: ..." (the guide's words), carrying the saga's status;
- a generation that would remove more than half the pages of a wiki of at least
  :data:`SHRINK_GUARD_MIN_PAGES` is refused with
  :class:`~wikisaga.errors.GenerationRefused` unless ``force``: an empty or broken
  document store must not wipe a wiki.

Pages the new plan drops, and the previous graph generation, are gone only once the new
generation commits: the batch deletes dropped pages and its rollback restores them; the
old graph generation is pruned after the commit.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from distributed_saga import FaultPlan, SagaLog, SagaObserver, SagaState
from wikisaga.auth import USER_ID_HEADER, get_internal_headers
from wikisaga.clients import FilesystemClient, ServiceClient
from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.records import Document
from wikisaga.errors import GenerationFailed, GenerationRefused, GenerationRolledBack
from wikisaga.graph import Entity, GraphStore, Relation, open_graph_store
from wikisaga.ids import new_saga_id, validate_project_id, validate_saga_id, validate_user_id
from wikisaga.pipeline.graph_step import graph_records, make_current_step, stage_step
from wikisaga.pipeline.publish import WikiGenerationSaga, normalize_files

__all__ = [
    "SAGA_STEPS",
    "SHRINK_GUARD_MIN_PAGES",
    "STEPS",
    "GeneratedPages",
    "PageSource",
    "Progress",
    "generate_project_wiki",
    "local_pages",
    "orchestrator_pages",
]

logger = logging.getLogger("wikisaga.pipeline.generation")

STEPS: tuple[str, ...] = (
    "fetch_documents",
    "generate_pages",
    "extract_relations",
    "stage_graph",
    "save_files",
    "create_snapshot",
    "make_graph_current",
    "commit",
)
"""Every step a generation reports, in order."""

SAGA_STEPS: tuple[str, ...] = STEPS[3:7]
"""The saga's steps, in the order the saga runs them (index = the engine's step index)."""

SHRINK_GUARD_MIN_PAGES = 10

Progress = Callable[[str, str, Mapping[str, Any]], None]
"""``progress(step, state, details)``: ``state`` is ``running``, ``succeeded``,
``failed``, ``degraded`` or ``skipped``; ``details`` holds counts and messages."""


def _no_progress(step: str, state: str, details: Mapping[str, Any]) -> None:
    """The default callback: report nothing."""


@dataclass(frozen=True)
class GeneratedPages:
    """What step 2 produced: the pages, and the relations when the generator made them."""

    files: list[tuple[str, str]]
    relations: Mapping[str, Any] | None = None
    """The extractor's JSON (``{"entities", "triples"}``), or ``None`` if not given."""
    source_map: Mapping[str, Any] | None = None


class PageSource(Protocol):
    """Step 2: turn the documents of a project into pages."""

    def __call__(
        self, project_id: str, user_id: str, documents: Sequence[Document]
    ) -> GeneratedPages: ...


class _Orchestrator(ServiceClient):
    """The orchestrator's ``POST /generate`` (the one call the pipeline makes to it)."""

    service = "orchestrator"

    def generate(
        self, project_id: str, user_id: str, documents: Sequence[Document]
    ) -> dict[str, Any]:
        body = {"project_id": project_id, "documents": [asdict(d) for d in documents]}
        response = self._request("POST", "/generate", user_id=user_id, json=body)
        answer = response.json()
        if not isinstance(answer, dict) or not isinstance(answer.get("files"), list):
            raise ValueError("the orchestrator's answer has no 'files' list")
        return answer


def orchestrator_pages(url: str, headers: Mapping[str, str], timeout: float) -> PageSource:
    """A :class:`PageSource` calling the orchestrator service at ``url``."""

    def pages(project_id: str, user_id: str, documents: Sequence[Document]) -> GeneratedPages:
        with _Orchestrator(url, headers=headers, timeout=timeout) as client:
            answer = client.generate(project_id, user_id, documents)
        relations = answer.get("relations")
        source_map = answer.get("source_map")
        return GeneratedPages(
            files=normalize_files(answer["files"]),
            relations=relations if isinstance(relations, Mapping) else None,
            source_map=source_map if isinstance(source_map, Mapping) else None,
        )

    return pages


def local_pages(project_id: str, user_id: str, documents: Sequence[Document]) -> GeneratedPages:
    """A :class:`PageSource` running the offline generator in this process (what the
    orchestrator runs), for a command line or a test without the orchestrator."""
    from wikisaga.content.generator import generate_wiki  # noqa: PLC0415 - heavy, optional

    generation = generate_wiki(documents, project=project_id)
    return GeneratedPages(
        files=normalize_files({page.file_path: page.content for page in generation.files}),
        relations=generation.graph.to_json(),
        source_map=generation.source_map.to_json(),
    )


@dataclass
class _Run:
    progress: Progress
    warnings: list[str] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        details: dict[str, Any] = {}
        self.begin(name)
        try:
            yield details
        except Exception as exc:
            self.end(name, "failed", {**details, "error": str(exc)})
            raise
        self.end(name, "succeeded", details)

    def begin(self, name: str) -> None:
        self.started[name] = time.monotonic()
        self.progress(name, "running", {})

    def end(self, name: str, state: str, details: Mapping[str, Any]) -> None:
        seconds = time.monotonic() - self.started.get(name, time.monotonic())
        self.progress(name, state, {**details, "seconds": round(seconds, 3)})


class _SagaProgress(SagaObserver):
    """Reports the saga's steps through the progress callback, and passes every event on
    to ``inner`` (the metrics)."""

    def __init__(self, run: _Run, inner: SagaObserver | None) -> None:
        self._run = run
        self._inner = inner
        self._next = 0

    def saga_started(self, saga_id: str) -> None:
        if self._inner is not None:
            self._inner.saga_started(saga_id)

    def step_finished(self, saga_id: str, name: str, seconds: float, error: str | None) -> None:
        if self._inner is not None:
            self._inner.step_finished(saga_id, name, seconds, error)
        if self._next < len(SAGA_STEPS):
            step = SAGA_STEPS[self._next]
            self._run.end(
                step, "failed" if error else "succeeded", {"error": error} if error else {}
            )
            self._next += 1
            if error is None and self._next < len(SAGA_STEPS):
                self._run.begin(SAGA_STEPS[self._next])

    def compensation_finished(
        self, saga_id: str, name: str, seconds: float, error: str | None
    ) -> None:
        if self._inner is not None:
            self._inner.compensation_finished(saga_id, name, seconds, error)

    def rollback_finished(self, saga_id: str, seconds: float, state: SagaState) -> None:
        if self._inner is not None:
            self._inner.rollback_finished(saga_id, seconds, state)

    def saga_finished(self, saga_id: str, state: SagaState) -> None:
        if self._inner is not None:
            self._inner.saga_finished(saga_id, state)


def generate_project_wiki(
    project_id: str,
    user_id: str,
    *,
    settings: Settings | None = None,
    internal_headers: Mapping[str, str] | None = None,
    saga_id: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    pages: PageSource | None = None,
    documents: Callable[[str], Sequence[Document]] | None = None,
    graph: GraphStore | None = None,
    graph_url: str | None = None,
    saga_log: SagaLog | str | None = None,
    observer: SagaObserver | None = None,
    faults: FaultPlan | None = None,
    lease_seconds: float = 30.0,
) -> dict[str, Any]:
    """Generate and publish the wiki of ``project_id`` as ``user_id`` (module docstring).

    Returns the guide's keys ``files_created``, ``snapshot_id``,
    ``relationships_extracted``, ``message``, and ``saga_id``, ``graph_generation``,
    ``files_removed``, ``warnings``. The seams (``pages``, ``documents``, ``graph``,
    ``saga_log``) default to what ``settings`` name: the orchestrator service (or the
    local generator, ``WIKISAGA_PAGE_GENERATOR=local``), the
    document store, the graph at ``graph_url`` (else the settings' graph), the saga log.
    """
    project_id = validate_project_id(project_id)
    user_id = validate_user_id(user_id)
    settings = settings or Settings.from_env()
    headers = dict(
        internal_headers if internal_headers is not None else get_internal_headers(None, settings)
    )
    headers.pop(USER_ID_HEADER, None)
    saga_id = validate_saga_id(saga_id) if saga_id else new_saga_id(project_id)
    run = _Run(progress or _no_progress)
    page_source = pages or (
        local_pages
        if settings.page_generator == "local"
        else orchestrator_pages(settings.orchestrator_url, headers, settings.network_timeout)
    )

    with run.step("fetch_documents") as details:
        try:
            found = list(
                documents(project_id) if documents else _read_documents(settings, project_id)
            )
        except Exception as exc:
            raise GenerationFailed(
                f"could not read the documents of {project_id!r}: {exc}"
            ) from exc
        if not found:
            raise GenerationRefused(f"project {project_id!r} has no documents to generate from")
        details["documents"] = len(found)

    with run.step("generate_pages") as details:
        try:
            generated = page_source(project_id, user_id, found)
        except Exception as exc:
            raise GenerationFailed(f"could not generate the pages: {exc}") from exc
        if not generated.files:
            raise GenerationFailed("the generator made no pages")
        details["files"] = len(generated.files)

    entities, relations = _relations_step(run, generated, found)

    own_graph = graph is None
    store = (
        graph
        if graph is not None
        else open_graph_store(graph_url or settings.graph_url or None, settings=settings)
    )
    try:
        _shrink_guard(settings, headers, project_id, user_id, generated.files, force=force)
        previous = store.current_generation(project_id)
        message = (
            f"Auto-generated wiki with {len(generated.files)} files and {len(relations)} "
            f"relationships. Graph generation: {saga_id}"
        )
        saga = WikiGenerationSaga(
            project_id=project_id,
            user_id=user_id,
            filesystem_url=settings.filesystem_server_url,
            git_url=settings.git_server_url,
            internal_headers=headers,
            saga_id=saga_id,
            saga_log=saga_log,
            settings=settings,
            faults=faults,
            lease_seconds=lease_seconds,
            observer=_SagaProgress(run, observer),
            prepend_steps=[stage_step(store, project_id, saga_id, entities, relations)],
            append_steps=[make_current_step(store, project_id, saga_id, previous)],
            message=message,
        )
        run.begin(SAGA_STEPS[0])
        result = saga.execute_with_consistency(dict(generated.files))
        if result["status"] != "success":
            status = result.get("saga_status", saga.get_status())
            raise GenerationRolledBack(
                f"Wiki generation failed and was rolled back: {result['error']}",
                saga_status=status,
            )
        run.begin("commit")
        run.end("commit", "succeeded", {"saga_id": saga_id})
        _prune(store, project_id, run)
    finally:
        if own_graph:
            store.close()
    return {
        "files_created": result["files_created"],
        "snapshot_id": result["snapshot_id"],
        "relationships_extracted": len(relations),
        "message": message,
        "saga_id": saga_id,
        "graph_generation": saga_id,
        "files_removed": result.get("files_removed", 0),
        "warnings": list(run.warnings),
    }


def _read_documents(settings: Settings, project_id: str) -> list[Document]:
    with document_store_for(settings) as store:
        return store.read_documents(project_id)


def _relations_step(
    run: _Run, generated: GeneratedPages, documents: Sequence[Document]
) -> tuple[list[Entity], list[Relation]]:
    """Step 3; any failure degrades to a wiki without relations, with a warning."""
    run.begin("extract_relations")
    try:
        extracted = generated.relations
        if extracted is None:
            extracted = _extract(documents)
        entities, relations = graph_records(extracted)
    except Exception as exc:  # noqa: BLE001 - graceful degradation: any failure, no relations
        warning = f"relation extraction failed, the wiki is published without relations: {exc}"
        logger.warning(warning)
        run.warnings.append(warning)
        run.end("extract_relations", "degraded", {"relations": 0, "warning": warning})
        return [], []
    run.end(
        "extract_relations", "succeeded", {"entities": len(entities), "relations": len(relations)}
    )
    return entities, relations


def _extract(documents: Sequence[Document]) -> Mapping[str, Any]:
    from wikisaga.content.relations import extract_relations, prose_document  # noqa: PLC0415

    syntaxes = {"markdown", "rst", "html"}
    prose = [
        prose_document(
            d.text,
            doc_id=d.doc_id,
            source_path=d.source_path,
            syntax=d.format if d.format in syntaxes else "markdown",
        )
        for d in documents
    ]
    return extract_relations(prose).to_json()


def _shrink_guard(
    settings: Settings,
    headers: Mapping[str, str],
    project_id: str,
    user_id: str,
    files: Sequence[tuple[str, str]],
    *,
    force: bool,
) -> None:
    if force:
        return
    with FilesystemClient(
        settings.filesystem_server_url, headers=headers, timeout=settings.filesystem_timeout
    ) as filesystem:
        try:
            current = {
                entry["path"] for entry in filesystem.list_files(project_id, user_id=user_id)
            }
        except Exception as exc:
            raise GenerationFailed(f"could not read the current wiki: {exc}") from exc
    removed = current - {path for path, _ in files}
    if len(current) >= SHRINK_GUARD_MIN_PAGES and len(removed) * 2 > len(current):
        raise GenerationRefused(
            f"the new generation would remove {len(removed)} of the {len(current)} pages of "
            f"{project_id!r}; refused (pass force to publish it anyway)"
        )


def _prune(store: GraphStore, project_id: str, run: _Run) -> None:
    """Remove the graph generations before the new current one; the generation is
    committed whatever happens here, so a failure is a warning (the next prune retries)."""
    try:
        store.prune(project_id, keep=0)
    except Exception as exc:  # noqa: BLE001 - the commit stands; say so and go on
        warning = f"could not prune the previous graph generation: {exc}"
        logger.warning(warning)
        run.warnings.append(warning)
