"""The corpus as the planner sees it: documents with their slugs and citations, relations
aggregated into edges, entities ranked by how connected they are, topics.

Everything here is computed from the analyses and the merged graph alone, in sorted
order, with explicit tie-breaks, so the plan built on it is deterministic.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from wikisaga.content.generator._analysis import DocumentAnalysis, ProseSentence
from wikisaga.content.generator._model import Citation, SourceRef, Statement
from wikisaga.content.generator._relations import DocumentRelations, Graph
from wikisaga.content.generator._text import STOPWORDS, slugify, terms, unique_slugs, words
from wikisaga.content.generator._topics import Topic, cluster, document_vectors, topic_count
from wikisaga.content.relations import (
    PREDICATE_WORDS,
    Entity,
    EntityKind,
    Predicate,
    Triple,
    identity_key,
    is_common_word,
)

__all__ = ["PREDICATE_WORDS", "Corpus", "Edge"]


_SEPARATORS = re.compile(r"[\s._-]+")
MAX_ENTITY_NAME_CHARS = 48
MAX_ENTITY_NAME_WORDS = 5


@dataclass(frozen=True, slots=True)
class Edge:
    """Every triple of one ``(subject, predicate, object)``: how many sentences state it,
    the best confidence, and the triple to cite (from the document named after the
    subject, then the most confident, then the first in order)."""

    subject: str
    predicate: Predicate
    object: str
    support: int
    confidence: float
    cited: Triple
    typed: bool
    """From an explicit statement (not ``related_to``)."""
    strength: float
    """``confidence · (1 + ln support)``, halved for ``related_to``."""


def _presentable(entity: Entity) -> bool:
    """Whether an entity's name reads as a name: a few words, a letter, not a stopword."""
    name = entity.name
    counted = len(words(name))
    return (
        0 < counted <= MAX_ENTITY_NAME_WORDS
        and len(name) <= MAX_ENTITY_NAME_CHARS
        and any(c.isalpha() for c in name)
        and entity.key not in STOPWORDS
    )


class Corpus:
    """The planner's view of a corpus (see the module docstring)."""

    def __init__(
        self,
        analyses: Sequence[DocumentAnalysis],
        relations: Sequence[DocumentRelations],
        graph: Graph,
    ) -> None:
        self.analyses = sorted(analyses, key=lambda a: a.doc_id)
        self.by_id = {a.doc_id: a for a in self.analyses}
        self.graph = graph
        self.entities = {e.key: e for e in graph.entities}
        self._stripped: dict[str, list[str]] = {}
        for key in sorted(self.entities):
            self._stripped.setdefault(_SEPARATORS.sub("", key), []).append(key)
        self.source_paths = self._source_paths()
        self._prose_at = {
            a.doc_id: {sentence.start: sentence for sentence in a.prose} for a in self.analyses
        }
        self._passage_starts = {a.doc_id: [p.start for p in a.passages] for a in self.analyses}
        self.titled = self._titled()
        self.edges = self._edges()
        self.edges_of: dict[str, list[Edge]] = {}
        self.edges_cited_in: dict[str, list[Edge]] = {}
        for edge in self.edges:
            self.edges_of.setdefault(edge.subject, []).append(edge)
            self.edges_of.setdefault(edge.object, []).append(edge)
            self.edges_cited_in.setdefault(edge.cited.doc_id, []).append(edge)
        self.neighbours = self._neighbours()
        self.mentioned_in = self._mentioned_in()
        self.entity_rank = self._entity_rank()
        self.entity_rank_set = frozenset(self.entity_rank)
        self.vectors, self.idf = self._vectors(relations)
        self.centre = self._corpus_centre()
        self.importance = self._document_importance()
        self.topics: list[Topic] = cluster(
            self.vectors, [a.doc_id for a in self.analyses], topic_count(len(self.analyses))
        )

    # -- documents and citations ---------------------------------------------------------

    def _source_paths(self) -> dict[str, str]:
        wanted = []
        for analysis in self.analyses:
            stem = analysis.source_path.rsplit(".", 1)[0] if "." in analysis.source_path else ""
            wanted.append((analysis.doc_id, slugify(stem or analysis.source_path, fallback="doc")))
        return {doc_id: f"sources/{slug}.md" for doc_id, slug in unique_slugs(wanted).items()}

    def source_ref(self, doc_id: str) -> SourceRef:
        analysis = self.by_id[doc_id]
        return SourceRef(doc_id, analysis.source_path, analysis.content_hash)

    def citation(self, doc_id: str, passage: int) -> Citation:
        return Citation(
            doc_id=doc_id,
            title=self.by_id[doc_id].title,
            passage=passage,
            target=f"{self.source_paths[doc_id]}#p-{passage}",
        )

    def statement(self, doc_id: str, sentence: ProseSentence) -> Statement:
        return Statement(sentence.text, self.citation(doc_id, sentence.passage))

    def passage_at(self, doc_id: str, offset: int) -> int:
        """The number of the passage holding ``offset`` (the last starting before it)."""
        analysis = self.by_id[doc_id]
        index = bisect.bisect_right(self._passage_starts[doc_id], offset) - 1
        return analysis.passages[max(0, index)].number

    def triple_citation(self, triple: Triple) -> Citation:
        return self.citation(triple.doc_id, self.passage_at(triple.doc_id, triple.start))

    def triple_statement(self, triple: Triple) -> Statement | None:
        """The triple's sentence as a quotable statement, when it is one."""
        sentence = self._prose_at.get(triple.doc_id, {}).get(triple.start)
        if sentence is None or sentence.end != triple.end:
            return None
        return self.statement(triple.doc_id, sentence)

    def _titled(self) -> frozenset[str]:
        """The entities some document is named after: "setuptools", "pip" or "build" are
        written in lower case like any common word, but a document titled so is about
        them, and that makes them names."""
        keys = {a.title_key for a in self.analyses if a.title_key}
        return frozenset(key for key in self.entities if identity_key(key) in keys)

    def _mentioned_in(self) -> dict[str, frozenset[str]]:
        """The documents that mention each named entity: where extraction saw it, and for
        one written in lower case that a document is named after and that is no English
        word ("pip", not "build"), every document with the word: extraction sees a
        lower-case name only in its relations."""
        wanted: dict[str, list[str]] = {}
        for key in sorted(self.titled):
            found = list(terms(self.entities[key].name))
            if len(found) == 1 and not is_common_word(found[0]):
                wanted.setdefault(found[0], []).append(key)
        extra: dict[str, set[str]] = {}
        for analysis in self.analyses:
            for term, _ in analysis.term_counts:
                for key in wanted.get(term, ()):
                    extra.setdefault(key, set()).add(analysis.doc_id)
        return {
            key: frozenset(d for d in (*entity.doc_ids, *extra.get(key, ())) if d in self.by_id)
            for key, entity in self.entities.items()
        }

    # -- relations -----------------------------------------------------------------------

    def _edges(self) -> list[Edge]:
        grouped: dict[tuple[str, str, str], list[Triple]] = {}
        for triple in self.graph.triples:
            if triple.doc_id not in self.by_id or not self.by_id[triple.doc_id].passages:
                continue
            key = (triple.subject, str(triple.predicate), triple.object)
            grouped.setdefault(key, []).append(triple)
        about = {a.doc_id: a.title_key for a in self.analyses}

        def citable(t: Triple) -> tuple[bool, float, str, int, str]:
            # The document about the subject says it first: "setuptools is a build
            # backend for Python projects" in setuptools.md before PEP 517's list.
            own = about.get(t.doc_id) == identity_key(t.subject)
            return (not own, -t.confidence, t.source_path, t.start, t.doc_id)

        edges = []
        for (subject, _, obj), triples in sorted(grouped.items()):
            cited = min(triples, key=citable)
            predicate = triples[0].predicate
            support = len({(t.doc_id, t.start) for t in triples})
            confidence = max(t.confidence for t in triples)
            typed = predicate is not Predicate.RELATED_TO
            weight = 1.0 if typed else 0.5
            edges.append(
                Edge(
                    subject=subject,
                    predicate=predicate,
                    object=obj,
                    support=support,
                    confidence=confidence,
                    cited=cited,
                    typed=typed,
                    strength=round(weight * confidence * (1.0 + math.log(support)), 6),
                )
            )
        return edges

    def _neighbours(self) -> dict[str, dict[str, float]]:
        found: dict[str, dict[str, float]] = {}
        for edge in self.edges:
            weight = edge.strength
            for a, b in ((edge.subject, edge.object), (edge.object, edge.subject)):
                row = found.setdefault(a, {})
                row[b] = max(row.get(b, 0.0), weight)
        return found

    def _entity_rank(self) -> list[str]:
        """Entities worth a page, most connected first: names and code identifiers with an
        edge (and what a document is named after), and noun phrases of more than one word
        that at least three names are said to be (``web framework``: a page listing the
        frameworks; not a generic ``tool``)."""
        kinds_of: Counter[str] = Counter()
        for edge in self.edges:
            if edge.predicate is Predicate.IS_A:
                kinds_of[edge.object] += 1
        scored = []
        for key, row in self.neighbours.items():
            entity = self.entities.get(key)
            if entity is None or not _presentable(entity):
                continue
            if not self.named(key) and (kinds_of[key] < 3 or len(words(entity.name)) < 2):
                continue
            degree = sum(min(1.0, w) for w in row.values())
            score = (
                degree + 0.1 * math.log1p(entity.mentions) + 0.2 * math.log1p(len(entity.doc_ids))
            )
            scored.append((-round(score, 6), key))
        return [key for _, key in sorted(scored)]

    def named(self, key: str) -> bool:
        """Whether an entity is a name or a code identifier (not a common noun phrase), or
        what a document is named after."""
        entity = self.entities.get(key)
        return (
            entity is not None
            and (entity.kind is not EntityKind.PHRASE or key in self.titled)
            and _presentable(entity)
        )

    def meaningful(self, edge: Edge) -> bool:
        """Whether an edge says something worth a row of its own: a typed relation between
        two named entities, or a name said to be a kind of thing of more than one word
        (``web framework``, not ``library``)."""
        if not edge.typed or not self.named(edge.subject):
            return False
        if self.named(edge.object):
            return True
        entity = self.entities.get(edge.object)
        return (
            edge.predicate is Predicate.IS_A
            and entity is not None
            and _presentable(entity)
            and len(words(entity.name)) > 1
        )

    def entity_score(self, key: str) -> float:
        row = self.neighbours.get(key, {})
        return round(sum(min(1.0, w) for w in row.values()), 6)

    # -- term vectors and topics ---------------------------------------------------------

    def _vectors(
        self, relations: Sequence[DocumentRelations]
    ) -> tuple[list[dict[str, float]], dict[str, float]]:
        mentioned: dict[str, Counter[str]] = {}
        for document in relations:
            counted: Counter[str] = Counter()
            for entity in document.entities:
                if entity.kind is not EntityKind.PHRASE:
                    counted["@" + _SEPARATORS.sub("", entity.key)] += entity.mentions
            mentioned[document.doc_id] = counted
        counts = []
        for analysis in self.analyses:
            counted = Counter(dict(analysis.term_counts))
            counted.update(mentioned.get(analysis.doc_id, Counter()))
            counts.append(counted)
        return document_vectors(counts)

    def _corpus_centre(self) -> dict[str, float]:
        summed: dict[str, float] = {}
        for vector in self.vectors:
            for feature, weight in vector.items():
                summed[feature] = summed.get(feature, 0.0) + weight
        norm = math.sqrt(sum(w * w for w in summed.values()))
        return {f: w / norm for f, w in summed.items()} if norm else {}

    def similarity(self, terms: Sequence[str], centre: dict[str, float]) -> float:
        """Cosine between a sentence's terms (weighted by idf) and a centre."""
        weights = [(t, self.idf.get(t, 1.0)) for t in terms]
        norm = math.sqrt(sum(w * w for _, w in weights))
        if not norm:
            return 0.0
        return round(sum(w * centre.get(t, 0.0) for t, w in weights) / norm, 9)

    def _document_importance(self) -> dict[str, float]:
        """Each document's cosine with the corpus's centre: how central it is. Not scaled
        to the most central one, so that one document's change moves the others little."""
        return {
            a.doc_id: round(max(0.0, sum(w * self.centre.get(f, 0.0) for f, w in v.items())), 6)
            for a, v in zip(self.analyses, self.vectors, strict=True)
        }

    def feature_label(self, feature: str) -> str:
        """How a topic feature reads: an entity's name, or the term itself."""
        stripped = feature.removeprefix("@")
        for key in self._stripped.get(stripped, []):
            if feature.startswith("@") or self.named(key):
                return self.entities[key].name
        return stripped
