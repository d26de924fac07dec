"""What each package exports: ``__all__`` names exactly its public members, and the engine
never loads the application (modelled on httpx's ``tests/test_exported_members.py``)."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

import distributed_saga
import wikisaga


def public_members(module: ModuleType) -> set[str]:
    """Names a reader would take for the module's API: not private, not submodules, not
    ``from __future__`` features; ``__version__`` counts."""
    return {
        name
        for name, value in vars(module).items()
        if (not name.startswith("_") or name == "__version__")
        and not isinstance(value, ModuleType)
        and name != "annotations"
    }


@pytest.mark.parametrize("package", [distributed_saga, wikisaga], ids=lambda p: p.__name__)
def test_all_is_exactly_the_public_members(package: ModuleType) -> None:
    """Every public name is in ``__all__``, once, and every name in ``__all__`` exists."""
    assert set(package.__all__) == public_members(package)
    assert len(set(package.__all__)) == len(package.__all__)


def test_the_guides_wiki_saga_is_importable_from_the_engine_but_not_exported() -> None:
    """``from distributed_saga import WikiGenerationSaga`` (the guide's line) works through
    one lazy name that ``__all__`` leaves out."""
    from distributed_saga import WikiGenerationSaga  # noqa: PLC0415
    from wikisaga.pipeline.publish import WikiGenerationSaga as app_saga  # noqa: PLC0415

    assert WikiGenerationSaga is app_saga
    assert "WikiGenerationSaga" not in distributed_saga.__all__
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        distributed_saga.NoSuchThing


@pytest.mark.parametrize(
    "statement",
    ["import distributed_saga", "from distributed_saga import *", "import distributed_saga.log"],
)
def test_importing_the_engine_never_loads_the_application(statement: str) -> None:
    """In a fresh interpreter, the engine's imports leave ``wikisaga`` unloaded."""
    loaded = "sorted(m for m in sys.modules if m.startswith('wikisaga'))"
    code = f"{statement}\nimport sys\nprint({loaded})"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
