"""Prometheus metrics of one service app, in a registry of its own.

A registry per app (not the process-global one) lets several apps live in one process,
as they do in tests, without their metrics colliding. Services add their own metrics to
:attr:`ServiceMetrics.registry`, or hand whole collectors (the saga metrics of
:mod:`wikisaga.observability`, which one process may share between apps) to
:meth:`ServiceMetrics.register`.

Series (every one labelled with ``service``):

- ``wikisaga_http_requests_total{method, route, status}`` — requests answered;
- ``wikisaga_http_request_duration_seconds{method, route}`` — latency histogram;
- ``wikisaga_http_errors_total{method, route, error}`` — error responses by short code;
- ``wikisaga_http_requests_in_progress`` — requests being handled now.

``route`` is the route's template (``/file/{project_id}/{path}``), never the concrete
path, so the label set stays bounded; requests matching no route are ``<unmatched>``.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["UNMATCHED_ROUTE", "MetricsMiddleware", "ServiceMetrics", "route_template"]

UNMATCHED_ROUTE = "<unmatched>"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def route_template(scope: Scope) -> str:
    """The template of the route that handled ``scope``, or ``<unmatched>``."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class ServiceMetrics:
    """The HTTP metrics of one service and the registry they live in."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "wikisaga_http_requests_total",
            "HTTP requests answered, by route template, method and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "wikisaga_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["service", "method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "wikisaga_http_errors_total",
            "HTTP error responses, by route template, method and short error code.",
            ["service", "method", "route", "error"],
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "wikisaga_http_requests_in_progress",
            "HTTP requests being handled now.",
            ["service"],
            registry=self.registry,
        )

    def register(self, collector: Collector) -> None:
        """Serve ``collector``'s metrics from this app's ``/metrics`` too.

        Raises ``ValueError`` if one of its names is already registered here.
        """
        self.registry.register(collector)

    def count_error(self, scope: Scope, code: str) -> None:
        """Count one error response with short code ``code``."""
        self.errors.labels(self.service, scope.get("method", ""), route_template(scope), code).inc()

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware that times and counts every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_and_observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        gauge: Any = self.metrics.in_progress.labels(self.metrics.service)
        gauge.inc()
        try:
            await self.app(scope, receive, send_and_observe)
        finally:
            gauge.dec()
            route = route_template(scope)
            method = scope.get("method", "")
            self.metrics.requests.labels(self.metrics.service, method, route, str(status)).inc()
            self.metrics.latency.labels(self.metrics.service, method, route).observe(
                time.perf_counter() - started
            )
