"""Typed client for the orchestrator service (port 6002).

A generation is one request: the plan is drawn from the whole corpus, so its documents
cannot be split over several. :meth:`OrchestratorClient.generate` therefore checks a
request against the service's limits (:class:`RequestLimits`, the service's defaults)
before sending it, and refuses one that is over them with
:class:`~wikisaga.errors.TooLarge` (``code`` as the service would answer:
``too_many_documents``, ``document_too_large``, ``payload_too_large``): nothing is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from wikisaga.clients._http import ServiceClient
from wikisaga.errors import TooLarge

__all__ = ["OrchestratorClient", "RequestLimits", "document_body"]


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """How much one ``POST /generate`` may carry; the service's own limits
    (:class:`wikisaga.services.orchestrator.config.OrchestratorLimits` takes its defaults
    from here, so the two ends agree)."""

    max_body_bytes: int = 64 * 1024 * 1024
    max_documents: int = 5000
    max_document_chars: int = 4 * 1024 * 1024


class Document(Protocol):
    """What the client reads of a :class:`wikisaga.content.records.Document` (named by
    shape, so that importing the clients does not import the content layer)."""

    @property
    def project_id(self) -> str: ...

    @property
    def doc_id(self) -> str: ...

    @property
    def source_path(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def format(self) -> str: ...

    @property
    def content_hash(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def outline(self) -> Sequence[Any]: ...

    @property
    def chunks(self) -> Sequence[Any]: ...

    @property
    def code_blocks(self) -> Sequence[Any]: ...


def document_body(document: Document) -> dict[str, Any]:
    """A document as ``POST /generate`` takes it: chunk spans without their text (the
    service cuts them from the document's text), code blocks by language only."""
    return {
        "doc_id": document.doc_id,
        "source_path": document.source_path,
        "title": document.title,
        "format": document.format,
        "content_hash": document.content_hash,
        "text": document.text,
        "outline": [
            {"text": h.text, "level": h.level, "offset": h.offset} for h in document.outline
        ],
        "chunks": [{"index": c.index, "start": c.start, "end": c.end} for c in document.chunks],
        "code_blocks": [{"language": c.language, "offset": c.offset} for c in document.code_blocks],
        "project_id": document.project_id,
    }


class OrchestratorClient(ServiceClient):
    """The page generator as a service. Every call acts as ``user_id``."""

    service = "orchestrator"

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        timeout: float,
        transport: httpx.BaseTransport | None = None,
        limits: RequestLimits | None = None,
    ) -> None:
        super().__init__(base_url, headers=headers, timeout=timeout, transport=transport)
        self.limits = limits or RequestLimits()

    def request_body(
        self,
        project_id: str,
        documents: Sequence[Document],
        *,
        relations: Iterable[Mapping[str, Any]] = (),
        source_map: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], int]:
        """The body of ``POST /generate`` and its size in bytes as JSON, checked against
        :attr:`limits`; raises :class:`~wikisaga.errors.TooLarge` if it is over them."""
        limits = self.limits
        if len(documents) > limits.max_documents:
            raise TooLarge(
                f"{len(documents)} documents, more than the orchestrator's "
                f"{limits.max_documents} per generation",
                code="too_many_documents",
            )
        for document in documents:
            if len(document.text) > limits.max_document_chars:
                raise TooLarge(
                    f"document {document.doc_id!r} ({document.source_path}) has "
                    f"{len(document.text)} characters of text, more than the orchestrator's "
                    f"{limits.max_document_chars}",
                    code="document_too_large",
                )
        body: dict[str, Any] = {
            "project_id": project_id,
            "documents": [document_body(document) for document in documents],
            "relations": [dict(item) for item in relations],
        }
        if source_map is not None:
            body["source_map"] = dict(source_map)
        # ASCII-escaped JSON: never smaller than what httpx sends, so a body that fits
        # here fits there.
        size = len(json.dumps(body))
        if size > limits.max_body_bytes:
            raise TooLarge(
                f"the generation request is {size} bytes, more than the orchestrator's "
                f"{limits.max_body_bytes}",
                code="payload_too_large",
            )
        return body, size

    def generate(
        self,
        project_id: str,
        documents: Sequence[Document],
        *,
        user_id: str,
        relations: Iterable[Mapping[str, Any]] = (),
        source_map: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST /generate``: the answer's ``files``, ``unchanged``, ``deleted``,
        ``changed_documents``, ``plan``, ``relations``, ``source_map`` and ``warnings``.

        For an incremental generation pass the previous answer's
        ``relations["documents"]`` and ``source_map``; the pages not sent again are
        then in ``unchanged``. Generation reads nothing outside the request, so a retry
        after a timeout is safe. A request over :attr:`limits` raises
        :class:`~wikisaga.errors.TooLarge` before anything is sent; an answer without a
        ``files`` list raises :class:`ValueError`.
        """
        body, _ = self.request_body(
            project_id, documents, relations=relations, source_map=source_map
        )
        response = self._request("POST", "/generate", user_id=user_id, json=body)
        answer = response.json()
        if not isinstance(answer, dict) or not isinstance(answer.get("files"), list):
            raise ValueError("the orchestrator's answer has no 'files' list")
        return answer
