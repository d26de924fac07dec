"""``related_to``: entities that share sentences more often than chance would have it.

Over the ``N`` sentences read, with ``c(x)`` the sentences naming ``x`` and ``c(x, y)``
those naming both, a pair's pointwise mutual information is
``PMI = ln(c(x, y) · N / (c(x) · c(y)))``. A pair becomes a ``related_to`` triple when
``c(x, y) >= min_cooccurrence``, ``PMI >= min_pmi``, no typed triple links the two (in
either direction), and each is among the other's ``top_k`` strongest partners (by PMI,
then count, then key), so no entity gets more than ``top_k`` such edges. Its confidence
is the normalised PMI, ``PMI / -ln(c(x, y) / N)``, clipped to ``[0.01, 1]``; its
provenance is the first sentence (by document, then offset) that names both; subject and
object are in key order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

from wikisaga.content.relations._records import ExtractionOptions, Predicate, Triple

__all__ = ["SentenceKeys", "related"]


@dataclass(frozen=True, slots=True)
class SentenceKeys:
    """The entity keys one sentence names, with the sentence's provenance."""

    keys: frozenset[str]
    doc_id: str
    source_path: str
    sentence: str
    start: int
    end: int


def _scored(
    sentences: Sequence[SentenceKeys], options: ExtractionOptions, linked: set[frozenset[str]]
) -> dict[tuple[str, str], tuple[float, int]]:
    total = len(sentences)
    single: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for item in sentences:
        single.update(item.keys)
        pairs.update(combinations(sorted(item.keys), 2))
    scored: dict[tuple[str, str], tuple[float, int]] = {}
    for (x, y), count in pairs.items():
        if count < options.min_cooccurrence or frozenset((x, y)) in linked:
            continue
        pmi = math.log(count * total / (single[x] * single[y]))
        if pmi >= options.min_pmi:
            scored[(x, y)] = (pmi, count)
    return scored


def _top(scored: dict[tuple[str, str], tuple[float, int]], top_k: int) -> set[tuple[str, str]]:
    """Pairs among the ``top_k`` of both their entities."""
    partners: dict[str, list[tuple[float, int, str, tuple[str, str]]]] = {}
    for pair, (pmi, count) in scored.items():
        x, y = pair
        partners.setdefault(x, []).append((-pmi, -count, y, pair))
        partners.setdefault(y, []).append((-pmi, -count, x, pair))
    best: dict[str, set[tuple[str, str]]] = {
        key: {pair for *_, pair in sorted(ranked)[:top_k]} for key, ranked in partners.items()
    }
    return {pair for pair in scored if pair in best[pair[0]] and pair in best[pair[1]]}


def related(
    sentences: Iterable[SentenceKeys],
    typed: Iterable[Triple],
    options: ExtractionOptions,
) -> list[Triple]:
    """The ``related_to`` triples of a corpus, given its typed triples; sorted."""
    ordered = sorted(sentences, key=lambda s: (s.doc_id, s.start, s.end))
    if not ordered:
        return []
    linked = {frozenset((t.subject, t.object)) for t in typed}
    scored = _scored(ordered, options, linked)
    kept = _top(scored, options.top_k)
    first: dict[tuple[str, str], SentenceKeys] = {}
    for item in ordered:
        for pair in combinations(sorted(item.keys), 2):
            if pair in kept and pair not in first:
                first[pair] = item
    total = len(ordered)
    triples: list[Triple] = []
    for pair in sorted(kept):
        pmi, count = scored[pair]
        joint = count / total
        npmi = 1.0 if joint >= 1.0 else pmi / -math.log(joint)
        where = first[pair]
        triples.append(
            Triple(
                subject=pair[0],
                predicate=Predicate.RELATED_TO,
                object=pair[1],
                doc_id=where.doc_id,
                source_path=where.source_path,
                sentence=where.sentence,
                start=where.start,
                end=where.end,
                method="cooccurrence",
                confidence=round(min(1.0, max(0.01, npmi)), 3),
            )
        )
    return sorted(triples, key=Triple.sort_key)
