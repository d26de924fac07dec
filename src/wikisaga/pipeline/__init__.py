"""One wiki generation, from documents to a published wiki: ``publish`` is the saga that
publishes a generation all or nothing (:class:`WikiGenerationSaga`), ``compensations``
the durable undo actions it records."""

from __future__ import annotations

from wikisaga.pipeline.compensations import publish_compensations
from wikisaga.pipeline.publish import PublishStep, WikiGenerationSaga

__all__ = ["PublishStep", "WikiGenerationSaga", "publish_compensations"]
