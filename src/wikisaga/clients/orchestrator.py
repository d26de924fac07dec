"""Typed client for the orchestrator service (port 6002)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from wikisaga.clients._http import ServiceClient

__all__ = ["OrchestratorClient"]


class Document(Protocol):
    """What the client reads of a :class:`wikisaga.content.records.Document` (named by
    shape, so that importing the clients does not import the content layer)."""

    project_id: str
    doc_id: str
    source_path: str
    title: str
    format: str
    content_hash: str
    text: str
    outline: Sequence[Any]
    chunks: Sequence[Any]
    code_blocks: Sequence[Any]


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
        ``changed_documents``, ``plan``, ``relations`` and ``source_map``.

        For an incremental generation pass the previous answer's
        ``relations["documents"]`` and ``source_map``; the pages not sent again are
        then in ``unchanged``. Generation reads nothing outside the request, so a retry
        after a timeout is safe.
        """
        body: dict[str, Any] = {
            "project_id": project_id,
            "documents": [document_body(document) for document in documents],
            "relations": [dict(item) for item in relations],
        }
        if source_map is not None:
            body["source_map"] = dict(source_map)
        response = self._request("POST", "/generate", user_id=user_id, json=body)
        return dict(response.json())
