"""At most ``limit`` generations at once, the others waiting before their body is read.

A generation holds its request (documents), its analyses and its answer in memory, so
the number running at once bounds the service's memory. The gate sits inside the token
check and the body limit (a refused request takes no turn) and in front of the route,
which reads the body only once the turn has come: a waiting request holds a connection,
not its documents. A request still waiting after ``wait_seconds`` gets 503 ``busy`` with
``Retry-After``.
"""

from __future__ import annotations

import asyncio
import math

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from wikisaga.services._common import ServiceMetrics, ServiceUnavailable
from wikisaga.services._common.errors import error_body

__all__ = ["GenerationGate"]


class GenerationGate:
    """ASGI middleware admitting ``limit`` requests to ``path`` at once."""

    def __init__(
        self, app: ASGIApp, *, path: str, limit: int, wait_seconds: float, metrics: ServiceMetrics
    ) -> None:
        self.app = app
        self.path = path
        self.limit = limit
        self.wait_seconds = wait_seconds
        self.metrics = metrics
        self._turns: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        # Made in the loop that serves the app (a test may start more than one in turn).
        loop = asyncio.get_running_loop()
        if self._turns is None or self._loop is not loop:
            self._turns, self._loop = asyncio.Semaphore(self.limit), loop
        return self._turns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") != self.path:
            await self.app(scope, receive, send)
            return
        turns = self._semaphore()
        try:
            await asyncio.wait_for(turns.acquire(), timeout=self.wait_seconds)
        except TimeoutError:
            error = ServiceUnavailable(
                f"busy: {self.limit} generation(s) running; retry later",
                code="busy",
                headers={"Retry-After": str(max(1, math.ceil(self.wait_seconds)))},
            )
            self.metrics.count_error(scope, error.error_code)
            response = JSONResponse(error_body(error), status_code=503, headers=error.headers)
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            turns.release()
