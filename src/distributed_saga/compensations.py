"""Durable compensations: undo actions named in the log, so any process can run them.

A callable ``rollback`` (the guide's lambda) lives only in the process that made it: if that
process dies, nobody can call it. A :class:`Compensation` is a registered *name* plus JSON
arguments. The engine writes both to the saga log before the step's action runs, and any
process that imports the module registering the name can run it — the owner after a
failure, or a recoverer after a crash.

Compensations must be idempotent: undoing what was never done, or was already undone, must
succeed and change nothing. The engine may run one more than once (a crash between running
it and recording that it ran), and runs it for a step whose action may not have run at all.

A compensation registered with ``concurrent=True`` declares that it does not depend on the
order in which it runs relative to other such compensations (they touch independent
stores). Consecutive steps whose compensations are all concurrent are undone in parallel;
everything else is undone strictly last first.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from distributed_saga._errors import UnknownCompensationError

__all__ = [
    "Compensation",
    "CompensationFunction",
    "CompensationRegistry",
    "compensation",
    "default_registry",
]

CompensationFunction = Callable[[Mapping[str, Any]], object]
"""Undoes one step, given the JSON arguments planned for it. Its return value is ignored."""

_F = TypeVar("_F", bound=CompensationFunction)

# Made once: json.dumps(..., allow_nan=False) would build a new encoder for every call.
_STRICT_JSON = json.JSONEncoder(allow_nan=False)


@dataclass(frozen=True, slots=True)
class Compensation:
    """A durable rollback: a registered compensation ``name`` and its JSON ``args``.

    The arguments are encoded once, when the compensation is made: ``args_json`` is what
    the saga log records (``None`` for no arguments), so changing the ``args`` mapping
    afterwards changes nothing that is recorded.
    """

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    args_json: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a compensation needs a name")
        try:
            text = _STRICT_JSON.encode(dict(self.args)) if self.args else None
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"arguments of compensation {self.name!r} must be JSON-serialisable: {exc}"
            ) from exc
        object.__setattr__(self, "args_json", text)

    def recorded_args(self) -> dict[str, Any] | None:
        """The arguments as a log records them and a recoverer reads them back: decoded
        from ``args_json`` (``None`` for no arguments)."""
        return json.loads(self.args_json) if self.args_json else None


class CompensationRegistry:
    """Maps compensation names to the functions that perform them."""

    def __init__(self) -> None:
        self._functions: dict[str, CompensationFunction] = {}
        self._concurrent: set[str] = set()
        self._lock = threading.Lock()

    def register(
        self, name: str, function: CompensationFunction, *, concurrent: bool = False
    ) -> None:
        """Register ``function`` under ``name``; registering the same function again is fine.

        ``concurrent=True``: it may run in parallel with other concurrent compensations.
        """
        with self._lock:
            existing = self._functions.get(name)
            if existing is not None and existing is not function:
                raise ValueError(f"compensation {name!r} is already registered to {existing!r}")
            self._functions[name] = function
            if concurrent:
                self._concurrent.add(name)

    def is_concurrent(self, name: str | None) -> bool:
        """Whether ``name`` was registered as safe to run in parallel with its kind."""
        return name in self._concurrent

    def get(self, name: str) -> CompensationFunction:
        """The function registered as ``name``; :class:`UnknownCompensationError` if none."""
        try:
            return self._functions[name]
        except KeyError:
            raise UnknownCompensationError(name) from None

    def run(self, item: Compensation) -> None:
        """Run one compensation with its arguments."""
        self.get(item.name)(item.args)

    def __contains__(self, name: object) -> bool:
        return name in self._functions

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._functions))


default_registry = CompensationRegistry()
"""The registry used when none is given."""


def compensation(
    name: str, *, registry: CompensationRegistry | None = None, concurrent: bool = False
) -> Callable[[_F], _F]:
    """Decorator: register the decorated function as the compensation ``name``.

    >>> @compensation("files.delete")
    ... def delete_files(args):
    ...     ...
    """

    def decorate(function: _F) -> _F:
        (registry or default_registry).register(name, function, concurrent=concurrent)
        return function

    return decorate
