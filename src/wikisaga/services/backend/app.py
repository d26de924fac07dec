"""The guide's ``_run_wiki_generation_task``: one wiki generation, run to its end.

Thin by design: the work is :func:`wikisaga.pipeline.generation.generate_project_wiki`
(steps 1-3, then one durable saga: stage the graph, save the files, snapshot, make the
graph current, commit). The service's job runner calls the same function with its job's
saga id and a progress callback.
"""

from __future__ import annotations

from typing import Any

from wikisaga.config import Settings
from wikisaga.pipeline.generation import generate_project_wiki

__all__ = ["_run_wiki_generation_task"]


def _run_wiki_generation_task(
    project_id: str, user_id: str, *, settings: Settings | None = None, **options: Any
) -> dict[str, Any]:
    """Generate and publish the wiki of ``project_id`` as ``user_id``.

    Returns the guide's ``{"files_created", "snapshot_id", "relationships_extracted",
    "message"}`` (and ``saga_id``, ``graph_generation``, ``files_removed``, ``warnings``).
    A saga that failed raises :class:`~wikisaga.errors.GenerationRolledBack`, whose message
    starts as the guide's does: ``Wiki generation failed and was rolled back: ...``;
    documents that cannot be read or pages that cannot be generated raise
    :class:`~wikisaga.errors.GenerationFailed` before anything is written. ``options``
    go to :func:`~wikisaga.pipeline.generation.generate_project_wiki` (``force``,
    ``saga_id``, ``progress``, and its seams).
    """
    return generate_project_wiki(
        project_id, user_id, settings=settings or Settings.from_env(), **options
    )
