"""Build the filesystem service app.

Data lives in ``<WIKISAGA_DATA_DIR>/filesystem``; one service process per data dir (a
second one refuses to start). At start, temporary files and unreferenced blobs left by a
crash are swept away.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wikisaga.config import Settings
from wikisaga.services._common import create_service_app
from wikisaga.services.filesystem._faults import FAULT_ENV, blob_fault_from_env
from wikisaga.services.filesystem.config import FilesystemLimits
from wikisaga.services.filesystem.deps import ERRORS
from wikisaga.services.filesystem.routes import batch, export, files, projects, versions
from wikisaga.services.filesystem.store import FileStore

__all__ = ["create_app"]

logger = logging.getLogger("wikisaga.services.filesystem")

DESCRIPTION = """\
Wiki files per project, with versions, owned by the user who first wrote to the project.
This service's project registry is the one record of who owns a project, for every service:
`GET /projects/{project_id}` answers `{project_id, owner, created_at}` (404
`project_not_found` while nobody has written to it); `PUT /projects/{project_id}` (with
`X-User-ID`) claims a project nobody owns for an ingest about to store its documents (403
for another user's). Reads, deletes of absent files and restores that change nothing never
claim a project.

Every endpoint except `/health`, `/docs` and `/openapi.json` requires `X-INTERNAL-TOKEN`;
file endpoints also require `X-User-ID` (400 `missing_user_id` without it) and answer
403 `forbidden` for another user's project. Writes (`/save_file`, `DELETE /file/...`,
`/batch`, `/restore`) accept an `Idempotency-Key`: a replay returns the first answer with
`Idempotent-Replayed: true`; the same key with a different request is 422
`idempotency_key_reused`. Errors are `{"error": <code>, "detail": <message>}`.

Publishing a generation is one request, and undoing it another, with nothing read first:
`POST /batch` with `"replace": true` leaves exactly the saved files (every other one is
deleted in the same transaction, its `previous_version` in the answer), and `POST /restore`
with `{"project_id", "undo_idempotency_key": K}` puts back every path the batch answered
under K changed, from that stored answer, and revokes K (a batch that never arrived then
changes nothing and is refused, 409 `idempotency_key_revoked`, if it arrives later).

File paths are relative, `/`-separated, NFC, at most 512 bytes and 16 segments; letters,
marks, digits, space and `-_.~+=,@()[]{}!#&'$;` only; no `.`/`..`/empty segments, and no
name git reserves (`.git`, `git~1`, `.gitmodules`, `.gitattributes`, `.gitignore`,
`.mailmap`, in any spelling a checkout on HFS+ or NTFS would take for them).
A project's files form one tree: a write after which a path would be both a file and a
directory (`a` and `a/b.md`) is 409 `path_clash`, naming both paths, and changes nothing.
Limits: 1 MiB per file, 5000 files per request, 256 MiB per request (413).
"""


def create_app(settings: Settings, *, limits: FilesystemLimits | None = None) -> FastAPI:
    """The filesystem service app, storing under ``settings.data_dir / "filesystem"``."""
    limits = limits or FilesystemLimits()
    app = create_service_app(
        "filesystem",
        settings,
        description=DESCRIPTION,
        max_body_bytes=limits.max_body_bytes,
        errors=ERRORS,
    )
    store = FileStore(settings.data_dir / "filesystem")
    store.blobs.after_blob = blob_fault_from_env()
    if store.blobs.after_blob is not None:
        logger.warning("fault injection is on: %s", os.environ[FAULT_ENV])
    swept = store.sweep()
    if swept:
        logger.info("removed %d leftover temporary or unreferenced blobs", swept)
    app.state.store = store
    app.state.limits = limits

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            store.close()

    app.router.lifespan_context = lifespan
    for module in (files, batch, versions, export, projects):
        app.include_router(module.router)
    return app
