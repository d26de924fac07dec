"""``wikisaga.observability`` exports exactly its public members, and each module's
``__all__`` names what it defines."""

from __future__ import annotations

from types import ModuleType

import pytest

from wikisaga import observability
from wikisaga.observability import labels, logs, rules, saga_log, saga_metrics


def _public(module: ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }


def test_the_package_exports_exactly_its_public_members() -> None:
    assert set(observability.__all__) == _public(observability)
    assert len(set(observability.__all__)) == len(observability.__all__)


@pytest.mark.parametrize("module", [labels, logs, rules, saga_log, saga_metrics])
def test_each_module_exports_only_what_it_defines(module: ModuleType) -> None:
    for name in module.__all__:
        value = getattr(module, name)
        assert getattr(value, "__module__", module.__name__) == module.__name__, name
