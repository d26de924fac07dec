"""Helpers of the engine's tests (the fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distributed_saga import RetryPolicy

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002, retry_on=lambda e: True)
"""Three tries a millisecond or two apart, whatever the error: a failing undo fails fast."""


class Crash(BaseException):
    """Stands for the process dying: the engine does not catch it."""


def crash() -> None:
    """A fault plan's action that "kills" the process (see :class:`Crash`)."""
    raise Crash


def raises(error: BaseException) -> Callable[[], Any]:
    """A step action that raises ``error``."""

    def action() -> None:
        raise error

    return action
