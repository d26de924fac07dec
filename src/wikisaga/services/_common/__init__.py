"""What every service shares: the app factory, auth dependencies, HTTP errors and their
translation, per-project locks and metrics.

A service builds its app with :func:`create_service_app` (passing its table of domain
errors), declares ``InternalToken`` / ``UserId`` in its routes, and validates every id and
path from a request with the rules of :mod:`wikisaga.ids`.
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
    COMMON_TRANSLATIONS,
    BadGateway,
    BadRequest,
    Conflict,
    Forbidden,
    GatewayTimeout,
    InvalidPath,
    MethodNotAllowed,
    MissingUserId,
    NotFound,
    PayloadTooLarge,
    ServiceError,
    ServiceUnavailable,
    Translations,
    Unauthorized,
    Unprocessable,
    with_code,
)
from wikisaga.services._common.locks import AsyncProjectLocks, ProjectLocks
from wikisaga.services._common.metrics import ServiceMetrics

__all__ = [
    "COMMON_TRANSLATIONS",
    "DEFAULT_MAX_BODY_BYTES",
    "ERROR_RESPONSES",
    "PUBLIC_PATHS",
    "AsyncProjectLocks",
    "BadGateway",
    "BadRequest",
    "Conflict",
    "ErrorBody",
    "Forbidden",
    "GatewayTimeout",
    "HealthBody",
    "IdempotencyKey",
    "InternalToken",
    "InvalidPath",
    "MethodNotAllowed",
    "MissingUserId",
    "NotFound",
    "OptionalUserId",
    "PayloadTooLarge",
    "ProjectLocks",
    "ServiceError",
    "ServiceMetrics",
    "ServiceUnavailable",
    "Translations",
    "Unauthorized",
    "Unprocessable",
    "UserId",
    "create_service_app",
    "dev_token",
    "with_code",
]
