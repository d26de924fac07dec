"""Annotated dependencies of the filesystem routes.

- :data:`Store` — the app's :class:`~wikisaga.services.filesystem.store.FileStore`;
- :data:`Limits` — the app's :class:`~wikisaga.services.filesystem.config.FilesystemLimits`;
- :data:`ProjectId` — the ``project_id`` path parameter, validated (400 ``invalid_path``);
- :data:`ERRORS` — how the store's domain errors become HTTP, after the shared rules::

    NotProjectOwner        403 forbidden                  (shared)
    ItemNotFound           404 not_found, version_not_found (shared)
    IdempotencyKeyRevoked  409 idempotency_key_revoked    (shared, a StateConflict)
    PathClash              409 path_clash                 (shared, a StateConflict)
    UnsafeStorage          409 unsafe_storage             (shared, a StateConflict)
    IdempotencyKeyReused   422 idempotency_key_reused
    CorruptStorage         500 corrupt_storage            (shared, any other StoreError)

The shared ``InternalToken``, ``UserId`` and ``IdempotencyKey`` come from ``_common``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from wikisaga.errors import IdempotencyKeyReused
from wikisaga.ids import PROJECT_ID_PATTERN, validate_project_id
from wikisaga.services._common.errors import Translations, Unprocessable, with_code
from wikisaga.services.filesystem.config import FilesystemLimits
from wikisaga.services.filesystem.store import FileStore

__all__ = ["ERRORS", "Limits", "ProjectId", "Store"]

ERRORS: Translations = ((IdempotencyKeyReused, with_code(Unprocessable)),)
"""The filesystem's own translations; the rest are ``COMMON_TRANSLATIONS``."""


async def get_store(request: Request) -> FileStore:
    """The store the app was built with."""
    store: FileStore = request.app.state.store
    return store


async def get_limits(request: Request) -> FilesystemLimits:
    """The limits the app was built with."""
    limits: FilesystemLimits = request.app.state.limits
    return limits


async def project_id_param(
    project_id: Annotated[
        str,
        Path(
            description="Project id: [A-Za-z0-9][A-Za-z0-9._-]{0,127}, no '..'.",
            json_schema_extra={"pattern": PROJECT_ID_PATTERN},
        ),
    ],
) -> str:
    """The ``project_id`` path parameter, refused with 400 unless valid."""
    return validate_project_id(project_id)


Store = Annotated[FileStore, Depends(get_store)]
Limits = Annotated[FilesystemLimits, Depends(get_limits)]
ProjectId = Annotated[str, Depends(project_id_param)]
