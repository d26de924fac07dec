"""The relations package exports exactly its public members."""

from __future__ import annotations

from types import ModuleType

from wikisaga.content import relations


def test_all_names_exactly_the_public_members() -> None:
    public = {
        name
        for name, value in vars(relations).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert set(relations.__all__) == public
    assert len(set(relations.__all__)) == len(relations.__all__)
