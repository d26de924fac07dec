"""Limits of the orchestrator service (every one is a clear answer when exceeded), and
its optional summary rewriting."""

from __future__ import annotations

from dataclasses import dataclass

from wikisaga.clients.orchestrator import RequestLimits
from wikisaga.config import Settings
from wikisaga.content.generator import GENERATOR_VERSION, RewriteConfig
from wikisaga.errors import ConfigError

__all__ = ["OrchestratorLimits", "generator_mark", "rewrite_config"]

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
      with ``Retry-After``. Bodies being held are therefore at most ``max_concurrent``;
    - ``analysis_cache_chars``: see below.
    """

    max_body_bytes: int = _REQUEST.max_body_bytes
    max_documents: int = _REQUEST.max_documents
    max_document_chars: int = _REQUEST.max_document_chars
    max_concurrent: int = 1
    wait_seconds: float = 30.0
    analysis_cache_chars: int = 8 * 1024 * 1024
    """Characters of document text whose analyses are kept between requests (about 15
    bytes of memory each: ~120 MB at most), so that an incremental request re-analyses
    only changed documents; ``0``: none."""


def rewrite_config(settings: Settings) -> RewriteConfig | None:
    """The rewriting ``WIKISAGA_LLM_*`` asks for, or ``None`` (no base URL: the default).

    Raises :class:`~wikisaga.errors.ConfigError` when a base URL comes without a model.
    """
    if not settings.llm_base_url:
        return None
    if not settings.llm_model:
        raise ConfigError("WIKISAGA_LLM_MODEL: must be set when WIKISAGA_LLM_BASE_URL is")
    return RewriteConfig(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
        budget=settings.llm_budget,
        concurrency=settings.llm_concurrency,
    )


def generator_mark(rewrite: RewriteConfig | None) -> str:
    """What this service writes as its source maps' ``generator``: the generator's
    version, and the rewriting model when there is one. A source map handed back with
    another mark was made by another setup, so none of its pages is reused."""
    if rewrite is None:
        return GENERATOR_VERSION
    return f"{GENERATOR_VERSION}+rewrite:{rewrite.model}"
