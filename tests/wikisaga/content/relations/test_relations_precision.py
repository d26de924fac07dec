"""Rules that trade a little recall for precision: each with a sentence it keeps quiet
on and one it still reads."""

from __future__ import annotations

import pytest

from wikisaga.content.relations import ExtractionOptions, ProseDocument, extract_relations

Triple = tuple[str, str, str]


def typed(text: str, *, topic: str | None = None, min_confidence: float = 0.5) -> set[Triple]:
    """The typed triples of one document, as (subject, predicate, object) keys."""
    document = ProseDocument("doc", "doc.md", text, topic=topic)
    options = ExtractionOptions(min_confidence=min_confidence, cooccurrence=False)
    return {
        (t.subject, t.predicate.value, t.object)
        for t in extract_relations([document], options).typed()
    }


# -- "includes" / "contains" are ambiguous --------------------------------------------


@pytest.mark.parametrize(
    "sentence",
    [
        "Generated strings only contain ASCII characters.",
        "The source distribution contains the Rust sources.",
        "Flask includes Werkzeug.",
    ],
)
def test_includes_and_contains_fall_under_the_default_threshold(sentence: str) -> None:
    assert not typed(sentence)
    assert {p for _, p, _ in typed(sentence, min_confidence=0)} == {"provides"}


def test_unambiguous_provides_verbs_and_includes_support_for_still_count() -> None:
    assert typed("Flask provides a development server.") == {
        ("flask", "provides", "development server")
    }
    assert ("httpx", "supports", "http/2") in typed("HTTPX includes support for HTTP/2.")
