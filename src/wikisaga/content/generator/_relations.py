"""Relations per document, kept by fingerprint, and merged over the corpus.

Each document's relations are extracted on their own (:func:`document_relations`:
typed triples, and ``related_to`` from co-occurrence within the document), so a document
that did not change keeps the relations it had: they come back with a generation
(:class:`DocumentRelations`, as JSON too) and are handed in with the next one.
:func:`merge_relations` then makes one graph of them the way the extractor merges a
corpus: keys with one identity (:func:`~wikisaga.content.relations.identity_key`: equal
once each run of separators is one space, so ``pydantic-core`` is ``pydantic_core`` but
``jsonschema`` is not ``json schema``) are one entity (the most mentioned key names it),
the most frequent name and stated type win, and a ``related_to`` pair that a typed triple
links is dropped, and a topic named with what it is ("the requests library", in a corpus
with a document on requests) is the topic (:func:`~wikisaga.content.relations.named_topic`).
The merge depends on nothing but the set of per-document relations and the documents'
topics, so merging cached and fresh ones gives what merging fresh ones would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from wikisaga.content.generator._analysis import DocumentAnalysis, is_table_row
from wikisaga.content.relations import (
    EXTRACTOR_VERSION,
    Entity,
    EntityKind,
    Predicate,
    ProseDocument,
    Triple,
    extract_relations,
    identity_key,
    named_topic,
    plural_keys,
    title_topic,
)

__all__ = ["DocumentRelations", "Graph", "document_relations", "merge_relations"]

_KIND_RANK = {EntityKind.CODE: 0, EntityKind.NAME: 1, EntityKind.PHRASE: 2}


@dataclass(frozen=True, slots=True)
class DocumentRelations:
    """The entities and triples of one document version (its :attr:`fingerprint`), as
    the extraction rules :attr:`extractor` names found them."""

    doc_id: str
    fingerprint: str
    entities: tuple[Entity, ...]
    triples: tuple[Triple, ...]
    extractor: str = EXTRACTOR_VERSION
    """The :data:`~wikisaga.content.relations.EXTRACTOR_VERSION` of the extraction; a
    record of another one (or of none: written before versions were kept) is not reused."""

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "fingerprint": self.fingerprint,
            "extractor": self.extractor,
            "entities": [entity.to_json() for entity in self.entities],
            "triples": [triple.to_json() for triple in self.triples],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DocumentRelations:
        """The relations :meth:`to_json` wrote; raises ``ValueError`` (or ``KeyError``,
        ``TypeError``) for anything else."""
        return cls(
            doc_id=str(data["doc_id"]),
            fingerprint=str(data["fingerprint"]),
            entities=tuple(_entity(item) for item in data["entities"]),
            triples=tuple(_triple(item) for item in data["triples"]),
            extractor=str(data.get("extractor", "")),
        )


def _entity(data: Mapping[str, Any]) -> Entity:
    kind_word = data.get("type")
    return Entity(
        key=str(data["key"]),
        name=str(data["name"]),
        kind=EntityKind(data["kind"]),
        type=None if kind_word is None else str(kind_word),
        mentions=int(data["mentions"]),
        aliases=tuple(str(a) for a in data.get("aliases", ())),
        doc_ids=tuple(str(d) for d in data.get("doc_ids", ())),
    )


def _triple(data: Mapping[str, Any]) -> Triple:
    return Triple(
        subject=str(data["subject"]),
        predicate=Predicate(data["predicate"]),
        object=str(data["object"]),
        doc_id=str(data["doc_id"]),
        source_path=str(data["source"]),
        sentence=str(data["sentence"]),
        start=int(data["start"]),
        end=int(data["end"]),
        method=str(data["method"]),
        confidence=float(data["confidence"]),
    )


def document_relations(analysis: DocumentAnalysis, text: str) -> DocumentRelations:
    """Extract the relations of one document, read as the analysis split it."""
    prose = ProseDocument(
        doc_id=analysis.doc_id,
        source_path=analysis.source_path,
        text=text,
        # The extractor's own reading of markup leaves tables out too.
        sentences=tuple(s for s in analysis.sentences if not is_table_row(s.text)),
        topic=title_topic(analysis.title),
    )
    extraction = extract_relations([prose])
    return DocumentRelations(
        doc_id=analysis.doc_id,
        fingerprint=analysis.fingerprint,
        entities=extraction.entities,
        triples=extraction.triples,
    )


@dataclass(frozen=True, slots=True)
class Graph:
    """The merged relations of a corpus: entities by key, triples in extraction order."""

    entities: tuple[Entity, ...]
    triples: tuple[Triple, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "entities": [entity.to_json() for entity in self.entities],
            "triples": [triple.to_json() for triple in self.triples],
        }


@dataclass(slots=True)
class _Tally:
    names: Counter[str]
    kinds: Counter[EntityKind]
    types: Counter[str]
    aliases: set[str]
    doc_ids: set[str]
    mentions: int = 0


def _canonical(documents: Sequence[DocumentRelations], topics: Collection[str]) -> dict[str, str]:
    mentions: Counter[str] = Counter()
    for document in documents:
        for entity in document.entities:
            mentions[entity.key] += entity.mentions
    groups: dict[str, list[str]] = {}
    for key in sorted(mentions):
        groups.setdefault(identity_key(key), []).append(key)
    canonical: dict[str, str] = {}
    for members in groups.values():
        best = min(members, key=lambda k: (-mentions[k], k))
        for key in members:
            canonical[key] = best
    # A topic named with what it is ("the requests library") is the topic.
    classes = {
        identity_key(t.object)
        for d in documents
        for t in d.triples
        if t.predicate is Predicate.IS_A
    }
    by_identity = {identity_key(key): key for key in sorted(mentions)}
    for key in mentions:
        topic = named_topic(identity_key(key), topics, classes)
        if topic in by_identity:
            canonical[key] = canonical[by_identity[topic]]
    # A plural used as a common noun ("the app and its blueprints") is its singular.
    kinds: dict[str, Counter[EntityKind]] = {}
    names: dict[str, Counter[str]] = {}
    for document in documents:
        for entity in document.entities:
            kinds.setdefault(canonical[entity.key], Counter())[entity.kind] += entity.mentions
            names.setdefault(canonical[entity.key], Counter())[entity.name] += entity.mentions
    plurals = plural_keys(kinds, names)
    return {key: plurals.get(target, target) for key, target in canonical.items()}


def merge_relations(
    documents: Iterable[DocumentRelations], *, topics: Collection[str] = ()
) -> Graph:
    """One graph of every document's relations (see the module docstring); ``topics``
    are the identity keys of what the documents are about (their titles)."""
    ordered = sorted(documents, key=lambda d: d.doc_id)
    canonical = _canonical(ordered, topics)
    tallies: dict[str, _Tally] = {}
    for document in ordered:
        for entity in document.entities:
            key = canonical[entity.key]
            tally = tallies.get(key)
            if tally is None:
                tally = _Tally(Counter(), Counter(), Counter(), set(), set())
                tallies[key] = tally
            tally.names[entity.name] += entity.mentions
            tally.kinds[entity.kind] += entity.mentions
            if entity.type is not None:
                tally.types[entity.type] += 1
            tally.aliases.update(entity.aliases)
            tally.doc_ids.update(entity.doc_ids)
            tally.mentions += entity.mentions
    entities = tuple(
        Entity(
            key=key,
            name=min(t.names, key=lambda n: (-t.names[n], n)),
            kind=min(t.kinds, key=lambda k: (-t.kinds[k], _KIND_RANK[k])),
            type=min(t.types, key=lambda w: (-t.types[w], w)) if t.types else None,
            mentions=t.mentions,
            aliases=tuple(sorted(t.aliases)),
            doc_ids=tuple(sorted(t.doc_ids)),
        )
        for key, t in sorted(tallies.items())
    )
    best: dict[tuple[str, str, str, str, int], Triple] = {}
    for document in ordered:
        for triple in document.triples:
            subject = canonical.get(triple.subject, triple.subject)
            obj = canonical.get(triple.object, triple.object)
            if subject == obj:
                continue
            if triple.predicate is Predicate.RELATED_TO and obj < subject:
                subject, obj = obj, subject
            merged = triple
            if (subject, obj) != (triple.subject, triple.object):
                merged = replace(triple, subject=subject, object=obj)
            identity = (subject, str(merged.predicate), obj, merged.doc_id, merged.start)
            kept = best.get(identity)
            if kept is None or merged.confidence > kept.confidence:
                best[identity] = merged
    linked = {
        frozenset((t.subject, t.object))
        for t in best.values()
        if t.predicate is not Predicate.RELATED_TO
    }
    triples = sorted(
        (
            t
            for t in best.values()
            if t.predicate is not Predicate.RELATED_TO
            or frozenset((t.subject, t.object)) not in linked
        ),
        key=Triple.sort_key,
    )
    return Graph(entities=entities, triples=tuple(triples))
