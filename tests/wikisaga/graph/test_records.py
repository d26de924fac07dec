"""The graph's records check their own rules when built, the same for every backend."""

from __future__ import annotations

import math

import pytest

from wikisaga.errors import GraphError, InvalidGraphData
from wikisaga.graph import (
    MAX_KEY_BYTES,
    Entity,
    GenerationInfo,
    GenerationState,
    GraphSummary,
    Neighbourhood,
    Provenance,
    Relation,
)


def test_invalid_graph_data_is_a_graph_error_and_a_value_error() -> None:
    assert issubclass(InvalidGraphData, GraphError)
    assert issubclass(InvalidGraphData, ValueError)


@pytest.mark.parametrize(
    ("key", "name", "kind"),
    [
        ("", "Empty", None),
        (None, "None", None),
        (1, "Number", None),
        ("k", None, None),
        ("k", "K", 3),
        ("\ud800", "lone surrogate", None),
        ("k", "lone \udfff surrogate", None),
        ("é" * (MAX_KEY_BYTES // 2) + "x", "one byte too long", None),
    ],
)
def test_an_entity_that_breaks_a_rule_is_refused(key: object, name: object, kind: object) -> None:
    with pytest.raises(InvalidGraphData):
        Entity(key, name, kind)  # type: ignore[arg-type]


def test_an_entity_key_of_exactly_the_limit_is_accepted() -> None:
    key = "é" * (MAX_KEY_BYTES // 2)
    assert len(key.encode()) == MAX_KEY_BYTES
    assert Entity(key, "").key == key


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": ""},
        {"object": ""},
        {"predicate": ""},
        {"predicate": 7},
        {"method": None},
        {"weight": -0.1},
        {"weight": math.inf},
        {"weight": math.nan},
        {"weight": True},
        {"weight": "1"},
        {"confidence": 1.01},
        {"confidence": -0.01},
        {"provenance": [Provenance("d", "p", "s", 0, 1)]},
        {"provenance": ("not provenance",)},
    ],
)
def test_a_relation_that_breaks_a_rule_is_refused(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {"subject": "a", "predicate": "uses", "object": "b", **changes}
    with pytest.raises(InvalidGraphData):
        Relation(**fields)  # type: ignore[arg-type]


def test_integer_weights_are_kept_as_floats_so_a_read_back_compares_equal() -> None:
    relation = Relation("a", "uses", "b", weight=3, confidence=1)
    assert isinstance(relation.weight, float)
    assert isinstance(relation.confidence, float)
    assert relation == Relation("a", "uses", "b", weight=3.0, confidence=1.0)


@pytest.mark.parametrize(("start", "end"), [(-1, 3), (5, 4), (1.0, 3), (True, 3), (0, None)])
def test_provenance_offsets_are_ordered_non_negative_integers(start: object, end: object) -> None:
    with pytest.raises(InvalidGraphData):
        Provenance("d", "p", "s", start, end)  # type: ignore[arg-type]


def test_an_empty_sentence_at_one_offset_is_provenance() -> None:
    assert Provenance("", "", "", 4, 4).end == 4


def test_records_are_frozen() -> None:
    entity = Entity("a", "A")
    with pytest.raises(AttributeError):
        entity.key = "b"  # type: ignore[misc]


def test_records_turn_into_json_with_every_field() -> None:
    provenance = Provenance("d1", "docs/a.md", "A uses B.", 3, 12)
    relation = Relation("a", "uses", "b", 2.0, "pattern", 0.75, (provenance,))
    summary = GraphSummary("g1", 2, 1, {"uses": 1}, (relation,))
    around = Neighbourhood(Entity("a", "A", "lib"), (relation,), (Entity("b", "B"),))
    assert relation.to_json() == {
        "subject": "a",
        "predicate": "uses",
        "object": "b",
        "weight": 2.0,
        "method": "pattern",
        "confidence": 0.75,
        "provenance": [
            {
                "document_id": "d1",
                "source_path": "docs/a.md",
                "sentence": "A uses B.",
                "start": 3,
                "end": 12,
            }
        ],
    }
    assert summary.to_json()["strongest"] == [relation.to_json()]
    assert around.to_json()["neighbours"] == [{"key": "b", "name": "B", "type": None}]
    info = GenerationInfo("g1", GenerationState.CURRENT, 1)
    assert info.to_json() == {"generation": "g1", "state": "current", "sequence": 1}
