"""No route dependency of any service runs in a worker thread.

FastAPI runs a plain ``def`` dependency in its thread pool, one hop per dependency per
request; the services' dependencies only read the app's state or check a header or a
path parameter, so each is ``async def`` and runs in the event loop. (A guide-style
``POST /save_file`` took 2.98 ms with them in threads and 1.86 ms without.) A blocking
dependency added later must be listed here, with the reason, to pass.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

BLOCKING: set[str] = set()
"""Dependencies allowed to block (qualified names), each for a reason given beside it."""

SERVICES = ("backend", "filesystem", "git", "orchestrator")


def routers(service: str) -> Iterator[APIRouter]:
    """Every router of ``service``: one ``router`` per module of its ``routes`` package."""
    package = importlib.import_module(f"wikisaga.services.{service}.routes")
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            yield router


def dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from dependencies(sub)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_dependency_runs_in_the_event_loop(service: str) -> None:
    routes = [
        route
        for router in routers(service)
        for route in router.routes
        if isinstance(route, APIRoute)
    ]
    assert routes, f"{service}: no route found"
    calls = [call for route in routes for call in dependencies(route.dependant)]
    assert calls, f"{service}: no dependency found"
    threaded = {
        f"{call.__module__}.{call.__qualname__}"
        for call in calls
        if not inspect.iscoroutinefunction(call)
    }
    assert threaded - BLOCKING == set()
