"""Annotated dependencies of the orchestrator routes, and how its domain errors become
HTTP (this service's one table, consulted before the shared rules)::

    InvalidDocuments     422 invalid_documents   none, one given twice, several projects

- :data:`Limits` — the app's :class:`~wikisaga.services.orchestrator.config.OrchestratorLimits`.
- :data:`Rewriting` — the app's summary rewriting, or ``None`` when it is off.
- :data:`Analyses` — the app's :class:`~wikisaga.services.orchestrator._cache.AnalysisCache`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from wikisaga.content.generator import InvalidDocuments, RewriteConfig
from wikisaga.services._common.errors import Translations, Unprocessable
from wikisaga.services.orchestrator._cache import AnalysisCache
from wikisaga.services.orchestrator.config import OrchestratorLimits

__all__ = ["ERRORS", "Analyses", "Limits", "Rewriting"]

ERRORS: Translations = (
    (InvalidDocuments, lambda error: Unprocessable(str(error), code="invalid_documents")),
)
"""The orchestrator's own translations; the rest are ``COMMON_TRANSLATIONS``."""


async def get_limits(request: Request) -> OrchestratorLimits:
    """The limits the app was built with."""
    limits: OrchestratorLimits = request.app.state.limits
    return limits


Limits = Annotated[OrchestratorLimits, Depends(get_limits)]


async def get_rewriting(request: Request) -> RewriteConfig | None:
    """The summary rewriting the app was built with (``None``: off)."""
    rewrite: RewriteConfig | None = request.app.state.rewrite
    return rewrite


Rewriting = Annotated[RewriteConfig | None, Depends(get_rewriting)]


async def get_analyses(request: Request) -> AnalysisCache:
    """The analyses kept between the app's requests."""
    cache: AnalysisCache = request.app.state.analyses
    return cache


Analyses = Annotated[AnalysisCache, Depends(get_analyses)]
