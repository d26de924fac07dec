"""Documents grouped into topics: TF-IDF term vectors and shared entities, clustered by a
fixed-seed spherical k-means.

A document's vector holds its terms weighted ``(1 + ln tf) · idf`` and the entities it
mentions (features ``@<key>``, weighted the same way from mention counts), cut to its
:data:`MAX_FEATURES` strongest features and scaled to length one. The number of topics
grows with the square root of the corpus (:func:`topic_count`). Centres start from
documents picked in the order of a hash of their ids salted with :data:`SEED`, skipping
any too similar to one picked already (a choice one changed document barely moves,
unlike a k-means++ draw, whose every pick depends on every document); each round assigns
every document to its most similar centre (ties: the lower centre), and stops when no
assignment changes or after :data:`MAX_ROUNDS`. A topic left with one document gives it
to the next most similar topic. Everything is iterated in sorted order and similarities
are rounded before they are compared, so the same corpus always gives the same topics.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["SEED", "Topic", "cluster", "document_vectors", "topic_count"]

SEED = 11
SEED_SIMILARITY = 0.5
MAX_FEATURES = 24
MAX_CENTRE_FEATURES = 32
MAX_ROUNDS = 8
MIN_DOCUMENTS = 4
MAX_TOPICS = 24

Vector = dict[str, float]


@dataclass(frozen=True, slots=True)
class Topic:
    """One group of documents: members (indices into the corpus) by closeness to the
    centre, and the centre's strongest features."""

    members: tuple[int, ...]
    features: tuple[tuple[str, float], ...]
    centre: tuple[tuple[str, float], ...]


def topic_count(documents: int) -> int:
    """How many topics a corpus of ``documents`` is cut into: none below
    :data:`MIN_DOCUMENTS`, else about the square root of half of them (at least two)."""
    if documents < MIN_DOCUMENTS:
        return 0
    return max(2, min(MAX_TOPICS, round(math.sqrt(documents / 2))))


def _normalised(weights: Mapping[str, float], limit: int) -> Vector:
    top = sorted(weights.items(), key=lambda item: (-item[1], item[0]))[:limit]
    norm = math.sqrt(sum(w * w for _, w in top))
    if not norm:
        return {}
    return {feature: weight / norm for feature, weight in top}


def document_vectors(counts: Sequence[Mapping[str, int]]) -> tuple[list[Vector], Vector]:
    """The TF-IDF vector of each document from its feature counts (terms, ``@`` entities),
    and the inverse document frequency of every feature."""
    total = len(counts)
    frequency: Counter[str] = Counter()
    for counted in counts:
        frequency.update(counted.keys())
    idf = {f: math.log((1 + total) / (1 + n)) + 1.0 for f, n in frequency.items()}
    vectors = [
        _normalised(
            {f: (1.0 + math.log(n)) * idf[f] for f, n in counted.items() if n > 0},
            MAX_FEATURES,
        )
        for counted in counts
    ]
    return vectors, idf


def _similarity(vector: Vector, centre: Vector) -> float:
    return round(sum(weight * centre.get(feature, 0.0) for feature, weight in vector.items()), 9)


def _centre(members: Sequence[int], vectors: Sequence[Vector]) -> Vector:
    summed: dict[str, float] = {}
    for index in members:
        for feature, weight in vectors[index].items():
            summed[feature] = summed.get(feature, 0.0) + weight
    return _normalised(summed, MAX_CENTRE_FEATURES)


class _Postings:
    """For each feature, the documents that have it and their weight: scoring a centre
    against every document touches only the documents sharing a feature with it."""

    def __init__(self, vectors: Sequence[Vector]) -> None:
        self.count = len(vectors)
        self.lists: dict[str, list[tuple[int, float]]] = {}
        for index, vector in enumerate(vectors):
            for feature, weight in vector.items():
                self.lists.setdefault(feature, []).append((index, weight))

    def scores(self, centre: Vector) -> list[float]:
        """The similarity of every document to ``centre``, summed in feature order (so
        the same vectors always give the same floating-point sums)."""
        summed = [0.0] * self.count
        lists = self.lists
        for feature, centre_weight in sorted(centre.items()):
            for index, weight in lists.get(feature, ()):
                summed[index] += weight * centre_weight
        return summed


def _initial(
    vectors: Sequence[Vector], keys: Sequence[str], postings: _Postings, k: int
) -> list[Vector]:
    """The first centres: documents taken in the order of a salted hash of their keys,
    each kept when it is not too similar to one kept already, then (if fewer than ``k``)
    the next ones in that order. A changed document moves only its own place in this,
    so the centres, and with them the topics, stay where they were."""
    order = sorted(
        range(len(vectors)),
        key=lambda i: (hashlib.sha256(f"{SEED}\0{keys[i]}".encode()).hexdigest(), i),
    )
    chosen: list[int] = []
    closest = [0.0] * len(vectors)
    for index in order:
        if len(chosen) == k:
            break
        if closest[index] >= SEED_SIMILARITY or not vectors[index]:
            continue
        chosen.append(index)
        closest = [max(c, v) for c, v in zip(closest, postings.scores(vectors[index]), strict=True)]
    for index in order:
        if len(chosen) == k:
            break
        if index not in chosen and vectors[index]:
            chosen.append(index)
    return [dict(vectors[index]) for index in chosen]


def _assign(postings: _Postings, centres: Sequence[Vector]) -> list[int]:
    """Each document's most similar centre (ties: the lower centre)."""
    best = [0] * postings.count
    top = [-1.0] * postings.count
    for number, centre in enumerate(centres):
        for index, value in enumerate(postings.scores(centre)):
            if value > top[index]:
                top[index], best[index] = value, number
    return best


def _groups(assignment: Sequence[int], k: int) -> list[list[int]]:
    groups: list[list[int]] = [[] for _ in range(k)]
    for index, number in enumerate(assignment):
        groups[number].append(index)
    return groups


def cluster(vectors: Sequence[Vector], keys: Sequence[str], k: int) -> list[Topic]:
    """``k`` topics (fewer when the documents do not support them) over ``vectors`` of the
    documents ``keys`` (their ids, in a fixed order); largest topic first."""
    if k < 2 or len(vectors) < 2:
        return []
    postings = _Postings(vectors)
    centres = _initial(vectors, keys, postings, k)
    if len(centres) < 2:
        return []
    assignment = _assign(postings, centres)
    for _ in range(MAX_ROUNDS):
        groups = [g for g in _groups(assignment, len(centres)) if g]
        centres = [_centre(group, vectors) for group in groups]
        again = _assign(postings, centres)
        if again == assignment:
            break
        assignment = again
    groups = [g for g in _groups(assignment, len(centres)) if g]
    centres = [_centre(group, vectors) for group in groups]
    # A topic of one document is that document's own page: give it to its next topic.
    while len(groups) > 1 and min(len(g) for g in groups) < 2:
        lonely = min(range(len(groups)), key=lambda n: (len(groups[n]), n))
        (index,) = groups[lonely]
        others = [n for n in range(len(groups)) if n != lonely]
        target = max(others, key=lambda n: (_similarity(vectors[index], centres[n]), -n))
        groups[target].append(index)
        del groups[lonely]
        del centres[lonely]
        centres[target - (1 if target > lonely else 0)] = _centre(
            groups[target - (1 if target > lonely else 0)], vectors
        )
    if len(groups) < 2:
        return []
    topics = []
    for group, centre in zip(groups, centres, strict=True):
        ranked = sorted(group, key=lambda i: (-_similarity(vectors[i], centre), i))
        features = sorted(centre.items(), key=lambda item: (-item[1], item[0]))
        topics.append(
            Topic(
                members=tuple(ranked),
                features=tuple((f, round(w, 6)) for f, w in features[:12]),
                centre=tuple(sorted(centre.items())),
            )
        )
    topics.sort(key=lambda t: (-len(t.members), min(t.members)))
    return topics
