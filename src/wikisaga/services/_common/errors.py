"""Domain errors of every service, and the one place that turns them into HTTP.

Route handlers and stores raise a :class:`ServiceError`; :func:`install_error_handler`
registers one handler that renders it, and translates the framework's own errors
(validation, unknown route, wrong method) into the same JSON shape, so every error body is
``{"error": <short code>, "detail": <message>}``::

    ServiceError (500 internal_error)
    ├── BadRequest          400 bad_request
    │   ├── InvalidPath     400 invalid_path        a project id or file path was refused
    │   ├── InvalidUserId   400 invalid_user_id     X-User-ID is malformed
    │   └── MissingUserId   400 missing_user_id     X-User-ID is required and absent
    ├── Unauthorized        401 unauthorized        X-INTERNAL-TOKEN missing or wrong
    ├── Forbidden           403 forbidden           the project belongs to another user
    ├── NotFound            404 not_found
    ├── MethodNotAllowed    405 method_not_allowed
    ├── Conflict            409 conflict
    │   ├── UnsafeStorage   409 unsafe_storage      a symlink or odd file where storage expected
    │   └── IdempotencyKeyRevoked 409 idempotency_key_revoked  the request was rolled back
    ├── PayloadTooLarge     413 payload_too_large   a file, a batch or a request is too big
    ├── Unprocessable       422 validation_error    the body does not match the schema
    │   └── IdempotencyKeyReused 422 idempotency_key_reused   same key, different request
    └── ServiceUnavailable  503 unavailable
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "IdempotencyKeyReused",
    "IdempotencyKeyRevoked",
    "InvalidPath",
    "InvalidUserId",
    "MethodNotAllowed",
    "MissingUserId",
    "NotFound",
    "PayloadTooLarge",
    "ServiceError",
    "ServiceUnavailable",
    "Unauthorized",
    "Unprocessable",
    "UnsafeStorage",
    "error_body",
    "install_error_handler",
    "to_service_error",
]

logger = logging.getLogger("wikisaga.services")


class ServiceError(Exception):
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


class InvalidUserId(BadRequest):
    """``X-User-ID`` is present but not a usable user id."""

    code = "invalid_user_id"


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


class UnsafeStorage(Conflict):
    """Storage holds a symlink or a non-regular file where a plain one was expected.

    Nothing is followed or written through it; an operator has to look at the data dir.
    """

    code = "unsafe_storage"


class PayloadTooLarge(ServiceError):
    """A file, a batch or the whole request is over its limit."""

    status_code = 413
    code = "payload_too_large"


class Unprocessable(ServiceError):
    """The body does not match the schema."""

    status_code = 422
    code = "validation_error"


class IdempotencyKeyReused(Unprocessable):
    """An ``Idempotency-Key`` was replayed with a different request."""

    code = "idempotency_key_reused"


class IdempotencyKeyRevoked(Conflict):
    """The request this ``Idempotency-Key`` named was rolled back before it arrived.

    A compensation revokes the key of the request it undoes, so that the request, if it was
    still on its way, cannot take effect after its own rollback."""

    code = "idempotency_key_revoked"


class ServiceUnavailable(ServiceError):
    """The service cannot answer now; retrying later may succeed."""

    status_code = 503
    code = "unavailable"


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


def to_service_error(exc: Exception) -> ServiceError:
    """Translate any exception reaching the app boundary into a :class:`ServiceError`."""
    if isinstance(exc, ServiceError):
        return exc
    if isinstance(exc, RequestValidationError):
        errors = list(exc.errors())
        if any(_is_missing_user_id(error) for error in errors):
            return MissingUserId("X-User-ID header is required")
        return Unprocessable(
            _validation_message(errors),
            # Inputs are dropped: they may be large, and echoing them back helps no one.
            extra={"errors": [{k: v for k, v in e.items() if k != "input"} for e in errors]},
        )
    if isinstance(exc, StarletteHTTPException):
        cls = _STATUS_TO_ERROR.get(exc.status_code)
        headers = dict(exc.headers or {})
        if cls is None:
            return ServiceError(
                str(exc.detail), code="http_error", status_code=exc.status_code, headers=headers
            )
        return cls(str(exc.detail), headers=headers)
    return ServiceError("internal error")


def error_body(error: ServiceError) -> dict[str, Any]:
    """The JSON body of an error response."""
    body: dict[str, Any] = {"error": error.error_code, "detail": error.detail}
    body.update(error.extra)
    return body


def install_error_handler(app: FastAPI, on_error: Any = None) -> None:
    """Register the one handler that renders every error as ``{"error", "detail"}`` JSON.

    ``on_error(request, error)`` is called for each rendered error (metrics count them).
    """

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = to_service_error(exc)
        if error.status_code >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        if on_error is not None:
            on_error(request, error)
        headers = dict(error.headers)
        if error is not exc and not isinstance(
            exc, RequestValidationError | StarletteHTTPException
        ):
            # An unexpected exception is re-raised to the server after this answer, and the
            # server then closes the connection; say so, or a client that keeps connections
            # alive would send its next request into a closed socket.
            headers["Connection"] = "close"
        return JSONResponse(
            jsonable_encoder(error_body(error)),
            status_code=error.status_code,
            headers=headers,
        )

    for exc_type in (ServiceError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(exc_type, handle)
