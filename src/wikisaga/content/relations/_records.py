"""The records of relation extraction: what goes in (documents of prose, their sentences)
and what comes out (entities and typed triples with provenance), all frozen."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXTRACTOR_VERSION",
    "PREDICATE_WORDS",
    "TYPED_PREDICATES",
    "Entity",
    "EntityKind",
    "Extraction",
    "ExtractionOptions",
    "Predicate",
    "ProseDocument",
    "Sentence",
    "Triple",
]


EXTRACTOR_VERSION = "wikisaga-relations/9"
"""Changes whenever the same prose gives other entities or triples: relations kept from
an earlier extraction (a wiki's per-document relations) are reused only when it matches."""


class Predicate(enum.StrEnum):
    """The relation vocabulary (DESIGN §11). Every typed triple reads ``subject predicate
    object``: ``fastapi uses starlette``, ``tqdm is_a progress bar``."""

    IS_A = "is_a"
    """The subject is an instance or kind of the object (``X is a Y``, ``Ys such as X``)."""
    USES = "uses"
    """The subject uses, wraps or is powered by the object."""
    DEPENDS_ON = "depends_on"
    """The subject requires, relies on or is built on top of the object."""
    PART_OF = "part_of"
    """The subject is a part, component or module of the object."""
    PROVIDES = "provides"
    """The subject provides, offers, exposes or comes with the object."""
    ALTERNATIVE_TO = "alternative_to"
    """The subject is an alternative to, or a replacement for, the object."""
    EXTENDS = "extends"
    """The subject extends, is based on, a fork of, or a plugin for the object."""
    IMPLEMENTS = "implements"
    """The subject implements the object (a protocol, an interface, a specification)."""
    SUPPORTS = "supports"
    """The subject supports, works with or is compatible with the object."""
    WRITTEN_IN = "written_in"
    """The subject is written (implemented) in the object, a language."""
    CREATED_BY = "created_by"
    """The subject was created, developed, written or maintained by the object."""
    RELATED_TO = "related_to"
    """Subject and object occur together in sentences more than chance would have it
    (weighted co-occurrence); never given to a pair that a typed relation links."""


TYPED_PREDICATES = frozenset(p for p in Predicate if p is not Predicate.RELATED_TO)
"""Every predicate that comes from an explicit statement rather than co-occurrence."""

PREDICATE_WORDS: dict[str, str] = {
    Predicate.IS_A: "is a",
    Predicate.USES: "uses",
    Predicate.DEPENDS_ON: "depends on",
    Predicate.PART_OF: "is part of",
    Predicate.PROVIDES: "provides",
    Predicate.ALTERNATIVE_TO: "is an alternative to",
    Predicate.EXTENDS: "extends",
    Predicate.IMPLEMENTS: "implements",
    Predicate.SUPPORTS: "supports",
    Predicate.WRITTEN_IN: "is written in",
    Predicate.CREATED_BY: "is made or maintained by",
    Predicate.RELATED_TO: "is related to",
}
"""How each predicate reads between a subject and an object, for people (``created_by``
covers "created", "written", "developed" and "maintained by" alike, so it claims no
more). Keyed by the predicates, which are their own strings: ``PREDICATE_WORDS["is_a"]``."""


class EntityKind(enum.StrEnum):
    """How a mention was recognised."""

    NAME = "name"
    """A proper noun or capitalised phrase (``Pydantic``, ``Neo4j``, ``HTTP``)."""
    CODE = "code"
    """A code identifier: backticked, ``snake_case``, ``CamelCase``, dotted ``a.b.c``."""
    PHRASE = "phrase"
    """A noun phrase of common words (``progress bar``, ``http library``)."""


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of a document: ``document_text[start:end] == text``."""

    start: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class ProseDocument:
    """A document's prose, as the extractor takes it.

    ``text`` is the document's text with everything that is not prose (code, URLs, markup)
    already blanked out, keeping offsets: :func:`~wikisaga.content.relations.strip_markup`
    does that for Markdown, reStructuredText and HTML. ``sentences`` are spans of ``text``;
    when empty, the extractor splits ``text`` itself. ``topic`` is the name that "this
    library", "this package" or a sentence-initial "it" stand for (the document's subject,
    e.g. the project it describes); without it, such sentences give no triple.
    """

    doc_id: str
    source_path: str
    text: str
    sentences: tuple[Sentence, ...] = ()
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class ExtractionOptions:
    """Knobs of the extractor; the defaults are the ones the benchmark measures."""

    min_confidence: float = 0.5
    """Typed triples below this confidence are dropped (hedged statements fall below)."""
    cooccurrence: bool = True
    """Whether to compute ``related_to`` triples at all."""
    min_cooccurrence: int = 2
    """A pair must share at least this many sentences to be ``related_to``."""
    min_pmi: float = 1.0
    """... and its pointwise mutual information (natural log) must be at least this."""
    top_k: int = 5
    """... and it must be among the ``top_k`` strongest pairs of one of its entities."""
    max_sentence_chars: int = 1000
    """Longer "sentences" (tables, lists run together) are not read."""


@dataclass(frozen=True, slots=True)
class Triple:
    """One relation, with where it was found.

    ``subject`` and ``object`` are entity keys (see :func:`normalise_key`); ``start`` and
    ``end`` are the sentence's offsets in the document's text; ``method`` names the pattern
    (or ``cooccurrence``); ``confidence`` is in ``(0, 1]``.
    """

    subject: str
    predicate: Predicate
    object: str
    doc_id: str
    source_path: str
    sentence: str
    start: int
    end: int
    method: str
    confidence: float

    def sort_key(self) -> tuple[str, int, int, str, str, str, str]:
        """The order of an extraction's triples: by document, position, then content."""
        return (
            self.doc_id,
            self.start,
            self.end,
            self.subject,
            self.predicate.value,
            self.object,
            self.method,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "predicate": self.predicate.value,
            "object": self.object,
            "doc_id": self.doc_id,
            "source": self.source_path,
            "sentence": self.sentence,
            "start": self.start,
            "end": self.end,
            "method": self.method,
            "confidence": self.confidence,
        }


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity merged over every document: one ``key``, the most frequent surface form
    as ``name``, a ``type`` where a sentence stated one (``X is a library`` → ``library``)."""

    key: str
    name: str
    kind: EntityKind
    type: str | None
    mentions: int
    aliases: tuple[str, ...] = ()
    """Every surface form seen, sorted."""
    doc_ids: tuple[str, ...] = ()
    """Every document that mentions it, sorted."""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "kind": self.kind.value,
            "type": self.type,
            "mentions": self.mentions,
            "aliases": list(self.aliases),
            "doc_ids": list(self.doc_ids),
        }


@dataclass(frozen=True, slots=True)
class Extraction:
    """What the extractor found in a corpus: entities sorted by key, triples by position."""

    entities: tuple[Entity, ...] = ()
    triples: tuple[Triple, ...] = field(default=())

    def typed(self) -> tuple[Triple, ...]:
        """The triples from explicit statements (everything but ``related_to``)."""
        return tuple(t for t in self.triples if t.predicate is not Predicate.RELATED_TO)

    def to_json(self) -> dict[str, Any]:
        return {
            "entities": [entity.to_json() for entity in self.entities],
            "triples": [triple.to_json() for triple in self.triples],
        }
