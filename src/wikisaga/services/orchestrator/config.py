"""Limits of the orchestrator service; every one is a clear answer when exceeded."""

from __future__ import annotations

from dataclasses import dataclass

from wikisaga.clients.orchestrator import RequestLimits

__all__ = ["OrchestratorLimits"]

_REQUEST = RequestLimits()
# The request limits are the client's too (it checks a request before sending it): one
# set of numbers, kept there.


@dataclass(frozen=True, slots=True)
class OrchestratorLimits:
    """How much one request may carry, and how many generations run at once.

    - ``max_body_bytes``: the whole request body (413 ``payload_too_large``, refused
      before it is read when ``Content-Length`` says so, else as soon as it is over);
    - ``max_documents``: documents of one request (413 ``too_many_documents``);
    - ``max_document_chars``: the text of one document (413 ``document_too_large``);
    - ``max_concurrent``: generations running at once; a request beyond them waits up to
      ``wait_seconds`` for its turn *before its body is read*, then gets 503 ``busy``
      with ``Retry-After``. Bodies being held are therefore at most ``max_concurrent``.
    """

    max_body_bytes: int = _REQUEST.max_body_bytes
    max_documents: int = _REQUEST.max_documents
    max_document_chars: int = _REQUEST.max_document_chars
    max_concurrent: int = 1
    wait_seconds: float = 30.0
