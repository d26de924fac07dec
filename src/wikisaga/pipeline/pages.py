r"""Step 2 of a generation: page sources, which turn a project's documents into pages.

:class:`OrchestratorPages` (the orchestrator service) and :class:`LocalPages` (the same
generator in this process) are :class:`IncrementalPageSource`\ s: handed the previous
generation (:class:`~wikisaga.pipeline.previous.PreviousGeneration`), they render only the
pages whose plan changed and list the others in ``unchanged``. Any callable of the
:class:`PageSource` shape works too (tests, other generators); it always renders all.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from wikisaga.clients import OrchestratorClient, ServiceRejected
from wikisaga.clients.orchestrator import RequestLimits
from wikisaga.content.records import Document
from wikisaga.errors import TooLarge
from wikisaga.pipeline.previous import PreviousGeneration
from wikisaga.pipeline.publish import normalize_files

__all__ = [
    "GeneratedPages",
    "IncrementalPageSource",
    "LocalPages",
    "OrchestratorPages",
    "PageSource",
    "local_pages",
    "orchestrator_pages",
]

logger = logging.getLogger("wikisaga.pipeline.pages")


@dataclass(frozen=True)
class GeneratedPages:
    """What step 2 produced: the pages, and the relations when the generator made them."""

    files: list[tuple[str, str]]
    relations: Mapping[str, Any] | None = None
    """The extractor's JSON (``{"entities", "triples"}``), or ``None`` if not given."""
    source_map: Mapping[str, Any] | None = None
    document_relations: Sequence[Mapping[str, Any]] | None = None
    """Each document's relations, kept in the generation's record for the next one."""
    unchanged: Sequence[str] = ()
    """Pages not rendered again: their current file (``PreviousGeneration.contents``)
    is still right."""
    changed_documents: Sequence[str] | None = None
    analysed_documents: Sequence[str] | None = None
    """Documents the generator analysed (the others' analyses it had kept), if it says."""
    warnings: Sequence[str] = ()


class PageSource(Protocol):
    """Step 2: turn the documents of a project into pages."""

    def __call__(
        self, project_id: str, user_id: str, documents: Sequence[Document]
    ) -> GeneratedPages: ...


@runtime_checkable
class IncrementalPageSource(PageSource, Protocol):
    """A page source that can also start from the previous generation: it renders only
    the pages whose plan changed and lists the others in ``unchanged``."""

    def incremental(
        self,
        project_id: str,
        user_id: str,
        documents: Sequence[Document],
        previous: PreviousGeneration,
    ) -> GeneratedPages: ...


def _answer_pages(answer: Mapping[str, Any], warnings: Sequence[str]) -> GeneratedPages:
    relations = answer.get("relations")
    source_map = answer.get("source_map")
    per_document = relations.get("documents") if isinstance(relations, Mapping) else None
    return GeneratedPages(
        files=normalize_files(answer["files"]),
        relations=relations if isinstance(relations, Mapping) else None,
        source_map=source_map if isinstance(source_map, Mapping) else None,
        document_relations=per_document if isinstance(per_document, list) else None,
        unchanged=[str(path) for path in answer.get("unchanged") or ()],
        changed_documents=[str(doc) for doc in answer.get("changed_documents") or ()],
        analysed_documents=(
            [str(doc) for doc in answer["analysed_documents"]]
            if isinstance(answer.get("analysed_documents"), list)
            else None
        ),
        warnings=[*warnings, *(str(w) for w in answer.get("warnings") or ())],
    )


def _worth_a_full_request(error: Exception) -> bool:
    """Whether a request refused *with* the previous generation may pass without it:
    over the body limit, or a source map or relations the service cannot read."""
    if isinstance(error, TooLarge):
        return error.code == "payload_too_large"
    return isinstance(error, ServiceRejected) and (error.status, error.error) in (
        (413, "payload_too_large"),
        (422, "validation_error"),
    )


class OrchestratorPages:
    """The :class:`IncrementalPageSource` of the orchestrator service at ``url``.

    One request per generation, documents as text and chunk spans
    (:func:`wikisaga.clients.orchestrator.document_body`). A request over the service's
    limits (:class:`~wikisaga.clients.orchestrator.RequestLimits`) is not sent: too many
    documents or too large a document fail the step with
    :class:`~wikisaga.errors.TooLarge`; a body over the limit only because of the previous
    generation's source map and relations is sent without them (a full generation, with
    a warning), as is one whose previous generation the service refuses to read.
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        timeout: float,
        *,
        limits: RequestLimits | None = None,
    ) -> None:
        self.url = url
        self.headers = dict(headers)
        self.timeout = timeout
        self.limits = limits

    def __call__(
        self, project_id: str, user_id: str, documents: Sequence[Document]
    ) -> GeneratedPages:
        with self._client() as client:
            return _answer_pages(client.generate(project_id, documents, user_id=user_id), ())

    def incremental(
        self,
        project_id: str,
        user_id: str,
        documents: Sequence[Document],
        previous: PreviousGeneration,
    ) -> GeneratedPages:
        with self._client() as client:
            try:
                answer = client.generate(
                    project_id,
                    documents,
                    user_id=user_id,
                    relations=previous.relations,
                    source_map=previous.source_map,
                )
            except (TooLarge, ServiceRejected) as exc:
                if not _worth_a_full_request(exc):
                    raise
                warning = (
                    f"the previous generation could not be sent with the documents ({exc}); "
                    "all pages were generated again"
                )
                logger.warning(warning)
                answer = client.generate(project_id, documents, user_id=user_id)
                return _answer_pages(answer, [warning])
        return _answer_pages(answer, ())

    def _client(self) -> OrchestratorClient:
        return OrchestratorClient(
            self.url, headers=self.headers, timeout=self.timeout, limits=self.limits
        )


def orchestrator_pages(url: str, headers: Mapping[str, str], timeout: float) -> PageSource:
    """A :class:`PageSource` calling the orchestrator service at ``url``."""
    return OrchestratorPages(url, headers, timeout)


class LocalPages:
    """The :class:`IncrementalPageSource` running the offline generator in this process
    (what the orchestrator runs), for a command line or a test without the orchestrator."""

    def __call__(
        self, project_id: str, user_id: str, documents: Sequence[Document]
    ) -> GeneratedPages:
        return self._generate(project_id, documents, None)

    def incremental(
        self,
        project_id: str,
        user_id: str,
        documents: Sequence[Document],
        previous: PreviousGeneration,
    ) -> GeneratedPages:
        return self._generate(project_id, documents, previous)

    @staticmethod
    def _generate(
        project_id: str, documents: Sequence[Document], previous: PreviousGeneration | None
    ) -> GeneratedPages:
        from wikisaga.content.generator import (  # noqa: PLC0415 - heavy, optional
            DocumentRelations,
            SourceMap,
            generate_wiki,
        )

        source_map, relations, warnings = None, [], []
        if previous is not None:
            try:
                source_map = SourceMap.from_json(previous.source_map)
                relations = [DocumentRelations.from_json(item) for item in previous.relations]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                source_map, relations = None, []
                warnings.append(
                    f"the previous generation's record cannot be used ({exc!r}); "
                    "all pages were generated again"
                )
        generation = generate_wiki(
            documents, previous=source_map, relations=relations, project=project_id
        )
        return GeneratedPages(
            files=normalize_files({page.file_path: page.content for page in generation.files}),
            relations=generation.graph.to_json(),
            source_map=generation.source_map.to_json(),
            document_relations=[item.to_json() for item in generation.relations],
            unchanged=list(generation.unchanged),
            changed_documents=list(generation.changed_documents),
            warnings=warnings,
        )


local_pages = LocalPages()
"""The offline generator in this process, as a page source."""
