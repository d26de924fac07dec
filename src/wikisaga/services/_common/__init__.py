"""What every service shares: the app factory, auth dependencies, domain errors,
path validation, per-project locks and metrics.

A service builds its app with :func:`create_service_app`, declares ``InternalToken`` /
``UserId`` in its routes, raises :class:`ServiceError` subclasses, and validates every
project id and path from a request with :func:`validate_project_id` /
:func:`validate_file_path`.
"""

from __future__ import annotations

from wikisaga.services._common.app import (
    DEFAULT_MAX_BODY_BYTES,
    ERROR_RESPONSES,
    PUBLIC_PATHS,
    ErrorBody,
    HealthBody,
    create_service_app,
    dev_token,
)
from wikisaga.services._common.deps import (
    IdempotencyKey,
    InternalToken,
    OptionalUserId,
    UserId,
)
from wikisaga.services._common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    IdempotencyKeyRevoked,
    InvalidPath,
    InvalidUserId,
    MethodNotAllowed,
    MissingUserId,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    Unauthorized,
    Unprocessable,
    UnsafeStorage,
)
from wikisaga.services._common.locks import AsyncProjectLocks, ProjectLocks
from wikisaga.services._common.metrics import ServiceMetrics
from wikisaga.ids import (
    MAX_PATH_BYTES,
    MAX_PATH_DEPTH,
    MAX_SEGMENT_BYTES,
    PROJECT_ID_PATTERN,
    validate_file_path,
    validate_path_prefix,
    validate_project_id,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ERROR_RESPONSES",
    "MAX_PATH_BYTES",
    "MAX_PATH_DEPTH",
    "MAX_SEGMENT_BYTES",
    "PROJECT_ID_PATTERN",
    "PUBLIC_PATHS",
    "AsyncProjectLocks",
    "BadRequest",
    "Conflict",
    "ErrorBody",
    "Forbidden",
    "HealthBody",
    "IdempotencyKey",
    "IdempotencyKeyReused",
    "IdempotencyKeyRevoked",
    "InternalToken",
    "InvalidPath",
    "InvalidUserId",
    "MethodNotAllowed",
    "MissingUserId",
    "NotFound",
    "OptionalUserId",
    "PayloadTooLarge",
    "ProjectLocks",
    "ServiceError",
    "ServiceMetrics",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
    "UnsafeStorage",
    "UserId",
    "create_service_app",
    "dev_token",
    "validate_file_path",
    "validate_path_prefix",
    "validate_project_id",
]
