"""The app factory every service starts from.

:func:`create_service_app` gives a FastAPI app with:

- ``GET /health`` — no token needed: ``{"status": "ok", "service": <name>}``;
- ``GET /metrics`` — Prometheus text; needs the token, as ``X-INTERNAL-TOKEN`` or as
  ``Authorization: Bearer <token>`` (what Prometheus' ``authorization`` scrape setting
  sends). Request counts by route and error rates tell an outsider what the system is
  doing, and DESIGN §3 exempts only ``/health``;
- ``/docs`` and ``/openapi.json`` — open: they describe the API, hold no data, and a
  browser cannot send the token header;
- every other path — refused with 401 before its body is read when the token is missing
  or wrong;
- a path holding a control character refused with 400 ``invalid_path`` before routing
  (the router would read ``a.md%0A`` as ``a.md``);
- bodies over ``max_body_bytes`` refused with 413 before they are parsed (a path matching
  a pattern of ``body_limits`` has that pattern's limit instead);
- every error as ``{"error": <code>, "detail": <message>}`` (see ``errors``).
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client.registry import Collector
from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wikisaga import __version__
from wikisaga.auth import INTERNAL_TOKEN_HEADER, check_internal_token
from wikisaga.config import Settings
from wikisaga.errors import ConfigError
from wikisaga.services._common.errors import (
    InvalidPath,
    PayloadTooLarge,
    ServiceError,
    Translations,
    Unauthorized,
    error_body,
    install_error_handler,
)
from wikisaga.services._common.metrics import MetricsMiddleware, ServiceMetrics

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ERROR_RESPONSES",
    "PUBLIC_PATHS",
    "ErrorBody",
    "HealthBody",
    "create_service_app",
    "dev_token",
]

logger = logging.getLogger("wikisaga.services")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
PUBLIC_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
_METRICS_PATH = "/metrics"


class ErrorBody(BaseModel):
    """Every error response: a short machine code and a human message."""

    model_config = ConfigDict(extra="allow")
    error: str
    detail: str


class HealthBody(BaseModel):
    """The answer of ``/health``."""

    status: str
    service: str


def _error_response(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error_response("Invalid path, user id or header"),
    401: _error_response("Missing or wrong X-INTERNAL-TOKEN"),
    403: _error_response("The project belongs to another user"),
    404: _error_response("Not found"),
    409: _error_response("Conflicts with the current state"),
    413: _error_response("A file, batch or request is too large"),
    422: _error_response("The body does not match the schema"),
}
"""Error responses to declare on routes, so the OpenAPI document matches what they send."""


def dev_token() -> str:
    """A fresh random internal token for development mode."""
    return secrets.token_urlsafe(32)


def _json_error(error: ServiceError) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=error.status_code, headers=error.headers)


class _InternalTokenGate:
    """Refuse requests without the right token before any route sees their body."""

    def __init__(self, app: ASGIApp, token: str, metrics: ServiceMetrics) -> None:
        self.app = app
        self.token = token
        self.metrics = metrics

    def _authorized(self, scope: Scope) -> bool:
        path = scope.get("path", "")
        if path in PUBLIC_PATHS:
            return True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if check_internal_token(headers.get(INTERNAL_TOKEN_HEADER.lower()), self.token):
            return True
        if path == _METRICS_PATH:
            scheme, _, credentials = headers.get("authorization", "").partition(" ")
            return scheme.lower() == "bearer" and check_internal_token(credentials, self.token)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        error = Unauthorized("missing or wrong X-INTERNAL-TOKEN")
        self.metrics.count_error(scope, error.error_code)
        await _json_error(error)(scope, receive, send)


class _PathCheck:
    """Refuse a path holding a control character with 400 ``invalid_path``, before any
    route matches it. No id or file path may hold one, and the router would read some as
    another path: a path parameter's pattern ends with ``$``, which also matches before a
    final line feed, so ``DELETE /file/p/a.md%0A`` would delete ``a.md``."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        odd = next((char for char in path if unicodedata.category(char) == "Cc"), None)
        if odd is None:
            await self.app(scope, receive, send)
            return
        error = InvalidPath(
            f"the request path holds the control character U+{ord(odd):04X}",
            extra={"field": "path"},
        )
        self.metrics.count_error(scope, error.error_code)
        await _json_error(error)(scope, receive, send)


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``: FastAPI re-raises HTTPExceptions met while reading a body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than {limit} bytes")


class _BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, before they are parsed; a path
    matching one of ``paths`` (whole) has that pattern's limit instead."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        metrics: ServiceMetrics,
        paths: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default = limit
        self.metrics = metrics
        self.paths = [(re.compile(pattern), size) for pattern, size in (paths or {}).items()]

    def _limit_of(self, scope: Scope) -> int:
        path = scope.get("path", "")
        for pattern, size in self.paths:
            if pattern.fullmatch(path):
                return size
        return self.default

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        error = PayloadTooLarge(f"request body is larger than {limit} bytes")
        self.metrics.count_error(scope, error.error_code)
        await _json_error(error)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_of(scope)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._refuse(scope, receive, send, limit)
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send, limit)


def create_service_app(
    name: str,
    settings: Settings,
    *,
    version: str = __version__,
    description: str = "",
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    body_limits: Mapping[str, int] | None = None,
    errors: Translations = (),
    collectors: Iterable[Collector] = (),
) -> FastAPI:
    """Build the common app of service ``name``; the service adds its routers to it.

    ``body_limits`` gives routes a body limit of their own: a regular expression that
    matches the whole path, and its limit in bytes (say, an upload route's larger one).

    ``errors`` is the service's table from its domain errors to HTTP (see
    :data:`~wikisaga.services._common.errors.Translations`).

    Without ``settings.internal_token`` this raises :class:`~wikisaga.config.ConfigError`,
    unless ``settings.dev_mode`` is set: then a random token is generated (callers that
    want to print it generate it themselves with :func:`dev_token` and pass it in).
    ``app.state`` holds ``settings`` (with the token in effect), ``internal_token``,
    ``service_name`` and ``metrics``.

    ``version`` (default: the installed wikisaga's) is the one ``/openapi.json`` reports,
    which ``wikisaga doctor`` compares with its own.

    ``collectors`` are extra Prometheus collectors served by ``/metrics`` next to the HTTP
    metrics (say, a :class:`~wikisaga.observability.SagaMetrics`); more can be added later
    with ``app.state.metrics.register(collector)``.
    """
    token = settings.token
    if not token:
        if not settings.dev_mode:
            raise ConfigError(
                f"the {name} service refuses to start without an internal token: "
                "set WIKISAGA_INTERNAL_TOKEN to a shared secret, or pass --dev to generate one"
            )
        token = dev_token()
        settings = settings.with_changes(internal_token=token)
        logger.warning("%s: development mode, generated a random internal token", name)

    app = FastAPI(
        title=f"wikisaga {name} service",
        version=version,
        description=description,
        # An internal API answers the path it was asked; a redirect would only hide a typo.
        redirect_slashes=False,
    )
    metrics = ServiceMetrics(name)
    for collector in collectors:
        metrics.register(collector)
    app.state.settings = settings
    app.state.internal_token = token
    app.state.service_name = name
    app.state.metrics = metrics

    install_error_handler(
        app,
        on_error=lambda request, error: metrics.count_error(request.scope, error.error_code),
        translations=errors,
    )

    @app.get("/health", tags=["service"], response_model=HealthBody)
    def health() -> HealthBody:
        """Liveness: answers without a token."""
        return HealthBody(status="ok", service=name)

    @app.get(
        _METRICS_PATH,
        tags=["service"],
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            401: ERROR_RESPONSES[401],
        },
    )
    def metrics_endpoint(request: Request) -> Response:
        """Prometheus metrics; needs X-INTERNAL-TOKEN or ``Authorization: Bearer``."""
        return Response(
            metrics.render(),
            media_type="text/plain; version=0.0.4; charset=utf-8",
        )

    # Added innermost first: metrics see every answer, including the gate's 401 and 413.
    app.add_middleware(_BodyLimit, limit=max_body_bytes, metrics=metrics, paths=body_limits)
    app.add_middleware(_PathCheck, metrics=metrics)
    app.add_middleware(_InternalTokenGate, token=token, metrics=metrics)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
