"""The publishing saga's durable compensations, and the credentials they run with.

A step's compensation is recorded in the saga log as a name and JSON arguments, never a
secret, so whoever runs it supplies the internal headers. They are given when a registry
is made, not kept in module state:

- **the saga's own process**: :class:`~wikisaga.pipeline.publish.WikiGenerationSaga` runs
  its saga with ``publish_compensations(headers)``, the internal headers it was given, so
  an in-process rollback authenticates exactly as its steps did;
- **a recoverer**: ``recover_sagas(log, registry=publish_compensations(headers))`` (or a
  ``SagaRecoverer``) with its own service token, as a backend or ``wikisaga recover`` does;
- **any other process that imports this module**: the names are also in the engine's
  default registry, sending the token from the environment when they run (the guide's
  ``get_internal_headers()``), so a bare ``recover_sagas(log)`` works too.

Both compensations are idempotent and touch independent stores (``concurrent=True``), so
the engine runs them in parallel.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from distributed_saga import CompensationRegistry, default_registry
from wikisaga.auth import USER_ID_HEADER, get_internal_headers
from wikisaga.clients import FilesystemClient, GitClient

__all__ = [
    "FILES_RESTORE",
    "SNAPSHOT_DELETE",
    "delete_snapshot",
    "publish_compensations",
    "register_publish_compensations",
    "restore_files",
]

FILES_RESTORE = "wikisaga.files.restore"
SNAPSHOT_DELETE = "wikisaga.git.delete_snapshot"


def _headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    chosen = dict(headers) if headers is not None else get_internal_headers()
    chosen.pop(USER_ID_HEADER, None)  # each call names its user itself
    return chosen


def _timeout(args: Mapping[str, Any], default: float) -> float:
    return float(args.get("timeout") or default)


def restore_files(args: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
    """Put every file the step touched back to its prior version, or absent.

    Two forms of arguments:

    - ``{"idempotency_key": K, "undo": true, ...}`` (what the saga records): undo the batch
      K answered, by its key. The filesystem service reads each path's previous version
      from the batch's stored answer, in the transaction that restores them, and revokes
      K: a batch that never arrived changes nothing and is refused if it arrives later;
    - ``{"files": [{"path", "version"}], "idempotency_key": K, ...}`` (what earlier
      versions recorded, planned from a listing before the batch): put each path back to
      that version, or absent, and revoke K.
    """
    key = args.get("idempotency_key")
    with FilesystemClient(
        args["filesystem_url"], headers=_headers(headers), timeout=_timeout(args, 10.0)
    ) as client:
        if args.get("undo"):
            if not isinstance(key, str) or not key:
                raise ValueError("undoing a batch needs the idempotency_key it was sent with")
            client.undo_batch(args["project_id"], key, user_id=args["user_id"])
            return
        versions = {item["path"]: item["version"] for item in args["files"]}
        # Revoking the batch's key stops the batch from landing after its own rollback,
        # should it still be on its way (a slow network, a client retry).
        client.restore(
            args["project_id"],
            versions,
            user_id=args["user_id"],
            revoke_idempotency_keys=[key] if key else [],
        )


def delete_snapshot(args: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> None:
    """Delete the snapshot the step created (or was about to create); absent is fine."""
    with GitClient(
        args["git_url"], headers=_headers(headers), timeout=_timeout(args, 15.0)
    ) as client:
        client.delete_snapshot(args["project_id"], args["snapshot_id"], user_id=args["user_id"])


def register_publish_compensations(
    registry: CompensationRegistry, headers: Mapping[str, str] | None = None
) -> CompensationRegistry:
    """Register both compensations in ``registry``, sending ``headers`` (``None``: the
    token from the environment at the time they run); return the registry."""
    frozen = None if headers is None else dict(headers)
    registry.register(FILES_RESTORE, partial(restore_files, headers=frozen), concurrent=True)
    registry.register(SNAPSHOT_DELETE, partial(delete_snapshot, headers=frozen), concurrent=True)
    return registry


def publish_compensations(
    headers: Mapping[str, str] | None = None, *, others: CompensationRegistry = default_registry
) -> CompensationRegistry:
    """A registry of its own holding the publishing compensations, sending ``headers``,
    and every other compensation registered in ``others`` now (steps added before the
    files, such as a graph write, bring their own)."""
    registry = CompensationRegistry()
    for name in others:
        if name not in (FILES_RESTORE, SNAPSHOT_DELETE):
            registry.register(name, others.get(name), concurrent=others.is_concurrent(name))
    return register_publish_compensations(registry, headers)


register_publish_compensations(default_registry)
