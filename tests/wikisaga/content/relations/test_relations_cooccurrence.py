"""related_to: pairs that share sentences more than chance would have it, above a count
and a PMI, at most top_k per entity, never for a pair a typed relation links."""

from __future__ import annotations

import math

from wikisaga.content.relations import (
    ExtractionOptions,
    Predicate,
    ProseDocument,
    extract_relations,
)

FILLER = [f"Zeta{i} appears alone here." for i in range(8)]


def _related(sentences: list[str], **options: object) -> dict[tuple[str, str], float]:
    document = ProseDocument("d", "d.md", " ".join(sentences))
    extraction = extract_relations([document], ExtractionOptions(**options))  # type: ignore[arg-type]
    return {
        (t.subject, t.object): t.confidence
        for t in extraction.triples
        if t.predicate is Predicate.RELATED_TO
    }


def test_a_pair_seen_together_often_enough_is_related() -> None:
    related = _related(["Alpha and Beta appear.", "Alpha and Beta appear again.", *FILLER])
    assert set(related) == {("alpha", "beta")}
    # both in 2 of 10 sentences, always together: PMI = ln(2·10 / (2·2)) = ln 5
    assert related[("alpha", "beta")] == round(math.log(5) / -math.log(2 / 10), 3)


def test_a_pair_seen_together_once_is_not_related_by_default() -> None:
    assert _related(["Alpha and Beta appear.", *FILLER]) == {}
    assert set(_related(["Alpha and Beta appear.", *FILLER], min_cooccurrence=1)) == {
        ("alpha", "beta")
    }


def test_a_pair_under_the_pmi_threshold_is_not_related() -> None:
    # Alpha is everywhere: sharing sentences with it says little
    sentences = ["Alpha and Beta appear.", "Alpha and Beta appear again.", "Alpha is here."] * 3
    assert _related(sentences) == {}
    assert set(_related(sentences, min_pmi=0.0)) == {("alpha", "beta")}


def test_a_typed_relation_excludes_related_to_for_its_pair() -> None:
    related = _related(["Alpha uses Beta.", "Alpha and Beta appear again.", *FILLER])
    assert related == {}


def test_each_entity_keeps_only_its_top_k_partners() -> None:
    sentences = [
        "Hub and Alpha appear.", "Hub and Alpha appear again.",
        "Hub and Beta appear.", "Hub and Beta appear again.", "Beta is here too.",
        *FILLER,
    ]  # fmt: skip
    # PMI(hub, alpha) = ln(2·13 / (4·2)) ≈ 1.18; PMI(hub, beta) = ln(2·13 / (4·3)) ≈ 0.77
    assert set(_related(sentences, top_k=2, min_pmi=0.5)) == {("alpha", "hub"), ("beta", "hub")}
    assert set(_related(sentences, top_k=1, min_pmi=0.5)) == {("alpha", "hub")}


def test_cooccurrence_can_be_turned_off() -> None:
    sentences = ["Alpha and Beta appear.", "Alpha and Beta appear again.", *FILLER]
    assert _related(sentences, cooccurrence=False) == {}


def test_a_related_to_triple_cites_the_first_sentence_naming_both() -> None:
    text = "Zeta1 is alone. Alpha and Beta appear. Alpha and Beta appear again. " + " ".join(FILLER)
    document = ProseDocument("d", "d.md", text)
    (triple,) = [t for t in extract_relations([document]).triples if t.method == "cooccurrence"]
    assert text[triple.start : triple.end] == "Alpha and Beta appear."
    assert (triple.subject, triple.object) == ("alpha", "beta")
