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
  nothing changes; step 1 raises :class:`~wikisaga.errors.NotProjectOwner` instead when
  the project's documents, or the filesystem service's registry, name another user (the
  rule of :mod:`wikisaga.content.ownership`), checked again here for a job queued before
  they changed hands;
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

Incremental: the default page sources (the orchestrator, ``local``) are handed the record
of the last committed generation (:mod:`wikisaga.pipeline.previous`: its source map and
each document's relations, checked page by page against the current files), so only
changed documents have their relations extracted and only pages whose plan changed are
rendered; the others keep their current file, and the batch still holds every page, so
what is published equals a full generation byte for byte. No record, or an unreadable
one, means a full generation with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distributed_saga import FaultPlan, SagaLog, SagaObserver, SagaState
from wikisaga.auth import USER_ID_HEADER, get_internal_headers
from wikisaga.clients import FilesystemClient
from wikisaga.config import Settings
from wikisaga.content.documents import document_store_for
from wikisaga.content.ownership import check_project_owner, document_writers
from wikisaga.content.records import Document
from wikisaga.errors import (
    GenerationFailed,
    GenerationRefused,
    GenerationRolledBack,
    NotProjectOwner,
)
from wikisaga.graph import Entity, GraphStore, Relation, open_graph_store
from wikisaga.ids import new_saga_id, validate_project_id, validate_saga_id, validate_user_id
from wikisaga.pipeline.graph_step import graph_records, make_current_step, stage_step
from wikisaga.pipeline.pages import (
    GeneratedPages,
    IncrementalPageSource,
    LocalPages,
    OrchestratorPages,
    PageSource,
    local_pages,
    orchestrator_pages,
)
from wikisaga.pipeline.previous import (
    GenerationRecord,
    GenerationRecords,
    PreviousGeneration,
    page_digest,
    previous_generation,
)
from wikisaga.pipeline.publish import WikiGenerationSaga

__all__ = [
    "SAGA_STEPS",
    "SHRINK_GUARD_MIN_PAGES",
    "STEPS",
    "GeneratedPages",
    "IncrementalPageSource",
    "LocalPages",
    "OrchestratorPages",
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

    def warn(self, warning: str) -> None:
        logger.warning(warning)
        self.warnings.append(warning)

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

    def saga_abandoned(self, saga_id: str, reason: str) -> None:
        if self._inner is not None:
            self._inner.saga_abandoned(saga_id, reason)

    def saga_claimed(self, saga_id: str, reason: str) -> None:
        if self._inner is not None:
            self._inner.saga_claimed(saga_id, reason)


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
    # Rewriting summaries (WIKISAGA_LLM_*) makes the orchestrator's answer wait for it.
    rewriting = settings.llm_budget + settings.llm_timeout if settings.llm_base_url else 0.0
    page_source = pages or (
        local_pages
        if settings.page_generator == "local"
        else orchestrator_pages(
            settings.orchestrator_url, headers, settings.network_timeout + rewriting
        )
    )

    with run.step("fetch_documents") as details:
        try:
            found = list(
                documents(project_id)
                if documents
                else _read_own_documents(settings, headers, project_id, user_id)
            )
        except NotProjectOwner:
            raise
        except Exception as exc:
            raise GenerationFailed(
                f"could not read the documents of {project_id!r}: {exc}"
            ) from exc
        if not found:
            raise GenerationRefused(f"project {project_id!r} has no documents to generate from")
        details["documents"] = len(found)

    own_graph = graph is None
    store = (
        graph
        if graph is not None
        else open_graph_store(graph_url or settings.graph_url or None, settings=settings)
    )
    records = GenerationRecords(settings.data_dir / "generations")
    try:
        with run.step("generate_pages") as details:
            generated, files = _generate_step(
                run, page_source, records, store, settings, headers, project_id, user_id, found
            )
            details.update(_page_counts(generated, files))

        entities, relations = _relations_step(run, generated, found)
        _shrink_guard(settings, headers, project_id, user_id, files, force=force)
        previous = store.current_generation(project_id)
        record = _write_record(run, records, project_id, saga_id, generated, files)
        message = (
            f"Auto-generated wiki with {len(files)} files and {len(relations)} "
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
        result = saga.execute_with_consistency(dict(files))
        if result["status"] != "success":
            if record:
                records.discard(project_id, saga_id)
            status = result.get("saga_status", saga.get_status())
            raise GenerationRolledBack(
                f"Wiki generation failed and was rolled back: {result['error']}",
                saga_status=status,
            )
        run.begin("commit")
        run.end("commit", "succeeded", {"saga_id": saga_id})
        _prune(store, project_id, run)
        _keep_only(run, records, project_id, saga_id if record else None)
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


def _generate_step(
    run: _Run,
    page_source: PageSource,
    records: GenerationRecords,
    store: GraphStore,
    settings: Settings,
    headers: Mapping[str, str],
    project_id: str,
    user_id: str,
    documents: Sequence[Document],
) -> tuple[GeneratedPages, list[tuple[str, str]]]:
    """Step 2: the pages, from the previous generation when the source can start from
    it; every page to publish (those rendered and those kept), sorted by path."""
    previous = None
    if isinstance(page_source, IncrementalPageSource):
        previous = _previous(run, records, store, settings, headers, project_id, user_id)
    try:
        if previous is not None and isinstance(page_source, IncrementalPageSource):
            generated = page_source.incremental(project_id, user_id, documents, previous)
        else:
            generated = page_source(project_id, user_id, documents)
    except Exception as exc:
        raise GenerationFailed(f"could not generate the pages: {exc}") from exc
    for warning in generated.warnings:
        run.warn(warning)
    files = dict(generated.files)
    kept = previous.contents if previous is not None else {}
    for path in generated.unchanged:
        if path not in kept:
            raise GenerationFailed(
                f"the generator kept page {path!r}, which the previous generation does not have"
            )
        files.setdefault(path, kept[path])
    if not files:
        raise GenerationFailed("the generator made no pages")
    return generated, sorted(files.items())


def _previous(
    run: _Run,
    records: GenerationRecords,
    store: GraphStore,
    settings: Settings,
    headers: Mapping[str, str],
    project_id: str,
    user_id: str,
) -> PreviousGeneration | None:
    """The last committed generation's record checked against the current files, or
    ``None`` (with a warning when there should have been one) for a full generation."""
    try:
        committed = store.current_generation(project_id)
    except Exception as exc:  # noqa: BLE001 - any failure: a full generation, said so
        run.warn(
            f"could not read the current graph generation ({exc}); all pages are generated again"
        )
        return None
    if committed is None:
        return None
    try:
        record = records.read(project_id, committed)
    except ValueError as exc:
        run.warn(
            f"the record of generation {committed} is unreadable ({exc}); "
            "all pages are generated again"
        )
        return None
    if record is None:
        run.warn(f"generation {committed} left no record; all pages are generated again")
        return None
    try:
        with FilesystemClient(
            settings.filesystem_server_url, headers=headers, timeout=settings.filesystem_timeout
        ) as filesystem:
            current = {
                str(entry["path"]): str(entry["content"])
                for entry in filesystem.export(project_id, user_id=user_id)
            }
    except Exception as exc:  # noqa: BLE001 - any failure: a full generation, said so
        run.warn(f"could not read the current pages ({exc}); all pages are generated again")
        return None
    previous = previous_generation(record, current)
    if previous.stale:
        run.warn(
            f"{len(previous.stale)} page(s) differ from what generation {committed} "
            f"published and are generated again: {', '.join(previous.stale[:5])}"
            + (" ..." if len(previous.stale) > 5 else "")
        )
    return previous


def _page_counts(generated: GeneratedPages, files: Sequence[tuple[str, str]]) -> dict[str, Any]:
    details: dict[str, Any] = {
        "files": len(files),
        "rendered": len(generated.files),
        "unchanged": len(generated.unchanged),
    }
    if generated.changed_documents is not None:
        details["changed_documents"] = len(generated.changed_documents)
    if generated.analysed_documents is not None:
        details["analysed_documents"] = len(generated.analysed_documents)
    return details


def _write_record(
    run: _Run,
    records: GenerationRecords,
    project_id: str,
    saga_id: str,
    generated: GeneratedPages,
    files: Sequence[tuple[str, str]],
) -> bool:
    """Write this generation's record before its saga starts (it counts once the saga
    commits); whether it was written. A failure costs the next generation its head start,
    not this one."""
    if generated.source_map is None or generated.document_relations is None:
        return False
    record = GenerationRecord(
        saga_id=saga_id,
        source_map=generated.source_map,
        relations=generated.document_relations,
        pages={path: page_digest(content) for path, content in files},
    )
    try:
        records.write(project_id, record)
    except OSError as exc:
        run.warn(f"could not write the generation's record ({exc}); the next one is full")
        return False
    return True


def _keep_only(run: _Run, records: GenerationRecords, project_id: str, saga_id: str | None) -> None:
    try:
        records.keep_only(project_id, saga_id)
    except OSError as exc:
        run.warn(f"could not remove earlier generation records: {exc}")


def _read_own_documents(
    settings: Settings, headers: Mapping[str, str], project_id: str, user_id: str
) -> list[Document]:
    """The project's documents, once the owner rule (:mod:`wikisaga.content.ownership`)
    holds for ``user_id``: a job queued before the documents or the registry changed
    hands must not publish another user's documents. The owners are read after the
    documents, so what was read was never another user's (a project's owner never
    changes once either record names one)."""
    with document_store_for(settings) as store:
        found = store.read_documents(project_id)
        writers = document_writers(store.list_documents(project_id))
    with FilesystemClient(
        settings.filesystem_server_url, headers=headers, timeout=settings.filesystem_timeout
    ) as filesystem:
        owner = filesystem.project_owner(project_id)
    try:
        check_project_owner(project_id, user_id, registry_owner=owner, writers=writers)
    except NotProjectOwner as refused:
        raise NotProjectOwner(
            f"{refused.message}; the generation was refused before anything was written"
        ) from None
    return found


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
    from wikisaga.content.relations import (  # noqa: PLC0415
        extract_relations,
        prose_document,
        title_topic,
    )

    syntaxes = {"markdown", "rst", "html"}
    prose = [
        prose_document(
            d.text,
            doc_id=d.doc_id,
            source_path=d.source_path,
            syntax=d.format if d.format in syntaxes else "markdown",
            topic=title_topic(d.title),
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
