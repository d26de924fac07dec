"""Fixtures of the engine's tests: a compensation registry, a store it undoes, the guide's logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from distributed_saga import CompensationRegistry


@pytest.fixture
def registry() -> CompensationRegistry:
    return CompensationRegistry()


@pytest.fixture
def shelf(registry: CompensationRegistry) -> dict[str, Any]:
    """A key-value store whose durable compensation ``shelf.restore`` puts a key back."""
    store: dict[str, Any] = {}

    def restore(args: Mapping[str, Any]) -> None:
        if args["prior"] is None:
            store.pop(args["key"], None)
        else:
            store[args["key"]] = args["prior"]

    registry.register("shelf.restore", restore)
    return store


@pytest.fixture(params=["memory", "sqlite"])
def guide_log(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """The guide's default (no log: in memory), and the durable SQLite log."""
    if request.param == "memory":
        return None
    from distributed_saga import open_saga_log  # noqa: PLC0415

    return open_saga_log(f"sqlite:///{tmp_path}/sagas.db")
