"""The errors of ``wikisaga``: one root, one tree.

Everything the application raises on its own account derives from :class:`WikisagaError`,
so a caller (the command line, a backend) catches one family. Errors of the saga engine
derive from :class:`distributed_saga.SagaError`, the engine's own root: the engine knows
nothing of the application, and the command line translates them at its boundary. Foreign
errors (httpx, sqlite3, git) are translated where they enter, with ``raise ... from``::

    WikisagaError
    ├── ConfigError                   a setting cannot be used (also ValueError)
    ├── InvalidId                     an id or path breaks the rules of wikisaga.ids (ValueError)
    │   ├── InvalidProjectId
    │   ├── InvalidFilePath
    │   ├── InvalidSnapshotId
    │   └── InvalidUserId
    ├── ServiceCallError              a call to another service did not succeed (clients)
    │   ├── ServiceUnreachable        refused or dropped before an answer (ConnectionError)
    │   ├── ServiceTimeout            no answer in time; it may have been applied (TimeoutError)
    │   └── ServiceResponseError      the service answered with an error status
    │       ├── ServiceFailed         5xx: the service's own failure; worth a retry
    │       └── ServiceRejected       4xx: the request is wrong or not allowed
    ├── StoreError                    a store refused or failed an operation (domain errors)
    │   ├── ProjectNotFound           the project has nothing stored here
    │   ├── NotProjectOwner           the project belongs to another user
    │   ├── ItemNotFound              a file, version or snapshot does not exist
    │   ├── StateConflict             the request conflicts with what is stored
    │   │   ├── IdempotencyKeyRevoked the request was rolled back before it arrived
    │   │   ├── PathClash             a path would be both a file and a directory
    │   │   └── UnsafeStorage         a symlink or odd file where storage expected
    │   ├── IdempotencyKeyReused      the same key came with a different request
    │   ├── TooLarge                  a file, a batch or a request is over its limit
    │   ├── CorruptStorage            stored data does not match its own checksums
    │   ├── DocumentStoreError        the document store (Chroma) failed an operation
    │   │   └── DocumentStoreUnavailable  Chroma cannot be reached or opened (ConnectionError)
    │   ├── GraphError                the graph store failed or refused (wikisaga.graph)
    │   │   ├── GraphUnavailable      the graph database did not answer (ConnectionError)
    │   │   ├── GenerationNotFound    no such graph generation in this project
    │   │   ├── GenerationConflict    not allowed in the generation's state (current, published)
    │   │   └── InvalidGraphData      an entity or relation breaks its rules (ValueError)
    │   └── JobStoreError             the job store failed an operation (wikisaga.jobs)
    │       ├── JobNotFound           no such job (also an ItemNotFound)
    │       └── JobConflict           the project has a generation in flight (a StateConflict)
    ├── IngestError                   the paths given to an ingest cannot be used (ValueError)
    ├── GenerationError               a wiki generation did not publish (wikisaga.pipeline)
    │   ├── GenerationRefused         refused before it started: nothing to do, or too
    │   │                             destructive without ``force`` (ValueError)
    │   ├── GenerationFailed          steps 1-2 failed; the saga never started, nothing changed
    │   └── GenerationRolledBack      the saga failed and was rolled back (or needs an operator)
    ├── SagaOperationError            a saga operation failed (an engine error, translated)
    └── ServiceError                  what a service answers its caller: an HTTP status and a
                                      code (wikisaga.services._common.errors holds the tree)

Each service turns store errors into HTTP through one table of its own
(``services/<name>/deps.py``), never by raising HTTP-coded errors from a store.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConfigError",
    "CorruptStorage",
    "DocumentStoreError",
    "DocumentStoreUnavailable",
    "GenerationConflict",
    "GenerationError",
    "GenerationFailed",
    "GenerationNotFound",
    "GenerationRefused",
    "GenerationRolledBack",
    "GraphError",
    "GraphUnavailable",
    "IdempotencyKeyReused",
    "IdempotencyKeyRevoked",
    "IngestError",
    "InvalidFilePath",
    "InvalidGraphData",
    "InvalidId",
    "InvalidProjectId",
    "InvalidSnapshotId",
    "InvalidUserId",
    "ItemNotFound",
    "JobConflict",
    "JobNotFound",
    "JobStoreError",
    "NotProjectOwner",
    "PathClash",
    "ProjectNotFound",
    "SagaOperationError",
    "ServiceCallError",
    "ServiceFailed",
    "ServiceRejected",
    "ServiceResponseError",
    "ServiceTimeout",
    "ServiceUnreachable",
    "StateConflict",
    "StoreError",
    "TooLarge",
    "UnsafeStorage",
    "WikisagaError",
]


class WikisagaError(Exception):
    """Root of every error ``wikisaga`` raises on its own account."""


class ConfigError(WikisagaError, ValueError):
    """A setting has a value that cannot be used."""


# -- ids -----------------------------------------------------------------------------------


class InvalidId(WikisagaError, ValueError):
    """An identifier or path taken from outside breaks its rule in :mod:`wikisaga.ids`.

    ``field`` names what was refused (``project_id``, ``file_path``, ...).
    """

    field: str = "id"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidProjectId(InvalidId):
    """A project id was refused."""

    field = "project_id"


class InvalidFilePath(InvalidId):
    """A file path (or listing prefix) was refused."""

    field = "file_path"


class InvalidSnapshotId(InvalidId):
    """A snapshot id was refused."""

    field = "snapshot_id"


class InvalidUserId(InvalidId):
    """A user id was refused."""

    field = "user_id"


# -- calls between services ----------------------------------------------------------------


class ServiceCallError(WikisagaError):
    """A call to an internal service did not succeed."""

    def __init__(self, service: str, method: str, url: str, message: str) -> None:
        super().__init__(f"{service}: {method} {url}: {message}")
        self.service = service
        self.method = method
        self.url = url


class ServiceUnreachable(ServiceCallError, ConnectionError):
    """The service refused the connection or dropped it before answering."""


class ServiceTimeout(ServiceCallError, TimeoutError):
    """The service did not answer in time; the request may still have been applied."""


class ServiceResponseError(ServiceCallError):
    """The service answered with an error status."""

    def __init__(
        self, service: str, method: str, url: str, *, status: int, error: str, detail: Any
    ) -> None:
        super().__init__(service, method, url, f"{status} {error}: {detail}")
        self.status = status
        self.error = error
        self.detail = detail


class ServiceFailed(ServiceResponseError):
    """A 5xx answer: the service failed; the same request may succeed later."""


class ServiceRejected(ServiceResponseError):
    """A 4xx answer: the request is invalid or not allowed; repeating it will not help."""


# -- stores --------------------------------------------------------------------------------


class StoreError(WikisagaError):
    """A store refused or failed an operation; the message says what and why.

    ``code`` is a short machine-readable name of the condition (``not_found``,
    ``version_not_found``, ...): services pass it on to their callers unchanged.
    """

    code: str = "store_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ProjectNotFound(StoreError):
    """The project has nothing stored here."""

    code = "project_not_found"


class NotProjectOwner(StoreError):
    """The project belongs to another user."""

    code = "forbidden"


class ItemNotFound(StoreError):
    """A file, a version or a snapshot does not exist."""

    code = "not_found"


class StateConflict(StoreError):
    """The request conflicts with what is stored."""

    code = "conflict"


class IdempotencyKeyRevoked(StateConflict):
    """The request this ``Idempotency-Key`` named was rolled back before it arrived.

    A compensation revokes the key of the request it undoes, so that the request, if it was
    still on its way, cannot take effect after its own rollback."""

    code = "idempotency_key_revoked"


class PathClash(StateConflict):
    """A write would make one path both a file and a directory (``a`` and ``a/b``).

    A project's files form one tree, as a snapshot's git tree and a checkout do, so such a
    write is refused before anything is written; the message names both paths."""

    code = "path_clash"


class UnsafeStorage(StateConflict):
    """Storage holds a symlink or a non-regular file where a plain one was expected.

    Nothing is followed or written through it; an operator has to look at the data dir.
    """

    code = "unsafe_storage"


class IdempotencyKeyReused(StoreError):
    """An ``Idempotency-Key`` was replayed with a different request."""

    code = "idempotency_key_reused"


class TooLarge(StoreError):
    """A file, a batch or a request is over its limit."""

    code = "payload_too_large"


class CorruptStorage(StoreError):
    """Stored data does not match its own checksums, or is missing."""

    code = "corrupt_storage"


class DocumentStoreError(StoreError):
    """The document store failed an operation; Chroma's own error is the ``__cause__``."""

    code = "document_store_error"


class DocumentStoreUnavailable(DocumentStoreError, ConnectionError):
    """The document store cannot be reached (a Chroma server down) or opened."""

    code = "document_store_unavailable"


# -- ingest ----------------------------------------------------------------------------------


class IngestError(WikisagaError, ValueError):
    """The paths given to an ingest cannot be used (one does not exist, say).

    A file that cannot be ingested is not an error: it is skipped, with its reason."""


# -- the knowledge graph -------------------------------------------------------------------


class GraphError(StoreError):
    """The graph store failed or refused an operation; driver and ``sqlite3`` errors are
    its ``__cause__``."""

    code = "graph_error"


class GraphUnavailable(GraphError, ConnectionError):
    """The graph database did not answer: refused, dropped, timed out, or busy too long."""

    code = "graph_unavailable"


class GenerationNotFound(GraphError):
    """The project has no graph generation by that id (never staged, or discarded)."""

    code = "generation_not_found"


class GenerationConflict(GraphError):
    """The operation is not allowed in the generation's state: staging into a generation
    that has been made current, or discarding the current one."""

    code = "generation_conflict"


class InvalidGraphData(GraphError, ValueError):
    """An entity, relation or provenance breaks its rules (empty or over-long key, offsets
    out of order, a relation whose endpoint was not staged)."""

    code = "invalid_graph_data"


# -- jobs ----------------------------------------------------------------------------------


class JobStoreError(StoreError):
    """The job store failed an operation; the driver's error is the ``__cause__``."""

    code = "job_store_error"


class JobNotFound(JobStoreError, ItemNotFound):
    """No job has this id."""

    code = "job_not_found"


class JobConflict(JobStoreError, StateConflict):
    """The project has a generation in flight: ``job_id`` and ``saga_id`` name it."""

    code = "generation_in_progress"

    def __init__(self, message: str, *, job_id: str, saga_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.saga_id = saga_id


# -- generations ---------------------------------------------------------------------------


class GenerationError(WikisagaError):
    """A wiki generation did not publish; the message says at which step and why."""


class GenerationRefused(GenerationError, ValueError):
    """The generation was refused before anything ran or changed."""


class GenerationFailed(GenerationError):
    """Reading the documents or generating the pages failed; the saga never started."""


class GenerationRolledBack(GenerationError):
    """The publishing saga failed; ``saga_status`` says whether it was rolled back
    (``rolled_back``) or still has something to undo (``failed``)."""

    def __init__(self, message: str, *, saga_status: dict[str, object]) -> None:
        super().__init__(message)
        self.saga_status = saga_status


# -- sagas ---------------------------------------------------------------------------------


class SagaOperationError(WikisagaError):
    """A saga operation failed; the engine's error is the ``__cause__``."""
