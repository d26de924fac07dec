"""Build the orchestrator service app.

It holds no state of its own but a cache of document analyses (which only saves time):
``POST /generate`` runs the offline page generator
(:func:`wikisaga.content.generator.generate_wiki`) on the documents of the request and
answers with the pages, the relations, the plan and the source map.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware import Middleware

from wikisaga.config import Settings
from wikisaga.services._common import create_service_app
from wikisaga.services.orchestrator._cache import AnalysisCache
from wikisaga.services.orchestrator._gate import GenerationGate
from wikisaga.services.orchestrator.config import OrchestratorLimits, rewrite_config
from wikisaga.services.orchestrator.deps import ERRORS
from wikisaga.services.orchestrator.routes import generate

__all__ = ["create_app"]

DESCRIPTION = """\
Turns a project's documents into wiki pages and relations, offline and deterministically:
the same documents give byte-identical pages. `POST /generate` takes the documents (text,
outline, chunk spans; chunk texts may be left out) and answers `files` (`[{file_path,
content}]`, every path under `wiki/`), `relations` (merged entities and triples, and each
document's own), the `plan` and the `source_map`. Handing back `relations.documents` and
`source_map` makes the next generation incremental: unchanged documents are not read
again, and pages whose plan did not change are listed in `unchanged` instead of sent.

Every endpoint except `/health`, `/docs` and `/openapi.json` requires `X-INTERNAL-TOKEN`;
`/generate` also requires `X-User-ID` (400 `missing_user_id` without it). Errors are
`{"error": <code>, "detail": <message>}`. Limits: 64 MiB per request (413
`payload_too_large`), 5000 documents (413 `too_many_documents`), 4 Mi characters of text
per document (413 `document_too_large`), one generation at a time (a second waits up to
30 s before its body is read, then 503 `busy` with `Retry-After`).

Optional: with `WIKISAGA_LLM_BASE_URL` and `WIKISAGA_LLM_MODEL` set, the summaries of the
pages sent are rephrased by that OpenAI-compatible endpoint from their cited sentences
only; a page whose rewrite fails a check keeps its offline text, and `warnings` says why.
"""


def create_app(settings: Settings, *, limits: OrchestratorLimits | None = None) -> FastAPI:
    """The orchestrator service app. Raises :class:`~wikisaga.errors.ConfigError` when
    ``WIKISAGA_LLM_BASE_URL`` is set without ``WIKISAGA_LLM_MODEL``."""
    limits = limits or OrchestratorLimits()
    rewrite = rewrite_config(settings)
    app = create_service_app(
        "orchestrator",
        settings,
        description=DESCRIPTION,
        max_body_bytes=limits.max_body_bytes,
        errors=ERRORS,
    )
    app.state.limits = limits
    app.state.rewrite = rewrite
    app.state.analyses = AnalysisCache(limits.analysis_cache_chars)
    # Innermost of the app's middleware (user_middleware runs outermost first): the token
    # gate and the body limit refuse a request before it waits for a turn.
    app.user_middleware.append(
        Middleware(
            GenerationGate,
            path="/generate",
            limit=limits.max_concurrent,
            wait_seconds=limits.wait_seconds,
            metrics=app.state.metrics,
        )
    )
    app.include_router(generate.router)
    return app
