"""Test kits for code built on :mod:`distributed_saga`.

:class:`SagaLogContract` (in :mod:`~distributed_saga.testing.contract`, which needs
pytest) holds the saga log contract as tests; subclass it with a ``log`` fixture to check
a backend. It is imported on first use, so the crash-test programs started from this
package do not load pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distributed_saga.testing.contract import SagaLogContract

__all__ = ["SagaLogContract"]


def __getattr__(name: str) -> Any:
    if name == "SagaLogContract":
        from distributed_saga.testing.contract import SagaLogContract  # noqa: PLC0415

        return SagaLogContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
