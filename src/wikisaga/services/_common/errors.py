"""What a service answers when a request fails, and the one place that turns errors into it.

Routes raise a :class:`ServiceError` for what only HTTP can say (a bad header, a body over
its limit); stores raise the domain errors of :mod:`wikisaga.errors`. Each service lists
how its domain errors map to HTTP in one table (its ``deps.py``), after the rules every
service shares (:data:`COMMON_TRANSLATIONS`: refused ids and paths, and the common store
errors). :func:`install_error_handler` registers one handler that renders every error,
including the framework's own (validation, unknown route, wrong method), as
``{"error": <short code>, "detail": <message>}``::

    ServiceError (500 internal_error)   a WikisagaError
    ├── BadRequest          400 bad_request          (invalid_user_id, invalid_snapshot_id, ...)
    │   ├── InvalidPath     400 invalid_path        a project id or file path was refused
    │   └── MissingUserId   400 missing_user_id     X-User-ID is required and absent
    ├── Unauthorized        401 unauthorized        X-INTERNAL-TOKEN missing or wrong
    ├── Forbidden           403 forbidden           the project belongs to another user
    ├── NotFound            404 not_found            (project_not_found, version_not_found, ...)
    ├── MethodNotAllowed    405 method_not_allowed
    ├── Conflict            409 conflict             (unsafe_storage, idempotency_key_revoked, ...)
    ├── PayloadTooLarge     413 payload_too_large   a file, a batch or a request is too big
    ├── Unprocessable       422 validation_error     (idempotency_key_reused)
    ├── BadGateway          502 bad_gateway          a service this one depends on failed
    ├── ServiceUnavailable  503 unavailable         this service cannot answer now
    └── GatewayTimeout      504 gateway_timeout      a service this one depends on was too slow
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeAlias

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from wikisaga.errors import (
    InvalidFilePath,
    InvalidId,
    InvalidProjectId,
    ItemNotFound,
    NotProjectOwner,
    ProjectNotFound,
    StateConflict,
    StoreError,
    TooLarge,
    WikisagaError,
)

__all__ = [
    "COMMON_TRANSLATIONS",
    "BadGateway",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "GatewayTimeout",
    "InvalidPath",
    "MethodNotAllowed",
    "MissingUserId",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "ServiceUnavailable",
    "Translations",
    "Unauthorized",
    "Unprocessable",
    "error_body",
    "install_error_handler",
    "to_service_error",
    "with_code",
]

logger = logging.getLogger("wikisaga.services")


class ServiceError(WikisagaError):
    """Root of every error a service reports to its caller; carries its HTTP mapping."""

    status_code: int = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code
        self.error_code = code or type(self).code
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(ServiceError):
    """The request is malformed in a way the schema cannot express."""

    status_code = 400
    code = "bad_request"


class InvalidPath(BadRequest):
    """A project id or file path was refused by the path validator."""

    code = "invalid_path"


class MissingUserId(BadRequest):
    """``X-User-ID`` is required by this endpoint and absent."""

    code = "missing_user_id"


class Unauthorized(ServiceError):
    """``X-INTERNAL-TOKEN`` is missing or wrong."""

    status_code = 401
    code = "unauthorized"


class Forbidden(ServiceError):
    """The acting user may not touch this resource."""

    status_code = 403
    code = "forbidden"


class NotFound(ServiceError):
    """The resource does not exist."""

    status_code = 404
    code = "not_found"


class MethodNotAllowed(ServiceError):
    """The route exists but not with this method."""

    status_code = 405
    code = "method_not_allowed"


class Conflict(ServiceError):
    """The request conflicts with the current state."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(ServiceError):
    """A file, a batch or the whole request is over its limit."""

    status_code = 413
    code = "payload_too_large"


class Unprocessable(ServiceError):
    """The body does not match the schema."""

    status_code = 422
    code = "validation_error"


class BadGateway(ServiceError):
    """A service this one depends on failed or answered something unusable."""

    status_code = 502
    code = "bad_gateway"


class ServiceUnavailable(ServiceError):
    """The service cannot answer now; retrying later may succeed."""

    status_code = 503
    code = "unavailable"


class GatewayTimeout(ServiceError):
    """A service this one depends on did not answer in time."""

    status_code = 504
    code = "gateway_timeout"


Translations: TypeAlias = Sequence[tuple[type[Exception], Callable[[Any], ServiceError]]]
"""How domain errors become HTTP: ``(error type, make the ServiceError)``, first match wins,
so a subclass goes before its base."""


def with_code(kind: type[ServiceError]) -> Callable[[StoreError], ServiceError]:
    """Translate a store error to ``kind``, keeping its message and its code."""
    return lambda error: kind(error.message, code=error.code)


def _invalid_id(error: InvalidId) -> ServiceError:
    extra = {"field": error.field}
    if isinstance(error, InvalidProjectId | InvalidFilePath):
        return InvalidPath(error.message, extra=extra)
    return BadRequest(error.message, code=f"invalid_{error.field}", extra=extra)


COMMON_TRANSLATIONS: Translations = (
    (InvalidId, _invalid_id),
    (NotProjectOwner, with_code(Forbidden)),
    (ProjectNotFound, with_code(NotFound)),
    (ItemNotFound, with_code(NotFound)),
    (StateConflict, with_code(Conflict)),
    (TooLarge, with_code(PayloadTooLarge)),
    (StoreError, with_code(ServiceError)),
)
"""Translations every service shares; a service's own table is consulted first."""


_STATUS_TO_ERROR: dict[int, type[ServiceError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    413: PayloadTooLarge,
    422: Unprocessable,
    503: ServiceUnavailable,
}


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()))
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    if len(errors) > 5:
        parts.append(f"... and {len(errors) - 5} more")
    return "; ".join(parts) or "invalid request"


def _is_missing_user_id(error: dict[str, Any]) -> bool:
    location = tuple(str(part).lower() for part in error.get("loc", ()))
    return error.get("type") == "missing" and location == ("header", "x-user-id")


def to_service_error(exc: Exception, translations: Translations = ()) -> ServiceError:
    """Translate any exception reaching the app boundary into a :class:`ServiceError`:
    through ``translations``, then :data:`COMMON_TRANSLATIONS`; anything unknown is a 500
    that says nothing of its cause."""
    if isinstance(exc, ServiceError):
        return exc
    for kind, make in (*translations, *COMMON_TRANSLATIONS):
        if isinstance(exc, kind):
            return make(exc)
    if isinstance(exc, RequestValidationError):
        return _from_validation(exc)
    if isinstance(exc, StarletteHTTPException):
        return _from_http(exc)
    return ServiceError("internal error")


def _from_validation(exc: RequestValidationError) -> ServiceError:
    errors = list(exc.errors())
    if any(_is_missing_user_id(error) for error in errors):
        return MissingUserId("X-User-ID header is required")
    return Unprocessable(
        _validation_message(errors),
        # Inputs are dropped: they may be large, and echoing them back helps no one.
        extra={"errors": [{k: v for k, v in e.items() if k != "input"} for e in errors]},
    )


def _from_http(exc: StarletteHTTPException) -> ServiceError:
    cls = _STATUS_TO_ERROR.get(exc.status_code)
    headers = dict(exc.headers or {})
    if cls is None:
        return ServiceError(
            str(exc.detail), code="http_error", status_code=exc.status_code, headers=headers
        )
    return cls(str(exc.detail), headers=headers)


def error_body(error: ServiceError) -> dict[str, Any]:
    """The JSON body of an error response."""
    body: dict[str, Any] = {"error": error.error_code, "detail": error.detail}
    body.update(error.extra)
    return body


def install_error_handler(
    app: FastAPI, on_error: Any = None, translations: Translations = ()
) -> None:
    """Register the one handler that renders every error as ``{"error", "detail"}`` JSON.

    ``translations`` is the service's table of domain errors (see :data:`Translations`);
    ``on_error(request, error)`` is called for each rendered error (metrics count them).
    """

    # Errors this app knows how to answer: our own, the framework's, and the service's
    # table (say, the saga engine's, which are not WikisagaErrors).
    known = (
        WikisagaError,
        RequestValidationError,
        StarletteHTTPException,
        *(kind for kind, _ in translations),
    )

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = to_service_error(exc, translations)
        if error.status_code >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        if on_error is not None:
            on_error(request, error)
        headers = dict(error.headers)
        if not isinstance(exc, known):
            # An unexpected exception is re-raised to the server after this answer, and the
            # server then closes the connection; say so, or a client that keeps connections
            # alive would send its next request into a closed socket.
            headers["Connection"] = "close"
        return JSONResponse(
            jsonable_encoder(error_body(error)),
            status_code=error.status_code,
            headers=headers,
        )

    # Known errors get a handler of their own: one registered only for Exception runs in
    # the outermost middleware, which re-raises after answering (the server then logs a
    # traceback and closes the connection).
    for exc_type in (*known, Exception):
        app.add_exception_handler(exc_type, handle)
