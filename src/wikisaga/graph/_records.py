"""The records of the graph: what a generation is made of, and what readers get back.

All are frozen dataclasses that check their own rules when built (raising
:class:`~wikisaga.errors.InvalidGraphData`, a :class:`ValueError`), so a backend never
stores a record the other backend would refuse. None of them carries a project id: the
project is the store's partition key, given to every call, so a record cannot claim to be
another project's.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from wikisaga.errors import InvalidGraphData

__all__ = [
    "MAX_KEY_BYTES",
    "Entity",
    "GenerationInfo",
    "GenerationState",
    "GraphSummary",
    "Neighbourhood",
    "Provenance",
    "Relation",
]

MAX_KEY_BYTES = 2048
"""The longest entity key, in bytes of UTF-8. Keys are indexed (with the project and the
generation) by both backends; Neo4j refuses index entries of about 8 KB."""


def _text(value: object, what: str, *, empty: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidGraphData(f"{what} must be a string, not {type(value).__name__}")
    if not empty and not value:
        raise InvalidGraphData(f"{what} must not be empty")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate: neither SQLite nor Bolt can carry it.
        raise InvalidGraphData(f"{what} is not valid Unicode text") from None
    return value


def _key(value: object, what: str) -> str:
    key = _text(value, what, empty=False)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise InvalidGraphData(f"{what} is longer than {MAX_KEY_BYTES} bytes of UTF-8")
    return key


def _number(value: object, what: str, *, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidGraphData(f"{what} must be a number, not {type(value).__name__}")
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        upper = "" if high == math.inf else f" and {high:g}"
        raise InvalidGraphData(f"{what} must be a finite number between {low:g}{upper}")
    return number


def _offset(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidGraphData(f"{what} must be a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class Entity:
    """A thing the documents talk about.

    ``key`` is its normalised name (the extractor's rule; the store compares keys exactly
    and never changes them), unique in a generation; ``name`` is how pages show it; ``type``
    is what a sentence said it is (``library``), or ``None``. Staging an entity whose key
    the generation already has replaces its name and type.
    """

    key: str
    name: str
    type: str | None = None

    def __post_init__(self) -> None:
        _key(self.key, "entity key")
        _text(self.name, "entity name")
        if self.type is not None:
            _text(self.type, "entity type")

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "type": self.type}


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a relation was read: a sentence of a document, at ``start:end`` (character
    offsets into the document's text)."""

    document_id: str
    source_path: str
    sentence: str
    start: int
    end: int

    def __post_init__(self) -> None:
        _text(self.document_id, "provenance document id")
        _text(self.source_path, "provenance source path")
        _text(self.sentence, "provenance sentence")
        _offset(self.start, "provenance start")
        _offset(self.end, "provenance end")
        if self.end < self.start:
            raise InvalidGraphData("provenance end must not be before its start")

    def to_json(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "source_path": self.source_path,
            "sentence": self.sentence,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True, slots=True)
class Relation:
    """A typed, weighted edge ``subject predicate object`` between two entities' keys.

    A generation holds one relation per ``(subject, predicate, object)``; staging it again
    replaces its weight, method, confidence and provenance (so a replayed stage changes
    nothing). Both endpoints must be entities of the generation, staged before or in the
    same call. ``weight`` is at least 0 (a co-occurrence count, or 1 for a statement),
    ``confidence`` is between 0 and 1, ``method`` names how it was found.
    """

    subject: str
    predicate: str
    object: str
    weight: float = 1.0
    method: str = ""
    confidence: float = 1.0
    provenance: tuple[Provenance, ...] = field(default=())

    def __post_init__(self) -> None:
        _key(self.subject, "relation subject")
        _text(self.predicate, "relation predicate", empty=False)
        _key(self.object, "relation object")
        _text(self.method, "relation method")
        # Integers are accepted and kept as floats, so what is read back compares equal.
        object.__setattr__(self, "weight", _number(self.weight, "relation weight", low=0.0))
        object.__setattr__(
            self, "confidence", _number(self.confidence, "relation confidence", low=0.0, high=1.0)
        )
        if not isinstance(self.provenance, tuple) or not all(
            isinstance(item, Provenance) for item in self.provenance
        ):
            raise InvalidGraphData("relation provenance must be a tuple of Provenance")

    @property
    def triple(self) -> tuple[str, str, str]:
        """``(subject, predicate, object)``: what identifies the relation in a generation."""
        return (self.subject, self.predicate, self.object)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "predicate": self.predicate,
            "object": self.object,
            "weight": self.weight,
            "method": self.method,
            "confidence": self.confidence,
            "provenance": [item.to_json() for item in self.provenance],
        }


class GenerationState(enum.StrEnum):
    """Where a generation is in its life."""

    STAGED = "staged"
    """Written (perhaps partly), never made current: invisible to readers of the project."""
    CURRENT = "current"
    """What readers of the project see."""
    RETIRED = "retired"
    """Was current, is no longer; kept until pruned, so a flip back can return to it."""
    DISCARDING = "discarding"
    """A discard began and was cut off; discarding it again finishes the job."""


@dataclass(frozen=True, slots=True)
class GenerationInfo:
    """One generation of a project: its id, state, and ``sequence`` (the order in which
    the project's generations were first staged, from 1)."""

    generation: str
    state: GenerationState
    sequence: int

    def to_json(self) -> dict[str, Any]:
        return {"generation": self.generation, "state": self.state.value, "sequence": self.sequence}


@dataclass(frozen=True, slots=True)
class GraphSummary:
    """Counts of one generation and its strongest relations.

    ``generation`` is ``None`` when the project has no current generation (then every
    count is 0). ``predicates`` counts relations by predicate; ``strongest`` are the
    heaviest relations, by weight, then confidence, then triple.
    """

    generation: str | None
    entities: int
    relations: int
    predicates: dict[str, int]
    strongest: tuple[Relation, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "entities": self.entities,
            "relations": self.relations,
            "predicates": dict(sorted(self.predicates.items())),
            "strongest": [relation.to_json() for relation in self.strongest],
        }


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """An entity, the relations that start or end at it, and the entities at their other
    ends (sorted by key)."""

    entity: Entity
    relations: tuple[Relation, ...]
    neighbours: tuple[Entity, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "entity": self.entity.to_json(),
            "relations": [relation.to_json() for relation in self.relations],
            "neighbours": [entity.to_json() for entity in self.neighbours],
        }
